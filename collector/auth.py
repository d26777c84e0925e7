"""API keys (docs/configuration.md#auth): hashed in config, compared in constant time, optionally per agent.

Pure logic shared by the HTTP middleware and the gRPC receiver. Keys themselves are never
stored or logged; only their SHA-256 appears in config. With no keys configured every caller
is the anonymous principal with access to all agents.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass

from kate.collector.config import AuthConfig
from kate.collector.errors import Forbidden, Unauthorized

KEY_PREFIX = "kate_"


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling: a key's name and the agents it may touch (None = every agent)."""

    name: str
    agents: frozenset[str] | None

    @property
    def unrestricted(self) -> bool:
        return self.agents is None

    def allows(self, agent_id: str) -> bool:
        return self.agents is None or agent_id in self.agents

    def require_agent(self, agent_id: str) -> None:
        if not self.allows(agent_id):
            raise Forbidden(f"API key {self.name!r} may not access agent {agent_id!r}")

    def require_unrestricted(self, what: str) -> None:
        if not self.unrestricted:
            raise Forbidden(f"API key {self.name!r} is limited to some agents and may not use {what}")


ANONYMOUS = Principal(name="anonymous", agents=None)


def hash_key(key: str) -> str:
    """The SHA-256 hex digest that config stores for a key (keys are random, so no salt)."""
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def new_key() -> str:
    return KEY_PREFIX + secrets.token_urlsafe(32)


class Authenticator:
    def __init__(self, config: AuthConfig) -> None:
        self._keys = [(bytes.fromhex(key.sha256), key) for key in config.keys]

    @property
    def enabled(self) -> bool:
        return bool(self._keys)

    def authenticate(self, credential: str | None) -> Principal:
        """The principal for a presented key; Unauthorized when keys are on and it matches none."""
        if not self._keys:
            return ANONYMOUS
        if not credential:
            raise Unauthorized("an API key is required: send Authorization: Bearer <key>")
        digest = hashlib.sha256(credential.encode("utf-8")).digest()
        found = None
        for stored, key in self._keys:  # compare against every key: timing reveals nothing
            if hmac.compare_digest(stored, digest):
                found = key
        if found is None:
            raise Unauthorized("the API key is not valid")
        return Principal(found.name, frozenset(found.agents) if found.agents else None)


def credential_from_headers(authorization: str | None, api_key: str | None) -> str | None:
    """The key from `Authorization: Bearer <key>` (OTLP exporters' header) or `X-API-Key`."""
    if authorization:
        scheme, _, value = authorization.strip().partition(" ")
        return value.strip() if scheme.lower() == "bearer" else None
    return api_key.strip() if api_key else None
