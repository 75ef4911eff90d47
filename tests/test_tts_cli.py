"""``livevoice say`` end to end: a real process, a real voice file, a real WAV out."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile
from safetensors.numpy import save_file

from livevoice.cli import main

pytestmark = pytest.mark.slow


def voice_file(folder: Path, dim: int) -> Path:
    path = folder / f"voice{dim}.safetensors"
    save_file({"speaker_embedding": np.linspace(-0.5, 0.5, dim, dtype=np.float32)}, str(path))
    return path


def run(*args: str, extra_env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "OMP_NUM_THREADS": "1", **(extra_env or {})}
    return subprocess.run(
        [sys.executable, "-m", "livevoice.cli", *args], capture_output=True, text=True, env=env, timeout=300
    )


def test_say_writes_the_streamed_phrase(tiny_qwen_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "hello.wav"
    result = run(
        "say",
        "Hello there.",
        "--voice",
        str(voice_file(tmp_path, 64)),
        "--model",
        str(tiny_qwen_dir),
        "--device",
        "cpu",
        "--greedy",
        "--max-frames",
        "10",
        "-o",
        str(out),
    )
    assert result.returncode == 0, result.stderr
    audio, rate = soundfile.read(str(out), dtype="float32")
    assert rate == 24000 and len(audio) == 10 * 1920
    assert float(np.abs(audio).mean()) > 0.05
    assert "time to first audio" in result.stdout and "real-time factor" in result.stdout
    assert "(10 frames)" in result.stdout


def test_say_with_a_voice_of_another_size_is_one_line(
    tiny_qwen_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "never.wav"
    args = [
        "say",
        "Hi.",
        "--voice",
        str(voice_file(tmp_path, 32)),
        "--model",
        str(tiny_qwen_dir),
        "-o",
        str(out),
    ]
    code = main([*args, "--device", "cpu"])
    err = capsys.readouterr().err.strip()
    assert code == 2
    assert err.startswith("livevoice: error: speaker embedding has 32 values") and "takes 64" in err
    assert "\n" not in err and not out.exists()


def test_say_with_an_unreachable_hub_model_is_one_line(tmp_path: Path) -> None:
    out = tmp_path / "never.wav"
    result = run(
        "say",
        "Hi.",
        "--voice",
        str(voice_file(tmp_path, 64)),
        "--model",
        "Qwen/Qwen3-TTS-12Hz-0.6B-Base",
        "-o",
        str(out),
        extra_env={"HF_HUB_OFFLINE": "1", "HF_HOME": str(tmp_path / "hf")},
    )
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert lines[-1].startswith(
        "livevoice: error: cannot load TTS model 'Qwen/Qwen3-TTS-12Hz-0.6B-Base': "
        "not a local folder and it cannot be downloaded ("
    )
    assert not out.exists()


def test_say_resolves_a_library_voice_by_name_with_the_config(
    tiny_qwen_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from livevoice.voices.embedding import Voice, VoiceMeta
    from livevoice.voices.library import VoiceLibrary

    library = tmp_path / "voices"
    embedding = np.linspace(-0.4, 0.6, 64, dtype=np.float32)
    VoiceLibrary(library).add(Voice(embedding, VoiceMeta(name="robot")))
    config = tmp_path / "config.toml"
    config.write_text(
        f'[voices]\nlibrary = "{library}"\n\n'
        f'[tts]\nmodel = "{tiny_qwen_dir}"\ndevice = "cpu"\ntorch_threads = 1\nwarmup = false\nseed = 3\n'
    )
    out = tmp_path / "robot.wav"
    code = main(
        ["--config", str(config), "say", "Hi robot.", "--voice", "robot", "--max-frames", "6", "-o", str(out)]
    )
    assert code == 0, capsys.readouterr().err
    audio, rate = soundfile.read(str(out), dtype="float32")
    assert rate == 24000 and 0 < len(audio) <= 6 * 1920 and len(audio) % 1920 == 0
    code = main(["--config", str(config), "say", "Hi.", "--voice", "nobody", "-o", str(tmp_path / "x.wav")])
    assert code == 2 and "unknown voice 'nobody'" in capsys.readouterr().err
