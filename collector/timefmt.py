"""RFC 3339 times on the wire ↔ unix nanoseconds and naive-UTC datetimes in the store.

The API always writes UTC with `Z`; it reads any RFC 3339 offset. Times before 1970 or past
what a signed 64-bit nanosecond count holds (year 2262) are refused with a ValueError.
"""

from __future__ import annotations

import datetime as dt
import re

_RFC3339 = re.compile(
    r"^(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?(Z|z|[+-]\d{2}:\d{2})$"
)
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
_MAX_NS = 2**63 - 1


def parse_rfc3339(text: str) -> tuple[dt.datetime, int]:
    """Parse an RFC 3339 timestamp into (aware UTC datetime, extra nanoseconds below 1 µs)."""
    match = _RFC3339.match(text)
    if match is None:
        raise ValueError(f"must be an RFC 3339 timestamp such as 2026-03-30T10:00:00Z, got {text[:40]!r}")
    year, month, day, hour, minute, second, fraction, offset = match.groups()
    digits = (fraction or "").ljust(9, "0")
    try:
        moment = dt.datetime(int(year), int(month), int(day), int(hour), int(minute), int(second),
                             int(digits[:6]), tzinfo=_zone(offset))
    except ValueError as exc:
        raise ValueError(f"is not a valid date or time: {text[:40]!r} ({exc})") from None
    return moment.astimezone(dt.UTC), int(digits[6:])


def parse_rfc3339_ns(text: str) -> int:
    """RFC 3339 → unix nanoseconds, within 1970..2262."""
    moment, extra_ns = parse_rfc3339(text)
    delta = moment - _EPOCH
    nanos = (delta.days * 86_400 + delta.seconds) * 1_000_000_000 + delta.microseconds * 1000 + extra_ns
    if not 0 <= nanos <= _MAX_NS:
        raise ValueError(f"must be between 1970-01-01 and 2262-04-11, got {text[:40]!r}")
    return nanos


def parse_rfc3339_naive_utc(text: str) -> dt.datetime:
    """RFC 3339 → naive UTC datetime, the form of the store's TIMESTAMP columns."""
    return parse_rfc3339(text)[0].replace(tzinfo=None)


def _zone(offset: str) -> dt.tzinfo:
    if offset in ("Z", "z"):
        return dt.UTC
    sign = 1 if offset[0] == "+" else -1
    hours, minutes = int(offset[1:3]), int(offset[4:6])
    if hours > 23 or minutes > 59:
        raise ValueError(f"offset {offset} is out of range")
    return dt.timezone(sign * dt.timedelta(hours=hours, minutes=minutes))
