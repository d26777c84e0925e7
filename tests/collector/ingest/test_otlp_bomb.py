"""A decompression bomb (1 GiB of zeros, ~1 MiB gzipped) posted to /v1/traces is refused at the
20 MiB cap with 413, the collector stays up, and its peak memory grows by far less than 1 GiB."""

from __future__ import annotations

import zlib
from collections.abc import Callable
from pathlib import Path

import aiohttp
import pytest

from tests.support.otlp_client import PROTOBUF, post_otlp
from tests.support.server import CollectorProcess

GIB = 1024**3
MIB = 1024**2
MAX_GROWTH_BYTES = 200 * MIB  # the cap is 20 MiB; a bomb inflated in memory would add 1 GiB


@pytest.fixture(scope="module")
def gzip_bomb() -> bytes:
    compressor = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)  # gzip framing
    zeros = bytes(MIB)
    parts = [compressor.compress(zeros) for _ in range(GIB // MIB)]
    parts.append(compressor.flush())
    return b"".join(parts)


def peak_rss_bytes(process: CollectorProcess) -> int:
    """VmHWM: the process's peak resident set size so far."""
    for line in Path(f"/proc/{process.process.pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024  # reported in kB
    raise AssertionError("no VmHWM in /proc/<pid>/status")


# gzip is inflated by aiohttp's parser and counted by the handler; x-gzip by the OTLP codec.
@pytest.mark.parametrize("encoding", ["gzip", "x-gzip"])
async def test_gzip_bomb_is_refused_at_the_cap(
    start_collector: Callable[..., CollectorProcess], gzip_bomb: bytes, encoding: str
) -> None:
    # aiohttp keeps reading (inflating) a refused body for its lingering time so the client can
    # read the 413; a short shutdown timeout keeps the teardown from waiting for that.
    collector = start_collector(config={"server": {"shutdown_timeout_s": 1}})
    assert len(gzip_bomb) < 2 * MIB
    async with aiohttp.ClientSession() as session:
        async with session.get(f"{collector.base_url}/healthz") as response:
            assert response.status == 200
        before = peak_rss_bytes(collector)
        answer = await post_otlp(session, collector.base_url, gzip_bomb, content_type=PROTOBUF, encoding=encoding)
        assert answer.status == 413
        assert "limit of 20971520 bytes" in answer.status_message().message
        async with session.get(f"{collector.base_url}/healthz") as response:
            assert response.status == 200  # still up and serving
    growth = peak_rss_bytes(collector) - before
    assert growth < MAX_GROWTH_BYTES, f"peak RSS grew by {growth / MIB:.0f} MiB"
    assert collector.process.poll() is None
