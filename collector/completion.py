"""What happens when a run completes, whichever path completed it (API, OTLP root span, worker).

Listeners are awaited before the caller answers, so a completed run already says whether it
will be evaluated (pending or skipped_cooldown); long work belongs in the listener's own tasks.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence

logger = logging.getLogger(__name__)

CompletionListener = Callable[[str, str], Awaitable[None]]  # (agent_id, run_id)


class CompletionHub:
    """Fan-out of run completions to listeners; a failing listener never fails the caller."""

    def __init__(self) -> None:
        self._listeners: list[CompletionListener] = []

    def subscribe(self, listener: CompletionListener) -> None:
        self._listeners.append(listener)

    async def runs_completed(self, agent_id_by_run: Sequence[tuple[str, str]]) -> None:
        for agent_id, run_id in agent_id_by_run:
            logger.info("run %s of agent %s completed", run_id, agent_id)
            for listener in self._listeners:
                try:
                    await listener(agent_id, run_id)
                except Exception:  # listener boundary: completion itself already committed
                    logger.exception("completion listener failed for run %s", run_id)
