"""A fake OpenAI-compatible chat-completions server, over real HTTP on 127.0.0.1, for the tests.

It answers ``POST /v1/chat/completions`` with the exchange recorded for the question (the user
message): a completion as OpenAI-compatible servers return it, or an HTTP error, a body that is not
JSON, or a reply held back longer than the client waits.  Questions it has no exchange for get
intent ``unclear``.  Every request body it receives is kept, so tests can check what was sent.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

REPLIES = Path(__file__).with_name("language_model_replies.json")


def recorded() -> dict[str, dict[str, Any]]:
    """The recorded exchanges, by question."""
    return {exchange["question"]: exchange for exchange in json.loads(REPLIES.read_text())["exchanges"]}


def completion(content: str | None, *, tool_arguments: str | None = None, finish_reason: str = "stop",
               model: str = "llama3.1") -> dict[str, Any]:
    """A chat completion in the shape OpenAI's API (and Ollama's and llama.cpp's compatible ones) return."""
    message: dict[str, Any] = {"role": "assistant", "content": content}
    if tool_arguments is not None:
        message["tool_calls"] = [{"id": "call_0", "type": "function",
                                  "function": {"name": "reading", "arguments": tool_arguments}}]
        finish_reason = "tool_calls"
    return {"id": "chatcmpl-0", "object": "chat.completion", "created": 1733130000, "model": model,
            "system_fingerprint": "fp_ollama",
            "choices": [{"index": 0, "message": message, "finish_reason": finish_reason}],
            "usage": {"prompt_tokens": 900, "completion_tokens": 60, "total_tokens": 960}}


class FakeLanguageModel:
    """The server; ``url`` is what ``CRM_LLM_URL`` would be."""

    def __init__(self, exchanges: dict[str, dict[str, Any]] | None = None) -> None:
        self.exchanges = recorded() if exchanges is None else exchanges
        self.bodies: list[dict[str, Any]] = []
        self.headers: list[dict[str, str]] = []
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}/v1"

    def questions(self) -> list[str]:
        """The questions asked so far (the user message of each request)."""
        return [body["messages"][-1]["content"] for body in self.bodies]

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *_args: Any) -> None:
                pass

            def do_POST(self) -> None:  # http.server's name
                if self.path != "/v1/chat/completions":
                    self._send(404, b'{"error": {"message": "not found"}}')
                    return
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                fake.bodies.append(body)
                fake.headers.append(dict(self.headers))
                exchange = fake.exchanges.get(body["messages"][-1]["content"])
                if exchange is None:
                    reply = completion(json.dumps(_unclear()))
                    self._send(200, json.dumps(reply).encode())
                    return
                time.sleep(exchange.get("delay_seconds", 0))
                if "raw" in exchange:
                    self._send(exchange.get("status", 200), exchange["raw"].encode())
                    return
                reading = exchange.get("reading")
                reply = exchange.get("reply") or completion(
                    None if exchange.get("as_tool_call") else json.dumps(reading),
                    tool_arguments=json.dumps(reading) if exchange.get("as_tool_call") else None)
                self._send(exchange.get("status", 200), json.dumps(reply).encode())

            def _send(self, status: int, payload: bytes) -> None:
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(payload)))
                    self.end_headers()
                    self.wfile.write(payload)
                except (BrokenPipeError, ConnectionResetError):  # the client gave up waiting
                    pass

        return Handler

    @contextmanager
    def running(self) -> Iterator[FakeLanguageModel]:
        """Serve in a thread for the ``with`` block."""
        thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True,
                                  name="fake-language-model")
        thread.start()
        try:
            yield self
        finally:
            self._server.shutdown()
            self._server.server_close()


def _unclear() -> dict[str, Any]:
    return {"intent": "unclear", "customer": None, "product": None, "segment": None, "country": None,
            "metric": None, "group_by": None, "period": None, "top": None, "bottom": False, "compare": None,
            "growth": False, "mine": False, "daily": False}
