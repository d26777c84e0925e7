"""What a browser may do with the HTTP port: the Host it addressed (DNS rebinding), its Origin
(cross-site requests), CORS preflights, and the media type of every request body.

One middleware, wired between error rendering and access control so that a refused request
never reaches a handler; it raises KateErrors and never reads a body.
"""

from __future__ import annotations

import ipaddress
import urllib.parse
from dataclasses import dataclass

from aiohttp import web
from kate.collector.config import ServerConfig, is_loopback
from kate.collector.errors import HostNotAllowed, OriginNotAllowed, UnsupportedMediaType
from kate.collector.ingest.wire import media_type
from kate.collector.middleware import Handler

# Probes answer any Host and Origin: Kubernetes sends the pod IP as Host, and none of them
# holds agent data or changes anything.
PROBE_PATHS = frozenset({"/healthz", "/readyz", "/metrics"})
OTLP_PREFIX = "/v1/"
_BODILESS_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
_DEFAULT_PORTS = {"http": 80, "https": 443}
_CORS_ORIGIN = web.RequestKey("kate_cors_origin", str)
_SHOWN_CHARS = 200
# What a page of an allowed origin may send and read (OTLP exporters in browsers send Content-Encoding).
PREFLIGHT_HEADERS = {
    "Access-Control-Allow-Methods": "GET, POST",
    "Access-Control-Allow-Headers": "Authorization, X-API-Key, Content-Type, Content-Encoding",
    "Access-Control-Max-Age": "600",
}
EXPOSED_HEADERS = "Location, Retry-After, X-RateLimit-Limit, X-RateLimit-Remaining, X-RateLimit-Reset"


@dataclass(frozen=True, slots=True)
class RequestGuard:
    """The names this collector answers to (None: any) and the foreign origins it serves."""

    allowed_hosts: frozenset[str] | None
    allowed_origins: frozenset[str]

    @classmethod
    def from_config(cls, server: ServerConfig, *, keys_required: bool) -> RequestGuard:
        """Host is checked on loopback, without API keys, or when allowed_hosts lists names;
        a collector beyond loopback with keys answers any name (a rebound page has no key)."""
        listed = {host.lower() for host in server.allowed_hosts}
        checked = bool(listed) or is_loopback(server.host) or not keys_required
        hosts = None if "*" in listed or not checked else frozenset({"localhost", server.host.lower(), *listed})
        origins = frozenset(filter(None, (normalise_origin(origin) for origin in server.allowed_origins)))
        return cls(hosts, origins)

    def check_host(self, host_header: str | None) -> None:
        """HostNotAllowed unless the Host names this collector (IP literals always do)."""
        if self.allowed_hosts is None or host_header is None:  # HTTP/1.0 sends no Host: no browser
            return
        name = host_name(host_header)
        if name in self.allowed_hosts or _is_ip(name):
            return
        shown = host_header[:_SHOWN_CHARS]
        raise HostNotAllowed(f"Host {shown!r} is not a name of this collector; list it in server.allowed_hosts "
                             "to answer it (requests to other names are refused against DNS rebinding)")

    def check_origin(self, origin: str, own_origin: str | None) -> bool:
        """True for a listed foreign origin (it gets CORS headers), False for the collector's
        own; OriginNotAllowed for any other."""
        normalised = normalise_origin(origin)
        if normalised is not None and normalised == own_origin:
            return False
        if normalised in self.allowed_origins:
            return True
        shown = origin[:_SHOWN_CHARS]
        raise OriginNotAllowed(f"Origin {shown} is not allowed: browser requests must come from the collector's own "
                               "origin or one listed in server.allowed_origins")


GUARD_KEY = web.AppKey("kate_request_guard", RequestGuard)


@web.middleware
async def request_guard_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    if request.path in PROBE_PATHS:
        return await handler(request)
    guard = request.app[GUARD_KEY]
    guard.check_host(request.headers.get("Host"))
    origin = request.headers.get("Origin")
    if origin is not None and guard.check_origin(origin, own_origin(request)):
        request[_CORS_ORIGIN] = origin
    if origin is not None and request.method == "OPTIONS" and "Access-Control-Request-Method" in request.headers:
        return web.Response(status=204, headers=PREFLIGHT_HEADERS)  # CORS headers added on prepare
    _check_media_type(request)
    return await handler(request)


async def add_cors_headers(request: web.Request, response: web.StreamResponse) -> None:
    """on_response_prepare: let a listed origin's page read the answer, errors included."""
    origin = request.get(_CORS_ORIGIN)
    if origin is None:
        return
    response.headers["Access-Control-Allow-Origin"] = origin
    response.headers["Access-Control-Expose-Headers"] = EXPOSED_HEADERS
    response.headers.add("Vary", "Origin")


def _check_media_type(request: web.Request) -> None:
    """A body on a route must be JSON (OTLP routes: protobuf or JSON): a page of any site may
    send text/plain, form or bodies without a type with no preflight, JSON only after one."""
    if request.method in _BODILESS_METHODS or not request.body_exists:
        return  # `curl -X POST .../complete` (no body) keeps working whatever its type
    if request.match_info.http_exception is not None:
        return  # no such route or method: the router's 404/405 says more
    given = request.headers.get("Content-Type")
    if request.path.startswith(OTLP_PREFIX):
        media_type(given or "")  # OTLP's rule and wording (the Collector's): protobuf or JSON
        return
    essence = (given or "").split(";", 1)[0].strip().lower()
    if essence == "application/json" or (essence.startswith("application/") and essence.endswith("+json")):
        return
    got = repr(given[:_SHOWN_CHARS]) if given else "none"
    raise UnsupportedMediaType(f"Content-Type must be application/json for a request with a body, got {got}")


def own_origin(request: web.Request) -> str | None:
    """The origin the request was addressed to (scheme://Host), normalised; None without Host."""
    host = request.headers.get("Host")
    return normalise_origin(f"{request.scheme}://{host}") if host else None


def normalise_origin(origin: str) -> str | None:
    """scheme://host[:port] lowercased, without the scheme's default port; None if not an origin."""
    parts = urllib.parse.urlsplit(origin.strip())
    try:
        port = parts.port
    except ValueError:
        return None
    if parts.scheme not in _DEFAULT_PORTS or not parts.hostname:
        return None
    host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
    shown_port = "" if port in (None, _DEFAULT_PORTS[parts.scheme]) else f":{port}"
    return f"{parts.scheme}://{host}{shown_port}"


def host_name(host_header: str) -> str:
    """The name of a Host header without its port or IPv6 brackets, lowercased."""
    text = host_header.strip().lower()
    if text.startswith("["):
        return text[1:].split("]", 1)[0]
    name, colon, port = text.rpartition(":")
    return (name if colon and port.isdigit() else text).rstrip(".")


def _is_ip(name: str) -> bool:
    # An address cannot be rebound: a page whose Host is an IP literal was served from that address.
    try:
        ipaddress.ip_address(name)
    except ValueError:
        return False
    return True
