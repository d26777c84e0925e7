"""The `retention:` section of config.yaml as a frozen dataclass, with its checks.

Part of the one configuration tree (config.py loads and validates it); no I/O here.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from kate.collector.sizes import UNITS, size_bytes

NO_LIMIT = "0"


@dataclass(frozen=True, slots=True)
class RetentionConfig:
    max_age_days: float = 0.0  # finished runs older than this are deleted; 0 keeps them forever
    max_age_days_by_agent: dict[str, float] = field(default_factory=dict)  # per-agent; 0: forever
    max_bytes: str = NO_LIMIT  # e.g. 20GiB: the oldest finished runs go while the data is larger; 0: no cap
    interval_s: float = 300.0  # how often the background pass runs
    slice_runs: int = 200  # runs deleted per write transaction; ingestion's writes go between slices

    @property
    def max_bytes_value(self) -> int:
        if self.max_bytes.strip() == NO_LIMIT:
            return 0
        return size_bytes(self.max_bytes) or 0

    @property
    def enabled(self) -> bool:
        by_agent = any(days > 0 for days in self.max_age_days_by_agent.values())
        return self.max_age_days > 0 or by_agent or self.max_bytes_value > 0

    def max_age_days_of(self, agent_id: str) -> float:
        """The agent's limit in days; 0: its runs are kept forever."""
        return self.max_age_days_by_agent.get(agent_id, self.max_age_days)


def check_retention(config: RetentionConfig) -> list[str]:
    """Problems as messages naming dotted paths; empty when valid."""
    problems = []
    if not (math.isfinite(config.max_age_days) and config.max_age_days >= 0):
        problems.append(f"retention.max_age_days must be 0 (keep forever) or more, got {config.max_age_days}")
    problems += [f"retention.max_age_days_by_agent.{agent} must be 0 (keep forever) or more, got {days}"
                 for agent, days in config.max_age_days_by_agent.items() if not (math.isfinite(days) and days >= 0)]
    if config.max_bytes.strip() != NO_LIMIT and size_bytes(config.max_bytes) is None:
        problems.append(f"retention.max_bytes must be 0 (no cap) or a size: a number and a unit ({UNITS}), "
                        f"e.g. 20GiB; got {config.max_bytes!r}")
    if not (math.isfinite(config.interval_s) and config.interval_s >= 1):
        problems.append(f"retention.interval_s must be at least 1, got {config.interval_s}")
    if not 1 <= config.slice_runs <= 10_000:
        problems.append(f"retention.slice_runs must be 1..10000, got {config.slice_runs}")
    return problems
