"""Every command, declared once.  Slack handlers, ``/crm help`` and the README table come from here."""

from __future__ import annotations

from assistant.commands import (
    admin,
    alerts,
    ask,
    customer,
    digest,
    exports,
    follow_ups,
    insights,
    notes,
    owners,
    writing,
)
from assistant.commands.base import CommandSpec, Context, Request, UsageError
from assistant.render import follow_ups as render_follow_ups
from assistant.render import insights as render_insights
from assistant.render import writes as render_writes
from assistant.render.blocks import Message
from assistant.views import examples

SLASH_COMMANDS = ("/customer", "/segments", "/crm")


def _help(request: Request, context: Context) -> Message:
    return render_insights.help_message(list(COMMANDS.values()))


COMMANDS: dict[str, CommandSpec] = {spec.name: spec for spec in (
    CommandSpec("/customer", "a customer's card: profile, orders, value, segment, churn risk, propensity, next "
                "order, lifetime value and products to offer, each with why", "/customer ID|EMAIL|NAME",
                customer.run, (f"/customer {examples.CUSTOMER}",), customer.check_query),
    CommandSpec("/segments", "segment overview (size, revenue share, movement, suggested action) or one segment",
                insights.COMMAND_USAGE["/segments"], insights.segments,
                ("/segments At risk", "/segments Champions --country Germany"), insights.segments_args),
    CommandSpec("/crm rules", "\"customers who buy X also buy Y\", in words",
                "/crm rules [PRODUCT CODE|WORDS OF ITS NAME]", insights.rules,
                (f"/crm rules {examples.PRODUCT}", f"/crm rules {examples.PRODUCT_WORDS}"), insights.words),
    CommandSpec("/crm recommend", "products to offer a customer, with reasons", "/crm recommend CUSTOMER",
                customer.recommend, (f"/crm recommend {examples.CUSTOMER}",), customer.check_query),
    CommandSpec("/crm note", "write a note about a customer (shown first, saved when you press Save)", notes.USAGE,
                notes.run, (f"/crm note {examples.CUSTOMER} asked for the spring catalogue",), notes.check),
    CommandSpec("/crm notes", "a customer's notes, newest first", notes.NOTES_USAGE, notes.page,
                (f"/crm notes {examples.CUSTOMER}",), notes.check_notes),
    CommandSpec("/crm assign", "hand a customer to a new owner (managers and admins; reps their own accounts); "
                "the owner's DM gets the account's alerts", owners.USAGE, owners.run, (), owners.check),
    CommandSpec("/crm remind", "a follow-up: a direct message at that time (your Slack time zone) with Done and "
                "Snooze (shown first, set when you press Save)", follow_ups.USAGE, follow_ups.run,
                (f"/crm remind me to call {examples.CUSTOMER} friday 10:00",
                 f"/crm remind me in 3 days about {examples.CUSTOMER}"), follow_ups.check),
    CommandSpec("/crm tasks", "your open follow-ups, overdue first, each with Done", follow_ups.TASKS_USAGE,
                follow_ups.tasks, ("/crm tasks",), follow_ups.check_tasks),
    CommandSpec("/crm atrisk", "the customers with the most value at stake (value x churn risk)",
                insights.COMMAND_USAGE["/crm atrisk"], insights.at_risk,
                ("/crm atrisk Champions --top 5", "/crm atrisk --country France"),
                insights.at_risk_args),
    CommandSpec("/crm model-health", "how far to trust the predictions: validation, calibration, drift",
                "/crm model-health", insights.model_health, check=insights.no_arguments),
    CommandSpec("/crm digest", "the weekly (or daily) insight digest: subscribe a channel, list, unsubscribe, "
                "preview it now", "/crm digest subscribe [#channel] [weekly|daily] [mon 09:00] [TIMEZONE] "
                "[--segment NAME] [--quiet skip] [--allow-shared] | list [all] | unsubscribe [#channel] | preview",
                digest.run, ("/crm digest preview", "/crm digest list"), digest.check),
    CommandSpec("/crm alert", "alerts after each refresh: a valuable customer's churn risk crossing a threshold "
                "(to their owner), an unusually large order, a KPI anomaly; never more than N an hour",
                alerts.USAGE, alerts.run, ("/crm alert list",), alerts.check),
    CommandSpec("/crm admin", "roles (admin, manager, rep, marketer, viewer) and the audit log; admins only",
                admin.USAGE, admin.run, ("/crm admin roles",), admin.check),
    CommandSpec("/crm ask", "a question in your own words: any command above, or numbers (revenue, orders, "
                "customers, average order value, units, returns, churn risk, expected value, share) by period, "
                "country, segment, product or customer, ranked or compared", "/crm ask QUESTION", ask.run,
                ("/crm ask revenue last month by country", "/crm ask who are my best customers",
                 "/crm ask which country grew most this quarter"), ask.check),
    CommandSpec("/crm help", "this list", "/crm help", _help, check=insights.no_arguments),
)}

BUTTONS = {"customer.orders": customer.orders_page, "customer.why": customer.why,
           "customer.recommend": customer.recommend, "customer.pick": customer.run, "crm.rules": insights.rules,
           "crm.segments": insights.segments, "crm.atrisk": insights.at_risk, "customer.notes": notes.page,
           "customer.add_note": notes.open_form, "customer.assign": owners.open_form, "crm.save": writing.save,
           "crm.cancel": writing.cancel, "customer.follow_up": follow_ups.open_form,
           render_follow_ups.DONE_ACTION: follow_ups.done, render_follow_ups.SNOOZE_DAY_ACTION: follow_ups.snooze_day,
           render_follow_ups.SNOOZE_WEEK_ACTION: follow_ups.snooze_week,
           render_follow_ups.TASKS_ACTION: follow_ups.tasks, render_insights.EXPORT_ACTION: exports.export}
"""Button action id (prefix) -> runner; the button's value becomes the request text."""

FORMS = {render_writes.NOTE_FORM: notes.submit_form, render_writes.ASSIGN_FORM: owners.submit_form,
         render_follow_ups.FOLLOW_UP_FORM: follow_ups.submit_form}
"""A modal's ``callback_id`` -> what submitting it does (``Request.fields`` holds its values)."""


HELP_LINE = f"the commands are {', '.join(SLASH_COMMANDS)}; `/crm help` lists everything they do"


def route(command: str, text: str) -> tuple[CommandSpec, str]:
    """The spec for a slash command and the text left for it (``/crm rules 85123A`` -> rules, "85123A").

    Case does not matter (``/CUSTOMER``, ``/crm RULES``); anything unknown gets the help line."""
    command = command.strip().lower()
    if command in COMMANDS:
        return COMMANDS[command], text
    if command == "/crm":
        word, _, rest = text.strip().partition(" ")
        key = f"/crm {word.lower()}" if word else "/crm help"
        if key in COMMANDS:
            return COMMANDS[key], rest
        raise UsageError(f"unknown /crm command {word[:40]!r}; {HELP_LINE}")
    raise UsageError(f"unknown command {command[:40]!r}; {HELP_LINE}")
