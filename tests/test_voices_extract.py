"""Making voices from audio: espeak-ng speech, sox conversions, the tiny Qwen3-TTS speaker encoder."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import soundfile

from livevoice.cli import main
from livevoice.errors import AudioFileError
from livevoice.voices.embedding import load_voice
from livevoice.voices.refaudio import SPEAKER_ENCODER_RATE, embed_reference, read_reference_audio

TEXT = "The quick brown fox jumps over the lazy dog. She sells sea shells by the sea shore."


def _run(*cmd: str) -> None:
    assert shutil.which(cmd[0]), f"{cmd[0]} is needed to make test speech (apt install espeak-ng sox)"
    subprocess.run(cmd, check=True, capture_output=True)


@pytest.fixture(scope="module")
def speech(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """espeak-ng speech (22.05 kHz mono, ~5 s) and sox conversions of it."""
    d = tmp_path_factory.mktemp("speech")
    files = {"orig": d / "orig.wav", "other": d / "other.wav"}
    _run("espeak-ng", "-w", str(files["orig"]), TEXT)
    _run("espeak-ng", "-v", "en+f3", "-p", "70", "-w", str(files["other"]), TEXT)
    conversions = {
        "r44100": ("orig", ["-r", "44100"], "wav"),
        "r48000": ("orig", ["-r", "48000"], "wav"),
        "r48000_stereo_flac": ("orig", ["-r", "48000", "-c", "2"], "flac"),
        "stereo": ("orig", ["-c", "2"], "wav"),
        "r16000": ("orig", ["-r", "16000"], "wav"),
    }
    for name, (src, opts, ext) in conversions.items():
        files[name] = d / f"{name}.{ext}"
        _run("sox", str(files[src]), *opts, str(files[name]))
    # Same band-limited content (<= 8 kHz) at other rates, to compare with the 16 kHz file.
    for name, opts in {
        "r16k_to_48000": ["-r", "48000"],
        "r16k_to_44100_stereo": ["-r", "44100", "-c", "2"],
    }.items():
        files[name] = d / f"{name}.wav"
        _run("sox", str(files["r16000"]), *opts, str(files[name]))
    return files


@pytest.fixture(scope="module")
def engine(tiny_qwen_dir: Path) -> Any:
    import torch

    from livevoice.tts.qwen3 import load_qwen3_engine

    torch.set_num_threads(1)
    return load_qwen3_engine(str(tiny_qwen_dir), device="cpu", warmup=False)


def rel_err(x: np.ndarray, ref: np.ndarray) -> float:
    """Relative L2 distance ||x - ref|| / ||ref||."""
    return float(np.linalg.norm(x - ref) / np.linalg.norm(ref))


# -- reading reference audio (no model) -------------------------------------------


def test_reference_audio_becomes_24k_mono(speech: dict[str, Path]) -> None:
    info = soundfile.info(str(speech["r48000_stereo_flac"]))
    assert (info.samplerate, info.channels) == (48000, 2)
    audio = read_reference_audio(speech["r48000_stereo_flac"])
    assert audio.dtype == np.float32 and audio.ndim == 1
    assert len(audio) == pytest.approx(info.duration * SPEAKER_ENCODER_RATE, abs=2)
    mono = read_reference_audio(speech["orig"])
    assert np.array_equal(read_reference_audio(speech["stereo"]), mono)  # identical channels average exactly


def test_bad_reference_audio_is_one_clear_line(tmp_path: Path) -> None:
    short, silent, text = tmp_path / "short.wav", tmp_path / "silent.wav", tmp_path / "notes.wav"
    soundfile.write(str(short), np.full(16000, 0.1, np.float32), 16000)
    soundfile.write(str(silent), np.zeros(5 * 16000, np.float32), 16000)
    soundfile.write(str(tmp_path / "long.flac"), np.full(31 * 8000, 0.1, np.float32), 8000)
    text.write_text("not audio at all\n" * 50)
    cases = {
        short: "short.wav is 1.0 s long; use 3-30 s of speech",
        tmp_path / "long.flac": "long.flac is 31.0 s long; use 3-30 s",
        silent: "silent.wav is silent",
        text: "is not a readable audio file",
        tmp_path / "missing.wav": "does not exist",
    }
    for path, message in cases.items():
        with pytest.raises(AudioFileError, match=message) as info:
            read_reference_audio(path)
        assert "\n" not in str(info.value)


def test_cli_add_rejects_bad_audio_before_loading_a_model(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    junk = tmp_path / "junk.mp3"
    junk.write_bytes(b"\x00\x01garbage" * 100)
    code = main(["voice", "add", "x", str(junk), "--model", str(tmp_path / "no-such-model")])
    _, err = capsys.readouterr()
    assert code == 2
    assert err.startswith("livevoice: error: ") and "junk.mp3 is not a readable audio file" in err
    assert err.count("\n") == 1


# -- embedding extraction with the tiny model --------------------------------------


@pytest.mark.slow
def test_embedding_shape_and_determinism(engine: Any, speech: dict[str, Path]) -> None:
    first = embed_reference(engine, speech["orig"])
    assert first.shape == (engine.embedding_dim,) == (64,)
    assert first.dtype == np.float32 and np.all(np.isfinite(first))
    again = embed_reference(engine, speech["orig"])
    assert np.array_equal(first, again)
    other = embed_reference(engine, speech["other"])
    assert rel_err(other, first) > 0.05  # another voice gives another embedding


@pytest.mark.slow
def test_embedding_is_independent_of_input_rate_and_channels(engine: Any, speech: dict[str, Path]) -> None:
    """Files with the same content at 16/44.1/48 kHz, mono or stereo, embed alike."""
    orig = embed_reference(engine, speech["orig"])
    for name in ("r44100", "r48000", "r48000_stereo_flac"):
        assert rel_err(embed_reference(engine, speech[name]), orig) < 0.02, name
    assert np.array_equal(embed_reference(engine, speech["stereo"]), orig)
    narrow = embed_reference(engine, speech["r16000"])
    for name in ("r16k_to_48000", "r16k_to_44100_stereo"):
        assert rel_err(embed_reference(engine, speech[name]), narrow) < 0.02, name
    # Control: the tolerance above is meaningful. Skipping the resampling (48 kHz samples
    # read as if they were 24 kHz) gives a far larger difference.
    raw48, rate = soundfile.read(str(speech["r48000"]), dtype="float32")
    assert rate == 48000
    unresampled = np.asarray(engine.extract_embedding(raw48, SPEAKER_ENCODER_RATE), np.float32)
    assert rel_err(unresampled, orig) > 0.1


@pytest.mark.slow
def test_cli_add_and_search_by_audio(
    tiny_qwen_dir: Path,
    engine: Any,
    speech: dict[str, Path],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    lib = tmp_path / "data" / "livevoice" / "voices"
    model = str(tiny_qwen_dir)
    assert (
        main(["voice", "add", "fox", str(speech["r48000_stereo_flac"]), "--model", model, "--note", "tts"])
        == 0
    )
    assert main(["voice", "add", "other", str(speech["other"]), "--model", model]) == 0
    out, _ = capsys.readouterr()
    assert "saved voice 'fox' (64 values)" in out
    fox = load_voice(lib / "fox.safetensors")
    assert fox.meta.dim == 64 and fox.meta.model_id == tiny_qwen_dir.name  # no local path stored
    assert fox.meta.source == "audio:r48000_stereo_flac.flac" and fox.meta.note == "tts"
    assert np.array_equal(fox.embedding, embed_reference(engine, speech["r48000_stereo_flac"]))

    assert main(["voice", "search", str(speech["orig"]), "-k", "2", "--model", model]) == 0
    rows = [line.split() for line in capsys.readouterr()[0].splitlines()]
    assert [r[1] for r in rows] == ["fox", "other"]
    assert float(rows[0][2]) > 0.999

    code = main(["voice", "add", "fox", str(speech["orig"]), "--model", model])
    assert code == 2 and "already exists" in capsys.readouterr()[1]
