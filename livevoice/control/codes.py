"""Numbers of the control protocol: op codes, close codes, request status codes, event subscriptions.

The scheme follows obs-websocket v5 (the convention streamers' tools already speak);
``docs/protocol.md`` documents every value. Values never change meaning within one
``RPC_VERSION``.
"""

from __future__ import annotations

from enum import IntEnum, IntFlag

RPC_VERSION = 1
"""Version of the request/event vocabulary; a client asks for it in Identify."""


class OpCode(IntEnum):
    """The ``op`` of a message: what its ``d`` holds."""

    HELLO = 0
    """Server -> client on connect: versions and the authentication challenge."""
    IDENTIFY = 1
    """Client -> server: RPC version, authentication answer, event subscriptions."""
    IDENTIFIED = 2
    """Server -> client: identification accepted."""
    REIDENTIFY = 3
    """Client -> server: change event subscriptions of an identified session."""
    EVENT = 5
    """Server -> client: something happened (``eventType``, ``eventData``)."""
    REQUEST = 6
    """Client -> server: do or read something (``requestType``, ``requestId``, ``requestData``)."""
    REQUEST_RESPONSE = 7
    """Server -> client: the answer to one Request."""
    REQUEST_BATCH = 8
    """Client -> server: several requests applied in order."""
    REQUEST_BATCH_RESPONSE = 9
    """Server -> client: the answers to a batch, in order."""


class CloseCode(IntEnum):
    """WebSocket close codes the server uses (the close reason says what exactly was wrong)."""

    NORMAL = 1000
    """The client or the server ended the session normally."""
    GOING_AWAY = 1001
    """The daemon is stopping."""
    MESSAGE_TOO_BIG = 1009
    """A message exceeded ``control.max_message_bytes``."""
    UNKNOWN_REASON = 4000
    """The server failed in an unexpected way (a bug; it is logged)."""
    MESSAGE_DECODE_ERROR = 4002
    """Not a JSON text message, or not a JSON object."""
    MISSING_DATA_FIELD = 4003
    """A required field of the envelope or of ``d`` is missing."""
    INVALID_DATA_FIELD_TYPE = 4004
    """A field of the envelope or of ``d`` has the wrong JSON type."""
    INVALID_DATA_FIELD_VALUE = 4005
    """A field of the envelope or of ``d`` has a value that is not allowed."""
    UNKNOWN_OP_CODE = 4006
    """``op`` is not one a client may send."""
    NOT_IDENTIFIED = 4007
    """A message other than Identify arrived before identification."""
    ALREADY_IDENTIFIED = 4008
    """Identify arrived twice (use Reidentify to change subscriptions)."""
    AUTHENTICATION_FAILED = 4009
    """The authentication answer was missing or wrong."""
    UNSUPPORTED_RPC_VERSION = 4010
    """The client asked for an RPC version the server does not speak."""
    IDENTIFY_TIMEOUT = 4013
    """No Identify within ``control.identify_timeout_s``."""
    SEND_QUEUE_FULL = 4014
    """The client did not read its messages; ``control.send_queue_size`` were waiting."""


class RequestStatus(IntEnum):
    """``requestStatus.code`` of a RequestResponse."""

    SUCCESS = 100
    """The request was applied."""
    MISSING_REQUEST_TYPE = 203
    """``requestType`` is missing."""
    UNKNOWN_REQUEST_TYPE = 204
    """``requestType`` names no request."""
    GENERIC_ERROR = 205
    """An unexpected failure inside the daemon (a bug; it is logged)."""
    NOT_AVAILABLE = 207
    """The request needs the audio loop, which is not running (control-only mode)."""
    MISSING_REQUEST_FIELD = 300
    """A required field of ``requestData`` is missing."""
    INVALID_REQUEST_FIELD = 400
    """A field of ``requestData`` has a value that is not allowed."""
    INVALID_REQUEST_FIELD_TYPE = 401
    """A field of ``requestData`` (or ``requestData`` itself) has the wrong JSON type."""
    REQUEST_FIELD_OUT_OF_RANGE = 402
    """A number of ``requestData`` is outside its range, or a text is too long."""
    REQUEST_FIELD_EMPTY = 403
    """A text or object of ``requestData`` is empty but must not be."""
    UNKNOWN_REQUEST_FIELD = 404
    """``requestData`` has a field this request does not take (often a typo)."""
    RESOURCE_NOT_FOUND = 600
    """A named voice or device does not exist."""
    INCOMPATIBLE_RESOURCES = 605
    """The named resources cannot be combined (voices of different embedding sizes)."""
    REQUEST_PROCESSING_FAILED = 702
    """The daemon could not do it; the comment says why."""


class EventSubscription(IntFlag):
    """Bits of ``eventSubscriptions`` in Identify/Reidentify: which events a session receives."""

    NONE = 0
    VOICE = 1 << 0
    """VoiceChanged."""
    MODE = 1 << 1
    """ModeChanged."""
    SPEECH = 1 << 2
    """SpeechStarted, SpeechEnded."""
    TRANSCRIPTS = 1 << 3
    """TranscriptFinal."""
    LATENCY = 1 << 4
    """UtteranceLatency."""
    BUFFERS = 1 << 5
    """BufferUnderrun, BufferOverrun."""
    DEVICES = 1 << 6
    """DeviceLost, DeviceRestored."""
    ERRORS = 1 << 7
    """Error."""
    ALL = 0xFF
    """Every low-volume event (the default when Identify names none)."""
    TRANSCRIPT_PARTIAL = 1 << 16
    """TranscriptPartial: several per second while someone speaks (opt-in)."""
    LEVEL_METERS = 1 << 17
    """LevelMeters: about 20 per second (opt-in)."""


def wire_name(member: IntEnum | IntFlag) -> str:
    """The name a code has in the documentation: ``RESOURCE_NOT_FOUND`` -> ``ResourceNotFound``."""
    return "".join(part.capitalize() for part in str(member.name).split("_"))


def status_name(code: int) -> str:
    """``600`` -> ``ResourceNotFound``; the number itself for codes this version does not know."""
    try:
        return wire_name(RequestStatus(code))
    except ValueError:
        return str(code)


KNOWN_SUBSCRIPTION_BITS = int(
    EventSubscription.ALL | EventSubscription.TRANSCRIPT_PARTIAL | EventSubscription.LEVEL_METERS
)
"""Every bit that means something; Identify rejects others."""


__all__ = [
    "KNOWN_SUBSCRIPTION_BITS",
    "RPC_VERSION",
    "CloseCode",
    "EventSubscription",
    "OpCode",
    "RequestStatus",
    "status_name",
    "wire_name",
]
