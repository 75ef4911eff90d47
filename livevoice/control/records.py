"""What requests answer: small frozen records, camelCase on the wire (see :mod:`.wire`).

The daemon state (:class:`~livevoice.control.state.DaemonState`) returns these; the
server turns them into ``responseData``. Times are milliseconds (``*_ms``), sample
rates Hz, levels dBFS.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from livevoice.frames import CURVES, MODES, ApplyWhen, Curve, DeviceRole, Mode

if TYPE_CHECKING:
    from livevoice.config import TextConfig


@dataclass(frozen=True)
class Empty:
    """No data (the answer of requests that only change something)."""


@dataclass(frozen=True)
class VersionInfo:
    """GetVersion: who is answering and what it understands."""

    livevoice_version: str
    rpc_version: int
    available_requests: tuple[str, ...]
    available_events: tuple[str, ...]
    platform: str
    """``sys.platform`` of the daemon, e.g. "linux"."""


@dataclass(frozen=True)
class DaemonStatus:
    """GetStatus: what the daemon is doing right now."""

    mode: Mode
    voice: str
    """Name of the current voice ("" when the library is empty)."""
    audio_available: bool
    """False in control-only mode: requests needing the audio loop answer NotAvailable."""
    speech_active: bool
    """The VAD is inside an utterance."""
    speaking: bool
    """Converted or typed speech is being played."""
    push_to_talk_enabled: bool
    """When true, the microphone is only converted while push-to-talk is pressed."""
    push_to_talk_pressed: bool
    asr_device: str = ""
    """Where speech recognition really runs: "cuda" or "cpu" ("cpu" after a CUDA failure at
    start); "" when no recogniser is loaded (control-only mode)."""


@dataclass(frozen=True)
class LatencySummary:
    """One latency figure over the utterances so far (ms); None until there is one."""

    count: int
    last_ms: float | None = None
    p50_ms: float | None = None
    p95_ms: float | None = None
    max_ms: float | None = None

    @classmethod
    def from_values(cls, values_ms: Sequence[float]) -> LatencySummary:
        """Summary of latencies in ms (latest last); percentiles by linear interpolation."""
        if len(values_ms) == 0:
            return cls(count=0)
        array = np.asarray(values_ms, dtype=np.float64)
        p50, p95 = np.percentile(array, [50.0, 95.0])
        return cls(
            count=int(array.size),
            last_ms=float(array[-1]),
            p50_ms=float(p50),
            p95_ms=float(p95),
            max_ms=float(array.max()),
        )


@dataclass(frozen=True)
class DaemonStats:
    """Latency figures (see DESIGN.md) and buffer counters of the audio loop."""

    utterances: int
    """Utterances converted since start."""
    tts_first_packet: LatencySummary
    """tts_first_audio - tts_start."""
    output_first_packet: LatencySummary
    """first_sample_out - text_ready (the figure the latency budget keeps under control)."""
    mouth_to_ear: LatencySummary
    """first_sample_out - speech_end."""
    counters: Mapping[str, int] = field(default_factory=dict)
    """Named totals since start, e.g. ``captureOverruns``, ``outputUnderruns``, ``queueDrops``."""
    tts_real_time_factor: float = 0.0
    """TTS compute seconds per second of speech over the recent phrases (0.0: none yet; above 1
    the voice falls behind)."""


@dataclass(frozen=True)
class ControlStats:
    """Counters of the control server itself."""

    clients: int
    """Open websocket sessions (identified or not)."""
    events_published: int
    """Events the daemon handed to the server."""
    events_dropped: int
    """Events dropped because the publish backlog was full (the loop was stalled)."""
    slow_clients_disconnected: int
    """Sessions closed with SendQueueFull because they did not read."""


@dataclass(frozen=True)
class StatsReport:
    """GetStats: the daemon's figures and the control server's counters."""

    daemon: DaemonStats
    control: ControlStats


@dataclass(frozen=True)
class VoiceInfo:
    """One voice of the library (its file header)."""

    name: str
    model_id: str
    dim: int
    """Embedding size: 1024 (0.6B model), 2048 (1.7B)."""
    source: str
    created: str
    """UTC, ISO 8601; "" = unknown."""
    note: str


@dataclass(frozen=True)
class VoiceList:
    """ListVoices: the library and the current voice."""

    voices: tuple[VoiceInfo, ...]
    current_voice: str


@dataclass(frozen=True)
class MorphInfo:
    """A morph in progress: the voice moves from one voice to another over a duration."""

    from_voice: str
    to_voice: str
    duration_ms: int
    curve: Curve
    progress: float
    """How far the voice has moved (0..1, after the curve)."""


@dataclass(frozen=True)
class CurrentVoice:
    """GetCurrentVoice: the voice new phrases are spoken in."""

    voice: str
    """Its name; a MixVoices result is named ``mix:`` followed by its recipe."""
    dim: int
    model_id: str
    transient: bool
    """True for a voice that exists only in the daemon (a MixVoices result)."""
    pending: str | None = None
    """A voice set with ``apply: "phrase"`` waiting for the next phrase boundary."""
    morph: MorphInfo | None = None


@dataclass(frozen=True)
class MixResult:
    """MixVoices: the transient voice that was made current."""

    voice: str


@dataclass(frozen=True)
class SpeakResult:
    """Speak: the utterance the text will be spoken as (events carry this id)."""

    utterance_id: int


@dataclass(frozen=True)
class DeviceInfo:
    """One audio device as PortAudio sees it."""

    index: int
    name: str
    host_api: str
    max_input_channels: int
    max_output_channels: int
    default_sample_rate: float
    """Hz."""


@dataclass(frozen=True)
class DeviceList:
    """ListDevices: every device and the ones in use (as configured: name substring or index)."""

    devices: tuple[DeviceInfo, ...]
    input_device: str
    output_device: str
    monitor_device: str
    """"" = no monitor."""


@dataclass(frozen=True)
class TextOptions:
    """GetTextOptions, SetTextOptions: the text stage's settings (the ``[text]`` config keys).

    Field for field the :class:`~livevoice.config.TextConfig` in force; the
    configuration documents each one.
    """

    segment_on: str
    """"clause", "sentence", "end" or "stream": where words are handed to the TTS before speech ends."""
    min_phrase_words: int
    """Fewest words in a phrase handed on before the end of speech (1-100)."""
    max_phrase_words: int
    """A phrase this long without a boundary is cut anyway (0 = no limit, else 1-1000)."""
    word_filter_file: str
    """The word filter's list file on the daemon's machine; "" = no filter."""
    filter_action: str
    """"beep", "drop" or "replace": what a listed word becomes."""
    filter_replacement: str
    """The word said instead of a listed word when ``filter_action`` is "replace"."""
    clean_disfluencies: bool
    """Fillers and immediate repetitions are removed."""
    fillers: tuple[str, ...]
    """The fillers the clean-up removes."""

    @classmethod
    def from_config(cls, config: TextConfig) -> TextOptions:
        """The options of a ``[text]`` config section."""
        return cls(**{f.name: getattr(config, f.name) for f in dataclasses.fields(cls)})


__all__ = [
    "CURVES",
    "MODES",
    "ApplyWhen",
    "ControlStats",
    "CurrentVoice",
    "Curve",
    "DaemonStats",
    "DaemonStatus",
    "DeviceInfo",
    "DeviceList",
    "DeviceRole",
    "Empty",
    "LatencySummary",
    "MixResult",
    "Mode",
    "MorphInfo",
    "SpeakResult",
    "StatsReport",
    "TextOptions",
    "VersionInfo",
    "VoiceInfo",
    "VoiceList",
]
