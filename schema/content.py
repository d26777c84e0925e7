"""Choosing input_text and output_text: the ordered source chains of docs/mapping.md#field-sources-and-precedence.

Owns which source wins (the first with non-blank text) and which attribute keys it consumed.
Pure and total; renders nothing itself (messages.py does) and never caps (mapping.py does).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import NamedTuple

from kate.schema.attributes import AttributeIndex, KeyLayout, indexed, is_blank, is_blob
from kate.schema.flattened import read_family
from kate.schema.messages import (
    Message,
    decode_json_string,
    join_pieces,
    load_json,
    message_from_dict,
    render_content,
    render_input,
    render_messages,
    render_output,
    render_value,
)
from kate.schema.record import AttributeValue, SpanEvent

INPUT_MESSAGES = "gen_ai.input.messages"
OUTPUT_MESSAGES = "gen_ai.output.messages"
SYSTEM_INSTRUCTIONS = "gen_ai.system_instructions"
_DETAILS_EVENT = "gen_ai.client.inference.operation.details"
_MESSAGE_EVENTS = {
    "gen_ai.system.message": "system",
    "gen_ai.user.message": "user",
    "gen_ai.assistant.message": "assistant",
    "gen_ai.tool.message": "tool",
}
_EVENT_BODY_KEYS = ("gen_ai.event.content", "body")


class Content(NamedTuple):
    """The text a source produced and the attribute keys it used."""

    text: str
    consumed: tuple[str, ...] = ()


Source = Callable[[AttributeIndex, Sequence[SpanEvent]], Content | None]
# A source produces nothing unless its gate holds, so a chain leaves it out for keys that cannot
# meet it (most spans carry one convention, and most sources find nothing): (attribute keys of
# which one must be present, flattened family that must be present, whether the span must have
# events).
Gate = tuple[tuple[str, ...], str, bool]


def find_input(index: AttributeIndex, events: Sequence[SpanEvent]) -> Content | None:
    return _first_content(index.layout.derived(_INPUT_CHAIN, _INPUT_CHAIN), index, events)


def find_output(index: AttributeIndex, events: Sequence[SpanEvent]) -> Content | None:
    return _first_content(index.layout.derived(_OUTPUT_CHAIN, _OUTPUT_CHAIN), index, events)


def _first_content(
    sources: tuple[tuple[bool, Source], ...], index: AttributeIndex, events: Sequence[SpanEvent]
) -> Content | None:
    for needs_events, source in sources:
        if needs_events and not events:
            continue
        content = source(index, events)
        if content is not None:
            return content
    return None


class _Chain:
    """A source chain cut down to the sources whose gate the keys can meet (KeyLayout.derived):
    (whether the span must have events, source), in precedence order."""

    def __init__(self, sources: tuple[tuple[Gate, Source], ...]) -> None:
        self.sources = sources

    def __call__(self, layout: KeyLayout) -> tuple[tuple[bool, Source], ...]:
        return tuple(
            (needs_events, source)
            for (keys, group, needs_events), source in self.sources
            if needs_events or (group in layout.groups if group else not layout.keys.isdisjoint(keys))
        )


def _content(text: str, *consumed: str) -> Content | None:
    return None if is_blank(text) else Content(text, consumed)


def _value(key: str, *companions: str, literal: bool = False) -> Source:
    """A generic value (`input.value`...) kept as its text; `literal` decodes a JSON string (docs/mapping.md#rendering-messages).

    traceloop.entity.* values are JSON-encoded, so a returned str arrives as `"\\"text\\""`.
    """

    def source(index: AttributeIndex, events: Sequence[SpanEvent]) -> Content | None:
        value = _attribute(index.attrs, key)
        if value is None:
            return None
        text = render_value(value)
        return _content(decode_json_string(text) if literal else text, key, *companions)

    return source


def _genai_input_text(attrs: Mapping[str, AttributeValue]) -> str:
    if SYSTEM_INSTRUCTIONS not in attrs and INPUT_MESSAGES not in attrs:
        return ""
    system = join_pieces(render_content(_parsed(_attribute(attrs, SYSTEM_INSTRUCTIONS))))
    messages = render_messages(_attribute(attrs, INPUT_MESSAGES), output=False)
    return join_pieces((f"system: {system}" if system else "", messages))


def _genai_input(index: AttributeIndex, events: Sequence[SpanEvent]) -> Content | None:
    return _content(_genai_input_text(index.attrs), SYSTEM_INSTRUCTIONS, INPUT_MESSAGES)


def _genai_output(index: AttributeIndex, events: Sequence[SpanEvent]) -> Content | None:
    text = render_messages(_attribute(index.attrs, OUTPUT_MESSAGES), output=True)
    return _content(text, OUTPUT_MESSAGES)


def _family(prefix: str, *, output: bool) -> Source:
    def source(index: AttributeIndex, events: Sequence[SpanEvent]) -> Content | None:
        messages, used = read_family(index, prefix)
        text = render_output(messages) if output else render_input(messages)
        return _content(text, *used)

    return source


def _input_events(index: AttributeIndex, events: Sequence[SpanEvent]) -> Content | None:
    if not events:
        return None
    messages = [_event_message(e.attributes, role) for e in events if (role := _MESSAGE_EVENTS.get(e.name))]
    return (
        _content(render_input(messages))
        or _content(_genai_input_text(_event_attributes(events, _DETAILS_EVENT)))
        or _content(_event_messages(events, "gen_ai.content.prompt", "gen_ai.prompt", output=False))
    )


def _output_events(index: AttributeIndex, events: Sequence[SpanEvent]) -> Content | None:
    if not events:
        return None
    choices = [_choice_message(e.attributes) for e in events if e.name == "gen_ai.choice"]
    details = _event_attributes(events, _DETAILS_EVENT)
    return (
        _content(render_output(choices))
        or _content(render_messages(_attribute(details, OUTPUT_MESSAGES), output=True))
        or _content(_event_messages(events, "gen_ai.content.completion", "gen_ai.completion", output=True))
    )


def _event_message(attrs: Mapping[str, AttributeValue], role: str) -> Message:
    message = message_from_dict(attrs, default_role=role)
    body = _parsed(next((attrs[k] for k in _EVENT_BODY_KEYS if k in attrs), None))
    if message.text or not isinstance(body, dict):
        return message
    return message_from_dict(body, default_role=role)  # the log-event body carried whole


def _choice_message(attrs: Mapping[str, AttributeValue]) -> Message:
    message = _parsed(attrs.get("message"))
    if isinstance(message, dict):
        return message_from_dict(message, default_role="assistant")
    if isinstance(message, str | list):  # plain text, or a bare content list (Strands)
        return Message("assistant", join_pieces(render_content(message)))
    return message_from_dict(attrs, default_role="assistant")


def _event_attributes(events: Sequence[SpanEvent], name: str) -> Mapping[str, AttributeValue]:
    return next((e.attributes for e in events if e.name == name), {})


def _event_messages(events: Sequence[SpanEvent], name: str, key: str, *, output: bool) -> str:
    return render_messages(_attribute(_event_attributes(events, name), key), output=output)


def _embedding_texts(index: AttributeIndex, events: Sequence[SpanEvent]) -> Content | None:
    keys = [
        e["embedding.text"] for e in indexed(index.group("embedding.embeddings.")) if "embedding.text" in e
    ]
    used = [key for key in keys if isinstance(index.attrs.get(key), str)]
    return _content(join_pieces(str(index.attrs[key]) for key in used), *used)


def _attribute(attrs: Mapping[str, AttributeValue], key: str) -> AttributeValue:
    """A source's value; a blob counts as absent so the chain goes on (docs/mapping.md#size-truncation-and-blobs: never text)."""
    value = attrs.get(key)
    return None if is_blob(value) else value


def _parsed(value: object) -> object:
    return load_json(value) if isinstance(value, str) else value


def _key(*keys: str) -> Gate:
    return keys, "", False


def _group(prefix: str) -> Gate:
    return (), prefix, False


_EVENTS: Gate = ((), "", True)

# docs/mapping.md#field-sources-and-precedence: the first source with non-blank text wins, in this order.
_INPUT_SOURCES: tuple[tuple[Gate, Source], ...] = (
    (_key("langfuse.observation.input"), _value("langfuse.observation.input")),
    (_key(SYSTEM_INSTRUCTIONS, INPUT_MESSAGES), _genai_input),
    (_group("gen_ai.prompt."), _family("gen_ai.prompt.", output=False)),
    (_group("llm.input_messages."), _family("llm.input_messages.", output=False)),
    (_EVENTS, _input_events),
    (_group("embedding.embeddings."), _embedding_texts),
    (_key("traceloop.entity.input"), _value("traceloop.entity.input", literal=True)),
    (_key("input.value"), _value("input.value", "input.mime_type")),
    (_key("gen_ai.tool.call.arguments"), _value("gen_ai.tool.call.arguments")),
)
_OUTPUT_SOURCES: tuple[tuple[Gate, Source], ...] = (
    (_key("langfuse.observation.output"), _value("langfuse.observation.output")),
    (_key(OUTPUT_MESSAGES), _genai_output),
    (_group("gen_ai.completion."), _family("gen_ai.completion.", output=True)),
    (_group("llm.output_messages."), _family("llm.output_messages.", output=True)),
    (_EVENTS, _output_events),
    (_key("traceloop.entity.output"), _value("traceloop.entity.output", literal=True)),
    (_key("output.value"), _value("output.value", "output.mime_type")),
    (_key("gen_ai.tool.call.result"), _value("gen_ai.tool.call.result")),
)
_INPUT_CHAIN = _Chain(_INPUT_SOURCES)
_OUTPUT_CHAIN = _Chain(_OUTPUT_SOURCES)
