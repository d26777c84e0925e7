"""Reading a score out of a judge model's answer, tolerating sloppy output.

Accepted, in this order: a JSON object with `score` (also `rating`/`grade`) and `reason`,
possibly inside a ```json fence or surrounded by prose; "Score: 0.8" / "score = 7"; "8/10";
"80%"; an answer that is only a number. Scales are normalised to 0..1 (0..1 as is, up to 10
→ /10, up to 100 → /100). Anything else is EvaluationFailed with the answer quoted. Pure.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

from kate.collector.evaluation.evaluator import EvaluationFailed

_NUMBER = r"(-?\d+(?:\.\d+)?)"
_FENCE = re.compile(r"```(?:json)?\s*(.*?)```", re.DOTALL | re.IGNORECASE)
_OBJECT = re.compile(r"\{.*\}", re.DOTALL)
_FRACTION = re.compile(_NUMBER + r"\s*/\s*" + _NUMBER)
_LABELLED = re.compile(r"\b(?:score|rating|grade)\b[^\w-]{0,3}" + _NUMBER + r"\s*(%)?", re.IGNORECASE)
_PERCENT = re.compile(_NUMBER + r"\s*%")
_ONLY_NUMBER = re.compile(r"^\s*" + _NUMBER + r"\s*$")
_SCORE_KEYS = ("score", "rating", "grade")
_REASON_KEYS = ("reason", "explanation", "rationale", "justification")
_MAX_REASON_CHARS = 300


def parse_verdict(answer: str) -> tuple[float, str]:
    """(score in 0..1, reason) from a judge's answer; EvaluationFailed when there is no score."""
    text = answer.strip()
    fenced = _FENCE.search(text)
    candidates = [fenced.group(1)] if fenced else []
    found = _from_json([*candidates, text])
    if found is not None:
        return found
    score = _from_text(text)
    if score is None:
        raise EvaluationFailed(f"no score found in the judge's answer: {_quote(text)}")
    return score, _first_sentence(text)


def _from_json(texts: list[str]) -> tuple[float, str] | None:
    for text in texts:
        match = _OBJECT.search(text)
        if match is None:
            continue
        try:
            data = json.loads(match.group(0))
        except ValueError:
            continue
        if isinstance(data, dict):
            found = _from_object(data)
            if found is not None:
                return found
    return None


def _from_object(data: dict[str, Any]) -> tuple[float, str] | None:
    raw = next((data[key] for key in _SCORE_KEYS if key in data), None)
    if raw is None:
        return None
    if isinstance(raw, str):
        score = _from_text(raw)
    elif isinstance(raw, int | float) and not isinstance(raw, bool):
        score = _normalise(float(raw))
    else:
        score = None
    if score is None:
        raise EvaluationFailed(f"the judge's score is not a number from 0 to 1: {_quote(str(raw))}")
    reason = next((str(data[key]) for key in _REASON_KEYS if data.get(key)), "")
    return score, _clip(reason) or "the judge gave no reason"


def _from_text(text: str) -> float | None:
    fraction = _FRACTION.search(text)
    if fraction:
        value, scale = float(fraction.group(1)), float(fraction.group(2))
        return value / scale if scale > 0 and 0 <= value <= scale else None
    labelled = _LABELLED.search(text)
    if labelled:
        value = float(labelled.group(1))
        return _normalise(value / 100 if labelled.group(2) else value)
    percent = _PERCENT.search(text)
    if percent:
        return _normalise(float(percent.group(1)) / 100)
    only = _ONLY_NUMBER.match(text)
    return _normalise(float(only.group(1))) if only else None


def _normalise(value: float) -> float | None:
    """0..1 as is; (1, 10] is a 10-point scale; (10, 100] a percentage; else None."""
    if not math.isfinite(value) or value < 0:
        return None
    for scale in (1.0, 10.0, 100.0):
        if value <= scale:
            return value / scale
    return None


def _first_sentence(text: str) -> str:
    line = next((line.strip() for line in text.splitlines() if line.strip()), "")
    return _clip(line)


def _clip(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= _MAX_REASON_CHARS else text[: _MAX_REASON_CHARS - 1] + "…"


def _quote(text: str) -> str:
    flat = " ".join(text.split())
    return repr(flat if len(flat) <= 120 else flat[:119] + "…")
