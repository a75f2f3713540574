"""Every command, with any text a user can type, answers in words within Slack's limits (real store)."""

from __future__ import annotations

from datetime import datetime

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from slack_sdk.models.blocks import Block
from sqlalchemy import Engine
from sqlalchemy.orm import sessionmaker

from assistant.commands.answer import answer
from assistant.commands.base import Context, Request, UsageError
from assistant.commands.registry import BUTTONS, COMMANDS, route
from assistant.jobs.refresh.run import RefreshSummary
from assistant.render.blocks import Message

TYPED = st.one_of(
    st.text(max_size=120),
    st.sampled_from(["12748", "12347", "85123A", "At risk", "Champions --top 3", "--top 0", "--top 51", "\"open",
                     "Champions --country Germany", "--country", "--country 'open", "--country uk|10", "can't lose",
                     "' OR 1=1 --", "%", "_", "12748|10", "12748|-1", "x" * 300, "white hanging heart"]),
)


def _run(command: str, text: str, context: Context) -> Message:
    try:
        spec, rest = route(command, text)
        if spec.check is not None:
            spec.check(rest)
    except UsageError as exc:
        return Message(text=str(exc))
    return answer(spec.run, Request("U1", "C1", rest), context)


@pytest.fixture(scope="module")
def context(refreshed: tuple[Engine, RefreshSummary, RefreshSummary]) -> Context:
    return Context(session_factory=sessionmaker(refreshed[0]), clock=datetime.now, default_role="admin")


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(command=st.sampled_from(["/customer", "/segments", "/crm"]), sub=st.sampled_from(
    ["", "rules ", "recommend ", "atrisk ", "model-health ", "help ", "nope "]), text=TYPED)
def test_any_typed_text_gets_a_message_within_slacks_limits(context: Context, command: str, sub: str,
                                                            text: str) -> None:
    message = _run(command, (sub + text) if command == "/crm" else text, context)
    assert message.text and "Traceback" not in message.text and "Something went wrong" not in message.text
    assert len(message.blocks) <= 50
    for raw in message.blocks:
        Block.parse(raw).validate_json()  # type: ignore[union-attr]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(action=st.sampled_from(sorted(BUTTONS)), value=TYPED)
def test_any_button_value_gets_a_message(context: Context, action: str, value: str) -> None:
    message = answer(BUTTONS[action], Request("U1", "C1", value), context)
    assert message.text and "Something went wrong" not in message.text


def test_registry_examples_all_run(context: Context) -> None:
    for spec in COMMANDS.values():
        for example in spec.examples:
            command, _, text = example.partition(" ")
            message = _run(command, text, context)
            assert "Something went wrong" not in message.text, example


def test_long_lists_are_split_into_sections_not_cut(context: Context) -> None:
    from assistant.render.blocks import SECTION_CHARS, sections

    lines = [f"{i}. " + "x" * 150 for i in range(50)]
    blocks = sections(lines, "*Heading*")
    text = "\n".join(b["text"]["text"] for b in blocks)
    assert all(len(b["text"]["text"]) <= SECTION_CHARS for b in blocks) and len(blocks) == 3
    assert text == "*Heading*\n" + "\n".join(lines) and "\u2026" not in text
    message = _run("/crm", "atrisk --top 50", context)
    assert "50." in " ".join(b.get("text", {}).get("text", "") for b in message.blocks)


def _texts(message: Message) -> str:
    return "\n".join(b.get("text", {}).get("text", "") for b in message.blocks if isinstance(b.get("text"), dict))


def _more(message: Message) -> str | None:
    values = [e["value"] for b in message.blocks if b["type"] == "actions" for e in b["elements"]
              if e["text"]["text"] == "More"]
    return values[0] if values else None


def test_segments_of_one_country_are_counted_from_the_store(context: Context, refreshed: tuple[
        Engine, RefreshSummary, RefreshSummary]) -> None:
    from sqlalchemy import func, select

    from db.models import Customer
    from db.snapshot_models import CustomerScore

    run_id = refreshed[2].run_id
    with context.session_factory() as session:
        query = (select(CustomerScore.segment, func.count()).join(Customer, Customer.id == CustomerScore.customer_id)
                 .where(CustomerScore.run_id == run_id, Customer.country == "Germany").group_by(CustomerScore.segment))
        expected = dict(session.execute(query).all())
    message = _run("/segments", "--country germany", context)
    assert "Segments in Germany" in _texts(message)
    for segment, n in expected.items():
        assert f"*{segment}*: {n:,} (" in _texts(message).replace("&#39;", "'")
    champions = _run("/segments", "champions --country DE", context)
    assert f"Champions in Germany: {expected['Champions']} customers" in champions.text
    assert "United Kingdom" not in _texts(champions)
    assert "did you mean Germany?" in _run("/segments", "Champions --country Germny", context).text
    assert "no customers in 'Narnia'" in _run("/crm", "atrisk --country Narnia", context).text


def test_segment_members_and_accounts_at_risk_page_with_more(context: Context, refreshed: tuple[
        Engine, RefreshSummary, RefreshSummary]) -> None:
    from db import snapshots

    with context.session_factory() as session:
        ranked = list(snapshots.segment_members(session, refreshed[2].run_id, "Loyal", 25)["customer_ref"])
    first = _run("/segments", "Loyal", context)
    value = _more(first)
    assert value == "Loyal|10"
    second = answer(BUTTONS["crm.segments"], Request("U1", "C1", value), context)
    shown = [line.split(". ", 1)[1].split(":")[0] for line in (_texts(first) + "\n" + _texts(second)).splitlines()
             if line[:1].isdigit()]
    assert shown == ranked[:20] and "11. " in _texts(second)

    top_ten = _run("/crm", "atrisk --top 10", context)
    page_one = _run("/crm", "atrisk --top 5", context)
    assert _more(page_one) == "--top 5|5"
    page_two = answer(BUTTONS["crm.atrisk"], Request("U1", "C1", "--top 5|5"), context)
    listed = [line for line in _texts(top_ten).splitlines() if line[:1].isdigit()]
    assert [line for line in _texts(page_two).splitlines() if line[:1].isdigit()] == listed[5:10]
    last = answer(BUTTONS["crm.atrisk"], Request("U1", "C1", "--top 5|99995"), context)
    assert last.text == "No more customers at risk." and _more(last) is None
