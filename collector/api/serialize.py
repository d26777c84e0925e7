"""JSON bodies in and out of the Runs API.

Responses are compact JSON; JSON columns (attributes) are embedded as objects, not strings.
Requests must be JSON objects with an application/json content type.
"""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web

from kate.collector.errors import BadRequest, UnsupportedMediaType

_JSON_TYPES = ("application/json", "")


def json_response(body: Any, *, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    text = json.dumps(body, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    return web.Response(text=text, status=status, content_type="application/json", headers=headers)


def span_json(row: dict[str, Any]) -> dict[str, Any]:
    """A span row of api_spans with its attributes JSON text turned into an object."""
    attributes = row.get("attributes")
    if isinstance(attributes, str):
        row["attributes"] = json.loads(attributes)
    return row


async def read_json_object(request: web.Request, *, optional: bool = False) -> dict[str, Any]:
    """The request body as a JSON object; {} for an empty body when optional."""
    raw = await request.read()
    if optional and not raw.strip():
        return {}
    content_type = request.content_type if request.headers.get("Content-Type") else ""
    if content_type not in _JSON_TYPES and not content_type.endswith("+json"):
        raise UnsupportedMediaType(f"Content-Type must be application/json, got {content_type}")
    if not raw.strip():
        raise BadRequest("request body is empty; expected a JSON object")
    try:
        body = json.loads(raw)
    except UnicodeDecodeError:
        raise BadRequest("request body is not valid UTF-8") from None
    except ValueError as exc:
        raise BadRequest(f"request body is not valid JSON: {exc}") from None
    if not isinstance(body, dict):
        raise BadRequest(f"request body must be a JSON object, got {type(body).__name__}")
    return body
