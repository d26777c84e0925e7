"""Path and query parameters of the Runs API, parsed and validated in one place.

Each parser raises ValidationError (422) or BadRequest (400) naming the parameter; handlers
receive typed values only.
"""

from __future__ import annotations

import datetime as dt
import enum
import uuid
from typing import TypeVar

from aiohttp import web
from kate.collector.errors import BadRequest, NotFound, ValidationError
from kate.collector.timefmt import parse_rfc3339_naive_utc
from kate.schema.agent_id import agent_id_problem
from kate.schema.session import MAX_ID_CHARS

E = TypeVar("E", bound=enum.Enum)


def agent_id(request: web.Request) -> str:
    """The {agent_id} path segment: 1..256 printable characters (kate.schema.agent_id, as OTLP)."""
    value = request.match_info["agent_id"]
    problem = agent_id_problem(value)
    if problem:
        raise ValidationError.for_field("agent_id", problem)
    return value


MAX_RUN_ID_CHARS = 128


def run_id(request: web.Request) -> str:
    """The {run_id} path segment: a UUID in canonical form, or as given for the non-UUID ids an
    OTLP sender may set with `kate.run.id` (docs/mapping.md#agents-and-runs); anything else cannot name a run: 404."""
    raw = request.match_info["run_id"]
    canonical = canonical_uuid(raw)
    if canonical is not None:
        return canonical
    if len(raw) > MAX_RUN_ID_CHARS or not raw.isprintable():
        raise NotFound(f"run {raw[:64]!r} not found")
    return raw


def session_id(request: web.Request) -> str:
    """The {session_id} path segment: an id as spans and runs carry it; anything else names no session: 404."""
    raw = request.match_info["session_id"]
    if id_problem(raw) is not None:
        raise NotFound(f"session {raw[:64]!r} not found")
    return raw


def id_problem(value: object) -> str | None:
    """Why value cannot be a session or user id (docs/api.md#sessions), or None."""
    if not isinstance(value, str):
        return f"must be a string, got {type(value).__name__}"
    if not value.strip() or value != value.strip():
        return "must be non-blank, without leading or trailing spaces"
    if len(value) > MAX_ID_CHARS or not value.isprintable():
        return f"must be at most {MAX_ID_CHARS} printable characters"
    return None


def canonical_uuid(text: str) -> str | None:
    """Lowercase hyphenated form of a UUID string, or None if text is not one."""
    if len(text) > 45:
        return None
    try:
        return str(uuid.UUID(text))
    except ValueError:
        return None


def limit(request: web.Request, *, default: int, maximum: int) -> int:
    raw = request.query.get("limit")
    if raw is None:
        return default
    if not raw.isdigit() or not 1 <= int(raw) <= maximum:
        raise BadRequest(f"limit must be an integer from 1 to {maximum}, got {raw[:20]!r}",
                         details=[{"field": "limit", "message": f"must be 1..{maximum}"}])
    return int(raw)


def cursor(request: web.Request) -> str | None:
    value = request.query.get("cursor")
    return value or None


def choice(request: web.Request, name: str, enum_type: type[E]) -> E | None:
    raw = request.query.get(name)
    if raw is None or raw == "":
        return None
    try:
        return enum_type(raw)
    except ValueError:
        allowed = ", ".join(str(member.value) for member in enum_type)
        raise BadRequest(f"{name} must be one of {allowed}, got {raw[:40]!r}",
                         details=[{"field": name, "message": f"must be one of {allowed}"}]) from None


def timestamp(request: web.Request, name: str) -> dt.datetime | None:
    raw = request.query.get(name)
    if raw is None or raw == "":
        return None
    try:
        return parse_rfc3339_naive_utc(raw)
    except ValueError as exc:
        raise BadRequest(f"{name} {exc}", details=[{"field": name, "message": str(exc)}]) from None


MAX_SEARCH_CHARS = 200


def search_text(request: web.Request, name: str) -> str | None:
    """A free-text search term: 1..200 characters, or None when absent or empty."""
    raw = request.query.get(name)
    if not raw:
        return None
    if len(raw) > MAX_SEARCH_CHARS:
        raise BadRequest(f"{name} must be at most {MAX_SEARCH_CHARS} characters, got {len(raw)}",
                         details=[{"field": name, "message": f"at most {MAX_SEARCH_CHARS} characters"}])
    return raw
