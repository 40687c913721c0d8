"""The agent's Prometheus series: observer up (its process runs) per observer, start and stop counts and
durations, and refused signatures by reason. Observer names come from the agent's config, reasons from a
fixed list: no label carries a caller's input."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping

from prometheus_client import CollectorRegistry, Counter, Histogram, ProcessCollector, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

OPERATION_BUCKETS = (0.1, 0.5, 1, 2.5, 5, 10, 20, 30, 60, 120, 300, 600)


class _ObserversUp(Collector):
    def __init__(self, running: Callable[[], Mapping[str, bool]]) -> None:
        self._running = running

    def collect(self) -> Iterable[Metric]:
        up = GaugeMetricFamily(
            "obcp_agent_observer_up", "1 while the observer's process runs, else 0.", labels=["observer"]
        )
        for name, running in sorted(self._running().items()):
            up.add_metric([name], 1.0 if running else 0.0)
        yield up


class AgentMetrics:
    def __init__(self, running: Callable[[], Mapping[str, bool]]) -> None:
        self.registry = r = CollectorRegistry()
        ProcessCollector(registry=r)
        r.register(_ObserversUp(running))
        self.operations = Counter(
            "obcp_agent_observer_operations",
            "Starts and stops of observers, by observer, operation and outcome (ok, error).",
            ["observer", "operation", "outcome"],
            registry=r,
        )
        self.operation_seconds = Histogram(
            "obcp_agent_observer_operation_duration_seconds",
            "How long a start (until ready) or a stop (until the process is gone) took.",
            ["observer", "operation"],
            buckets=OPERATION_BUCKETS,
            registry=r,
        )
        self.signature_refusals = Counter(
            "obcp_agent_signature_refusals",
            "Requests refused for their signature, by reason (missing_signature, bad_signature, ...).",
            ["reason"],
            registry=r,
        )

    def operated(self, observer: str, operation: str, ok: bool, seconds: float) -> None:
        self.operations.labels(observer, operation, "ok" if ok else "error").inc()
        self.operation_seconds.labels(observer, operation).observe(seconds)

    def refused(self, reason: str) -> None:
        self.signature_refusals.labels(reason).inc()

    def render(self) -> bytes:
        return generate_latest(self.registry)
