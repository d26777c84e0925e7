"""The collector's log formatter: one line per message, no credential, no request bytes."""

from __future__ import annotations

import logging
import sys

import pytest
from aiohttp.http_exceptions import LineTooLong
from kate.collector.log_format import SafeFormatter


def rendered(message: str, *args: object, exc: BaseException | None = None) -> str:
    record = logging.LogRecord("kate.test", logging.INFO, __file__, 1, message, args,
                               (type(exc), exc, exc.__traceback__) if exc else None)
    return SafeFormatter().format(record)


@pytest.mark.parametrize(("text", "shown"), [
    ("a\nb", "a\\nb"), ("a\r\nb", "a\\r\\nb"), ("\x1b[2Kx", "\\x1b[2Kx"), ("a\u2028b", "a\\u2028b"),
    ("\u202eevil", "\\u202eevil"), ("tab\there", "tab\\there"), ("plain text, ünïcode", "plain text, ünïcode"),
])
def test_control_characters_in_a_message_are_escaped(text: str, shown: str) -> None:
    line = rendered("run %s completed", text)
    assert line.endswith(f"run {shown} completed") and len(line.splitlines()) == 1


def test_the_record_is_left_as_it_was_for_other_handlers() -> None:
    record = logging.LogRecord("kate.test", logging.INFO, __file__, 1, "run %s", ("a\nb",), None)
    SafeFormatter().format(record)
    assert record.getMessage() == "run a\nb"


@pytest.mark.parametrize("text", ["Authorization: Bearer kate_secret_1", "x-api-key=kate_secret_1",
                                  "{'Authorization': 'kate_secret_1'}", "bearer kate_secret_1"])
def test_credentials_are_withheld(text: str) -> None:
    line = rendered("headers %s", text)
    assert "kate_secret_1" not in line and "[withheld]" in line


def test_an_unparsable_request_is_logged_without_its_bytes() -> None:
    try:
        raise LineTooLong(b"kate_secret_2" + b"x" * 100, "8190")
    except LineTooLong:
        line = rendered("Error handling request from %s", "127.0.0.1", exc=sys.exc_info()[1])
    assert "kate_secret_2" not in line and "LineTooLong (400)" in line and len(line.splitlines()) == 1


def test_other_tracebacks_are_kept() -> None:
    try:
        raise ValueError("boom")
    except ValueError as error:
        line = rendered("failed", exc=error)
    assert "Traceback" in line and "ValueError: boom" in line
