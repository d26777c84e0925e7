"""The web UI in a real browser against a real collector: data arrives over OTLP (the stock
OpenTelemetry exporter) and the JSON upload; then each view is used as a person would."""

from __future__ import annotations

import json
import re
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from kate.collector.auth import hash_key
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.trace import Status, StatusCode
from playwright.sync_api import expect

from tests.support.server import CollectorProcess, start_collector_process
from tests.ui.conftest import screenshot

REPO_ROOT = str(Path(__file__).resolve().parents[2])
ADMIN_KEY, SCOPED_KEY = "kate_ui_admin_key", "kate_ui_scoped_key"
CONFIG = {
    "evaluation": {"cooldown_s": 0},
    # The browser keeps connections open and a gated job may still run: a short stop at the end.
    "server": {"shutdown_timeout_s": 1},
    "jobs": {"poll_interval_ms": 100, "shutdown_grace_s": 0.5},
    "hosted_agents": [{"agent_id": "ui-hosted", "entrypoint": "tests.support.hosted_agents:echo", "timeout_s": 20},
                      {"agent_id": "ui-gated", "entrypoint": "tests.support.hosted_agents:gated", "timeout_s": 30}],
}
CHAT = json.dumps([{"role": "system", "content": "You plan content."},
                   {"role": "user", "content": "Plan a post about DuckDB"},
                   {"role": "assistant", "content": None,
                    "tool_calls": [{"function": {"name": "search_docs", "arguments": "{\"q\": \"duckdb\"}"}}]}])


def call(base_url: str, method: str, path: str, body: Any = None, key: str | None = None) -> Any:
    headers = {"Content-Type": "application/json", **({"Authorization": f"Bearer {key}"} if key else {})}
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(base_url + path, data=data, method=method, headers=headers)
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.load(response)


def send_otlp_run(base_url: str, agent_id: str) -> None:
    """A finished run over OTLP/HTTP: an AGENT root with an LLM child and a failing TOOL child."""
    provider = TracerProvider(resource=Resource.create({"service.name": agent_id}))
    provider.add_span_processor(SimpleSpanProcessor(OTLPSpanExporter(endpoint=f"{base_url}/v1/traces")))
    tracer = provider.get_tracer("ui-test")
    with tracer.start_as_current_span("plan", attributes={"openinference.span.kind": "AGENT", "input.value": "Write about DuckDB"}):
        with tracer.start_as_current_span("draft", attributes={
            "openinference.span.kind": "LLM", "llm.model_name": "gpt-ui-test",
            "llm.input_messages.0.message.role": "user", "llm.input_messages.0.message.content": "Draft the intro",
            "llm.output_messages.0.message.role": "assistant", "llm.output_messages.0.message.content": "DuckDB is fast.",
            "llm.token_count.prompt": 11, "llm.token_count.completion": 4, "llm.token_count.total": 15,
        }):
            pass
        with tracer.start_as_current_span("lookup", attributes={"openinference.span.kind": "TOOL"}) as tool:
            tool.set_status(Status(StatusCode.ERROR, "lookup timed out"))
    provider.shutdown()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CollectorProcess]:
    process = start_collector_process(tmp_path_factory.mktemp("ui") / "kate.duckdb", config=CONFIG,
                                      env={"PYTHONPATH": REPO_ROOT})
    send_otlp_run(process.base_url, "ui-otlp")
    for trigger in ("manual", "test"):
        run = call(process.base_url, "POST", "/agents/ui-upload/runs", {"trigger": trigger})
        call(process.base_url, "POST", f"/agents/ui-upload/runs/{run['id']}/spans", {"spans": [
            {"node_name": "respond", "span_kind": "LLM", "model": "claude-ui", "input_text": CHAT,
             "output_text": "Here is the plan.", "latency_ms": 1200, "token_count": 300,
             "attributes": {"temperature": 0.2}}]})
    yield process
    process.stop()


def test_runs_list_filter_run_detail_tree_and_llm_span(page: Any, server: CollectorProcess) -> None:
    page.goto(server.base_url + "/")
    expect(page.locator("#agent")).to_be_visible()
    page.select_option("#agent", "ui-otlp")
    rows = page.locator("table.runs tbody tr")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("completed")
    screenshot(page, "runs-list")

    page.select_option("#agent", "ui-upload")
    expect(rows).to_have_count(2)
    page.select_option("#f-trigger", "test")
    page.click("form.filters button[type=submit]")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("test")

    page.select_option("#agent", "ui-otlp")
    expect(page.locator("table.runs")).to_have_attribute("aria-label", "Runs of ui-otlp")
    rows.first.locator("a").click()
    tree = page.locator(".tree-scroll")
    expect(tree.locator(".tree-row")).to_have_count(3)
    tree.locator(".tree-row", has_text="plan").locator("button.toggle").click()  # collapse the root
    expect(tree.locator(".tree-row")).to_have_count(1)
    page.click("text=Expand all")
    expect(tree.locator(".tree-row")).to_have_count(3)
    expect(tree.locator(".tree-row.error")).to_contain_text("lookup")

    tree.locator(".tree-row", has_text="draft").click()
    pane = page.locator(".span-pane")
    expect(pane.locator("[data-fact=Model]")).to_have_text("gpt-ui-test")
    expect(pane.locator("[data-fact=Tokens]")).to_contain_text("15")
    expect(pane.locator("section.io").first).to_contain_text("Draft the intro")
    expect(pane.locator(".msg.role-user")).to_contain_text("Draft the intro")
    expect(pane).to_contain_text("DuckDB is fast.")
    screenshot(page, "run-detail")


def test_chat_messages_and_tool_calls_render_by_role(page: Any, server: CollectorProcess) -> None:
    run = call(server.base_url, "GET", "/agents/ui-upload/runs?trigger=manual")["runs"][0]
    page.goto(f"{server.base_url}/ui/#/agents/ui-upload/runs/{run['id']}")
    page.locator(".tree-row", has_text="respond").click()
    pane = page.locator(".span-pane")
    expect(pane.locator(".msg.role-system")).to_contain_text("You plan content.")
    expect(pane.locator(".tool-call")).to_contain_text("search_docs")
    page.fill("#attr-search", "temperature")
    expect(pane.locator("table.kv tr")).to_have_count(1)
    screenshot(page, "span-detail")


def test_a_running_runs_new_span_appears_without_reload(page: Any, server: CollectorProcess) -> None:
    run = call(server.base_url, "POST", "/agents/ui-live/runs", {"trigger": "manual"})
    path = f"/agents/ui-live/runs/{run['id']}"
    call(server.base_url, "POST", f"{path}/spans", {"spans": [{"node_name": "first-step"}]})
    page.goto(f"{server.base_url}/ui/#{path}")
    expect(page.locator(".tree-row")).to_have_count(1)
    page.evaluate("window.__marker = 'same page'")
    call(server.base_url, "POST", f"{path}/spans", {"spans": [{"node_name": "second-step", "span_kind": "TOOL"}]})
    expect(page.locator(".tree-row", has_text="second-step")).to_be_visible()
    page.click("button:text('Complete')")
    expect(page.locator(".run-head [data-fact=Status]")).to_have_text("completed")
    expect(page.locator(".run-head [data-fact=Score]")).to_have_text(re.compile(r"^\d\.\d\d$"))  # evaluated meanwhile
    expect(page.locator("table.scores")).to_contain_text("no_error_spans")
    assert page.evaluate("window.__marker") == "same page"


def test_enqueue_a_hosted_run_and_watch_it_finish(page: Any, server: CollectorProcess, tmp_path: Path) -> None:
    gate = tmp_path / "gate"  # the gated agent runs until this file exists
    page.goto(server.base_url + "/ui/#/hosted")
    page.select_option("#h-agent", "ui-gated")
    page.fill("#h-input", str(gate))
    page.click("text=Enqueue run")
    job = page.locator("li.job").first
    expect(job.locator(".badge")).to_have_text("running", timeout=30_000)
    expect(job.locator(".steps li.reached")).to_have_text(["queued", "running"])
    gate.touch()
    expect(job.locator(".badge")).to_have_text("succeeded", timeout=30_000)
    expect(job.locator(".steps li.reached")).to_have_text(["queued", "running", "succeeded"])
    screenshot(page, "hosted")
    job.locator("text=Open the run").click()
    expect(page.locator(".run-head")).to_contain_text("the gate opened")
    expect(page.locator(".tree-row", has_text="wait_for_gate")).to_be_visible()


def test_sql_query_table_and_csv_download(page: Any, server: CollectorProcess, tmp_path: Path) -> None:
    page.goto(server.base_url + "/ui/#/sql")
    expect(page.locator("label[for=sql]")).to_contain_text("in DuckDB SQL")  # the engine's, from GET /sql/tables
    expect(page.locator("aside.views li")).to_have_count(11)
    page.click("aside.views button:text-is('sessions')")
    expect(page.locator("#sql")).to_have_value("SELECT * FROM sessions LIMIT 100")
    page.fill("#sql", "SELECT agent_id, count(*) AS runs FROM runs WHERE agent_id LIKE 'ui-%' GROUP BY 1 ORDER BY 1")
    page.click("text=Run query")
    expect(page.locator("table.sql-result tbody tr").first).to_contain_text("ui-")
    screenshot(page, "sql")
    with page.expect_download() as download:
        page.click("text=Download CSV")
    saved = tmp_path / "result.csv"
    download.value.save_as(saved)
    lines = saved.read_text().splitlines()
    assert lines[0] == "agent_id,runs"
    assert any(re.fullmatch(r"ui-otlp,1", line) for line in lines)


SPANS_PER_DAY = {"2026-11-26": 3, "2026-11-27": 1, "2026-11-28": 4, "2026-11-29": 2, "2026-11-30": 6}
SPANS_PER_DAY_SQL = ("SELECT CAST(start_time AS DATE) AS day, count(*) AS spans FROM span_details"
                     " WHERE agent_id = 'ui-chart' GROUP BY 1 ORDER BY 1")


def test_sql_chart_draws_spans_per_day_as_bars_and_as_a_line(page: Any, server: CollectorProcess) -> None:
    run = call(server.base_url, "POST", "/agents/ui-chart/runs", {"trigger": "test"})
    call(server.base_url, "POST", f"/agents/ui-chart/runs/{run['id']}/spans", {"spans": [
        {"node_name": f"step-{i}", "start_time": f"{day}T{10 + i:02d}:00:00Z"}
        for day, count in SPANS_PER_DAY.items() for i in range(count)]})
    days, counts = list(SPANS_PER_DAY), list(SPANS_PER_DAY.values())
    refused = []  # a style or script the CSP blocks shows up as a console error
    page.on("console", lambda msg: refused.append(msg.text) if msg.type == "error" else None)
    page.goto(server.base_url + "/ui/#/sql")
    page.fill("#sql", SPANS_PER_DAY_SQL)
    page.click("text=Run query")
    expect(page.locator("table.sql-result tbody tr")).to_have_count(5)
    expect(page.locator("#chart-x")).to_have_value("0")  # defaults: the date column over the first number
    expect(page.locator("#chart-y")).to_have_value("1")
    expect(page.locator("label[for=chart-kind]")).to_have_text("Chart")

    page.select_option("#chart-kind", "bar")
    chart = page.locator("figure.chart svg.chart-svg")
    bars = chart.locator("rect.chart-bar")
    expect(bars).to_have_count(5)
    expect(chart).to_have_attribute("role", "img")
    expect(chart).to_have_attribute("aria-label", "Bar chart of spans by day, 5 bars: day from 2026-11-26 to 2026-11-30"
                                                  " (UTC), spans from 1 to 6.")
    expect(chart.locator(".x-axis .tick-label")).to_have_text(days)
    y_ticks = [float(label) for label in chart.locator(".y-axis .tick-label").all_text_contents()]
    assert y_ticks[0] == 0 and y_ticks[-1] >= 6 and y_ticks == sorted(y_ticks)
    heights = [float(bar.get_attribute("height")) for bar in bars.all()]
    assert [h / heights[-1] * 6 for h in heights] == pytest.approx(counts, abs=0.01)  # each bar as tall as its count
    light_fill = bars.first.evaluate("bar => getComputedStyle(bar).fill")
    screenshot(page, "sql-chart-bar")

    page.select_option("#chart-kind", "line")
    line = chart.locator("path.chart-line")
    expect(line).to_have_attribute("d", re.compile(r"^M[\d.]+,[\d.]+( L[\d.]+,[\d.]+){4}$"))  # one point per row
    points = [tuple(map(float, xy.split(","))) for xy in re.findall(r"[\d.]+,[\d.]+", line.get_attribute("d"))]
    assert [x for x, _ in points] == sorted(x for x, _ in points)
    assert sorted(range(5), key=lambda i: -points[i][1]) == sorted(range(5), key=lambda i: counts[i])  # higher is more
    expect(chart.locator(".x-axis .tick-label")).to_have_text(days)  # one tick a day, UTC
    expect(chart.locator(".x-axis .axis-title")).to_have_text("day (UTC)")
    expect(page.locator("figure.chart figcaption")).to_have_text("5 points from 5 rows.")
    page.emulate_media(color_scheme="dark")
    assert chart.locator("circle.chart-dot").first.evaluate("dot => getComputedStyle(dot).fill") != light_fill
    screenshot(page, "sql-chart-line-dark")
    assert not refused


def test_sql_chart_skips_nulls_caps_the_points_and_explains_what_it_cannot_draw(
    page: Any, server: CollectorProcess
) -> None:
    page.goto(server.base_url + "/ui/#/sql")
    page.fill("#sql", "SELECT i AS n, CASE WHEN i % 3 = 0 THEN NULL ELSE i * i END AS square FROM range(5000) t(i)")
    page.click("text=Run query")
    page.select_option("#chart-kind", "line")
    expect(page.locator("figure.chart figcaption")).to_have_text(re.compile(
        r"^2\D?000 points from 5\D?000 rows\. 1\D?667 rows skipped: square is null or not a number\."
        r" Only the first 2\D?000 of 3\D?333 drawn"))
    chart = page.locator("figure.chart svg.chart-svg")
    expect(chart).to_have_attribute("aria-label", re.compile(r"n from 1 to 2\D?999, square from 1 to "))
    assert len(re.findall("[ML]", chart.locator("path.chart-line").get_attribute("d"))) == 2000
    expect(chart.locator("circle.chart-dot")).to_have_count(0)  # too many points for a dot each
    screenshot(page, "sql-chart-capped")

    page.fill("#sql", "SELECT 1 AS n WHERE false")
    page.click("text=Run query")  # the chart kind stays chosen for the next query
    expect(page.locator("figure.chart")).to_have_text("No rows to chart.")
    page.fill("#sql", "SELECT 'only text' AS label")
    page.click("text=Run query")
    expect(page.locator("figure.chart")).to_contain_text("the Y axis needs a numeric column")
    expect(page.locator("#chart-kind")).to_have_value("line")


@pytest.fixture(scope="module")
def keyed_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CollectorProcess]:
    keys = [{"name": "admin", "sha256": hash_key(ADMIN_KEY)},
            {"name": "scoped", "sha256": hash_key(SCOPED_KEY), "agents": ["visible"]}]
    process = start_collector_process(tmp_path_factory.mktemp("ui-keys") / "kate.duckdb",
                                      config={"auth": {"keys": keys}, "server": {"shutdown_timeout_s": 1}})
    for agent in ("visible", "hidden"):
        call(process.base_url, "POST", f"/agents/{agent}/runs", {"trigger": "manual"}, key=ADMIN_KEY)
    yield process
    process.stop()


def test_with_keys_the_ui_asks_for_one_and_shows_only_permitted_agents(page: Any, keyed_server: CollectorProcess) -> None:
    page.goto(keyed_server.base_url + "/")
    expect(page.locator("#api-key")).to_be_visible()
    screenshot(page, "key-prompt")
    page.fill("#api-key", SCOPED_KEY)
    page.click("text=Continue")
    expect(page.locator("#agent option")).to_have_count(1)
    expect(page.locator("#agent")).to_have_value("visible")
    assert page.evaluate("sessionStorage.getItem('kate.apiKey')") == SCOPED_KEY
    assert page.evaluate("localStorage.length") == 0


def test_screenshots_of_a_hosted_agents_runs_in_light_and_dark(browser: Any, server: CollectorProcess) -> None:
    """The README's runs-list picture: finished runs with input and output; and the dark theme."""
    inputs = ("Plan a launch post for the DuckDB 2.0 release", "Summarise yesterday's support tickets",
              "Draft a reply to the pricing question")
    run_ids = [call(server.base_url, "POST", "/agents/ui-hosted/runs/enqueue", {"trigger": "manual", "user_input": text})["run_id"]
               for text in inputs]
    for scheme in ("light", "dark"):
        context = browser.new_context(viewport={"width": 1440, "height": 900}, color_scheme=scheme)
        tab = context.new_page()
        tab.goto(server.base_url + "/ui/#/agents/ui-hosted/runs")
        tab.reload()  # the hash route survives a reload
        for run_id in run_ids:  # the list refreshes itself until every run has finished
            expect(tab.locator(f"a[title='{run_id}']").locator("xpath=../..")).to_contain_text("completed", timeout=30_000)
        screenshot(tab, f"runs-list-hosted-{scheme}")
        inputs_shown = tab.locator("table.runs tbody tr td:nth-child(9)")  # after the Cost column
        tab.click("th button:text('Input')")  # sortable columns: descending first, then ascending
        expect(tab.locator("th[aria-sort=descending]")).to_have_text("Input ▼")
        expect(inputs_shown).to_have_text(sorted(inputs, reverse=True))
        tab.click("th button:text('Input')")
        expect(inputs_shown).to_have_text(sorted(inputs))
        tab.fill("#f-q", "PRICING")  # server-side search in input and output
        tab.click("form.filters button[type=submit]")
        expect(tab.locator("table.runs tbody tr")).to_have_count(1)
        expect(tab.locator("table.runs tbody tr")).to_contain_text("Draft a reply to the pricing question")
        tab.locator(f"a[title='{run_ids[2]}']").click()
        tab.locator(".tree-row", has_text="draft").click()
        expect(tab.locator(".span-pane [data-fact=Model]")).to_have_text("fake-model")
        screenshot(tab, f"run-detail-hosted-{scheme}")
        context.close()


def test_a_run_of_10000_spans_renders_only_the_rows_in_view(page: Any, server: CollectorProcess) -> None:
    run = call(server.base_url, "POST", "/agents/ui-big/runs", {"trigger": "test"})
    spans = [{"node_name": "root", "span_kind": "AGENT", "span_id": "f" * 16, "start_time": "2026-12-01T10:00:00Z",
              "end_time": "2026-12-01T10:10:00Z"}]
    for group in range(99):
        group_id = f"{group + 1:016x}"
        spans.append({"node_name": f"step-{group}", "span_kind": "CHAIN", "span_id": group_id, "parent_span_id": "f" * 16,
                      "start_time": f"2026-12-01T10:{group // 60:02d}:{group % 60:02d}Z"})
        spans += [{"node_name": f"call-{group}-{i}", "span_kind": "LLM" if i % 2 else "TOOL", "span_id": f"{(group + 1) * 1000 + i:016x}",
                   "parent_span_id": group_id, "latency_ms": i, "token_count": i,
                   "status": "ERROR" if i == 7 else "OK"} for i in range(100)]
    assert len(spans) == 10_000
    call(server.base_url, "POST", f"/agents/ui-big/runs/{run['id']}/spans", {"spans": spans})

    started = time.monotonic()
    page.goto(f"{server.base_url}/ui/#/agents/ui-big/runs/{run['id']}")
    rows = page.locator(".tree-scroll .tree-row")
    expect(rows.first).to_contain_text("root")
    first_ms = (time.monotonic() - started) * 1000  # navigation, the first page of spans drawn
    expect(page.locator(".tree-tools h2")).to_have_text("Spans (10,000)", timeout=30_000)
    opened_ms = (time.monotonic() - started) * 1000  # all 10 pages loaded and the tree rebuilt
    inner = page.locator(".tree-inner")
    expect(inner).to_have_attribute("style", re.compile(r"height: 3000px"))  # root + 99 groups: two levels open
    assert 10 < rows.count() < 60  # of those 100 rows only the ones in view (+ overscan) exist

    toggled = page.evaluate("""() => { const t0 = performance.now();
        [...document.querySelectorAll('.tree-tools button')].find(b => b.textContent === 'Expand all').click();
        return performance.now() - t0; }""")
    expect(inner).to_have_attribute("style", re.compile(r"height: 300000px"))  # all 10,000 rows open
    assert rows.count() < 60  # but only those in view (+ overscan) exist
    scrolled = page.evaluate("""() => new Promise(done => { const s = document.querySelector('.tree-scroll');
        const t0 = performance.now(); s.scrollTop = s.scrollHeight / 2;
        requestAnimationFrame(() => requestAnimationFrame(() => done(performance.now() - t0))); })""")
    expect(rows.first).not_to_contain_text("root")
    assert rows.count() < 60
    page.locator(".tree-scroll").focus()
    page.keyboard.press("End")  # keyboard navigation reaches the last of 10,000 rows and opens it
    expect(page.locator(".span-pane h2")).to_contain_text("call-98-99")
    page.keyboard.press("ArrowUp")
    expect(page.locator(".span-pane h2")).to_contain_text("call-98-98")
    print(f"\n10,000 spans: first rows {first_ms:.0f} ms, all loaded {opened_ms:.0f} ms,"
          f" expand all {toggled:.1f} ms, scroll to middle {scrolled:.1f} ms")


def test_spans_across_runs_slowest_llm_call_opens_in_its_run(page: Any, server: CollectorProcess) -> None:
    page.goto(server.base_url + "/ui/#/agents/ui-otlp/runs")
    page.click("text=Spans across runs (slowest first)")
    rows = page.locator("table.spans tbody tr")
    expect(rows).to_have_count(3)
    expect(rows.first).to_contain_text("plan")  # the root lasts longest
    page.select_option("#s-span_kind", "LLM")
    page.click("form.filters button[type=submit]")
    expect(rows).to_have_count(1)
    screenshot(page, "spans-across-runs")
    rows.first.locator("a").click()
    expect(page.locator(".tree-row.selected")).to_contain_text("draft")
    expect(page.locator(".span-pane [data-fact=Model]")).to_have_text("gpt-ui-test")


def test_cost_in_dollars_shows_in_the_runs_list_the_run_and_the_span(page: Any, server: CollectorProcess) -> None:
    run = call(server.base_url, "POST", "/agents/ui-cost/runs", {"trigger": "manual", "session_id": "chat-7"})
    call(server.base_url, "POST", f"/agents/ui-cost/runs/{run['id']}/spans", {"spans": [
        {"node_name": "answer", "span_kind": "LLM", "model": "gpt-4o", "input_tokens": 1_000_000, "output_tokens": 100_000},
        {"node_name": "mystery", "span_kind": "LLM", "model": "no-such-model", "input_tokens": 10, "output_tokens": 10},
    ]})
    total = call(server.base_url, "GET", f"/agents/ui-cost/runs/{run['id']}")["total_cost_usd"]
    assert total == pytest.approx(3.5)  # gpt-4o: $2.50 per million input, $10 per million output tokens

    page.goto(server.base_url + "/ui/#/agents/ui-cost/runs")
    expect(page.locator("table.runs tbody tr").first.locator("td.cost")).to_have_text("$3.50")
    page.locator("table.runs tbody tr").first.locator("a").click()
    expect(page.locator("[data-fact=Cost]").first).to_have_text("$3.50")
    expect(page.locator("[data-fact=Session]").first).to_have_text("chat-7")
    tree = page.locator(".tree-scroll")
    tree.locator(".tree-row", has_text="answer").click()
    expect(page.locator(".span-pane [data-fact=Cost]")).to_have_text("$3.50 (in $2.50, out $1.00)")
    tree.locator(".tree-row", has_text="mystery").click()
    expect(page.locator(".span-pane [data-fact=Cost]")).to_have_text("no price known")


def test_runs_list_refresh_keeps_keyboard_focus_and_sql_is_refused_for_a_scoped_key(
    page: Any, keyed_server: CollectorProcess
) -> None:
    page.goto(keyed_server.base_url + "/ui/")
    page.fill("#api-key", ADMIN_KEY)
    page.keyboard.press("Enter")
    page.select_option("#agent", "visible")
    expect(page.locator("table.runs")).to_have_attribute("aria-label", "Runs of visible")
    rows = page.locator("table.runs tbody tr")
    expect(rows).to_have_count(1)
    first_link = rows.first.locator("a")
    first_id = first_link.get_attribute("title")
    first_link.focus()
    call(keyed_server.base_url, "POST", "/agents/visible/runs", {"trigger": "test"}, key=ADMIN_KEY)
    expect(rows).to_have_count(2)  # the list refreshed itself, redrawing the rows
    assert page.evaluate("document.activeElement.getAttribute('title')") == first_id

    page.evaluate("key => sessionStorage.setItem('kate.apiKey', key)", SCOPED_KEY)
    page.goto(keyed_server.base_url + "/ui/#/sql")
    page.click("text=Run query")
    expect(page.locator(".sql-out [role=alert]")).to_contain_text("403 forbidden")


def test_sessions_list_and_a_session_read_as_a_conversation(page: Any, server: CollectorProcess) -> None:
    """Two OTLP runs of one conversation (OpenInference session.id/user.id on their root spans)."""
    provider = TracerProvider(resource=Resource.create({"service.name": "ui-sessions"}))
    provider.add_span_processor(SimpleSpanProcessor(OTLPSpanExporter(endpoint=f"{server.base_url}/v1/traces")))
    tracer = provider.get_tracer("ui-test")
    for question, answer in [("What is the capital of France?", "Paris."), ("And of Italy?", "Rome.")]:
        attributes = {"openinference.span.kind": "AGENT", "session.id": "chat-42", "user.id": "ada",
                      "input.value": question, "output.value": answer}
        with tracer.start_as_current_span("turn", attributes=attributes):
            pass
    provider.shutdown()
    call(server.base_url, "POST", "/agents/ui-sessions/runs", {"trigger": "manual"})  # no session: not listed

    page.goto(server.base_url + "/ui/#/agents/ui-sessions/runs")
    page.click("text=Sessions")
    rows = page.locator("table.sessions tbody tr")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("chat-42")
    expect(rows.first).to_contain_text("ada")
    rows.first.locator("a", has_text="chat-42").click()
    items = page.locator("ol.turns > li")
    expect(items).to_have_count(2)
    expect(items.first.locator(".role-user .text")).to_have_text("What is the capital of France?")  # oldest first
    expect(items.last.locator(".role-assistant .text")).to_have_text("Rome.")
    expect(page.locator("[data-fact=User]")).to_have_text("ada")
    screenshot(page, "session")
    items.last.locator("a").first.click()  # the second turn opens its run, which links back
    expect(page.locator("[data-fact=Session] a")).to_have_text("chat-42")
    page.locator("[data-fact=Session] a").click()
    expect(page.locator("ol.turns > li")).to_have_count(2)
