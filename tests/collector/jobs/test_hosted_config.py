"""The jobs and hosted_agents sections: defaults, the shipped example, and errors naming the path."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from kate.collector.config import ConfigError, load_config
from kate.collector.jobs.examples import content_strategist

REPO_CONFIG = Path(__file__).resolve().parents[3] / "config.yaml"


def load(tree: dict, tmp_path: Path) -> object:
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(tree), encoding="utf-8")
    return load_config(path)


def test_the_shipped_config_hosts_the_offline_example_agent() -> None:
    config = load_config(REPO_CONFIG)
    (agent,) = config.hosted_agents
    assert agent.entrypoint == "kate.collector.jobs.examples:content_strategist"
    assert content_strategist("AI in healthcare").startswith("Content strategy: AI in healthcare\n1. ")


@pytest.mark.parametrize(("tree", "message"), [
    ({"hosted_agents": [{"agent_id": "a"}]}, "hosted_agents[0].entrypoint is required"),
    ({"hosted_agents": [{"agent_id": "a", "entrypoint": "no-colon"}]}, "hosted_agents[0].entrypoint must be"),
    ({"hosted_agents": [{"agent_id": "a", "entrypoint": "m:f", "max_attempts": 0}]}, "hosted_agents[0].max_attempts must be positive"),
    ({"hosted_agents": [{"agent_id": "a", "entrypoint": "m:f"}, {"agent_id": "a", "entrypoint": "m:g"}]},
     "hosted_agents[1].agent_id 'a' is declared twice"),
    ({"hosted_agents": [{"agent_id": "a", "entrypoint": "m:f", "retries": 2}]}, "unknown configuration key hosted_agents[0].retries"),
    ({"jobs": {"lease_s": 0}}, "jobs.lease_s must be positive"),
    ({"evaluation": {"cooldown_s_by_agent": {"w": -1}}}, "evaluation.cooldown_s_by_agent.w must be 0 or more"),
    ({"evaluation": {"llm_judge": {"api_key": "sk-in-the-file"}}}, "unknown configuration key evaluation.llm_judge.api_key"),
    ({"evaluation": {"llm_judge": {"enabled": True, "api_key_env": "KATE_TEST_UNSET_KEY"}}},
     "names KATE_TEST_UNSET_KEY, which is not set"),
])
def test_mistakes_are_refused_naming_the_dotted_path(tree: dict, message: str, tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as raised:
        load(tree, tmp_path)
    assert message in str(raised.value)
