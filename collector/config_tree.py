"""Typed data from a YAML tree: a frozen dataclass built field by field from its type hints.

Owns the coercion rules every configuration section shares (YAML and environment text to bool,
int, float, str, tuples, free-key mappings and nested sections) and the error that names the
dotted path of a wrong value. Knows no section: collector/config.py holds those and their checks.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from pathlib import Path
from typing import Any

import yaml


class ConfigError(ValueError):
    """The configuration is invalid; the message names the dotted path."""


def read_yaml(path: Path) -> dict[str, Any]:
    try:
        loaded = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"cannot read config file {path}: {exc.strerror}") from exc
    except yaml.YAMLError as exc:
        raise ConfigError(f"config file {path} is not valid YAML: {exc}") from exc
    if loaded is None:
        return {}
    if not isinstance(loaded, dict):
        raise ConfigError(f"config file {path} must be a mapping at the top level")
    return loaded


def set_dotted(tree: dict[str, Any], dotted: str, value: Any) -> None:
    *parents, leaf = dotted.split(".")
    node = tree
    for part in parents:
        node = node.setdefault(part, {})
    node[leaf] = value


def build_section(cls: type[Any], data: Any, prefix: str) -> Any:
    if not isinstance(data, dict):
        raise ConfigError(f"{prefix.rstrip('.') or 'config'} must be a mapping, got {type(data).__name__}")
    hints = typing.get_type_hints(cls)
    fields = dataclasses.fields(cls)
    known = {f.name for f in fields if not f.metadata.get("env_only")}
    for key in data:
        if key not in known:
            raise ConfigError(f"unknown configuration key {prefix}{key}")
    for f in fields:
        required = f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
        if required and f.name not in data:
            raise ConfigError(f"{prefix}{f.name} is required")
    values = {}
    for name in known & data.keys():
        values[name] = _coerce(hints[name], data[name], f"{prefix}{name}")
    return cls(**values)


def _coerce(hint: Any, value: Any, dotted: str) -> Any:
    if hint is Any:  # free-form values handed to user code (evaluation.custom[i].options)
        return value
    if isinstance(hint, type) and dataclasses.is_dataclass(hint):
        return build_section(hint, value, f"{dotted}.")
    origin = typing.get_origin(hint)
    if origin is tuple:
        return _coerce_tuple(typing.get_args(hint)[0], value, dotted)
    if origin is dict:
        return _coerce_dict(typing.get_args(hint)[1], value, dotted)
    if isinstance(hint, types.UnionType) or typing.get_origin(hint) is typing.Union:
        if value is None:
            return None
        hint = next(a for a in typing.get_args(hint) if a is not type(None))
    if hint is bool:
        return _to_bool(value, dotted)
    if hint in (int, float):
        return _to_number(hint, value, dotted)
    if hint is str and isinstance(value, str):
        return value
    raise ConfigError(f"{dotted} must be {hint.__name__}, got {value!r}")


def _coerce_tuple(item: Any, value: Any, dotted: str) -> tuple[Any, ...]:
    """A YAML list → tuple[item, ...]; entries are named dotted[0], dotted[1], ..."""
    if not isinstance(value, list):
        raise ConfigError(f"{dotted} must be a list, got {value!r}")
    return tuple(_coerce(item, entry, f"{dotted}[{index}]") for index, entry in enumerate(value))


def _coerce_dict(item: Any, value: Any, dotted: str) -> dict[str, Any]:
    """A YAML mapping with free keys → dict[str, item]; entries are named dotted.key."""
    if not isinstance(value, dict):
        raise ConfigError(f"{dotted} must be a mapping, got {value!r}")
    return {str(key): _coerce(item, entry, f"{dotted}.{key}") for key, entry in value.items()}


def _to_bool(value: Any, dotted: str) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "1", "yes", "on", "false", "0", "no", "off"):
        return value.lower() in ("true", "1", "yes", "on")
    raise ConfigError(f"{dotted} must be true or false, got {value!r}")


def _to_number(kind: type[int] | type[float], value: Any, dotted: str) -> int | float:
    if isinstance(value, bool):
        raise ConfigError(f"{dotted} must be a number, got {value!r}")
    try:
        number = kind(value)
    except (TypeError, ValueError):
        raise ConfigError(f"{dotted} must be {kind.__name__}, got {value!r}") from None
    if kind is int and isinstance(value, float) and value != number:
        raise ConfigError(f"{dotted} must be a whole number, got {value!r}")
    return number
