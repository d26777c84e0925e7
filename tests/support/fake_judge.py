"""A scripted OpenAI-compatible judge for tests: POST /v1/chat/completions on 127.0.0.1, port 0.

The answer depends on a tag in the user message (the run's input, which the judge prompt
quotes): [json], [sloppy], [garbage], [slow], [http500]. Every request is recorded. Runs its
own event loop in a thread, so a collector subprocess and the test's loop can both use it.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

ANSWERS = {
    "[json]": '```json\n{"score": 0.8, "reason": "Covers the request well."}\n```',
    "[sloppy]": "Overall decent.\nScore: 7/10 because it misses detail.",
    "[garbage]": "I would rather not grade this today.",
}
SLOW_S = 2.0  # past the 1 s judge timeout of the tests


@dataclass
class FakeJudge:
    url: str = ""
    requests: list[dict[str, Any]] = field(default_factory=list)
    slow_s: float = SLOW_S  # how long a [slow] request takes

    async def chat_completions(self, request: web.Request) -> web.Response:
        body = await request.json()
        self.requests.append({"authorization": request.headers.get("Authorization"), "body": body})
        prompt = body["messages"][-1]["content"]
        if "[http500]" in prompt:
            return web.json_response({"error": {"message": "the judge is down"}}, status=500)
        if "[slow]" in prompt:
            await asyncio.sleep(self.slow_s)
        content = next((answer for tag, answer in ANSWERS.items() if tag in prompt), "0.5")
        return web.json_response({
            "id": "chatcmpl-judge", "object": "chat.completion", "created": 1_700_000_000, "model": body["model"],
            "choices": [{"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 50, "completion_tokens": 10, "total_tokens": 60},
        })


@contextmanager
def fake_judge(slow_s: float = SLOW_S) -> Iterator[FakeJudge]:
    judge = FakeJudge(slow_s=slow_s)
    loop = asyncio.new_event_loop()
    started = threading.Event()
    app = web.Application()
    app.router.add_post("/v1/chat/completions", judge.chat_completions)
    runner = web.AppRunner(app)

    async def start() -> None:
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        judge.url = f"http://127.0.0.1:{port}/v1"
        started.set()

    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    asyncio.run_coroutine_threadsafe(start(), loop)
    started.wait(10)
    try:
        yield judge
    finally:
        asyncio.run_coroutine_threadsafe(runner.cleanup(), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
        loop.close()
