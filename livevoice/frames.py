"""Small typed records that flow between the stages of the loop.

Every record is frozen and carries units in its field names. Times named ``t_*_ns``
are ``time.monotonic_ns()`` readings on this machine; times named ``*_s`` are
positions in the audio stream of one utterance (seconds from its first sample).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float32]

Mode = Literal["convert", "passthrough", "mute"]
"""What the loop does with the microphone: convert the voice, pass it through unchanged, or send silence."""
ApplyWhen = Literal["now", "phrase"]
"""When a voice change takes effect: ``phrase`` = from the next phrase (the phrase being
spoken keeps its voice); ``now`` = the phrase being spoken is cut off and the queued phrases
are spoken in the new voice (a phrase is conditioned on one voice from its first frame)."""
Curve = Literal["linear", "ease"]
"""Morph curve: ``linear`` (constant speed) or ``ease`` (sine ease-in-out)."""
DeviceRole = Literal["input", "output", "monitor"]
"""Which of the loop's audio devices a record is about."""
MODES: tuple[Mode, ...] = ("convert", "passthrough", "mute")
CURVES: tuple[Curve, ...] = ("linear", "ease")


@dataclass(frozen=True, slots=True)
class SpeechStarted:
    """The VAD found the start of speech."""

    utterance_id: int
    """Increasing number of the utterance within a session."""
    stream_time_s: float
    """Position of the speech start in the input stream (seconds, pre-roll excluded)."""
    t_ns: int
    """Monotonic time at which the first speech sample was captured."""


@dataclass(frozen=True, slots=True)
class SpeechEnded:
    """The VAD found the end of speech (after ``min_silence_ms`` of silence)."""

    utterance_id: int
    stream_time_s: float
    """Position of the last speech sample in the input stream (seconds)."""
    t_ns: int
    """Monotonic time at which the last speech sample was captured."""
    t_detected_ns: int
    """Monotonic time at which the end was declared (after the silence)."""


@dataclass(frozen=True, slots=True)
class Word:
    """One recognised word with its timing inside the input stream."""

    text: str
    """The word as Whisper wrote it, without the leading space."""
    start_s: float
    """Start of the word in the input stream (seconds)."""
    end_s: float
    """End of the word in the input stream (seconds)."""
    probability: float = 1.0
    """Whisper's word probability (0..1)."""


@dataclass(frozen=True, slots=True)
class WordsCommitted:
    """Words the LocalAgreement policy committed: they will not change any more."""

    utterance_id: int
    words: tuple[Word, ...]
    t_commit_ns: int
    """Monotonic time at which the commit was decided."""


@dataclass(frozen=True, slots=True)
class TranscriptPartial:
    """The current unstable hypothesis after the committed words (may still change)."""

    utterance_id: int
    committed_text: str
    tentative_text: str
    t_ns: int


@dataclass(frozen=True, slots=True)
class TranscriptFinal:
    """The final text of one utterance, emitted at the VAD end of speech."""

    utterance_id: int
    text: str
    words: tuple[Word, ...]
    start_s: float
    """Start of the first word (or of the speech) in the input stream (seconds)."""
    end_s: float
    """End of the last word (or of the speech) in the input stream (seconds)."""
    t_speech_start_ns: int
    t_speech_end_ns: int
    t_text_ready_ns: int
    """Monotonic time at which the final text was ready (ASR commit)."""


TranscriptEvent = SpeechStarted | SpeechEnded | WordsCommitted | TranscriptPartial | TranscriptFinal


@dataclass(frozen=True, slots=True)
class Phrase:
    """Text handed to the TTS: a clause of committed words or a whole final utterance.

    In ``[text] segment_on = "stream"`` a phrase is handed on in pieces while it is spoken:
    piece 0 opens it (``more=True``), later pieces with the same ``phrase_index`` add their
    text, and the piece with ``more=False`` closes it (it may have no text). A phrase
    handed on whole is piece 0 with ``more=False``.
    """

    utterance_id: int
    phrase_index: int
    """0, 1, 2... within the utterance (the pieces of one phrase share it)."""
    text: str
    """What this record adds to the phrase (for piece 0: what the phrase starts with)."""
    final: bool
    """True when this is the last phrase of the utterance."""
    t_text_ready_ns: int
    """Monotonic time (ns) at which this record's words were handed on (piece 0: the phrase's first words)."""
    piece: int = field(default=0, kw_only=True)
    """0 for the record that opens the phrase (or holds it whole), then 1, 2..."""
    more: bool = field(default=False, kw_only=True)
    """True when later pieces of the phrase follow; False for the record that closes it."""


@dataclass(slots=True)
class LatencyStamps:
    """Boundary timestamps of one utterance (monotonic ns; 0 = not reached).

    See DESIGN.md: TTS first packet = tts_first_audio - tts_start; output first
    packet = first_sample_out - text_ready; mouth-to-ear = first_sample_out - speech_end.
    """

    utterance_id: int
    speech_start: int = 0
    speech_end: int = 0
    text_ready: int = 0
    tts_start: int = 0
    tts_first_audio: int = 0
    first_sample_out: int = 0
    extra: dict[str, int] = field(default_factory=dict)

    def ms(self, later: int, earlier: int) -> float | None:
        """Milliseconds between two stamps, or None if either is missing."""
        if later == 0 or earlier == 0:
            return None
        return (later - earlier) / 1e6

    @property
    def tts_first_packet_ms(self) -> float | None:
        return self.ms(self.tts_first_audio, self.tts_start)

    @property
    def output_first_packet_ms(self) -> float | None:
        return self.ms(self.first_sample_out, self.text_ready)

    @property
    def mouth_to_ear_ms(self) -> float | None:
        return self.ms(self.first_sample_out, self.speech_end)


@dataclass(frozen=True, slots=True)
class ModeChanged:
    """The mode of the loop changed (see :class:`~livevoice.controls.LiveControls`)."""

    mode: Mode
    previous: Mode


@dataclass(frozen=True, slots=True)
class MorphProgress:
    """A morph in progress: from one voice to another over a duration."""

    from_voice: str
    to_voice: str
    duration_ms: int
    curve: Curve
    progress: float
    """How far along the curve it is now (0..1)."""


@dataclass(frozen=True, slots=True)
class VoiceChanged:
    """The voice of new phrases changed (set, mixed or the start of a morph)."""

    voice: str
    """The new voice's name (a morph's destination)."""
    previous: str
    """The name of the voice before ("" when there was none)."""
    dim: int
    """Values in its embedding."""
    transient: bool
    """True for a voice that is not in the library (a mix)."""
    morph: MorphProgress | None = None
    """Set when the change starts a morph."""
    apply: ApplyWhen = "phrase"
    """``now``: the phrase being spoken is cut off."""


@dataclass(frozen=True, slots=True)
class StageError:
    """Something failed inside the loop (a phrase, a decode, a reload); the loop goes on."""

    source: str
    """What failed: "asr", "tts", "audio", "config"..."""
    message: str
    """One line saying what happened."""


@dataclass(frozen=True, slots=True)
class RealTimeWarning:
    """The TTS cannot keep up with speech on this machine (said once, when first seen)."""

    real_time_factor: float
    """Seconds of TTS compute per second of speech over the recent phrases (above 1: falling behind)."""
    message: str
    """One line for the user."""


@dataclass(frozen=True, slots=True)
class DeviceLost:
    """An audio device disappeared or stopped; the loop is closed until it comes back."""

    role: DeviceRole
    device: str
    """The configured name ("default" for the default device)."""
    reason: str


@dataclass(frozen=True, slots=True)
class DeviceRestored:
    """A lost audio device works again (the loop was reopened on it)."""

    role: DeviceRole
    device: str


@dataclass(frozen=True, slots=True)
class BufferOverrun:
    """A buffer or queue was full and data was dropped."""

    buffer: str
    """Which: "capture", "output", "phrases", "vad"."""
    count: int
    """The total so far."""


@dataclass(frozen=True, slots=True)
class BufferUnderrun:
    """A buffer ran empty (the output played silence)."""

    buffer: str
    count: int
    """The total so far."""


@dataclass(frozen=True, slots=True)
class LevelMeters:
    """Levels of the last captured and played blocks, linear full scale (0 = silence, 1 = full scale)."""

    input_peak: float
    input_rms: float
    output_peak: float
    output_rms: float


@dataclass(frozen=True, slots=True)
class LoopStats:
    """What the loop reports when asked: recent latency figures and its counters."""

    utterances: int
    """Utterances played (their first sample) since the loop was (re)opened."""
    tts_first_packet_ms: tuple[float, ...]
    """Recent figures, oldest first (see :class:`LatencyStamps`)."""
    output_first_packet_ms: tuple[float, ...]
    mouth_to_ear_ms: tuple[float, ...]
    counters: dict[str, int]
    """Named totals (overruns, drops, errors, ``devicesLostTotal``) and gauges named as such
    (``devicesMissing``: how many devices are gone right now)."""
    tts_real_time_factor: float = 0.0
    """TTS compute seconds per second of speech over the recent phrases (0.0: none yet)."""


ControlChange = ModeChanged | VoiceChanged
"""What the live controls announce when an app (or the loop's fallback) changes them."""
LoopRecord = (
    SpeechStarted
    | SpeechEnded
    | TranscriptPartial
    | TranscriptFinal
    | LatencyStamps
    | ModeChanged
    | VoiceChanged
    | StageError
    | RealTimeWarning
    | DeviceLost
    | DeviceRestored
    | BufferOverrun
    | BufferUnderrun
    | LevelMeters
)
"""Every record the loop reports outwards (the control layer turns each into an event)."""


def record_to_dict(record: object) -> dict[str, object]:
    """A JSON-ready dict of a record: ``{"type": "<ClassName>", **fields}`` (arrays left out)."""
    import dataclasses

    assert dataclasses.is_dataclass(record) and not isinstance(record, type)
    out: dict[str, object] = {"type": type(record).__name__}
    for f in dataclasses.fields(record):
        value = getattr(record, f.name)
        if isinstance(value, np.ndarray):
            continue
        if isinstance(value, tuple):
            value = [
                dataclasses.asdict(v) if dataclasses.is_dataclass(v) and not isinstance(v, type) else v
                for v in value
            ]
        out[f.name] = value
    return out
