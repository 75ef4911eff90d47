"""Can this machine speak in real time? The real-time factor of recent phrases.

The real-time factor of a phrase is the time the TTS spent generating it (not waiting for
text, not waiting for the output to take its audio) divided by the length of the audio it
made: below 1 the voice keeps up with speech, above 1 it falls behind and the virtual mic
stutters. :class:`RealTimeMonitor` keeps the figures of the last phrases (a window of
audio seconds) and says once, the first time their factor goes above the threshold, that
this machine cannot keep up, so the user learns why instead of hearing gaps.

Pure code: the TTS worker feeds it each phrase's figures.
"""

from __future__ import annotations

from collections import deque

WINDOW_AUDIO_S = 30.0
"""Seconds of recent speech the factor is computed over."""
MIN_AUDIO_S = 3.0
"""No judgement before this much speech was made (the first phrases include warm-up costs)."""


class RealTimeMonitor:
    """The real-time factor of recent phrases, and a one-time warning above ``threshold``.

    ``threshold``: seconds of compute per second of speech above which the machine is said
    to be too slow (0 = never warn).
    """

    def __init__(self, threshold: float = 0.9, *, window_s: float = WINDOW_AUDIO_S) -> None:
        self.threshold = threshold
        self.window_s = window_s
        self._phrases: deque[tuple[float, float]] = deque()
        self._compute_s = 0.0
        self._audio_s = 0.0
        self.warned = False
        """True once :meth:`add` returned a warning."""

    @property
    def factor(self) -> float:
        """Compute seconds per audio second over the recent phrases (0.0 before any audio)."""
        return self._compute_s / self._audio_s if self._audio_s > 0 else 0.0

    def add(self, compute_s: float, audio_s: float) -> float | None:
        """Count one phrase; the factor if this is the first time it is above the threshold, else None."""
        if audio_s <= 0 or compute_s < 0:
            return None
        self._phrases.append((compute_s, audio_s))
        self._compute_s += compute_s
        self._audio_s += audio_s
        while len(self._phrases) > 1 and self._audio_s - self._phrases[0][1] >= self.window_s:
            old_compute, old_audio = self._phrases.popleft()
            self._compute_s -= old_compute
            self._audio_s -= old_audio
        if self.warned or self.threshold <= 0 or self._audio_s < MIN_AUDIO_S:
            return None
        if self.factor > self.threshold:
            self.warned = True
            return self.factor
        return None


def slow_machine_message(factor: float) -> str:
    """What the user is told when the TTS cannot keep up."""
    return (
        f"this machine cannot speak in real time: the voice takes {factor:.2f} s to make each second "
        "of speech, so it falls behind and stutters (a CUDA GPU makes it real time; `livevoice doctor` "
        "checks the set-up)"
    )


__all__ = ["MIN_AUDIO_S", "WINDOW_AUDIO_S", "RealTimeMonitor", "slow_machine_message"]
