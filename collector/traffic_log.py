"""The periodic one-line traffic summary in the log (logging.traffic_summary_s; 0 = off).

Built from the Prometheus counters of metrics.py: every interval, the change of each counter
since the previous one, as one INFO line; no line for an interval without traffic. Owns no
counting of its own.
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter as Tally

from kate.collector import metrics
from kate.collector.background import BackgroundTask

logger = logging.getLogger("kate.traffic")
Snapshot = dict[tuple[str, tuple[str, ...]], float]
_SERIES = ("kate_ingest_requests_total", "kate_spans_received_total", "kate_spans_stored_total",
           "kate_spans_rejected_total", "kate_request_errors_total")


def snapshot() -> Snapshot:
    """The current value of every series the summary reads, keyed by (name, label values)."""
    values: Snapshot = {}
    for family in metrics.REGISTRY.collect():
        for sample in family.samples:
            if sample.name in _SERIES:
                values[(sample.name, tuple(sample.labels.values()))] = sample.value
    return values


def summary_line(before: Snapshot, after: Snapshot, interval_s: float) -> str | None:
    """What changed between two snapshots, as one line; None when nothing did."""
    delta = {key: after[key] - before.get(key, 0.0) for key in after if after[key] != before.get(key, 0.0)}
    if not delta:
        return None
    by_protocol = [f"{protocol} {_count(delta, 'kate_ingest_requests_total', protocol)} requests / "
                   f"{_count(delta, 'kate_spans_received_total', protocol)} spans"
                   for protocol in _labels(delta, "kate_ingest_requests_total", "kate_spans_received_total")]
    parts = [f"traffic in the last {interval_s:g} s:", "; ".join(by_protocol) or "no spans received",
             f"| stored {_total(delta, 'kate_spans_stored_total')} spans"]
    rejected = _by_label(delta, "kate_spans_rejected_total")
    if rejected:
        parts.append(f"| rejected {_total(delta, 'kate_spans_rejected_total')} spans ({rejected})")
    refused = _by_label(delta, "kate_request_errors_total")
    if refused:
        parts.append(f"| refused {_total(delta, 'kate_request_errors_total')} requests ({refused})")
    return " ".join(parts)


def _labels(delta: Snapshot, *names: str) -> list[str]:
    return sorted({labels[0] for name, labels in delta if name in names and labels})


def _count(delta: Snapshot, name: str, protocol: str) -> str:
    return f"{int(delta.get((name, (protocol,)), 0)):,}"


def _total(delta: Snapshot, name: str) -> str:
    return f"{int(sum(value for (series, _), value in delta.items() if series == name)):,}"


def _by_label(delta: Snapshot, name: str) -> str:
    """"otlp_http 3" or, for errors, "http overloaded 2, grpc invalid_argument 1"."""
    tally = Tally({" ".join(labels): value for (series, labels), value in delta.items() if series == name})
    return ", ".join(f"{labels} {int(value):,}" for labels, value in sorted(tally.items()))


class TrafficSummary:
    """Logs summary_line() every interval_s while the collector runs; start/stop are safe twice."""

    def __init__(self, interval_s: float) -> None:
        self._interval_s = interval_s
        self._task = BackgroundTask(self._run)

    def start(self) -> None:
        if self._interval_s > 0:
            self._task.start()

    async def stop(self) -> None:
        await self._task.stop()

    async def _run(self) -> None:
        before = snapshot()
        while True:
            await asyncio.sleep(self._interval_s)
            try:
                after = snapshot()
                line = summary_line(before, after, self._interval_s)
            except Exception:  # loop boundary: a failed summary must not end the next ones
                logger.exception("traffic summary failed")
                continue
            if line is not None:
                logger.info("%s", line)
            before = after
