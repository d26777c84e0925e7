"""The cooldown rule of automatic evaluation (docs/evaluation.md): one evaluation per agent per cooldown.

A completed run is evaluated automatically only when the agent's last evaluation was admitted
at least cooldown_s ago (per-agent overrides in config). The clock lives in the store
(table evaluation_clock), so a restart does not reset it; this module only decides.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from kate.collector.completion import CompletedRun


@dataclass(frozen=True, slots=True)
class CooldownPolicy:
    default_s: float = 60.0
    by_agent: Mapping[str, float] = field(default_factory=dict)

    def cooldown_s(self, agent_id: str) -> float:
        return self.by_agent.get(agent_id, self.default_s)

    def allows(self, agent_id: str, last_requested_at: dt.datetime | None, now: dt.datetime) -> bool:
        """True when the agent has no evaluation yet, or its last one is at least cooldown_s old.

        A clock that went backwards (last in the future) counts as inside the cooldown.
        """
        cooldown_s = self.cooldown_s(agent_id)
        if last_requested_at is None or cooldown_s <= 0:
            return True
        return (now - last_requested_at).total_seconds() >= cooldown_s

    def admit(self, runs: Sequence[CompletedRun], last: dict[str, dt.datetime | None],
              now: dt.datetime) -> tuple[list[CompletedRun], list[CompletedRun]]:
        """Runs completed together, split into (admitted, skipped by cooldown) given each agent's
        last admission: runs of one agent share its clock, so with a cooldown only the first of
        them is admitted. `last` is moved for the admitted ones (skips do not move a clock)."""
        admitted: list[CompletedRun] = []
        skipped: list[CompletedRun] = []
        for run in runs:
            if self.allows(run.agent_id, last[run.agent_id], now):
                admitted.append(run)
                last[run.agent_id] = now
            else:
                skipped.append(run)
        return admitted, skipped

