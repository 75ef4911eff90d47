"""Every request: its ``requestData`` record, its ``responseData`` record, and what it needs.

A request's data is checked against its record with :func:`~livevoice.control.wire.from_wire`
(unknown fields, wrong types, out-of-range values each get their own status code);
the server then calls the daemon state. :data:`REQUESTS` is the registry the server,
the client and the documentation test iterate over.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from livevoice.control.records import (
    ApplyWhen,
    CurrentVoice,
    Curve,
    DaemonStatus,
    DeviceList,
    Empty,
    MixResult,
    Mode,
    SpeakResult,
    StatsReport,
    TextOptions,
    VersionInfo,
    VoiceList,
)
from livevoice.control.wire import bounds

MAX_VOICE_NAME_CHARS = 200
"""Longest voice name a request may carry (library names are at most 100)."""
MAX_SPEAK_CHARS = 2000
"""Longest text Speak accepts (characters)."""
MAX_MIX_VOICES = 16
"""Most voices one MixVoices may combine."""
MAX_MORPH_MS = 600_000
"""Longest morph (ms): 10 minutes."""
MAX_BATCH_REQUESTS = 100
"""Most requests in one RequestBatch."""

_VOICE_NAME = bounds(min_len=1, max_len=MAX_VOICE_NAME_CHARS)
_DEVICE = bounds(max_len=200)


@dataclass(frozen=True)
class GetVersionRequest:
    """Versions, and the request and event types the daemon knows."""


@dataclass(frozen=True)
class GetStatusRequest:
    """Mode, current voice, push-to-talk, whether audio runs and someone speaks."""


@dataclass(frozen=True)
class GetStatsRequest:
    """Latency figures, buffer counters, control server counters."""


@dataclass(frozen=True)
class ListVoicesRequest:
    """The voices of the library."""


@dataclass(frozen=True)
class GetCurrentVoiceRequest:
    """The current voice, a pending change and a morph in progress."""


@dataclass(frozen=True)
class SetVoiceRequest:
    """Make a library voice current."""

    voice: str = field(metadata=_VOICE_NAME)
    """Name of a library voice."""
    apply: ApplyWhen = "phrase"


@dataclass(frozen=True)
class MorphVoiceRequest:
    """Move the current voice to another one over a duration (SLERP along the curve)."""

    to: str = field(metadata=_VOICE_NAME)
    """Name of the library voice to arrive at."""
    duration_ms: int = field(default=2000, metadata=bounds(lo=0, hi=MAX_MORPH_MS))
    curve: Curve = "linear"


@dataclass(frozen=True)
class MixVoicesRequest:
    """Make a weighted mix of library voices the (transient) current voice."""

    weights: dict[str, float] = field(metadata=bounds(min_len=1, max_len=MAX_MIX_VOICES))
    """Voice name -> weight (>= 0; normalised to sum 1)."""
    apply: ApplyWhen = "phrase"


@dataclass(frozen=True)
class SetModeRequest:
    """Convert, pass the microphone through, or mute."""

    mode: Mode


@dataclass(frozen=True)
class SetPushToTalkRequest:
    """Press or release push-to-talk (and optionally switch push-to-talk gating on or off)."""

    pressed: bool
    enabled: bool | None = None
    """When given, turns push-to-talk gating on (true) or off (false); absent = unchanged."""


@dataclass(frozen=True)
class SpeakRequest:
    """Speak typed text in the current voice (type-to-speak)."""

    text: str = field(metadata=bounds(min_len=1, max_len=MAX_SPEAK_CHARS))


@dataclass(frozen=True)
class StopSpeakingRequest:
    """Stop what is being spoken now and drop queued phrases."""


@dataclass(frozen=True)
class ListDevicesRequest:
    """Audio devices and the ones in use."""


@dataclass(frozen=True)
class SetDevicesRequest:
    """Switch audio devices (name substring or index as in ``livevoice devices``); absent = unchanged."""

    input_device: str | None = field(default=None, metadata=_DEVICE)
    output_device: str | None = field(default=None, metadata=_DEVICE)
    monitor_device: str | None = field(default=None, metadata=_DEVICE)
    """"" turns the monitor off."""


@dataclass(frozen=True)
class GetTextOptionsRequest:
    """The text stage's settings: phrase cutting, word filter, disfluency clean-up."""


@dataclass(frozen=True)
class SetTextOptionsRequest:
    """Change some of the text stage's settings (the ``[text]`` config keys); absent = unchanged.

    Values are checked exactly like the config file, and the list file is read, before
    anything changes; the new settings apply from the next words recognised.
    """

    segment_on: str | None = None
    min_phrase_words: int | None = None
    max_phrase_words: int | None = None
    word_filter_file: str | None = None
    """"" switches the word filter off."""
    filter_action: str | None = None
    filter_replacement: str | None = None
    clean_disfluencies: bool | None = None
    fillers: tuple[str, ...] | None = None


@dataclass(frozen=True)
class RequestSpec:
    """What the server and the documentation need to know about one request type."""

    request_type: str
    data_type: type[Any]
    """Record its ``requestData`` is checked against."""
    response_type: type[Any]
    """Record of its ``responseData``."""
    needs_audio: bool
    """Answers NotAvailable (207) in control-only mode."""
    changes_state: bool
    """Changes what the daemon does (the rest only read)."""


REQUESTS: dict[str, RequestSpec] = {
    spec.request_type: spec
    for spec in (
        RequestSpec("GetVersion", GetVersionRequest, VersionInfo, False, False),
        RequestSpec("GetStatus", GetStatusRequest, DaemonStatus, False, False),
        RequestSpec("GetStats", GetStatsRequest, StatsReport, False, False),
        RequestSpec("ListVoices", ListVoicesRequest, VoiceList, False, False),
        RequestSpec("GetCurrentVoice", GetCurrentVoiceRequest, CurrentVoice, False, False),
        RequestSpec("SetVoice", SetVoiceRequest, Empty, False, True),
        RequestSpec("MorphVoice", MorphVoiceRequest, Empty, False, True),
        RequestSpec("MixVoices", MixVoicesRequest, MixResult, False, True),
        RequestSpec("SetMode", SetModeRequest, Empty, False, True),
        RequestSpec("SetPushToTalk", SetPushToTalkRequest, Empty, False, True),
        RequestSpec("GetTextOptions", GetTextOptionsRequest, TextOptions, False, False),
        RequestSpec("SetTextOptions", SetTextOptionsRequest, TextOptions, False, True),
        RequestSpec("Speak", SpeakRequest, SpeakResult, True, True),
        RequestSpec("StopSpeaking", StopSpeakingRequest, Empty, True, True),
        RequestSpec("ListDevices", ListDevicesRequest, DeviceList, True, False),
        RequestSpec("SetDevices", SetDevicesRequest, Empty, True, True),
    )
}
"""Every request type, in the order the documentation lists them."""


def find_request_type(name: str) -> str | None:
    """The request type spelled ``name`` ignoring case (for the command line), or None."""
    folded = name.casefold()
    for request_type in REQUESTS:
        if request_type.casefold() == folded:
            return request_type
    return None


__all__ = [
    "MAX_BATCH_REQUESTS",
    "MAX_MIX_VOICES",
    "MAX_MORPH_MS",
    "MAX_SPEAK_CHARS",
    "REQUESTS",
    "GetCurrentVoiceRequest",
    "GetStatsRequest",
    "GetStatusRequest",
    "GetTextOptionsRequest",
    "GetVersionRequest",
    "ListDevicesRequest",
    "ListVoicesRequest",
    "MixVoicesRequest",
    "MorphVoiceRequest",
    "RequestSpec",
    "SetDevicesRequest",
    "SetModeRequest",
    "SetPushToTalkRequest",
    "SetTextOptionsRequest",
    "SetVoiceRequest",
    "SpeakRequest",
    "StopSpeakingRequest",
    "find_request_type",
]
