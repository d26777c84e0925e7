"""The wheel maps the top-level folders to kate.collector, kate.exporter and kate.schema.

Builds the real wheel, installs it (without dependencies) into a fresh virtual environment
that borrows this environment's third-party packages, and imports all three from the wheel.
"""

from __future__ import annotations

import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def run(*args: str | Path, cwd: Path | None = None) -> str:
    done = subprocess.run([str(a) for a in args], capture_output=True, text=True, timeout=300, cwd=cwd)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def test_wheel_installs_into_a_fresh_venv_and_imports_all_three(tmp_path: Path) -> None:
    run(sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--quiet",
        "--wheel-dir", tmp_path / "dist", ROOT, cwd=tmp_path)
    (wheel,) = (tmp_path / "dist").glob("kate-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert "kate/schema/duckdb/001_tables.sql" in names and "kate/schema/duckdb/views.sql" in names
    assert {"kate/collector/ui/static/index.html", "kate/collector/ui/static/app.js",
            "kate/collector/ui/static/views/run.js", "kate/collector/ui/static/app.css"} <= set(names)
    assert not any(name.startswith(("schema/", "collector/", "exporter/", "tests/")) for name in names)

    venv = tmp_path / "venv"
    run(sys.executable, "-m", "venv", "--without-pip", venv)
    python = venv / "bin" / "python"
    site = Path(run(python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])").strip())
    # Third-party packages come from this environment; .pth lines are plain paths, so the
    # editable install's import hook is not carried over and kate must come from the wheel.
    (site / "borrowed.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    run(sys.executable, "-m", "pip", "--python", python, "install", "--no-deps", "--quiet", wheel)

    script = (
        "import kate.collector, kate.exporter, kate.schema, kate.collector.app\n"
        "from kate.collector.store.duckdb.migrate import migration_files\n"
        "print(kate.schema.__file__); print(kate.collector.__file__); print(kate.exporter.__file__)\n"
        "print(len(migration_files()))\n"
    )
    printed = run(python, "-c", script, cwd=tmp_path).split()
    assert all(path.startswith(str(site)) for path in printed[:3]), printed
    assert int(printed[3]) >= 1


def test_importing_the_schema_never_imports_duckdb() -> None:
    script = "import sys, kate.schema, kate.schema.mapping; print('duckdb' in sys.modules, 'kate.collector' in sys.modules)"
    assert run(sys.executable, "-c", script).split() == ["False", "False"]
