"""Every event: its ``eventData`` record and the subscription bit that selects it.

The daemon publishes events through :meth:`ControlServer.publish_event
<livevoice.control.server.ControlServer.publish_event>` (a record from here) or
:meth:`~livevoice.control.server.ControlServer.publish` (type name and data dict).
The loop knows nothing of these: it reports its own records
(:data:`livevoice.frames.LoopRecord`), and :func:`event_for_frame` is the one place
that turns them into events. On the wire, times are ms, levels dBFS, stamps monotonic ns.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

from livevoice import frames
from livevoice.control.codes import EventSubscription
from livevoice.control.records import DeviceRole, MorphInfo

LEVEL_FLOOR_DBFS = -120.0
"""Level meters never go below this (silence would be -inf, which JSON cannot carry)."""


@dataclass(frozen=True)
class VoiceChangedEvent:
    """The voice of new phrases changed (SetVoice, MorphVoice, MixVoices, a pending change applied)."""

    event_type: ClassVar[str] = "VoiceChanged"
    subscription: ClassVar[EventSubscription] = EventSubscription.VOICE
    voice: str
    previous: str
    dim: int
    transient: bool
    morph: MorphInfo | None = None
    """Set when the change starts a morph (``voice`` is then its destination)."""


@dataclass(frozen=True)
class ModeChangedEvent:
    """The mode changed."""

    event_type: ClassVar[str] = "ModeChanged"
    subscription: ClassVar[EventSubscription] = EventSubscription.MODE
    mode: str
    previous: str


@dataclass(frozen=True)
class SpeechStartedEvent:
    """The VAD found the start of speech."""

    event_type: ClassVar[str] = "SpeechStarted"
    subscription: ClassVar[EventSubscription] = EventSubscription.SPEECH
    utterance_id: int
    stream_time_ms: float
    """Position in the input stream (ms since capture started)."""


@dataclass(frozen=True)
class SpeechEndedEvent:
    """The VAD found the end of speech."""

    event_type: ClassVar[str] = "SpeechEnded"
    subscription: ClassVar[EventSubscription] = EventSubscription.SPEECH
    utterance_id: int
    stream_time_ms: float


@dataclass(frozen=True)
class TranscriptPartialEvent:
    """The growing transcript of the utterance being spoken (opt-in: several per second)."""

    event_type: ClassVar[str] = "TranscriptPartial"
    subscription: ClassVar[EventSubscription] = EventSubscription.TRANSCRIPT_PARTIAL
    utterance_id: int
    committed_text: str
    """Words that will not change any more."""
    tentative_text: str
    """The current guess after them (may still change)."""


@dataclass(frozen=True)
class WordTiming:
    """One recognised word."""

    text: str
    start_ms: float
    end_ms: float
    probability: float


@dataclass(frozen=True)
class TranscriptFinalEvent:
    """The final text of one utterance."""

    event_type: ClassVar[str] = "TranscriptFinal"
    subscription: ClassVar[EventSubscription] = EventSubscription.TRANSCRIPTS
    utterance_id: int
    text: str
    start_ms: float
    end_ms: float
    words: tuple[WordTiming, ...] = ()


@dataclass(frozen=True)
class UtteranceLatencyEvent:
    """Every stage timestamp of one utterance once its first sample was played."""

    event_type: ClassVar[str] = "UtteranceLatency"
    subscription: ClassVar[EventSubscription] = EventSubscription.LATENCY
    utterance_id: int
    stamps_ns: Mapping[str, int]
    """Monotonic ns: speechStart, speechEnd, textReady, ttsStart, ttsFirstAudio,
    firstSampleOut, and any extra stage stamps; a stage not reached is absent."""
    tts_first_packet_ms: float | None = None
    output_first_packet_ms: float | None = None
    mouth_to_ear_ms: float | None = None


@dataclass(frozen=True)
class LevelMetersEvent:
    """Input and output levels of the last block (opt-in: about 20 per second)."""

    event_type: ClassVar[str] = "LevelMeters"
    subscription: ClassVar[EventSubscription] = EventSubscription.LEVEL_METERS
    input_peak_dbfs: float
    input_rms_dbfs: float
    output_peak_dbfs: float
    output_rms_dbfs: float


@dataclass(frozen=True)
class BufferUnderrunEvent:
    """A buffer ran empty (the output played silence); ``count`` is the total so far."""

    event_type: ClassVar[str] = "BufferUnderrun"
    subscription: ClassVar[EventSubscription] = EventSubscription.BUFFERS
    buffer: str
    count: int


@dataclass(frozen=True)
class BufferOverrunEvent:
    """A buffer or queue was full and data was dropped; ``count`` is the total so far."""

    event_type: ClassVar[str] = "BufferOverrun"
    subscription: ClassVar[EventSubscription] = EventSubscription.BUFFERS
    buffer: str
    count: int


@dataclass(frozen=True)
class DeviceLostEvent:
    """An audio device disappeared or failed; the daemon keeps trying to reopen it."""

    event_type: ClassVar[str] = "DeviceLost"
    subscription: ClassVar[EventSubscription] = EventSubscription.DEVICES
    role: DeviceRole
    device: str
    reason: str


@dataclass(frozen=True)
class DeviceRestoredEvent:
    """A lost audio device works again."""

    event_type: ClassVar[str] = "DeviceRestored"
    subscription: ClassVar[EventSubscription] = EventSubscription.DEVICES
    role: DeviceRole
    device: str


@dataclass(frozen=True)
class ErrorEvent:
    """Something failed inside the daemon; it keeps running."""

    event_type: ClassVar[str] = "Error"
    subscription: ClassVar[EventSubscription] = EventSubscription.ERRORS
    source: str
    """Stage that failed: "asr", "tts", "audio", "voices", ..."""
    message: str


@dataclass(frozen=True)
class RealTimeWarningEvent:
    """This machine cannot speak in real time: speech takes longer to make than to say."""

    event_type: ClassVar[str] = "RealTimeWarning"
    subscription: ClassVar[EventSubscription] = EventSubscription.ERRORS
    real_time_factor: float
    """Seconds of compute per second of speech (above 1: slower than real time)."""
    message: str


EVENTS: dict[str, type[Any]] = {
    cls.event_type: cls
    for cls in (
        VoiceChangedEvent,
        ModeChangedEvent,
        SpeechStartedEvent,
        SpeechEndedEvent,
        TranscriptPartialEvent,
        TranscriptFinalEvent,
        UtteranceLatencyEvent,
        LevelMetersEvent,
        BufferUnderrunEvent,
        BufferOverrunEvent,
        DeviceLostEvent,
        DeviceRestoredEvent,
        ErrorEvent,
        RealTimeWarningEvent,
    )
}
"""Every event type -> its record, in the order the documentation lists them."""

EVENT_SUBSCRIPTIONS: dict[str, EventSubscription] = {name: cls.subscription for name, cls in EVENTS.items()}
"""Event type -> the subscription bit a session needs to receive it."""


def subscription_for(event_types: list[str]) -> EventSubscription:
    """The smallest subscription mask that delivers all ``event_types`` (KeyError if one is unknown)."""
    mask = EventSubscription.NONE
    for name in event_types:
        mask |= EVENT_SUBSCRIPTIONS[name]
    return mask


def _ms(seconds: float) -> float:
    return round(seconds * 1000.0, 3)


_STAMP_NAMES = {
    "speech_start": "speechStart",
    "speech_end": "speechEnd",
    "text_ready": "textReady",
    "tts_start": "ttsStart",
    "tts_first_audio": "ttsFirstAudio",
    "first_sample_out": "firstSampleOut",
}


def _morph_info(morph: frames.MorphProgress | None) -> MorphInfo | None:
    if morph is None:
        return None
    return MorphInfo(morph.from_voice, morph.to_voice, morph.duration_ms, morph.curve, morph.progress)


def _dbfs(level: float) -> float:
    """Linear full-scale level -> dBFS, clamped to :data:`LEVEL_FLOOR_DBFS`."""
    return level_dbfs(20.0 * math.log10(level) if level > 0 else -math.inf)


def event_for_frame(frame: Any) -> Any:
    """The event for a loop record of :mod:`livevoice.frames` (TypeError for other records).

    Every :data:`~livevoice.frames.LoopRecord` maps to the event of the same name, with
    wire units (seconds -> ms, linear levels -> dBFS); LatencyStamps becomes
    UtteranceLatency with the stages reached, StageError becomes Error.
    """
    if isinstance(frame, frames.SpeechStarted):
        return SpeechStartedEvent(frame.utterance_id, _ms(frame.stream_time_s))
    if isinstance(frame, frames.SpeechEnded):
        return SpeechEndedEvent(frame.utterance_id, _ms(frame.stream_time_s))
    if isinstance(frame, frames.TranscriptPartial):
        return TranscriptPartialEvent(frame.utterance_id, frame.committed_text, frame.tentative_text)
    if isinstance(frame, frames.TranscriptFinal):
        words = tuple(WordTiming(w.text, _ms(w.start_s), _ms(w.end_s), w.probability) for w in frame.words)
        return TranscriptFinalEvent(
            frame.utterance_id, frame.text, _ms(frame.start_s), _ms(frame.end_s), words
        )
    if isinstance(frame, frames.LatencyStamps):
        stamps = {wire: getattr(frame, name) for name, wire in _STAMP_NAMES.items() if getattr(frame, name)}
        stamps.update({k: v for k, v in frame.extra.items() if v})
        return UtteranceLatencyEvent(
            frame.utterance_id,
            stamps,
            frame.tts_first_packet_ms,
            frame.output_first_packet_ms,
            frame.mouth_to_ear_ms,
        )
    if isinstance(frame, frames.ModeChanged):
        return ModeChangedEvent(frame.mode, frame.previous)
    if isinstance(frame, frames.VoiceChanged):
        return VoiceChangedEvent(
            frame.voice, frame.previous, frame.dim, frame.transient, _morph_info(frame.morph)
        )
    if isinstance(frame, frames.StageError):
        return ErrorEvent(frame.source, frame.message)
    if isinstance(frame, frames.RealTimeWarning):
        return RealTimeWarningEvent(round(frame.real_time_factor, 3), frame.message)
    if isinstance(frame, frames.DeviceLost):
        return DeviceLostEvent(frame.role, frame.device, frame.reason)
    if isinstance(frame, frames.DeviceRestored):
        return DeviceRestoredEvent(frame.role, frame.device)
    if isinstance(frame, frames.BufferOverrun):
        return BufferOverrunEvent(frame.buffer, frame.count)
    if isinstance(frame, frames.BufferUnderrun):
        return BufferUnderrunEvent(frame.buffer, frame.count)
    if isinstance(frame, frames.LevelMeters):
        levels = (frame.input_peak, frame.input_rms, frame.output_peak, frame.output_rms)
        return LevelMetersEvent(*(_dbfs(level) for level in levels))
    raise TypeError(f"no event for {type(frame).__name__}")


def level_dbfs(value: float) -> float:
    """A level in dBFS clamped to :data:`LEVEL_FLOOR_DBFS` (for LevelMeters)."""
    return max(LEVEL_FLOOR_DBFS, value)


__all__ = [
    "EVENTS",
    "EVENT_SUBSCRIPTIONS",
    "LEVEL_FLOOR_DBFS",
    "BufferOverrunEvent",
    "BufferUnderrunEvent",
    "DeviceLostEvent",
    "DeviceRestoredEvent",
    "ErrorEvent",
    "LevelMetersEvent",
    "ModeChangedEvent",
    "RealTimeWarningEvent",
    "SpeechEndedEvent",
    "SpeechStartedEvent",
    "TranscriptFinalEvent",
    "TranscriptPartialEvent",
    "UtteranceLatencyEvent",
    "VoiceChangedEvent",
    "WordTiming",
    "event_for_frame",
    "level_dbfs",
    "subscription_for",
]
