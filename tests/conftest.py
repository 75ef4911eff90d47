"""Shared pytest fixtures."""

from __future__ import annotations

from pathlib import Path

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


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """Say where the browser tests left their screenshots of the panel."""
    import sys

    panel = sys.modules.get("panel_browser")
    saved = getattr(panel, "SAVED", [])
    if saved:
        terminalreporter.write_sep("-", "screenshots of the panel")
        for path in saved:
            terminalreporter.write_line(str(path))
