"""Request bodies that must be one JSON object: parsed with errors that say what is wrong.

Pure (no aiohttp), so a decode worker process can parse a large body off the event loop.
"""

from __future__ import annotations

import json
import re
from typing import Any

from kate.collector.errors import BadRequest

# A \uD800-\uDFFF escape: json.loads turns an unpaired one into a lone surrogate, which is not
# Unicode and cannot be stored (DuckDB refuses to encode it as UTF-8).
_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F]")


def parse_json_object(raw: bytes) -> dict[str, Any]:
    """raw as a JSON object; BadRequest naming the problem otherwise."""
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
