"""JSON bodies in and out of the Runs API.

Responses are compact JSON; JSON columns (attributes) are embedded as objects, not strings.
Requests must be JSON objects with an application/json content type.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence
from typing import Any

from aiohttp import web

from kate.collector.errors import BadRequest, UnsupportedMediaType

_JSON_TYPES = ("application/json", "")
# A \uD800-\uDFFF escape: json.loads turns an unpaired one into a lone surrogate, which is not
# Unicode and cannot be stored (DuckDB refuses to encode it as UTF-8).
_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F]")


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
    try:
        raw = await request.read()
    except web.RequestPayloadError as exc:  # aiohttp could not inflate (or finish reading) the body
        raise BadRequest(f"request body cannot be read: {' '.join(str(exc).split())}") from None
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
    except RecursionError:  # deeper nesting than Python's recursion limit: hostile, not a bug of ours
        raise BadRequest("request body is nested too deeply") from None
    if not isinstance(body, dict):
        raise BadRequest(f"request body must be a JSON object, got {type(body).__name__}")
    if _SURROGATE_ESCAPE.search(raw):  # rare, so the walk only happens then
        _refuse_lone_surrogates(body)
    return body


def _refuse_lone_surrogates(document: Any) -> None:
    """BadRequest naming a string (key or value) with an unpaired UTF-16 surrogate, if any."""
    pending: list[tuple[str, Any]] = [("body", document)]
    while pending:  # iterative: the nesting may be close to the recursion limit
        path, value = pending.pop()
        if isinstance(value, dict):
            for key, item in value.items():
                _check_text(key, path, "has a key that")
                pending.append((f"{path}.{key[:64]}", item))
        elif isinstance(value, list):
            pending.extend((f"{path}[{index}]", item) for index, item in enumerate(value))
        elif isinstance(value, str):
            _check_text(value, path, "")


def _check_text(text: str, path: str, which: str) -> None:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        msg = f"{which} contains an unpaired UTF-16 surrogate escape (\\uD800-\\uDFFF); text must be valid Unicode"
        msg = msg.strip()
        raise BadRequest(f"{path} {msg}", details=[{"field": path, "message": msg}]) from None
