"""Text capping shared by every path that stores text: cut on a UTF-8 boundary, mark the cut.

docs/mapping.md#size-truncation-and-blobs: text fields are capped (default 64 KiB), with a visible marker and `truncated` set.
"""
from __future__ import annotations

DEFAULT_MAX_TEXT_BYTES = 64 * 1024


def cap_text(text: str, max_bytes: int = DEFAULT_MAX_TEXT_BYTES) -> tuple[str, bool]:
    """Return (text, truncated): text cut to at most max_bytes UTF-8 bytes plus a marker.

    The marker `…[truncated N bytes]` says how many bytes were dropped. The result including
    the marker may exceed max_bytes by the marker's length (at most ~30 bytes).
    """
    if len(text) * 4 <= max_bytes:  # fast path: cannot exceed even at 4 bytes a character
        return text, False
    encoded = text.encode("utf-8", "surrogatepass")
    if len(encoded) <= max_bytes:
        return text, False
    kept = encoded[:max_bytes].decode("utf-8", "ignore")  # drops a split trailing character
    dropped = len(encoded) - len(kept.encode("utf-8", "surrogatepass"))
    return f"{kept}…[truncated {dropped} bytes]", True
