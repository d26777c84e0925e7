"""map_span: one span's name, attributes, times, status and events become the record's fields.

Owns docs/mapping.md as one pure, total function: no I/O, no logging, and no
exception for any attribute shape. Must not import duckdb, aiohttp, grpc or kate.collector.

remaining_attributes is the span's attributes minus what the mapping consumed and minus blobs:
- removed: the key(s) whose values became input_text / output_text (for flattened message
  families, the role, content, text, image and tool-call name/arguments keys that were
  rendered; `input.mime_type` / `output.mime_type` with their value), the model key that won
  and the token-count keys that were read;
- dropped: embedding vectors (`embedding.embeddings.{i}.embedding.vector`), `output.value` of
  EMBEDDING spans (the vector response, docs/mapping.md#size-truncation-and-blobs) and base64 data URLs;
- rewritten: bytes values, as `{"bytes_base64", "size"}` (never input or output text);
- kept: everything else, including keys that only selected span_kind, node_name or the
  status message (`openinference.span.kind`, `gen_ai.operation.name`, `gen_ai.tool.name`,
  `error.type`...: small, and the conventions' own vocabulary to filter by), sources that lost
  to a higher one (`input.value` beside `llm.input_messages`, `gen_ai.request.model` beside
  `gen_ai.response.model`), unrendered message fields (ids, finish reasons) and `kate.*`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import NamedTuple

from kate.schema.attributes import BYTES_TYPES, AttributeIndex, bytes_attribute, first_text, is_blank, is_data_url
from kate.schema.content import find_input, find_output
from kate.schema.cost import COST_KEYS, NO_COST, read_reported_cost
from kate.schema.messages import load_json
from kate.schema.record import AttributeValue, MappedFields, SpanEvent, SpanInput, SpanKind, StatusCode
from kate.schema.session import NO_SESSION, SESSION_AND_USER_KEYS, read_session
from kate.schema.text import DEFAULT_MAX_TEXT_BYTES, cap_text
from kate.schema.usage import NO_USAGE, USAGE_KEYS, read_usage

__all__ = ["DEFAULT_MAX_TEXT_BYTES", "map_span"]

_DECLARED_KINDS = frozenset(kind.value for kind in SpanKind) - {SpanKind.UNKNOWN.value}
_KIND_TABLES: tuple[tuple[str, Mapping[str, SpanKind]], ...] = (
    (
        "traceloop.span.kind",
        {"workflow": SpanKind.CHAIN, "task": SpanKind.CHAIN, "agent": SpanKind.AGENT, "tool": SpanKind.TOOL},
    ),
    (
        "gen_ai.operation.name",
        {
            "chat": SpanKind.LLM,
            "text_completion": SpanKind.LLM,
            "completion": SpanKind.LLM,
            "generate_content": SpanKind.LLM,
            "generate": SpanKind.LLM,
            "embeddings": SpanKind.EMBEDDING,
            "execute_tool": SpanKind.TOOL,
            "invoke_agent": SpanKind.AGENT,
            "create_agent": SpanKind.AGENT,
            "invoke_workflow": SpanKind.CHAIN,
            "retrieval": SpanKind.RETRIEVER,
        },
    ),
    (
        "llm.request.type",
        {
            "chat": SpanKind.LLM,
            "completion": SpanKind.LLM,
            "embedding": SpanKind.EMBEDDING,
            "rerank": SpanKind.RERANKER,
        },
    ),
)
_MAX_KIND_CHARS = 64
_TOOL_KEYS = ("gen_ai.tool.name", "gen_ai.tool.call.id", "tool.name")
_MODEL_HINT_KEYS = ("gen_ai.request.model", "gen_ai.response.model", "llm.model_name", "llm.request.model")
_MODEL_KEYS = (
    "langfuse.observation.model.name",
    "gen_ai.response.model",
    "llm.model_name",
    "gen_ai.request.model",
    "llm.response.model",
    "llm.request.model",
    "embedding.model_name",
)
_NODE_KEYS: Mapping[SpanKind, tuple[str, ...]] = {
    SpanKind.TOOL: ("traceloop.entity.name", "gen_ai.tool.name", "tool.name"),
    SpanKind.AGENT: ("traceloop.entity.name", "gen_ai.agent.name", "agent.name"),
}
_ENTITY_NAME_KEYS = ("traceloop.entity.name",)
# logfire names spans with a message template ("Chat Completion with {request_data[model]!r}")
# and puts the rendered message here: that, not the template, names the step.
_RENDERED_NAME_KEYS = ("logfire.msg",)
MAX_NODE_NAME_CHARS = 256  # a rendered message may carry data; a name stays a name
# The model's provider, a hint for the price look-up; kept in the attributes (it is not a field).
_PROVIDER_KEYS = ("gen_ai.provider.name", "gen_ai.system", "llm.provider", "llm.system")
_MAX_PROVIDER_CHARS = 64


def map_span(span: SpanInput, *, max_text_bytes: int = DEFAULT_MAX_TEXT_BYTES, reference: bool = False) -> MappedFields:
    """Derive the record fields of one span; total over every attribute shape (docs/mapping.md).

    What the keys alone decide is worked out once per key tuple and shared (KeyLayout);
    `reference=True` works it out afresh, the reference the shared path is tested against."""
    index = AttributeIndex.build(span.attributes, shared=not reference)
    attrs = index.attrs
    kind = _span_kind(index, span.name)
    model_key, model = _model(index)
    # Most spans carry none of the usage, cost or session keys: the layout knows without looking.
    usage = read_usage(attrs) if index.has_any(USAGE_KEYS) else NO_USAGE
    reported = read_reported_cost(attrs) if index.has_any(COST_KEYS) else NO_COST
    session = read_session(attrs) if index.has_any(SESSION_AND_USER_KEYS) else NO_SESSION
    found_input = find_input(index, span.events)
    found_output = None if kind is SpanKind.EMBEDDING else find_output(index, span.events)
    consumed = set(usage.consumed)
    consumed.update(reported.consumed)
    consumed.update(session.consumed)
    input_text, input_cut = _NO_TEXT
    if found_input is not None:
        input_text, input_cut = _capped(found_input.text, max_text_bytes)
        consumed.update(found_input.consumed)
    output_text, output_cut = _NO_TEXT
    if found_output is not None:
        output_text, output_cut = _capped(found_output.text, max_text_bytes)
        consumed.update(found_output.consumed)
    status = _status_message(span)
    status_message, status_cut = _NO_TEXT if status is None else _capped(status, max_text_bytes)
    if model_key is not None:
        consumed.add(model_key)
    # Positional, in MappedFields' field order: this runs once per span.
    return MappedFields(
        _storable(_node_name(index, kind, span.name)),
        kind.value,
        input_text,
        output_text,
        _storable(model) if model is not None else None,
        _latency_ms(span.start_time_unix_nano, span.end_time_unix_nano),
        usage.token_count,
        usage.input_tokens,
        usage.output_tokens,
        status_message,
        _remaining(index, consumed, kind, max_text_bytes),
        input_cut or output_cut or status_cut,
        usage.cached_input_tokens,
        reported.cost,
        _provider(index) if model is not None else None,
        _storable(session.session_id) if session.session_id is not None else None,
        _storable(session.user_id) if session.user_id is not None else None,
    )


_NO_TEXT: tuple[None, bool] = (None, False)
_NO_ATTRIBUTES = AttributeIndex.build({})


class EventContent(NamedTuple):
    input_text: str | None
    output_text: str | None
    truncated: bool


def map_event_content(events: Sequence[SpanEvent], *, max_text_bytes: int = DEFAULT_MAX_TEXT_BYTES) -> EventContent:
    """The input and output texts that events alone give a span, rendered and capped as
    map_span does: how GenAI content sent as log records reaches its span
    (docs/mapping.md#genai-content-in-log-records)."""
    found_input, found_output = find_input(_NO_ATTRIBUTES, events), find_output(_NO_ATTRIBUTES, events)
    input_text, input_cut = _NO_TEXT if found_input is None else _capped(found_input.text, max_text_bytes)
    output_text, output_cut = _NO_TEXT if found_output is None else _capped(found_output.text, max_text_bytes)
    return EventContent(input_text, output_text, input_cut or output_cut)


def _span_kind(index: AttributeIndex, span_name: str) -> SpanKind:
    """docs/mapping.md#span-kind: declared kinds in convention order, then attribute heuristics, else UNKNOWN."""
    if _short_text(index.attrs.get("logfire.span_type")) == "log":
        # A logfire log record: a point in time, not a call. Its streamed-response log repeats
        # the request's gen_ai.* keys with the output and tokens; kinded LLM, one streamed call
        # would count as two (docs/mapping.md#span-kind).
        return SpanKind.UNKNOWN
    declared = _short_text(index.attrs.get("openinference.span.kind")).upper()
    if declared in _DECLARED_KINDS:
        return SpanKind(declared)
    for key, table in _KIND_TABLES:
        kind = table.get(_short_text(index.attrs.get(key)).lower())
        if kind is not None:
            return kind
    return _inferred_kind(index, span_name)


def _inferred_kind(index: AttributeIndex, span_name: str) -> SpanKind:
    if index.first_text(_TOOL_KEYS):
        return SpanKind.TOOL
    if index.has_embedding_key:
        return SpanKind.EMBEDDING
    if index.group("retrieval.documents."):
        return SpanKind.RETRIEVER
    if index.first_text(_MODEL_HINT_KEYS):
        return SpanKind.EMBEDDING if "embed" in str(span_name).lower() else SpanKind.LLM
    # docs/mapping.md#span-kind: never guess CHAIN; plain HTTP/DB spans must stay distinguishable.
    return SpanKind.UNKNOWN


def _latency_ms(start_time_unix_nano: int, end_time_unix_nano: int) -> float | None:
    """Duration from the span's own times; ints first, since nanos exceed 2^53 (docs/mapping.md#field-sources-and-precedence)."""
    start, end = start_time_unix_nano, end_time_unix_nano
    if not (isinstance(start, int) and not isinstance(start, bool) and start > 0):
        return None
    if not (isinstance(end, int) and not isinstance(end, bool) and end > 0):
        return None
    if end < start:
        return None
    return (end - start) / 1_000_000


def _node_name(index: AttributeIndex, kind: SpanKind, span_name: str) -> str:
    # docs/mapping.md#field-sources-and-precedence: agent/workflow names copied onto descendants never name a non-agent span.
    found = index.first_text(_NODE_KEYS.get(kind, _ENTITY_NAME_KEYS)) or index.first_text(_RENDERED_NAME_KEYS)
    if found is not None:
        return found[1] if len(found[1]) <= MAX_NODE_NAME_CHARS else found[1][: MAX_NODE_NAME_CHARS - 1] + "…"
    return span_name if isinstance(span_name, str) else ""


def _model(index: AttributeIndex) -> tuple[str | None, str | None]:
    """(key consumed, model): the response model beats the request model (docs/mapping.md#field-sources-and-precedence)."""
    found = index.first_text(_MODEL_KEYS)
    if found is not None:
        return found
    parameters = index.attrs.get("llm.invocation_parameters")
    parsed = load_json(parameters) if isinstance(parameters, str) else parameters
    if not isinstance(parsed, dict):
        return None, None
    found = first_text(parsed, ("model", "model_name"))
    return None, found[1] if found else None  # the parameters stay: they hold more than the model


def _provider(index: AttributeIndex) -> str | None:
    found = index.first_text(_PROVIDER_KEYS)
    return found[1].strip().lower()[:_MAX_PROVIDER_CHARS] if found else None


def _status_message(span: SpanInput) -> str | None:
    """The status message; for ERROR spans falling back to the exception event, then error.type."""
    message = (
        span.status_message
        if isinstance(span.status_message, str) and not is_blank(span.status_message)
        else None
    )
    if message is not None or span.status_code != StatusCode.ERROR:
        return message
    found = _exception_message(span.events) or first_text(span.attributes, ("error.type",))
    return found[1] if found else None


def _exception_message(events: Sequence[SpanEvent]) -> tuple[str, str] | None:
    for event in events:
        found = first_text(event.attributes, ("exception.message",)) if event.name == "exception" else None
        if found is not None:
            return found
    return None


def _remaining(index: AttributeIndex, consumed: set[str], kind: SpanKind, max_text_bytes: int) -> dict[str, AttributeValue]:
    dropped = consumed.union(index.vector_keys)
    if kind is SpanKind.EMBEDDING:
        dropped.add("output.value")  # docs/mapping.md#size-truncation-and-blobs: OpenInference puts the whole vector list there
    # Inlined (this runs for every attribute of every span): data URLs go; bytes stay, as marked base64.
    return {
        key: bytes_attribute(value, max_text_bytes) if isinstance(value, BYTES_TYPES) else value
        for key, value in index.attrs.items()
        if key not in dropped and not (isinstance(value, str) and value.startswith("data:") and is_data_url(value))
    }


def _capped(text: str, max_text_bytes: int) -> tuple[str, bool]:
    capped, cut = cap_text(text, max_text_bytes)
    return _storable(capped), cut


def _storable(text: str) -> str:
    """Text that encodes as UTF-8: lone surrogates (from JSON `\\ud800` escapes) become U+FFFD."""
    if text.isascii():
        return text
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return text.encode("utf-16", "surrogatepass").decode("utf-16", "replace")
    return text


def _short_text(value: object) -> str:
    return value.strip() if isinstance(value, str) and len(value) <= _MAX_KIND_CHARS else ""
