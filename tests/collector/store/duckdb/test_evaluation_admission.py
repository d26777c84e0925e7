"""Evaluation admission on a real DuckDB file: runs completed together share their agent's
cooldown clock, the clock lives in evaluation_clock, and admission commits with the
completion or not at all. The migration that created the clock fills it from older files."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import duckdb
import pytest
from kate.collector.completion import CompletedRun
from kate.collector.evaluation.policy import CooldownPolicy
from kate.collector.store.duckdb.database import Database
from kate.collector.store.duckdb.evaluations import CooldownClocks, admit_evaluations
from kate.collector.store.duckdb.migrate import apply_migrations, migration_files
from kate.collector.store.duckdb.runs import insert_run
from kate.collector.store.duckdb.writer import WriteTxn
from kate.collector.store.values import NewRun, RunSource, RunStatus, RunTrigger

NOW = dt.datetime(2026, 11, 30, 12, 0, 0)


async def completed_runs(database: Database, agent_id: str, count: int) -> list[CompletedRun]:
    runs = [CompletedRun(agent_id, f"{agent_id}-run-{index}") for index in range(count)]

    def create(txn: WriteTxn) -> None:
        for run in runs:
            insert_run(txn, NewRun(run.run_id, run.agent_id, RunTrigger.AUTOMATIC, RunSource.OTLP, RunStatus.COMPLETED))

    await database.write(create)
    return runs


async def evaluation_states(database: Database) -> dict[str, tuple[str | None, bool]]:
    rows = await database.read(lambda cursor: cursor.execute(
        "SELECT run_id, evaluation_status, evaluation_id IS NOT NULL FROM runs").fetchall())
    return {run_id: (status, has_id) for run_id, status, has_id in rows}


async def clocks(database: Database) -> dict[str, dt.datetime]:
    rows = await database.read(lambda cursor: cursor.execute("SELECT * FROM evaluation_clock").fetchall())
    return dict(rows)


async def test_runs_of_one_agent_completed_together_admit_the_first_and_skip_the_rest(database: Database) -> None:
    first = await completed_runs(database, "agent-a", 3)
    other = await completed_runs(database, "agent-b", 1)
    policy, cache = CooldownPolicy(default_s=60), CooldownClocks()

    tickets = await database.write(lambda txn: admit_evaluations(txn, [*first, *other], policy, NOW, cache))

    assert [(ticket.agent_id, ticket.run_id) for ticket in tickets] == [first[0], other[0]]
    assert await evaluation_states(database) == {
        first[0].run_id: ("pending", True), first[1].run_id: ("skipped_cooldown", False),
        first[2].run_id: ("skipped_cooldown", False), other[0].run_id: ("pending", True),
    }
    assert await clocks(database) == {"agent-a": NOW, "agent-b": NOW}

    # Inside the cooldown a later completion is skipped and does not move the clock; after it, admitted.
    later = [first[1]]
    assert await database.write(lambda txn: admit_evaluations(txn, later, policy, NOW + dt.timedelta(seconds=59), cache)) == []
    assert (await clocks(database))["agent-a"] == NOW
    after = NOW + dt.timedelta(seconds=60)
    (ticket,) = await database.write(lambda txn: admit_evaluations(txn, later, policy, after, cache))
    assert ticket.run_id == "agent-a-run-1"
    assert (await clocks(database))["agent-a"] == after


async def test_without_a_cooldown_every_run_gets_its_own_evaluation(database: Database) -> None:
    runs = await completed_runs(database, "agent-a", 4)

    tickets = await database.write(
        lambda txn: admit_evaluations(txn, runs, CooldownPolicy(default_s=0), NOW, CooldownClocks()))

    assert [ticket.run_id for ticket in tickets] == [run.run_id for run in runs]
    assert len({ticket.evaluation_id for ticket in tickets}) == 4
    assert set((await evaluation_states(database)).values()) == {("pending", True)}


async def test_an_admission_rolled_back_with_its_transaction_leaves_no_trace(database: Database) -> None:
    runs = await completed_runs(database, "agent-a", 2)

    policy, cache = CooldownPolicy(default_s=60), CooldownClocks()

    def admit_then_fail(txn: WriteTxn) -> None:
        admit_evaluations(txn, runs, policy, NOW, cache)
        raise RuntimeError("the completing transaction fails after admission")

    with pytest.raises(Exception, match="retry later"):  # a storage failure is answered as retryable
        await database.write(admit_then_fail)

    assert await clocks(database) == {}
    assert set((await evaluation_states(database)).values()) == {(None, False)}
    # Nor did the cached clock move: the same cache admits the run a second later.
    (ticket,) = await database.write(lambda txn: admit_evaluations(txn, runs[:1], policy, NOW, cache))
    assert ticket.run_id == runs[0].run_id


def test_the_clock_migration_takes_each_agents_latest_admission_from_older_files(tmp_path: Path) -> None:
    path = tmp_path / "old.duckdb"
    older = [(version, name, sql) for version, name, sql in migration_files() if version < 3]
    with duckdb.connect(str(path)) as connection:
        connection.execute("CREATE TABLE schema_version (version INTEGER PRIMARY KEY, name VARCHAR NOT NULL, "
                           "applied_at TIMESTAMP NOT NULL)")
        for version, name, sql in older:
            connection.execute(sql)
            connection.execute("INSERT INTO schema_version VALUES (?, ?, now()::TIMESTAMP)", [version, name])
        connection.execute(
            "INSERT INTO runs (run_id, agent_id, status, trigger, source, created_at, evaluation_requested_at) VALUES"
            " ('r1', 'agent-a', 'completed', 'automatic', 'otlp', ?, ?),"
            " ('r2', 'agent-a', 'completed', 'automatic', 'otlp', ?, ?),"
            " ('r3', 'agent-b', 'completed', 'automatic', 'otlp', ?, NULL)",
            [NOW, NOW - dt.timedelta(hours=1), NOW, NOW, NOW],
        )
        apply_migrations(connection)
        rows = connection.execute("SELECT * FROM evaluation_clock").fetchall()

    assert rows == [("agent-a", NOW)]
