"""GenAI log records on the clickhouse engine, and their content folded into the spans they name
(docs/mapping.md#genai-content-in-log-records; the DuckDB engine's rules, duckdb/genai_logs.py).

The records live on ClickHouse (schema/clickhouse/genai_log_records.sql); the spans they wait
for are marked on PostgreSQL (postgres/genai_pending.py). A span's texts are rendered from all
of its records, so the result does not depend on the order in which span and records arrive.

Folding rewrites a stored span, and ClickHouse rewrites by inserting: the span is inserted again
with its new texts and fold_version = the number of records rendered into it, and the spans
table keeps the copy with the highest version (ReplacingMergeTree(fold_version)). Records are
only ever added, so a fold that read more records read a superset of what any fold with fewer
read: whichever of two collectors folding at once finishes last, the fuller copy wins, and a
retry of the span as it was first sent (version 0) never does. log_texts remembers which texts
came from records, so a later fold still tells the span's own text from log content.

No record is missed when span and records reach different collectors at once. Each side first
writes what it brought, then looks for the other:
- records: insert them (ClickHouse), mark their spans as awaited (PostgreSQL, committed), then
  read the spans and fold those found;
- spans: insert them (ClickHouse), then read the marks (PostgreSQL) and fold those awaited.
Whichever looks second sees what the other wrote. A fold that stops half way is repeated by the
sender's retry (the mark is removed only after its span is folded), and folding is idempotent.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from kate.collector import metrics
from kate.collector.ingest.decode_logs import GenAiLogRecord
from kate.collector.store.clickhouse import spans as ch_spans
from kate.collector.store.clickhouse.client import ClickHouseClient, quote, quote_list
from kate.collector.store.clickhouse.schema import RECORDS, RECORDS_LOCAL, SPANS
from kate.collector.store.duckdb.run_texts import RunTexts, texts_of
from kate.collector.store.genai_folding import (
    FOLD_EARLY_NS,
    FOLD_LATE_NS,
    SpanKey,
    Window,
    is_own_text,
    stored_event,
    within_window,
)
from kate.schema.mapping import map_event_content
from kate.schema.record import SpanEvent

INPUT_FROM_LOGS, OUTPUT_FROM_LOGS = 1, 2  # the bits of spans.log_texts
_INSERT_SETTINGS = {"insert_distributed_sync": "1"}


async def store_records(client: ClickHouseClient, records: Sequence[GenAiLogRecord], received_at: dt.datetime) -> int:
    """Insert the records not stored yet (a retried export's are); how many were new."""
    known = await client.json_rows(
        f"SELECT DISTINCT record_key FROM {RECORDS} PREWHERE trace_id IN {quote_list(_distinct(r.trace_id for r in records))}"
        f" WHERE record_key IN {quote_list(_distinct(r.record_key for r in records))}")
    stored = {row["record_key"] for row in known}
    new: dict[str, GenAiLogRecord] = {}
    for record in records:
        if record.record_key not in stored:
            new.setdefault(record.record_key, record)
    if new:
        received = received_at.strftime("%Y-%m-%d %H:%M:%S")
        lines = [json.dumps({**record._asdict(), "received_at": received, "record_day": ch_spans.utc_day(record.time_unix_nano)},
                            ensure_ascii=False) for record in new.values()]
        await client.store(f"INSERT INTO {RECORDS} FORMAT JSONEachRow", data=("\n".join(lines) + "\n").encode(),
                           settings=_INSERT_SETTINGS)
    return len(new)


@dataclass(frozen=True, slots=True)
class Folded:
    """What a fold did: the awaited spans it found, and the runs whose root spans changed."""

    found: list[SpanKey]
    run_texts: dict[str, RunTexts]  # the recomputed user_input and output of those runs


async def fold(client: ClickHouseClient, windows: Mapping[SpanKey, Window], max_text_bytes: int) -> Folded:
    """Render the stored spans among these keys from all their records, inserting again each span
    that more records reached than its stored copy holds."""
    if not windows:
        return Folded([], {})
    spans = await _stored_spans(client, windows)
    if not spans:
        return Folded([], {})
    records = await _records_of(client, spans)
    refolded = []
    for key, span in spans.items():
        events = [event for event in records.get(key, []) if within_window(event.time_unix_nano, span["start_ns"])]
        if len(events) > span["fold_version"]:
            refolded.append(_refolded(span, events, max_text_bytes))
    if refolded:
        lines = [json.dumps(row, ensure_ascii=False) for row in refolded]
        await client.store(f"INSERT INTO {SPANS} FORMAT JSONEachRow", data=("\n".join(lines) + "\n").encode(),
                           settings=_INSERT_SETTINGS)
        metrics.GENAI_LOG_FOLDS.inc(len(refolded))
    # A root span's texts are its run's user_input and output: recomputed from every stored root.
    runs = sorted({row["run_id"] for row in refolded if row["parent_span_id"] is None})
    texts = texts_of(await ch_spans.stored_roots(client, runs)) if runs else {}
    return Folded(list(spans), texts)


def _refolded(span: dict[str, Any], events: Sequence[SpanEvent], max_text_bytes: int) -> dict[str, Any]:
    """The stored span with its texts rendered from `events`, where it did not carry its own."""
    content = map_event_content(events, max_text_bytes=max_text_bytes)
    from_logs = span["log_texts"]
    row = dict(span)
    log_texts = 0
    for column, bit, rendered in (("input_text", INPUT_FROM_LOGS, content.input_text),
                                  ("output_text", OUTPUT_FROM_LOGS, content.output_text)):
        if from_logs & bit or not is_own_text(span[column]):
            row[column] = rendered
            log_texts |= bit if rendered is not None else 0
    row["truncated"] = 1 if span["truncated"] or content.truncated else 0
    row["fold_version"] = len(events)
    row["log_texts"] = log_texts
    return row


async def _stored_spans(client: ClickHouseClient, windows: Mapping[SpanKey, Window]) -> dict[SpanKey, dict[str, Any]]:
    """The stored spans of these keys (every column, the latest copy) that started within the
    records' window: from FOLD_LATE_NS before their first record to FOLD_EARLY_NS after their last."""
    start_from = min(first for first, _ in windows.values()) - FOLD_LATE_NS
    start_to = max(last for _, last in windows.values()) + FOLD_EARLY_NS
    keys = list(windows)
    rows = await client.json_rows(
        f"SELECT * FROM {SPANS} FINAL PREWHERE trace_id IN {quote_list(_distinct(key.trace_id for key in keys))}"
        f" WHERE (trace_id, span_id, agent_id) IN {_tuples(keys)}"
        f" AND start_day BETWEEN toDate({quote(ch_spans.utc_day(start_from))}) AND toDate({quote(ch_spans.utc_day(start_to))})"
        f" AND start_time_unix_nano BETWEEN {int(start_from)} AND {int(start_to)}")
    return {SpanKey(row["trace_id"], row["span_id"], row["agent_id"]): row for row in rows}


async def _records_of(client: ClickHouseClient, spans: Mapping[SpanKey, dict[str, Any]]) -> dict[SpanKey, list[SpanEvent]]:
    """Each span's records as span events, in time order (ties: received, then request position)."""
    starts = [span["start_ns"] for span in spans.values()]
    time_from, time_to = min(starts) - FOLD_EARLY_NS, max(starts) + FOLD_LATE_NS
    keys = list(spans)
    rows = await client.json_rows(
        f"SELECT agent_id, trace_id, span_id, record_key, event_name, time_unix_nano, attributes, body FROM {RECORDS} FINAL"
        f" PREWHERE trace_id IN {quote_list(_distinct(key.trace_id for key in keys))}"
        f" WHERE (trace_id, span_id, agent_id) IN {_tuples(keys)}"
        f" AND record_day BETWEEN toDate({quote(ch_spans.utc_day(time_from))}) AND toDate({quote(ch_spans.utc_day(time_to))})"
        f" AND time_unix_nano BETWEEN {int(time_from)} AND {int(time_to)}"
        " ORDER BY time_unix_nano, received_at, request_index")
    events: dict[SpanKey, list[SpanEvent]] = {}
    for row in rows:
        key = SpanKey(row["trace_id"], row["span_id"], row["agent_id"])
        events.setdefault(key, []).append(
            stored_event(row["event_name"], row["time_unix_nano"], row["attributes"], row["body"]))
    return events


async def delete_records_of_runs(client: ClickHouseClient, run_ids: Sequence[str]) -> None:
    """Delete the records of the runs' spans (retention, before it deletes those spans): one
    ALTER ... DELETE mutation per node, only when some of the spans have records. The spans are
    named as literals: a mutation runs in the background, after the spans themselves are gone."""
    if not run_ids:
        return
    pairs = await client.json_rows(
        f"SELECT DISTINCT trace_id, span_id FROM {RECORDS} WHERE (trace_id, span_id) GLOBAL IN"
        f" (SELECT trace_id, span_id FROM {SPANS} PREWHERE run_id IN {quote_list(list(run_ids))})")
    if pairs:
        local = RECORDS_LOCAL if client.config.cluster is not None else RECORDS
        spans = _tuples([(pair["trace_id"], pair["span_id"]) for pair in pairs])
        await client.on_every_node(f"ALTER TABLE {client.config.database}.{local} DELETE WHERE (trace_id, span_id) IN {spans}")


def _tuples(rows: Sequence[tuple[str, ...]]) -> str:
    """A literal set of tuples for `(a, b) IN ...`; at least two, so that one tuple is not read
    as a tuple of scalars."""
    listed = list(rows) if len(rows) != 1 else [rows[0], rows[0]]
    return "(" + ", ".join("(" + ", ".join(quote(value) for value in row) + ")" for row in listed) + ")"


def _distinct(values: Any) -> list[str]:
    return sorted(set(values))
