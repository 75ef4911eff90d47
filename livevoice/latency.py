"""Latency accounting: per-utterance stage timestamps and their aggregates. Pure code.

Stamps arrive from several threads (ASR, TTS, output) keyed by utterance id; an
utterance is *complete* once its first sample was written to the output device and
its speech end is known (typed text has no speech: it completes at first sample out).
Complete utterances leave the table (bounded: the oldest incomplete ones are dropped
past ``max_open``) and feed the aggregates: TTS first packet, output first packet and
mouth-to-ear, each over the last ``window`` utterances.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable

from livevoice.frames import LatencyStamps

STAGES = ("speech_start", "speech_end", "text_ready", "tts_start", "tts_first_audio", "first_sample_out")


class LatencyTracker:
    """Collects :class:`LatencyStamps` and keeps the recent figures. Thread-safe."""

    def __init__(
        self,
        on_complete: Callable[[LatencyStamps], object] | None = None,
        *,
        window: int = 500,
        max_open: int = 64,
    ) -> None:
        self.on_complete = on_complete
        """Called (outside the lock, in the stamping thread) with each completed utterance."""
        self._lock = threading.Lock()
        self._open: dict[int, LatencyStamps] = {}
        self._typed: set[int] = set()
        self.max_open = max_open
        self.tts_first_packet_ms: deque[float] = deque(maxlen=window)
        self.output_first_packet_ms: deque[float] = deque(maxlen=window)
        self.mouth_to_ear_ms: deque[float] = deque(maxlen=window)
        self.completed = 0
        self.abandoned = 0

    def begin_typed(self, utterance_id: int) -> None:
        """A typed utterance (Speak): no speech stamps will come."""
        with self._lock:
            self._typed.add(utterance_id)
            self._get(utterance_id)

    def stamp(self, utterance_id: int, stage: str, t_ns: int) -> LatencyStamps | None:
        """Record ``stage`` (first time wins); returns the stamps if the utterance just completed."""
        if stage not in STAGES:
            raise ValueError(f"unknown latency stage {stage!r}")
        with self._lock:
            stamps = self._get(utterance_id)
            if getattr(stamps, stage) == 0:
                setattr(stamps, stage, t_ns)
            completed = self._complete_if_done(stamps)
        if completed is not None and self.on_complete is not None:
            self.on_complete(completed)
        return completed

    def abandon(self, utterance_id: int) -> None:
        """Forget an utterance that will not be spoken (dropped, cancelled, empty)."""
        with self._lock:
            if self._open.pop(utterance_id, None) is not None:
                self.abandoned += 1
            self._typed.discard(utterance_id)

    def _get(self, utterance_id: int) -> LatencyStamps:
        stamps = self._open.get(utterance_id)
        if stamps is None:
            if len(self._open) >= self.max_open:
                oldest = min(self._open)
                del self._open[oldest]
                self._typed.discard(oldest)
                self.abandoned += 1
            stamps = self._open[utterance_id] = LatencyStamps(utterance_id)
        return stamps

    def _complete_if_done(self, stamps: LatencyStamps) -> LatencyStamps | None:
        typed = stamps.utterance_id in self._typed
        if stamps.first_sample_out == 0 or (stamps.speech_end == 0 and not typed):
            return None
        del self._open[stamps.utterance_id]
        self._typed.discard(stamps.utterance_id)
        self.completed += 1
        for value, series in (
            (stamps.tts_first_packet_ms, self.tts_first_packet_ms),
            (stamps.output_first_packet_ms, self.output_first_packet_ms),
            (stamps.mouth_to_ear_ms, self.mouth_to_ear_ms),
        ):
            if value is not None:
                series.append(value)
        return stamps

    def snapshot(self) -> dict[str, list[float]]:
        """Copies of the recent figures (ms), oldest first."""
        with self._lock:
            return {
                "tts_first_packet_ms": list(self.tts_first_packet_ms),
                "output_first_packet_ms": list(self.output_first_packet_ms),
                "mouth_to_ear_ms": list(self.mouth_to_ear_ms),
            }
