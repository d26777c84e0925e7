"""Reading the judge's score out of sloppy model output: what is accepted and what fails."""

from __future__ import annotations

import pytest
from kate.collector.evaluation.evaluator import EvaluationFailed
from kate.collector.evaluation.verdict import parse_verdict

ACCEPTED = [
    ('{"score": 0.8, "reason": "good"}', 0.8, "good"),
    ('```json\n{"score": 0.9, "reason": "fine"}\n```', 0.9, "fine"),
    ('Here you go: {"rating": 7, "explanation": "ok"} thanks', 0.7, "ok"),
    ('{"score": "8/10", "reason": "r"}', 0.8, "r"),
    ('{"score": 1}', 1.0, "the judge gave no reason"),
    ("Score: 0.8", 0.8, "Score: 0.8"),
    ("The answer is solid.\nscore = 6", 0.6, "The answer is solid."),
    ("8/10 - clear but short", 0.8, "8/10 - clear but short"),
    ("I'd say 85%.", 0.85, "I'd say 85%."),
    ("0.25", 0.25, "0.25"),
    ("Rating: 90%", 0.9, "Rating: 90%"),
]
REFUSED = [
    ("I cannot grade this.", "no score found"),
    ("", "no score found"),
    ('{"score": "excellent"}', "not a number from 0 to 1"),
    ('{"score": 250}', "not a number from 0 to 1"),
    ("Score: -3", "no score found"),
    ("11/10", "no score found"),
]


@pytest.mark.parametrize(("answer", "score", "reason"), ACCEPTED)
def test_scores_are_read_from_many_shapes(answer: str, score: float, reason: str) -> None:
    assert parse_verdict(answer) == (pytest.approx(score), reason)


@pytest.mark.parametrize(("answer", "message"), REFUSED)
def test_garbage_fails_with_the_answer_quoted(answer: str, message: str) -> None:
    with pytest.raises(EvaluationFailed, match=message):
        parse_verdict(answer)
