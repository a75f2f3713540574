"""The crm-bot command line, run as a user runs it.

The README's first command, start-up failures, the console and anything reading standard input run
the installed console script in a subprocess; the other commands run the same entry point
(``assistant.cli.app.main``: argument parsing, settings from the environment, the error boundary)
in this process, with their own environment, working folder and output, which spares a
2-3 second interpreter start per call.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import logging
import os
import shutil
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from db import locks
from db.engine import make_engine

CRM_BOT = shutil.which("crm-bot", path=str(Path(sys.executable).parent)) or "crm-bot"


def crm_bot(*args: str, cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("CRM_", "DATABASE_URL"))}
    clean["COLUMNS"] = "160"
    return subprocess.run([CRM_BOT, *args], cwd=cwd, env={**clean, **(env or {})}, capture_output=True,
                          text=True, timeout=300, check=False)


def crm_bot_here(*args: str, cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """``crm_bot`` through the same entry point in this process: same arguments, environment and folder."""
    from assistant.cli.app import main
    from assistant.cli.deps import console, errors

    saved_env, saved_cwd, saved_argv = dict(os.environ), Path.cwd(), sys.argv
    widths = console.width, errors.width  # a subprocess's consoles read COLUMNS=160 when they start
    console.width = errors.width = 160
    root = logging.getLogger()
    saved_handlers, saved_level = root.handlers[:], root.level
    out, err = io.StringIO(), io.StringIO()
    code = 0
    try:
        os.environ.clear()
        os.environ.update({k: v for k, v in saved_env.items() if not k.startswith(("CRM_", "DATABASE_URL"))})
        os.environ.update({"COLUMNS": "160", **(env or {})})
        os.chdir(cwd)
        sys.argv = ["crm-bot", *args]
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                main()
            except SystemExit as exc:
                code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    finally:
        os.environ.clear()
        os.environ.update(saved_env)
        os.chdir(saved_cwd)
        sys.argv = saved_argv
        root.handlers[:], root.level = saved_handlers, saved_level
        console.width, errors.width = widths
    return subprocess.CompletedProcess(["crm-bot", *args], code, out.getvalue(), err.getvalue())


def test_demo_loads_the_sample_into_an_embedded_store_without_any_setting(tmp_path: Path) -> None:
    result = crm_bot("demo", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "96,115 │ rows read" in out
    assert "rejected (none)" in out
    assert "The store now holds" in out
    assert "│ customers" in out and "1,000" in out
    assert "2010-12-01 .. 2011-12-09" in out
    assert "CC BY 4.0" in out
    assert "Analytics run 1 as of 2011-12-09" in out
    assert "Segments as of 2011-12-09 (run 1)" in out and "Champions" in out
    assert (tmp_path / "crm-bot.db").exists()

    at_risk = crm_bot_here("segments", "At risk", cwd=tmp_path)
    assert at_risk.returncode == 0 and "Most valuable At risk customers" in at_risk.stdout
    clusters = crm_bot_here("clusters", cwd=tmp_path)
    assert clusters.returncode == 0 and "chosen" not in clusters.stderr
    assert "by silhouette" in clusters.stdout and "adjusted Rand index" in clusters.stdout
    rules = crm_bot_here("rules", "--product", "85123A", cwd=tmp_path)
    assert rules.returncode == 0 and "Customers who buy" in rules.stdout
    assert "WHITE HANGING HEART T-LIGHT HOLDER" in rules.stdout
    recommended = crm_bot_here("recommend", "12748", cwd=tmp_path)
    assert recommended.returncode == 0 and "bought by" in recommended.stdout
    unknown = crm_bot_here("recommend", "no such person", cwd=tmp_path)
    assert unknown.returncode == 2 and "no customer matches" in unknown.stderr
    explained = crm_bot_here("explain", "12748", cwd=tmp_path)
    assert explained.returncode == 0, explained.stderr
    assert "Purchase propensity" in explained.stdout and "in the next 90 days" in explained.stdout
    assert "Churn risk" in explained.stdout and "12-month value" in explained.stdout
    health = crm_bot_here("model-health", cwd=tmp_path)
    assert health.returncode == 0 and "purchase_next_90_days" in health.stdout
    assert "BG/NBD expected purchases" in health.stdout and "recency only" in health.stdout

    again = crm_bot_here("demo", cwd=tmp_path)
    assert again.returncode == 0
    assert "already loaded" in again.stdout
    assert "96,115" in again.stdout


def test_insight_commands_before_any_refresh_say_what_to_do(tmp_path: Path) -> None:
    env = {"DATABASE_URL": f"sqlite:///{tmp_path / 'empty.db'}"}
    assert crm_bot_here("db", "upgrade", cwd=tmp_path, env=env).returncode == 0
    for command in (["segments"], ["rules"], ["recommend", "1"], ["explain", "1"]):
        result = crm_bot_here(*command, cwd=tmp_path, env=env)
        assert result.returncode == 2
        assert "run `crm-bot refresh`" in result.stderr, command
    refresh = crm_bot_here("refresh", cwd=tmp_path, env=env)
    assert refresh.returncode == 2 and "no sales to analyse yet" in refresh.stderr
    engine = make_engine(env["DATABASE_URL"])  # a refresh running elsewhere (another replica, the scheduler)
    locks.acquire(engine, "analytics-refresh", "worker-7:42", datetime.now(UTC).replace(tzinfo=None),
                  timedelta(hours=1))
    busy = crm_bot_here("refresh", cwd=tmp_path, env=env)
    assert busy.returncode == 2 and "not started: a refresh already running on worker-7:42" in busy.stderr
    health = crm_bot_here("model-health", cwd=tmp_path, env=env)
    assert health.returncode == 2 and "no prediction models yet" in health.stderr
    train = crm_bot_here("train", "--target", "churned", cwd=tmp_path, env=env)
    assert train.returncode == 2 and "the store has no customers yet" in train.stderr


def test_demo_database_option_and_db_commands(tmp_path: Path) -> None:
    assert crm_bot_here("demo", "--database", str(tmp_path / "data" / "demo.db"), cwd=tmp_path).returncode == 0
    env = {"DATABASE_URL": f"sqlite:///{tmp_path / 'data' / 'demo.db'}"}
    current = crm_bot_here("db", "current", cwd=tmp_path, env=env)
    assert "this version needs" in current.stdout and "run `crm-bot db upgrade`" not in current.stdout
    assert crm_bot_here("db", "check", cwd=tmp_path, env=env).returncode == 0
    stats = crm_bot_here("stats", cwd=tmp_path, env=env)
    assert stats.returncode == 0 and "96,115" in stats.stdout


def test_wrong_file_gets_a_message_not_a_traceback(tmp_path: Path) -> None:
    (tmp_path / "wrong.csv").write_text("name,amount\nx,1\n")
    result = crm_bot("import", "online-retail", "wrong.csv", cwd=tmp_path)
    assert result.returncode == 2
    assert "missing required column(s): order_id (or InvoiceNo / Invoice)" in result.stderr
    assert "Found: name, amount" in result.stderr
    assert "Nothing from this file was written" in result.stderr
    assert "Traceback" not in result.stderr + result.stdout


def test_bad_map_option(tmp_path: Path) -> None:
    (tmp_path / "c.csv").write_text("id\n1\n")
    result = crm_bot_here("import", "customers", "c.csv", "--map", "nonsense", cwd=tmp_path)
    assert result.returncode == 2
    assert "expected FILE_COLUMN=EXPECTED_COLUMN" in result.stderr


def test_reject_file_and_summary_add_up(tmp_path: Path) -> None:
    (tmp_path / "orders.csv").write_text("order_id,date,sku,quantity,unit_price\n1,2024-01-01,A,1,2\n"
                                         "2,someday,A,1,2\n")
    result = crm_bot_here("import", "orders", "orders.csv", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "2 │ rows read" in result.stdout and "1 │ rejected" in result.stdout
    rejects = list((tmp_path / "rejects").glob("orders.run*.rejects.csv"))
    assert len(rejects) == 1 and "date cannot be read" in rejects[0].read_text()


@pytest.mark.parametrize(("url", "code", "message"), [
    ("mysql://u@h/db", 2, "DATABASE_URL: database backend 'mysql' is not supported"),
    ("postgresql://nobody@127.0.0.1:1/nothing", 3, "Database unavailable"),
])
def test_configuration_and_connection_errors(tmp_path: Path, url: str, code: int, message: str) -> None:
    result = crm_bot("stats", cwd=tmp_path, env={"DATABASE_URL": url})
    assert result.returncode == code
    assert message in result.stderr
    assert "Traceback" not in result.stderr


def test_outdated_schema_is_explained(tmp_path: Path) -> None:
    (tmp_path / "empty.db").touch()
    result = crm_bot("stats", cwd=tmp_path, env={"DATABASE_URL": f"sqlite:///{tmp_path / 'empty.db'}"})
    assert result.returncode == 2
    assert "run `crm-bot db upgrade` first" in result.stderr


def test_serve_without_slack_tokens_says_what_to_set(tmp_path: Path) -> None:
    env = {"DATABASE_URL": f"sqlite:///{tmp_path / 'store.db'}"}
    assert crm_bot("db", "upgrade", cwd=tmp_path, env=env).returncode == 0
    result = crm_bot("serve", cwd=tmp_path, env=env)
    assert result.returncode == 2 and "SLACK_BOT_TOKEN is not set" in result.stderr
    result = crm_bot("serve", cwd=tmp_path, env={**env, "SLACK_BOT_TOKEN": "xoxb-secret-value"})
    assert result.returncode == 2 and "SLACK_APP_TOKEN for Socket Mode, or SLACK_SIGNING_SECRET" in result.stderr
    assert "xoxb-secret-value" not in result.stderr + result.stdout


def test_console_drives_the_real_bot_through_the_fake(demo_folder: Path) -> None:
    tmp_path = demo_folder
    session = subprocess.run([CRM_BOT, "console"], cwd=tmp_path, input="/customer 12748\nWhy?\n/crm nope\nquit\n",
                             capture_output=True, text=True, timeout=300, check=False,
                             env={k: v for k, v in os.environ.items() if not k.startswith(("CRM_", "DATABASE_URL"))})
    assert session.returncode == 0, session.stderr
    assert "Customer 12748" in session.stdout and "Purchase propensity" in session.stdout
    assert "Why: customer 12748" in session.stdout and "other, smaller factors together" in session.stdout
    assert "unknown /crm command 'nope'" in session.stdout


def test_admin_roles_and_audit_from_the_command_line(tmp_path: Path) -> None:
    env = {"DATABASE_URL": f"sqlite:///{tmp_path / 'store.db'}", "CRM_ADMINS": "U0BOSS001"}
    assert crm_bot_here("db", "upgrade", cwd=tmp_path, env=env).returncode == 0
    granted = crm_bot_here("admin", "grant", "U0REP0001", "rep", cwd=tmp_path, env=env)
    assert granted.returncode == 0 and "U0REP0001> is now rep (was viewer, the default)" in granted.stdout
    roles = crm_bot_here("admin", "roles", cwd=tmp_path, env=env).stdout
    assert "<@U0BOSS001>: admin (CRM_ADMINS)" in roles and "<@U0REP0001>: rep" in roles
    bad = crm_bot_here("admin", "grant", "U0REP0001", "king", cwd=tmp_path, env=env)
    assert bad.returncode == 2 and "no role 'king'" in bad.stderr
    audit = crm_bot_here("audit", "--since", "2020-01-01", cwd=tmp_path, env=env)
    assert audit.returncode == 0 and "role: grant rep" in audit.stdout


def test_customer_export_and_erase_from_the_command_line(tmp_path: Path) -> None:
    env = {"DATABASE_URL": f"sqlite:///{tmp_path / 'store.db'}"}
    (tmp_path / "people.csv").write_text("customer_id,name,email\n12347,Arne Example,arne@example.com\n")
    assert crm_bot_here("db", "upgrade", cwd=tmp_path, env=env).returncode == 0
    assert crm_bot_here("import", "customers", "people.csv", cwd=tmp_path, env=env).returncode == 0
    exported = crm_bot_here("customer", "export", "12347", "--output", "held.json", cwd=tmp_path, env=env)
    assert exported.returncode == 0, exported.stderr
    held = json.loads((tmp_path / "held.json").read_text())
    assert held["customer"]["email"] == "arne@example.com" and held["orders"] == []
    refused = subprocess.run([CRM_BOT, "customer", "erase", "12347"], input="n\n", cwd=tmp_path, text=True,
                             capture_output=True, env={**os.environ, **env}, timeout=60, check=False)
    assert refused.returncode == 2 and "nothing erased" in refused.stderr
    engine = make_engine(env["DATABASE_URL"])
    locks.acquire(engine, "analytics-refresh", "worker-7:42", datetime.now(UTC).replace(tzinfo=None),
                  timedelta(hours=1))
    busy = crm_bot_here("customer", "erase", "12347", "--yes", cwd=tmp_path, env=env)
    assert busy.returncode == 2 and "nothing erased: a refresh already running on worker-7:42" in busy.stderr
    locks.release(engine, "analytics-refresh", "worker-7:42")
    engine.dispose()
    erased = crm_bot_here("customer", "erase", "12347", "--yes", cwd=tmp_path, env=env)
    assert erased.returncode == 0 and "Erased customer 12347" in erased.stdout and "erased:" in erased.stdout
    again = crm_bot_here("customer", "erase", "12347", "--yes", cwd=tmp_path, env=env)
    assert again.returncode == 2 and "the store holds nothing about them" in again.stderr
    missing = crm_bot_here("customer", "export", "99999", cwd=tmp_path, env=env)
    assert missing.returncode == 2 and "no customer with id '99999'" in missing.stderr
    audit = crm_bot_here("audit", "--customer", "12347", cwd=tmp_path, env=env).stdout
    assert "erasure: customer erased" in audit and "export: data subject export" in audit and "12347" not in audit


def test_digest_subscriptions_at_the_terminal_name_who_is_told(tmp_path: Path) -> None:
    assert crm_bot_here("db", "upgrade", cwd=tmp_path).returncode == 0
    nobody = crm_bot_here("digest", "subscribe", "C0456ABCD", "daily", cwd=tmp_path)
    assert nobody.returncode == 2 and "--notify" in nobody.stderr and "Traceback" not in nobody.stderr
    told = crm_bot_here("digest", "subscribe", "C0456ABCD", "daily", "--notify", "U0JANE0001", cwd=tmp_path)
    assert told.returncode == 0 and "will get the daily digest" in told.stdout
    admin = crm_bot_here("digest", "subscribe", "C0789ABCD", "weekly", cwd=tmp_path,
                    env={"CRM_ADMINS": "U0BOSS0001,U0TWO00002"})
    assert admin.returncode == 0
    engine = make_engine(f"sqlite:///{tmp_path / 'crm-bot.db'}")
    with engine.connect() as connection:
        owners = dict(connection.exec_driver_sql("SELECT channel_id, notify_user FROM digest_subscriptions").all())
    engine.dispose()
    assert owners == {"C0456ABCD": "U0JANE0001", "C0789ABCD": "U0BOSS0001"}


def test_scores_export_every_customer_with_reasons_for_a_campaign_tool(demo_folder: Path) -> None:
    purchase = crm_bot_here("scores", "--target", "purchase", "--csv", "purchase.csv", cwd=demo_folder)
    assert purchase.returncode == 0, purchase.stderr
    assert "customers written to purchase.csv (purchase propensity" in purchase.stdout
    rows = list(csv.DictReader((demo_folder / "purchase.csv").open(encoding="utf-8")))
    assert list(rows[0]) == ["customer_id", "score", "reason_1", "reason_2", "reason_3", "explanation", "what_if"]
    scores = [float(r["score"]) for r in rows]
    assert len(rows) > 500 and scores == sorted(scores, reverse=True)
    assert rows[0]["reason_1"].startswith(("up: ", "down: ")) and "in the next 90 days" in rows[0]["explanation"]
    churn = crm_bot_here("scores", "--target", "churn", "--csv", "churn.csv", cwd=demo_folder)
    assert churn.returncode == 0, churn.stderr
    churned = list(csv.DictReader((demo_folder / "churn.csv").open(encoding="utf-8")))
    assert len(churned) == len(rows)
    by_id = {r["customer_id"]: float(r["score"]) for r in rows}
    assert all(abs(1 - by_id[r["customer_id"]] - float(r["score"])) < 1e-6 for r in churned[:50])
    unknown = crm_bot_here("scores", "--target", "churned", "--csv", "x.csv", cwd=demo_folder)
    assert unknown.returncode == 2 and "no scores for 'churned': the targets are purchase, churn" in unknown.stderr
    nowhere = crm_bot_here("scores", "--target", "purchase", "--csv", "missing/x.csv", cwd=demo_folder)
    assert nowhere.returncode == 2 and "the folder missing does not exist" in nowhere.stderr
    assert not (demo_folder / "x.csv").exists() and not list(demo_folder.glob(".*.csv.*"))


def test_lists_export_for_campaigns_at_the_terminal(demo_folder: Path) -> None:
    listed = crm_bot_here("atrisk", "--top", "3", cwd=demo_folder)
    assert listed.returncode == 0 and "Accounts at risk" in listed.stdout and "3." in listed.stdout, listed.stderr
    at_risk = crm_bot_here("atrisk", "--csv", "atrisk.csv", cwd=demo_folder)
    assert at_risk.returncode == 0 and "customers written to atrisk.csv (Accounts at risk" in at_risk.stdout
    rows = list(csv.DictReader((demo_folder / "atrisk.csv").open(encoding="utf-8")))
    assert list(rows[0])[:3] == ["customer_id", "name", "email"] and len(rows) > 500
    champions = crm_bot_here("segments", "champions", "--csv", "champions.csv", cwd=demo_folder)
    assert champions.returncode == 0, champions.stderr
    members = list(csv.DictReader((demo_folder / "champions.csv").open(encoding="utf-8")))
    assert members and {r["segment"] for r in members} == {"Champions"}
    nowhere = crm_bot_here("atrisk", "--country", "Atlantis", "--csv", "none.csv", cwd=demo_folder)
    assert nowhere.returncode == 2 and "no customers in 'Atlantis'" in nowhere.stderr
    assert not (demo_folder / "none.csv").exists()  # (a segment and a country together: test_exports.py)


def test_owners_from_the_terminal_one_at_a_time_and_from_a_file(tmp_path: Path) -> None:
    env = {"DATABASE_URL": f"sqlite:///{tmp_path / 'store.db'}"}
    (tmp_path / "people.csv").write_text("customer_id,name\n12347,Arne\n12348,Bea\n12349,Cy\n12350,Di\n")
    assert crm_bot_here("import", "customers", "people.csv", cwd=tmp_path, env=env).returncode == 0
    one = crm_bot_here("customer", "assign", "12347", "U0JANE001", cwd=tmp_path, env=env)
    assert one.returncode == 0 and "12347 (Arne) is now owned by" in one.stdout, one.stderr
    wrong = crm_bot_here("customer", "assign", "12347", "jane", cwd=tmp_path, env=env)
    assert wrong.returncode == 2 and "is not a Slack member id" in wrong.stderr
    (tmp_path / "owners.csv").write_text("Customer_ID,owner,region\n12347,U0JANE001,north\n12348.0,U0SAM0001,south\n"
                                         "12349,rep@example.com,west\n99999,U0SAM0001,east\n12350,not a person,x\n")
    bulk = crm_bot_here("import", "owners", "owners.csv", cwd=tmp_path, env=env)
    assert bulk.returncode == 1
    assert "2 accounts handed over, 1 already with that owner, 2 rows rejected" in bulk.stdout
    assert "line 5: 99999: no such customer" in bulk.stderr and "line 6: 12350" in bulk.stderr
    again = crm_bot_here("import", "owners", "owners.csv", cwd=tmp_path, env=env)
    assert "0 accounts handed over, 3 already with that owner" in again.stdout
    (tmp_path / "bad.csv").write_text("id,who\n1,2\n")
    missing = crm_bot_here("import", "owners", "bad.csv", cwd=tmp_path, env=env)
    assert missing.returncode == 2 and "has no customer_id and no owner column" in missing.stderr
    audit = crm_bot_here("audit", "--customer", "12348", cwd=tmp_path, env=env).stdout
    assert "assignment: owner changed" in audit


def test_sync_from_a_shop_database_at_the_terminal(tmp_path: Path) -> None:
    from tests.shop_database import Item, ShopDatabase

    shop = ShopDatabase(make_engine(f"sqlite:///{tmp_path / 'shop.db'}"))
    shop.add_customer(7, "ana@example.com", "Ana", "Portugal", datetime(2024, 3, 1))
    for n in range(3):
        shop.add_order(f"W{n}", 7, datetime(2024, 3, 2 + n), [Item("MUG", "Blue mug", 2, "4.50")],
                       datetime(2024, 3, 2 + n, 12))
    (tmp_path / "sources.toml").write_text(shop.sources_toml("env:SHOP_DATABASE_URL"), encoding="utf-8")
    env = {"CRM_SOURCES_FILE": str(tmp_path / "sources.toml"), "SHOP_DATABASE_URL": f"sqlite:///{tmp_path / 'shop.db'}"}
    first = crm_bot_here("sync", cwd=tmp_path, env=env)
    assert first.returncode == 0, first.stderr
    assert "│ shop   │ customers │         1 │   1 │" in first.stdout
    assert "│ shop   │ orders    │         3 │   3 │" in first.stdout
    assert "run `crm-bot refresh`" in first.stdout
    unknown = crm_bot_here("sync", "--source", "erp", cwd=tmp_path, env=env)
    assert unknown.returncode == 2 and "no source named 'erp'" in unknown.stderr and "it names shop" in unknown.stderr
    engine = make_engine(f"sqlite:///{tmp_path / 'crm-bot.db'}")  # a sync running elsewhere
    locks.acquire(engine, "sync", "worker-3:17", datetime.now(UTC).replace(tzinfo=None), timedelta(minutes=15))
    busy = crm_bot_here("sync", cwd=tmp_path, env=env)
    assert busy.returncode == 2 and "a sync is already running on worker-3:17" in busy.stderr
    locks.release(engine, "sync", "worker-3:17")
    shop.set_status("W1", "refunded", datetime(2024, 3, 9))
    again = crm_bot_here("sync", "--refresh", cwd=tmp_path, env=env)
    assert again.returncode == 0, again.stderr
    # The refunded order updated (the order before it is read again within the overlap, unchanged).
    assert "│ shop   │ orders    │         2 │   0 │       1 │" in again.stdout
    assert "Analytics run 1" in again.stdout
