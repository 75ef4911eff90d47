"""The messages of the control protocol: ``{"op": int, "d": {...}}`` envelopes as records.

One frozen record per op code (see :class:`~livevoice.control.codes.OpCode`), each
with ``OP`` and camelCase wire fields. :func:`encode` turns a record into JSON text;
:func:`decode` parses JSON text into the record of its op, raising
:class:`ProtocolError` with the close code and reason the server closes the session
with. Envelope parsing ignores unknown fields of ``d`` (forward compatibility);
request data is checked strictly elsewhere (:mod:`.requests`).

Pure code: no sockets, no clock.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, ClassVar

from livevoice.control.codes import CloseCode, EventSubscription, OpCode, RequestStatus, wire_name
from livevoice.control.wire import WireError, bounds, from_wire, to_wire

MAX_CLOSE_REASON_BYTES = 123
"""A websocket close reason holds at most 123 bytes of UTF-8."""
MAX_REQUEST_ID_CHARS = 256
"""Longest ``requestId`` accepted."""


class ProtocolError(Exception):
    """A message the session cannot continue after: the server closes with ``code`` and ``reason``."""

    def __init__(self, code: CloseCode, reason: str) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = close_reason(reason)


def close_reason(text: str) -> str:
    """``text`` cut to fit a websocket close frame (123 bytes of UTF-8, on a character boundary)."""
    data = text.encode("utf-8")
    if len(data) <= MAX_CLOSE_REASON_BYTES:
        return text
    return data[: MAX_CLOSE_REASON_BYTES - 3].decode("utf-8", errors="ignore") + "..."


@dataclass(frozen=True)
class Authentication:
    """The challenge a client must answer (see :mod:`livevoice.control.auth`)."""

    challenge: str
    salt: str


@dataclass(frozen=True)
class Hello:
    """Server -> client, first message of every session."""

    OP: ClassVar[OpCode] = OpCode.HELLO
    livevoice_version: str
    rpc_version: int
    authentication: Authentication


@dataclass(frozen=True)
class Identify:
    """Client -> server: answer the challenge, pick the RPC version and the events to receive."""

    OP: ClassVar[OpCode] = OpCode.IDENTIFY
    rpc_version: int
    authentication: str = ""
    """base64(sha256(base64(sha256(secret + salt)) + challenge))."""
    event_subscriptions: int = field(default=int(EventSubscription.ALL), metadata=bounds(lo=0))
    """Bit mask of :class:`~livevoice.control.codes.EventSubscription`."""


@dataclass(frozen=True)
class Identified:
    """Server -> client: the session is identified and may send requests."""

    OP: ClassVar[OpCode] = OpCode.IDENTIFIED
    negotiated_rpc_version: int


@dataclass(frozen=True)
class Reidentify:
    """Client -> server: change the event subscriptions of an identified session."""

    OP: ClassVar[OpCode] = OpCode.REIDENTIFY
    event_subscriptions: int = field(default=int(EventSubscription.ALL), metadata=bounds(lo=0))


@dataclass(frozen=True)
class Event:
    """Server -> client: an event the session subscribed to."""

    OP: ClassVar[OpCode] = OpCode.EVENT
    event_type: str
    event_intent: int
    """The subscription bit that selected it."""
    event_data: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Request:
    """Client -> server: one request. ``request_type``/``request_data`` are kept as received;
    the server checks them and answers problems with a request status."""

    OP: ClassVar[OpCode] = OpCode.REQUEST
    request_id: str = field(metadata=bounds(max_len=MAX_REQUEST_ID_CHARS))
    request_type: Any = None
    request_data: Any = None


@dataclass(frozen=True)
class RequestStatusInfo:
    """``requestStatus`` of a response."""

    result: bool
    """True exactly when ``code`` is 100 (Success)."""
    code: int
    comment: str | None = None
    """What went wrong, one line (absent on success)."""


@dataclass(frozen=True)
class RequestResponse:
    """Server -> client: the answer to one request (``responseData`` only on success)."""

    OP: ClassVar[OpCode] = OpCode.REQUEST_RESPONSE
    request_type: str
    request_id: str
    request_status: RequestStatusInfo
    response_data: dict[str, Any] | None = None

    @property
    def ok(self) -> bool:
        return self.request_status.result


@dataclass(frozen=True)
class RequestBatch:
    """Client -> server: requests applied in order; items are ``{requestType, requestId?, requestData?}``."""

    OP: ClassVar[OpCode] = OpCode.REQUEST_BATCH
    request_id: str = field(metadata=bounds(max_len=MAX_REQUEST_ID_CHARS))
    requests: tuple[Any, ...] = ()
    halt_on_failure: bool = False
    """Stop at the first failed request (the rest get no result)."""


@dataclass(frozen=True)
class RequestBatchResponse:
    """Server -> client: one result per executed batch item, in order."""

    OP: ClassVar[OpCode] = OpCode.REQUEST_BATCH_RESPONSE
    request_id: str
    results: tuple[RequestResponse, ...] = ()


Message = (
    Hello
    | Identify
    | Identified
    | Reidentify
    | Event
    | Request
    | RequestResponse
    | RequestBatch
    | RequestBatchResponse
)

MESSAGES: dict[OpCode, type[Any]] = {
    cls.OP: cls
    for cls in (
        Hello,
        Identify,
        Identified,
        Reidentify,
        Event,
        Request,
        RequestResponse,
        RequestBatch,
        RequestBatchResponse,
    )
}
"""Op code -> record."""

CLIENT_OPS = frozenset({OpCode.IDENTIFY, OpCode.REIDENTIFY, OpCode.REQUEST, OpCode.REQUEST_BATCH})
"""Ops a client may send."""
SERVER_OPS = frozenset(MESSAGES) - CLIENT_OPS
"""Ops the server sends."""


def _tidy_response(d: dict[str, Any]) -> dict[str, Any]:
    status = {k: v for k, v in d["requestStatus"].items() if v is not None}
    return {k: (status if k == "requestStatus" else v) for k, v in d.items() if v is not None}


def message_dict(message: Message) -> dict[str, Any]:
    """The ``{"op", "d"}`` dict of a record; absent optional envelope fields are left out."""
    d = to_wire(message)
    if isinstance(message, RequestResponse):
        d = _tidy_response(d)
    elif isinstance(message, RequestBatchResponse):
        d["results"] = [_tidy_response(r) for r in d["results"]]
    return {"op": int(message.OP), "d": {k: v for k, v in d.items() if v is not None}}


def encode(message: Message) -> str:
    """Compact JSON text of a record (NaN/inf are refused: they are not JSON)."""
    return json.dumps(message_dict(message), separators=(",", ":"), allow_nan=False, ensure_ascii=False)


def encode_event(event_type: str, intent: int, data_json: str) -> str:
    """JSON text of an Event whose ``eventData`` is already JSON (encoded once for every client)."""
    head = json.dumps({"eventType": event_type, "eventIntent": intent}, separators=(",", ":"))
    return f'{{"op":{int(OpCode.EVENT)},"d":{head[:-1]},"eventData":{data_json}}}}}'


def parse_json(text: str | bytes) -> Any:
    """Parse one message; :class:`ProtocolError` (4002) for binary frames and invalid JSON."""
    if isinstance(text, bytes | bytearray | memoryview):
        raise ProtocolError(
            CloseCode.MESSAGE_DECODE_ERROR, "binary messages are not supported; send JSON text"
        )
    try:
        return json.loads(text)
    except RecursionError:
        raise ProtocolError(CloseCode.MESSAGE_DECODE_ERROR, "message is nested too deeply") from None
    except ValueError as err:
        raise ProtocolError(CloseCode.MESSAGE_DECODE_ERROR, f"message is not valid JSON: {err}") from None


_CLOSE_FOR_STATUS = {
    RequestStatus.MISSING_REQUEST_FIELD: CloseCode.MISSING_DATA_FIELD,
    RequestStatus.INVALID_REQUEST_FIELD_TYPE: CloseCode.INVALID_DATA_FIELD_TYPE,
}


def decode(text: str | bytes, allowed_ops: Iterable[OpCode] = CLIENT_OPS) -> Message:
    """The record of one message; :class:`ProtocolError` for anything that is not a valid envelope."""
    value = parse_json(text)
    if not isinstance(value, dict):
        raise ProtocolError(CloseCode.MESSAGE_DECODE_ERROR, "message must be a JSON object {op, d}")
    if "op" not in value:
        raise ProtocolError(CloseCode.MISSING_DATA_FIELD, "message has no 'op'")
    op = value["op"]
    if not isinstance(op, int) or isinstance(op, bool):
        raise ProtocolError(CloseCode.INVALID_DATA_FIELD_TYPE, "'op' must be an integer")
    allowed = set(allowed_ops)
    if op not in allowed:
        names = ", ".join(f"{int(o)} ({wire_name(o)})" for o in sorted(allowed))
        raise ProtocolError(CloseCode.UNKNOWN_OP_CODE, f"op {op} cannot be sent here; allowed: {names}")
    if "d" not in value:
        raise ProtocolError(CloseCode.MISSING_DATA_FIELD, "message has no 'd'")
    cls = MESSAGES[OpCode(op)]
    try:
        message: Message = from_wire(cls, value["d"], "d", strict=False)
    except WireError as err:
        code = _CLOSE_FOR_STATUS.get(err.status, CloseCode.INVALID_DATA_FIELD_VALUE)
        raise ProtocolError(code, f"{cls.__name__}: {err.comment}") from None
    return message


__all__ = [
    "CLIENT_OPS",
    "MAX_REQUEST_ID_CHARS",
    "MESSAGES",
    "SERVER_OPS",
    "Authentication",
    "Event",
    "Hello",
    "Identified",
    "Identify",
    "Message",
    "ProtocolError",
    "Reidentify",
    "Request",
    "RequestBatch",
    "RequestBatchResponse",
    "RequestResponse",
    "RequestStatusInfo",
    "close_reason",
    "decode",
    "encode",
    "encode_event",
    "message_dict",
    "parse_json",
]
