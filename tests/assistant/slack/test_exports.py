"""List exports over signed HTTP on the refreshed sample: the Export CSV buttons on the at-risk
list, a segment, a country and a model's scores send the whole list as a CSV to the clicker's
direct messages, at their disclosure level there, audited; viewers get words, not a file."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import pytest
from sqlalchemy import Engine, delete, func, literal, select, update
from sqlalchemy.orm import Session, sessionmaker

from assistant.commands.base import Context
from assistant.jobs.refresh.run import RefreshSummary
from assistant.slack.app import build_app, make_client
from assistant.slack.fake import FakeSlack
from assistant.slack.ratelimit import RateLimiter
from assistant.slack.server import RunningServer, start_in_background
from assistant.views.digest import risk_key
from assistant.views.list_exports import LIST_FIELDS
from db import predictions, snapshots
from db.access_models import AuditEntry, UserRole
from db.models import Customer
from db.snapshot_models import CustomerLifetime, CustomerScore

SECRET = "test-signing-secret"
ADMIN, MANAGER, REP, MARKETER, VIEWER = "U0ADMIN01", "U0MANAGER", "U0REPONE1", "U0MARKET1", "U0VIEWER1"


@dataclass
class Bot:
    fake: FakeSlack
    server: RunningServer
    engine: Engine

    def click(self, value: str, user: str) -> dict[str, Any]:
        before = len(self.fake.calls_to("response_url"))
        self.fake.click(self.server.url, SECRET, "crm.export", value, user_id=user)
        calls = self.fake.wait_for(lambda c: sum(x.method == "response_url" for x in c) > before)
        return [c for c in calls if c.method == "response_url"][before].params

    def files(self, user: str) -> list[list[dict[str, str]]]:
        """The CSVs in the user's direct messages, parsed."""
        return [list(csv.DictReader(io.StringIO(self.fake.uploads[f["id"]].decode("utf-8"))))
                for m in self.fake.messages_in(user) for f in m.get("files") or []]


@pytest.fixture(scope="module")
def bot(refreshed: tuple[Engine, RefreshSummary, RefreshSummary]) -> Iterator[Bot]:
    """Everyone with an e-mail and a phone, the rep owning customers whose id ends in 7; undone afterwards."""
    engine = refreshed[0]
    with Session(engine) as session:
        session.execute(update(Customer).values(email=literal("zq") + Customer.external_id + literal("@example.org"),
                                                phone=literal("+44 7700 9") + Customer.external_id))
        session.execute(update(Customer).where(Customer.external_id.like("%7")).values(owner=REP))
        for user, role in ((MANAGER, "manager"), (REP, "rep"), (MARKETER, "marketer"), (VIEWER, "viewer")):
            session.add(UserRole(user_id=user, role=role, granted_by=ADMIN, granted_at=datetime(2026, 11, 1)))
        session.commit()
    with FakeSlack() as fake:
        for user in (MANAGER, REP, MARKETER, VIEWER):
            fake.add_user(user, user.lower())
        context = Context(session_factory=sessionmaker(engine), clock=datetime.now, admins=frozenset({ADMIN}))
        server = start_in_background(build_app(context, make_client("xoxb-test", fake.url), SECRET,
                                               limiter=RateLimiter(10_000)))
        yield Bot(fake, server, engine)
        server.stop()
    with Session(engine) as session:
        session.execute(update(Customer).values(email=None, phone=None, owner=None))
        session.execute(delete(UserRole))
        session.execute(delete(AuditEntry))
        session.commit()


def _scored(engine: Engine, segment: str | None = None) -> int:
    with Session(engine) as session:
        run = snapshots.latest_run(session)
        assert run is not None
        query = select(func.count()).select_from(CustomerLifetime).join(
            CustomerScore, (CustomerScore.run_id == CustomerLifetime.run_id)
            & (CustomerScore.customer_id == CustomerLifetime.customer_id)).where(CustomerLifetime.run_id == run.id)
        if segment:
            query = query.where(CustomerScore.segment == segment)
        return int(session.scalar(query) or 0)


def test_the_at_risk_list_exports_every_customer_to_the_managers_dm_in_full_and_audited(bot: Bot) -> None:
    before = len(bot.fake.calls_to("response_url"))
    bot.fake.send_command(bot.server.url, SECRET, "/crm", "atrisk", user_id=MANAGER)
    calls = bot.fake.wait_for(lambda c: sum(x.method == "response_url" for x in c) > before)
    listed = [c for c in calls if c.method == "response_url"][before].params
    blocks = json.loads(listed["blocks"]) if isinstance(listed["blocks"], str) else listed["blocks"]
    [value] = [e["value"] for b in blocks if b["type"] == "actions" for e in b["elements"]
               if e["action_id"] == "crm.export"]
    said = bot.click(value, MANAGER)
    assert "as a CSV in your direct messages" in said["text"]
    [rows] = bot.files(MANAGER)
    assert list(rows[0]) == list(LIST_FIELDS) and len(rows) == _scored(bot.engine)
    with Session(bot.engine) as session:  # in the order of the at-risk list, all of it
        run = snapshots.latest_run(session)
        assert run is not None
        ranked = predictions.at_risk(session, *risk_key(session, run), limit=len(rows) + 1)
    assert [r["customer_id"] for r in rows] == ranked["customer_ref"].tolist()
    assert all(r["email"] == f"zq{r['customer_id']}@example.org" for r in rows)
    assert bot.fake.calls_to("files.completeUploadExternal")[-1].params["channel_id"].startswith("D")
    with Session(bot.engine) as session:
        entry = session.scalars(select(AuditEntry).where(AuditEntry.action == "disclosure",
                                                         AuditEntry.what == "export")).all()[-1]
        assert entry.user_id == MANAGER and entry.detail["rows"] == len(rows)
        assert entry.detail["fields"] == list(LIST_FIELDS) and entry.detail["level"] == "full"


def test_a_rep_gets_own_accounts_in_full_and_the_rest_masked_a_marketer_all_masked(bot: Bot) -> None:
    bot.click("segment|Champions|", REP)
    [rows] = bot.files(REP)
    assert len(rows) == _scored(bot.engine, "Champions") and {r["segment"] for r in rows} == {"Champions"}
    for row in rows:
        own = row["customer_id"].endswith("7")
        assert (row["email"] == f"zq{row['customer_id']}@example.org") is own
        assert own or (row["email"] == "z***@example.org" and row["phone"].startswith("******"))
    bot.click("country||France", MARKETER)
    [french] = bot.files(MARKETER)
    assert french and {r["country"] for r in french} == {"France"}
    assert all(r["email"] == "z***@example.org" for r in french)


def test_viewers_are_refused_in_words_and_nothing_is_uploaded(bot: Bot) -> None:
    said = bot.click("atrisk||", VIEWER)
    assert "aggregates only" in said["text"] and bot.files(VIEWER) == []


def test_scores_export_and_bad_or_empty_lists_say_what_is_wrong(bot: Bot) -> None:
    bot.click("scores|churn|", MANAGER)
    rows = bot.files(MANAGER)[-1]
    assert list(rows[0])[:2] == ["customer_id", "score"] and len(rows) == _scored(bot.engine)
    bot.click("atrisk|Champions|France", MANAGER)
    french = bot.files(MANAGER)[-1]
    assert french and {(r["segment"], r["country"]) for r in french} == {("Champions", "France")}
    assert "no segment 'Nobody'" in bot.click("segment|Nobody|", MANAGER)["text"]
    assert "nothing to export" in bot.click("country||Atlantis", MANAGER)["text"]
    assert "names no list" in bot.click("drop table|x|", MANAGER)["text"]


def test_when_the_dm_cannot_be_opened_the_person_is_told_and_nothing_is_shared(bot: Bot) -> None:
    bot.fake.scopes.remove("im:write")
    try:
        said = bot.click("atrisk||", MARKETER)
    finally:
        bot.fake.scopes.append("im:write")
    assert "could not be sent to your direct messages" in said["text"] and "reinstall" in said["text"]
