"""Call arguments and results as the JSON text of `input.value` / `output.value`."""

from __future__ import annotations

import dataclasses
import json
import math
from typing import Any

import pytest
from kate.exporter._payload import Arguments, output_attributes, to_json


@pytest.mark.parametrize(
    "value",
    [
        {"question": "what is kate?", "limit": 5},
        ["é", "日本", "\u2028", '"quoted"', "back\\slash", "\n\t"],
        {"nested": {"list": [1, 2.5, None, True, False]}, "": "empty key"},
        "plain text",
        0,
        -1.25e300,
        [],
        {},
    ],
)
def test_json_values_encode_like_compact_stdlib_json(value: Any) -> None:
    assert to_json(value) == json.dumps(value, ensure_ascii=False, separators=(",", ":"))


@dataclasses.dataclass
class Point:
    x: int
    y: int


class Model:
    def model_dump(self, mode: str) -> dict[str, str]:
        return {"mode": mode}


class Opaque:
    def __repr__(self) -> str:
        return "<Opaque>"


def test_values_json_does_not_know_become_dicts_lists_or_reprs() -> None:
    value = {"point": Point(1, 2), "model": Model(), "tags": ("a", "b"), "blob": b"\x00\x01", "other": Opaque()}

    assert json.loads(to_json(value)) == {
        "point": {"x": 1, "y": 2},
        "model": {"mode": "json"},
        "tags": ["a", "b"],
        "blob": "<2 bytes>",
        "other": "<Opaque>",
    }


def test_non_finite_floats_keep_the_stdlib_spelling() -> None:
    assert to_json([math.nan, math.inf, -math.inf]) == "[NaN,Infinity,-Infinity]"


def test_a_circular_value_becomes_its_repr_and_the_encoder_still_works_after() -> None:
    loop: list[Any] = [1]
    loop.append(loop)

    assert json.loads(to_json(loop)) == "[1, [...]]"
    assert to_json({"after": [1]}) == '{"after":[1]}'


def test_odd_keys_fall_back_to_the_repr() -> None:
    assert json.loads(to_json({(1, 2): "tuple key"})) == "{(1, 2): 'tuple key'}"


def test_arguments_bind_names_skip_the_receiver_and_collect_extras() -> None:
    class Shop:
        def buy(self, item: str, *extras: object, note: str = "") -> None: ...

    arguments = Arguments(Shop.buy)

    assert json.loads(arguments.attributes((Shop(), "tea", 1, 2), {"note": "x"})["input.value"]) == {
        "item": "tea",
        "extras": [1, 2],
        "note": "x",
    }
    assert arguments.attributes((Shop(), "tea"), {}) == {"input.value": "tea", "input.mime_type": "text/plain"}
    assert arguments.attributes((Shop(),), {}) == {}


def test_a_builtin_without_signature_names_its_arguments_args() -> None:
    arguments = Arguments(max)  # inspect.signature(max) raises ValueError

    assert json.loads(arguments.attributes((3, 4), {"default": 0})["input.value"]) == {"args": [3, 4], "default": 0}


def test_outputs_are_text_json_or_nothing() -> None:
    assert output_attributes(None) == {}
    assert output_attributes("done") == {"output.value": "done", "output.mime_type": "text/plain"}
    assert output_attributes({"n": 1}) == {"output.value": '{"n":1}', "output.mime_type": "application/json"}
