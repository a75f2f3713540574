"""A local fake of Slack: the Web API methods the bot calls, response URLs, and signed deliveries.

Used by the tests and by ``crm-bot console``.  It is a real HTTP server on 127.0.0.1 (random
port) that answers like Slack (same JSON shapes, same errors: ``not_in_channel``,
``channel_not_found``, ``invalid_blocks``, HTTP 429 with ``Retry-After``), records every call,
mints ``response_url``s (5 uses each, as Slack allows), and can deliver slash commands, button
clicks and mentions to the bot over HTTP, signed with the signing secret exactly as Slack signs,
or over Socket Mode: ``apps.connections.open`` hands out a ``ws://`` URL of a real WebSocket
server here that says ``hello``, sends envelopes and records the bot's acknowledgements.

Forms: ``views.open`` and ``views.push`` take a trigger_id the fake handed out with a click or a
command, once, within 3 s (else ``expired_trigger_id``), and check the view with slack_sdk's
models; ``submit_view`` and ``close_view`` deliver ``view_submission`` and ``view_closed``.
"""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json
import math
import re
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from slack_sdk.errors import SlackObjectFormationError
from slack_sdk.models.blocks import Block
from slack_sdk.models.views import View
from websockets.exceptions import ConnectionClosed
from websockets.sync.server import Server, ServerConnection, serve

from assistant.slack.doctor import REQUIRED_SCOPES

BOT_USER = "UCRMBOT01"
TEAM = "T0001"
RESPONSE_URL_USES = 5
TRIGGER_SECONDS = 3.0
"""A trigger_id (from a click or a command) opens a view only this long after it was issued, once."""
VIEW_STACK = 3
"""Slack keeps at most three views in a modal's stack (``views.push`` beyond: ``push_limit_reached``)."""
INPUT_TYPES = {"plain_text_input": "value", "users_select": "selected_user", "datepicker": "selected_date",
               "timepicker": "selected_time", "static_select": "selected_option"}
"""The form elements the fake can fill in on a submission, with the state key Slack reports each under."""


@dataclass
class Call:
    """One request the bot made to the fake: Web API method (or ``response_url``) and its arguments."""

    method: str
    params: dict[str, Any]
    at: float = field(default_factory=time.time)


@dataclass
class Fault:
    """Something the fake does to one call instead of (or besides) answering it as Slack would."""

    method: str
    kind: str
    """``error`` (answer with ``status``/``error``), ``hold`` (answer late) or ``drop`` (never answer)."""
    channel: str | None = None
    """Only calls about this channel (``channel`` or ``channel_id`` argument); ``None``: any."""
    times: int = 1
    status: int = 429
    error: str = "ratelimited"
    retry_after: float | None = None
    seconds: float = 0.0
    """How long a ``hold`` (or a ``drop`` before it closes the connection) waits."""
    event: threading.Event | None = None
    """Instead of ``seconds``: wait until this is set (60 s at most)."""
    act_first: bool = True
    """``hold``/``drop``: carry the call out first (the message *is* stored), then delay or drop the
    reply; ``False``: delay, or drop, before anything is done (the message is stored late, or never)."""

    def wait(self) -> None:
        if self.event is not None:
            self.event.wait(60)
        elif self.seconds:
            time.sleep(self.seconds)


@dataclass
class Channel:
    id: str
    name: str
    kind: str = "public"
    """``public``, ``private``, ``im`` or ``shared`` (Slack Connect)."""
    members: set[str] = field(default_factory=set)
    archived: bool = False
    messages: list[dict[str, Any]] = field(default_factory=list)
    """Everything posted here (top level and in threads), oldest first: what history returns."""


def sign(secret: str, timestamp: str, body: str) -> str:
    """Slack's request signature: ``v0=`` + HMAC-SHA256(secret, ``v0:{timestamp}:{body}``)."""
    digest = hmac.new(secret.encode(), f"v0:{timestamp}:{body}".encode(), hashlib.sha256).hexdigest()
    return f"v0={digest}"


def _view_problem(view: dict[str, Any]) -> str | None:
    """Slack's ``invalid_arguments`` check of a view, done with slack_sdk's View model and the blocks'."""
    try:
        View(**view).validate_json()
    except (SlackObjectFormationError, TypeError, KeyError, AttributeError) as exc:
        return f"invalid view: {exc}"
    if view.get("type") == "modal" and len(view.get("blocks") or []) > 100:
        return "a modal holds at most 100 blocks"
    return _blocks_problem((view.get("blocks") or [])[:50]) if view.get("blocks") else None


@dataclass
class OpenView:
    """A modal the bot opened for a user: its stack position, hash and what it shows now."""

    id: str
    user: str
    view: dict[str, Any]
    hash: str
    root: str
    previous: str | None = None
    closed: bool = False


def _blocks_problem(blocks: Any) -> str | None:
    """Slack's ``invalid_blocks`` check, done with slack_sdk's own Block Kit models."""
    if blocks in (None, "", []):
        return None
    parsed = json.loads(blocks) if isinstance(blocks, str) else blocks
    if not isinstance(parsed, list) or len(parsed) > 50:
        return "no more than 50 items allowed"
    for raw in parsed:
        try:
            block = Block.parse(raw)
            if block is None:
                return f"unknown block type {raw.get('type')!r}"
            block.validate_json()
        except (SlackObjectFormationError, KeyError, TypeError, AttributeError) as exc:
            return f"invalid block: {exc}"
    return None


class FakeSlack:
    """Start with ``FakeSlack().start()`` (or as a context manager); ``url`` is the Web API base."""

    def __init__(self) -> None:
        self.calls: list[Call] = []
        self.channels: dict[str, Channel] = {}
        self.users: dict[str, dict[str, Any]] = {}
        self.usergroups: dict[str, dict[str, Any]] = {}
        self._faults: list[Fault] = []
        self._faults_lock = threading.Lock()
        self.uploads: dict[str, bytes] = {}
        self.scopes: list[str] = list(REQUIRED_SCOPES)
        """What the bot token was granted (``x-oauth-scopes``); tests remove some."""
        self.revoked: set[str] = set()
        """Tokens Slack no longer accepts (``invalid_auth``), as after a reinstall or a typo."""
        self._upload_names: dict[str, str] = {}
        self.triggers: dict[str, tuple[float, str]] = {}
        """trigger_id -> (when it was issued, whose click or command); used ones are removed."""
        self.views: dict[str, OpenView] = {}
        self.trigger_age = 0.0
        """How old each trigger_id is when the bot receives it (set above 3 s: a bot too slow to open forms)."""
        self.last_answers: list[dict[str, Any]] = []
        """The bot's answers to each delivery of the last ``submit_view``."""
        self._response_urls: dict[str, int] = {}
        self._ts = itertools.count(1)
        self._changed = threading.Condition()
        self._server: ThreadingHTTPServer | None = None
        self._socket_server: Server | None = None
        self._sockets: list[ServerConnection] = []
        self.add_channel("C0GENERAL", "general", members={BOT_USER})
        self.add_user("U0ADMIN01", "alex")

    # -- set-up ---------------------------------------------------------------------------
    def add_channel(self, channel_id: str, name: str, kind: str = "public", members: set[str] | None = None) -> None:
        self.channels[channel_id] = Channel(channel_id, name, kind, set(members or ()))

    def add_user(self, user_id: str, name: str, tz: str = "Europe/London", deleted: bool = False,
                 is_bot: bool = False) -> None:
        """A workspace member (``users.info``): ``tz`` is their time zone, ``deleted`` a deactivated account."""
        self.users[user_id] = {"id": user_id, "name": name, "real_name": name.title(), "tz": tz,
                               "is_bot": is_bot, "deleted": deleted, "profile": {"display_name": name}}



    def add_usergroup(self, group_id: str, handle: str, users: set[str]) -> None:
        self.usergroups[group_id] = {"id": group_id, "team_id": TEAM, "handle": handle, "name": handle.title(),
                                     "is_usergroup": True, "user_count": len(users), "users": sorted(users)}

    def fail_next(self, method: str, status: int = 429, error: str = "ratelimited", retry_after: float = 1,
                  channel: str | None = None, times: int = 1) -> None:
        """Make the next ``times`` calls of ``method`` (about ``channel``) fail as Slack would (429 with
        Retry-After by default)."""
        self.add_fault(Fault(method, "error", channel, times, status, error,
                             retry_after if status == 429 else None))

    def lose_next_reply(self, method: str, hold: threading.Event | None = None, act_first: bool = True,
                        channel: str | None = None) -> None:
        """Carry out the next call of ``method`` (the message *is* posted) but never answer it: the
        connection drops (a network error after Slack acted), or, with ``hold``, the reply waits
        until the event is set (so a test can kill the caller at exactly that point).  With
        ``act_first=False`` the connection drops before Slack does anything."""
        self.add_fault(Fault(method, "drop", channel, event=hold, act_first=act_first))

    def hold_reply(self, method: str, seconds: float, act_first: bool = True, channel: str | None = None,
                   times: int = 1) -> None:
        """Answer the next ``times`` calls of ``method`` ``seconds`` late: after carrying them out
        (a slow reply), or, with ``act_first=False``, before (Slack slow to store the message)."""
        self.add_fault(Fault(method, "hold", channel, times, seconds=seconds, act_first=act_first))

    def add_fault(self, fault: Fault) -> None:
        """Queue a fault; faults for a method are used in the order they were added."""
        with self._faults_lock:
            self._faults.append(fault)

    def _take_fault(self, method: str, params: dict[str, Any]) -> Fault | None:
        about = str(params.get("channel") or params.get("channel_id") or "")
        with self._faults_lock:
            for fault in self._faults:
                if fault.method == method and fault.channel in (None, about):
                    fault.times -= 1
                    if fault.times <= 0:
                        self._faults.remove(fault)
                    return fault
        return None

    def archive(self, channel_id: str) -> None:
        """Archive the channel (posts get ``is_archived``)."""
        self.channels[channel_id].archived = True

    def unarchive(self, channel_id: str) -> None:
        self.channels[channel_id].archived = False

    def remove_bot(self, channel_id: str) -> None:
        """Someone removes the bot from the channel (``not_in_channel``, history hidden)."""
        self.channels[channel_id].members.discard(BOT_USER)

    def add_bot(self, channel_id: str) -> None:
        """Someone invites the bot (back) into the channel."""
        self.channels[channel_id].members.add(BOT_USER)

    def messages_in(self, channel_id: str) -> list[dict[str, Any]]:
        """What was posted in a channel (top level and threads), oldest first; a user id means the
        bot's direct messages with them."""
        channel = self.channels.get(self.dm_of(channel_id) if channel_id in self.users else channel_id)
        return list(channel.messages) if channel else []

    def dm_of(self, user_id: str) -> str:
        """The id of the app's direct-message conversation with a user (``D...``), opened if need be."""
        dm = "D" + user_id[1:]
        with self._changed:
            self.channels.setdefault(dm, Channel(dm, user_id, "im", {BOT_USER, user_id}))
        return dm

    # -- lifecycle ------------------------------------------------------------------------
    def start(self) -> FakeSlack:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *_args: object) -> None:  # keep test and console output clean
                pass

            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                method = "response_url" if self.path.startswith("/respond/") else self.path.removeprefix("/api/")
                params: dict[str, Any] = {}
                if not self.path.startswith("/upload/"):
                    params = _parse(self.headers.get("Content-Type", ""), raw.decode())
                fault = fake._take_fault(method, params)
                if fault is not None and fault.kind == "error":
                    fake._record(method + ".failed", params)
                    extra = {"Retry-After": str(math.ceil(fault.retry_after))} if fault.retry_after is not None else {}
                    self._reply(fault.status, {"ok": False, "error": fault.error}, extra)
                    return
                if fault is not None and not fault.act_first:
                    fault.wait()
                    if fault.kind == "drop":
                        self.close_connection = True  # dropped before Slack did anything
                        return
                if self.path.startswith("/upload/"):  # step 2 of files_upload_v2: the bytes themselves
                    fake.uploads[self.path.removeprefix("/upload/")] = raw
                    headers: dict[str, str] = {}
                    status, payload = 200, {"ok": True}
                else:
                    status, payload, headers = fake._handle(self.path, self.headers, raw.decode())
                if self.path.startswith("/api/"):  # as Slack does: the token's scopes on every reply
                    headers = {**headers, "x-oauth-scopes": ",".join(fake.scopes)}
                if fault is not None and fault.act_first:
                    fault.wait()
                    if fault.kind == "drop":
                        self.close_connection = True  # no reply at all: the caller sees the connection drop
                        return
                self._reply(status, payload, headers)

            def _reply(self, status: int, payload: dict[str, Any], headers: dict[str, str]) -> None:
                data = json.dumps(payload).encode()
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json; charset=utf-8")
                    for key, value in headers.items():
                        self.send_header(key, value)
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the caller gave up waiting (its timeout): as with Slack, the call was still made

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self._server.serve_forever, daemon=True, name="fake-slack").start()
        return self

    def stop(self) -> None:
        if self._socket_server is not None:
            self._socket_server.shutdown()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    def __enter__(self) -> FakeSlack:
        return self.start()

    def __exit__(self, *_exc: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        """Web API base URL for ``WebClient(base_url=...)`` (ends with a slash, as slack_sdk expects)."""
        assert self._server is not None, "start() the fake first"
        return f"http://127.0.0.1:{self._server.server_address[1]}/api/"

    @property
    def root(self) -> str:
        return self.url.removesuffix("api/")

    # -- what the bot did ------------------------------------------------------------------
    def calls_to(self, method: str) -> list[Call]:
        return [c for c in self.calls if c.method == method]

    def wait_for(self, predicate: Callable[[list[Call]], bool], timeout: float = 10.0) -> list[Call]:
        """Block until ``predicate(calls)`` holds (or raise ``TimeoutError``); returns the calls."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while not predicate(self.calls):
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(f"the bot did not do what was expected within {timeout} s; calls: "
                                       f"{[c.method for c in self.calls]}")
                self._changed.wait(left)
        return list(self.calls)

    def new_response_url(self) -> str:
        key = uuid.uuid4().hex
        self._response_urls[key] = 0
        return f"{self.root}respond/{key}"

    # -- the Web API -------------------------------------------------------------------------
    def _record(self, method: str, params: dict[str, Any]) -> None:
        with self._changed:
            self.calls.append(Call(method, params))
            self._changed.notify_all()

    def _handle(self, path: str, headers: Any, body: str) -> tuple[int, dict[str, Any], dict[str, str]]:
        params = _parse(headers.get("Content-Type", ""), body)
        if path.startswith("/respond/"):
            return self._respond(path.removeprefix("/respond/"), params)
        method = path.removeprefix("/api/")
        token = (headers.get("Authorization") or "").removeprefix("Bearer ")
        if not token.startswith(("xox", "xapp-")):
            return 200, {"ok": False, "error": "not_authed"}, {}
        if token in self.revoked:
            self._record(method, params)  # tried, and refused
            return 200, {"ok": False, "error": "invalid_auth"}, {}
        if token.startswith("xapp-") != (method == "apps.connections.open"):  # app tokens only open sockets
            return 200, {"ok": False, "error": "not_allowed_token_type"}, {}
        handler = getattr(self, "_api_" + method.replace(".", "_"), None)
        if handler is None:
            return 200, {"ok": False, "error": "unknown_method"}, {}
        result = handler(params)
        self._record(method, params)
        return 200, result, {}

    def _respond(self, key: str, params: dict[str, Any]) -> tuple[int, dict[str, Any], dict[str, str]]:
        if key not in self._response_urls:
            return 404, {"ok": False, "error": "expired_url"}, {}
        if self._response_urls[key] >= RESPONSE_URL_USES:
            return 200, {"ok": False, "error": "used_url"}, {}
        problem = _blocks_problem(params.get("blocks"))
        if problem:
            return 200, {"ok": False, "error": "invalid_blocks", "errors": [problem]}, {}
        self._response_urls[key] += 1
        self._record("response_url", {**params, "response_url": key})
        return 200, {"ok": True}, {}

    def _next_ts(self) -> str:
        return f"{int(time.time())}.{next(self._ts):06d}"

    def _target(self, params: dict[str, Any]) -> str:
        """The conversation a post goes to: a user id means the app's direct messages with them."""
        target = str(params.get("channel", ""))
        return self.dm_of(target) if target in self.users else target

    def _post_checks(self, params: dict[str, Any]) -> dict[str, Any] | None:
        channel = self.channels.get(self._target(params))
        if channel is None or (channel.kind == "private" and BOT_USER not in channel.members):
            return {"ok": False, "error": "channel_not_found"}
        if channel.archived:
            return {"ok": False, "error": "is_archived"}
        if channel.kind != "im" and BOT_USER not in channel.members:
            return {"ok": False, "error": "not_in_channel"}
        problem = _blocks_problem(params.get("blocks"))
        if problem:
            return {"ok": False, "error": "invalid_blocks", "errors": [problem]}
        if not params.get("text") and not params.get("blocks"):
            return {"ok": False, "error": "no_text"}
        return None

    def _api_apps_connections_open(self, _params: dict[str, Any]) -> dict[str, Any]:
        with self._changed:
            if self._socket_server is None:
                self._socket_server = serve(self._socket_session, "127.0.0.1", 0)
                threading.Thread(target=self._socket_server.serve_forever, daemon=True, name="fake-slack-ws").start()
        port = self._socket_server.socket.getsockname()[1]
        return {"ok": True, "url": f"ws://127.0.0.1:{port}/link/?ticket={uuid.uuid4()}"}

    def _api_auth_test(self, _params: dict[str, Any]) -> dict[str, Any]:
        return {"ok": True, "url": "https://example.slack.com/", "team": "Example", "user": "crm",
                "team_id": TEAM, "user_id": BOT_USER, "bot_id": "BCRMBOT01", "is_enterprise_install": False}

    def _api_chat_postMessage(self, params: dict[str, Any]) -> dict[str, Any]:
        problem = self._post_checks(params)
        if problem:
            return problem
        channel = self._target(params)
        message = self._store_message(channel, params)
        return {"ok": True, "channel": channel, "ts": message["ts"], "message": message}

    def _store_message(self, channel_id: str, params: dict[str, Any], files: list[dict[str, Any]] | None = None
                       ) -> dict[str, Any]:
        metadata = params.get("metadata")
        message = {"type": "message", "subtype": "bot_message", "bot_id": "BCRMBOT01", "user": BOT_USER,
                   "ts": self._next_ts(), "text": params.get("text", ""),
                   "blocks": json.loads(params["blocks"]) if isinstance(params.get("blocks"), str)
                   else params.get("blocks") or [],
                   "metadata": json.loads(metadata) if isinstance(metadata, str) else metadata}
        if params.get("thread_ts"):
            message["thread_ts"] = str(params["thread_ts"])
        if files:
            message["files"] = files
        with self._changed:
            self.channels[channel_id].messages.append(message)
        return message

    @staticmethod
    def _history_view(message: dict[str, Any], with_metadata: bool) -> dict[str, Any]:
        """A stored message as history shows it: metadata only when asked for, as Slack does."""
        return {k: v for k, v in message.items() if v is not None and (k != "metadata" or with_metadata)}

    def _api_conversations_history(self, params: dict[str, Any]) -> dict[str, Any]:
        channel = self.channels.get(str(params.get("channel")))
        if channel is None or (BOT_USER not in channel.members and channel.kind != "im"):
            return {"ok": False, "error": "channel_not_found" if channel is None else "not_in_channel"}
        oldest = float(params.get("oldest") or 0)
        limit = int(params.get("limit") or 100)
        start = int(params.get("cursor") or 0)
        with_metadata = str(params.get("include_all_metadata", "")).lower() in ("1", "true")
        top = [m for m in reversed(channel.messages)
               if float(m["ts"]) > oldest and m.get("thread_ts", m["ts"]) == m["ts"]]  # newest first
        page = top[start:start + limit]
        more = start + limit < len(top)
        return {"ok": True, "messages": [self._history_view(m, with_metadata) for m in page], "has_more": more,
                "response_metadata": {"next_cursor": str(start + limit) if more else ""}}

    def _api_conversations_replies(self, params: dict[str, Any]) -> dict[str, Any]:
        channel = self.channels.get(str(params.get("channel")))
        if channel is None:
            return {"ok": False, "error": "channel_not_found"}
        ts = str(params.get("ts"))
        thread = [m for m in channel.messages if m["ts"] == ts or m.get("thread_ts") == ts]
        if not thread:
            return {"ok": False, "error": "thread_not_found"}
        return {"ok": True, "messages": [self._history_view(m, False) for m in thread], "has_more": False}

    def _api_files_getUploadURLExternal(self, params: dict[str, Any]) -> dict[str, Any]:
        if not params.get("filename") or not str(params.get("length", "")).isdigit():
            return {"ok": False, "error": "invalid_arguments"}
        file_id = f"F{uuid.uuid4().hex[:10].upper()}"
        self._upload_names[file_id] = str(params["filename"])
        return {"ok": True, "upload_url": f"{self.root}upload/{file_id}", "file_id": file_id}

    def _api_files_completeUploadExternal(self, params: dict[str, Any]) -> dict[str, Any]:
        files = json.loads(params["files"]) if isinstance(params.get("files"), str) else params.get("files") or []
        if not files or any(f.get("id") not in self.uploads for f in files):
            return {"ok": False, "error": "file_not_found"}
        shared = [{"id": f["id"], "title": f.get("title") or "", "name": self._upload_names.get(f["id"], f["id"]),
                   "size": len(self.uploads[f["id"]])} for f in files]
        channel_id = params.get("channel_id")
        if channel_id in self.users:  # a conversation's id is wanted (conversations.open gives a DM's)
            return {"ok": False, "error": "invalid_channel"}
        if channel_id:
            problem = self._post_checks({**params, "channel": channel_id, "text": "file"})
            if problem:
                return problem
            self._store_message(str(channel_id), {"text": params.get("initial_comment", ""),
                                                  "thread_ts": params.get("thread_ts")}, files=shared)
        return {"ok": True, "files": shared}

    def _api_chat_postEphemeral(self, params: dict[str, Any]) -> dict[str, Any]:
        problem = self._post_checks(params)
        return problem or {"ok": True, "message_ts": self._next_ts()}

    def _api_chat_update(self, params: dict[str, Any]) -> dict[str, Any]:
        problem = self._post_checks(params)
        return problem or {"ok": True, "channel": params["channel"], "ts": params.get("ts"),
                           "text": params.get("text", "")}

    def _api_views_publish(self, params: dict[str, Any]) -> dict[str, Any]:
        view = json.loads(params["view"]) if isinstance(params.get("view"), str) else params.get("view") or {}
        if str(params.get("user_id")) not in self.users:
            return {"ok": False, "error": "user_not_found"}
        problem = _blocks_problem(view.get("blocks"))
        if problem or len(view.get("blocks", [])) > 100:
            return {"ok": False, "error": "invalid_blocks", "errors": [problem or "more than 100 blocks"]}
        return {"ok": True, "view": {"id": f"V{uuid.uuid4().hex[:10].upper()}", "type": view.get("type", "home"),
                                     "blocks": view.get("blocks", [])}}

    # -- views (modals) ------------------------------------------------------------------------
    def _new_trigger(self, user_id: str) -> str:
        trigger = f"{int(time.time())}.1.{uuid.uuid4().hex[:12]}"
        self.triggers[trigger] = (time.monotonic() - self.trigger_age, user_id)
        return trigger

    def _take_trigger(self, trigger: str) -> tuple[str | None, str | None]:
        """(the user the trigger belongs to, or the error Slack gives for it)."""
        issued = self.triggers.pop(trigger, None)
        if issued is None:
            return None, "invalid_trigger_id" if trigger else "invalid_arguments"
        if time.monotonic() - issued[0] > TRIGGER_SECONDS:
            return None, "expired_trigger_id"
        return issued[1], None

    @staticmethod
    def _view_of(params: dict[str, Any]) -> dict[str, Any]:
        view = params.get("view")
        return json.loads(view) if isinstance(view, str) else dict(view or {})

    def _shown(self, opened: OpenView) -> dict[str, Any]:
        return {"id": opened.id, "team_id": TEAM, "app_id": "ACRMBOT01", "bot_id": "BCRMBOT01",
                "hash": opened.hash, "root_view_id": opened.root, "previous_view_id": opened.previous,
                "state": {"values": {}}, "private_metadata": "", "callback_id": "", "external_id": "",
                **opened.view}

    def _opening(self, params: dict[str, Any]) -> tuple[dict[str, Any], str, dict[str, Any] | None]:
        """A view to open or push: the view, whose trigger it is, and Slack's refusal (if any)."""
        view = self._view_of(params)
        problem = _view_problem(view)
        if problem:
            return view, "", {"ok": False, "error": "invalid_arguments", "response_metadata": {"messages": [problem]}}
        user, error = self._take_trigger(str(params.get("trigger_id") or ""))
        return view, user or "", {"ok": False, "error": error} if error or user is None else None

    def _api_views_open(self, params: dict[str, Any]) -> dict[str, Any]:
        view, user, refusal = self._opening(params)
        if refusal:
            return refusal
        view_id = f"V{uuid.uuid4().hex[:10].upper()}"
        with self._changed:
            self.views[view_id] = OpenView(view_id, user, view, uuid.uuid4().hex[:16], view_id)
        return {"ok": True, "view": self._shown(self.views[view_id])}

    def _api_views_push(self, params: dict[str, Any]) -> dict[str, Any]:
        view, user, refusal = self._opening(params)
        if refusal:
            return refusal
        top = next((v for v in reversed(self.views.values()) if v.user == user and not v.closed), None)
        if top is None:
            return {"ok": False, "error": "view_not_found"}
        depth = sum(1 for v in self.views.values() if v.root == top.root and not v.closed)
        if depth >= VIEW_STACK:
            return {"ok": False, "error": "push_limit_reached"}
        view_id = f"V{uuid.uuid4().hex[:10].upper()}"
        with self._changed:
            self.views[view_id] = OpenView(view_id, user, view, uuid.uuid4().hex[:16], top.root, top.id)
        return {"ok": True, "view": self._shown(self.views[view_id])}

    def _api_views_update(self, params: dict[str, Any]) -> dict[str, Any]:
        view = self._view_of(params)
        problem = _view_problem(view)
        if problem:
            return {"ok": False, "error": "invalid_arguments", "response_metadata": {"messages": [problem]}}
        external = str(params.get("external_id") or "")
        opened = self.views.get(str(params.get("view_id") or "")) or next(
            (v for v in self.views.values() if external and v.view.get("external_id") == external), None)
        if opened is None or opened.closed:
            return {"ok": False, "error": "not_found"}
        if params.get("hash") and params["hash"] != opened.hash:
            return {"ok": False, "error": "hash_conflict"}
        with self._changed:
            opened.view, opened.hash = view, uuid.uuid4().hex[:16]
        return {"ok": True, "view": self._shown(opened)}

    def fill_in(self, view_id: str, values: dict[str, str]) -> dict[str, Any]:
        """The view's state as Slack reports it on submission, with ``values`` (by block_id) typed or picked."""
        opened = self.views[view_id]
        state: dict[str, dict[str, Any]] = {}
        for block in opened.view.get("blocks") or []:
            if block.get("type") != "input" or block.get("block_id") not in values:
                continue
            element = block["element"]
            key = INPUT_TYPES[element["type"]]
            value: Any = values[block["block_id"]]
            if key == "selected_option":
                value = {"text": {"type": "plain_text", "text": value}, "value": value}
            state[block["block_id"]] = {element["action_id"]: {"type": element["type"], key: value}}
        return state

    def view_payload(self, view_id: str, values: dict[str, str], kind: str = "view_submission") -> dict[str, Any]:
        """A ``view_submission`` (or ``view_closed``) payload for a view the bot opened."""
        opened = self.views[view_id]
        shown = {**self._shown(opened), "state": {"values": self.fill_in(view_id, values)}}
        payload: dict[str, Any] = {
            "type": kind, "team": {"id": TEAM, "domain": "example"}, "api_app_id": "ACRMBOT01",
            "token": "unused-legacy-token", "is_enterprise_install": False, "enterprise": None,
            "user": {"id": opened.user, "username": self.users.get(opened.user, {}).get("name", "someone"),
                     "name": self.users.get(opened.user, {}).get("name", "someone"), "team_id": TEAM},
            "view": shown}
        if kind == "view_submission":
            payload.update(trigger_id=self._new_trigger(opened.user), response_urls=[])
        else:
            payload["is_cleared"] = False
        return payload

    def submit_view(self, bot_url: str, secret: str, view_id: str, values: dict[str, str],
                    deliveries: int = 1) -> dict[str, Any]:
        """Press the form's submit button: POST a signed ``view_submission``; returns the bot's answer
        (``response_action`` ``errors`` keeps the form open, ``update`` replaces it, nothing closes it).
        ``deliveries`` > 1 sends the same submission that many times at once (a double click)."""
        body = urllib.parse.urlencode({"payload": json.dumps(self.view_payload(view_id, values))})
        with ThreadPoolExecutor(deliveries) as pool:
            replies = list(pool.map(lambda _: self._deliver(bot_url, secret, body, "application/x-www-form-urlencoded"),
                                    range(deliveries)))
        answers = []
        for status, text in replies:
            if status != 200:
                raise AssertionError(f"the bot answered a view_submission with HTTP {status}: {text[:200]}")
            answers.append(json.loads(text) if text.strip() else {})
        answer = answers[-1]
        opened = self.views[view_id]
        with self._changed:
            if answer.get("response_action") == "update":
                opened.view, opened.hash = answer["view"], uuid.uuid4().hex[:16]
            elif answer.get("response_action") != "errors":
                opened.closed = True
            self._changed.notify_all()
        self.last_answers = answers
        return answer

    def close_view(self, bot_url: str, secret: str, view_id: str) -> tuple[int, str]:
        """Press the form's Cancel: POST a signed ``view_closed`` (the view asked for ``notify_on_close``)."""
        opened = self.views[view_id]
        opened.closed = True
        if not opened.view.get("notify_on_close"):
            return 200, ""
        body = urllib.parse.urlencode({"payload": json.dumps(self.view_payload(view_id, {}, "view_closed"))})
        return self._deliver(bot_url, secret, body, "application/x-www-form-urlencoded")

    def opened_views(self, user_id: str | None = None) -> list[OpenView]:
        """The views the bot opened (for ``user_id``), oldest first."""
        return [v for v in self.views.values() if user_id is None or v.user == user_id]

    def _api_conversations_open(self, params: dict[str, Any]) -> dict[str, Any]:
        if "im:write" not in self.scopes:
            return {"ok": False, "error": "missing_scope", "needed": "im:write"}
        user = str(params.get("users", "")).split(",")[0]
        if user not in self.users:
            return {"ok": False, "error": "user_not_found"}
        if self.users[user].get("deleted"):
            return {"ok": False, "error": "user_disabled"}
        return {"ok": True, "channel": {"id": self.dm_of(user)}}

    def _api_users_info(self, params: dict[str, Any]) -> dict[str, Any]:
        user = self.users.get(str(params.get("user")))
        return {"ok": True, "user": user} if user else {"ok": False, "error": "user_not_found"}

    def _api_usergroups_list(self, params: dict[str, Any]) -> dict[str, Any]:
        if "usergroups:read" not in self.scopes:
            return {"ok": False, "error": "missing_scope", "needed": "usergroups:read"}
        with_users = str(params.get("include_users", "")).lower() in ("1", "true")
        return {"ok": True, "usergroups": [group if with_users else {k: v for k, v in group.items() if k != "users"}
                                           for group in self.usergroups.values()]}

    def _api_conversations_info(self, params: dict[str, Any]) -> dict[str, Any]:
        channel = self.channels.get(str(params.get("channel")))
        if channel is None:
            return {"ok": False, "error": "channel_not_found"}
        return {"ok": True, "channel": {
            "id": channel.id, "name": channel.name, "is_channel": channel.kind in ("public", "shared"),
            "is_private": channel.kind == "private", "is_im": channel.kind == "im",
            "is_ext_shared": channel.kind == "shared", "is_archived": channel.archived,
            "is_member": BOT_USER in channel.members}}

    # -- Socket Mode ---------------------------------------------------------------------------
    def _socket_session(self, connection: ServerConnection) -> None:
        connection.send(json.dumps({"type": "hello", "num_connections": 1,
                                    "connection_info": {"app_id": "ACRMBOT01"},
                                    "debug_info": {"host": "fake-slack", "approximate_connection_time": 3600}}))
        with self._changed:
            self._sockets.append(connection)
            self._changed.notify_all()
        try:
            for message in connection:  # the bot's acknowledgements: {"envelope_id": ..., "payload": ...}
                self._record("socket_ack", json.loads(message))
        except ConnectionClosed:  # the bot went away without a closing handshake, as clients may
            pass
        finally:
            with self._changed:
                self._sockets.remove(connection)

    def send_over_socket(self, kind: str, payload: dict[str, Any], timeout: float = 10.0,
                         retry_attempt: int = 0) -> str:
        """Send an envelope (``slash_commands``, ``interactive`` or ``events_api``) to the connected
        bot, as Slack does in Socket Mode; returns its ``envelope_id`` (the bot's ack echoes it)."""
        with self._changed:
            if not self._changed.wait_for(lambda: self._sockets, timeout):
                raise TimeoutError("no bot is connected over Socket Mode")
            connection = self._sockets[-1]
        envelope_id = str(uuid.uuid4())
        envelope: dict[str, Any] = {"envelope_id": envelope_id, "type": kind, "payload": payload,
                                    "accepts_response_payload": kind != "events_api"}
        if kind == "events_api":
            envelope.update(retry_attempt=retry_attempt, retry_reason="timeout" if retry_attempt else "")
        connection.send(json.dumps(envelope))
        return envelope_id

    def socket_ack(self, envelope_id: str, timeout: float = 10.0) -> dict[str, Any]:
        """The bot's acknowledgement of an envelope (waits for it)."""
        calls = self.wait_for(lambda c: any(x.method == "socket_ack" and x.params.get("envelope_id") == envelope_id
                                            for x in c), timeout)
        return next(c.params for c in calls if c.method == "socket_ack" and c.params.get("envelope_id") == envelope_id)

    # -- what Slack's client does to text ---------------------------------------------------------
    def linkify(self, text: str) -> str:
        """Typed ``#name``, ``@name`` and ``@group`` as Slack sends them when it escapes a command
        (and always in messages): ``<#C0123|name>``, ``<@U0123>``, ``<!subteam^S0123|@group>``.
        Names nobody has stay as typed, as in Slack."""
        channels = {c.name: c.id for c in self.channels.values() if c.kind != "im"}
        users = {u["name"]: uid for uid, u in self.users.items()}
        groups = {g["handle"]: gid for gid, g in self.usergroups.items()}

        def link(match: re.Match[str]) -> str:
            sigil, name = match.group(1), match.group(2)
            if sigil == "#" and name in channels:
                return f"<#{channels[name]}|{name}>"
            if sigil == "@" and name in users:
                return f"<@{users[name]}>"
            if sigil == "@" and name in groups:
                return f"<!subteam^{groups[name]}|@{name}>"
            return match.group(0)
        return re.sub(r"(?<![\w<|^])([#@])([a-z0-9][a-z0-9._-]*)", link, text)

    def unlinkify(self, text: str) -> str:
        """Slack markup as its client shows it: ``<#C0123>`` -> ``#sales``, ``<@U0123>`` -> ``@jane``,
        ``<!subteam^S0123|@group>`` -> ``@group``, ``<https://...|label>`` -> ``label``."""
        def show(match: re.Match[str]) -> str:
            target, _, label = match.group(1).partition("|")
            if target.startswith("#"):
                channel = self.channels.get(target[1:])
                if channel is not None and channel.kind == "im":
                    return "this conversation"
                return "#" + (label or (channel.name if channel else target[1:]))
            if target.startswith("@"):
                user = self.users.get(target[1:])
                return "@" + (user["name"] if user else label or target[1:])
            if target.startswith("!date^"):  # a time in the reader's zone; the fallback here
                return label or target
            if target.startswith("!subteam^"):
                return label or "@" + self.usergroups.get(target[9:], {}).get("handle", target[9:])
            if target.startswith("!"):
                return "@" + target[1:]
            return label or target
        return re.sub(r"<([^<>\s][^<>]*)>", show, text)

    # -- deliveries to the bot ------------------------------------------------------------------
    def command_payload(self, command: str, text: str, user_id: str = "U0ADMIN01", channel_id: str = "C0GENERAL",
                        response_url: str | None = None) -> dict[str, str]:
        """A slash command as Slack sends it (the HTTP form fields, or a Socket Mode payload)."""
        return {"token": "unused-legacy-token", "team_id": TEAM, "team_domain": "example",
                "channel_id": channel_id, "channel_name": self.channels.get(channel_id, Channel(channel_id, "dm")).name,
                "user_id": user_id, "user_name": self.users.get(user_id, {}).get("name", "someone"),
                "command": command, "text": text, "api_app_id": "ACRMBOT01",
                "response_url": response_url or self.new_response_url(),
                "trigger_id": self._new_trigger(user_id)}

    def click_payload(self, action_id: str, value: str, label: str = "", user_id: str = "U0ADMIN01",
                      channel_id: str = "C0GENERAL") -> dict[str, Any]:
        """A ``block_actions`` payload: a user clicked a button."""
        now = f"{time.time():.6f}"
        return {"type": "block_actions", "user": {"id": user_id}, "api_app_id": "ACRMBOT01",
                "container": {"type": "message", "message_ts": now, "channel_id": channel_id, "is_ephemeral": True},
                "trigger_id": self._new_trigger(user_id), "team": {"id": TEAM},
                "channel": {"id": channel_id}, "state": {"values": {}}, "response_url": self.new_response_url(),
                "actions": [{"action_id": action_id, "block_id": "b1", "value": value, "type": "button",
                             "text": {"type": "plain_text", "text": label or action_id}, "action_ts": now}]}

    def mention_payload(self, text: str, user_id: str = "U0ADMIN01", channel_id: str = "C0GENERAL",
                        thread_ts: str | None = None) -> dict[str, Any]:
        """An ``app_mention`` event callback (``<@bot> text``), in a thread when ``thread_ts`` is given."""
        ts = self._next_ts()
        event = {"type": "app_mention", "user": user_id, "text": f"<@{BOT_USER}> {text}", "ts": ts,
                 "channel": channel_id, "event_ts": ts, **({"thread_ts": thread_ts} if thread_ts else {})}
        return {"token": "unused-legacy-token", "team_id": TEAM, "api_app_id": "ACRMBOT01",
                "event": event,
                "type": "event_callback", "event_id": f"Ev{uuid.uuid4().hex[:10]}", "event_time": int(time.time()),
                "authorizations": [{"team_id": TEAM, "user_id": BOT_USER, "is_bot": True}]}

    def send_command(self, bot_url: str, secret: str, command: str, text: str, user_id: str = "U0ADMIN01",
                     channel_id: str = "C0GENERAL", timestamp: int | None = None,
                     response_url: str | None = None) -> tuple[int, str]:
        """POST a signed slash command (Slack's form body) to the bot; returns (status, body)."""
        form = self.command_payload(command, text, user_id, channel_id, response_url)
        return self._deliver(bot_url, secret, urllib.parse.urlencode(form), "application/x-www-form-urlencoded",
                             timestamp)

    def click(self, bot_url: str, secret: str, action_id: str, value: str, label: str = "",
              user_id: str = "U0ADMIN01", channel_id: str = "C0GENERAL") -> tuple[int, str]:
        """POST a signed ``block_actions`` payload (a button click) to the bot."""
        payload = self.click_payload(action_id, value, label, user_id, channel_id)
        body = urllib.parse.urlencode({"payload": json.dumps(payload)})
        return self._deliver(bot_url, secret, body, "application/x-www-form-urlencoded")

    def mention(self, bot_url: str, secret: str, text: str, user_id: str = "U0ADMIN01",
                channel_id: str = "C0GENERAL", retry: int | None = None,
                thread_ts: str | None = None) -> tuple[int, str]:
        """POST a signed ``app_mention`` event (``<@bot> text``) to the bot, in a thread if ``thread_ts``."""
        extra = {"X-Slack-Retry-Num": str(retry), "X-Slack-Retry-Reason": "http_timeout"} if retry else {}
        return self._deliver(bot_url, secret, json.dumps(self.mention_payload(text, user_id, channel_id, thread_ts)),
                             "application/json", extra=extra)

    def open_home(self, bot_url: str, secret: str, user_id: str = "U0ADMIN01") -> tuple[int, str]:
        """POST a signed ``app_home_opened`` event (the user opened the bot's Home tab)."""
        event = {"token": "unused-legacy-token", "team_id": TEAM, "api_app_id": "ACRMBOT01",
                 "event": {"type": "app_home_opened", "user": user_id, "channel": "D0HOME", "tab": "home",
                           "event_ts": self._next_ts()},
                 "type": "event_callback", "event_id": f"Ev{uuid.uuid4().hex[:10]}", "event_time": int(time.time())}
        return self._deliver(bot_url, secret, json.dumps(event), "application/json")

    def _deliver(self, bot_url: str, secret: str, body: str, content_type: str, timestamp: int | None = None,
                 extra: dict[str, str] | None = None) -> tuple[int, str]:
        stamp = str(timestamp if timestamp is not None else int(time.time()))
        request = urllib.request.Request(bot_url, data=body.encode(), method="POST", headers={
            "Content-Type": content_type, "X-Slack-Request-Timestamp": stamp,
            "X-Slack-Signature": sign(secret, stamp, body), **(extra or {})})
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                return response.status, response.read().decode()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read().decode()


def _parse(content_type: str, body: str) -> dict[str, Any]:
    if not body:
        return {}
    if "json" in content_type:
        return json.loads(body)
    parsed = {k: v[0] for k, v in urllib.parse.parse_qs(body, keep_blank_values=True).items()}
    return parsed
