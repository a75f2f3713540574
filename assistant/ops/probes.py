"""Liveness, readiness and metrics over HTTP, on their own port (``CRM_HEALTH_PORT``).

``/healthz``: the process answers.  ``/readyz``: the store answers, its schema is current, and
(in Socket Mode) the WebSocket to Slack is up; 503 with the failing checks otherwise, so a load
balancer or Kubernetes stops sending work.  It also lists each synced data source's state, which
never makes it fail (answers come from the store, not from the shop's database).  ``/metrics``: Prometheus text format.
"""

from __future__ import annotations

import errno
import json
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from prometheus_client import REGISTRY, CollectorRegistry, make_wsgi_app
from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector
from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session
from waitress import create_server

from assistant.errors import UserFacingError
from assistant.ops.metrics import StoreCollector
from db import migrate, sync_states
from db.engine import make_session_factory, ping

StartResponse = Callable[[str, list[tuple[str, str]]], Any]
SCHEMA_CHECK_SECONDS = 60.0


class _ProcessMetrics(Collector):
    def collect(self) -> Iterator[Metric]:
        yield from REGISTRY.collect()


class Probes:
    """The WSGI app behind the probe port."""

    def __init__(self, engine: Engine, slack_connected: Callable[[], bool] | None = None) -> None:
        self.engine, self.slack_connected = engine, slack_connected
        self._schema: tuple[float, bool] | None = None
        # This process's counters (the global registry) plus this store's gauges, without adding
        # the store collector to the global registry (each Probes has its own store).
        registry = CollectorRegistry(auto_describe=False)
        registry.register(_ProcessMetrics())
        registry.register(StoreCollector(make_session_factory(engine)))
        self._metrics = make_wsgi_app(registry)

    def _schema_current(self) -> bool:
        if self._schema is None or time.monotonic() - self._schema[0] > SCHEMA_CHECK_SECONDS:
            self._schema = (time.monotonic(), migrate.is_up_to_date(self.engine))
        return self._schema[1]

    def readiness(self) -> dict[str, str]:
        """Each check's state in words; all ``ok`` means ready."""
        checks: dict[str, str] = {}
        try:
            ping(self.engine)
            checks["database"] = "ok"
            checks["schema"] = "ok" if self._schema_current() else "behind: run `crm-bot db upgrade`"
        except SQLAlchemyError as exc:
            checks["database"] = "unreachable: " + str(getattr(exc, "orig", exc)).strip().splitlines()[0][:200]
        if self.slack_connected is not None:
            checks["slack"] = "ok" if self.slack_connected() else "Socket Mode connection is down"
        return checks

    def sources(self) -> dict[str, str]:
        """Each synced data source's state in words.  Informational: the bot answers from the store
        whether or not a shop's database is down, so a failing source never makes the process unready."""
        try:
            with Session(self.engine) as session:
                states = sync_states.all_states(session)
        except SQLAlchemyError:
            return {}
        return {f"{state.source}.{state.part}": "ok" if state.failing_since is None else
                f"failing since {state.failing_since:%Y-%m-%d %H:%M} UTC: {(state.error or '')[:200]}"
                for state in states}

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        if path == "/healthz":
            return self._json(start_response, 200, {"status": "ok"})
        if path == "/readyz":
            checks = self.readiness()
            ready = all(v == "ok" for v in checks.values())
            body: dict[str, Any] = {"ready": ready, "checks": checks}
            sources = self.sources() if checks.get("database") == "ok" else {}
            if sources:
                body["sources"] = sources
            return self._json(start_response, 200 if ready else 503, body)
        if path == "/metrics":
            return self._metrics(environ, start_response)
        return self._json(start_response, 404, {"error": "try /healthz, /readyz or /metrics"})

    @staticmethod
    def _json(start_response: StartResponse, status: int, body: dict[str, Any]) -> list[bytes]:
        data = json.dumps(body).encode()
        reason = {200: "OK", 404: "Not Found", 503: "Service Unavailable"}[status]
        start_response(f"{status} {reason}", [("Content-Type", "application/json"),
                                              ("Content-Length", str(len(data)))])
        return [data]


def start_probes(probes: Probes, port: int, host: str = "0.0.0.0") -> Any:  # noqa: S104 (kubelet probes from outside)
    """Serve the probes on a background thread; returns the server (``effective_port``, ``close()``).

    A port already taken (a second scheduler on the same host) is a message naming the setting.
    """
    try:
        server = create_server(probes, host=host, port=port, threads=2, ident="crm-bot-probes")
    except OSError as exc:
        if exc.errno != errno.EADDRINUSE:
            raise
        raise UserFacingError(f"CRM_HEALTH_PORT {port} is already in use on this host (another crm-bot process?): "
                              f"give this process its own port, e.g. CRM_HEALTH_PORT={port + 1}, or "
                              "CRM_HEALTH_PORT=0 to run it without health probes") from None
    threading.Thread(target=server.run, daemon=True, name="crm-bot-probes").start()
    return server
