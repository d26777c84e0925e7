"""Looking at processes the tests did not start themselves (an agent's children)."""

from __future__ import annotations

from pathlib import Path


def alive(pid: int) -> bool:
    """Whether the process exists and is not a zombie (read from /proc: it may not be our child)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text(encoding="utf-8")
    except FileNotFoundError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


async def still_alive(pid: int) -> bool:
    """alive() for tests.support.waiting.poll, which awaits its fetch."""
    return alive(pid)
