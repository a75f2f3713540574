"""The root ``crm-bot`` app: one callback starts the run, the command modules register themselves,
and ``main`` turns known failures into messages and exit codes, never tracebacks."""

from __future__ import annotations

import sys

import typer
from sqlalchemy.exc import OperationalError

from assistant.cli import admin, ask, data, digests, insights, processes, reminders, sync
from assistant.cli.deps import SCHEMA_OF_COMMAND, Run, errors
from assistant.errors import UserFacingError
from db.engine import DatabaseUrlError
from db.importers import ImportFileError

app = typer.Typer(help="crm-bot: a conversational CRM assistant for Slack, on your own order data.",
                  no_args_is_help=True, pretty_exceptions_enable=False, add_completion=False)


@app.callback()
def start_run(ctx: typer.Context) -> None:
    """crm-bot: a conversational CRM assistant for Slack, on your own order data."""
    ctx.obj = Run(SCHEMA_OF_COMMAND.get(ctx.invoked_subcommand or "", "current"))


for module in (data, sync, insights, ask, digests, reminders, processes, admin):
    module.register(app)


def main() -> None:
    """Console-script entry point: turn known failures into messages, not tracebacks."""
    try:
        app()
    except (UserFacingError, DatabaseUrlError) as exc:
        errors.print(f"[red]Error:[/red] {exc}", highlight=False)
        sys.exit(2)
    except ImportFileError as exc:
        done = "\nNothing from this file was written." if exc.nothing_written else ""
        errors.print(f"[red]Cannot import:[/red] {exc}{done}", highlight=False)
        sys.exit(2)
    except OperationalError as exc:
        errors.print(f"[red]Database unavailable:[/red] {str(exc.orig).strip().splitlines()[0]}\n"
                     "Check DATABASE_URL and that the database server is running.", highlight=False)
        sys.exit(3)
