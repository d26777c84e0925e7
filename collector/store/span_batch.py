"""Spans on their way to the store: one Arrow table per request, built where it was decoded.

A decode worker turns the SpanRecords of a request into an Arrow IPC stream (columnar, typed
once), and the writer inserts the group's streams with one INSERT ... SELECT that DuckDB runs
over the Arrow buffers without holding the GIL: in the collector process the rows are never
Python objects again (measured: 28 against 41 us of collector CPU a span for the Appender it
replaces, and no unpickling of records). The few facts a write op needs about the runs ride
along as plain values, per (run, agent): the writer decides there which agent owns a run.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import NamedTuple, get_args, get_type_hints

import pyarrow as pa
from kate.schema.record import SPAN_COLUMNS, SpanRecord

_ARROW_TYPES = {str: pa.string(), int: pa.int64(), float: pa.float64(), bool: pa.bool_()}
_RECORD_OVERHEAD_BYTES = 400  # ids, numbers and the row's share of the columns' buffers


def _arrow_schema() -> pa.Schema:
    """The spans columns as Arrow fields, typed from SpanRecord's annotations (one source)."""
    hints = get_type_hints(SpanRecord)
    fields = []
    for name in SPAN_COLUMNS:
        types = get_args(hints[name]) or (hints[name],)  # `str | None` or `str`
        (base,) = [kind for kind in types if kind is not type(None)]
        fields.append(pa.field(name, _ARROW_TYPES[base], nullable=type(None) in types))
    return pa.schema(fields)


SPAN_SCHEMA = _arrow_schema()


class RunSpanStats(NamedTuple):
    spans: int
    tokens: int  # the sum of token_count (spans without one add nothing)
    cost_usd: float | None = None  # the sum of cost_usd; None when no span has one
    session_id: str | None = None  # the first span's with one, for a run that has none yet
    user_id: str | None = None


class RunKey(NamedTuple):
    """A run as a batch names it: one agent's spans for one run id."""

    run_id: str
    agent_id: str


class RunLink(NamedTuple):
    """What a batch holds for one RunKey."""

    spans: int
    tokens: int
    rooted: bool  # a root span (no parent) is among them
    cost_usd: float | None = None  # the sum of the spans' cost_usd; None when none has one
    session_id: str | None = None  # the first session_id among them
    user_id: str | None = None


# What RunLinks are counted from.
_LINK_COLUMNS = ("run_id", "agent_id", "parent_span_id", "token_count", "cost_usd", "session_id", "user_id")
_LINK_INDEXES = tuple(SPAN_COLUMNS.index(name) for name in _LINK_COLUMNS)


@dataclass(frozen=True, slots=True)
class SpanBatch:
    """The spans of one request, ready for the writer; cheap to pickle (bytes and small dicts)."""

    arrow_ipc: bytes  # an Arrow IPC stream of SPAN_SCHEMA; empty when count == 0
    count: int
    weight_bytes: int  # memory the batch holds while queued (the write queue's byte bound)
    links: dict[RunKey, RunLink]  # in order of first appearance: the first agent naming a run comes first
    # One byte per row, 1 where the run id was derived from the trace id rather than given
    # (kate.run.id, or the upload's path); empty when every row's was given.
    derived_run_rows: bytes = b""

    @classmethod
    def of(cls, records: Sequence[SpanRecord], derived_run_rows: bytes = b"") -> SpanBatch:
        if not records:
            return cls(b"", 0, 0, {})
        columns = list(zip(*records, strict=True))
        table = pa.Table.from_arrays(
            [pa.array(column, type=field.type) for column, field in zip(columns, SPAN_SCHEMA, strict=True)],
            schema=SPAN_SCHEMA,
        )
        return cls._of(table, [columns[index] for index in _LINK_INDEXES], derived_run_rows)

    @classmethod
    def of_table(cls, table: pa.Table, derived_run_rows: bytes = b"") -> SpanBatch:
        """A batch of an Arrow table of SPAN_SCHEMA (e.g. another batch's rows, re-keyed)."""
        if not table.num_rows:
            return cls(b"", 0, 0, {})
        return cls._of(table, [table.column(name).to_pylist() for name in _LINK_COLUMNS], derived_run_rows)

    @classmethod
    def _of(cls, table: pa.Table, link_columns: Sequence[Sequence[object]], derived_run_rows: bytes) -> SpanBatch:
        sink = pa.BufferOutputStream()
        with pa.ipc.new_stream(sink, SPAN_SCHEMA) as writer:
            writer.write_table(table)
        ipc = sink.getvalue().to_pybytes()
        return cls(
            arrow_ipc=ipc,
            count=table.num_rows,
            weight_bytes=len(ipc) + len(derived_run_rows) + _RECORD_OVERHEAD_BYTES * table.num_rows,
            links=_links(*link_columns),
            derived_run_rows=derived_run_rows,
        )

    @property
    def agent_ids(self) -> frozenset[str]:
        return frozenset(key.agent_id for key in self.links)

    @property
    def run_ids(self) -> list[str]:
        """The runs named, in order of first appearance."""
        return list(dict.fromkeys(key.run_id for key in self.links))

    @property
    def agent_by_run(self) -> dict[str, str]:
        """run_id -> the first agent naming it (the only one, once the writer settled ownership)."""
        owners: dict[str, str] = {}
        for key in self.links:
            owners.setdefault(key.run_id, key.agent_id)
        return owners

    @property
    def rooted_runs(self) -> frozenset[str]:
        """Runs with a root span (no parent) in this batch."""
        return frozenset(key.run_id for key, link in self.links.items() if link.rooted)

    @property
    def stats_by_run(self) -> dict[str, RunSpanStats]:
        """What this batch adds to each run's counters."""
        stats: dict[str, RunSpanStats] = {}
        for key, link in self.links.items():
            before = stats.get(key.run_id)
            if before is None:
                stats[key.run_id] = RunSpanStats(link.spans, link.tokens, link.cost_usd, link.session_id, link.user_id)
                continue
            stats[key.run_id] = RunSpanStats(
                before.spans + link.spans, before.tokens + link.tokens, _plus(before.cost_usd, link.cost_usd),
                before.session_id or link.session_id, before.user_id or link.user_id,
            )
        return stats

    def table(self) -> pa.Table:
        """The spans as an Arrow table over the IPC bytes (no copy)."""
        if not self.count:
            return SPAN_SCHEMA.empty_table()
        return pa.ipc.open_stream(self.arrow_ipc).read_all()


def _plus(total: float | None, amount: float | None) -> float | None:
    if amount is None:
        return total
    return amount if total is None else total + amount


class _Counting:
    """One RunLink while it is counted."""

    __slots__ = ("cost_usd", "rooted", "session_id", "spans", "tokens", "user_id")

    def __init__(self) -> None:
        self.spans = self.tokens = 0
        self.rooted = False
        self.cost_usd: float | None = None
        self.session_id: object = None
        self.user_id: object = None

    def link(self) -> RunLink:
        return RunLink(self.spans, self.tokens, self.rooted, self.cost_usd,
                       None if self.session_id is None else str(self.session_id),
                       None if self.user_id is None else str(self.user_id))


def _links(run_ids: Sequence[object], agent_ids: Sequence[object], parents: Sequence[object],
           tokens: Sequence[object], costs: Sequence[object], sessions: Sequence[object],
           users: Sequence[object]) -> dict[RunKey, RunLink]:
    counts: dict[tuple[object, object], _Counting] = {}
    for run_id, agent_id, parent, token_count, cost, session, user in zip(
        run_ids, agent_ids, parents, tokens, costs, sessions, users, strict=True
    ):
        link = counts.get((run_id, agent_id))
        if link is None:
            link = counts[(run_id, agent_id)] = _Counting()
        link.spans += 1
        link.tokens += token_count if isinstance(token_count, int) else 0
        link.rooted |= parent is None
        if isinstance(cost, float):
            link.cost_usd = cost if link.cost_usd is None else link.cost_usd + cost
        if link.session_id is None:
            link.session_id = session
        if link.user_id is None:
            link.user_id = user
    return {RunKey(str(run), str(agent)): counting.link() for (run, agent), counting in counts.items()}


def concatenated(batches: Sequence[SpanBatch]) -> pa.Table:
    """One table of every span of the batches, in order."""
    tables = [batch.table() for batch in batches if batch.count]
    if len(tables) == 1:
        return tables[0]
    return pa.concat_tables(tables) if tables else SPAN_SCHEMA.empty_table()
