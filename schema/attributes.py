"""Reading span attributes: one pass that groups flattened keys, typed look-ups, count coercion.

Owns how raw attribute values are read (docs/mapping.md). Pure: never raises
on any value, never performs I/O, never renders text (that is messages.py).
"""

from __future__ import annotations

import base64
from collections.abc import Iterable, Mapping
from typing import NamedTuple

from kate.schema.record import AttributeValue

# Flattened families (docs/mapping.md#rendering-messages): `<prefix><index>.<suffix>`, classified by the text up to the second
# dot. One C-level startswith over a tuple rejects every other key (the hot path).
FLAT_PREFIXES: frozenset[str] = frozenset(
    {
        "gen_ai.prompt.",
        "gen_ai.completion.",
        "llm.input_messages.",
        "llm.output_messages.",
        "embedding.embeddings.",
        "retrieval.documents.",
    }
)
_SCANNED_PREFIXES = (*sorted(FLAT_PREFIXES), "embedding.")
_VECTOR_SUFFIX = ".embedding.vector"
_MAX_INDEX_DIGITS = 9
_SMALL_INDEXES = {str(i): i for i in range(256)}  # skips isdecimal() + int() for usual indexes
# Token counts land in BIGINT columns; larger values are corrupt, not counts.
MAX_COUNT = 2**63 - 1
_MAX_COUNT_CHARS = 32
_DATA_URL_PROBE = 128
BYTES_TYPES = (bytes, bytearray, memoryview)  # a tuple: `bytes | ...` would build a Union per call

Entries = dict[str, str]  # suffix after a prefix or index → the full attribute key


_NO_GROUPS: dict[str, Entries] = {}  # shared by every index without flattened keys; never mutated
_NO_ENTRIES: Entries = {}

# Where a key belongs: _PLAIN, or (flattened family prefix or "", suffix, starts with "embedding.").
# The same keys come in every span, so each key's place is worked out once and remembered
# (up to _MAX_PLACES keys, so arbitrary keys cannot grow it without bound).
Place = tuple[str, str, bool]
_PLAIN: Place = ("", "", False)
_UNKNOWN: Place = ("?", "", False)  # "not looked at yet"
_PLACES: dict[str, Place] = {}
_MAX_PLACES = 8192


def _place(key: str) -> Place:
    place = _PLAIN
    if key.startswith(_SCANNED_PREFIXES):
        second_dot = key.find(".", key.find(".") + 1)
        prefix = key[: second_dot + 1]
        flattened = second_dot > 0 and prefix in FLAT_PREFIXES
        place = (prefix if flattened else "", key[second_dot + 1 :] if flattened else "", key.startswith("embedding."))
    if len(_PLACES) < _MAX_PLACES:
        _PLACES[key] = place
    return place


class AttributeIndex(NamedTuple):
    """A span's attributes plus the flattened families found in them, computed once."""

    attrs: Mapping[str, AttributeValue]
    groups: dict[str, Entries] = _NO_GROUPS
    vector_keys: tuple[str, ...] = ()
    has_embedding_key: bool = False

    @classmethod
    def build(cls, attrs: Mapping[str, AttributeValue]) -> AttributeIndex:
        groups: dict[str, Entries] | None = None
        has_embedding_key = False
        for key in attrs:
            place = _PLACES.get(key, _UNKNOWN) if type(key) is str else _PLAIN
            if place is _UNKNOWN:
                place = _place(key)
            if place is _PLAIN:
                continue
            prefix, suffix, embedding = place
            has_embedding_key = has_embedding_key or embedding
            if prefix:
                if groups is None:
                    groups = {}
                groups.setdefault(prefix, {})[suffix] = key
        if groups is None:
            return cls(attrs, _NO_GROUPS, (), has_embedding_key)
        vectors = groups.get("embedding.embeddings.", _NO_ENTRIES)
        vector_keys = tuple(key for suffix, key in vectors.items() if suffix.endswith(_VECTOR_SUFFIX))
        return cls(attrs, groups, vector_keys, has_embedding_key)

    def group(self, prefix: str) -> Entries:
        return self.groups.get(prefix, _NO_ENTRIES)


def indexed(entries: Entries) -> list[Entries]:
    """Split `{index}.{rest}` entries by index, in numeric order (10 after 9; gaps allowed)."""
    by_index: dict[int, Entries] = {}
    for suffix, key in entries.items():
        split = _SPLITS.get(suffix)
        if split is None:
            split = _split_index(suffix)
        number, rest = split
        if number >= 0:
            by_index.setdefault(number, {})[rest] = key
    return [by_index[i] for i in sorted(by_index)]


# `{index}.{rest}` suffixes repeat in every span ("0.message.role"): each is split once.
_SPLITS: dict[str, tuple[int, str]] = {}


def _split_index(suffix: str) -> tuple[int, str]:
    """(index, rest), or (-1, "") when suffix is not `{decimal index}.{non-empty rest}`."""
    index, _, rest = suffix.partition(".")
    number = _SMALL_INDEXES.get(index)
    if number is None and index.isdecimal() and len(index) <= _MAX_INDEX_DIGITS:
        number = int(index)
    split = (number, rest) if rest and number is not None else (-1, "")
    if len(_SPLITS) < _MAX_PLACES:
        _SPLITS[suffix] = split
    return split


def nested(entries: Entries, prefix: str) -> Entries:
    """The entries under `prefix`, with the prefix removed from their suffixes."""
    return {s[len(prefix) :]: key for s, key in entries.items() if s.startswith(prefix)}


def is_blank(text: str) -> bool:
    return not text or text.isspace()


def first_text(attrs: Mapping[str, AttributeValue], keys: Iterable[str]) -> tuple[str, str] | None:
    """The first (key, value) among keys whose value is a non-blank string (docs/mapping.md#field-sources-and-precedence: first wins)."""
    for key in keys:
        value = attrs.get(key)
        if isinstance(value, str) and not is_blank(value):
            return key, value
    return None


def first_count(attrs: Mapping[str, AttributeValue], keys: Iterable[str]) -> tuple[str, int] | None:
    """The first (key, count) among keys whose value coerces to a token count."""
    for key in keys:
        value = attrs.get(key)
        count = None if value is None else coerce_count(value)
        if count is not None:
            return key, count
    return None


def coerce_count(value: object) -> int | None:
    """A non-negative int from an OTLP int, double or numeric string (docs/mapping.md#field-sources-and-precedence); else None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value if 0 <= value <= MAX_COUNT else None
    if isinstance(value, float):
        return int(value) if 0.0 <= value <= MAX_COUNT else None  # NaN compares False
    if isinstance(value, str) and len(value) <= _MAX_COUNT_CHARS:
        return _count_from_text(value)
    return None


def _count_from_text(text: str) -> int | None:
    stripped = text.strip()
    try:  # int() keeps 64-bit precision (OTLP/JSON sends int64 as strings); float() the rest
        return coerce_count(int(stripped) if stripped.isdecimal() else float(stripped))
    except ValueError:
        return None


def is_data_url(value: str) -> bool:
    """A `data:...;base64,` URL: an inlined image or file, never text (docs/mapping.md#size-truncation-and-blobs)."""
    return value.startswith("data:") and ";base64," in value[:_DATA_URL_PROBE]


def bytes_attribute(value: bytes | bytearray | memoryview, max_bytes: int) -> dict[str, AttributeValue]:
    """A bytes value as attributes keep it (docs/mapping.md#size-truncation-and-blobs): base64 of its
    first max_bytes bytes, marked as bytes, with its size; `truncated` when it was longer."""
    raw = bytes(value)
    kept: dict[str, AttributeValue] = {"bytes_base64": base64.b64encode(raw[:max_bytes]).decode("ascii"),
                                       "size": len(raw)}
    if len(raw) > max_bytes:
        kept["truncated"] = True
    return kept


def is_blob(value: object) -> bool:
    """Values dropped from stored attributes: raw bytes and base64 data URLs (docs/mapping.md#size-truncation-and-blobs)."""
    if isinstance(value, str):
        return is_data_url(value)
    return isinstance(value, BYTES_TYPES)
