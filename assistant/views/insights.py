"""Reading the latest snapshot for people: segments, rules and recommendations, with honest refusals.

Slack-free and terminal-free: each function takes a Session and returns a small view object
that the terminal and the Slack renderers turn into text.  Problems the user can fix
raise ``UserFacingError`` with a message saying what to do.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import pandas as pd
from sqlalchemy.orm import Session

from analytics import words
from analytics.rfm import SEGMENTS
from assistant.errors import UserFacingError
from assistant.views import examples
from db import customers, orders, products, snapshots
from db.models import Customer, Product
from db.snapshot_models import AnalyticsRun


def _latest(session: Session) -> AnalyticsRun:
    run = snapshots.latest_run(session)
    if run is None:
        raise UserFacingError("no analytics yet: run `crm-bot refresh` (or `crm-bot demo`) first")
    return run


@dataclass
class SegmentsView:
    """The segment overview of a run, or one segment's profile and a page of its most valuable members.

    With ``country`` the table and members are that country's customers only.
    """

    run: AnalyticsRun
    table: pd.DataFrame
    segment: str | None = None
    members: pd.DataFrame | None = None
    has_previous: bool = False
    country: str | None = None
    offset: int = 0
    members_hidden: bool = False
    """Members exist but the viewer may only see aggregates here."""


def segments_view(session: Session, segment: str | None = None, members: int = 10, offset: int = 0,
                  country: str | None = None) -> SegmentsView:
    """Segments of the latest run; with ``segment`` (any case), that segment and a page of its members.

    ``members`` is how many to read: callers ask for one more than they show to know whether
    there is a next page.
    """
    run = _latest(session)
    table = (snapshots.segment_table(session, run.id) if country is None
             else snapshots.segment_table_in(session, run.id, country))
    view = SegmentsView(run=run, table=table, has_previous=bool(run.results.get("previous_run")),
                        country=country, offset=offset)
    if segment is not None:
        wanted = {name.lower(): name for name in SEGMENTS}
        key = segment.strip().lower().replace("\u2019", "'")  # typographic apostrophe, as Slack sends it
        if key not in wanted:
            raise UserFacingError(f"no segment called {segment!r}; the segments are: {', '.join(SEGMENTS)}")
        view.segment = wanted[key]
        view.members = snapshots.segment_members(session, run.id, view.segment, members, offset, country)
    return view


@dataclass
class ClustersView:
    """The behavioural clusters of a run with the evidence behind k, and what drives them."""

    run: AnalyticsRun
    table: pd.DataFrame
    refusal: str | None = None


def clusters_view(session: Session) -> ClustersView:
    """Clusters of the latest run (or why there are none)."""
    run = _latest(session)
    refused = run.results.get("clusters", {}).get("refused")
    return ClustersView(run=run, table=snapshots.cluster_table(session, run.id),
                        refusal=f"No clusters this run: {refused}." if refused else None)


@dataclass
class RulesView:
    """Rules of a run (all, or those about one product) in words.

    About a product, "what do people buy with X" is the rules *from* X (buyers of X also buy Y):
    ``sentences``; when none reaches the cut-offs, ``weaker`` holds the strongest pairs with X,
    computed on demand and labelled as below the cut-off; ``reverse`` holds the rules *to* X
    (buyers of Y also buy X), the other direction, said as such.
    """

    run: AnalyticsRun
    rules: pd.DataFrame
    sentences: list[str]
    product: str | None = None
    refusal: str | None = None
    names: dict[str, str] = field(default_factory=dict)
    weaker: pd.DataFrame = field(default_factory=pd.DataFrame)
    weaker_sentences: list[str] = field(default_factory=list)
    reverse: pd.DataFrame = field(default_factory=pd.DataFrame)
    reverse_sentences: list[str] = field(default_factory=list)
    cut_off: str = ""
    """The thresholds rules must reach, in words (``confidence 30%, lift 1.5, in 1.0% of orders``)."""


def rule_sentence(antecedent: list[str], consequent: str, confidence: float, lift: float, count: int,
                  names: dict[str, str]) -> str:
    """"Customers who buy X also buy Y" in words, with the numbers behind it."""
    what = " and ".join(names.get(sku, sku) for sku in antecedent)
    return (f"Customers who buy {what} also buy {names.get(consequent, consequent)}: {confidence:.0%} of them, "
            f"{lift:.1f}x more often than shoppers overall ({words.count(count, 'order')}).")


def _sentences(table: pd.DataFrame, names: dict[str, str]) -> list[str]:
    return [rule_sentence(a, c, conf, lift, n, names) for a, c, conf, lift, n in zip(
        table.get("antecedent", []), table.get("consequent", []), table.get("confidence", []),
        table.get("lift", []), table.get("count", []), strict=True)]


WEAKER_PAIRS = 5


def rules_view(session: Session, sku: str | None = None, limit: int = 20) -> RulesView:
    """The strongest rules of the latest run, or the rules about one product (with why there are none)."""
    run = _latest(session)
    stats = run.results.get("rules", {})
    if "refused" in stats:
        return RulesView(run=run, rules=pd.DataFrame(), sentences=[], refusal=f"No basket rules: {stats['refused']}.")
    if sku is None:
        table = snapshots.rules_table(session, run.id, None, limit)
        names = snapshots.product_names(session, sorted({s for a in table.get("antecedent", []) for s in a}
                                                        | set(table.get("consequent", []))))
        return RulesView(run=run, rules=table, sentences=_sentences(table, names), names=names)
    product = products.by_sku(session, sku)
    if product is None:
        raise UserFacingError(f"no product with code {sku!r}; codes look like {examples.PRODUCT} (see `crm-bot stats`)")
    about = snapshots.rules_table(session, run.id, product.sku, max(limit, 200))
    starts = about["antecedent"].map(lambda a: product.sku in a) if not about.empty else pd.Series(dtype=bool)
    table = about[starts].head(limit).reset_index(drop=True) if not about.empty else about
    reverse = about[~starts].head(limit).reset_index(drop=True) if not about.empty else about
    cut_off = (f"confidence {stats.get('min_confidence', 0):.0%}, lift {stats.get('min_lift', 0):g}, together in "
               f"{stats.get('min_support', 0):.1%} of orders")
    weaker = pd.DataFrame()
    if table.empty and product.kind == "product":
        weaker = _weaker_pairs(session, product.sku, run.as_of, float(stats.get("min_lift", 1.0)))
    skus = ({s for a in about.get("antecedent", []) for s in a} | set(about.get("consequent", []))
            | set(weaker.get("sku", [])) | {product.sku})
    names = snapshots.product_names(session, sorted(skus))
    view = RulesView(run=run, rules=table, sentences=_sentences(table, names), product=product.sku, names=names,
                     reverse=reverse, reverse_sentences=_sentences(reverse, names), weaker=weaker,
                     weaker_sentences=[rule_sentence([product.sku], w.sku, w.confidence, w.lift, w.together, names)
                                       for w in weaker.itertuples()], cut_off=cut_off)
    if table.empty and reverse.empty and weaker.empty:
        if product.kind != "product":
            view.refusal = (f"{product.sku} ({product.description or 'no description'}) is a {product.kind} code, "
                            "not merchandise: it is kept out of basket rules.")
        else:
            baskets = int(stats.get("baskets", 0))
            needed = int(stats.get("min_support", 0) * baskets)
            view.refusal = (f"No rule mentions {names.get(product.sku, product.sku)} ({product.sku}). Rules need the "
                            f"products together in at least {stats.get('min_support', 0):.1%} of orders "
                            f"({needed:,} of {baskets:,}), confidence {stats.get('min_confidence', 0):.0%} and lift "
                            f"{stats.get('min_lift', 0):g}; this product does not reach them.")
    return view


def _weaker_pairs(session: Session, sku: str, as_of: datetime, min_lift: float) -> pd.DataFrame:
    """The products bought with ``sku`` most often, as rules "buyers of sku also buy Y" below the
    mining cut-offs (strongest confidence first, only those bought together more than by chance)."""
    pairs = orders.bought_with(session, sku, as_of, limit=4 * WEAKER_PAIRS)
    if pairs.empty:
        return pairs
    pairs = pairs.assign(confidence=pairs["together"] / pairs["with_product"])
    pairs = pairs.assign(lift=pairs["confidence"] / (pairs["baskets"] / pairs["orders"]))
    return (pairs[(pairs["lift"] >= min_lift) & (pairs["together"] >= 2)]
            .sort_values(["confidence", "lift"], ascending=False).head(WEAKER_PAIRS).reset_index(drop=True))


def find_products(session: Session, text: str) -> list[Product]:
    """The products ``text`` names: its code, or every word in its description (one per distinct
    description, the most ordered first); several -> the person picks."""
    exact = products.by_sku(session, text)
    if exact is not None:
        return [exact]
    found = products.by_description(session, text, limit=3 * MAX_CANDIDATES)
    whole = [p for p in found if (p.description or "").strip().lower() == text.strip().lower()]
    distinct = list({(p.description or p.sku).strip().lower(): p for p in reversed(whole or found)}.values())[::-1]
    return distinct[:MAX_CANDIDATES]


@dataclass
class RecommendView:
    """A customer's recommendations with their scores in the latest run and any caveat."""

    run: AnalyticsRun
    customer: Customer
    score: Any
    recommendations: pd.DataFrame
    lifetime: Any = None
    notes: list[str] = field(default_factory=list)


MAX_CANDIDATES = 5


@dataclass
class Candidates:
    """Several customers match the query, or one that is not what was typed: the person picks one."""

    query: str
    customers: list[Customer]
    exact: bool = True
    """False when none is what was typed (``2748`` -> 12748): the answer asks "did you mean"."""


EDGE_PUNCTUATION = " \t.,;:!?()[]{}<>\"'`#*_"
WHOLE_NUMBER = re.compile(r"^(\d+)\.0+$")


def normalise_query(text: str) -> str:
    """What a person meant by the id they typed: surrounding punctuation and markup dropped
    (``#12748``, ``"12748",``, ``*12748*``), a spreadsheet's ``12748.0`` read as 12748."""
    query = text.strip().strip(EDGE_PUNCTUATION)
    whole = WHOLE_NUMBER.match(query)
    return whole.group(1) if whole else query


def _looks_like_id(query: str) -> bool:
    return any(ch.isdigit() for ch in query) and " " not in query and "@" not in query


def resolve_customer(session: Session, text: str) -> Customer | Candidates:
    """One customer by id, e-mail or name fragment; several -> candidates; none -> a helpful error.

    Only an exact id or e-mail, or a name fragment only one customer has, opens a customer
    directly; a query that merely resembles an id (``2748``, ``12748x``) asks "did you mean"
    first, so nobody is shown a different customer's details without choosing them.
    """
    query = normalise_query(text)
    if not query:
        raise UserFacingError(f"say which customer: a customer id (e.g. {examples.CUSTOMER}), an e-mail or part "
                              "of a name")
    exact = customers.by_external_id(session, query)
    if exact is not None:
        return exact
    by_email = customers.by_email(session, query) if "@" in query else []
    if len(by_email) == 1:
        return by_email[0]
    found = by_email or customers.search(session, query, limit=MAX_CANDIDATES + 1)
    if len(found) == 1 and not _looks_like_id(query):
        return found[0]
    if found:
        return Candidates(query=query, customers=found[:MAX_CANDIDATES], exact=not _looks_like_id(query))
    close = customers.similar_ids(session, query, limit=3) if _looks_like_id(query) else []
    if close:
        return Candidates(query=query, customers=close, exact=False)
    close = customers.similar_names(session, query)
    hint = ("; did you mean " + ", ".join(f"{c.name or c.external_id} ({c.external_id})" for c in close) + "?"
            if close else f"; try their customer id (e.g. {examples.CUSTOMER}) or e-mail")
    raise UserFacingError(f"no customer matches {query[:80]!r}{hint}")


def find_customer(session: Session, text: str) -> Customer:
    """Exactly one customer (``resolve_customer``); several -> an error listing them."""
    found = resolve_customer(session, text)
    if isinstance(found, Candidates):
        listed = ", ".join(f"{c.external_id}{f' ({c.name})' if c.name else ''}" for c in found.customers)
        if not found.exact:
            raise UserFacingError(f"no customer {found.query[:80]!r}; did you mean {listed}?")
        raise UserFacingError(f"{found.query[:80]!r} matches several customers: {listed}; use the customer id")
    return found


def recommend_view(session: Session, text: str) -> RecommendView:
    """Recommendations of the latest run for the customer ``text`` names, with honest caveats."""
    run = _latest(session)
    customer = find_customer(session, text)
    score = snapshots.customer_score(session, run.id, customer.id)
    recs = snapshots.recommendations_for(session, run.id, customer.id)
    view = RecommendView(run=run, customer=customer, score=score, recommendations=recs,
                         lifetime=snapshots.customer_lifetime(session, run.id, customer.id))
    order_count = orders.sale_count(session, customer.id, run.as_of)
    rules = run.results.get("rules", {})
    if score is None:
        view.notes.append(f"No purchase up to {run.as_of:%Y-%m-%d}, so there is nothing to base a recommendation on.")
    elif order_count == 1:
        view.notes.append("Only one order so far: these rest on the products of that single order.")
    if score is not None and recs.empty:
        if "refused" in rules:
            view.notes.append(f"No basket rules this run ({rules['refused']}), so no recommendations.")
        else:
            view.notes.append(f"No recommendation: none of the products they bought is in a rule or a frequent pair "
                              f"(rules need {rules.get('min_support', 0):.1%} of orders, confidence "
                              f"{rules.get('min_confidence', 0):.0%}, lift {rules.get('min_lift', 0):g}), or they "
                              "already buy everything those rules suggest.")
    return view
