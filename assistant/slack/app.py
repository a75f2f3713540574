"""The Bolt app: thin handlers (parse -> ack -> runner -> respond) over the Slack-free commands.

Built by ``build_app`` from a ``Context`` and a ``WebClient`` (whose ``base_url`` may point at
the local fake), never at import time.  Every runner goes through ``answer``, so users get
words, never tracebacks; Slack's event retries (``X-Slack-Retry-Num``) are acknowledged and
dropped, so a slow answer is never given twice.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from concurrent.futures import Executor
from contextlib import suppress
from dataclasses import replace
from typing import Any

from slack_bolt import Ack, App, BoltResponse, Respond
from slack_bolt.request import BoltRequest
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_handlers import RateLimitErrorRetryHandler

from assistant.commands import ask
from assistant.commands.answer import answer
from assistant.commands.base import Context, Request, UsageError, clean_text
from assistant.commands.insights import home
from assistant.commands.registry import BUTTONS, FORMS, route
from assistant.errors import UserFacingError
from assistant.ops.settings import Settings
from assistant.render.blocks import Chart, Message, section, text_message
from assistant.render.writes import form_result
from assistant.slack.groups import UserGroups
from assistant.slack.people import SlackPeople
from assistant.slack.places import ChannelKinds
from assistant.slack.ratelimit import RateLimiter

log = logging.getLogger(__name__)

PERSONAL_COMMANDS = ("/customer", "/crm recommend", "/crm note", "/crm notes", "/crm assign", "/crm remind",
                     "/crm tasks")
"""Answers about one customer (and previews of writes): in a channel they go to the asker only (ephemeral)."""


def _is_direct(event: dict[str, Any]) -> bool:
    return event.get("channel_type") == "im" or str(event.get("channel", "")).startswith("D")


def make_client(token: str, base_url: str | None = None) -> WebClient:
    """A Web API client that waits out HTTP 429 (``Retry-After``) instead of failing."""
    kwargs: dict[str, Any] = {"token": token}
    if base_url:
        kwargs["base_url"] = base_url
    client = WebClient(**kwargs)
    client.retry_handlers.append(RateLimitErrorRetryHandler(max_retry_count=3))
    return client


def client_from_settings(settings: Settings) -> WebClient:
    """The client for the configured bot token, or a message saying how to get one."""
    if settings.slack_bot_token is None:
        raise UserFacingError("SLACK_BOT_TOKEN is not set: create the Slack app (README, Connect to your workspace) "
                              "and export its bot token")
    return make_client(settings.slack_bot_token.get_secret_value(), settings.slack_api_url)


Next = Callable[[], BoltResponse]
"""What a Bolt middleware calls to go on to the listeners."""
Middleware = Callable[[BoltRequest, Next], BoltResponse | None]


def _send(respond: Respond, message: Message) -> None:
    respond(text=message.text, blocks=message.blocks, response_type=message.response_type,
            replace_original=message.replace)


def _button_key(action_id: str) -> str:
    """The registered button an action id is (``customer.pick.2`` -> ``customer.pick``)."""
    return action_id if action_id in BUTTONS else action_id.rsplit(".", 1)[0]


CANNOT_POST = {"not_in_channel": "I am not a member of <#{channel}>: type `/invite @crm` there, then ask again.",
               "channel_not_found": "I cannot see <#{channel}> (a private channel I am not in?): type "
                                    "`/invite @crm` there, then ask again.",
               "is_archived": "<#{channel}> is archived, so I cannot answer there."}
"""Why a post to a channel failed, in words for the person who asked (sent to them directly)."""


def post_or_explain(client: WebClient, channel: str, user: str, message: Message, thread_ts: str | None = None,
                    ephemeral: bool = False) -> None:
    """Post the answer (to the channel, or only to ``user`` there); when the bot cannot post in that
    channel, tell the user why and how to fix it in a direct message instead of failing silently."""
    try:
        if ephemeral:
            client.chat_postEphemeral(channel=channel, user=user, text=message.text, blocks=message.blocks,
                                      thread_ts=thread_ts)
        else:
            client.chat_postMessage(channel=channel, text=message.text, blocks=message.blocks, thread_ts=thread_ts)
    except SlackApiError as exc:
        reason = CANNOT_POST.get(str(exc.response.get("error", "")))
        if reason is None or not user:
            raise
        log.warning("cannot post in %s (%s); telling the user directly", channel, exc.response.get("error"))
        client.chat_postMessage(channel=user, text=reason.format(channel=channel))


def upload_chart(client: WebClient, channel: str, thread: str, chart: Chart) -> None:
    """The answer's chart into its thread; an answer without its picture is still an answer."""
    try:
        client.files_upload_v2(channel=channel, thread_ts=thread or None, content=chart.png,
                               filename=chart.filename, title=chart.title[:250])
    except SlackApiError as exc:
        log.warning("could not upload the chart of an answer in %s: %s", channel, exc.response.get("error"))


def open_form(client: WebClient, trigger_id: str, message: Message, respond: Respond) -> None:
    """Open the message's form; when Slack will not (the click's trigger expired after 3 s, or
    anything else), say in a message what to type instead."""
    try:
        client.views_open(trigger_id=trigger_id, view=message.modal or {})
    except SlackApiError as exc:
        log.warning("could not open a form (%s); answering with a message instead", exc.response.get("error"))
        respond(text=message.text, response_type="ephemeral", replace_original=False)


def send_file(client: WebClient, user: str, message: Message) -> Message:
    """Upload the message's file into the asker's direct messages (never a channel), then delete it;
    the message to show: the one given, or what went wrong and what to do."""
    upload = message.file
    if upload is None:
        return message
    try:
        channel = client.conversations_open(users=user)["channel"]["id"]
        client.files_upload_v2(channel=channel, file=str(upload.path), filename=upload.filename,
                               title=upload.title[:250], initial_comment=upload.comment)
    except SlackApiError as exc:
        error = exc.response.get("error", "unknown_error")
        log.warning("could not send an export to %s's direct messages: %s", user, error)
        reason = ("the app may not upload files (reinstall it from deploy/slack-app-manifest.yml)"
                  if error == "missing_scope" else f"Slack said {error}")
        return text_message(f"The CSV could not be sent to your direct messages: {reason}. Nothing was shared "
                            "anywhere else; try again in a minute.")
    finally:
        upload.path.unlink(missing_ok=True)
    return message


def form_values(view: dict[str, Any]) -> dict[str, str]:
    """A submitted view's values by ``block_id``: the text typed, the user, date, time or option picked."""
    values: dict[str, str] = {}
    for block_id, inputs in ((view.get("state") or {}).get("values") or {}).items():
        for state in inputs.values():
            picked = (state.get("value") or state.get("selected_user") or state.get("selected_date")
                      or state.get("selected_time") or (state.get("selected_option") or {}).get("value"))
            values[block_id] = str(picked or "")
    return values


def rate_limit_middleware(limiter: RateLimiter) -> Middleware:
    """Refuse a user's command, click or question beyond the limit, in words, before any work.

    A slash command gets the refusal as its acknowledgement; a click or a question is acknowledged
    and the refusal is shown to that user only.
    """
    def rate_limit(req: BoltRequest, next: Next) -> BoltResponse | None:
        body = req.body
        event = body.get("event") or {}
        if body.get("type") == "event_callback" and (event.get("type") not in ("app_mention", "message")
                                                     or event.get("bot_id") or event.get("subtype")):
            return next()
        user = body.get("user_id") or (body.get("user") or {}).get("id") or event.get("user")
        refusal = limiter.refusal(str(user)) if user else None
        if refusal is None:
            return next()
        if "command" in body:
            return BoltResponse(status=200, body=refusal)
        channel = body.get("channel_id") or (body.get("channel") or {}).get("id") or event.get("channel")
        if channel:
            with suppress(SlackApiError):
                req.context.client.chat_postEphemeral(channel=str(channel), user=str(user), text=refusal)
        return BoltResponse(status=200, body="")
    return rate_limit


def channel_places(client: WebClient) -> Callable[[str], str]:
    """Channel id -> where a post there is seen (cached); a channel Slack will not describe counts
    as public, the least private guess."""
    kinds = ChannelKinds(lambda channel: client.conversations_info(channel=channel)["channel"])

    def place(channel: str) -> str:
        try:
            return kinds(channel)
        except SlackApiError:
            return "public"
    return place


def _run_reading(command: str, text: str, request: Request, context: Context) -> Message:
    try:
        spec, rest = route(command.split(" ", maxsplit=1)[0], (command.partition(" ")[2] + " " + text).strip())
    except UsageError as exc:
        return Message(text=str(exc), blocks=[section(str(exc))])
    return answer(spec.run, replace(request, text=rest), context, spec.name)


def answer_message_event(context: Context, place_of: Callable[[str], str], event: dict[str, Any],
                         client: WebClient) -> None:
    """A mention or a direct message: read it (a follow-up in its thread or DM continues the last
    question), run what it asks, post the answer in its thread (one customer's details, asked in a
    channel, to the asker only), and a chart with it where the answer is a series."""
    thread = str(event.get("thread_ts") or event.get("ts") or "")
    asking = Request(user_id=event.get("user", ""), channel_id=event.get("channel", ""), text="",
                     place="im" if _is_direct(event) else "public", thread=thread)
    understood = ask.understand_or_defer(context, clean_text(str(event.get("text", ""))), asking)
    reading = understood.reading
    personal = reading is not None and (reading.command in PERSONAL_COMMANDS or (
        understood.question is not None and understood.question.group_by == "customer"))
    place = ("ephemeral" if personal and not _is_direct(event) else "im" if _is_direct(event)
             else place_of(str(event.get("channel", ""))))
    request = Request(user_id=event.get("user", ""), channel_id=event.get("channel", ""),
                      text=event.get("text", ""), place=place, thread=thread)
    message = (_run_reading(reading.command, reading.text, request, context)
               if reading is not None else ask.clarify(understood))
    post_or_explain(client, request.channel_id, request.user_id, message, thread or None,
                    ephemeral=personal and not _is_direct(event))
    if message.chart is not None and not personal:
        upload_chart(client, request.channel_id, thread, message.chart)


def register_forms(app: App, context: Context) -> None:
    """The forms (modals): a submission is checked and written before its acknowledgement, so a
    wrong field is shown beside it (``response_action: errors``) and the form then shows what was done."""
    @app.view(re.compile(r"^crm\."))
    def submit_form(ack: Ack, body: dict[str, Any], view: dict[str, Any]) -> None:
        callback = str(view.get("callback_id", ""))
        if callback not in FORMS:
            ack()
            return
        request = Request(user_id=body.get("user", {}).get("id", ""), channel_id="", text=view.get("private_metadata",
                          ""), fields=form_values(view), source=f"view:{view.get('id', '')}")
        message = answer(FORMS[callback], request, context, "form " + callback)
        if message.field_errors:
            ack(response_action="errors", errors=message.field_errors)
        else:
            ack(response_action="update", view=form_result(message))

    @app.view_closed(re.compile(r"^crm\."))
    def close_form(ack: Ack, view: dict[str, Any]) -> None:
        ack()  # nothing was written: a form writes only when submitted
        log.info("form %s closed without saving", view.get("callback_id"))


def build_app(context: Context, client: WebClient, signing_secret: str, socket_mode: bool = False,
              executor: Executor | None = None, limiter: RateLimiter | None = None) -> App:
    """The Bolt app with every command, button and mention handler registered.

    ``executor`` runs the work after each ack; pass one to be able to wait for it on shutdown.
    ``limiter`` caps each user's commands, buttons and questions (default: 30 a minute).
    """
    place_of = channel_places(client)
    context = replace(context, channel_kind=place_of, groups_of=context.groups_of or UserGroups(client),
                      people=context.people or SlackPeople(client))
    app = App(client=client, signing_secret=signing_secret, token_verification_enabled=False,
              request_verification_enabled=not socket_mode, logger=log, listener_executor=executor)

    @app.middleware
    def drop_retries(req: BoltRequest, next: Next) -> BoltResponse | None:
        # Socket Mode mirrors the envelope's retry_attempt here, 0 for a first delivery.
        if req.headers.get("x-slack-retry-num", ["0"])[0] not in ("", "0"):
            return BoltResponse(status=200, body="")
        return next()

    app.middleware(rate_limit_middleware(limiter or RateLimiter(30)))  # after: Slack's retries are not the user

    def slash(ack: Ack, command: dict[str, Any], respond: Respond) -> None:
        request = Request(user_id=command.get("user_id", ""), channel_id=command.get("channel_id", ""),
                          text=command.get("text", "") or "")
        try:
            spec, rest = route(command["command"], request.text)
            if spec.check is not None:
                spec.check(rest)
        except UserFacingError as exc:  # usage errors, and checks that say what is wrong (a time zone)
            ack(text=str(exc))
            return
        ack()
        _send(respond, answer(spec.run, replace(request, text=rest), context, spec.name))

    # Every command, in any case (``/CUSTOMER``): ``route`` reads it case-insensitively and answers
    # an unknown one with the help line, instead of Bolt's 404 and developer warning.
    app.command(re.compile(r"^/", re.IGNORECASE))(slash)

    @app.action(re.compile(r"^(customer|crm)\."))
    def command_button(ack: Ack, body: dict[str, Any], action: dict[str, Any], respond: Respond,
                       client: WebClient) -> None:
        ack()
        key = _button_key(action["action_id"])
        request = Request(user_id=body.get("user", {}).get("id", ""),
                          channel_id=(body.get("channel") or {}).get("id", ""), text=action.get("value", ""))
        if key not in BUTTONS:
            return
        message = send_file(client, request.user_id, answer(BUTTONS[key], request, context, "button " + key))
        if message.modal is not None:
            open_form(client, str(body.get("trigger_id", "")), message, respond)
        else:
            _send(respond, message)


    @app.action(re.compile(rf"^{re.escape(ask.ASK_ACTION)}\."))
    def reading_button(ack: Ack, body: dict[str, Any], action: dict[str, Any], respond: Respond) -> None:
        ack()
        command, _, text = action.get("value", "").partition("|")
        request = Request(user_id=body.get("user", {}).get("id", ""),
                          channel_id=(body.get("channel") or {}).get("id", ""), text=text)
        _send(respond, _run_reading(command, text, request, context))


    def converse(event: dict[str, Any], client: WebClient) -> None:
        answer_message_event(context, place_of, event, client)

    register_forms(app, context)
    app.event("app_mention")(converse)

    @app.event("message")
    def direct_message(event: dict[str, Any], client: WebClient) -> None:
        # Only people writing to the bot directly; edits, joins and bot posts carry a subtype or bot_id.
        if event.get("channel_type") == "im" and not event.get("subtype") and not event.get("bot_id"):
            converse(event, client)

    @app.event("app_home_opened")
    def home_tab(event: dict[str, Any], client: WebClient) -> None:
        if event.get("tab") not in (None, "home"):
            return
        message = answer(home, Request(user_id=event.get("user", ""), channel_id=""), context, "home")
        client.views_publish(user_id=event.get("user", ""), view={"type": "home", "blocks": message.blocks})

    @app.error
    def on_error(error: Exception, body: dict[str, Any]) -> None:
        log.error("unhandled error in a Slack handler (%s): %s", body.get("type", "?"), error, exc_info=error)

    return app
