"""The storage seam holds (docs/architecture.md#the-storage-seam): outside collector/store/, the
collector reaches storage through kate.collector.store.interfaces only, so a second engine is
an added package, not a change to the API, ingestion, evaluation, jobs or retention."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SEAM_USERS = ("api", "ingest", "evaluation", "jobs", "retention")
# Engine-neutral modules of store/: the seam itself, the Arrow span batch and UUIDv7 ids.
ALLOWED = {"kate.collector.store.interfaces", "kate.collector.store.values", "kate.collector.store.span_batch",
           "kate.collector.store.ids"}


def _imports(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names if node.module == "kate.collector.store")
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return found


@pytest.mark.parametrize("package", SEAM_USERS)
def test_only_the_interfaces_of_the_store_are_imported(package: str) -> None:
    modules = sorted((ROOT / "collector" / package).glob("*.py"))
    assert modules
    offending = {
        f"{path.relative_to(ROOT)}: {name}"
        for path in modules
        for name in _imports(path)
        if (name.startswith("kate.collector.store") and name not in ALLOWED) or name.split(".")[0] == "duckdb"
    }
    assert not offending, "storage reached around the seam:\n" + "\n".join(sorted(offending))


def test_the_completion_hook_does_not_know_the_engine() -> None:
    imported = _imports(ROOT / "collector" / "completion.py")
    assert not {name for name in imported if name.startswith("kate.collector.store")} - ALLOWED


@pytest.mark.parametrize("module", ["interfaces.py", "values.py", "span_batch.py", "ids.py"])
def test_what_every_engine_shares_imports_no_engine(module: str) -> None:
    imported = _imports(ROOT / "collector" / "store" / module)
    assert not {name for name in imported
                if name.startswith("kate.collector.store.duckdb") or name.split(".")[0] == "duckdb"}
