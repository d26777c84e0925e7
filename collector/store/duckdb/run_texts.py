"""An OTLP run's user_input and output, taken from its root spans (the agent run's input and output).

The rule, the same whatever order root spans arrive in: user_input is the input text of the root
span that started first, output the output text of the root span that ended last (ties: trace
id, then span id; roots without that text are passed over). Runs of source otlp only.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import NamedTuple

import pyarrow as pa
import pyarrow.compute as pc
from kate.collector.store.duckdb.writer import WriteTxn
from kate.collector.store.span_batch import SpanBatch
from kate.collector.store.values import RunSource

_ROOT_COLUMNS = ("run_id", "trace_id", "span_id", "input_text", "output_text", "start_time_unix_nano",
                 "end_time_unix_nano")
_LATEST_NS = 2**63  # an unknown start sorts after every known one
# DuckDB scans every span unless `run_id = ?` is the only filter (span_reads.py): one run at a time.
_STORED_ROOTS = (f"WITH run_spans AS MATERIALIZED (SELECT {', '.join(_ROOT_COLUMNS)}, parent_span_id FROM spans"
                 f" WHERE run_id = ?) SELECT {', '.join(_ROOT_COLUMNS)} FROM run_spans WHERE parent_span_id IS NULL")


class RootSpan(NamedTuple):
    run_id: str
    trace_id: str
    span_id: str
    input_text: str | None
    output_text: str | None
    start_time_unix_nano: int | None
    end_time_unix_nano: int | None


class RunTexts(NamedTuple):
    user_input: str | None
    output: str | None


_Ranked = dict[str, tuple[tuple[int, str, str], str]]  # run_id -> (the text's rank, the text)


def texts_of(roots: Iterable[RootSpan]) -> dict[str, RunTexts]:
    """Each run's user_input and output by the rule above."""
    inputs: _Ranked = {}
    outputs: _Ranked = {}
    for root in roots:
        if root.input_text is not None:
            _keep(inputs, root.run_id, _start_rank(root), root.input_text, lowest=True)
        if root.output_text is not None:
            _keep(outputs, root.run_id, _end_rank(root), root.output_text, lowest=False)
    return {run_id: RunTexts(inputs[run_id][1] if run_id in inputs else None,
                             outputs[run_id][1] if run_id in outputs else None)
            for run_id in inputs.keys() | outputs.keys()}


def _keep(ranked: _Ranked, run_id: str, rank: tuple[int, str, str], text: str, *, lowest: bool) -> None:
    held = ranked.get(run_id)
    if held is None or (rank < held[0] if lowest else rank > held[0]):
        ranked[run_id] = (rank, text)


def batch_texts(batch: SpanBatch, run_ids: Sequence[str]) -> dict[str, RunTexts]:
    """The texts of runs whose only root spans are this batch's (runs it creates or finishes)."""
    if not run_ids:
        return {}
    table = batch.table().select(["parent_span_id", *_ROOT_COLUMNS])
    wanted = pc.and_(pc.is_null(table.column("parent_span_id")), pc.is_in(table.column("run_id"), pa.array(run_ids)))
    roots = table.filter(wanted).select(list(_ROOT_COLUMNS))
    return texts_of(RootSpan(*row) for row in zip(*(column.to_pylist() for column in roots.columns), strict=True))


def refresh_texts(txn: WriteTxn, run_ids: Sequence[str]) -> None:
    """Recompute the texts of runs that had root spans stored before, from every stored root;
    to run once the batch's spans are inserted (WriteTxn.after_spans_inserted)."""
    roots = [RootSpan(*row) for run_id in run_ids for row in txn.execute(_STORED_ROOTS, [run_id])]
    update_texts(txn, texts_of(roots))


class RootChange(NamedTuple):
    """A stored root span whose texts changed in place (GenAI log content folded into it)."""

    before: RootSpan
    input_text: str | None
    output_text: str | None


class _Unsure:
    """The run's current texts do not tell: recompute them from every stored root."""


_UNSURE = _Unsure()


def apply_root_changes(txn: WriteTxn, changes: Sequence[RootChange]) -> None:
    """The texts of runs whose root spans changed in place, by the rule above. When a run has no
    text yet (the common case: log content filling a root that had none), its changed roots
    alone decide it, and when no changed root held or gained its text it stays; only the other
    runs are recomputed from every stored root (refresh_texts, one indexed read per run)."""
    by_run: dict[str, list[RootChange]] = {}
    for change in changes:
        by_run.setdefault(change.before.run_id, []).append(change)
    if not by_run:
        return
    current = txn.execute(
        "SELECT run_id, user_input, output FROM runs WHERE run_id IN (SELECT unnest(?::VARCHAR[])) AND source = ?",
        [sorted(by_run), RunSource.OTLP.value])
    decided: dict[str, RunTexts] = {}
    unsure: list[str] = []
    for run_id, user_input, output in current:
        run_changes = by_run[run_id]
        inputs = [(c.before.input_text, c.input_text, _start_rank(c.before)) for c in run_changes]
        outputs = [(c.before.output_text, c.output_text, _end_rank(c.before)) for c in run_changes]
        new_input, new_output = _decided(user_input, inputs, lowest=True), _decided(output, outputs, lowest=False)
        if isinstance(new_input, _Unsure) or isinstance(new_output, _Unsure):
            unsure.append(run_id)
        elif (new_input, new_output) != (user_input, output):
            decided[run_id] = RunTexts(new_input, new_output)
    update_texts(txn, decided)
    if unsure:
        refresh_texts(txn, unsure)


def _decided(current: str | None, changes: list[tuple[str | None, str | None, tuple[int, str, str]]], *,
             lowest: bool) -> str | None | _Unsure:
    """A run text after its changed roots' (old, new, rank) texts, or _UNSURE."""
    if current is None:  # no stored root has this text: the changed roots alone decide
        candidates = [(rank, new) for _, new, rank in changes if new is not None]
        if not candidates:
            return None
        return (min(candidates) if lowest else max(candidates))[1]
    if any(old is None and new is not None for old, new, _ in changes):
        return _UNSURE  # a root gained the text and may outrank the one it came from
    if any(old == current and new != old for old, new, _ in changes):
        return _UNSURE  # it may have come from a changed root (or from another with the same text)
    return current  # it came from a root that did not change


def _start_rank(root: RootSpan) -> tuple[int, str, str]:
    return (_LATEST_NS if root.start_time_unix_nano is None else root.start_time_unix_nano, root.trace_id, root.span_id)


def _end_rank(root: RootSpan) -> tuple[int, str, str]:
    return (-1 if root.end_time_unix_nano is None else root.end_time_unix_nano, root.trace_id, root.span_id)


def update_texts(txn: WriteTxn, texts: Mapping[str, RunTexts]) -> None:
    """Set the runs' user_input and output; runs of another source than otlp keep theirs."""
    if not texts:
        return
    txn.execute(
        "UPDATE runs SET user_input = t.user_input, output = t.output"
        " FROM (SELECT unnest(?::VARCHAR[]) AS run_id, unnest(?::VARCHAR[]) AS user_input,"
        " unnest(?::VARCHAR[]) AS output) AS t WHERE runs.run_id = t.run_id AND runs.source = ?",
        [list(texts), [item.user_input for item in texts.values()], [item.output for item in texts.values()],
         RunSource.OTLP.value],
    )
