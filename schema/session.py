"""Session and user ids of a span (docs/mapping.md#sessions-and-users): OpenInference
`session.id`/`user.id`, OTel GenAI `gen_ai.conversation.id`, Traceloop association properties,
Langfuse's own keys.

Owns the precedence of those keys and the length cap. Pure and total.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import NamedTuple

from kate.schema.attributes import first_text
from kate.schema.record import AttributeValue

SESSION_KEYS = (
    "session.id",
    "gen_ai.conversation.id",
    "traceloop.association.properties.session_id",
    "langfuse.session.id",
)
USER_KEYS = (
    "user.id",
    "traceloop.association.properties.user_id",
    "langfuse.user.id",
    "enduser.id",
)
SESSION_AND_USER_KEYS = (*SESSION_KEYS, *USER_KEYS)
MAX_ID_CHARS = 256  # longer ids are cut: they name a session, they are not content


class SessionIds(NamedTuple):
    session_id: str | None
    user_id: str | None
    consumed: tuple[str, ...]


NO_SESSION = SessionIds(None, None, ())


def read_session(attrs: Mapping[str, AttributeValue]) -> SessionIds:
    """The first non-blank session and user id, stripped and capped; the keys they came from."""
    session = first_text(attrs, SESSION_KEYS)
    user = first_text(attrs, USER_KEYS)
    if session is None and user is None:
        return NO_SESSION
    return SessionIds(
        capped_id(session[1]) if session else None,
        capped_id(user[1]) if user else None,
        tuple(found[0] for found in (session, user) if found),
    )


def capped_id(text: str) -> str:
    return text.strip()[:MAX_ID_CHARS]
