"""A small JSON HTTP client for tests: real aiohttp requests, answers as (status, headers, body)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import aiohttp


@dataclass(frozen=True)
class Answer:
    status: int
    headers: dict[str, str]
    body: Any
    text: str


class Api:
    def __init__(self, base_url: str, session: aiohttp.ClientSession) -> None:
        self.base_url = base_url
        self.session = session

    async def call(self, method: str, path: str, body: Any = None, *, raw: bytes | None = None,
                   headers: dict[str, str] | None = None, params: dict[str, str] | None = None) -> Answer:
        data = raw if raw is not None else (None if body is None else json.dumps(body).encode())
        sent = {"Content-Type": "application/json"} if data is not None else {}
        async with self.session.request(method, self.base_url + path, data=data, params=params,
                                        headers={**sent, **(headers or {})}) as response:
            text = await response.text()
            parsed = json.loads(text) if text and response.content_type == "application/json" else None
            return Answer(response.status, dict(response.headers), parsed, text)

    async def create_run(self, agent_id: str, **fields: Any) -> dict[str, Any]:
        answer = await self.call("POST", f"/agents/{agent_id}/runs", {"trigger": "manual", **fields})
        assert answer.status == 201, answer.text
        return dict(answer.body)
