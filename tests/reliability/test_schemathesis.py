"""schemathesis against /openapi.json of a real collector: generated requests for every operation
(examples, coverage and fuzzing phases, bounded) must never get a 500, and every answer must match
the document (status code, content type, schema, headers)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

from tests.conftest import StartCollector

CHECKS = ("not_a_server_error,status_code_conformance,content_type_conformance,"
          "response_schema_conformance,response_headers_conformance")
MAX_EXAMPLES = 25


def test_schemathesis_finds_no_server_errors_and_no_answers_outside_the_document(
    start_collector: StartCollector, tmp_path: Path
) -> None:
    collector = start_collector(config={"evaluation": {"enabled": False},
                                        "api": {"upload_rate_limit_per_minute": 100_000}})
    cli = shutil.which("schemathesis", path=str(Path(sys.executable).parent))
    assert cli is not None, "schemathesis is in the dev extra: pip install -e '.[dev]'"
    done = subprocess.run(
        [cli, "run", f"{collector.base_url}/openapi.json", "--checks", CHECKS, "--max-examples", str(MAX_EXAMPLES),
         "--phases", "examples,coverage,fuzzing", "--workers", "1", "--seed", "1", "--no-color",
         "--request-timeout", "30"],
        capture_output=True, text=True, timeout=300, cwd=tmp_path,
    )
    assert done.returncode == 0, done.stdout[-6000:] + done.stderr[-2000:]
    assert "unhandled error" not in collector.log()
