"""Python call arguments and results → OpenInference `input.*` / `output.*` span attributes.

Strings stay text/plain; anything else is JSON (application/json) where it can be, else its
repr. Values are capped like the collector caps text. Never raises: tracing must not break calls.
"""

from __future__ import annotations

import dataclasses
import inspect
import json
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from kate.schema.text import DEFAULT_MAX_TEXT_BYTES, cap_text

INPUT_VALUE, INPUT_MIME = "input.value", "input.mime_type"
OUTPUT_VALUE, OUTPUT_MIME = "output.value", "output.mime_type"
TEXT, JSON = "text/plain", "application/json"
_MAX_REPR_CHARS = 1000
_STREAM_ITEM_CHARS = 64  # what a non-text streamed item is assumed to weigh
_ALWAYS_FITS_CHARS = DEFAULT_MAX_TEXT_BYTES // 4  # UTF-8 needs at most 4 bytes a character


class Arguments:
    """How one function's call arguments become a JSON object, computed once per function."""

    def __init__(self, func: Callable[..., Any]) -> None:
        try:
            parameters = list(inspect.signature(func).parameters.values())
        except (TypeError, ValueError):  # builtins without a signature
            parameters = []
        positional = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
        names = tuple(p.name for p in parameters if p.kind in positional)
        self.skip = 1 if names[:1] in (("self",), ("cls",)) else 0  # the receiver is not input
        self.names = names[self.skip :]
        self.rest = next((p.name for p in parameters if p.kind is inspect.Parameter.VAR_POSITIONAL), "args")

    def attributes(self, args: Sequence[Any], kwargs: Mapping[str, Any]) -> dict[str, str]:
        """input.value / input.mime_type: a lone string argument as text, else a JSON object."""
        if self.skip:
            args = args[self.skip :]
        if not kwargs and len(args) == 1 and isinstance(args[0], str):
            return {INPUT_VALUE: cap(args[0]), INPUT_MIME: TEXT}
        bound: dict[str, Any] = dict(zip(self.names, args))  # noqa: B905 - fewer args than names: defaults
        if len(args) > len(self.names):
            bound[self.rest] = list(args[len(self.names) :])
        if kwargs:
            bound.update(kwargs)
        if not bound:
            return {}
        return {INPUT_VALUE: cap(to_json(bound)), INPUT_MIME: JSON}


def output_attributes(result: Any) -> dict[str, str]:
    """output.value / output.mime_type for a return value; nothing for None."""
    if result is None:
        return {}
    if isinstance(result, str):
        return {OUTPUT_VALUE: cap(result), OUTPUT_MIME: TEXT}
    return {OUTPUT_VALUE: cap(to_json(result)), OUTPUT_MIME: JSON}


def to_json(value: Any) -> str:
    """Compact JSON of value; objects JSON does not know become dicts or their repr."""
    try:
        return _encode(value)
    except (TypeError, ValueError, RecursionError):  # circular references, odd keys
        return json.dumps(_short_repr(value), ensure_ascii=False)


def _jsonable(value: Any) -> Any:
    dump = getattr(value, "model_dump", None)  # pydantic v2 models
    if callable(dump):
        return dump(mode="json")
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return dataclasses.asdict(value)
    if isinstance(value, set | frozenset | tuple):
        return list(value)
    if isinstance(value, bytes | bytearray):
        return f"<{len(value)} bytes>"
    return _short_repr(value)


def _compact_encoder() -> Callable[[Any], str]:
    """json's C encoder built once: `JSONEncoder.encode` builds a new one on every call, which is
    most of the cost of encoding a small argument dict. Circular references are not tracked (no
    per-call markers); they end in RecursionError, which to_json turns into the repr."""
    encoder = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), default=_jsonable, check_circular=False)
    make_encoder = getattr(json.encoder, "c_make_encoder", None)
    if make_encoder is None:  # no C accelerator (e.g. PyPy)
        return encoder.encode
    encode_once = make_encoder(
        None, _jsonable, json.encoder.encode_basestring, None, ":", ",", False, False, encoder.allow_nan
    )
    return lambda value: "".join(encode_once(value, 0))


_encode = _compact_encoder()


def _short_repr(value: Any) -> str:
    try:
        text = repr(value)
    except Exception:  # a broken __repr__ must not break the traced call
        text = f"<{type(value).__qualname__}>"
    return text if len(text) <= _MAX_REPR_CHARS else text[:_MAX_REPR_CHARS] + "…"


def cap(text: str) -> str:
    return text if len(text) <= _ALWAYS_FITS_CHARS else cap_text(text)[0]


class Stream:
    """What a generator yielded, kept up to the text cap: joined text, or a JSON list."""

    def __init__(self, max_chars: int = DEFAULT_MAX_TEXT_BYTES) -> None:
        self.items: list[Any] = []
        self.dropped = 0
        self._budget = max_chars

    def add(self, item: Any) -> None:
        if self._budget <= 0:
            self.dropped += 1
            return
        self.items.append(item)
        self._budget -= len(item) if isinstance(item, str) else _STREAM_ITEM_CHARS

    def attributes(self) -> dict[str, str]:
        if not self.items:
            return {}
        marker = [f"…[{self.dropped} more items]"] if self.dropped else []
        if all(isinstance(item, str) for item in self.items):
            return {OUTPUT_VALUE: cap("".join(self.items + marker)), OUTPUT_MIME: TEXT}
        return {OUTPUT_VALUE: cap(to_json(self.items + marker)), OUTPUT_MIME: JSON}
