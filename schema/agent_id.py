"""Agent ids: the one rule every path applies (Runs API paths, OTLP/HTTP, OTLP/gRPC, hosted agents).

Pure: no I/O. An agent id is 1 to 256 printable characters, so that no id can carry a line
break or a terminal escape into a log line, a file name or a header.
"""

from __future__ import annotations

from collections.abc import Mapping

MAX_AGENT_ID_CHARS = 256
AGENT_ID_RULE = f"must be 1 to {MAX_AGENT_ID_CHARS} printable characters (no control characters or line breaks)"
AGENT_KEY = "kate.agent.id"
SERVICE_KEY = "service.name"
UNKNOWN_AGENT = "unknown_service"  # the OTel SDK's own fallback service name, unsuffixed
_SHOWN_CHARS = 40


def agent_id_problem(agent_id: str) -> str | None:
    """Why agent_id is not a valid agent id (AGENT_ID_RULE), or None when it is."""
    if not agent_id or len(agent_id) > MAX_AGENT_ID_CHARS or not agent_id.isprintable():
        return AGENT_ID_RULE
    return None


def resource_agent_id(resource: Mapping[str, object]) -> tuple[str, str | None]:
    """docs/mapping.md#agents-and-runs: (agent id, the resource key it came from): kate.agent.id, else service.name,
    stripped and capped at MAX_AGENT_ID_CHARS; (UNKNOWN_AGENT, None) when neither is text."""
    for key in (AGENT_KEY, SERVICE_KEY):
        value = resource.get(key)
        if isinstance(value, str) and value.strip():
            return value.strip()[:MAX_AGENT_ID_CHARS], key
    return UNKNOWN_AGENT, None


def resource_agent_problem(resource: Mapping[str, object]) -> str | None:
    """Why the agent id of an OTLP resource is refused, naming the key and showing the value
    escaped (repr), or None when it is valid."""
    agent_id, key = resource_agent_id(resource)
    if key is None or agent_id_problem(agent_id) is None:
        return None
    shown = repr(agent_id[:_SHOWN_CHARS]) + ("..." if len(agent_id) > _SHOWN_CHARS else "")
    return f"agent id (resource {key}) {AGENT_ID_RULE}, got {shown}"
