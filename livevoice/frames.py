"""Small typed records that flow between the stages of the loop.

Every record is frozen and carries units in its field names. Times named ``t_*_ns``
are ``time.monotonic_ns()`` readings on this machine; times named ``*_s`` are
positions in the audio stream of one utterance (seconds from its first sample).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float32]


@dataclass(frozen=True, slots=True)
class AudioChunk:
    """A block of mono float32 audio in [-1, 1]."""

    samples: FloatArray
    """Mono samples, float32."""
    sample_rate: int
    """Samples per second (Hz)."""
    t_capture_ns: int
    """Monotonic time at which the first sample was captured (or produced)."""

    @property
    def duration_s(self) -> float:
        """Length of the chunk in seconds."""
        return len(self.samples) / self.sample_rate


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
    """Text handed to the TTS: a clause of committed words or a whole final utterance."""

    utterance_id: int
    phrase_index: int
    """0, 1, 2... within the utterance."""
    text: str
    final: bool
    """True when this is the last phrase of the utterance."""
    t_text_ready_ns: int


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
