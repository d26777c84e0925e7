"""A run belongs to one agent: which OTLP spans of a batch may go to the runs they name.

Decided where the runs table is authoritative (DuckDB: in the writer; ClickHouse engine: in the
control store's transaction). A span of another agent never lands in a run: given its run id
(kate.run.id), it is refused; derived from its trace id, it goes to its own agent's run for that
trace (derived_run_id). Engine-neutral: the engine passes its look-up of stored runs.
"""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import pyarrow as pa
from kate.collector.store.span_batch import SpanBatch
from kate.collector.store.values import RefusedRun, StoredRun

FindRuns = Callable[[Sequence[str]], Mapping[str, StoredRun]]  # the stored runs among these ids

# Fixed for good: derived run ids must stay the same across retries, collectors and releases.
RUN_ID_NAMESPACE = uuid.UUID("ee456dcf-eb47-4010-9f5c-6eda187d649a")


def derived_run_id(agent_id: str, trace_id: str) -> str:
    """The run of one agent's spans of a trace whose trace-id run belongs to another agent
    (another service of the same distributed trace): uuid5 of "<agent_id>/<trace_id>"."""
    return str(uuid.uuid5(RUN_ID_NAMESPACE, f"{agent_id}/{trace_id}"))


@dataclass(frozen=True, slots=True)
class Settled:
    batch: SpanBatch  # every run of it is owned by the agent of its spans
    refused: tuple[RefusedRun, ...]
    stored: dict[str, StoredRun]  # the stored runs among the batch's


def settle_ownership(find_runs: FindRuns, batch: SpanBatch, stored: Mapping[str, StoredRun]) -> Settled:
    """The batch with only spans its runs' owners may write. stored: the stored runs among the
    batch's. A run nobody stored yet belongs to the first agent naming it in the batch."""
    owners = {run_id: run.agent_id for run_id, run in stored.items()}
    for key in batch.links:  # links are in request order
        owners.setdefault(key.run_id, key.agent_id)
    if all(owners[key.run_id] == key.agent_id for key in batch.links):
        return Settled(batch, (), dict(stored))  # the usual case: the batch as it is
    return _rekeyed(find_runs, batch, owners, dict(stored))


def _rekeyed(find_runs: FindRuns, batch: SpanBatch, owners: dict[str, str], stored: dict[str, StoredRun]) -> Settled:
    """Move other agents' spans with derived run ids to their own runs, refuse the others."""
    table = batch.table()
    run_ids, agent_ids = table.column("run_id").to_pylist(), table.column("agent_id").to_pylist()
    derived = batch.derived_run_rows or bytes(len(run_ids))
    targets = _targets(run_ids, agent_ids, table.column("trace_id").to_pylist(), derived, owners)
    stored.update(_claim(find_runs, owners, targets, agent_ids))
    keep = [bool(target) and owners[target] == agent_id for target, agent_id in zip(targets, agent_ids, strict=True)]
    refused = Counter(target or run_id for run_id, target, kept in zip(run_ids, targets, keep, strict=True) if not kept)
    column = table.schema.get_field_index("run_id")
    rekeyed = table.set_column(column, table.schema.field(column), pa.array(targets, pa.string())).filter(pa.array(keep))
    kept_derived = bytes(flag for flag, kept in zip(derived, keep, strict=True) if kept)
    new_batch = SpanBatch.of_table(rekeyed, kept_derived if any(kept_derived) else b"")
    runs = set(new_batch.run_ids)
    refusals = tuple(RefusedRun(run_id, spans) for run_id, spans in refused.items())
    return Settled(new_batch, refusals, {run_id: run for run_id, run in stored.items() if run_id in runs})


def _targets(run_ids: Sequence[str], agent_ids: Sequence[str], trace_ids: Sequence[str], derived: bytes,
             owners: Mapping[str, str]) -> list[str]:
    """Each row's run: as named when its agent owns it, else its agent's derived run when the
    run id came from the trace id, else "" (refused: it named another agent's run)."""
    return [
        run_id if owners[run_id] == agent_id else derived_run_id(agent_id, trace_id) if was_derived else ""
        for run_id, agent_id, trace_id, was_derived in zip(run_ids, agent_ids, trace_ids, derived, strict=True)
    ]


def _claim(find_runs: FindRuns, owners: dict[str, str], targets: Sequence[str],
           agent_ids: Sequence[str]) -> Mapping[str, StoredRun]:
    """Owners of the derived runs too: as stored (someone may have named that id), else the
    first agent moving spans there. Returns the stored ones."""
    new = [target for target in dict.fromkeys(targets) if target and target not in owners]
    found = find_runs(new)
    owners.update({run_id: run.agent_id for run_id, run in found.items()})
    for target, agent_id in zip(targets, agent_ids, strict=True):
        if target:
            owners.setdefault(target, agent_id)
    return found
