"""Shared pytest fixtures."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest


@pytest.fixture(scope="session")
def tiny_qwen_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny random-weight Qwen3-TTS Base model folder, built once per test session.

    Its speaker-embedding dimension is 64 (the talker hidden size).
    """
    import torch

    from livevoice.testing.tiny_qwen import build_tiny_qwen3_tts

    torch.set_num_threads(1)
    return build_tiny_qwen3_tts(tmp_path_factory.mktemp("tiny_qwen"))


@pytest.fixture(scope="session")
def audio_rig() -> Path:
    """The PipeWire test server started by scripts/test.sh (scripts/audio-rig.sh).

    Not a skip: a test that needs real devices fails when they are missing, so a CI run
    without the server cannot pass silently.
    """
    import os

    rig = os.environ.get("LIVEVOICE_TEST_RIG")
    if not rig or not Path(rig, "env").exists():
        pytest.fail(
            "no test audio server: run `make test`, or `scripts/audio-rig.sh start DIR` and source DIR/env"
        )
    return Path(rig)


@pytest.fixture(scope="session")
def tiny_models(tiny_qwen_dir: Path) -> Any:
    """The daemon's models for tests: the embedded tiny.en ASR, silero VAD, the tiny TTS model
    (speaker embeddings of 64 values). Loaded once per session; daemons built in turn share them."""
    from livevoice.config import Config, TtsConfig
    from livevoice.models import load_models

    return load_models(Config(tts=TtsConfig(model=str(tiny_qwen_dir), torch_threads=1, seed=1)))
