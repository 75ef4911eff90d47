"""Sample-rate conversion with soxr, for whole arrays and for streams."""

from __future__ import annotations

from typing import Any

import numpy as np

from livevoice.frames import FloatArray


def resample(samples: FloatArray, from_rate: int, to_rate: int) -> FloatArray:
    """Resample a whole mono float32 array (soxr, high quality)."""
    if from_rate == to_rate:
        return samples.astype(np.float32, copy=False)
    import soxr

    return np.asarray(soxr.resample(samples, from_rate, to_rate, quality="HQ"), dtype=np.float32)


class StreamResampler:
    """Resample a stream chunk by chunk, keeping the filter state between chunks.

    Joined outputs equal (within float rounding) a whole-array resample of the joined
    inputs, except for the filter's delay, which ``flush`` releases at the end.
    """

    def __init__(self, from_rate: int, to_rate: int, *, quality: str = "HQ") -> None:
        import soxr

        self.from_rate = from_rate
        self.to_rate = to_rate
        self._passthrough = from_rate == to_rate
        self._stream: Any = (
            None
            if self._passthrough
            else soxr.ResampleStream(from_rate, to_rate, 1, dtype="float32", quality=quality)
        )

    def process(self, samples: FloatArray) -> FloatArray:
        """Resample the next chunk; the output length varies around len * to/from."""
        if self._passthrough:
            return samples.astype(np.float32, copy=False)
        return np.asarray(self._stream.resample_chunk(samples.astype(np.float32, copy=False)), np.float32)

    def flush(self) -> FloatArray:
        """Return the samples still inside the filter (end of stream)."""
        if self._passthrough:
            return np.zeros(0, dtype=np.float32)
        return np.asarray(self._stream.resample_chunk(np.zeros(0, np.float32), last=True), np.float32)
