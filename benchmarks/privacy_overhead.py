"""Benchmark: what the privacy layer (role look-up, policy, disclosure and command audit) adds to `/customer`.

    DATABASE_URL=sqlite:///retail.db python benchmarks/privacy_overhead.py [--requests 300] [--role-via group]

Times the same cards for random scored customers twice: built and rendered directly, and through
the command runner as Slack calls it (``answer``: role from the store, policy, an audit entry for
the disclosure and one for the command, in one commit).  Prints p50/p95 of both and of the difference.
``--role-via group``: the asker's role comes from a Slack user group (the longest way to a role:
no personal role, then the groups' roles); it is granted for the run and revoked afterwards.
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import time
from dataclasses import replace
from datetime import datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sampling import percentile, scored_customers
from sqlalchemy.orm import Session, sessionmaker

from assistant.commands.answer import answer
from assistant.commands.base import Context, Request
from assistant.commands.registry import COMMANDS
from assistant.render.customer import card
from assistant.views.cards import customer_card
from db import access
from db.engine import make_engine


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--role-via", choices=["admins", "group"], default="admins")
    args = parser.parse_args()
    engine = make_engine(os.environ.get("DATABASE_URL", "sqlite:///crm-bot.db"))
    _, ids = scored_customers(engine, 20_000)
    picks = random.Random(7).choices(ids, k=args.requests)
    context = Context(session_factory=sessionmaker(engine), clock=datetime.now, admins=frozenset({"U0BENCH01"}))
    if args.role_via == "group":
        context = replace(context, admins=frozenset(), groups_of=lambda user: frozenset({"S0BENCH01"}))
        with Session(engine) as session:
            access.grant(session, "S0BENCH01", "manager", "benchmark", datetime.now())
            session.commit()
    direct, governed = [], []
    for ref in picks:
        started = time.perf_counter()
        with Session(engine) as session:
            card(customer_card(session, ref))  # type: ignore[arg-type]
        direct.append(time.perf_counter() - started)
        started = time.perf_counter()
        answer(COMMANDS["/customer"].run, Request("U0BENCH01", "C0BENCH01", ref), context, "/customer")
        governed.append(time.perf_counter() - started)
    if args.role_via == "group":
        with Session(engine) as session:
            access.revoke(session, "S0BENCH01")
            session.commit()
    extra = [g - d for g, d in zip(governed, direct, strict=True)]
    print(f"store: {engine.url.render_as_string(hide_password=True)}; {args.requests} cards; role via {args.role_via}")
    for name, values in (("card only", direct), ("with privacy + audit", governed), ("difference", extra)):
        print(f"{name:22} p50 {percentile(values, 50) * 1000:6.1f} ms  p95 {percentile(values, 95) * 1000:6.1f} ms")


if __name__ == "__main__":
    main()
