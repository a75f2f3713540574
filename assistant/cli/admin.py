"""Administration at the terminal: roles, the audit log, and data subject requests (export, erase)."""

from __future__ import annotations

import json
import shlex
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Annotated, TypeVar

import typer

from assistant.cli.deps import CLI_USER, Deps, console, deps_of, errors, runner_context, store_session
from assistant.commands import admin as admin_commands
from assistant.commands import writing
from assistant.commands.base import Person, Request
from assistant.commands.owners import assign_now
from assistant.errors import UserFacingError
from assistant.jobs.subject_requests import erase_when_no_refresh, export_on_record
from assistant.slack.console_render import Reply
from assistant.slack.console_render import render as render_reply
from db import erasure
from db.owners import MEMBER_ID

T = TypeVar("T")

admin_app = typer.Typer(help="Roles of Slack users and user groups (the person at the terminal acts as an admin).",
                        no_args_is_help=True)
customer_app = typer.Typer(help="One customer: hand them to an owner; data subject requests (export everything held "
                                "about them, or erase them).",
                           no_args_is_help=True)


def _admin_command(ctx: typer.Context, text: str) -> None:
    deps = deps_of(ctx)
    admin_commands.check(text)  # usage errors and refusals end the command with exit code 2
    message = admin_commands.run(Request(user_id=CLI_USER, channel_id="cli", text=text),
                                 runner_context(deps, CLI_USER))
    render_reply(Reply(message.text, message.blocks), console)


@admin_app.command("grant")
def admin_grant(ctx: typer.Context,
                user: Annotated[str, typer.Argument(help="Slack member id (U0123ABCD) or user group id (S0123ABCD).")],
                role: Annotated[str, typer.Argument(help="admin, manager, rep, marketer or viewer.")]) -> None:
    """Give a Slack user a role."""
    _admin_command(ctx, f"grant {shlex.quote(user)} {shlex.quote(role)}")


@admin_app.command("revoke")
def admin_revoke(ctx: typer.Context,
                 user: Annotated[str, typer.Argument(help="Slack member id or user group id.")]) -> None:
    """Take a user's role away (back to CRM_DEFAULT_ROLE)."""
    _admin_command(ctx, f"revoke {shlex.quote(user)}")


@admin_app.command("roles")
def admin_roles(ctx: typer.Context) -> None:
    """Everyone's role."""
    _admin_command(ctx, "roles")


def audit(ctx: typer.Context,
          user: Annotated[str | None, typer.Option(help="Only this Slack member id.")] = None,
          customer: Annotated[str | None, typer.Option(help="Only disclosures of this customer id.")] = None,
          since: Annotated[str | None, typer.Option(help="From this date, YYYY-MM-DD.")] = None) -> None:
    """Read the audit log: commands, disclosures (which customer, which fields, how masked), role changes."""
    words = ["audit"] + (["--user", user] if user else []) + (["--customer", customer] if customer else []) \
        + (["--since", since] if since else [])
    _admin_command(ctx, " ".join(shlex.quote(w) for w in words))


@customer_app.command("export")
def customer_export(ctx: typer.Context,
                    customer: Annotated[str, typer.Argument(help="The customer's id (exactly as stored).")],
                    output: Annotated[Path | None, typer.Option(help="Write the JSON here instead of printing it.")]
                    = None) -> None:
    """Everything held about a customer as JSON: profile, orders, scores, predictions, alerts, who saw it."""
    with store_session(ctx) as session:
        held = _subject_request(lambda: export_on_record(session, customer, CLI_USER, "cli"), customer)
    text = json.dumps(held, indent=2, ensure_ascii=False)
    if output is None:
        print(text)  # the JSON itself, for a pipe: no rich markup or wrapping
        return
    output.write_text(text + "\n", encoding="utf-8")
    errors.print(f"Wrote everything held about {customer} to {output} ({len(held['orders'])} orders).")


@customer_app.command("erase")
def customer_erase(ctx: typer.Context,
                   customer: Annotated[str, typer.Argument(help="The customer's id (exactly as stored).")],
                   yes: Annotated[bool, typer.Option("--yes", help="Do not ask for confirmation.")] = False) -> None:
    """Erase a customer: personal data and everything derived about them; figures stay, anonymised."""
    with store_session(ctx) as session:
        _subject_request(lambda: erasure.subject(session, customer), customer)  # known, before asking
        if not yes and not typer.confirm(f"Erase customer {customer} for good (this cannot be undone)?"):
            raise UserFacingError("nothing erased")
        done = _subject_request(lambda: erase_when_no_refresh(session, customer, CLI_USER), customer)
        scrubbed, missing = erasure.scrub_reject_files(erasure.reject_files(session), customer)
    counts = ", ".join(f"{n:,} {what.replace('_', ' ')}" for what, n in done.removed.items())
    console.print(f"Erased customer {customer}: {counts}; {scrubbed:,} rows removed from import reject files. "
                  f"The audit log now knows them as {done.pseudonym}; imports will keep them out.", highlight=False)
    if missing:
        console.print("Reject files recorded by imports but not on this machine (check them by hand): "
                      + ", ".join(missing), highlight=False)
    if done.slack_messages:
        console.print("Alerts that named them were posted in Slack; delete them there: " + ", ".join(
            f"{target} at ts {ts}" for target, ts in done.slack_messages), highlight=False)
    console.print("Other messages already posted in Slack (digests in private channels, answers) are not in the "
                  "store: delete them in Slack if they name this customer.", highlight=False)


def people_for(deps: Deps) -> Callable[[str], Person | None] | None:
    """Slack's users, where a bot token is configured: owners are then checked as in Slack."""
    if deps.settings.slack_bot_token is None:
        return None
    from assistant.slack.app import client_from_settings
    from assistant.slack.people import SlackPeople

    return SlackPeople(client_from_settings(deps.settings))


@customer_app.command("assign")
def customer_assign(ctx: typer.Context,
                    customer: Annotated[str, typer.Argument(help="The customer's id.")],
                    owner: Annotated[str, typer.Argument(help="Slack member id (U0123ABCD) or the rep's e-mail.")]
                    ) -> None:
    """Hand a customer to a new owner (audited); their DM gets the account's alerts from then on."""
    deps = deps_of(ctx)
    context = replace(runner_context(deps, CLI_USER), people=people_for(deps))
    with store_session(ctx) as session:
        found = writing.subject(session, customer)
        message = assign_now(session, found, owner.strip(), Request(user_id=CLI_USER, channel_id="cli"), context,
                             "terminal")
        session.commit()
    render_reply(Reply(message.text, message.blocks), console)
    if context.people is None and not MEMBER_ID.match(owner.strip()):
        console.print("The owner is an e-mail address: alerts and reminders reach owners by Slack member id only.")


def _subject_request(action: Callable[[], T], customer: str) -> T:
    try:
        return action()
    except erasure.AlreadyErased as exc:
        raise UserFacingError(f"customer {customer} was {exc}: the store holds nothing about them") from None
    except erasure.CustomerNotFound:
        raise UserFacingError(f"no customer with id {customer!r}; give the exact id (in `crm-bot console`, "
                              "`/customer NAME` finds it by e-mail or name)") from None


def register(app: typer.Typer) -> None:
    """Add these commands to the root app."""
    app.add_typer(admin_app, name="admin")
    app.command()(audit)
    app.add_typer(customer_app, name="customer")
