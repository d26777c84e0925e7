"""HTTP for the client: aiohttp for the async Client; stdlib http.client for the exporter and sync facade.

Both send the same `Call`s and turn error answers into the same exceptions. No retries here.
"""

from __future__ import annotations

import http.client
import json
import os
import threading
from collections.abc import Mapping
from typing import Any, TypeVar
from urllib.parse import urlencode, urlsplit

import aiohttp
from kate.exporter._errors import KateError, TransportError, error_from_response
from kate.exporter._operations import Call
from yarl import URL

T = TypeVar("T")
USER_AGENT = "kate-exporter/0.1.0"
DEFAULT_ENDPOINT = "http://127.0.0.1:4318"  # the collector's default HTTP address (docs/configuration.md#server)


def _headers(api_key: str | None) -> dict[str, str]:
    headers = {"Accept": "application/json", "Content-Type": "application/json", "User-Agent": USER_AGENT}
    if api_key:
        headers["Authorization"] = f"Bearer {api_key}"
    return headers


def _target(path_prefix: str, call: Call[Any]) -> str:
    query = f"?{urlencode(call.query)}" if call.query else ""
    return f"{path_prefix}{call.path}{query}"


def encode_body(body: Mapping[str, Any] | None) -> bytes | None:
    """Compact UTF-8 JSON; NaN and infinity are refused (ValueError): they are not JSON."""
    if body is None:
        return None
    return json.dumps(body, ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode("utf-8")


def decode_answer(call: Call[T], status: int, body: bytes, headers: Mapping[str, str]) -> T:
    """The parsed result of a 2xx answer; the matching KateError for anything else."""
    if status >= 400 or status < 200:
        raise error_from_response(status, body, headers)
    try:
        data = json.loads(body) if body.strip() else {}
    except ValueError:
        raise KateError(
            f"{call.method} {call.path}: answer is not JSON", code="invalid_response", status=status
        ) from None
    if not isinstance(data, dict):
        raise KateError(
            f"{call.method} {call.path}: answer is not a JSON object", code="invalid_response", status=status
        )
    return call.parse(data)


class AsyncTransport:
    """One aiohttp session, opened on first use inside the running event loop."""

    def __init__(self, base_url: str, api_key: str | None, timeout: float) -> None:
        self._base_url = base_url.rstrip("/")
        self._headers = _headers(api_key)
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        self._session: aiohttp.ClientSession | None = None

    async def send(self, call: Call[T]) -> T:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(headers=self._headers, timeout=self._timeout)
        url = URL(self._base_url + _target("", call), encoded=True)
        try:
            async with self._session.request(call.method, url, data=encode_body(call.body)) as response:
                body = await response.read()
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise TransportError(f"{call.method} {self._base_url}{call.path}: {exc!r}") from exc
        return decode_answer(call, response.status, body, response.headers)

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None


class SyncTransport:
    """One keep-alive http.client connection, serialised by a lock; safe across os.fork()."""

    def __init__(self, base_url: str, api_key: str | None, timeout: float) -> None:
        parts = urlsplit(base_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"endpoint must be an http:// or https:// URL, got {base_url!r}")
        self._https = parts.scheme == "https"
        self._host, self._port = parts.hostname, parts.port
        self._path_prefix = parts.path.rstrip("/")
        self._headers = _headers(api_key)
        self._timeout = timeout
        self._lock = threading.Lock()
        self._connection: http.client.HTTPConnection | None = None
        self._pid = os.getpid()

    def send(self, call: Call[T], timeout: float | None = None) -> T:
        """Send one call; `timeout` (seconds) bounds connect and each socket read."""
        status, headers, body = self._request(
            call.method, _target(self._path_prefix, call), encode_body(call.body), timeout or self._timeout
        )
        return decode_answer(call, status, body, headers)

    def close(self) -> None:
        with self._lock:
            self._drop()

    def _request(
        self, method: str, target: str, body: bytes | None, timeout: float
    ) -> tuple[int, dict[str, str], bytes]:
        if self._pid != os.getpid():  # a forked child: never share the parent's socket or lock
            self._lock, self._connection, self._pid = threading.Lock(), None, os.getpid()
        with self._lock:
            for attempt in range(2):
                reused = self._connection is not None
                connection = self._connected(timeout)
                try:
                    connection.request(method, target, body=body, headers=self._headers)
                    response = connection.getresponse()
                    data = response.read()
                except (OSError, http.client.HTTPException) as exc:
                    self._drop()
                    # A kept-alive connection the server closed fails at once: one fresh retry.
                    if reused and attempt == 0 and not isinstance(exc, TimeoutError):
                        continue
                    raise TransportError(f"{method} {self._host}:{self._port}{target}: {exc!r}") from exc
                if response.will_close:
                    self._drop()
                return response.status, dict(response.headers.items()), data
        raise AssertionError("unreachable")

    def _connected(self, timeout: float) -> http.client.HTTPConnection:
        if self._connection is None:
            cls = http.client.HTTPSConnection if self._https else http.client.HTTPConnection
            self._connection = cls(self._host, self._port, timeout=timeout)
        else:
            self._connection.timeout = timeout
            if self._connection.sock is not None:
                self._connection.sock.settimeout(timeout)
        return self._connection

    def _drop(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None
