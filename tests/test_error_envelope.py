"""Every endpoint answers errors in the one envelope: {"error": {"code", "message", "details"?}}.

The walk is driven by the route table, so a new route without an error case fails here.
OTLP routes (/v1/*) answer google.rpc.Status as the OTLP specification requires instead.
"""

from __future__ import annotations

import uuid
from typing import Any

from kate.collector.api.routes import ROUTES

from tests.support.http import Answer, Api

RUN = "/agents/{agent_id}/runs/{run_id}"

# (method, route) → requests that must fail: (path, JSON body or raw bytes, expected status)
ERROR_CASES: dict[tuple[str, str], list[tuple[str, Any, int]]] = {
    ("GET", "/agents"): [("/agents?limit=0", None, 400), ("/agents?cursor=nope", None, 400)],
    ("GET", "/agents/{agent_id}/runs"): [("/agents/a/runs?limit=x", None, 400)],
    ("GET", "/agents/{agent_id}/spans"): [("/agents/a/spans?order=fastest", None, 400), ("/agents/a/spans?cursor=x", None, 400)],
    ("GET", "/agents/{agent_id}/sessions"): [("/agents/a/sessions?limit=0", None, 400), ("/agents/a/sessions?cursor=x", None, 400)],
    ("GET", "/agents/{agent_id}/sessions/{session_id}/runs"): [("/agents/a/sessions/none/runs", None, 404),
                                                              ("/agents/a/sessions/s/runs?cursor=x", None, 400)],
    ("POST", "/agents/{agent_id}/runs"): [("/agents/a/runs", {"trigger": "no"}, 422), ("/agents/a/runs", b"{", 400)],
    ("POST", "/agents/{agent_id}/runs/enqueue"): [("/agents/a/runs/enqueue", {"trigger": "manual"}, 404)],
    ("GET", RUN): [(f"/agents/a/runs/{uuid.uuid4()}", None, 404), ("/agents/a/runs/x'%20OR%201=1", None, 404)],
    ("POST", f"{RUN}/complete"): [(f"/agents/a/runs/{uuid.uuid4()}/complete", None, 404)],
    ("POST", f"{RUN}/fail"): [(f"/agents/a/runs/{uuid.uuid4()}/fail", {"error": 3}, 422),
                              (f"/agents/a/runs/{uuid.uuid4()}/fail", None, 404)],
    ("POST", f"{RUN}/evaluate"): [(f"/agents/a/runs/{uuid.uuid4()}/evaluate", None, 404)],
    ("GET", "/jobs/{job_id}"): [(f"/jobs/{uuid.uuid4()}", None, 404), ("/jobs/not-a-job", None, 404)],
    ("GET", f"{RUN}/spans"): [(f"/agents/a/runs/{uuid.uuid4()}/spans", None, 404)],
    ("POST", f"{RUN}/spans"): [(f"/agents/a/runs/{uuid.uuid4()}/spans", {"spans": []}, 404),
                               (f"/agents/a/runs/{uuid.uuid4()}/spans", b"\xff\xfe", 400)],
    ("GET", "/export"): [("/export?table=spans", None, 400),
                         ("/export?table=x&since=2026-01-01T00:00:00Z&until=2026-01-02T00:00:00Z", None, 400)],
    ("POST", "/sql"): [("/sql", {"sql": "DELETE FROM runs"}, 422), ("/sql", {"sql": "SELEC 1"}, 400)],
    ("GET", "/sql/tables"): [("/sql/tables", None, 200)],  # 404 only with sql.enabled false
    ("GET", "/healthz"): [("/healthz?x=1", None, 200)],  # no error path: asserted healthy below
    ("GET", "/readyz"): [("/readyz", None, 200)],
    ("GET", "/openapi.json"): [("/openapi.json", None, 200)],
    ("GET", "/metrics"): [("/metrics?x=1", None, 200)],  # no error path: Prometheus text, not JSON
}
UNROUTED: list[tuple[str, str, Any, int]] = [
    ("GET", "/nope", None, 404),
    ("DELETE", "/agents/a/runs", None, 405),
    ("PUT", "/sql", None, 405),
    ("POST", "/sql/tables", None, 405),
]


def assert_envelope(answer: Answer, status: int) -> None:
    assert answer.status == status, answer.text
    assert answer.headers["Content-Type"].startswith("application/json")
    error = answer.body["error"]
    assert isinstance(error["code"], str) and error["code"]
    assert isinstance(error["message"], str) and error["message"]
    assert set(error) <= {"code", "message", "details"}
    for detail in error.get("details", []):
        assert isinstance(detail, dict)


def test_every_route_has_error_cases() -> None:
    routed = {(method, path) for method, path, _ in ROUTES if not path.startswith("/v1/")}
    assert routed == set(ERROR_CASES)


async def test_every_error_uses_the_envelope(api: Api) -> None:
    for (method, _route), cases in ERROR_CASES.items():
        for path, body, status in cases:
            raw = body if isinstance(body, bytes) else None
            answer = await api.call(method, path, None if raw is not None else body, raw=raw)
            if status == 200:
                assert answer.status == 200 and "error" not in (answer.body or {})
            else:
                assert_envelope(answer, status)
    for method, path, body, status in UNROUTED:
        assert_envelope(await api.call(method, path, body), status)


async def test_oversized_body_is_413_in_the_envelope(api: Api) -> None:
    huge = b'{"trigger": "' + b"x" * (21 * 1024 * 1024) + b'"}'
    answer = await api.call("POST", "/agents/a/runs", raw=huge)
    assert_envelope(answer, 413)
    assert answer.body["error"]["code"] == "payload_too_large"
