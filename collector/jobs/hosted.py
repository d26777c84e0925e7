"""The hosted agents declared in config (docs/hosted-agents.md), looked up by agent id.

Owns the question "is this agent hosted, and how": enqueue and the worker ask here. Must not
import the agents' code: that happens only in the agent process (runner.py).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from kate.collector.errors import AgentNotHosted
from kate.collector.jobs.settings import HostedAgentConfig


class HostedAgents:
    def __init__(self, agents: Sequence[HostedAgentConfig]) -> None:
        self._by_id = {agent.agent_id: agent for agent in agents}

    def get(self, agent_id: str) -> HostedAgentConfig:
        """The agent's declaration; AgentNotHosted (404 agent_not_hosted) when there is none."""
        agent = self._by_id.get(agent_id)
        if agent is None:
            raise AgentNotHosted(
                f"agent {agent_id} is not a Kate-hosted agent; declare it under hosted_agents in config.yaml"
            )
        return agent

    def __iter__(self) -> Iterator[HostedAgentConfig]:
        return iter(self._by_id.values())

    def __len__(self) -> int:
        return len(self._by_id)
