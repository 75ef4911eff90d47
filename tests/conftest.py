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


MODEL_FIXTURES = frozenset({"tiny_qwen_dir", "tiny_models"})
"""Fixtures that load (or build) real models: a test using one is ``slow``."""


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """``rig`` marks exactly the tests that use the test audio server (so ``-m "not rig"`` runs
    everything else without one), and every test using a model fixture is marked ``slow``; a
    missing or wrong mark is a collection error, not a test that runs where it should not."""
    wrong: list[str] = []
    for item in items:
        fixtures = set(getattr(item, "fixturenames", ()))
        rig = item.get_closest_marker("rig") is not None
        if ("audio_rig" in fixtures) != rig:
            wrong.append(f"{item.nodeid} (rig: uses audio_rig {'no' if rig else 'yes'}, marked {rig})")
        if fixtures & MODEL_FIXTURES and item.get_closest_marker("slow") is None:
            wrong.append(f"{item.nodeid} (loads a model but is not marked slow)")
    if wrong:
        raise pytest.UsageError("tests marked wrongly: " + "; ".join(wrong[:10]))


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: pytest.Config) -> None:
    """The order's seed, also under -q (pytest-randomly prints it in the header only): a failure
    that depends on the order is repeated with ``--randomly-seed=N``. And where the browser
    tests left their screenshots of the panel."""
    import sys

    if config.pluginmanager.hasplugin("randomly"):
        seed = config.getoption("randomly_seed", default=None)
        terminalreporter.write_line(f"tests ran in random order: --randomly-seed={seed}")
    panel = sys.modules.get("panel_browser")
    saved = getattr(panel, "SAVED", [])
    if saved:
        terminalreporter.write_sep("-", "screenshots of the panel")
        for path in saved:
            terminalreporter.write_line(str(path))
