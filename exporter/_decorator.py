"""The `trace` decorator: one span per call of a function, coroutine, generator or async generator.

Spans carry OpenInference attributes. The span's context is attached only while the wrapped code
runs, so a suspended generator never leaks its span into its caller's code.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import AsyncGenerator, Callable, Generator
from typing import Any, TypeVar, cast, overload

from kate.exporter._payload import Arguments, Stream, output_attributes
from kate.exporter._tracer import current_tracer
from kate.schema.record import SpanKind
from opentelemetry import context as otel_context
from opentelemetry import trace as otel_trace
from opentelemetry.context import Context
from opentelemetry.trace import Span, Status, StatusCode

__all__ = ["trace"]

F = TypeVar("F", bound=Callable[..., Any])
SPAN_KIND_KEY = "openinference.span.kind"
_OK = Status(StatusCode.OK)
_Attributes = dict[str, str]


@overload
def trace(func: F, /) -> F: ...


@overload
def trace(*, name: str | None = None, kind: str | SpanKind = SpanKind.CHAIN) -> Callable[[F], F]: ...


def trace(
    func: F | None = None, /, *, name: str | None = None, kind: str | SpanKind = SpanKind.CHAIN
) -> F | Callable[[F], F]:
    """Trace each call of a function as a span: `@trace` or `@trace(name=..., kind="TOOL")`.

    Works on functions, coroutine functions, generator and async generator functions; for
    generators the span covers the whole iteration and the output is what was yielded. The
    arguments become `input.value` (a lone string as text/plain, else a JSON object), the
    result `output.value`, both capped; an exception is recorded, sets the ERROR status, and
    is re-raised. The input is taken when the call starts; kind, input and output are written
    together when it ends, so samplers see the span name only; a key the wrapped code sets on
    the span itself (a redacted `input.value`) keeps its value. A span that is not recorded
    costs no JSON work.
    Spans nest through `await`, `asyncio.gather`, `asyncio.to_thread` and threads or
    executors given a copied context (`contextvars.copy_context().run`); like any contextvar,
    a plain `ThreadPoolExecutor.submit` starts without it.

    Args:
        func: The function, when used as a bare `@trace`.
        name: The span (node) name; defaults to the function's `__name__`.
        kind: The OpenInference span kind (`CHAIN`, `LLM`, `TOOL`, `AGENT`, ...).

    Returns:
        The wrapped function, or a decorator when called with keyword arguments only.

    Raises:
        ValueError: `kind` is not an OpenInference span kind.
    """
    span_kind = _kind(kind)

    def decorate(fn: F) -> F:
        spec = _Spec(fn, name or str(getattr(fn, "__name__", "call")), span_kind)
        if inspect.isasyncgenfunction(fn):
            wrapper: Callable[..., Any] = _async_generator(fn, spec)
        elif inspect.isgeneratorfunction(fn):
            wrapper = _generator(fn, spec)
        elif inspect.iscoroutinefunction(fn):
            wrapper = _coroutine(fn, spec)
        else:
            wrapper = _function(fn, spec)
        return cast(F, functools.wraps(fn)(wrapper))

    return decorate(func) if func is not None else decorate


def _kind(kind: str | SpanKind) -> str:
    value = kind.value if isinstance(kind, SpanKind) else str(kind).upper()
    if value not in SpanKind.__members__:
        raise ValueError(f"kind must be an OpenInference span kind ({', '.join(SpanKind.__members__)}), got {kind!r}")
    return value


class _Spec:
    """What every call of one decorated function shares: its span name, kind and argument names."""

    __slots__ = ("_arguments", "_kind", "name")

    def __init__(self, fn: Callable[..., Any], name: str, kind: str) -> None:
        self.name, self._kind, self._arguments = name, kind, Arguments(fn)

    def attributes(self, span: Span, args: tuple[Any, ...], kwargs: dict[str, Any]) -> _Attributes | None:
        """The kind and input of a call, taken before it runs; None when the span records nothing."""
        if not span.is_recording():  # sampled out or no SDK provider: no JSON work at all
            return None
        attributes = self._arguments.attributes(args, kwargs)
        attributes[SPAN_KIND_KEY] = self._kind
        return attributes


# The attributes go into the span in one write, when the call ends: every write into an SDK
# span pays a fixed cost (two locks, a cleaned copy of the mapping) about that of its values.
def _write(span: Span, attributes: _Attributes) -> None:
    """Set the decorator's attributes, except those the wrapped code set on the span itself
    (a redacted input.value, its own span kind): the code's own values win."""
    own = getattr(span, "attributes", None)
    if own:
        attributes = {key: value for key, value in attributes.items() if key not in own}
    span.set_attributes(attributes)


def _succeed(span: Span, attributes: _Attributes | None, result: Any) -> None:
    if attributes is not None and span.is_recording():
        attributes.update(output_attributes(result))
        _write(span, attributes)
        span.set_status(_OK)


def _fail(span: Span, attributes: _Attributes | None, error: Exception) -> None:
    if attributes is not None and span.is_recording():
        _write(span, attributes)
        _record_error(span, error)


def _record_error(span: Span, error: Exception) -> None:
    if span.is_recording():
        span.record_exception(error)
        span.set_status(Status(StatusCode.ERROR, f"{type(error).__name__}: {error}"))


def _close_stream(span: Span, attributes: _Attributes | None, stream: Stream, finished: bool) -> None:
    if attributes is not None and span.is_recording():
        attributes.update(stream.attributes())
        _write(span, attributes)
        if finished:
            span.set_status(_OK)
    span.end()


def _function(fn: Callable[..., Any], spec: _Spec) -> Callable[..., Any]:
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        span = current_tracer().start_span(spec.name)
        attributes = spec.attributes(span, args, kwargs)
        token = otel_context.attach(otel_trace.set_span_in_context(span))
        try:
            result = fn(*args, **kwargs)
        except Exception as error:
            _fail(span, attributes, error)
            raise
        else:
            _succeed(span, attributes, result)
            return result
        finally:
            otel_context.detach(token)
            span.end()

    return wrapper


def _coroutine(fn: Callable[..., Any], spec: _Spec) -> Callable[..., Any]:
    async def wrapper(*args: Any, **kwargs: Any) -> Any:
        span = current_tracer().start_span(spec.name)
        attributes = spec.attributes(span, args, kwargs)
        token = otel_context.attach(otel_trace.set_span_in_context(span))
        try:
            result = await fn(*args, **kwargs)
        except Exception as error:
            _fail(span, attributes, error)
            raise
        else:
            _succeed(span, attributes, result)
            return result
        finally:
            otel_context.detach(token)
            span.end()

    return wrapper


def _generator(fn: Callable[..., Any], spec: _Spec) -> Callable[..., Any]:
    def wrapper(*args: Any, **kwargs: Any) -> Generator[Any, Any, Any]:
        span = current_tracer().start_span(spec.name)
        attributes, stream, finished = spec.attributes(span, args, kwargs), Stream(), False
        try:
            result = yield from _steps(fn(*args, **kwargs), otel_trace.set_span_in_context(span), stream)
            finished = True
            return result
        except Exception as error:
            _record_error(span, error)
            raise
        finally:
            _close_stream(span, attributes, stream, finished)

    return wrapper


def _steps(inner: Generator[Any, Any, Any], context: Context, stream: Stream) -> Generator[Any, Any, Any]:
    """Run `inner` with `context` attached during each step only; forward send, throw and close."""
    step: Callable[[Any], Any] = inner.send
    value: Any = None
    while True:
        token = otel_context.attach(context)
        try:
            item = step(value)
        except StopIteration as stop:
            return stop.value
        finally:
            otel_context.detach(token)
        stream.add(item)
        try:
            value, step = (yield item), inner.send
        except GeneratorExit:
            token = otel_context.attach(context)
            try:
                inner.close()
            finally:
                otel_context.detach(token)
            raise
        except Exception as thrown:  # gen.throw() by the consumer: deliver it inside
            value, step = thrown, inner.throw


def _async_generator(fn: Callable[..., Any], spec: _Spec) -> Callable[..., Any]:
    async def wrapper(*args: Any, **kwargs: Any) -> AsyncGenerator[Any, Any]:
        span = current_tracer().start_span(spec.name)
        attributes, stream, finished = spec.attributes(span, args, kwargs), Stream(), False
        inner, context = fn(*args, **kwargs), otel_trace.set_span_in_context(span)
        step: Callable[[Any], Any] = inner.asend
        value: Any = None
        try:
            while (item := await _async_step(step, value, context)) is not _DONE:
                stream.add(item)
                try:
                    value, step = (yield item), inner.asend
                except GeneratorExit:
                    await inner.aclose()
                    raise
                except Exception as thrown:  # agen.athrow() by the consumer: deliver it inside
                    value, step = thrown, inner.athrow
            finished = True
        except Exception as error:
            _record_error(span, error)
            raise
        finally:
            _close_stream(span, attributes, stream, finished)

    return wrapper


_DONE = object()


async def _async_step(step: Callable[[Any], Any], value: Any, context: Context) -> Any:
    token = otel_context.attach(context)
    try:
        return await step(value)
    except StopAsyncIteration:
        return _DONE
    finally:
        otel_context.detach(token)
