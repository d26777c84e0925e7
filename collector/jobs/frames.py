"""The wire between the worker and an agent process: typed, length-prefixed frames on a pipe.

The agent process writes SPANS frames (an OTLP ExportTraceServiceRequest, protobuf) while it
runs and one RESULT frame (JSON) at the end, on its original stdout; the agent's own prints go
to stderr. Standard library only: the agent process imports this before anything else.
"""

from __future__ import annotations

import asyncio
import struct
import threading
from typing import BinaryIO

SPANS = b"S"
RESULT = b"R"
_HEADER = struct.Struct(">cI")  # kind, payload length
MIB = 1024 * 1024
MAX_FRAME_BYTES = 64 * MIB


class FrameError(Exception):
    """The stream is not a sequence of frames (a corrupted or foreign writer)."""


class FrameWriter:
    """Writes frames from any thread of the agent process (the span exporter runs in its own)."""

    def __init__(self, stream: BinaryIO) -> None:
        self._stream = stream
        self._lock = threading.Lock()

    def write(self, kind: bytes, payload: bytes) -> None:
        with self._lock:
            self._stream.write(_HEADER.pack(kind, len(payload)) + payload)
            self._stream.flush()


async def read_frame(reader: asyncio.StreamReader) -> tuple[bytes, bytes] | None:
    """The next (kind, payload), or None at a clean end of the stream."""
    try:
        header = await reader.readexactly(_HEADER.size)
    except asyncio.IncompleteReadError as exc:
        if exc.partial:
            raise FrameError("the agent process's output ended inside a frame header") from None
        return None
    kind, length = _HEADER.unpack(header)
    if kind not in (SPANS, RESULT):
        raise FrameError(f"unexpected frame kind {kind!r} from the agent process (its output is corrupted)")
    if length > MAX_FRAME_BYTES:  # refused before reading it: the worker never holds such a frame
        what = "span" if kind == SPANS else "result"
        raise FrameError(f"the agent process sent a {what} frame of {length / MIB:.1f} MiB, over the limit of "
                         f"{MAX_FRAME_BYTES // MIB} MiB per frame (too much text in its {what}s)")
    try:
        return kind, await reader.readexactly(length)
    except asyncio.IncompleteReadError:
        raise FrameError("the agent process's output ended inside a frame") from None
