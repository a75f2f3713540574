"""The harness of the write-side tests: a store with a few customers and people in every role, a
fake Slack that opens and submits real views, and the real Bolt app between them (signed HTTP)."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session, sessionmaker

from assistant.commands.base import Context
from assistant.slack.app import build_app, make_client
from assistant.slack.fake import FakeSlack
from assistant.slack.ratelimit import RateLimiter
from assistant.slack.server import RunningServer, start_in_background
from db.access_models import UserRole
from db.models import Customer
from db.work_models import CustomerNote

SECRET = "test-signing-secret"
ADMIN, MANAGER, REP, OTHER_REP, MARKETER, VIEWER = ("U0ADMIN01", "U0MANAGER", "U0REPONE1", "U0REPTWO2",
                                                     "U0MARKET1", "U0VIEWER1")
GONE, ROBOT, JANE = "U0LEFTCO1", "U0ROBOT01", "U0JANEDOE"
NOW = datetime(2026, 12, 3, 9, 30, tzinfo=UTC)


@dataclass
class Bot:
    fake: FakeSlack
    server: RunningServer
    engine: Engine

    def command(self, text: str, user: str = ADMIN, command: str = "/crm") -> tuple[int, str]:
        return self.fake.send_command(self.server.url, SECRET, command, text, user_id=user)

    def click(self, action_id: str, value: str, user: str = ADMIN) -> tuple[int, str]:
        return self.fake.click(self.server.url, SECRET, action_id, value, user_id=user)

    def replies(self) -> int:
        return len(self.fake.calls_to("response_url"))

    def reply(self, before: int) -> dict[str, Any]:
        calls = self.fake.wait_for(lambda c: sum(x.method == "response_url" for x in c) > before)
        params = [c for c in calls if c.method == "response_url"][before].params
        blocks = params.get("blocks") or []
        return {**params, "blocks": json.loads(blocks) if isinstance(blocks, str) else blocks}

    def buttons(self, reply: dict[str, Any]) -> dict[str, str]:
        return {e["text"]["text"]: e["value"] for b in reply["blocks"] if b["type"] == "actions"
                for e in b["elements"]}

    def notes(self, customer: str = "12748") -> list[CustomerNote]:
        with Session(self.engine) as session:
            return list(session.scalars(select(CustomerNote).join(Customer, Customer.id == CustomerNote.customer_id)
                                        .where(Customer.external_id == customer).order_by(CustomerNote.id)))

    def owner(self, customer: str) -> str | None:
        with Session(self.engine) as session:
            return session.scalar(select(Customer.owner).where(Customer.external_id == customer))


@contextmanager
def running_bot(engine: Engine, clock: Callable[[], datetime] = lambda: NOW, tz: str = "Europe/Berlin"
                ) -> Iterator[Bot]:
    """The store seeded, the fake Slack with its people (in time zone ``tz``) and the bot serving."""
    with Session(engine) as session:
        session.add_all([Customer(external_id="12748", name="Zq Person 12748", email="zq12748@example.org",
                                  country="United Kingdom", owner=REP),
                         Customer(external_id="12347", name="Zq Person 12347", country="Iceland"),
                         Customer(external_id="12583", name="Zq Person 12583", country="France", owner=OTHER_REP)])
        for user, role in ((MANAGER, "manager"), (REP, "rep"), (OTHER_REP, "rep"), (MARKETER, "marketer"),
                           (VIEWER, "viewer")):
            session.add(UserRole(user_id=user, role=role, granted_by="cli", granted_at=NOW.replace(tzinfo=None)))
        session.commit()
    with FakeSlack() as fake:
        for user, name in ((MANAGER, "mona"), (REP, "reza"), (OTHER_REP, "rita"), (MARKETER, "mark"),
                           (VIEWER, "vic"), (JANE, "jane")):
            fake.add_user(user, name, tz=tz)
        fake.add_user(GONE, "gone", deleted=True)
        fake.add_user(ROBOT, "robot", is_bot=True)
        context = Context(session_factory=sessionmaker(engine), clock=clock, admins=frozenset({ADMIN}))
        server = start_in_background(build_app(context, make_client("xoxb-test", fake.url), SECRET,
                                               limiter=RateLimiter(10_000)))
        yield Bot(fake, server, engine)
        server.stop()


def text_of(reply: dict[str, Any]) -> str:
    """A reply's text and blocks, to look for words in."""
    return str(reply.get("text")) + json.dumps(reply["blocks"])
