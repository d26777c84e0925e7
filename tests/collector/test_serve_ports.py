"""A real `kate serve` on a taken port stops before it touches the store: it exits non-zero,
names the flag and the variable that choose the port, and creates no DuckDB file."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest


@pytest.fixture
def taken_port() -> Iterator[int]:
    with socket.create_server(("127.0.0.1", 0)) as listener:
        yield listener.getsockname()[1]


def serve(db_path: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "kate.collector", "serve", "--db", str(db_path), *args],
        capture_output=True, text=True, timeout=60, cwd=db_path.parent.parent, env={**os.environ, **(env or {})},
    )


@pytest.mark.parametrize(("args", "env", "named"), [
    (("--port", "{taken}", "--grpc-port", "0"), {}, "server.port 127.0.0.1:{taken} is taken (Address already in use): "
                                                   "choose another port with --port or KATE_PORT"),
    (("--port", "0"), {"KATE_GRPC_PORT": "{taken}"}, "server.grpc_port 127.0.0.1:{taken} is taken "
                                                    "(Address already in use): choose another port with --grpc-port or KATE_GRPC_PORT"),
])
def test_a_taken_port_stops_the_start_naming_its_flag_and_creates_no_file(
    args: tuple[str, ...], env: dict[str, str], named: str, taken_port: int, tmp_path: Path
) -> None:
    db_path = tmp_path / "data" / "kate.duckdb"

    done = serve(db_path, *(arg.format(taken=taken_port) for arg in args),
                 env={key: value.format(taken=taken_port) for key, value in env.items()})

    assert done.returncode == 1, done.stderr
    assert f"kate: cannot start: {named.format(taken=taken_port)}" in done.stderr
    assert not db_path.parent.exists()  # not the file, not even its folder

