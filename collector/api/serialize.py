"""JSON bodies in and out of the Runs API.

Responses are compact JSON; JSON columns (attributes) are embedded as objects, not strings.
Requests must be JSON objects with an application/json content type.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from typing import Any

from aiohttp import web
from kate.collector.errors import BadRequest, UnsupportedMediaType
from kate.collector.json_body import parse_json_object

_JSON_TYPES = ("application/json", "")


def json_response(body: Any, *, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    text = json.dumps(body, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    return web.Response(text=text, status=status, content_type="application/json", headers=headers)


def span_objects(names: Sequence[str], rows: Iterable[Sequence[Any]]) -> list[dict[str, Any]]:
    """Rows of api_spans as JSON objects in column order, the attributes JSON text as an object."""
    attributes = names.index("attributes")
    objects = []
    for row in rows:
        span = dict(zip(names, row, strict=True))
        if isinstance(row[attributes], str):
            span["attributes"] = json.loads(row[attributes])
        objects.append(span)
    return objects


async def read_json_object(request: web.Request, *, optional: bool = False) -> dict[str, Any]:
    """The request body as a JSON object; {} for an empty body when optional."""
    raw = await read_json_bytes(request, optional=optional)
    return parse_json_object(raw) if raw.strip() else {}


async def read_json_bytes(request: web.Request, *, optional: bool = False) -> bytes:
    """The body of a JSON request, unparsed (parse_json_object() parses it, here or in a decode
    worker); empty only when optional. UnsupportedMediaType for a non-JSON Content-Type."""
    try:
        raw = await request.read()
    except web.RequestPayloadError as exc:  # aiohttp could not inflate (or finish reading) the body
        raise BadRequest(f"request body cannot be read: {' '.join(str(exc).split())}") from None
    if optional and not raw.strip():
        return b""
    content_type = request.content_type if request.headers.get("Content-Type") else ""
    if content_type not in _JSON_TYPES and not content_type.endswith("+json"):
        raise UnsupportedMediaType(f"Content-Type must be application/json, got {content_type}")
    if not raw.strip():
        raise BadRequest("request body is empty; expected a JSON object")
    return raw
