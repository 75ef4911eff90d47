"""Voice files and the voice library, through real safetensors files on disk."""

from __future__ import annotations

import json
import os
import struct
import threading
from pathlib import Path

import numpy as np
import pytest
from safetensors.numpy import save_file

from livevoice.config import Config, VoicesConfig
from livevoice.voices.embedding import (
    Direction,
    Voice,
    VoiceError,
    VoiceMeta,
    load_direction,
    load_voice,
    save_direction,
    save_voice,
    validate_name,
)
from livevoice.voices.library import VoiceLibrary


def make_voice(name: str = "alice", dim: int = 16, seed: int = 0, **meta: str) -> Voice:
    values = np.random.default_rng(seed).normal(size=dim).astype(np.float32)
    return Voice(values, VoiceMeta(name=name, model_id="tiny/model", dim=dim, **meta))


# -- file format -----------------------------------------------------------------


def test_round_trip_keeps_embedding_bits_and_metadata(tmp_path: Path) -> None:
    voice = make_voice(source="audio:ref.wav", created="2025-01-31T12:00:00Z", note="recorded with consent")
    path = tmp_path / "alice.safetensors"
    save_voice(path, voice)
    loaded = load_voice(path)
    assert loaded.meta == voice.meta
    assert loaded.embedding.dtype == np.float32
    assert np.array_equal(loaded.embedding, voice.embedding)
    assert not loaded.embedding.flags.writeable
    assert sorted(os.listdir(tmp_path)) == ["alice.safetensors"]  # no temp file left behind


def test_file_layout_is_the_community_convention(tmp_path: Path) -> None:
    """Header JSON holds one F32 tensor 'speaker_embedding' and string metadata."""
    path = tmp_path / "v.safetensors"
    save_voice(path, make_voice(dim=1024, note="n"))
    raw = path.read_bytes()
    (header_len,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8 : 8 + header_len])
    assert header["speaker_embedding"]["dtype"] == "F32"
    assert header["speaker_embedding"]["shape"] == [1024]
    meta = header["__metadata__"]
    assert {k: meta[k] for k in ("name", "model_id", "dim", "note")} == {
        "name": "alice",
        "model_id": "tiny/model",
        "dim": "1024",
        "note": "n",
    }


def test_file_made_elsewhere_without_metadata_loads(tmp_path: Path) -> None:
    values = np.linspace(-1, 1, 2048, dtype=np.float32)
    path = tmp_path / "narrator.safetensors"
    save_file({"speaker_embedding": values}, str(path))
    voice = load_voice(path)
    assert voice.meta == VoiceMeta(name="narrator", model_id="", dim=2048, source="", created="", note="")
    assert np.array_equal(voice.embedding, values)


@pytest.mark.parametrize(
    ("tensors", "match"),
    [
        ({"embedding": np.ones(16, np.float32)}, r"no tensor 'speaker_embedding' \(found 'embedding'\)"),
        ({"speaker_embedding": np.ones((1, 16), np.float32)}, r"shape \(1, 16\); expected 1-D"),
        ({"speaker_embedding": np.ones(16, np.float16)}, r"is F16; expected float32"),
        ({"speaker_embedding": np.ones(16, np.float64)}, r"is F64; expected float32"),
        ({"speaker_embedding": np.array([1, np.nan, 2], np.float32)}, r"1 NaN/inf values of 3"),
        ({"speaker_embedding": np.array([1, np.inf, -np.inf], np.float32)}, r"2 NaN/inf values of 3"),
        ({"speaker_embedding": np.zeros(16, np.float32)}, r"all zeros"),
        ({"speaker_embedding": np.zeros(0, np.float32)}, r"shape \(0,\)"),
    ],
)
def test_bad_tensor_is_one_clear_line(tmp_path: Path, tensors: dict[str, np.ndarray], match: str) -> None:
    path = tmp_path / "bad.safetensors"
    save_file(tensors, str(path))
    with pytest.raises(VoiceError, match=match) as info:
        load_voice(path)
    assert "\n" not in str(info.value)
    assert str(path) in str(info.value)


def test_header_dim_disagreeing_with_tensor_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "liar.safetensors"
    save_file({"speaker_embedding": np.ones(16, np.float32)}, str(path), metadata={"dim": "1024"})
    with pytest.raises(VoiceError, match="says dim 1024 but holds 16 values"):
        load_voice(path)
    save_file({"speaker_embedding": np.ones(16, np.float32)}, str(path), metadata={"dim": "big"})
    with pytest.raises(VoiceError, match="'big' is not an integer"):
        load_voice(path)


def test_truncated_and_foreign_files_are_one_clear_line(tmp_path: Path) -> None:
    good = tmp_path / "good.safetensors"
    save_voice(good, make_voice())
    raw = good.read_bytes()
    cases = {
        "truncated_data.safetensors": raw[:-10],
        "truncated_header.safetensors": raw[:40],
        "tiny.safetensors": raw[:4],
        "empty.safetensors": b"",
        "text.safetensors": b"this is a text file, not a voice\n" * 4,
        "wav.safetensors": b"RIFF" + b"\x00" * 60,
    }
    for name, data in cases.items():
        path = tmp_path / name
        path.write_bytes(data)
        with pytest.raises(VoiceError, match="not a valid safetensors file") as info:
            load_voice(path)
        assert "\n" not in str(info.value), name
    with pytest.raises(VoiceError, match="does not exist"):
        load_voice(tmp_path / "missing.safetensors")
    with pytest.raises(VoiceError, match="is a folder"):
        load_voice(tmp_path)


def test_voice_record_validates_itself() -> None:
    with pytest.raises(VoiceError, match="says dim 8 but holds 16"):
        Voice(np.ones(16, np.float32), VoiceMeta(name="x", dim=8))
    with pytest.raises(VoiceError, match="float64"):
        Voice(np.ones(16), VoiceMeta(name="x"))
    assert Voice(np.ones(16, np.float32), VoiceMeta(name="x")).dim == 16


def test_save_refuses_to_overwrite_without_force(tmp_path: Path) -> None:
    path = tmp_path / "alice.safetensors"
    save_voice(path, make_voice(seed=1))
    with pytest.raises(VoiceError, match="already exists; use --force"):
        save_voice(path, make_voice(seed=2))
    assert np.array_equal(load_voice(path).embedding, make_voice(seed=1).embedding)
    save_voice(path, make_voice(seed=2), force=True)
    assert np.array_equal(load_voice(path).embedding, make_voice(seed=2).embedding)
    assert sorted(os.listdir(tmp_path)) == ["alice.safetensors"]


def test_concurrent_reader_never_sees_half_a_file(tmp_path: Path) -> None:
    """A reader polling while a writer keeps replacing the file always gets a whole voice."""
    path = tmp_path / "hot.safetensors"
    voices = [make_voice(dim=4096, seed=s) for s in range(2)]
    save_voice(path, voices[0])
    stop = threading.Event()
    writes = 0

    def writer() -> None:
        nonlocal writes
        while not stop.is_set():
            save_voice(path, voices[writes % 2], force=True)
            writes += 1

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        for _ in range(300):
            loaded = load_voice(path)
            assert any(np.array_equal(loaded.embedding, v.embedding) for v in voices)
    finally:
        stop.set()
        thread.join()
    assert writes > 0
    assert sorted(os.listdir(tmp_path)) == ["hot.safetensors"]


def test_direction_files_round_trip_and_are_not_voices(tmp_path: Path) -> None:
    direction = Direction(
        np.arange(1, 17, dtype=np.float32), VoiceMeta(name="deeper", source="mean difference")
    )
    path = tmp_path / "deeper.safetensors"
    save_direction(path, direction)
    loaded = load_direction(path)
    assert loaded.meta == direction.meta
    assert np.array_equal(loaded.vector, direction.vector)
    with pytest.raises(VoiceError, match="no tensor 'speaker_embedding'"):
        load_voice(path)


@pytest.mark.parametrize("name", ["alice", "Zoë 2", "deep-voice_v1.2", "a" * 100])
def test_valid_names(name: str) -> None:
    assert validate_name(name) == name


@pytest.mark.parametrize(
    ("name", "match"),
    [
        ("", "empty"),
        ("a/b", r"contains '/'"),
        ("..", "must not start with '.'"),
        (".hidden", "must not start with '.'"),
        (" padded", "space"),
        ("x:0.5", r"contains ':'"),
        ("a\\b", r"contains '\\\\'"),
        ("tab\tname", r"contains '\\t'"),
        ("a" * 101, "101 characters"),
    ],
)
def test_invalid_names(name: str, match: str) -> None:
    with pytest.raises(VoiceError, match=match):
        validate_name(name)


# -- library ---------------------------------------------------------------------


def test_library_add_get_list_rename_remove(tmp_path: Path) -> None:
    lib = VoiceLibrary(tmp_path / "voices")
    assert lib.names() == [] and lib.list() == []
    path = lib.add(make_voice("bob", seed=1))
    assert path == tmp_path / "voices" / "bob.safetensors"
    lib.add(make_voice("Alice", seed=2))
    assert lib.names() == ["Alice", "bob"]
    assert [m.name for m in lib.list()] == ["Alice", "bob"]
    assert np.array_equal(lib.get("bob").embedding, make_voice(seed=1).embedding)
    lib.rename("bob", "robert")
    assert lib.names() == ["Alice", "robert"]
    assert lib.get("robert").meta.name == "robert"
    assert load_voice(lib.path_of("robert")).meta.name == "robert"  # header kept in step
    lib.remove("Alice")
    assert lib.names() == ["robert"]


def test_library_refuses_overwrites_without_force(tmp_path: Path) -> None:
    lib = VoiceLibrary(tmp_path)
    lib.add(make_voice("a", seed=1))
    lib.add(make_voice("b", seed=2))
    with pytest.raises(VoiceError, match="voice 'a' already exists; use --force"):
        lib.add(make_voice("a", seed=3))
    with pytest.raises(VoiceError, match="already exists"):
        lib.rename("a", "b")
    assert np.array_equal(lib.get("b").embedding, make_voice(seed=2).embedding)
    lib.rename("a", "b", force=True)
    assert lib.names() == ["b"]
    assert np.array_equal(lib.get("b").embedding, make_voice(seed=1).embedding)


def test_unknown_voice_lists_known_names(tmp_path: Path) -> None:
    lib = VoiceLibrary(tmp_path)
    with pytest.raises(VoiceError, match="unknown voice 'x'; no voices in"):
        lib.get("x")
    lib.add(make_voice("alice"))
    lib.add(make_voice("bob"))
    for call in (lambda: lib.get("carol"), lambda: lib.remove("carol"), lambda: lib.rename("carol", "d")):
        with pytest.raises(VoiceError, match="unknown voice 'carol'; known: alice, bob"):
            call()
    with pytest.raises(VoiceError, match="contains '/'"):
        lib.get("../alice")


def test_corrupt_file_does_not_break_listing(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    lib = VoiceLibrary(tmp_path)
    lib.add(make_voice("alice"))
    lib.add(make_voice("carol"))
    (tmp_path / "broken.safetensors").write_bytes(b"garbage")
    (tmp_path / ".alice.safetensors.abc.tmp").write_bytes(b"half a write")
    (tmp_path / "notes.txt").write_text("not a voice")
    metas, problems = lib.scan()
    assert [m.name for m in metas] == ["alice", "carol"]
    assert [name for name, _ in problems] == ["broken.safetensors"]
    assert "not a valid safetensors file" in problems[0][1]
    assert [m.name for m in lib.list()] == ["alice", "carol"]
    assert "skipping broken.safetensors" in caplog.text
    assert [v.meta.name for v in lib.voices()] == ["alice", "carol"]
    lib.remove("broken")  # a corrupt voice can still be removed
    assert lib.scan()[1] == []


def test_resolve_names_and_files(tmp_path: Path) -> None:
    lib = VoiceLibrary(tmp_path / "lib")
    lib.add(make_voice("alice", seed=1))
    outside = tmp_path / "elsewhere.safetensors"
    save_voice(outside, make_voice("other", seed=2))
    assert lib.resolve("alice").meta.name == "alice"
    assert np.array_equal(lib.resolve(str(outside)).embedding, make_voice(seed=2).embedding)
    with pytest.raises(VoiceError, match="does not exist"):
        lib.resolve(str(tmp_path / "nope.safetensors"))
    with pytest.raises(VoiceError, match="unknown voice 'nobody'"):
        lib.resolve("nobody")


def test_header_name_differing_from_file_name_follows_the_file(tmp_path: Path) -> None:
    save_voice(tmp_path / "copied.safetensors", make_voice("original"))
    assert VoiceLibrary(tmp_path).get("copied").meta.name == "copied"


def test_library_from_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    assert VoiceLibrary.from_config(Config()).folder == tmp_path / "data" / "livevoice" / "voices"
    custom = Config(voices=VoicesConfig(library=str(tmp_path / "mine")))
    assert VoiceLibrary.from_config(custom).folder == tmp_path / "mine"


def test_library_directions(tmp_path: Path) -> None:
    lib = VoiceLibrary(tmp_path)
    d = Direction(np.ones(16, np.float32), VoiceMeta(name="robot", source="mean difference"))
    lib.add_direction(d)
    assert lib.direction_names() == ["robot"]
    assert lib.names() == []  # directions are not voices
    assert np.array_equal(lib.get_direction("robot").vector, d.vector)
    with pytest.raises(VoiceError, match="direction 'robot' already exists"):
        lib.add_direction(d)
    with pytest.raises(VoiceError, match="unknown direction 'deep'; known: robot"):
        lib.get_direction("deep")
    lib.remove_direction("robot")
    assert lib.direction_names() == []
