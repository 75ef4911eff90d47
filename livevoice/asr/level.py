"""What Whisper hears: the speech brought to one level, its peaks softly limited.

tiny.en hears quiet input and a wide range between loud vowels and soft consonants worse
than the same speech evened out. Before each decode the buffer is scaled so that its
loud samples (the 99th percentile of the magnitude) sit at ``drive``, then passed through
``tanh``, a soft limiter: samples below that level are almost unchanged relative to each
other, louder ones are compressed towards 1. The result does not depend on the input
level (a quiet microphone is heard like a loud one), and it never exceeds [-1, 1].

Only the recogniser's copy is changed: the VAD and every other consumer hear the input as
it is. A buffer of faint noise is not blown up to full scale: the level is never taken
below :data:`LEVEL_FLOOR`.
"""

from __future__ import annotations

import numpy as np

from livevoice.frames import FloatArray

LEVEL_FLOOR = 0.02
"""Loud-sample level (full scale = 1) below which a buffer is treated as this level (-34 dBFS)."""
LOUD_PERCENTILE = 99.0


def loud_level(audio: FloatArray) -> float:
    """The magnitude 1 % of the samples exceed (never below :data:`LEVEL_FLOOR`)."""
    if len(audio) == 0:
        return LEVEL_FLOOR
    return max(float(np.percentile(np.abs(audio), LOUD_PERCENTILE)), LEVEL_FLOOR)


def condition(audio: FloatArray, drive: float) -> FloatArray:
    """``tanh(audio * drive / loud_level(audio))`` as float32; ``drive`` <= 0 returns ``audio``."""
    if drive <= 0 or len(audio) == 0:
        return audio
    scaled = audio * np.float32(drive / loud_level(audio))
    return np.tanh(scaled).astype(np.float32, copy=False)


__all__ = ["LEVEL_FLOOR", "condition", "loud_level"]
