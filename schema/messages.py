"""Rendering chat messages and attribute values as readable text (docs/mapping.md#rendering-messages).

Owns the Message shape and how structured content (GenAI parts, OpenAI and Anthropic content
lists, tool calls) becomes text. Pure and total: never raises, never recurses on its own (only
inside a guarded json call), and never emits base64: images and blobs become placeholders.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import NamedTuple

from kate.schema.attributes import BYTES_TYPES, is_data_url

_TEXT_KEYS = ("content", "text")
_TEXT_PARTS = frozenset({"text", "input_text", "output_text"})
_CALL_PARTS = frozenset({"tool_call", "tool_use", "function_call"})
_RESULT_PARTS = frozenset({"tool_call_response", "tool_result", "function_call_output"})
_RESULT_KEYS = ("response", "content", "output", "result")
_MEDIA_PARTS = frozenset({"blob", "uri", "file"})
_MEDIA_WORDS = ("image", "audio", "video")
_GEMINI_MEDIA_KEYS = ("inline_data", "file_data")
_OUTPUT_ROLES = frozenset({"assistant", "model", ""})
_MESSAGE_BODY_KEYS = ("content", "parts", "tool_calls")
_MAX_URL_CHARS = 2048
_JSON_ERRORS = (TypeError, ValueError, RecursionError)


class Message(NamedTuple):
    """One chat message reduced to its role and its rendered text."""

    role: str
    text: str


def render_input(messages: Iterable[Message]) -> str:
    """One `role: text` line per message that has text (docs/mapping.md#rendering-messages)."""
    return "\n".join([f"{m.role}: {m.text}" if m.role else m.text for m in messages if m.text])


def render_output(messages: Iterable[Message]) -> str:
    """Like render_input, but a single assistant message is shown bare (docs/mapping.md#rendering-messages)."""
    shown = [m for m in messages if m.text]
    if len(shown) == 1 and shown[0].role in _OUTPUT_ROLES:
        return shown[0].text
    return render_input(shown)


def render_messages(value: object, *, output: bool) -> str:
    """A message list given as JSON text or as a structured value; raw text if not a list."""
    messages = parse_messages(value)
    if messages is None:
        return render_value(value)
    return render_output(messages) if output else render_input(messages)


def parse_messages(value: object) -> list[Message] | None:
    """The messages in a JSON text, list or single message dict; None when there are none."""
    parsed = load_json(value) if isinstance(value, str) else value
    if isinstance(parsed, dict):
        return [message_from_dict(parsed)]
    if isinstance(parsed, list):
        return [_message_from_item(item) for item in parsed]
    return None


def message_from_dict(message: Mapping[str, object], default_role: str = "") -> Message:
    """A Message from GenAI (`parts`), OpenAI/Anthropic (`content`, `tool_calls`) or a choice."""
    inner = message.get("message")
    if isinstance(inner, dict) and not any(key in message for key in _MESSAGE_BODY_KEYS):
        message = inner  # a choice: {"index", "finish_reason", "message": {...}}
    pieces: list[str] = []
    for key in ("parts", "content"):
        content = message.get(key)
        if content is not None:
            pieces.extend(render_content(content))
    calls = message.get("tool_calls")
    if calls is not None:
        pieces.extend(_render_tool_calls(calls))
    legacy_call = message.get("function_call")
    if isinstance(legacy_call, dict):
        pieces.append(call_text(legacy_call.get("name"), legacy_call.get("arguments")))
    role = message.get("role")
    return Message(role if isinstance(role, str) else default_role, join_pieces(pieces))


def render_content(content: object) -> list[str]:
    """The pieces of a message's content: a string, a list of parts or a single part."""
    if content is None:
        return []
    if isinstance(content, str):
        return _render_text_content(content)
    if isinstance(content, list):
        return [render_part(part) for part in content]
    return [render_part(content)]


def render_part(part: object) -> str:
    """One content part: text, `name(arguments)`, a tool result or a media placeholder."""
    if not isinstance(part, dict):
        return render_value(part)
    kind = part.get("type")
    kind = kind if isinstance(kind, str) else ""
    if kind in _TEXT_PARTS:
        return render_value(_first_present(part, _TEXT_KEYS))
    if kind in _CALL_PARTS:
        return call_text(part.get("name"), _first_present(part, ("arguments", "input")))
    if kind in _RESULT_PARTS:
        return _result_text(_first_present(part, _RESULT_KEYS))
    placeholder = _media_placeholder(part, kind)
    if placeholder is not None:
        return placeholder
    text = render_value(_first_present(part, _TEXT_KEYS))
    if kind == "reasoning":
        return f"[reasoning] {text}" if text else ""
    if text:
        return text
    return f"[{kind}]" if kind else render_value(part)


def call_text(name: object, arguments: object) -> str:
    """A tool call as `name(arguments)` (docs/mapping.md#rendering-messages), so a tool-call-only reply is not empty."""
    name_text = name if isinstance(name, str) else ""
    arguments_text = render_value(arguments)
    return f"{name_text}({arguments_text})" if name_text or arguments_text else ""


def render_value(value: object) -> str:
    """Any attribute value as text: strings as they are, containers as JSON, blobs as placeholders."""
    if isinstance(value, str):
        return _data_url_placeholder(value) if is_data_url(value) else value
    if value is None:
        return ""
    if isinstance(value, BYTES_TYPES):
        return "[blob]"
    try:
        return _ENCODER.encode(value)
    except _JSON_ERRORS:  # unserialisable keys, huge ints, circular or too deep
        return ""


def load_json(text: str) -> object:
    """The JSON value in text when it holds an array or object; else text itself (docs/mapping.md#rendering-messages)."""
    if not text.lstrip().startswith(("[", "{")):
        return text
    try:
        return json.loads(text)
    except (ValueError, RecursionError):
        return text


def decode_json_string(text: str) -> str:
    """The content of a JSON string literal (`"\\"text\\""` becomes `text`); other text as is."""
    if len(text) < 2 or text[0] != '"' or text[-1] != '"':
        return text
    try:
        decoded = json.loads(text)
    except (ValueError, RecursionError):
        return text
    return decoded if isinstance(decoded, str) else text


def join_pieces(pieces: Iterable[str]) -> str:
    return "\n".join([piece for piece in pieces if piece and not piece.isspace()])


def _message_from_item(item: object) -> Message:
    if isinstance(item, str) and item.startswith("{"):
        item = load_json(item)  # an OTLP array of JSON-encoded messages
    if isinstance(item, dict):
        return message_from_dict(item)
    return Message("", render_value(item))


def _render_text_content(content: str) -> list[str]:
    if content.startswith("[{"):  # OpenLLMetry JSON-encodes multimodal content lists
        parts = load_json(content)
        if isinstance(parts, list) and all(isinstance(p, dict) and "type" in p for p in parts):
            return [render_part(part) for part in parts]
    return [render_value(content)]


def _render_tool_calls(calls: object) -> list[str]:
    if isinstance(calls, str):
        calls = load_json(calls)
    if isinstance(calls, dict):
        calls = [calls]
    if not isinstance(calls, list):
        return []
    return [_tool_call_text(call) for call in calls if isinstance(call, dict)]


def _tool_call_text(call: Mapping[str, object]) -> str:
    function = call.get("function")
    if isinstance(function, dict):  # OpenAI: {"id", "type": "function", "function": {...}}
        return call_text(function.get("name"), function.get("arguments"))
    return call_text(call.get("name"), _first_present(call, ("arguments", "input")))


def _result_text(response: object) -> str:
    if not isinstance(response, list):
        return render_value(response)
    return join_pieces(_shallow_part_text(item) for item in response)


def _shallow_part_text(item: object) -> str:
    if isinstance(item, dict):
        text = _first_present(item, _TEXT_KEYS)
        if isinstance(text, str):
            return text
    return render_value(item)


def _media_placeholder(part: Mapping[str, object], kind: str) -> str | None:
    media = _media_word(kind)
    if media is None and kind not in _MEDIA_PARTS:
        return _gemini_placeholder(part)
    modality = part.get("modality")
    label = modality if isinstance(modality, str) and modality else media or kind
    url = _shareable_url(_first_present(part, ("uri", "url", "image_url", "file_uri")))
    return f"[{label}: {url}]" if url else f"[{label}]"


def _gemini_placeholder(part: Mapping[str, object]) -> str | None:
    # Gemini parts carry no type: {"inline_data": {"mime_type", "data": <base64>}} or "file_data".
    media = _first_present(part, _GEMINI_MEDIA_KEYS)
    if not isinstance(media, dict):
        return None
    mime_type = media.get("mime_type")
    label = (_media_word(mime_type) if isinstance(mime_type, str) else None) or "blob"
    url = _shareable_url(media.get("file_uri"))
    return f"[{label}: {url}]" if url else f"[{label}]"


def _shareable_url(value: object) -> str | None:
    if isinstance(value, dict):
        value = value.get("url")  # OpenAI: {"type": "image_url", "image_url": {"url": ...}}
    if not isinstance(value, str) or is_data_url(value) or len(value) > _MAX_URL_CHARS:
        return None
    return value or None


def _media_word(kind: str) -> str | None:
    for word in _MEDIA_WORDS:
        if word in kind:
            return word
    return None


def _first_present(mapping: Mapping[str, object], keys: Iterable[str]) -> object:
    for key in keys:
        value = mapping.get(key)
        if value is not None:
            return value
    return None


def _data_url_placeholder(value: str) -> str:
    return "[image]" if value.startswith("data:image/") else "[blob]"


def _blob_default(value: object) -> str:
    if isinstance(value, BYTES_TYPES):
        return "[blob]"
    msg = f"{type(value).__name__} is not a JSON attribute value"
    raise TypeError(msg)


# Built once: json.dumps with options would build a new encoder per call on the hot path.
_ENCODER = json.JSONEncoder(ensure_ascii=False, default=_blob_default)
