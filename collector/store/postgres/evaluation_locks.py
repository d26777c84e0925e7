"""Which collector is running which evaluation, on PostgreSQL: session advisory locks.

Every collector resumes the pending evaluations it finds (at start, and then every
evaluation.resume_interval_s, to take over those of a collector that died). Without a claim,
a collector that starts while another is evaluating a run would call the judge for it again.
A claim is a session-level advisory lock on the evaluation's id, held on one connection of its
own for as long as the evaluation runs. Session locks need no lease to renew and no clock: when
the process dies, its connection closes and PostgreSQL lets the lock go, so the next sweep of
another collector takes the evaluation over. They live in their own key space (two int4 keys,
which never meet the one-bigint keys of the run claims in runs.py).
"""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import psycopg
from kate.collector.errors import StoreUnreachable
from kate.collector.store.postgres.database import CONNECT_TIMEOUT_S, first_line, server_of

_KEY_SPACE = 0x6B657661  # the first int4 key of every evaluation lock ("keva")


class EvaluationLocks:
    """The evaluation locks this process holds, on one connection opened on first use."""

    def __init__(self, url: str) -> None:
        self._url = url
        self._connection: psycopg.Connection[Any] | None = None
        self._guard = threading.Lock()  # one statement at a time on the connection

    async def try_lock(self, evaluation_id: str) -> bool:
        """Take the evaluation's lock unless another session holds it."""
        return bool(await asyncio.to_thread(self._ask, "SELECT pg_try_advisory_lock(%s, hashtext(%s))", evaluation_id))

    async def unlock(self, evaluation_id: str) -> None:
        await asyncio.to_thread(self._ask, "SELECT pg_advisory_unlock(%s, hashtext(%s))", evaluation_id)

    async def close(self) -> None:
        """Close the connection, which lets every lock of this process go."""
        await asyncio.to_thread(self._close)

    def _ask(self, sql: str, evaluation_id: str) -> object:
        with self._guard:
            try:
                if self._connection is None or self._connection.closed:
                    # A new session holds none of the old one's locks: those went with it, and
                    # the evaluations they covered may be taken over meanwhile (run twice at worst;
                    # recording keeps one).
                    self._connection = psycopg.connect(self._url, autocommit=True, connect_timeout=int(CONNECT_TIMEOUT_S))
                row = self._connection.execute(sql, [_KEY_SPACE, evaluation_id]).fetchone()
            except psycopg.OperationalError as exc:
                self._close_unguarded()
                raise StoreUnreachable(f"PostgreSQL at {server_of(self._url)} did not answer: {first_line(exc)}") from None
        return row[0] if row else None

    def _close(self) -> None:
        with self._guard:
            self._close_unguarded()

    def _close_unguarded(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None
