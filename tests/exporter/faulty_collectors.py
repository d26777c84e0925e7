"""Collectors that fail, on 127.0.0.1: a closed port, one that accepts and never answers, one that errs.

Each serves from its own event loop thread, so sync code under test can block on it; stopping
is bounded. They stand in for a collector that is down, hung or broken; nothing else is faked.
"""

from __future__ import annotations

import asyncio
import json
import socket
import threading
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from typing import Any

from aiohttp import web

STOP_TIMEOUT_S = 5.0


@contextmanager
def closed_port() -> Iterator[str]:
    """The URL of a loopback port that is bound but never listens: connections are refused."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        yield f"http://127.0.0.1:{probe.getsockname()[1]}"


class _LoopThread:
    """An event loop running in a daemon thread, for servers the test's own code may block on."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, name="faulty-collector", daemon=True)
        self._thread.start()

    def run(self, coroutine: Awaitable[Any]) -> Any:
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(STOP_TIMEOUT_S)  # type: ignore[arg-type]

    def stop(self) -> None:
        self.run(_cancel_other_tasks())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(STOP_TIMEOUT_S)
        assert not self._thread.is_alive(), "the faulty collector's loop did not stop"
        self.loop.close()


async def _cancel_other_tasks() -> None:
    others = [task for task in asyncio.all_tasks() if task is not asyncio.current_task()]
    for task in others:
        task.cancel()
    await asyncio.gather(*others, return_exceptions=True)


@contextmanager
def hanging_collector() -> Iterator[str]:
    """A TCP server that accepts, reads the request and never answers."""
    loop = _LoopThread()

    async def hang(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while await reader.read(65536):  # until the client gives up and closes
            pass
        writer.close()

    server: asyncio.Server = loop.run(asyncio.start_server(hang, "127.0.0.1", 0))
    try:
        yield f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}"
    finally:
        loop.run(_close(server))  # asyncio servers are not thread-safe: close it on its loop
        loop.stop()


async def _close(server: asyncio.Server) -> None:
    server.close()


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def error_answer(status: int) -> Handler:
    """Answers every request with `status` in the API's error envelope (503 with Retry-After: 1)."""
    code = "overloaded" if status == 503 else "internal"
    headers = {"Retry-After": "1"} if status == 503 else {}

    async def answer(request: web.Request) -> web.Response:
        await request.read()
        body = {"error": {"code": code, "message": f"collector test double answers {status}"}}
        return web.json_response(body, status=status, headers=headers)

    return answer


@contextmanager
def aiohttp_collector(handler: Handler) -> Iterator[str]:
    """An aiohttp server on 127.0.0.1 whose every route is `handler`."""
    loop = _LoopThread()
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", handler)
    runner = web.AppRunner(app, shutdown_timeout=0.1)
    loop.run(runner.setup())
    site = web.TCPSite(runner, "127.0.0.1", 0)
    loop.run(site.start())
    port = runner.addresses[0][1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        loop.run(runner.cleanup())
        loop.stop()


def creates_then_hangs() -> Handler:
    """Answers POST .../agents/{a}/runs with the created run; every other request waits forever."""

    async def answer(request: web.Request) -> web.StreamResponse:
        body = await request.read()
        parts = request.path.strip("/").split("/")
        if request.method == "POST" and parts[-3:-2] == ["agents"] and parts[-1] == "runs":  # under any prefix
            sent = json.loads(body)
            run = {"id": sent["run_id"], "agent_id": parts[-2], "status": "running", "trigger": sent["trigger"]}
            return web.json_response(run, status=201)
        await asyncio.Event().wait()  # never set: cancelled when the server stops
        raise AssertionError("unreachable")

    return answer
