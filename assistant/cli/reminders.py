"""Follow-up reminders at the terminal: send what is due now (what the scheduler does each tick)."""

from __future__ import annotations

import typer

from assistant.cli.deps import console, deps_of, reminder_sender

reminders_app = typer.Typer(help="Follow-up reminders: send the ones due now.", no_args_is_help=True)


@reminders_app.command("run")
def reminders_run(ctx: typer.Context) -> None:
    """Send the reminders due now to their owners' direct messages, once each (safe beside running schedulers)."""
    from assistant.slack.app import client_from_settings
    from assistant.slack.poster import SlackPoster

    deps = deps_of(ctx)
    report = reminder_sender(deps, SlackPoster(client_from_settings(deps.settings))).run()
    console.print(f"Reminders: {report.summary()}.")


def register(app: typer.Typer) -> None:
    """Add these commands to the root app."""
    app.add_typer(reminders_app, name="reminders")
