"""The documentation stays true: links resolve, routes, error codes and config keys are documented,
and no tracked file points outside the repository (a clone must be complete on its own)."""

from __future__ import annotations

import dataclasses
import re
import subprocess
import typing
from pathlib import Path

import pytest
from kate.collector.api.routes import ROUTES
from kate.collector.config import Config
from kate.collector.errors import KateError

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
LINKED_PAGES = [ROOT / "README.md", *sorted(DOCS.glob("*.md"))]
# Built from pieces so that this file does not match its own patterns: the folder of reference
# notes beside the repository, the notes by name, and absolute paths of a build machine.
_OUTSIDE = re.compile("|".join([
    re.escape(".." + "/shared"),
    re.escape("shared" + "/spec"),
    re.escape("design" + " §"),
    *(re.escape(name) for name in ("runs-api" + ".txt", "otlp-duckdb" + "-facts", "attribute-mapping" + ".md")),
    "(?<![\\w.])/(?:" + "work|home|Users|root" + ")/",
]), re.IGNORECASE)
_LINK = re.compile(r"(?<!!)\[[^\]\n]*\]\(([^)\s]+)\)")
_FENCE = re.compile(r"^```.*?^```", re.MULTILINE | re.DOTALL)


def _tracked_text_files() -> list[Path]:
    names = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, check=True, capture_output=True).stdout.split(b"\0")
    files = [ROOT / name.decode() for name in names if name]
    return [path for path in files if path.is_file() and b"\0" not in path.read_bytes()[:8192]]


def test_no_tracked_file_points_outside_the_repository() -> None:
    offenders = []
    for path in _tracked_text_files():
        text = path.read_text(encoding="utf-8", errors="replace")
        for number, line in enumerate(text.splitlines(), start=1):
            if _OUTSIDE.search(line):
                offenders.append(f"{path.relative_to(ROOT)}:{number}: {line.strip()[:120]}")
    assert not offenders, "files citing documents or paths outside the repository:\n" + "\n".join(offenders)


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: lowercase, punctuation dropped, spaces to hyphens."""
    text = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return text.replace(" ", "-")


def anchors(page: Path) -> set[str]:
    found: set[str] = set()
    seen: dict[str, int] = {}
    for line in _FENCE.sub("", page.read_text(encoding="utf-8")).splitlines():
        match = re.match(r"^#{1,6}\s+(.*?)\s*#*\s*$", line)
        if match:
            base = slug(match.group(1))
            count = seen.get(base, 0)
            seen[base] = count + 1
            found.add(base if count == 0 else f"{base}-{count}")
    return found


def _relative_links(page: Path) -> list[str]:
    text = _FENCE.sub("", page.read_text(encoding="utf-8"))
    return [target for target in _LINK.findall(text) if not re.match(r"^[a-z][a-z0-9+.-]*:", target)]


@pytest.mark.parametrize("page", LINKED_PAGES, ids=lambda page: str(page.relative_to(ROOT)))
def test_every_relative_link_resolves(page: Path) -> None:
    broken = []
    for target in _relative_links(page):
        file_part, _, anchor = target.partition("#")
        linked = (page.parent / file_part).resolve() if file_part else page
        if not linked.exists() or not linked.is_relative_to(ROOT):
            broken.append(f"{target}: no such file")
        elif anchor and linked.suffix == ".md" and anchor not in anchors(linked):
            broken.append(f"{target}: no heading #{anchor} in {linked.relative_to(ROOT)}")
    assert not broken, f"broken links in {page.relative_to(ROOT)}:\n" + "\n".join(broken)


def test_the_docs_exist_and_are_linked_from_the_index() -> None:
    index = (DOCS / "README.md").read_text(encoding="utf-8")
    pages = sorted(path.name for path in DOCS.glob("*.md") if path.name != "README.md")
    assert {"api.md", "architecture.md", "mapping.md", "configuration.md", "sql.md", "performance.md"} <= set(pages)
    assert [name for name in pages if f"]({name})" not in index] == []


def test_every_route_is_in_the_api_reference() -> None:
    reference = (DOCS / "api.md").read_text(encoding="utf-8")
    missing = [f"{method} {path}" for method, path, _ in ROUTES if f"`{method} {path}`" not in reference]
    assert missing == [], f"routes of collector/api/routes.py missing from docs/api.md: {missing}"


def _error_codes() -> set[str]:
    pending, codes = [KateError], set()
    while pending:
        cls = pending.pop()
        codes.add(cls.code)
        pending.extend(cls.__subclasses__())
    return codes


def test_every_error_code_is_in_the_api_reference() -> None:
    reference = (DOCS / "api.md").read_text(encoding="utf-8")
    assert sorted(code for code in _error_codes() if f"`{code}`" not in reference) == []


def config_keys(cls: type = Config, prefix: str = "") -> list[str]:
    """Every dotted key that holds a value (sections are not keys); list entries as `name[].field`."""
    keys = []
    hints = typing.get_type_hints(cls)
    for field in dataclasses.fields(cls):
        if field.metadata.get("env_only"):
            continue  # filled from the environment, never a key of the file
        dotted, hint = f"{prefix}{field.name}", hints[field.name]
        if dataclasses.is_dataclass(hint):
            keys += config_keys(hint, f"{dotted}.")
            continue
        keys.append(dotted)
        if typing.get_origin(hint) is tuple and dataclasses.is_dataclass(typing.get_args(hint)[0]):
            keys += config_keys(typing.get_args(hint)[0], f"{dotted}[].")
    return keys


def test_every_config_key_is_in_the_configuration_reference() -> None:
    reference = (DOCS / "configuration.md").read_text(encoding="utf-8")
    keys = config_keys()
    assert "hosted_agents[].entrypoint" in keys and "evaluation.llm_judge.api_key" not in keys
    missing = [key for key in keys if f"`{key}`" not in reference]
    assert missing == [], f"configuration keys missing from docs/configuration.md: {missing}"
