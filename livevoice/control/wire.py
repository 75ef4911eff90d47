"""Frozen dataclasses to and from JSON objects, with precise errors.

Every record of the protocol (request data, responses, events) is a frozen
dataclass; on the wire its fields are camelCase (``duration_ms`` -> ``durationMs``).
:func:`to_wire` turns a record into a JSON-ready dict; :func:`from_wire` checks a
parsed JSON object against a record type and builds the record, raising
:class:`WireError` with the request status code and a one-line comment naming the
field (``weights.alice``, ``words[2].text``) for the first thing that is wrong.

Supported field types: ``str``, ``int``, ``float``, ``bool``, ``Literal`` of strings,
``X | None``, ``tuple[X, ...]``, ``Mapping[str, X]``, nested records and ``Any`` (a
JSON value as it is). Field metadata may bound a value: ``min``/``max`` for numbers,
``min_len``/``max_len`` for texts, tuples and mappings (see :func:`bounds`).
"""

from __future__ import annotations

import collections.abc
import dataclasses
import functools
import math
import types
import typing
from enum import Enum
from typing import Any, TypeVar

from livevoice.control.codes import RequestStatus

T = TypeVar("T")


class WireError(Exception):
    """A JSON value that does not fit a record: a request status code and a one-line comment."""

    def __init__(self, status: RequestStatus, comment: str) -> None:
        super().__init__(comment)
        self.status = status
        self.comment = comment


def bounds(
    *,
    lo: float | None = None,
    hi: float | None = None,
    min_len: int | None = None,
    max_len: int | None = None,
) -> dict[str, Any]:
    """Field metadata: inclusive numeric range and/or length range (characters or items)."""
    return {"min": lo, "max": hi, "min_len": min_len, "max_len": max_len}


@functools.cache
def camel(name: str) -> str:
    """``duration_ms`` -> ``durationMs`` (the wire name of a field)."""
    head, *rest = name.split("_")
    return head + "".join(part[:1].upper() + part[1:] for part in rest)


@functools.cache
def _hints(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def wire_fields(cls: type) -> list[str]:
    """Wire names of a record type's fields, in declaration order."""
    return [camel(f.name) for f in dataclasses.fields(cls)]


def to_wire(record: Any) -> dict[str, Any]:
    """A record as a JSON-ready dict with camelCase keys (nested records and tuples converted)."""
    if not dataclasses.is_dataclass(record) or isinstance(record, type):
        raise TypeError(f"{record!r} is not a record instance")
    return {camel(f.name): _value_to_wire(getattr(record, f.name)) for f in dataclasses.fields(record)}


def _value_to_wire(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return to_wire(value)
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, tuple | list):
        return [_value_to_wire(v) for v in value]
    if isinstance(value, collections.abc.Mapping):
        return {str(k): _value_to_wire(v) for k, v in value.items()}
    return value


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__


def _wrong_type(path: str, expected: str, value: Any) -> WireError:
    return WireError(
        RequestStatus.INVALID_REQUEST_FIELD_TYPE,
        f"field '{path}' must be {expected}, not {_json_type(value)}",
    )


def from_wire(cls: type[T], data: Any, path: str = "", *, strict: bool = True) -> T:
    """Build a ``cls`` record from a parsed JSON object; :class:`WireError` on the first problem.

    ``path`` prefixes field names in messages (used for nested records). With
    ``strict`` (the default, used for request data) unknown fields are rejected: they
    are usually typos; without it they are ignored (envelopes, for forward
    compatibility). Missing fields with a default take it; missing fields without one
    are an error.
    """
    if not isinstance(data, dict):
        what = f"field '{path}'" if path else "requestData"
        raise WireError(
            RequestStatus.INVALID_REQUEST_FIELD_TYPE, f"{what} must be an object, not {_json_type(data)}"
        )
    fields = dataclasses.fields(cls)  # type: ignore[arg-type]
    by_wire = {camel(f.name): f for f in fields}
    for key in data if strict else ():
        if key not in by_wire:
            known = ", ".join(by_wire) or "none"
            raise WireError(
                RequestStatus.UNKNOWN_REQUEST_FIELD, f"unknown field '{_join(path, key)}'; fields: {known}"
            )
    hints = _hints(cls)  # type: ignore[arg-type]
    values: dict[str, Any] = {}
    for wire_name, f in by_wire.items():
        field_path = _join(path, wire_name)
        if wire_name not in data:
            if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
                raise WireError(RequestStatus.MISSING_REQUEST_FIELD, f"missing field '{field_path}'")
            continue
        value = _convert(hints[f.name], data[wire_name], field_path, strict)
        _check_bounds(field_path, value, f.metadata)
        values[f.name] = value
    return cls(**values)


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _convert(tp: Any, value: Any, path: str, strict: bool) -> Any:
    origin = typing.get_origin(tp)
    if tp is Any:
        return value
    if dataclasses.is_dataclass(tp) and isinstance(tp, type):
        return from_wire(tp, value, path, strict=strict)
    if origin is typing.Literal:
        allowed = typing.get_args(tp)
        if not isinstance(value, str):
            raise _wrong_type(path, "a string", value)
        if value not in allowed:
            raise WireError(
                RequestStatus.INVALID_REQUEST_FIELD,
                f"field '{path}' = {value[:40]!r} is not allowed; allowed: {', '.join(allowed)}",
            )
        return value
    if origin is typing.Union or origin is types.UnionType:
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        if value is None:
            return None
        return _convert(args[0], value, path, strict)
    if origin is tuple:
        item_type = typing.get_args(tp)[0]
        if not isinstance(value, list):
            raise _wrong_type(path, "an array", value)
        return tuple(_convert(item_type, v, f"{path}[{i}]", strict) for i, v in enumerate(value))
    if origin in (dict, collections.abc.Mapping):
        item_type = typing.get_args(tp)[1]
        if not isinstance(value, dict):
            raise _wrong_type(path, "an object", value)
        return {k: _convert(item_type, v, _join(path, k), strict) for k, v in value.items()}
    if tp is bool:
        if not isinstance(value, bool):
            raise _wrong_type(path, "true or false", value)
        return value
    if tp is int:
        if not isinstance(value, int) or isinstance(value, bool):
            raise _wrong_type(path, "an integer", value)
        return value
    if tp is float:
        if not isinstance(value, int | float) or isinstance(value, bool):
            raise _wrong_type(path, "a number", value)
        number = float(value)
        if not math.isfinite(number):
            raise WireError(RequestStatus.INVALID_REQUEST_FIELD, f"field '{path}' must be a finite number")
        return number
    if tp is str:
        if not isinstance(value, str):
            raise _wrong_type(path, "a string", value)
        return value
    raise TypeError(f"unsupported field type {tp!r} at {path}")


def _check_bounds(path: str, value: Any, meta: collections.abc.Mapping[str, Any]) -> None:
    if value is None or not meta:
        return
    lo, hi = meta.get("min"), meta.get("max")
    if isinstance(value, int | float) and not isinstance(value, bool):
        if (lo is not None and value < lo) or (hi is not None and value > hi):
            raise WireError(
                RequestStatus.REQUEST_FIELD_OUT_OF_RANGE,
                f"field '{path}' = {value!r} is out of range; allowed: {lo} to {hi}",
            )
        return
    min_len, max_len = meta.get("min_len"), meta.get("max_len")
    if isinstance(value, str | tuple | dict):
        unit = "characters" if isinstance(value, str) else "items"
        if min_len is not None and len(value) < min_len:
            if len(value) == 0:
                raise WireError(RequestStatus.REQUEST_FIELD_EMPTY, f"field '{path}' must not be empty")
            raise WireError(
                RequestStatus.REQUEST_FIELD_OUT_OF_RANGE,
                f"field '{path}' has {len(value)} {unit}; at least {min_len}",
            )
        if max_len is not None and len(value) > max_len:
            raise WireError(
                RequestStatus.REQUEST_FIELD_OUT_OF_RANGE,
                f"field '{path}' has {len(value)} {unit}; at most {max_len}",
            )


__all__ = ["WireError", "bounds", "camel", "from_wire", "to_wire", "wire_fields"]
