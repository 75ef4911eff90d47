"""Voice activity detection: silero (ONNX) on 16 kHz, 32 ms frames.

Three layers:

- :class:`SileroVad` runs the ONNX model shipped inside faster-whisper one frame at a
  time, carrying the LSTM state and the 64-sample context between frames (bit-exact
  with faster-whisper's batched call on the same audio);
- :class:`VadSegmenter` is the pure state machine: per-frame probabilities in,
  speech start/end decisions out (threshold with hysteresis, minimum speech, minimum
  silence, forced end after ``max_speech_s``);
- :class:`SpeechDetector` joins them on a stream of samples and hands out each
  utterance's audio, including a pre-roll so the first syllable is not cut.
"""

from __future__ import annotations

import os
from collections import deque
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from livevoice.config import VadConfig
from livevoice.errors import ModelError
from livevoice.frames import FloatArray

SAMPLE_RATE = 16000
"""The VAD (and Whisper) run at 16 kHz."""
FRAME_SAMPLES = 512
"""Silero's frame: 512 samples = 32 ms at 16 kHz."""
CONTEXT_SAMPLES = 64
"""Samples of the previous frame the model sees in front of each frame."""
FRAME_MS = 1000 * FRAME_SAMPLES // SAMPLE_RATE


def silero_model_path() -> str:
    """The silero VAD ONNX file shipped inside the faster-whisper package."""
    import faster_whisper

    path = os.path.join(os.path.dirname(faster_whisper.__file__), "assets", "silero_vad_v6.onnx")
    if not os.path.exists(path):
        raise ModelError(f"silero VAD model not found at {path}; reinstall faster-whisper")
    return path


class SpeechProbability(Protocol):
    """Anything that gives a speech probability per 512-sample frame."""

    def __call__(self, frame: FloatArray) -> float: ...

    def reset(self) -> None: ...


class SileroVad:
    """Streaming silero VAD: one call per 512-sample frame at 16 kHz."""

    def __init__(self, model_path: str | None = None) -> None:
        import onnxruntime

        opts = onnxruntime.SessionOptions()
        opts.inter_op_num_threads = 1
        opts.intra_op_num_threads = 1
        opts.log_severity_level = 4
        self._session: Any = onnxruntime.InferenceSession(
            model_path or silero_model_path(), providers=["CPUExecutionProvider"], sess_options=opts
        )
        self._input = np.zeros((1, CONTEXT_SAMPLES + FRAME_SAMPLES), dtype=np.float32)
        self.reset()

    def reset(self) -> None:
        """Forget the stream so far (state and context)."""
        self._h = np.zeros((1, 1, 128), dtype=np.float32)
        self._c = np.zeros((1, 1, 128), dtype=np.float32)
        self._input[:] = 0.0

    def __call__(self, frame: FloatArray) -> float:
        """Probability (0..1) that this 32 ms frame is speech."""
        self._input[0, CONTEXT_SAMPLES:] = frame
        out, self._h, self._c = self._session.run(None, {"input": self._input, "h": self._h, "c": self._c})
        self._input[0, :CONTEXT_SAMPLES] = frame[-CONTEXT_SAMPLES:]
        return float(np.asarray(out).reshape(-1)[0])


@dataclass(frozen=True, slots=True)
class VadDecision:
    """A start or end decided by :class:`VadSegmenter`, in frame indices."""

    kind: str
    """"start" or "end"."""
    frame: int
    """For a start: the first speech frame. For an end: the first frame after the speech."""
    decided_at: int
    """The frame whose probability triggered the decision."""


class VadSegmenter:
    """Pure state machine from per-frame speech probabilities to start/end decisions.

    Speech begins at a frame with probability >= ``threshold``; it is *confirmed*
    (a "start" decision) once ``min_speech_ms`` of it has been seen without a
    confirmed silence. It ends when probabilities stay below ``threshold - 0.15``
    (hysteresis) for ``min_silence_ms``; the end lies at the first silent frame.
    An utterance longer than ``max_speech_s`` is ended at once.
    """

    def __init__(self, config: VadConfig) -> None:
        self.threshold = config.threshold
        self.neg_threshold = max(config.threshold - 0.15, 0.01)
        self.min_silence_frames = max(1, -(-config.min_silence_ms // FRAME_MS))
        self.min_speech_frames = max(1, -(-config.min_speech_ms // FRAME_MS))
        self.max_speech_frames = int(config.max_speech_s * 1000 // FRAME_MS)
        self.frame = 0
        self.in_speech = False
        self._candidate: int | None = None  # first frame of unconfirmed speech
        self._start = 0
        self._silence_start: int | None = None

    @property
    def silence_frames(self) -> int:
        """Frames of silence at the end of the open utterance (0 when none or not in speech)."""
        if not self.in_speech or self._silence_start is None:
            return 0
        return self.frame - self._silence_start

    def push(self, probability: float) -> VadDecision | None:
        """Feed the next frame's probability; return a decision if one was made."""
        i = self.frame
        self.frame += 1
        if not self.in_speech:
            if probability >= self.threshold:
                if self._candidate is None:
                    self._candidate = i
                if i - self._candidate + 1 >= self.min_speech_frames:
                    self.in_speech, self._start, self._silence_start = True, self._candidate, None
                    self._candidate = None
                    return VadDecision("start", self._start, i)
            elif probability < self.neg_threshold:
                self._candidate = None
            return None
        if probability >= self.threshold:
            self._silence_start = None
        elif probability < self.neg_threshold and self._silence_start is None:
            self._silence_start = i
        if self._silence_start is not None and i - self._silence_start + 1 >= self.min_silence_frames:
            self.in_speech = False
            return VadDecision("end", self._silence_start, i)
        if i + 1 - self._start >= self.max_speech_frames:
            self.in_speech = False
            return VadDecision("end", i + 1, i)
        return None


@dataclass(frozen=True, slots=True)
class SpeechBegins:
    """An utterance begins; its audio (from ``audio_start``, pre-roll included) follows."""

    utterance_id: int
    speech_start: int
    """Stream position (16 kHz samples) of the first speech sample."""
    audio_start: int
    """Stream position of the first sample handed out (speech_start minus pre-roll)."""


@dataclass(frozen=True, slots=True)
class SpeechAudio:
    """Audio of the current utterance, in order, from ``position`` on."""

    utterance_id: int
    samples: FloatArray
    position: int
    """Stream position (16 kHz samples) of ``samples[0]``."""


@dataclass(frozen=True, slots=True)
class SpeechEnds:
    """The current utterance has ended."""

    utterance_id: int
    speech_end: int
    """Stream position of the first sample after the speech."""
    detected_at: int
    """Stream position at which the end was decided (after the silence)."""


VadEvent = SpeechBegins | SpeechAudio | SpeechEnds


class SpeechDetector:
    """Cuts a 16 kHz sample stream into utterances. Synchronous, no threads.

    While no one speaks, the last ``pre_roll_ms`` (plus the unconfirmed speech) are kept;
    when speech is confirmed, that history is handed out first, then every new frame
    until the end (trailing silence included: Whisper does better with it).
    """

    def __init__(self, config: VadConfig, model: SpeechProbability) -> None:
        self.config = config
        self.model = model
        self.segmenter = VadSegmenter(config)
        pre_roll_frames = -(-config.pre_roll_ms // FRAME_MS)
        self._history: deque[FloatArray] = deque(maxlen=pre_roll_frames + self.segmenter.min_speech_frames)
        self._pending = np.zeros(0, dtype=np.float32)
        self.position = 0
        """Stream position (16 kHz samples) of the next frame to classify."""
        self._pre_roll_samples = pre_roll_frames * FRAME_SAMPLES
        self.utterance_id = 0

    def feed(self, samples: FloatArray) -> list[VadEvent]:
        """Feed 16 kHz mono audio of any length; return what happened."""
        events: list[VadEvent] = []
        data = np.concatenate([self._pending, samples.astype(np.float32, copy=False)])
        n_frames = len(data) // FRAME_SAMPLES
        for k in range(n_frames):
            frame = data[k * FRAME_SAMPLES : (k + 1) * FRAME_SAMPLES]
            self._frame(frame, events)
        self._pending = data[n_frames * FRAME_SAMPLES :].copy()
        return events

    def _frame(self, frame: FloatArray, events: list[VadEvent]) -> None:
        was_speaking = self.segmenter.in_speech
        decision = self.segmenter.push(self.model(frame))
        pos = self.position
        self.position += FRAME_SAMPLES
        if decision is not None and decision.kind == "start":
            self.utterance_id += 1
            speech_start = pos - (decision.decided_at - decision.frame) * FRAME_SAMPLES
            history = list(self._history)
            first = pos - len(history) * FRAME_SAMPLES
            audio_start = max(first, speech_start - self._pre_roll_samples)
            skip = (audio_start - first) // FRAME_SAMPLES
            events.append(SpeechBegins(self.utterance_id, speech_start, audio_start))
            kept = [*history[skip:], frame.copy()]
            events.append(SpeechAudio(self.utterance_id, np.concatenate(kept), audio_start))
            self._history.clear()
            return
        if was_speaking:
            events.append(SpeechAudio(self.utterance_id, frame.copy(), pos))
            if decision is not None:  # end
                events.append(
                    SpeechEnds(
                        self.utterance_id,
                        pos - (decision.decided_at - decision.frame) * FRAME_SAMPLES,
                        pos + FRAME_SAMPLES,
                    )
                )
            return
        self._history.append(frame.copy())

    @property
    def in_speech(self) -> bool:
        """An utterance is open."""
        return self.segmenter.in_speech

    @property
    def trailing_silence_ms(self) -> int:
        """How long the open utterance has been silent (ms); 0 while speech goes on."""
        return self.segmenter.silence_frames * FRAME_MS

    def skip(self, samples: FloatArray) -> list[VadEvent]:
        """Let ``samples`` pass unheard (push-to-talk released, muted): an open utterance
        ends here, and stream positions keep counting so timestamps stay right."""
        events = self.flush()
        self.position += len(self._pending) + len(samples)
        self._pending = np.zeros(0, dtype=np.float32)
        self._history.clear()
        self.model.reset()
        self.segmenter = VadSegmenter(self.config)
        return events

    def flush(self) -> list[VadEvent]:
        """End of stream: close an utterance still open."""
        if not self.segmenter.in_speech:
            return []
        self.segmenter.in_speech = False
        return [SpeechEnds(self.utterance_id, self.position, self.position)]
