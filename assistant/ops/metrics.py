"""Prometheus metrics: what the bot did (counters and latency histograms, per process) and how
fresh the store's analytics are (read from the store at scrape time, so every replica agrees).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from datetime import UTC

from prometheus_client import Counter, Histogram
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy.orm import Session

from db import predictions, snapshots, sync_states

COMMANDS = Counter("crm_commands_total", "Commands, buttons and questions answered, by outcome",
                   ["command", "outcome"])
COMMAND_SECONDS = Histogram("crm_command_seconds", "Time to build an answer (after the ack)", ["command"],
                            buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10))
DIGESTS = Counter("crm_digest_deliveries_total", "Digest deliveries by result", ["result"])
ALERTS = Counter("crm_alerts_total", "Alerts by result (sent, held back)", ["result"])
REMINDERS = Counter("crm_reminders_total", "Follow-up reminders by result (sent, reconciled, missed, failed, "
                    "retrying)", ["result"])
LANGUAGE_MODEL = Counter("crm_language_model_requests_total", "Questions sent to the optional language model, by "
                         "outcome (read, bad reply, unreachable)", ["outcome"])


class StoreCollector(Collector):
    """Age and size of the latest analytics run and the age of each model, from the store.

    Cached for ``ttl`` seconds: a scrape every few seconds costs at most one set of queries.
    """

    def __init__(self, session_factory: Callable[[], Session], ttl: float = 30.0) -> None:
        self.session_factory, self.ttl = session_factory, ttl
        self._cached: tuple[float, list[GaugeMetricFamily | CounterMetricFamily]] | None = None

    def _read(self) -> list[GaugeMetricFamily | CounterMetricFamily]:
        now = time.time()
        run_age = GaugeMetricFamily("crm_analytics_run_age_seconds", "Since the latest analytics run finished")
        run_seconds = GaugeMetricFamily("crm_refresh_duration_seconds", "How long the latest refresh took")
        run_customers = GaugeMetricFamily("crm_refresh_customers", "Customers in the latest analytics run")
        model_age = GaugeMetricFamily("crm_model_age_seconds", "Since each model was trained", labels=["target"])
        synced = CounterMetricFamily("crm_sync_rows", "Rows read from each data source", labels=["source", "part"])
        sync_failures = CounterMetricFamily("crm_sync_failures", "Failed syncs of each data source",
                                            labels=["source", "part"])
        sync_failing = GaugeMetricFamily("crm_sync_failing_seconds", "Since a data source started failing "
                                         "(0: it syncs)", labels=["source", "part"])
        with self.session_factory() as session:
            run = snapshots.latest_run(session)
            if run is not None and run.finished_at is not None:
                run_age.add_metric([], now - run.finished_at.timestamp())
                run_seconds.add_metric([], (run.finished_at - run.started_at).total_seconds())
                run_customers.add_metric([], float(run.input_sizes.get("customers", 0) or 0))
            for model in predictions.latest_models(session):
                model_age.add_metric([model.target], now - model.trained_at.timestamp())
            states = sync_states.all_states(session)
        for state in states:
            labels = [state.source, state.part]
            synced.add_metric(labels, float(state.rows_total))
            sync_failures.add_metric(labels, float(state.failures_total))
            sync_failing.add_metric(labels, now - state.failing_since.replace(tzinfo=UTC).timestamp()
                                    if state.failing_since else 0.0)
        return [run_age, run_seconds, run_customers, model_age, synced, sync_failures, sync_failing]

    def collect(self) -> Iterator[GaugeMetricFamily | CounterMetricFamily]:
        if self._cached is None or time.monotonic() - self._cached[0] > self.ttl:
            try:
                self._cached = (time.monotonic(), self._read())
            except Exception:  # a scrape during a database outage must still answer (readyz says why)
                self._cached = (time.monotonic(), [])
        yield from self._cached[1]
