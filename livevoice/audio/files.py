"""Reading and writing audio files (any rate and channel count in, mono float32 out)."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import numpy as np

from livevoice.audio.resample import resample
from livevoice.errors import AudioFileError
from livevoice.frames import FloatArray


def read_audio(path: Path, sample_rate: int | None = None) -> tuple[FloatArray, int]:
    """Read ``path`` as mono float32 (channels averaged), resampled to ``sample_rate`` if given.

    Returns (samples, rate). Anything soundfile (libsndfile) cannot read, an empty file
    included, is an :class:`AudioFileError` with one line.
    """
    import soundfile

    if not Path(path).is_file():
        raise AudioFileError(f"audio file {path} does not exist")
    try:
        data, rate = soundfile.read(str(path), dtype="float32", always_2d=True)
    except (soundfile.LibsndfileError, RuntimeError, OSError) as err:
        raise AudioFileError(f"{path} is not a readable audio file ({err})") from None
    if data.shape[0] == 0:
        raise AudioFileError(f"audio file {path} holds no samples")
    mono = np.ascontiguousarray(data.mean(axis=1), dtype=np.float32)
    if sample_rate is not None and sample_rate != rate:
        return resample(mono, int(rate), sample_rate), sample_rate
    return mono, int(rate)


def write_wav(path: Path, samples: FloatArray, sample_rate: int) -> None:
    """Write mono float32 audio as 16-bit PCM WAV, atomically (temp file + rename)."""
    import soundfile

    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent or Path("."))
    try:
        with os.fdopen(fd, "wb") as handle:
            soundfile.write(handle, np.clip(samples, -1.0, 1.0), sample_rate, subtype="PCM_16", format="WAV")
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
