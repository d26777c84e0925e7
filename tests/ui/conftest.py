"""A real browser for the web UI tests: Debian's chromium driven by Playwright, one per module.

Without chromium the tests skip with the reason, except under CI (environment variable CI set),
where a missing browser is a failure: CI must run them (.ci/run installs chromium).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

OUTPUT_DIR = Path(__file__).parent / "output"  # screenshots of each view; git-ignored
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]


def _chromium() -> str:
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    if path is None:
        reason = "chromium is not installed (apt-get install -y --no-install-recommends chromium)"
        if os.environ.get("CI"):
            pytest.fail(f"{reason}; under CI the web UI tests must run")
        pytest.skip(reason)
    return path


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    executable = _chromium()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        yield launched
        launched.close()


@pytest.fixture
def page(browser: Any, request: pytest.FixtureRequest) -> Iterator[Any]:
    """A fresh tab (own sessionStorage) whose requests may reach only loopback."""
    context = browser.new_context(viewport={"width": 1440, "height": 900}, accept_downloads=True)
    context.route("**/*", _loopback_only)
    tab = context.new_page()
    tab.set_default_timeout(15_000)
    yield tab
    context.close()


def _loopback_only(route: Any) -> None:
    url = route.request.url
    if url.startswith(("http://127.0.0.1:", "http://localhost:", "blob:", "data:")):
        route.continue_()
    else:
        route.abort()


def screenshot(page: Any, name: str) -> Path:
    OUTPUT_DIR.mkdir(exist_ok=True)
    path = OUTPUT_DIR / f"{name}.png"
    page.screenshot(path=str(path))
    return path
