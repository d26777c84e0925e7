"""What this process knows about each collector's failures: one warning per kind, and whether it answers.

Shared by the exporter and run contexts, so an outage is logged once per collector, not once per
span, run or thread. Never raises and does no I/O.
"""

from __future__ import annotations

import logging
import threading

from kate.exporter._errors import KateError, ServerError, TransportError
from kate.exporter._transport import collector_key

logger = logging.getLogger("kate.exporter")
_UNAVAILABLE = "unavailable"  # no answer, a 5xx, or too slow: the same outage whoever meets it
_TOO_SLOW = "too_slow"


class CollectorHealth:
    """One collector's failure log: the first failure of each kind is a WARNING naming the URL;
    repeats are DEBUG until a call to it succeeds. `unreachable` is True after a call got no answer."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url
        self.unreachable = False
        self._reported: set[str] = set()
        self._lock = threading.Lock()

    def failed(self, what: str, error: Exception, *, exc_info: bool = False) -> None:
        """Log that `what` (e.g. "creating run …") failed with `error`, once per kind of failure."""
        kind = failure_kind(error)
        with self._lock:
            first = kind not in self._reported
            self._reported.add(kind)
            self.unreachable = self.unreachable or isinstance(error, TransportError)
        if not first:
            logger.debug("Kate: %s failed at collector %s: %s", what, self.base_url, error)
            return
        logger.warning(
            "Kate: %s failed at collector %s: %s; the agent goes on without it "
            "(further %s failures are logged at DEBUG until the collector answers again)",
            what,
            self.base_url,
            error,
            kind,
            exc_info=exc_info,
        )

    def succeeded(self) -> None:
        """A call got its answer: the next failure is news again."""
        with self._lock:
            recovered = bool(self._reported)
            self._reported.clear()
            self.unreachable = False
        if recovered:
            logger.info("Kate: collector %s answers again", self.base_url)


def too_slow(message: str) -> KateError:
    """The error of a call the SDK gave up on before the collector answered (a bound passed)."""
    return KateError(message, code=_TOO_SLOW)


def failure_kind(error: Exception) -> str:
    """What is logged once: `unavailable` for no answer, a 5xx or too slow an answer; else the API's code."""
    if isinstance(error, TransportError | ServerError) or getattr(error, "code", None) == _TOO_SLOW:
        return _UNAVAILABLE
    return error.code if isinstance(error, KateError) else "internal"


_lock = threading.Lock()
_by_collector: dict[str, CollectorHealth] = {}


def health_of(base_url: str) -> CollectorHealth:
    """The process-wide CollectorHealth of the collector at `base_url`."""
    key = collector_key(base_url)
    with _lock:
        health = _by_collector.get(key)
        if health is None:
            health = _by_collector[key] = CollectorHealth(base_url.rstrip("/"))
        return health
