"""The UI's routes on a real collector: / redirects to /ui/, assets need no key (they hold no
data) while the API still does, strict same-origin headers, and ui.enabled: false removes it."""

from __future__ import annotations

import aiohttp
import pytest
from kate.collector.auth import hash_key
from kate.collector.config import ConfigError, load_config

from tests.conftest import StartApp

KEY = "kate_ui_routes_key"


async def test_ui_is_served_without_a_key_while_the_api_requires_one(start_app: StartApp) -> None:
    server = start_app(config={"auth": {"keys": [{"name": "k", "sha256": hash_key(KEY)}]}})
    async with aiohttp.ClientSession() as session:
        async with session.get(server.base_url + "/", allow_redirects=False) as root:
            location = root.headers.get("Location")
        async with session.get(server.base_url + "/ui/") as index:
            html, index_headers = await index.text(), index.headers
        async with session.get(server.base_url + "/ui/static/views/tree.js") as script:
            script_type = script.content_type
        async with session.get(server.base_url + "/ui/static/nope.js") as missing:
            missing_status = missing.status
        async with session.get(server.base_url + "/agents") as api:
            api_status = api.status

    assert location == "/ui/"
    assert '<script type="module" src="static/app.js">' in html
    assert "default-src 'self'" in index_headers["Content-Security-Policy"]
    assert index_headers["X-Content-Type-Options"] == "nosniff"
    assert script_type in ("application/javascript", "text/javascript")
    assert missing_status == 404
    assert api_status == 401


async def test_ui_enabled_false_serves_no_ui(start_app: StartApp) -> None:
    server = start_app(config={"ui": {"enabled": False}})
    async with aiohttp.ClientSession() as session:
        for path in ("/", "/ui/", "/ui/static/app.js"):
            async with session.get(server.base_url + path, allow_redirects=False) as answer:
                assert answer.status == 404, path
        async with session.get(server.base_url + "/agents") as api:
            assert api.status == 200


def test_ui_config_defaults_on_and_refuses_unknown_keys() -> None:
    assert load_config().ui.enabled is True
    with pytest.raises(ConfigError, match=r"ui\.theme"):
        load_config(overrides={"ui.theme": "dark"})
