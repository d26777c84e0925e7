"""The example hosted agent that config.yaml ships: works offline, so enqueue works end to end.

`content_strategist` drafts a short content strategy from the user input with no model and no
network, tracing its steps with the plain OpenTelemetry API the way a real agent would (an
LLM-like "plan" span with token counts, a "research" TOOL span). The agent process routes
these spans into the run; nothing here knows about Kate. Copy it to start your own agent.
"""

from __future__ import annotations

from opentelemetry import trace

tracer = trace.get_tracer("kate.examples")

_ANGLES = ("why it matters now", "who it is for", "three pillar topics", "formats and cadence", "how to measure it")


def content_strategist(user_input: str) -> str:
    """A sync hosted agent: user input in, final text out."""
    topic = " ".join(user_input.split()) or "your product"
    notes = _research(topic)
    plan = _plan(topic, notes)
    return f"Content strategy: {topic}\n" + "\n".join(f"{number}. {line}" for number, line in enumerate(plan, 1))


def _research(topic: str) -> list[str]:
    with tracer.start_as_current_span("research", attributes={
        "openinference.span.kind": "TOOL", "tool.name": "keyword_research", "input.value": topic,
    }) as span:
        words = [word.strip(".,!?").lower() for word in topic.split() if len(word) > 3]
        notes = sorted(set(words)) or [topic.lower()]
        span.set_attribute("output.value", ", ".join(notes))
        return notes


def _plan(topic: str, notes: list[str]) -> list[str]:
    prompt = f"Plan content about {topic}; keywords: {', '.join(notes)}"
    with tracer.start_as_current_span("plan", attributes={
        "openinference.span.kind": "LLM", "llm.model_name": "offline-template", "input.value": prompt,
    }) as span:
        plan = [f"{angle.capitalize()}: {topic} ({notes[index % len(notes)]})" for index, angle in enumerate(_ANGLES)]
        text = "\n".join(plan)
        span.set_attributes({
            "output.value": text,
            "llm.token_count.prompt": len(prompt.split()),
            "llm.token_count.completion": len(text.split()),
            "llm.token_count.total": len(prompt.split()) + len(text.split()),
        })
        return plan
