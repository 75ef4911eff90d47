"""The models the loop needs, loaded once: they outlive pipeline rebuilds (device changes)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from livevoice import service
from livevoice.config import Config


@dataclass
class Models:
    """ASR, VAD and TTS (each used by one worker thread of the pipeline)."""

    recognizer: Any
    """A :class:`~livevoice.asr.whisper.WordRecognizer`."""
    vad: Any
    """A :class:`~livevoice.asr.vad.SpeechProbability`."""
    engine: Any
    """A :class:`~livevoice.tts.engine.TtsEngine`; its ``embedding_dim`` decides which voices fit."""


def load_models(config: Config) -> Models:
    """ASR, VAD and TTS, loaded once before the daemon says it is ready.

    Under systemd the start timeout is extended while they load (a first start may
    download them).
    """
    from livevoice.asr.vad import SileroVad
    from livevoice.asr.whisper import WhisperRecognizer
    from livevoice.tts.qwen3 import load_from_config

    with service.extending_start("loading models"):
        recognizer = WhisperRecognizer(config.asr)
        vad = SileroVad()
        engine = load_from_config(config.tts)
    return Models(recognizer, vad, engine)


__all__ = ["Models", "load_models"]
