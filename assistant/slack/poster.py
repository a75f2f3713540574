"""The ``Poster`` that delivery uses, over slack_sdk: posts, history look-ups, chart uploads, DMs.

Slack's errors are sorted into permanent ones (retrying cannot help: the bot is not in the
channel, the channel is gone, a scope is missing) and transient ones (rate limits left after
the client's own retries, Slack's 5xx, the network), which delivery retries after reconciling.
"""

from __future__ import annotations

import time
import urllib.error
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_handlers import RateLimitErrorRetryHandler
from slack_sdk.http_retry.request import HttpRequest
from slack_sdk.http_retry.response import HttpResponse
from slack_sdk.http_retry.state import RetryState

from assistant.jobs.poster import PostError
from assistant.render.blocks import Message
from assistant.slack.places import ChannelKinds

ADVICE = {
    "not_in_channel": "Invite the bot there with `/invite @crm`.",
    "channel_not_found": "The channel is gone or private without the bot: invite it with `/invite @crm`, "
                         "or `/crm digest unsubscribe` there.",
    "is_archived": "The channel is archived: subscribe another one with `/crm digest subscribe #channel`.",
    "missing_scope": "The Slack app lacks a permission: reinstall it from deploy/slack-app-manifest.yml.",
    "not_authed": "The bot token is not valid: check SLACK_BOT_TOKEN.",
    "invalid_auth": "The bot token is not valid: check SLACK_BOT_TOKEN.",
    "account_inactive": "The app was uninstalled or its token revoked: reinstall it.",
    "restricted_action": "A workspace setting stops the bot posting there.",
    "user_disabled": "That person's Slack account is deactivated: hand their accounts to someone else with "
                     "`/crm assign`.",
    "user_not_found": "There is no such person in this workspace any more: hand their accounts to someone else "
                      "with `/crm assign`.",
    "cannot_dm_bot": "The owner is a bot, which cannot get direct messages: hand the account to a person.",
}
"""Permanent errors, with what a person should do about each."""


def _retry_after(headers: Mapping[str, Any]) -> float | None:
    for key, value in headers.items():
        if key.lower() == "retry-after":
            raw = value[0] if isinstance(value, list | tuple) else value
            try:
                return float(raw)
            except (TypeError, ValueError):
                return None
    return None


def _error(exc: Exception) -> PostError:
    if isinstance(exc, SlackApiError):
        code = str(exc.response.get("error", "unknown_error"))
        return PostError(code, code in ADVICE, ADVICE.get(code, ""), _retry_after(exc.response.headers or {}))
    return PostError(f"network: {exc}", permanent=False)


MIN_REQUEST_SECONDS = 1
"""The shortest time a request is given (the client's timeout is whole seconds)."""


class BoundedClient(WebClient):
    """A client for one call that starts no request after ``deadline`` (``time.monotonic``).

    Each request's timeout is what is left, so none outlives the deadline either; a call made of
    several requests (``files_upload_v2``) is bounded as a whole.
    """

    def __init__(self, token: str | None, base_url: str, within: float) -> None:
        super().__init__(token=token, base_url=base_url, timeout=max(MIN_REQUEST_SECONDS, int(within)),
                         retry_handlers=[])
        self.deadline = time.monotonic() + within
        self.retry_handlers.append(DeadlineRetry(self))

    def left(self) -> float:
        """Seconds until the deadline."""
        return self.deadline - time.monotonic()

    def api_call(self, api_method: str, **kwargs: Any) -> Any:
        if self.left() < MIN_REQUEST_SECONDS:
            raise TimeoutError(f"{api_method} not sent: the call's time ran out")
        self.timeout = max(MIN_REQUEST_SECONDS, int(self.left()))
        return super().api_call(api_method, **kwargs)


class DeadlineRetry(RateLimitErrorRetryHandler):
    """Waits out a 429 only if the wait and one more request fit before the client's deadline.

    slack_sdk's own handler sleeps whatever ``Retry-After`` says; a scheduler asleep inside it
    past its lease is how a second scheduler came to post the same digest.  Here a wait that does
    not fit ends the call with the 429 (a transient ``PostError`` carrying ``retry_after``).
    """

    def __init__(self, client: BoundedClient, max_retry_count: int = 3) -> None:
        super().__init__(max_retry_count=max_retry_count)
        self.client = client

    def _can_retry(self, *, state: RetryState, request: HttpRequest, response: HttpResponse | None = None,
                   error: Exception | None = None) -> bool:
        if not super()._can_retry(state=state, request=request, response=response, error=error):
            return False
        wait = _retry_after(response.headers if response is not None else {}) or 1.0
        # slack_sdk adds up to a second of jitter to the wait, and the next request needs its time.
        return wait + 1.0 + MIN_REQUEST_SECONDS <= self.client.left()

    def prepare_for_next_attempt(self, *, state: RetryState, request: HttpRequest,
                                 response: HttpResponse | None = None, error: Exception | None = None) -> None:
        super().prepare_for_next_attempt(state=state, request=request, response=response, error=error)
        self.client.timeout = max(MIN_REQUEST_SECONDS, int(self.client.left()))


NETWORK_ERRORS = (urllib.error.URLError, ConnectionError, TimeoutError, OSError)


class SlackPoster:
    """``Poster`` over a ``WebClient`` (whose base URL may point at the local fake)."""

    def __init__(self, client: WebClient) -> None:
        # Same token and URL, but 429s are the only automatic retry: slack_sdk's default also
        # re-sends after a dropped connection, and a dropped *reply* to chat.postMessage means the
        # message may be posted already.  Delivery reconciles against the channel instead.
        self.client = WebClient(token=client.token, base_url=client.base_url, timeout=client.timeout,
                                retry_handlers=[RateLimitErrorRetryHandler(max_retry_count=3)])
        self._kinds = ChannelKinds(lambda channel: self._call("conversations_info", channel=channel)["channel"])
        self._direct: dict[str, str] = {}

    def _call(self, method: str, within: float | None = None, **kwargs: Any) -> Any:
        """``method`` with Slack's errors as ``PostError``; with ``within``, on a client that sends
        nothing after that many seconds (timeouts and 429 waits included)."""
        client = self.client if within is None else BoundedClient(self.client.token, self.client.base_url, within)
        try:
            return getattr(client, method)(**kwargs)
        except (SlackApiError, *NETWORK_ERRORS) as exc:
            raise _error(exc) from exc

    def channel_kind(self, channel: str) -> str:
        return self._kinds(channel)

    def post(self, channel: str, message: Message, metadata: Mapping[str, object], within: float) -> str:
        response = self._call("chat_postMessage", within, channel=channel, text=message.text,
                                     blocks=message.blocks, metadata=metadata, unfurl_links=False, unfurl_media=False)
        return str(response["ts"])

    def find(self, channel: str, event_type: str, token: str, since: datetime) -> str | None:
        cursor = None
        while True:
            stamp = (since if since.tzinfo else since.replace(tzinfo=UTC)).timestamp()
            page = self._call("conversations_history", channel=channel, oldest=f"{stamp:.6f}",
                              include_all_metadata=True, limit=200, cursor=cursor)
            for message in page.get("messages", []):
                metadata = message.get("metadata") or {}
                if metadata.get("event_type") == event_type and (metadata.get("event_payload") or {}).get(
                        "token") == token:
                    return str(message["ts"])
            cursor = (page.get("response_metadata") or {}).get("next_cursor")
            if not cursor:
                return None

    def upload_chart(self, channel: str, thread_ts: str, png: bytes, filename: str, title: str,
                     within: float) -> str:
        response = self._call("files_upload_v2", within, channel=channel, thread_ts=thread_ts, content=png,
                                     filename=filename, title=title)
        files = response.get("files") or [response.get("file")]
        return str(files[0]["id"])

    def find_file(self, channel: str, thread_ts: str, filename: str) -> str | None:
        replies = self._call("conversations_replies", channel=channel, ts=thread_ts, limit=200)
        for message in replies.get("messages", []):
            for file in message.get("files") or []:
                if file.get("name") == filename:
                    return str(file["id"])
        return None

    def tell(self, user: str, text: str) -> None:
        self._call("chat_postMessage", channel=user, text=text)

    def direct_channel(self, user: str) -> str:
        # A DM's id never changes, so one conversations.open per person per process.
        if user not in self._direct:
            self._direct[user] = str(self._call("conversations_open", users=user)["channel"]["id"])
        return self._direct[user]
