"""The runs that run contexts of this process own, per collector, so the exporter never races them.

A run context claims its run before creating it; the exporter then neither creates it a second
time (no `409 run_exists` noise) nor completes it (the context does). Bounded; no I/O.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass

from kate.exporter._transport import collector_key

_MAX_RUNS = 10_000


@dataclass(slots=True)
class OwnedRun:
    """A run context's run: its trigger, and whether the collector is known to hold it."""

    trigger: str
    created: bool = False


_lock = threading.Lock()
_runs: OrderedDict[tuple[str, str], OwnedRun] = OrderedDict()


def claim(base_url: str, run_id: str, trigger: str) -> None:
    """A run context is about to create `run_id` with `trigger`."""
    with _lock:
        _runs[(collector_key(base_url), run_id)] = OwnedRun(trigger)
        while len(_runs) > _MAX_RUNS:
            _runs.popitem(last=False)


def mark_created(base_url: str, run_id: str) -> None:
    """The collector answered that it holds the owned run `run_id` (created, or it existed)."""
    with _lock:
        owned = _runs.get((collector_key(base_url), run_id))
        if owned is not None:
            owned.created = True


def find(base_url: str, run_id: str) -> OwnedRun | None:
    """The claim on `run_id` at this collector, or None when no run context owns it."""
    with _lock:
        owned = _runs.get((collector_key(base_url), run_id))
        return None if owned is None else OwnedRun(owned.trigger, owned.created)
