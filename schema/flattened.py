"""Un-flattening indexed message attributes: `gen_ai.prompt.{i}.*`, `llm.input_messages.{i}.*`.

Owns reading one flattened family into Messages and naming the keys it rendered, so only
those leave the stored attributes (docs/mapping.md#what-stays-in-attributes). Pure and total; suffixes it does not render (ids,
finish reasons) are left unread and therefore kept.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import NamedTuple

from kate.schema.attributes import AttributeIndex, Entries, KeyLayout, indexed, nested
from kate.schema.messages import Message, call_text, join_pieces, render_content, render_part
from kate.schema.record import AttributeValue


class _Reader:
    """Reads attribute values by suffix and records the full keys it read."""

    __slots__ = ("attrs", "used")

    def __init__(self, attrs: Mapping[str, AttributeValue]) -> None:
        self.attrs = attrs
        self.used: list[str] = []

    def take(self, entries: Entries, *suffixes: str) -> AttributeValue:
        for suffix in suffixes:
            key = entries.get(suffix)
            if key is not None:
                self.used.append(key)
                return self.attrs.get(key)
        return None


def read_family(index: AttributeIndex, prefix: str) -> tuple[list[Message], list[str]]:
    """The messages of one flattened family in index order, and the keys that were rendered."""
    layout = _FAMILIES.get(prefix)
    if layout is None:
        layout = _FAMILIES[prefix] = _FamilyLayout(prefix)
    keys = index.layout.derived(layout, layout)
    if not keys:
        return [], []
    reader = _Reader(index.attrs)
    return [_read_message(reader, message) for message in keys], reader.used


class _MessageKeys(NamedTuple):
    """Where one message's fields are, by suffix: its own, and those of each content part and
    tool call in index order (nesting prefixes removed)."""

    fields: Entries
    parts: tuple[Entries, ...]
    calls: tuple[Entries, ...]


class _FamilyLayout:
    """A family's messages as the keys lay them out: worked out once per KeyLayout."""

    def __init__(self, prefix: str) -> None:
        self.prefix = prefix

    def __call__(self, layout: KeyLayout) -> tuple[_MessageKeys, ...]:
        group = layout.groups.get(self.prefix)
        return tuple(_message_keys(entries) for entries in indexed(group)) if group else ()


_FAMILIES: dict[str, _FamilyLayout] = {}


def _message_keys(entries: Entries) -> _MessageKeys:
    fields, contents, calls = _split_message(entries)
    parts = tuple(nested(part, "message_content.") or part for part in indexed(contents)) if contents else ()
    tool_calls = tuple(nested(call, "tool_call.") or call for call in indexed(calls)) if calls else ()
    return _MessageKeys(fields, parts, tool_calls)


def _read_message(reader: _Reader, keys: _MessageKeys) -> Message:
    fields = keys.fields
    role = reader.take(fields, "role")
    pieces = render_content(reader.take(fields, "content"))
    pieces.extend(_read_part(reader, part) for part in keys.parts)
    pieces.extend(_read_call(reader, call) for call in keys.calls)
    if "function_call_name" in fields:  # OpenInference's pre-tool_calls function calling
        legacy_arguments = reader.take(fields, "function_call_arguments_json")
        pieces.append(call_text(reader.take(fields, "function_call_name"), legacy_arguments))
    return Message(role if isinstance(role, str) else "", join_pieces(pieces))


def _split_message(entries: Entries) -> tuple[Entries, Entries, Entries]:
    """(fields, `contents.{j}` entries, `tool_calls.{j}` entries) of one message, in one pass."""
    fields: Entries = {}
    contents: Entries = {}
    calls: Entries = {}
    for suffix, key in entries.items():
        field = suffix.removeprefix("message.")  # OpenInference nests fields; OpenLLMetry does not
        if field.startswith("contents."):
            contents[field[len("contents.") :]] = key
        elif field.startswith("tool_calls."):
            calls[field[len("tool_calls.") :]] = key
        else:
            fields[field] = key
    return fields, contents, calls


def _read_part(reader: _Reader, fields: Entries) -> str:
    part = {
        "type": reader.take(fields, "type"),
        "text": reader.take(fields, "text"),
        "url": reader.take(fields, "image.image.url", "image_url.url"),
    }
    return render_part(part)


def _read_call(reader: _Reader, fields: Entries) -> str:
    name = reader.take(fields, "function.name", "name")
    arguments = reader.take(fields, "function.arguments", "arguments")
    return call_text(name, arguments)
