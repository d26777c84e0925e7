"""`kate sql` as a user runs it: an API key from --api-key or KATE_API_KEY (the flag wins), and a
reader that stops early (`kate sql ... | head`) ends it quietly."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from kate.collector.auth import hash_key
from kate.collector.config import StorageConfig
from kate.collector.store.duckdb.database import Database

from tests.conftest import StartCollector

KEY = "kate_sql_cli_key_0123456789abcdef"
KATE_SQL = [sys.executable, "-m", "kate.collector", "sql"]


def kate_sql(*args: str, cwd: Path, env_key: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {name: value for name, value in os.environ.items() if name != "KATE_API_KEY"}
    if env_key is not None:
        env["KATE_API_KEY"] = env_key
    return subprocess.run([*KATE_SQL, *args], capture_output=True, text=True, timeout=60, cwd=cwd, env=env)


def test_kate_sql_sends_the_api_key_from_the_flag_or_the_environment(
    start_collector: StartCollector, tmp_path: Path
) -> None:
    server = start_collector(config={"auth": {"keys": [{"name": "analyst", "sha256": hash_key(KEY)}]}})
    query, url = "SELECT 42 AS answer", server.base_url

    without = kate_sql(query, "--url", url, cwd=tmp_path)
    by_flag = kate_sql(query, "--url", url, "--api-key", KEY, cwd=tmp_path)
    by_env = kate_sql(query, "--url", url, cwd=tmp_path, env_key=KEY)
    flag_wins = kate_sql(query, "--url", url, "--api-key", KEY, cwd=tmp_path, env_key="kate_wrong_key_0123456789")
    wrong_flag = kate_sql(query, "--url", url, "--api-key", "kate_wrong_key_0123456789", cwd=tmp_path, env_key=KEY)

    assert without.returncode == 1 and "unauthorized" in without.stderr
    for answered in (by_flag, by_env, flag_wins):
        assert answered.returncode == 0, answered.stderr
        assert "42" in answered.stdout and "(1 rows)" in answered.stdout
    assert wrong_flag.returncode == 1 and "unauthorized" in wrong_flag.stderr


def test_a_reader_that_stops_early_ends_kate_sql_quietly(tmp_path: Path) -> None:
    db_path = tmp_path / "kate.duckdb"
    database = Database(db_path, StorageConfig())
    database.open()
    database.close()
    # ~1 MB of table output: far more than a pipe holds, so kate sql is still writing when the reader leaves.
    process = subprocess.Popen([*KATE_SQL, "SELECT * FROM range(100000)", "--db", str(db_path), "--max-rows",
                                "100000"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=tmp_path)
    assert process.stdout is not None and process.stderr is not None
    first_line = process.stdout.readline()
    process.stdout.close()  # what `| head -1` does once it has its line
    stderr = process.stderr.read().decode()
    returncode = process.wait(timeout=60)

    assert first_line.split() == [b"range"]
    assert "Traceback" not in stderr and "BrokenPipeError" not in stderr and stderr == ""
    assert returncode == 141  # as a process killed by SIGPIPE, so `set -o pipefail` still notices
