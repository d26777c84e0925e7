"""A small OpenAI-compatible server for tests: POST /v1/chat/completions on 127.0.0.1, port 0.

Answers like the real API: a chat completion, a streamed one (SSE chunks, plus a usage chunk
when stream_options.include_usage), a tool call when the request offers tools, and a 400
error for the model "fake-error". Runs its own event loop in a thread, so sync clients work.
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from aiohttp import web

ERROR_MODEL = "fake-error"
MODEL_SUFFIX = "-2024-07-18"  # the response names a dated model, like the real API
REPLY = "The capital of France is Paris."
TOOL_CALL = {"id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": '{"city":"Paris"}'}}
USAGE = {"prompt_tokens": 12, "completion_tokens": 7, "total_tokens": 19}


async def chat_completions(request: web.Request) -> web.StreamResponse:
    body = await request.json()
    model = str(body.get("model", ""))
    if model == ERROR_MODEL:
        error = {"message": f"The model `{model}` does not exist", "type": "invalid_request_error",
                 "param": "model", "code": "model_not_found"}
        return web.json_response({"error": error}, status=400)
    if body.get("stream"):
        return await _stream(request, body, model + MODEL_SUFFIX)
    message: dict[str, Any] = {"role": "assistant", "content": REPLY}
    finish = "stop"
    if body.get("tools"):
        message, finish = {"role": "assistant", "content": None, "tool_calls": [TOOL_CALL]}, "tool_calls"
    return web.json_response({
        "id": "chatcmpl-1", "object": "chat.completion", "created": 1_700_000_000, "model": model + MODEL_SUFFIX,
        "choices": [{"index": 0, "message": message, "finish_reason": finish, "logprobs": None}],
        "usage": USAGE,
    })


async def _stream(request: web.Request, body: dict[str, Any], model: str) -> web.StreamResponse:
    response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
    await response.prepare(request)
    for chunk in _chunks(model, include_usage=bool((body.get("stream_options") or {}).get("include_usage"))):
        await response.write(f"data: {json.dumps(chunk)}\n\n".encode())
    await response.write(b"data: [DONE]\n\n")
    await response.write_eof()
    return response


def _chunks(model: str, *, include_usage: bool) -> Iterator[dict[str, Any]]:
    base = {"id": "chatcmpl-2", "object": "chat.completion.chunk", "created": 1_700_000_000, "model": model}
    words = REPLY.split(" ")
    for index, word in enumerate(words):
        delta: dict[str, Any] = {"content": word if index == 0 else " " + word}
        if index == 0:
            delta["role"] = "assistant"
        yield {**base, "choices": [{"index": 0, "delta": delta, "finish_reason": None}]}
    yield {**base, "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]}
    if include_usage:  # the API's last chunk: no choices, only usage
        yield {**base, "choices": [], "usage": USAGE}


@contextmanager
def fake_openai_server() -> Iterator[str]:
    """Run the server in a thread; yields its base URL (http://127.0.0.1:PORT/v1)."""
    loop = asyncio.new_event_loop()
    started = threading.Event()
    stop = asyncio.Event()
    address: dict[str, int] = {}

    async def serve() -> None:
        async with _Runner(address):
            started.set()
            await stop.wait()

    thread = threading.Thread(target=loop.run_until_complete, args=(serve(),), daemon=True)
    thread.start()
    if not started.wait(10):
        raise RuntimeError("fake OpenAI server did not start")
    try:
        yield f"http://127.0.0.1:{address['port']}/v1"
    finally:
        loop.call_soon_threadsafe(stop.set)
        thread.join(10)
        loop.close()


class _Runner:
    """The aiohttp runner as an async context manager; records the bound port."""

    def __init__(self, address: dict[str, int]) -> None:
        self.address = address
        app = web.Application()
        app.router.add_post("/v1/chat/completions", chat_completions)
        self.runner = web.AppRunner(app, access_log=None)

    async def __aenter__(self) -> None:
        await self.runner.setup()
        site = web.TCPSite(self.runner, "127.0.0.1", 0)
        await site.start()
        self.address["port"] = self.runner.addresses[0][1]

    async def __aexit__(self, *exc: object) -> None:
        await self.runner.cleanup()
