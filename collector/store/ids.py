"""Identifiers the server generates: UUIDv7 run and job ids (RFC 9562).

Time-ordered ids make a run's spans sit together on disk (zone maps prune per-run reads).
"""

from __future__ import annotations

import os
import time
import uuid


def uuid7() -> str:
    """A UUIDv7: 48-bit unix milliseconds, version 7, 74 random bits, variant 10."""
    unix_ms = time.time_ns() // 1_000_000
    value = (unix_ms & 0xFFFF_FFFF_FFFF) << 80 | int.from_bytes(os.urandom(10), "big")
    value = (value & ~(0xF << 76)) | (0x7 << 76)  # version
    value = (value & ~(0x3 << 62)) | (0x2 << 62)  # variant
    return str(uuid.UUID(int=value))
