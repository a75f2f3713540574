"""Every example a newcomer is shown works on a fresh demo store, typed into the console as written.

The examples come from where people read them: the README (its "Try it" session, its tables and
prose), ``/crm help`` (the registry's examples), the console's banner and the usage messages.  Each
is sent through the console (the real Bolt app over HTTP, the project's fake Slack) and must be
answered: the audit log records the command it ran as ``ok``.  A usage error, a "no customer
matches" or an "I am not sure what you mean" fails the test.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from rich.console import Console
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from assistant.commands.base import Context
from assistant.commands.registry import COMMANDS, HELP_LINE, route
from assistant.errors import UserFacingError
from assistant.slack.console import HELP, ConsoleSession
from assistant.slack.console_render import CONSOLE_USER, Reply, render
from assistant.slack.ratelimit import RateLimiter
from assistant.views import examples
from db.access_models import AuditEntry
from db.clock import utc_now
from db.engine import make_engine, make_session_factory
from tests.assistant.cli.test_cli import crm_bot

README = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def demo_store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    """A store made the newcomer's way: ``crm-bot demo`` in an empty folder."""
    folder = tmp_path_factory.mktemp("newcomer")
    made = crm_bot("demo", cwd=folder)
    assert made.returncode == 0, made.stderr
    engine = make_engine(f"sqlite:///{folder / 'crm-bot.db'}")
    yield engine
    engine.dispose()


@pytest.fixture(scope="module")
def console(demo_store: Engine) -> Iterator[ConsoleSession]:
    context = Context(session_factory=make_session_factory(demo_store), clock=utc_now, operator=CONSOLE_USER)
    session = ConsoleSession(context, RateLimiter(10_000))  # this test types faster than anyone
    yield session
    session.close()


def _last_outcome(engine: Engine) -> tuple[int, str]:
    with Session(engine) as session:
        entry = session.scalar(select(AuditEntry).where(AuditEntry.action == "command")
                               .order_by(AuditEntry.id.desc()).limit(1))
        return (entry.id, str((entry.detail or {}).get("outcome"))) if entry else (0, "")


def _answered(console: ConsoleSession, engine: Engine, line: str) -> Reply:
    """The reply to ``line``, which must have run a command to the end (audited ``ok``)."""
    before, _ = _last_outcome(engine)
    reply = console.send(line)
    after, outcome = _last_outcome(engine)
    assert after > before and outcome == "ok", f"{line!r} was not answered: {_shown(reply)[:300]}"
    return reply


def _shown(reply: Reply) -> str:
    return reply.text + " " + " ".join(str(b) for b in reply.blocks)


def _answers(console: ConsoleSession, engine: Engine, line: str) -> str:
    return _shown(_answered(console, engine, line))


def _names_a_command(span: str) -> bool:
    """``/customer`` alone in a sentence names the command; it is not an example to type."""
    command, _, rest = span.partition(" ")
    try:
        spec, rest = route(command, rest)
        if spec.check is not None and not rest.strip():
            spec.check(rest)
    except UserFacingError:
        return True
    return False


def _readme_examples() -> list[str]:
    """Slash commands and questions the README shows as things to type (not usage patterns, and not
    the commands its "Not there yet" table says will come)."""
    shown = README.split("Not there yet", 1)[0] + README.split("Not there yet", 1)[1].split("\n## ", 1)[1]
    spans = re.findall(r"`(/(?:customer|segments|crm)\b[^`]*)`", shown)
    typed = [s for s in spans if not re.search(r"[\[\]|]|\b[A-Z]{2,}\b|\.\.\.", s) and not _names_a_command(s)]
    questions = re.findall(r'"(@crm [^"]+)"', shown.replace("\n", " "))
    return sorted(set(typed + questions))


def _try_it() -> list[str]:
    block = README.split("## Try it", 1)[1].split("```text", 1)[1].split("```", 1)[0]
    return [line.removeprefix("crm> ") for line in block.splitlines() if line.startswith("crm> ")]


def test_the_readme_try_it_session_works_as_written(console: ConsoleSession, demo_store: Engine) -> None:
    lines = _try_it()
    assert len(lines) >= 8
    out = Console(record=True, width=120)
    for line in lines:
        render(_answered(console, demo_store, line), out, console.fake.unlinkify)
    shown = out.export_text()
    assert "<#" not in shown and "<@" not in shown  # Slack markup is shown as the client shows it


@pytest.mark.parametrize("example", _readme_examples())
def test_every_command_and_question_in_the_readme_answers(console: ConsoleSession, demo_store: Engine,
                                                          example: str) -> None:
    _answers(console, demo_store, example)


@pytest.mark.parametrize("example", sorted({e for spec in COMMANDS.values() for e in spec.examples}))
def test_every_help_example_answers(console: ConsoleSession, demo_store: Engine, example: str) -> None:
    _answers(console, demo_store, example)


def test_the_banner_and_usage_messages_name_the_demo_customer(console: ConsoleSession, demo_store: Engine) -> None:
    assert f"/customer {examples.CUSTOMER}" in HELP
    _answers(console, demo_store, f"/customer {examples.CUSTOMER}")
    usage = console.send("/customer")
    assert f"/customer {examples.CUSTOMER}" in usage.text
    assert "12347" not in README and "12347" not in usage.text
    manifest = (Path(__file__).resolve().parents[2] / "deploy" / "slack-app-manifest.yml").read_text()
    assert f'usage_hint: "{examples.CUSTOMER} |' in manifest


def test_commands_are_case_insensitive_and_unknown_ones_get_the_help_line(console: ConsoleSession,
                                                                           demo_store: Engine,
                                                                           caplog: pytest.LogCaptureFixture) -> None:
    assert "Customer 12748" in _answers(console, demo_store, "/CUSTOMER 12748")
    assert "At risk" in _answers(console, demo_store, "/Segments at RISK")
    assert "Customers who buy" in _answers(console, demo_store, "/CRM RULES")
    unknown = console.send("/custmer 12748")
    assert HELP_LINE in unknown.text and "HTTP 404" not in unknown.text
    assert HELP_LINE in console.send("/crm orders").text
    assert not [r for r in caplog.records if "Unhandled request" in r.getMessage()]


def test_channels_and_people_are_typed_as_names_in_the_console(console: ConsoleSession, demo_store: Engine) -> None:
    subscribed = _answers(console, demo_store, "/crm digest subscribe #sales daily 08:00 UTC")
    assert "C0SALES" in subscribed  # the app received Slack's <#C0SALES|sales>, as from a real client
    out = Console(record=True, width=120)
    render(console.send("/crm digest list all"), out, console.fake.unlinkify)
    assert "#sales" in out.export_text() and "<#" not in out.export_text()
    granted = _answers(console, demo_store, "/crm admin grant @sam marketer")
    assert "U0SAM001" in granted
    out = Console(record=True, width=120)
    render(console.send("/crm admin roles"), out, console.fake.unlinkify)
    assert "@sam: marketer" in out.export_text()
    unknown = console.send("/crm admin grant @nobody rep")
    assert "mention the person" in unknown.text  # a name nobody has stays as typed, as in Slack
    _answers(console, demo_store, "/crm digest unsubscribe #sales")


def test_any_visible_button_can_be_pressed_by_number_or_label(console: ConsoleSession, demo_store: Engine) -> None:
    card = _answered(console, demo_store, "/customer 12748")
    labels = [b["text"]["text"] for b in card.buttons]
    assert labels[:3] == ["Orders", "Why?", "Recommend"] and {"Add note", "Assign"} <= set(labels)
    assert len(set(card.numbers)) == len(labels)
    orders = _answered(console, demo_store, "Orders")
    assert "Orders 1-10 of 12748" in orders.text
    assert "Why: customer 12748" in _answers(console, demo_store, "Why?")  # the card's, though Orders came after
    assert "Why: customer 12748" in _answers(console, demo_store, f"[{card.numbers[1]}]")
    assert "Orders 11-20 of 12748" in _answered(console, demo_store, str(orders.numbers[0])).text  # its More


def test_the_demo_says_its_sample_is_historical_like_the_doctor_and_the_digest(demo_store: Engine,
                                                                               tmp_path: Path) -> None:
    env = {"DATABASE_URL": demo_store.url.render_as_string(hide_password=False)}
    doctor = crm_bot("doctor", cwd=tmp_path, env=env)
    digest = crm_bot("digest", "run", "--dry-run", cwd=tmp_path, env=env)
    said = re.search(r"latest order 2011-12-09, [\d,]+ days ago \(the bundled demo sample: historical data[^)]*\)",
                     doctor.stdout)
    assert said is not None, doctor.stdout
    assert said.group(0) in re.sub(r"\s+", " ", digest.stdout).replace("Latest", "latest"), digest.stdout
    assert "check that imports are still running" not in digest.stdout


def test_the_console_fills_in_the_add_note_form_and_the_card_then_shows_the_note(console: ConsoleSession,
                                                                                 demo_store: Engine) -> None:
    _answered(console, demo_store, "/customer 12748")
    form = console.send("Add note")
    assert "Add a note" in form.text and console.form is not None
    assert "at most" in console.send("x" * 3001).text and console.form is not None  # shown beside the field
    saved = console.send("asked for the spring catalogue")
    assert "Saved your note on 12748" in _shown(saved) and console.form is None
    card = _answered(console, demo_store, "/customer 12748")
    assert "asked for the spring catalogue" in _shown(card) and "Notes" in [b["text"]["text"] for b in card.buttons]
    console.send("Assign")
    assert "Form closed" in console.send("cancel").text
