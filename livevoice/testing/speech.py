"""Speech made at test time with espeak-ng (Debian package), converted with sox."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import numpy as np

from livevoice.audio.files import read_audio
from livevoice.frames import FloatArray


def espeak(text: str, path: Path, *, voice: str = "en-us", words_per_minute: int = 160) -> Path:
    """Synthesize ``text`` into a WAV file at espeak-ng's own rate (22.05 kHz mono)."""
    if shutil.which("espeak-ng") is None:
        raise RuntimeError("espeak-ng is not installed (scripts/system-deps.sh test installs it)")
    subprocess.run(
        ["espeak-ng", "-v", voice, "-s", str(words_per_minute), "-w", str(path), text],
        check=True,
        capture_output=True,
    )
    return path


def convert(src: Path, dst: Path, *, sample_rate: int, channels: int = 1) -> Path:
    """Convert an audio file's rate and channel count with sox."""
    subprocess.run(
        ["sox", str(src), "-r", str(sample_rate), "-c", str(channels), str(dst)],
        check=True,
        capture_output=True,
    )
    return dst


def speech(text: str, folder: Path, *, voice: str = "en-us", sample_rate: int = 16000) -> FloatArray:
    """``text`` spoken by espeak-ng as mono float32 at ``sample_rate``."""
    path = folder / f"speech-{abs(hash((text, voice))) % 10**12}.wav"
    if not path.exists():
        espeak(text, path, voice=voice)
    samples, _ = read_audio(path, sample_rate)
    return samples


def silence(seconds: float, sample_rate: int = 16000) -> FloatArray:
    return np.zeros(int(seconds * sample_rate), dtype=np.float32)
