"""The long-running processes and their checks: the console, ``serve``, ``scheduler`` and the doctor."""

from __future__ import annotations

import logging
import signal
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import suppress
from typing import TYPE_CHECKING

import typer

from assistant.cli.deps import (
    Deps,
    alert_sender,
    console,
    cron_jobs,
    deliverer,
    deps_of,
    errors,
    language_model,
    reminder_sender,
    runner_context,
)
from assistant.errors import UserFacingError
from assistant.slack.console_render import CONSOLE_USER
from db.clock import utc_now

if TYPE_CHECKING:
    from apscheduler.schedulers.base import BaseScheduler

    from assistant.ops.probes import Probes
    from assistant.slack.app import WebClient

# Each command imports the Slack app, the scheduler and the doctor itself: together they take
# seconds to load (Bolt, scikit-learn, matplotlib), and every other command would pay for them.

log = logging.getLogger(__name__)


def console_command(ctx: typer.Context) -> None:
    """Talk to the real bot in the terminal through a local fake Slack: /customer 12748, @crm who is at risk?"""
    from assistant.slack.console import run_console

    run_console(runner_context(deps_of(ctx), CONSOLE_USER), console)


def serve(ctx: typer.Context) -> None:
    """Run the bot for a real workspace: Socket Mode with SLACK_APP_TOKEN, else HTTP with SLACK_SIGNING_SECRET."""
    from assistant.jobs.scheduler import make_scheduler
    from assistant.ops.probes import Probes, start_probes
    from assistant.slack.app import client_from_settings
    from assistant.slack.doctor import identify
    from assistant.slack.poster import SlackPoster

    deps = deps_of(ctx)
    settings = deps.settings
    client = client_from_settings(settings)
    if settings.slack_app_token is None and settings.slack_signing_secret is None:
        raise UserFacingError("set SLACK_APP_TOKEN for Socket Mode, or SLACK_SIGNING_SECRET for HTTP mode")
    bot = identify(client)  # a wrong token stops start-up here, not on the first command
    log.info("connected to Slack as %s", bot)
    errors.print(f"Slack: {bot}.")
    if bot.missing_scopes:
        log.warning("the bot token lacks scopes %s: some answers will fail; reinstall the app with "
                    "deploy/slack-app-manifest.yml", ", ".join(bot.missing_scopes))
    probes = Probes(deps.engine)
    if settings.health_port:
        server = start_probes(probes, settings.health_port)
        errors.print(f"Health and metrics on port {server.effective_port}: /healthz /readyz /metrics.")
    background = None
    if settings.scheduler_in_serve:
        poster = SlackPoster(client)
        background = make_scheduler(deliverer(deps, poster), alert_sender(deps, poster),
                                    settings.scheduler_tick_seconds, blocking=False, cron_jobs=cron_jobs(deps),
                                    reminders=reminder_sender(deps, poster))
        background.start()
        errors.print(f"Digest scheduler running in this process (every {settings.scheduler_tick_seconds} s).")
    _answer_slack(deps, client, probes, background)


def _answer_slack(deps: Deps, client: WebClient, probes: Probes, background: BaseScheduler | None) -> None:
    """Answer Slack until SIGTERM: over Socket Mode when an app token is set, else over HTTP."""
    from assistant.slack.app import build_app
    from assistant.slack.ratelimit import RateLimiter
    from assistant.slack.server import create_http_server, socket_mode_handler

    settings = deps.settings
    answers = ThreadPoolExecutor(max_workers=8, thread_name_prefix="crm-answer")

    def drain(stop_intake: Callable[[], None]) -> None:
        """SIGTERM: take no new work, finish the answers and digest posts in flight, then exit."""
        def on_term(*_: object) -> None:
            stop_intake()
            answers.shutdown(wait=True)
            if background is not None:
                background.shutdown(wait=True)
            raise SystemExit(0)
        signal.signal(signal.SIGTERM, on_term)

    limiter = RateLimiter(settings.rate_limit_per_minute)
    if settings.slack_app_token is not None:
        app_ = build_app(runner_context(deps), client, signing_secret="", socket_mode=True, executor=answers,
                         limiter=limiter)
        errors.print("Serving in Socket Mode (no public URL needed). Ctrl-C stops.")
        handler = socket_mode_handler(app_, settings.slack_app_token.get_secret_value())
        probes.slack_connected = handler.client.is_connected
        drain(handler.close)
        handler.start()
        return
    secret = settings.slack_signing_secret.get_secret_value() if settings.slack_signing_secret else ""
    app_ = build_app(runner_context(deps), client, secret, executor=answers, limiter=limiter)
    server = create_http_server(app_, "0.0.0.0", settings.http_port, settings.http_path)  # noqa: S104 (Slack calls in)
    errors.print(f"Serving HTTP on port {server.effective_port}, path {settings.http_path}. Ctrl-C stops.")
    drain(lambda: server.trigger.pull_trigger(server.close))  # waitress: close from inside its own loop
    server.run()  # on SystemExit waitress finishes the requests it is handling


def scheduler(ctx: typer.Context) -> None:
    """Post digests, alerts and follow-up reminders when they are due (run one or several; each is posted once)."""
    from assistant.jobs.scheduler import make_scheduler
    from assistant.ops.probes import Probes, start_probes
    from assistant.slack.app import client_from_settings
    from assistant.slack.poster import SlackPoster

    deps = deps_of(ctx)
    tick = deps.settings.scheduler_tick_seconds
    poster = SlackPoster(client_from_settings(deps.settings))
    running = make_scheduler(deliverer(deps, poster), alert_sender(deps, poster), tick, blocking=True,
                             cron_jobs=cron_jobs(deps), reminders=reminder_sender(deps, poster))
    if deps.settings.health_port:
        start_probes(Probes(deps.engine), deps.settings.health_port)
    # SIGTERM (docker stop, kubectl): let the tick in flight finish its posts, then exit.
    signal.signal(signal.SIGTERM, lambda *_: running.shutdown(wait=True))
    errors.print(f"Scheduler: looking for due digests, alerts and reminders every {tick} s. Ctrl-C stops.")
    with suppress(KeyboardInterrupt):
        running.start()


def doctor(ctx: typer.Context) -> None:
    """Check settings, the database, migrations, data, analytics, digests and Slack; say what to fix."""
    from assistant.ops.doctor import Check, settings_checks, source_checks, store_checks
    from assistant.slack.app import client_from_settings
    from assistant.slack.doctor import slack_checks

    deps = deps_of(ctx)
    found = settings_checks(deps.settings) + store_checks(deps.engine, utc_now(), deps.settings.currency)
    found += source_checks(deps.settings, deps.engine, utc_now())
    if deps.settings.slack_bot_token is not None:
        found += slack_checks(client_from_settings(deps.settings))
    model = language_model(deps.settings)
    if model is not None:  # optional: without it the bot asks back, so a failure is a warning
        answers, detail = model.probe()
        found.append(Check("Language model", True if answers else None, detail,
                           "" if answers else "check CRM_LLM_URL, CRM_LLM_MODEL and CRM_LLM_KEY, or unset "
                                              "CRM_LLM_URL"))
    for check in found:
        mark = {True: "[green]ok[/green]  ", False: "[red]FAIL[/red]", None: "[yellow]warn[/yellow]"}[check.ok]
        console.print(f"{mark} {check.name}: {check.detail}" + (f"\n       -> {check.fix}" if check.fix else ""),
                      highlight=False)
    broken = [c for c in found if c.ok is False]
    console.print(f"{len(broken)} problem(s) to fix." if broken else "All good.")
    if broken:
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    """Add these commands to the root app."""
    app.command("console")(console_command)
    for command in (serve, scheduler, doctor):
        app.command()(command)
