"""When the incremental transcriber decodes: from the audio, the pause and what a decode costs.

Pure code. Three rules (measured with bench/asr.py, see bench/RESULTS.md):

- while someone speaks, the next *intermediate* pass starts once the previous one has
  ended and at least ``step_ms`` of audio has come in since it started;
- an intermediate pass is only started if it will be over before the VAD can declare the
  end of speech (``end_silence_ms`` of silence from the last speech), judged from the
  measured cost of the recent decodes, so the final pass never waits behind one. While the
  speaker is talking (no trailing silence at all) a pass is allowed anyway: on a machine
  where one decode costs more than the VAD's end delay, words would otherwise only be
  committed at the end;
- once the speaker has been silent for ``close_after_ms``, a *closing* pass decodes all the
  speech so far. If the VAD then ends the utterance with no speech added, that pass is the
  final one: the text is ready as soon as the end is declared, without a decode after it.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum


class PassKind(Enum):
    INTERMEDIATE = "intermediate"
    CLOSING = "closing"


@dataclass
class CostEstimate:
    """Running estimate of one decode's cost (ms), smoothed over the recent decodes."""

    smoothing: float = 0.3
    """Weight of the newest decode (0-1)."""
    ms: float | None = None
    """None until a decode has been measured."""

    def add(self, cost_ms: float) -> None:
        self.ms = cost_ms if self.ms is None else (1 - self.smoothing) * self.ms + self.smoothing * cost_ms


@dataclass(frozen=True)
class DecodePolicy:
    """The rules above, with their settings."""

    step_ms: int
    """Audio (ms) since the start of the previous pass before an intermediate pass."""
    min_first_decode_ms: int
    """No intermediate pass before the utterance holds this much audio (ms)."""
    end_silence_ms: int
    """Silence after which the VAD declares the end of speech (its ``min_silence_ms``)."""
    close_after_ms: int = 96
    """Silence (ms) after which a closing pass decodes all the speech so far."""

    def next_pass(
        self,
        *,
        buffer_ms: float,
        unseen_ms: float,
        unheard_speech_ms: float,
        trailing_silence_ms: int,
        cost_ms: float | None,
    ) -> PassKind | None:
        """The pass to start now, if any.

        ``unseen_ms``: audio that came in since the previous pass started (all of the buffer
        when there was none); ``unheard_speech_ms``: speech (up to where the trailing silence
        begins) that no pass has decoded yet; ``cost_ms``: the estimated cost of a decode.
        """
        if trailing_silence_ms >= self.close_after_ms:
            return PassKind.CLOSING if unheard_speech_ms > 0 else None
        if buffer_ms < self.min_first_decode_ms or unseen_ms < self.step_ms:
            return None
        time_left_ms = self.end_silence_ms - trailing_silence_ms
        if trailing_silence_ms == 0 or cost_ms is None or cost_ms <= time_left_ms:
            return PassKind.INTERMEDIATE
        return None


def auto_step_ms(device: str) -> int:
    """``step_ms`` for ``[asr] step_ms = 0``: short on a GPU (decodes of tens of ms), longer on a CPU."""
    return 100 if device == "cuda" else 300
