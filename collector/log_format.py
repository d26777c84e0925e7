"""How every log record of the collector is rendered: one line per message, no credentials.

Installed once, where `kate` configures logging (cli.py). User-supplied text reaches log lines
through many call sites (agent ids, run ids, paths, agent output); escaping it here, not at
each call, means no client can forge a line. Must not filter records or change their levels.
"""

from __future__ import annotations

import copy
import logging
import re
from typing import Any

from aiohttp.http_exceptions import HttpProcessingError

LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
_NAMED_ESCAPES = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}
# A credential in any rendered text: Authorization/X-API-Key header values and bearer tokens.
_CREDENTIAL = re.compile(
    r"(?i)(\b(?:authorization|x-api-key)\b['\"]?\s*[:=,]\s*['\"]?(?:(?:bearer|basic)\s+)?|\bbearer\s+)[^\s'\",;]+"
)
_WITHHELD = "[withheld]"


def escape_controls(text: str) -> str:
    """text with every non-printable character (line breaks, ESC, bidi controls) as an escape."""
    if text.isprintable():
        return text  # the common case, without a per-character walk
    return "".join(char if char.isprintable() else _escape(char) for char in text)


def _escape(char: str) -> str:
    named = _NAMED_ESCAPES.get(char)
    if named:
        return named
    point = ord(char)
    return f"\\x{point:02x}" if point <= 0xFF else f"\\u{point:04x}"


def withhold_credentials(text: str) -> str:
    """text with the value of every credential it shows replaced by [withheld]."""
    return _CREDENTIAL.sub(lambda match: match.group(1) + _WITHHELD, text)


class SafeFormatter(logging.Formatter):
    """The message of a record on one line (control characters escaped), credentials withheld
    from the whole output, and the bytes of unparsable HTTP requests never shown."""

    def __init__(self, fmt: str = LOG_FORMAT, **kwargs: Any) -> None:
        super().__init__(fmt, **kwargs)

    def format(self, record: logging.LogRecord) -> str:
        safe = copy.copy(record)  # other handlers see the record as it was
        message = record.getMessage()
        failure = record.exc_info[1] if record.exc_info else None
        if isinstance(failure, HttpProcessingError):
            # aiohttp's parse errors quote the offending header line (an oversized or malformed
            # Authorization too): only the kind of error is logged, never the request's bytes.
            message = f"{message}: {type(failure).__name__} ({failure.code}); the request's bytes are not logged"
            safe.exc_info, safe.exc_text = None, None
        safe.msg, safe.args = escape_controls(message), None
        return withhold_credentials(super().format(safe))


def configure_logging(level: str) -> None:
    """Root logging at level, every record rendered by SafeFormatter on stderr."""
    handler = logging.StreamHandler()
    handler.setFormatter(SafeFormatter())
    logging.basicConfig(level=level.upper(), handlers=[handler])
