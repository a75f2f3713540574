"""Digest subscriptions at the terminal: the same words as ``/crm digest``, plus running what is due."""

from __future__ import annotations

import shlex
from dataclasses import replace
from typing import Annotated

import typer

from assistant.cli.deps import CLI_USER, Deps, console, deliverer, deps_of, runner_context
from assistant.commands import digest as digest_commands
from assistant.commands.answer import answer
from assistant.commands.base import Request
from assistant.render.digest import digest_message
from assistant.slack.console_render import Reply
from assistant.slack.console_render import render as render_reply
from assistant.views.digest import build_digest
from db import digests
from db.engine import make_session_factory

digest_app = typer.Typer(help="Insight digests: subscribe channels, list, run what is due, or print one.",
                         no_args_is_help=True)


def _digest_command(deps: Deps, channel: str, text: str) -> None:
    context = runner_context(deps, CLI_USER)
    if deps.settings.slack_bot_token is not None:  # then a channel's real type can be checked (Slack Connect)
        from assistant.slack.app import channel_places, client_from_settings  # Bolt: only when Slack is set

        context = replace(context, channel_kind=channel_places(client_from_settings(deps.settings)))
    request = Request(user_id=CLI_USER, channel_id=channel, text=text)
    digest_commands.check_at_terminal(request, context)  # usage errors end the command with exit code 2
    message = answer(digest_commands.run, request, context)
    render_reply(Reply(message.text, message.blocks), console)


@digest_app.command("subscribe", context_settings={"allow_extra_args": True, "ignore_unknown_options": True})
def digest_subscribe(ctx: typer.Context,
                     channel: Annotated[str, typer.Argument(help="Slack channel id, e.g. C0123ABCD.")],
                     schedule: Annotated[list[str] | None, typer.Argument(
                         help="Any of: weekly|daily, a weekday, HH:MM, a time zone, --segment NAME, "
                              "--quiet skip, --allow-shared (a Slack Connect channel), --notify U0123ABCD (who "
                              "hears if it cannot be posted; default: the first of CRM_ADMINS).")] = None) -> None:
    """Subscribe a channel to the digest (same words as /crm digest subscribe)."""
    _digest_command(deps_of(ctx), channel, "subscribe " + " ".join(shlex.quote(w) for w in schedule or []))


@digest_app.command("list")
def digest_list(ctx: typer.Context) -> None:
    """Every channel's digest subscriptions, with their last delivery and next time."""
    _digest_command(deps_of(ctx), "", "list all")


@digest_app.command("unsubscribe")
def digest_unsubscribe(ctx: typer.Context, channel: Annotated[str, typer.Argument(help="Slack channel id.")]) -> None:
    """Stop a channel's digests (their history is kept)."""
    _digest_command(deps_of(ctx), channel, "unsubscribe")


@digest_app.command("run")
def digest_run(ctx: typer.Context,
               channel: Annotated[str | None, typer.Option(help="Only this channel's digest.")] = None,
               dry_run: Annotated[bool, typer.Option("--dry-run", help="Print the digest; post nothing.")] = False,
               cadence: Annotated[str, typer.Option(help="weekly or daily (dry run without a subscription).")]
               = "weekly") -> None:
    """Post the digests due now, once each (what the scheduler does each tick), or print one."""
    deps = deps_of(ctx)
    if dry_run:
        with make_session_factory(deps.engine)() as session:
            subs = digests.subscriptions(session, channel) if channel else []
            sub = subs[0] if subs else None
            built = build_digest(session, sub.cadence if sub else cadence, sub.segment if sub else None)
            message = digest_message(built, disclose_people=True)
        render_reply(Reply(message.text, message.blocks), console)
        return
    from assistant.slack.app import client_from_settings
    from assistant.slack.poster import SlackPoster

    report = deliverer(deps, SlackPoster(client_from_settings(deps.settings))).run_due(channel)
    console.print(f"Digests: {report.summary()}.")


def register(app: typer.Typer) -> None:
    """Add these commands to the root app."""
    app.add_typer(digest_app, name="digest")
