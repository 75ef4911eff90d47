"""The text-to-speech interface the rest of livevoice depends on.

A :class:`TtsEngine` holds one loaded model. :meth:`TtsEngine.open` starts a
:class:`TtsStream` for one phrase in one voice (a speaker embedding); iterating the
stream generates audio in the caller's thread and yields :class:`TtsChunk` records as
soon as each is ready. Another thread may extend the text (:meth:`TtsStream.append`),
declare it final (:meth:`TtsStream.close`) or stop the stream (:meth:`TtsStream.cancel`).

Only :mod:`livevoice.tts.qwen3` knows about Qwen3-TTS; everything else uses these names.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import numpy as np

from livevoice.errors import LivevoiceError
from livevoice.frames import FloatArray


class TtsError(LivevoiceError):
    """A TTS request that cannot be served: empty text, wrong embedding size, unusable audio."""


@dataclass(frozen=True, slots=True)
class TtsChunk:
    """A block of generated speech."""

    samples: FloatArray
    """Mono float32 samples in [-1, 1]; empty only in a final chunk that follows a chunk boundary."""
    sample_rate: int
    """Samples per second (Hz); 24000 for Qwen3-TTS 12 Hz."""
    index: int
    """0, 1, 2... within the stream."""
    frames: int
    """Codec frames in this chunk (80 ms = 1920 samples each for Qwen3-TTS 12 Hz)."""
    t_ns: int
    """Monotonic time (ns) at which the chunk was ready."""
    final: bool
    """True for the last chunk of the stream (a cancelled stream has none)."""
    waits: bool = False
    """True when the stream has read all the text it was given and, not closed yet, waits for
    more after this chunk: the audio that follows is delayed by the speaker, not the model."""

    @property
    def duration_s(self) -> float:
        """Length of the chunk in seconds."""
        return len(self.samples) / self.sample_rate


@runtime_checkable
class TtsStream(Protocol):
    """One phrase being spoken.

    Iterate it (in one thread) to generate; call :meth:`append`, :meth:`close` and
    :meth:`cancel` from any thread.
    """

    t_start_ns: int
    """Monotonic time (ns) at which generation started (text available and iteration begun); 0 before."""
    t_first_audio_ns: int
    """Monotonic time (ns) at which the first chunk was ready; 0 before."""

    @property
    def compute_s(self) -> float:
        """Seconds spent generating so far (not waiting for text, not while the consumer held a chunk)."""
        ...

    @property
    def text(self) -> str:
        """The text given so far."""
        ...

    def append(self, text: str) -> None:
        """Extend the text while it is being spoken (the words are added as given)."""
        ...

    def close(self) -> None:
        """Declare the text final: only now may the model read the end of the text."""
        ...

    def cancel(self) -> None:
        """Stop within one codec frame; iteration then ends without a final chunk."""
        ...

    def __iter__(self) -> Iterator[TtsChunk]:
        """Generate and yield chunks; blocks while generating or waiting for text."""
        ...


@runtime_checkable
class TtsEngine(Protocol):
    """A loaded TTS model that speaks text in the voice of a speaker embedding."""

    model_id: str
    """The hub id or folder the model was loaded from."""
    sample_rate: int
    """Output sample rate (Hz)."""
    embedding_dim: int
    """Length of the speaker embeddings this model takes."""

    def open(self, embedding: np.ndarray, text: str = "", *, final: bool = True) -> TtsStream:
        """Start a phrase in the voice ``embedding`` (float32, ``(embedding_dim,)``).

        With ``final=False`` more text may follow through :meth:`TtsStream.append` until
        :meth:`TtsStream.close`.
        """
        ...

    def extract_embedding(self, audio: np.ndarray, sample_rate: int) -> np.ndarray:
        """The speaker embedding (float32, ``(embedding_dim,)``) of a voice recording.

        ``audio`` is mono ``(samples,)`` or ``(samples, channels)`` at any rate (Hz).
        """
        ...


def chunk_sizes(first_chunk_frames: int, chunk_frames: int) -> Iterator[int]:
    """Codec frames per chunk: ``first_chunk_frames`` once, then ``chunk_frames`` forever."""
    if first_chunk_frames < 1 or chunk_frames < 1:
        raise ValueError("chunk sizes must be at least one frame")
    yield first_chunk_frames
    while True:
        yield chunk_frames


__all__ = ["TtsChunk", "TtsEngine", "TtsError", "TtsStream", "chunk_sizes"]
