"""Reference audio for making a voice: read any audio file, check it, bring it to 24 kHz mono.

The Qwen3-TTS speaker encoder reads 24 kHz log-mels, so reference audio of any rate
and channel count is averaged to mono and resampled with soxr
(:func:`livevoice.audio.files.read_audio`) before it reaches the engine.
"""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

import numpy as np
import numpy.typing as npt

from livevoice.audio.files import read_audio
from livevoice.errors import AudioFileError

SPEAKER_ENCODER_RATE = 24000
"""Sample rate the speaker encoder reads (Hz)."""
MIN_REFERENCE_S = 3.0
"""Shortest reference audio accepted (s): less gives an unstable embedding."""
MAX_REFERENCE_S = 30.0
"""Longest reference audio accepted (s)."""
SILENCE_PEAK = 1e-4
"""Audio whose absolute peak is below this (full scale = 1) counts as silent."""

FloatArray = npt.NDArray[np.float32]


class EmbeddingExtractor(Protocol):
    """What making a voice needs from the TTS engine (its Base model's speaker encoder)."""

    model_id: str
    embedding_dim: int

    def extract_embedding(self, audio: np.ndarray, sample_rate: int) -> np.ndarray:
        """Speaker embedding (float32, (embedding_dim,)) of ``audio`` at ``sample_rate`` Hz."""
        ...


def read_reference_audio(
    path: Path, *, min_s: float = MIN_REFERENCE_S, max_s: float = MAX_REFERENCE_S
) -> FloatArray:
    """Read ``path`` as 24 kHz mono float32, checking its length (``min_s``..``max_s`` s) and level.

    Raises :class:`~livevoice.errors.AudioFileError` with one line for a missing or
    non-audio file, audio that is too short or too long, or silence.
    """
    name = Path(path).name
    audio, _ = read_audio(Path(path), SPEAKER_ENCODER_RATE)
    duration_s = len(audio) / SPEAKER_ENCODER_RATE
    if duration_s < min_s or duration_s > max_s:
        raise AudioFileError(
            f"reference audio {name} is {duration_s:.1f} s long; use {min_s:g}-{max_s:g} s of speech"
        )
    if float(np.max(np.abs(audio))) < SILENCE_PEAK:
        raise AudioFileError(f"reference audio {name} is silent")
    return audio


def embed_samples(engine: EmbeddingExtractor, audio: FloatArray) -> FloatArray:
    """The speaker embedding (float32, 1-D) of 24 kHz mono ``audio`` from :func:`read_reference_audio`."""
    embedding = np.asarray(engine.extract_embedding(audio, SPEAKER_ENCODER_RATE), dtype=np.float32)
    return embedding.reshape(-1)


def embed_reference(engine: EmbeddingExtractor, path: Path) -> FloatArray:
    """The speaker embedding (float32, 1-D) of the reference audio file ``path``."""
    return embed_samples(engine, read_reference_audio(path))


__all__ = [
    "MAX_REFERENCE_S",
    "MIN_REFERENCE_S",
    "SPEAKER_ENCODER_RATE",
    "EmbeddingExtractor",
    "embed_reference",
    "embed_samples",
    "read_reference_audio",
]
