"""Serving the Bolt app: HTTP mode (waitress, a production WSGI server) or Socket Mode."""

from __future__ import annotations

import threading
from contextlib import suppress
from dataclasses import dataclass
from typing import Any

from slack_bolt import App
from slack_bolt.adapter.socket_mode import SocketModeHandler
from slack_bolt.adapter.wsgi import SlackRequestHandler
from waitress import create_server

MAX_BODY_BYTES = 1_000_000
"""Slack's payloads are a few kilobytes; anything much larger is refused before parsing."""


@dataclass
class RunningServer:
    """An HTTP server running in a background thread (tests, the console)."""

    server: Any
    thread: threading.Thread
    url: str

    def stop(self) -> None:
        stop_server(self.server, self.thread)


def stop_server(server: Any, thread: threading.Thread | None = None) -> None:
    """Stop a waitress server running on another thread.

    Closed from inside its own loop (a trigger thunk): closing the sockets from here while the
    loop sits in ``select`` makes it fail with a bad file descriptor.  A loop that has already
    ended has closed its trigger too: then there is nothing left to close.
    """
    with suppress(OSError):
        server.trigger.pull_trigger(server.close)
    if thread is not None:
        thread.join(timeout=5)
    server.task_dispatcher.shutdown()


def wsgi_app(app: App, path: str) -> SlackRequestHandler:
    """The WSGI application answering Slack's requests on ``path`` (commands, actions, events)."""
    return SlackRequestHandler(app, path=path)


def create_http_server(app: App, host: str, port: int, path: str, threads: int = 8) -> Any:
    """A waitress server for the app (``port=0``: any free port, see ``effective_port``)."""
    return create_server(wsgi_app(app, path), host=host, port=port, threads=threads,
                         max_request_body_size=MAX_BODY_BYTES, ident="crm-bot")


def start_in_background(app: App, path: str = "/slack/events", host: str = "127.0.0.1",
                        port: int = 0) -> RunningServer:
    """Serve the app over HTTP on a background thread; returns where it listens."""
    server = create_http_server(app, host, port, path)
    thread = threading.Thread(target=server.run, daemon=True, name="crm-bot-http")
    thread.start()
    return RunningServer(server=server, thread=thread, url=f"http://{host}:{server.effective_port}{path}")


def socket_mode_handler(app: App, app_token: str) -> SocketModeHandler:
    """The Socket Mode connection for the app: ``connect()`` returns at once, ``start()`` blocks.

    The WebSocket URL comes from ``apps.connections.open`` on the app's Web API client, so it
    points at the local fake whenever the client does.
    """
    return SocketModeHandler(app, app_token)
