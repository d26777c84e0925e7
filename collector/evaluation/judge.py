"""The LLM-as-judge evaluator: one OpenAI chat-completions call per run, scored by a rubric.

Speaks the plain chat-completions protocol (POST {base_url}/chat/completions), so OpenAI and
compatible servers (vLLM, Ollama, LiteLLM, Azure-style proxies) all work. Owns the prompt and
the HTTP exchange; reading the score out of the answer is verdict.py's. Never raises anything
but EvaluationFailed; the API key comes in from config, never from os.environ here.
"""

from __future__ import annotations

import json
from typing import Any

import aiohttp
from kate.collector.evaluation.checks import final_output
from kate.collector.evaluation.evaluator import EvaluationFailed, EvaluationSubject, Score
from kate.collector.evaluation.settings import LlmJudgeConfig
from kate.collector.evaluation.verdict import parse_verdict

_MAX_ERROR_BODY_CHARS = 300


class LlmJudge:
    """Asks a model to grade the run's final output against the rubric (the system message)."""

    def __init__(self, config: LlmJudgeConfig) -> None:
        self._config = config
        self._url = config.base_url.rstrip("/") + "/chat/completions"
        self._session: aiohttp.ClientSession | None = None

    async def evaluate(self, subject: EvaluationSubject) -> Score:
        output, _ = final_output(subject)
        if output is None:
            raise EvaluationFailed("nothing to judge: the run has no final output")
        answer, model = await self._ask(self._prompt(subject, output))
        score, reason = parse_verdict(answer)
        return Score(score, reason, {"model": model, "answer": answer[:2000]})

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    def _prompt(self, subject: EvaluationSubject, output: str) -> str:
        limit = self._config.max_input_chars
        user_input = subject.run.user_input or _first_root_input(subject) or "(not recorded)"
        errors = sum(span.is_error for span in subject.spans)
        facts = f"status {subject.run.status}; {len(subject.spans)} spans, {errors} ended in ERROR"
        if subject.run.error:
            facts += f"; error: {subject.run.error[:500]}"
        return (f"User input:\n<<<\n{_cut(user_input, limit)}\n>>>\n\n"
                f"Final output of the agent:\n<<<\n{_cut(output, limit)}\n>>>\n\nRun facts: {facts}.")

    async def _ask(self, prompt: str) -> tuple[str, str]:
        body = {
            "model": self._config.model,
            "temperature": 0,
            "messages": [{"role": "system", "content": self._config.rubric}, {"role": "user", "content": prompt}],
        }
        try:
            async with self._client().post(self._url, json=body, headers=self._headers()) as response:
                text = await response.text()
                status = response.status
        except TimeoutError:
            raise EvaluationFailed(f"the judge did not answer within {self._config.timeout_s:g} s") from None
        except aiohttp.ClientError as exc:
            raise EvaluationFailed(f"cannot reach the judge at {self._url}: {exc}") from None
        if status >= 400:
            raise EvaluationFailed(f"the judge answered HTTP {status}: {' '.join(text.split())[:_MAX_ERROR_BODY_CHARS]}")
        return _content(text)

    def _client(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            timeout = aiohttp.ClientTimeout(total=self._config.timeout_s)
            self._session = aiohttp.ClientSession(timeout=timeout)
        return self._session

    def _headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self._config.api_key}"} if self._config.api_key else {}


def _content(text: str) -> tuple[str, str]:
    """(message content, model) of a chat completion; EvaluationFailed for any other shape."""
    try:
        data: Any = json.loads(text)
        content = data["choices"][0]["message"]["content"]
    except (ValueError, KeyError, IndexError, TypeError):
        raise EvaluationFailed(f"the judge's response is not a chat completion: {text[:200]!r}") from None
    if not isinstance(content, str) or not content.strip():
        raise EvaluationFailed("the judge answered with an empty message")
    return content, str(data.get("model") or "")


def _first_root_input(subject: EvaluationSubject) -> str | None:
    for span in subject.spans:
        if span.parent_span_id is None and span.input_text:
            return span.input_text
    return None


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[:limit] + f"\n…[{len(text) - limit} more characters not shown]"

