"""HTTP access control: every request but the public probes carries a valid API key.

The middleware resolves the caller's Principal once and checks the {agent_id} of the path;
handlers that learn agent ids from the body (OTLP, jobs) call principal(request).require_agent.
"""

from __future__ import annotations

from aiohttp import web
from kate.collector.auth import Authenticator, Principal, credential_from_headers
from kate.collector.middleware import Handler

PUBLIC_PATHS = frozenset({"/healthz", "/readyz", "/metrics", "/openapi.json"})  # nothing per agent
PUBLIC_PREFIXES = ("/ui/",)  # the web UI's static files: no data; its API calls carry the key
AUTHENTICATOR_KEY = web.AppKey("kate_authenticator", Authenticator)
_PRINCIPAL = web.RequestKey("kate_principal", Principal)


def principal(request: web.Request) -> Principal:
    """The authenticated caller of this request (set by access_middleware)."""
    try:
        return request[_PRINCIPAL]
    except KeyError:
        raise RuntimeError("access_middleware did not run for this request") from None


@web.middleware
async def access_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    if request.path in PUBLIC_PATHS or request.path in ("/", "/ui") or request.path.startswith(PUBLIC_PREFIXES):
        return await handler(request)
    authenticator = request.app[AUTHENTICATOR_KEY]
    credential = credential_from_headers(request.headers.get("Authorization"), request.headers.get("X-API-Key"))
    caller = authenticator.authenticate(credential)
    request[_PRINCIPAL] = caller
    agent_id = request.match_info.get("agent_id")
    if agent_id is not None:
        caller.require_agent(agent_id)
    if request.path in ("/sql", "/sql/tables"):
        caller.require_unrestricted("the SQL endpoint")
    return await handler(request)
