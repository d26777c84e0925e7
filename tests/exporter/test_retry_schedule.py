"""The exporter's retry schedule (exporter/_retry.py) with an injected wait: which errors are
retried, how long each wait is, and when retrying stops (deadline, attempts, shutdown)."""

from __future__ import annotations

import time

import pytest
from kate.exporter._errors import KateError, ServerError, TransportError, ValidationError
from kate.exporter._retry import MAX_ATTEMPTS, send_within


class Recorder:
    """A send that fails with the given errors in turn, then answers; and a wait that records."""

    def __init__(self, *errors: KateError, interrupt_after: int | None = None) -> None:
        self.errors = list(errors)
        self.calls: list[float] = []  # the remaining seconds each call was given
        self.waits: list[float] = []
        self.interrupt_after = interrupt_after

    def send(self, remaining_s: float) -> str:
        self.calls.append(remaining_s)
        if self.errors:
            raise self.errors.pop(0)
        return "stored"

    def wait(self, seconds: float) -> bool:
        self.waits.append(seconds)
        return self.interrupt_after is not None and len(self.waits) >= self.interrupt_after


def overloaded(retry_after: float | None = None) -> ServerError:
    return ServerError("queue full", code="overloaded", status=503, retry_after=retry_after)


def far_deadline() -> float:
    return time.monotonic() + 3600


def test_retryable_errors_back_off_exponentially_until_the_attempts_run_out() -> None:
    recorder = Recorder(*[overloaded() for _ in range(MAX_ATTEMPTS)])
    with pytest.raises(ServerError):
        send_within(recorder.send, far_deadline(), recorder.wait)
    assert len(recorder.calls) == MAX_ATTEMPTS
    assert len(recorder.waits) == MAX_ATTEMPTS - 1  # no wait after the last attempt
    for attempt, waited in enumerate(recorder.waits):  # 1, 2, 4, 8, 16 s, each ±20 %
        assert 0.8 * 2**attempt <= waited <= 1.2 * 2**attempt


def test_a_success_after_failures_returns_the_answer() -> None:
    recorder = Recorder(TransportError("connection refused"), overloaded())
    assert send_within(recorder.send, far_deadline(), recorder.wait) == "stored"
    assert len(recorder.calls) == 3 and len(recorder.waits) == 2
    assert recorder.calls[0] >= recorder.calls[1] >= recorder.calls[2]  # each gets what is left of the deadline


def test_retry_after_wins_over_the_backoff_and_is_never_shortened() -> None:
    recorder = Recorder(overloaded(retry_after=7), overloaded(retry_after=3))
    send_within(recorder.send, far_deadline(), recorder.wait)
    assert 7 <= recorder.waits[0] <= 7 * 1.2 and 3 <= recorder.waits[1] <= 3 * 1.2


def test_an_error_that_retrying_cannot_fix_is_raised_at_once() -> None:
    recorder = Recorder(ValidationError("bad span", code="validation_error", status=400))
    with pytest.raises(ValidationError):
        send_within(recorder.send, far_deadline(), recorder.wait)
    assert (len(recorder.calls), recorder.waits) == (1, [])


def test_a_wait_that_would_pass_the_deadline_is_not_started() -> None:
    recorder = Recorder(overloaded(retry_after=30))
    with pytest.raises(ServerError):
        send_within(recorder.send, time.monotonic() + 10, recorder.wait)
    assert (len(recorder.calls), recorder.waits) == (1, [])


def test_a_deadline_already_passed_sends_nothing() -> None:
    recorder = Recorder()
    with pytest.raises(TransportError, match="deadline passed"):
        send_within(recorder.send, time.monotonic() - 1, recorder.wait)
    assert recorder.calls == []


def test_an_interrupted_wait_ends_the_retries_with_the_last_error() -> None:
    """Shutdown cuts the wait short: the export gives up instead of sending again."""
    recorder = Recorder(overloaded(), overloaded(), interrupt_after=1)
    with pytest.raises(ServerError):
        send_within(recorder.send, far_deadline(), recorder.wait)
    assert (len(recorder.calls), len(recorder.waits)) == (1, 1)
