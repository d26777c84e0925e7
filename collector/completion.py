"""What happens when a run completes, whichever path completed it (API, OTLP root span, worker).

Listeners take part in the very transaction that completes the runs: what they write (the
evaluation admission: pending or skipped_cooldown) commits with the completion or not at all,
so a completed run already says whether it will be evaluated, a crash cannot leave a completed
run never admitted, and completing costs no second commit. Each listener returns what to do
on the event loop once that transaction has committed (start background work there).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, NamedTuple, Protocol

if TYPE_CHECKING:
    from kate.collector.store.interfaces import WriteScope

logger = logging.getLogger(__name__)

AfterCommit = Callable[[], None]


class CompletedRun(NamedTuple):
    agent_id: str
    run_id: str


class CompletionListener(Protocol):
    def in_transaction(self, scope: WriteScope, runs: Sequence[CompletedRun]) -> AfterCommit | None:
        """Called in the writer, inside the transaction that completes runs; may write through the store with scope.
        Raising fails that transaction. Returns what to run on the event loop after COMMIT."""


class FollowUps:
    """The listeners' after-commit actions of one transaction; run() once it has committed."""

    def __init__(self, actions: Sequence[AfterCommit] = ()) -> None:
        self._actions = tuple(actions)

    def run(self) -> None:
        for action in self._actions:
            try:
                action()
            except Exception:  # listener boundary: the completion itself already committed
                logger.exception("a run-completion follow-up failed")


NO_FOLLOW_UPS = FollowUps()


class CompletionHub:
    """Fan-out of run completions to listeners, inside the completing transaction."""

    def __init__(self) -> None:
        self._listeners: list[CompletionListener] = []

    def subscribe(self, listener: CompletionListener) -> None:
        self._listeners.append(listener)

    def in_transaction(self, scope: WriteScope, runs: Sequence[CompletedRun]) -> FollowUps:
        """Let every listener write its part for runs that this transaction completes."""
        if not runs:
            return NO_FOLLOW_UPS
        for run in runs:
            logger.debug("run %s of agent %s completed", run.run_id, run.agent_id)
        actions = [listener.in_transaction(scope, runs) for listener in self._listeners]
        return FollowUps([action for action in actions if action is not None])
