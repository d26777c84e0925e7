"""The `jobs:` and `hosted_agents:` sections of config.yaml as frozen dataclasses, with checks.

Part of the one configuration tree (config.py loads and validates it). Must not import the
agents: an entrypoint is only checked for its `module:attribute` shape here, and imported in
the agent's own process.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from kate.schema.agent_id import agent_id_problem

_ENTRYPOINT = re.compile(r"^[A-Za-z_][\w.]*:[A-Za-z_][\w.]*$")


@dataclass(frozen=True, slots=True)
class JobsConfig:
    worker_enabled: bool = True  # false: enqueue still accepts jobs, but this process runs none
    max_concurrency: int = 4  # agent processes at once over all hosted agents
    lease_s: float = 30.0  # a claimed job is this process's for lease_s; renewed every lease_s / 3
    poll_interval_ms: int = 1000  # an idle worker looks for due jobs this often (enqueue wakes it at once)
    retry_backoff_s: float = 2.0  # attempt n+1 waits retry_backoff_s * 2**(n-1), at most 300 s
    shutdown_grace_s: float = 5.0  # on stop, running agents get this long before they are killed
    python: str = ""  # interpreter of agent processes; "" = the collector's own
    max_input_bytes: int = 1024 * 1024  # user_input of an enqueue above this (UTF-8) answers 413


@dataclass(frozen=True, slots=True)
class HostedAgentConfig:
    agent_id: str
    entrypoint: str  # "package.module:callable", sync or async, taking the user input string
    timeout_s: float = 300.0  # per attempt; the process is killed after it
    max_concurrency: int = 1  # attempts of this agent running at once
    max_attempts: int = 3  # 1 = no retry
    memory_limit_mb: int = 0  # address-space limit of the agent process; 0 = none


def check_jobs(jobs: JobsConfig, agents: tuple[HostedAgentConfig, ...]) -> list[str]:
    """Problems of both sections as messages naming dotted paths; empty when valid."""
    problems = [f"jobs.{name} must be positive" for name, value in (
        ("max_concurrency", jobs.max_concurrency),
        ("lease_s", jobs.lease_s),
        ("poll_interval_ms", jobs.poll_interval_ms),
        ("max_input_bytes", jobs.max_input_bytes),
    ) if value <= 0]
    if jobs.retry_backoff_s < 0 or jobs.shutdown_grace_s < 0:
        problems.append("jobs.retry_backoff_s and jobs.shutdown_grace_s must be 0 or more")
    ids = [agent.agent_id for agent in agents]
    for index, agent in enumerate(agents):
        problems += _check_agent(f"hosted_agents[{index}]", agent)
        if agent.agent_id in ids[:index]:
            problems.append(f"hosted_agents[{index}].agent_id {agent.agent_id!r} is declared twice")
    return problems


def _check_agent(path: str, agent: HostedAgentConfig) -> list[str]:
    problems = []
    agent_problem = agent_id_problem(agent.agent_id)
    if agent_problem:
        problems.append(f"{path}.agent_id {agent_problem}")
    if not _ENTRYPOINT.match(agent.entrypoint):
        problems.append(f"{path}.entrypoint must be 'package.module:callable', got {agent.entrypoint!r}")
    for name, value in (("timeout_s", agent.timeout_s), ("max_concurrency", agent.max_concurrency),
                        ("max_attempts", agent.max_attempts)):
        if value <= 0:
            problems.append(f"{path}.{name} must be positive")
    if agent.memory_limit_mb < 0:
        problems.append(f"{path}.memory_limit_mb must be 0 (no limit) or more")
    return problems
