"""Reading span attributes: one pass that groups flattened keys, typed look-ups, count coercion.

Owns how raw attribute values are read (docs/mapping.md). Pure: never raises
on any value, never performs I/O, never renders text (that is messages.py).
"""

from __future__ import annotations

import base64
from collections.abc import Callable, Collection, Iterable, Mapping
from typing import NamedTuple, TypeVar, cast

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
T = TypeVar("T")


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


class KeyLayout:
    """What a span's attribute keys alone decide: the flattened families found among them, and
    (in `derived`) whatever the mapping works out from the keys, such as which sources of a
    chain can apply. Spans of one instrumentation carry the same keys in the same order, so
    `KeyLayout.of` builds one per key tuple and shares it (docs/mapping.md#how-the-mapping-is-fast).
    Nothing here may depend on a value: the property test holds a shared layout to a fresh one."""

    __slots__ = ("keys", "groups", "vector_keys", "has_embedding_key", "_narrows", "_derived")

    def __init__(self, keys: Collection[str], *, narrows: bool = True) -> None:
        """narrows=False: `present` leaves key lists whole, so look-ups try every key as the
        mapping did before layouts were shared (the reference path)."""
        self.keys = frozenset(keys)
        self._narrows = narrows
        groups: dict[str, Entries] | None = None
        has_embedding_key = False
        for key in keys:  # in the span's order, as the reference path reads them
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
        self.groups: dict[str, Entries] = _NO_GROUPS if groups is None else groups
        vectors = self.groups.get("embedding.embeddings.", _NO_ENTRIES)
        self.vector_keys = tuple(key for suffix, key in vectors.items() if suffix.endswith(_VECTOR_SUFFIX))
        self.has_embedding_key = has_embedding_key
        self._derived: dict[object, object] = {}

    @classmethod
    def of(cls, attrs: Mapping[str, AttributeValue]) -> KeyLayout:
        """The shared layout of these keys, built on first sight. Memory stays bounded whatever
        keys arrive: at most _MAX_LAYOUTS are kept (the oldest goes), and a span with more than
        _MAX_SHARED_KEYS keys or _MAX_SHARED_KEY_CHARS characters of keys gets a layout of its own."""
        keys = tuple(attrs)
        layout = _LAYOUTS.get(keys)
        if layout is None:
            layout = cls(keys)
            if len(keys) <= _MAX_SHARED_KEYS and sum(len(key) for key in keys if type(key) is str) <= _MAX_SHARED_KEY_CHARS:
                if len(_LAYOUTS) >= _MAX_LAYOUTS:
                    _LAYOUTS.pop(next(iter(_LAYOUTS)), None)
                _LAYOUTS[keys] = layout
        return layout

    def present(self, keys: tuple[str, ...]) -> tuple[str, ...]:
        """Those of keys that the span has, in their order."""
        if not self._narrows:
            return keys
        found = self._derived.get(keys)
        if found is None:
            found = self._derived[keys] = tuple(key for key in keys if key in self.keys)
        return cast(tuple[str, ...], found)

    def derived(self, what: object, compute: Callable[[KeyLayout], T]) -> T:
        """compute(self), worked out once per layout; `what` names it (one name per compute)."""
        try:
            return cast(T, self._derived[what])
        except KeyError:
            value = self._derived[what] = compute(self)
            return value


_LAYOUTS: dict[tuple[str, ...], KeyLayout] = {}
_MAX_LAYOUTS = 1024
_MAX_SHARED_KEYS = 128
_MAX_SHARED_KEY_CHARS = 8192  # with the bounds above: at most ~8 MiB of keys kept


class AttributeIndex(NamedTuple):
    """A span's attributes and their key layout."""

    attrs: Mapping[str, AttributeValue]
    layout: KeyLayout

    @classmethod
    def build(cls, attrs: Mapping[str, AttributeValue], *, shared: bool = True) -> AttributeIndex:
        """The index of attrs; `shared=False` works the layout out afresh (the reference path)."""
        return cls(attrs, KeyLayout.of(attrs) if shared else KeyLayout(attrs, narrows=False))

    @property
    def groups(self) -> dict[str, Entries]:
        return self.layout.groups

    @property
    def vector_keys(self) -> tuple[str, ...]:
        return self.layout.vector_keys

    @property
    def has_embedding_key(self) -> bool:
        return self.layout.has_embedding_key

    def group(self, prefix: str) -> Entries:
        return self.layout.groups.get(prefix, _NO_ENTRIES)

    def first_text(self, keys: tuple[str, ...]) -> tuple[str, str] | None:
        """first_text over the keys the span has (absent keys cannot win)."""
        return first_text(self.attrs, self.layout.present(keys))

    def has_any(self, keys: tuple[str, ...]) -> bool:
        return bool(self.layout.present(keys))


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
