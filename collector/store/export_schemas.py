"""The columns and Arrow types of each exported table (docs/operations.md#export): the format of
`kate export` files, the same whichever engine holds the data (a test holds the DuckDB engine's
export to these). Every table ends with `day`, the UTC date of the row's placing timestamp."""

from __future__ import annotations

import pyarrow as pa
from kate.collector.store.span_batch import SPAN_SCHEMA
from kate.collector.store.values import ExportTable

_TIME = pa.timestamp("us")
_DAY = pa.field("day", pa.date32())

RUNS = pa.schema([
    ("run_id", pa.string()), ("agent_id", pa.string()), ("status", pa.string()), ("trigger", pa.string()),
    ("source", pa.string()), ("created_at", _TIME), ("started_at", _TIME), ("completed_at", _TIME),
    ("overall_score", pa.float64()), ("evaluation_status", pa.string()), ("user_input", pa.string()),
    ("output", pa.string()), ("error", pa.string()), ("job_id", pa.string()), ("evaluation_id", pa.string()),
    ("evaluation_requested_at", _TIME), ("span_count", pa.int64()), ("total_tokens", pa.int64()),
    ("total_cost_usd", pa.float64()), ("session_id", pa.string()), ("user_id", pa.string()), _DAY,
])
# The spans table's columns (span_batch.SPAN_SCHEMA), with received_at where the DuckDB table has it.
_SPAN_FIELDS = [field.with_nullable(True) for field in SPAN_SCHEMA]  # exported files mark every column nullable
_TRUNCATED = SPAN_SCHEMA.get_field_index("truncated")
SPANS = pa.schema([*_SPAN_FIELDS[: _TRUNCATED + 1], pa.field("received_at", _TIME), *_SPAN_FIELDS[_TRUNCATED + 1:], _DAY])
EVALUATIONS = pa.schema([
    ("run_id", pa.string()), ("evaluator", pa.string()), ("score", pa.float64()), ("details", pa.string()),
    ("created_at", _TIME), ("evaluation_id", pa.string()), ("agent_id", pa.string()), ("weight", pa.float64()),
    ("reason", pa.string()), _DAY,
])
GENAI_LOG_RECORDS = pa.schema([
    ("record_key", pa.string()), ("trace_id", pa.string()), ("span_id", pa.string()), ("agent_id", pa.string()),
    ("event_name", pa.string()), ("time_unix_nano", pa.int64()), ("request_index", pa.int32()),
    ("severity_text", pa.string()), ("body", pa.string()), ("attributes", pa.string()), ("resource", pa.string()),
    ("scope_name", pa.string()), ("received_at", _TIME), _DAY,
])

EXPORT_SCHEMAS = {ExportTable.RUNS: RUNS, ExportTable.SPANS: SPANS, ExportTable.EVALUATIONS: EVALUATIONS,
                  ExportTable.GENAI_LOG_RECORDS: GENAI_LOG_RECORDS}
