"""Starter voices: the shipped clips (real espeak-ng speech, distinct pitches), and the voices
made from them with the tiny model's real speaker encoder, in a real library folder."""

from __future__ import annotations

import itertools
import shutil
from pathlib import Path

import numpy as np
import pytest

from livevoice.cli import main
from livevoice.config import Config, config_from_dict
from livevoice.controls import LiveControls
from livevoice.daemon_cli import check_voices
from livevoice.tts.qwen3 import Qwen3TtsEngine, load_qwen3_engine
from livevoice.voices.embedding import (
    Voice,
    VoiceError,
    VoiceMeta,
    load_voice,
    save_voice,
    validate_name,
)
from livevoice.voices.library import VoiceLibrary
from livevoice.voices.refaudio import (
    MAX_REFERENCE_S,
    MIN_REFERENCE_S,
    SPEAKER_ENCODER_RATE,
    read_reference_audio,
)
from livevoice.voices.starters import (
    ensure_starter_voices,
    read_clip,
    start_with_starters,
    starter_clips,
    synthesize_clip,
)


def median_pitch_hz(audio: np.ndarray, rate: int = SPEAKER_ENCODER_RATE) -> float:
    """Median fundamental frequency of the loud, periodic 40 ms frames (autocorrelation, 60-400 Hz)."""
    size = int(0.04 * rate)
    pitches = []
    for start in range(0, len(audio) - size, size // 2):
        frame = audio[start : start + size] - audio[start : start + size].mean()
        if np.sqrt(np.mean(frame**2)) < 0.05:
            continue
        corr = np.correlate(frame, frame, "full")[size - 1 :]
        lo, hi = rate // 400, rate // 60
        lag = lo + int(np.argmax(corr[lo:hi]))
        if corr[lag] > 0.5 * corr[0]:
            pitches.append(rate / lag)
    assert len(pitches) > 20, "too few voiced frames to tell the pitch"
    return float(np.median(pitches))


@pytest.fixture(scope="module")
def engine(tiny_qwen_dir: Path) -> Qwen3TtsEngine:
    return load_qwen3_engine(str(tiny_qwen_dir), device="cpu", warmup=False)


def test_the_shipped_clips_are_usable_distinct_and_say_where_they_come_from() -> None:
    clips = starter_clips()
    assert len(clips) >= 3
    assert len({c.name for c in clips}) == len(clips)
    pitches = {}
    for clip in clips:
        validate_name(clip.name)
        audio = read_clip(clip)  # checked like any reference audio: length, level
        assert MIN_REFERENCE_S <= len(audio) / SPEAKER_ENCODER_RATE <= MAX_REFERENCE_S
        pitches[clip.name] = median_pitch_hz(audio)
        for words in ("eSpeak NG", "formant synthesis", "GPL-3.0-or-later", "Apache-2.0", clip.file):
            assert words in clip.note
    # a lower and a higher voice, and no two alike
    assert max(pitches.values()) > 2 * min(pitches.values()), pitches
    for a, b in itertools.combinations(pitches.values(), 2):
        assert max(a, b) > 1.2 * min(a, b), pitches
    # the first (the one to start with) is neither the lowest nor the highest
    first = pitches[clips[0].name]
    assert min(pitches.values()) < first < max(pitches.values())


def test_espeak_ng_makes_the_clips_again(tmp_path: Path) -> None:
    if shutil.which("espeak-ng") is None:
        pytest.fail("espeak-ng is not installed (make test installs it)")
    for clip in starter_clips():
        made = synthesize_clip(clip, tmp_path / clip.file)
        fresh = read_reference_audio(made)
        shipped = read_clip(clip)
        assert abs(len(fresh) - len(shipped)) < 0.15 * len(shipped)
        assert median_pitch_hz(fresh) == pytest.approx(median_pitch_hz(shipped), rel=0.15)


@pytest.mark.slow
def test_an_empty_library_gets_the_starter_voices_in_the_models_size(
    engine: Qwen3TtsEngine, tiny_qwen_dir: Path, tmp_path: Path
) -> None:
    library = VoiceLibrary(tmp_path / "voices")
    made = ensure_starter_voices(library, engine)
    assert made == [c.name for c in starter_clips()]
    assert library.names() == sorted(made)
    voices = [library.get(name) for name in made]
    for voice, clip in zip(voices, starter_clips(), strict=True):
        assert voice.dim == engine.embedding_dim == 64
        assert voice.meta.model_id == tiny_qwen_dir.name  # the folder's name, not this machine's path
        assert voice.meta.source == f"starter:{clip.file}"
        assert voice.meta.note == clip.note
        expected = engine.extract_embedding(read_clip(clip), SPEAKER_ENCODER_RATE).reshape(-1)
        np.testing.assert_allclose(voice.embedding, expected, rtol=1e-5, atol=1e-6)
    for a, b in itertools.combinations(voices, 2):
        assert not np.allclose(a.embedding, b.embedding)

    before = {p.name: p.read_bytes() for p in library.folder.iterdir()}
    assert ensure_starter_voices(library, engine) == []  # not empty any more: nothing happens
    assert {p.name: p.read_bytes() for p in library.folder.iterdir()} == before


@pytest.mark.slow
def test_a_library_with_a_voice_is_left_alone(engine: Qwen3TtsEngine, tmp_path: Path) -> None:
    library = VoiceLibrary(tmp_path / "voices")
    mine = library.add(Voice(np.ones(32, dtype=np.float32), VoiceMeta(name="mine")))
    assert ensure_starter_voices(library, engine) == []
    assert [p.name for p in library.folder.iterdir()] == [mine.name]


@pytest.mark.slow
def test_voice_starters_keeps_your_voice_of_the_same_name_unless_forced(
    tiny_qwen_dir: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    folder = tmp_path / "data" / "livevoice" / "voices"
    first, *others = [c.name for c in starter_clips()]
    save_voice(folder / f"{first}.safetensors", Voice(np.ones(64, np.float32), VoiceMeta(name=first)))
    mine = (folder / f"{first}.safetensors").read_bytes()

    code = main(["voice", "starters", "--model", str(tiny_qwen_dir)])
    out, err = capsys.readouterr()
    assert code == 0
    assert (folder / f"{first}.safetensors").read_bytes() == mine
    assert f"livevoice: warning: kept your voice {first!r}; use --force" in err
    for name in others:
        assert f"saved voice {name!r} (64 values)" in out
        assert load_voice(folder / f"{name}.safetensors").meta.source.startswith("starter:")

    code = main(["voice", "starters", "--model", str(tiny_qwen_dir), "--force"])
    out, _ = capsys.readouterr()
    assert code == 0 and f"saved voice {first!r} (64 values)" in out
    replaced = load_voice(folder / f"{first}.safetensors")
    assert replaced.meta.source.startswith("starter:") and replaced.dim == 64


# -- what the daemon does with them at start (livevoice run: tests/test_first_run.py) -----------


def config_for(library: Path, default_voice: str = "") -> Config:
    return config_from_dict({"voices": {"library": str(library), "default_voice": default_voice}})


@pytest.mark.slow
def test_a_daemon_starts_with_the_first_starter_unless_a_voice_is_chosen(
    engine: Qwen3TtsEngine, tmp_path: Path
) -> None:
    first, second, *_ = [c.name for c in starter_clips()]
    for chosen, expected in (("", first), (second, second)):
        config = config_for(tmp_path / f"voices-{chosen or 'unset'}", chosen)
        library = VoiceLibrary.from_config(config)
        check_voices(config, library)  # before the model loads: the starter voice will be there
        started = start_with_starters(config, library, engine)
        assert library.names() == sorted(c.name for c in starter_clips())
        controls = LiveControls.from_config(started, model_dim=engine.embedding_dim)
        assert controls.voice_name == expected
        assert sorted(library.names())[0] != first  # the first by name would have been another


def test_an_unknown_voice_is_reported_before_the_model_loads(tmp_path: Path) -> None:
    config = config_for(tmp_path / "voices", "nobody")
    with pytest.raises(VoiceError, match="nobody"):
        check_voices(config, VoiceLibrary.from_config(config))


def test_a_library_that_cannot_be_read_is_reported_before_the_model_loads(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("not a folder")
    config = config_for(tmp_path / "file" / "voices")
    with pytest.raises(VoiceError, match=r"cannot read the voice library .*: Not a directory"):
        check_voices(config, VoiceLibrary.from_config(config))


@pytest.mark.slow
def test_a_library_that_cannot_be_written_starts_without_voices(
    engine: Qwen3TtsEngine, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # readable (it does not exist: empty), but no folder can be made there, even by root
    config = config_for(Path("/proc/livevoice-no-such-entry/voices"))
    library = VoiceLibrary.from_config(config)
    check_voices(config, library)
    assert start_with_starters(config, library, engine) is config
    assert library.names() == []
    [record] = [r for r in caplog.records if r.levelname == "ERROR"]
    assert record.getMessage().startswith("the starter voices could not be made: cannot write ")
    assert "\n" not in record.getMessage()

    mine = VoiceLibrary(tmp_path / "mine")
    mine.add(Voice(np.ones(64, np.float32), VoiceMeta(name="mine")))
    config = config_for(mine.folder)
    assert start_with_starters(config, mine, engine) is config and mine.names() == ["mine"]
