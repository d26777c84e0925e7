"""Cross-site requests and DNS rebinding against a real loopback collector without keys.

A page of any site can make the user's browser send "simple" POSTs (text/plain, form or
typeless bodies, no preflight) to 127.0.0.1:4318, and a page that rebinds its own name to
127.0.0.1 can even read the answers. Each such request must be refused before it runs, with
nothing changed in the store, while the collector's own origin, listed origins, curl and the
probes keep working. Requests are written with http.client so every header is exactly as sent.
"""

from __future__ import annotations

import http.client
import json
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from kate.collector.api.request_guard import RequestGuard
from kate.collector.config import ConfigError, ServerConfig, load_config

from tests.support.server import CollectorProcess, start_collector_process

AGENT = "cross-site"
LISTED = "http://localhost:5173"  # server.allowed_origins of the test collector
EVIL = "http://evil.example"
COUNTS = {"sql": "SELECT (SELECT count(*) FROM runs), (SELECT count(*) FROM runs WHERE status = 'completed')"}


@dataclass(frozen=True)
class Answer:
    status: int
    headers: http.client.HTTPMessage
    body: dict


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CollectorProcess]:
    config = {"server": {"allowed_origins": [LISTED]}, "evaluation": {"enabled": False}}
    process = start_collector_process(tmp_path_factory.mktemp("cross-site") / "kate.duckdb", config=config)
    yield process
    process.stop()


def send(site: CollectorProcess, method: str, path: str, body: bytes | None = None,
         headers: dict[str, str] | None = None) -> Answer:
    """One request with exactly these headers (and Host 127.0.0.1:port unless given)."""
    connection = http.client.HTTPConnection("127.0.0.1", site.http_port, timeout=10)
    try:
        connection.putrequest(method, path, skip_host=True, skip_accept_encoding=True)
        sent = {"Host": f"127.0.0.1:{site.http_port}", **(headers or {})}
        if body is not None:
            sent["Content-Length"] = str(len(body))
        for name, value in sent.items():
            connection.putheader(name, value)
        connection.endheaders(body)
        response = connection.getresponse()
        text = response.read().decode()
        parsed = json.loads(text) if text.startswith("{") else {}
        return Answer(response.status, response.headers, parsed)
    finally:
        connection.close()


def create_run(site: CollectorProcess) -> str:
    answer = send(site, "POST", f"/agents/{AGENT}/runs", b'{"trigger": "test"}', {"Content-Type": "application/json"})
    assert answer.status == 201, answer
    return str(answer.body["id"])


def counts(site: CollectorProcess) -> list:
    answer = send(site, "POST", "/sql", json.dumps(COUNTS).encode(), {"Content-Type": "application/json"})
    assert answer.status == 200, answer
    return list(answer.body["rows"])


def simple_requests(run_id: str) -> list[tuple[str, bytes]]:
    """What a page may send with no preflight: the three routes that write or query."""
    return [(f"/agents/{AGENT}/runs", b'{"trigger": "manual"}'), (f"/agents/{AGENT}/runs/{run_id}/complete", b"{}"),
            ("/sql", b'{"sql": "SELECT count(*) FROM spans"}')]


@pytest.mark.parametrize("content_type", ["text/plain", "text/plain;charset=UTF-8",
                                          "application/x-www-form-urlencoded", "multipart/form-data; boundary=x",
                                          None])
def test_a_body_that_is_not_json_is_refused_415_before_it_runs(site: CollectorProcess, content_type: str | None) -> None:
    run_id = create_run(site)
    before = counts(site)
    for path, body in simple_requests(run_id):
        answer = send(site, "POST", path, body, {"Content-Type": content_type} if content_type else {})
        assert (answer.status, answer.body["error"]["code"]) == (415, "unsupported_media_type"), (path, answer)
        assert (repr(content_type) if content_type else "got none") in answer.body["error"]["message"]
    assert counts(site) == before


def test_a_bodiless_post_keeps_working_whatever_its_type(site: CollectorProcess) -> None:
    """`curl -X POST .../complete` (the Runs API contract) sends no body and no Content-Type."""
    first, second = create_run(site), create_run(site)
    assert send(site, "POST", f"/agents/{AGENT}/runs/{first}/complete").status == 200
    answer = send(site, "POST", f"/agents/{AGENT}/runs/{second}/complete", b"", {"Content-Type": "text/plain"})
    assert (answer.status, answer.body["status"]) == (200, "completed")


def test_a_page_of_another_site_is_refused_403_and_changes_nothing(site: CollectorProcess) -> None:
    run_id = create_run(site)
    before = counts(site)
    for path, body in simple_requests(run_id):
        answer = send(site, "POST", path, body, {"Content-Type": "application/json", "Origin": EVIL})
        assert (answer.status, answer.body["error"]["code"]) == (403, "origin_not_allowed"), (path, answer)
        assert EVIL in answer.body["error"]["message"] and "server.allowed_origins" in answer.body["error"]["message"]
        assert answer.headers.get("Access-Control-Allow-Origin") is None
    answer = send(site, "GET", f"/agents/{AGENT}/runs", headers={"Origin": "null"})  # a sandboxed page
    assert answer.status == 403
    assert counts(site) == before


def test_the_collectors_own_origin_works_as_for_its_web_ui(site: CollectorProcess) -> None:
    own = f"http://127.0.0.1:{site.http_port}"
    answer = send(site, "POST", f"/agents/{AGENT}/runs", b'{"trigger": "test"}',
                  {"Content-Type": "application/json", "Origin": own})
    assert answer.status == 201
    assert answer.headers.get("Access-Control-Allow-Origin") is None  # same origin: no CORS needed
    by_name = {"Host": f"localhost:{site.http_port}", "Origin": f"http://localhost:{site.http_port}"}
    assert send(site, "GET", f"/agents/{AGENT}/runs", headers=by_name).status == 200
    # The same page addressing the collector by another of its names is another origin.
    other = send(site, "GET", f"/agents/{AGENT}/runs", headers={"Origin": f"http://localhost:{site.http_port}"})
    assert (other.status, other.body["error"]["code"]) == (403, "origin_not_allowed")


def test_a_listed_origin_gets_its_preflight_answered_and_cors_headers(site: CollectorProcess) -> None:
    preflight = send(site, "OPTIONS", "/sql", headers={
        "Origin": LISTED, "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "content-type, authorization"})
    assert preflight.status == 204
    assert preflight.headers["Access-Control-Allow-Origin"] == LISTED
    assert "POST" in preflight.headers["Access-Control-Allow-Methods"]
    assert {"authorization", "content-type"} <= {h.strip().lower() for h in
                                                 preflight.headers["Access-Control-Allow-Headers"].split(",")}
    answer = send(site, "POST", "/sql", json.dumps(COUNTS).encode(), {"Content-Type": "application/json", "Origin": LISTED})
    assert answer.status == 200 and answer.headers["Access-Control-Allow-Origin"] == LISTED
    assert "Origin" in answer.headers["Vary"]
    error = send(site, "GET", f"/agents/{AGENT}/runs?limit=0", headers={"Origin": LISTED})
    assert error.status == 400 and error.headers["Access-Control-Allow-Origin"] == LISTED  # errors are readable too


def test_a_preflight_from_another_site_is_refused_without_cors_headers(site: CollectorProcess) -> None:
    answer = send(site, "OPTIONS", "/sql", headers={"Origin": EVIL, "Access-Control-Request-Method": "POST"})
    assert (answer.status, answer.body["error"]["code"]) == (403, "origin_not_allowed")
    assert not any(name.lower().startswith("access-control-") for name in answer.headers)
    assert send(site, "OPTIONS", "/sql").status == 405  # no Origin: not a preflight, as before


@pytest.mark.parametrize("host", ["evil.example:4318", "evil.example", "127.0.0.1.nip.io:4318", "localhost.evil.example"])
def test_a_rebound_host_name_is_refused_421_and_changes_nothing(site: CollectorProcess, host: str) -> None:
    run_id = create_run(site)
    before = counts(site)
    for path, body in simple_requests(run_id):
        answer = send(site, "POST", path, body, {"Content-Type": "application/json", "Host": host,
                                                 "Origin": f"http://{host}"})  # what a rebound page sends
        assert (answer.status, answer.body["error"]["code"]) == (421, "host_not_allowed"), (path, answer)
        assert "server.allowed_hosts" in answer.body["error"]["message"]
    answer = send(site, "GET", f"/agents/{AGENT}/runs/{run_id}", headers={"Host": host})
    assert answer.status == 421  # nor can it read
    assert counts(site) == before


@pytest.mark.parametrize("host", ["localhost", "LOCALHOST:9", "127.0.0.1", "[::1]:4318", "10.1.2.3:4318"])
def test_the_collectors_own_names_and_addresses_are_answered(site: CollectorProcess, host: str) -> None:
    assert send(site, "GET", f"/agents/{AGENT}/runs", headers={"Host": host}).status == 200


@pytest.mark.parametrize("path", ["/healthz", "/readyz", "/metrics"])
def test_probes_answer_any_host_and_origin(site: CollectorProcess, path: str) -> None:
    """Kubernetes probes send the pod IP, or a name, as Host; probes hold no agent data."""
    assert send(site, "GET", path, headers={"Host": "kate-0.kate.svc.cluster.local:4318"}).status == 200
    assert send(site, "GET", path, headers={"Host": "evil.example", "Origin": EVIL}).status == 200


def test_otlp_refuses_other_sites_and_types_in_its_own_error_format(site: CollectorProcess) -> None:
    before = counts(site)
    answer = send(site, "POST", "/v1/traces", b"{}", {"Content-Type": "application/json", "Origin": EVIL})
    assert answer.status == 403
    answer = send(site, "POST", "/v1/traces", b"{}", {"Content-Type": "text/plain"})
    assert answer.status == 415
    assert counts(site) == before


@pytest.mark.parametrize(("host", "keys", "allowed", "checked"), [
    ("127.0.0.1", True, (), True),  # loopback: always checked
    ("0.0.0.0", False, (), True),  # beyond loopback without keys (auth.allow_anonymous): checked
    ("0.0.0.0", True, (), False),  # beyond loopback with keys: a rebound page cannot present a key
    ("0.0.0.0", True, ("kate.internal",), True),  # listed names turn the check on
    ("127.0.0.1", False, ("*",), False),  # "*": explicitly off
])
def test_when_the_host_is_checked(host: str, keys: bool, allowed: tuple[str, ...], checked: bool) -> None:
    guard = RequestGuard.from_config(ServerConfig(host=host, allowed_hosts=allowed), keys_required=keys)
    assert (guard.allowed_hosts is not None) == checked


def test_the_config_refuses_what_is_not_an_origin_or_a_host_name() -> None:
    for bad, dotted in ((("http://a.example/path",), "server.allowed_origins[0]"),
                        (("localhost:3000",), "server.allowed_origins[0]")):
        with pytest.raises(ConfigError, match=dotted.replace("[", r"\[").replace("]", r"\]")):
            load_config(overrides={"server.allowed_origins": list(bad)})
    with pytest.raises(ConfigError, match=r"server\.allowed_hosts\[1\]"):
        load_config(overrides={"server.allowed_hosts": ["kate.internal", "http://x"]})
    assert load_config(overrides={"server.allowed_origins": ["https://kate.example.com:8443"]}).server.allowed_origins
