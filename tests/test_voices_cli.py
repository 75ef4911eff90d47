"""``livevoice voice ...`` end to end: real files in a temporary XDG_DATA_HOME."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from safetensors.numpy import save_file

from livevoice.cli import main
from livevoice.voices.algebra import angle, mix, slerp
from livevoice.voices.embedding import Voice, VoiceMeta, load_voice, save_voice

DIM = 32


@pytest.fixture
def lib_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    return tmp_path / "data" / "livevoice" / "voices"


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(["voice", *argv])
    out, err = capsys.readouterr()
    return code, out, err


def vec(seed: int, dim: int = DIM) -> np.ndarray:
    return np.random.default_rng(seed).normal(size=dim).astype(np.float32)


def write_voice(folder: Path, name: str, values: np.ndarray, model: str = "tiny") -> Path:
    path = folder / f"{name}.safetensors"
    save_voice(path, Voice(values, VoiceMeta(name=name, model_id=model)))
    return path


def imported(capsys: pytest.CaptureFixture[str], tmp_path: Path, name: str, values: np.ndarray) -> None:
    src = write_voice(tmp_path, f"src_{name}", values)
    code, _, err = run(capsys, "import", str(src), "--name", name)
    assert code == 0, err


def test_import_list_show_rename_rm(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, lib_dir: Path
) -> None:
    code, out, _ = run(capsys, "list")
    assert code == 0 and "no voices" in out

    elsewhere = tmp_path / "narrator.safetensors"
    save_file({"speaker_embedding": vec(1)}, str(elsewhere))  # no metadata, as community tools write
    code, out, _ = run(capsys, "import", str(elsewhere), "--note", "CC-BY, from a friend")
    assert code == 0
    assert "saved voice 'narrator' (32 values)" in out
    stored = load_voice(lib_dir / "narrator.safetensors")
    assert np.array_equal(stored.embedding, vec(1))
    assert stored.meta.source == "import:narrator.safetensors"
    assert stored.meta.note == "CC-BY, from a friend"
    assert stored.meta.created.endswith("Z")

    code, out, _ = run(capsys, "show", "narrator")
    assert code == 0
    assert "dim:      32" in out and "note:     CC-BY, from a friend" in out
    assert f"norm:     {np.linalg.norm(vec(1)):.4f}" in out

    imported(capsys, tmp_path, "bob", vec(2))
    code, out, _ = run(capsys, "list")
    lines = out.splitlines()
    assert lines[0].split() == ["NAME", "DIM", "MODEL", "SOURCE"]
    assert lines[1].split() == ["bob", "32", "tiny", "import:src_bob.safetensors"]
    assert lines[2].split()[:3] == ["narrator", "32", "-"]

    assert run(capsys, "rename", "bob", "robert")[0] == 0
    assert run(capsys, "rm", "narrator")[0] == 0
    assert sorted(p.name for p in lib_dir.iterdir()) == ["robert.safetensors"]


def test_existing_name_needs_force(capsys: pytest.CaptureFixture[str], tmp_path: Path, lib_dir: Path) -> None:
    imported(capsys, tmp_path, "alice", vec(1))
    src = write_voice(tmp_path, "other", vec(2))
    code, out, err = run(capsys, "import", str(src), "--name", "alice")
    assert code == 2 and out == ""
    assert err == "livevoice: error: voice 'alice' already exists; use --force to overwrite it\n"
    assert np.array_equal(load_voice(lib_dir / "alice.safetensors").embedding, vec(1))
    assert run(capsys, "import", str(src), "--name", "alice", "--force")[0] == 0
    assert np.array_equal(load_voice(lib_dir / "alice.safetensors").embedding, vec(2))
    imported(capsys, tmp_path, "bob", vec(3))
    code, _, err = run(capsys, "mix", "alice:1", "bob:1", "--as", "bob")
    assert code == 2 and "voice 'bob' already exists" in err
    code, _, err = run(capsys, "rename", "alice", "bob")
    assert code == 2 and "already exists" in err


def test_mix_and_slerp_store_the_algebra(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, lib_dir: Path
) -> None:
    a, b = vec(1) * 3, vec(2)
    imported(capsys, tmp_path, "a", a)
    imported(capsys, tmp_path, "b", b)
    code, out, _ = run(capsys, "mix", "a:0.7", "b:0.3", "--as", "c", "--note", "test mix")
    assert code == 0 and "saved voice 'c'" in out
    c = load_voice(lib_dir / "c.safetensors")
    assert np.allclose(c.embedding, mix([(a, 0.7), (b, 0.3)]), atol=1e-6)
    assert c.meta.source == "mix:0.7*a+0.3*b"
    assert c.meta.model_id == "tiny" and c.meta.note == "test mix"

    assert run(capsys, "slerp", "a", "b", "0.5", "--as", "half")[0] == 0
    half = load_voice(lib_dir / "half.safetensors")
    assert np.allclose(half.embedding, slerp(a, b, 0.5), atol=1e-6)
    assert angle(a, half.embedding) == pytest.approx(angle(a, b) / 2, abs=1e-5)
    assert half.meta.source == "slerp:a,b,t=0.5"

    # A voice file outside the library works as an operand.
    outside = write_voice(tmp_path, "outside", vec(3))
    assert run(capsys, "mix", "a", str(outside), "--as", "d")[0] == 0

    code, _, err = run(capsys, "mix", "a:lots", "b", "--as", "e")
    assert code == 2 and "weight 'lots' is not a number" in err
    code, _, err = run(capsys, "slerp", "a", "b", "2", "--as", "e")
    assert code == 2 and "between 0 and 1" in err
    code, _, err = run(capsys, "mix", "a", "b", "--as", "bad/name")
    assert code == 2 and "contains '/'" in err
    code, _, err = run(capsys, "mix", "a", "nobody", "--as", "e")
    assert code == 2 and "unknown voice 'nobody'; known: a, b, c, d, half" in err
    assert not (lib_dir / "e.safetensors").exists()


def test_dimension_mismatch_is_one_line_naming_both(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, lib_dir: Path
) -> None:
    imported(capsys, tmp_path, "small", vec(1, 1024))
    imported(capsys, tmp_path, "large", vec(2, 2048))
    for argv in (
        ["mix", "small:0.5", "large:0.5", "--as", "x"],
        ["slerp", "small", "large", "0.5", "--as", "x"],
        ["direction", "learn", "d", "--pos", "small", "--neg", "large"],
    ):
        code, _out, err = run(capsys, *argv)
        assert code == 2, argv
        assert err.startswith("livevoice: error: cannot ")
        assert "'small' (1024 values)" in err and "'large' (2048 values)" in err
        assert err.count("\n") == 1
    code, _, err = run(capsys, "search", str(write_voice(tmp_path, "q", vec(3, 512))))
    assert code == 2 and "512 values" in err and "1024, 2048" in err
    assert sorted(p.name for p in lib_dir.iterdir()) == ["large.safetensors", "small.safetensors"]


def test_bad_files_are_one_line_errors(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, lib_dir: Path
) -> None:
    cases = {
        "wrongkey": ({"embedding": vec(1)}, "has no tensor 'speaker_embedding'"),
        "wrongshape": ({"speaker_embedding": vec(1).reshape(2, -1)}, "shape (2, 16)"),
        "wrongdtype": ({"speaker_embedding": vec(1).astype(np.float16)}, "is F16; expected float32"),
        "nan": ({"speaker_embedding": np.full(DIM, np.nan, np.float32)}, "32 NaN/inf values"),
    }
    for name, (tensors, message) in cases.items():
        path = tmp_path / f"{name}.safetensors"
        save_file(tensors, str(path))
        code, _out, err = run(capsys, "import", str(path))
        assert code == 2, name
        assert message in err and err.count("\n") == 1, err
    truncated = tmp_path / "truncated.safetensors"
    truncated.write_bytes(write_voice(tmp_path, "ok", vec(1)).read_bytes()[:-7])
    text = tmp_path / "notes.safetensors"
    text.write_text("hello")
    for path in (truncated, text):
        code, _, err = run(capsys, "import", str(path))
        assert code == 2 and "is not a valid safetensors file" in err and err.count("\n") == 1
    code, _, err = run(capsys, "import", str(tmp_path / "missing.safetensors"))
    assert code == 2 and "does not exist" in err
    assert not lib_dir.exists() or list(lib_dir.iterdir()) == []


def test_list_reports_and_skips_a_corrupt_file(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, lib_dir: Path
) -> None:
    imported(capsys, tmp_path, "good", vec(1))
    (lib_dir / "broken.safetensors").write_bytes(b"\x00" * 5)
    code, out, err = run(capsys, "list")
    assert code == 0
    assert [line.split()[0] for line in out.splitlines()] == ["NAME", "good"]
    assert err.startswith("livevoice: warning: skipping broken.safetensors: ")


def test_direction_learn_and_apply(capsys: pytest.CaptureFixture[str], tmp_path: Path, lib_dir: Path) -> None:
    robot = np.zeros(DIM, np.float32)
    robot[5] = 2.0
    bases = [vec(s) for s in range(4)]
    for i, base in enumerate(bases):
        imported(capsys, tmp_path, f"plain{i}", base)
        imported(capsys, tmp_path, f"robot{i}", base + robot)
    code, out, _ = run(
        capsys, "direction", "learn", "robotic",
        "--pos", "robot0", "robot1", "robot2", "--neg", "plain0", "plain1", "plain2",
    )  # fmt: skip
    assert code == 0 and "saved direction 'robotic' (32 values, norm 2.0000)" in out
    assert (lib_dir / "directions" / "robotic.safetensors").is_file()
    code, out, _ = run(capsys, "direction", "list")
    assert out.startswith("robotic  32  mean difference; pos: robot0, robot1, robot2; neg: plain0")

    assert run(capsys, "apply", "plain3", "robotic", "1", "--as", "made")[0] == 0
    made = load_voice(lib_dir / "made.safetensors")
    assert np.allclose(made.embedding, bases[3] + robot, atol=1e-6)
    assert made.meta.source == "apply:plain3+1*robotic"
    assert run(capsys, "apply", "robot3", "robotic", "-0.5", "--as", "less")[0] == 0
    assert np.allclose(load_voice(lib_dir / "less.safetensors").embedding, bases[3] + robot / 2, atol=1e-6)

    code, _, err = run(capsys, "apply", "plain3", "nodir", "1", "--as", "x")
    assert code == 2 and "unknown direction 'nodir'; known: robotic" in err
    code, _, err = run(capsys, "direction", "learn", "robotic", "--pos", "robot0", "--neg", "plain0")
    assert code == 2 and "direction 'robotic' already exists" in err
    assert run(capsys, "direction", "rm", "robotic")[0] == 0
    assert run(capsys, "direction", "list")[1].startswith("no directions")


def test_search_ranks_by_cosine(capsys: pytest.CaptureFixture[str], tmp_path: Path, lib_dir: Path) -> None:
    base = np.zeros(DIM, np.float32)
    base[0] = 1.0
    for deg in (5, 20, 40, 60, 90):
        v = np.zeros(DIM, np.float32)
        v[0], v[1] = math.cos(math.radians(deg)), math.sin(math.radians(deg))
        imported(capsys, tmp_path, f"deg{deg:02d}", v * (1 + deg))
    imported(capsys, tmp_path, "query", base * 7)
    code, out, _ = run(capsys, "search", "query", "-k", "3")
    assert code == 0
    rows = [line.split() for line in out.splitlines()]
    assert [r[1] for r in rows] == ["deg05", "deg20", "deg40"]  # the query itself is left out
    assert [float(r[2]) for r in rows] == pytest.approx(
        [math.cos(math.radians(d)) for d in (5, 20, 40)], abs=1e-4
    )
    outside = write_voice(tmp_path, "probe", np.roll(base, 1))  # 90 degrees from base
    code, out, _ = run(capsys, "search", str(outside), "-k", "1")
    assert code == 0 and out.split()[1] == "deg90"
    code, _, err = run(capsys, "search", "nobody")
    assert code == 2 and "unknown voice 'nobody'" in err
    code, _, err = run(capsys, "search", "query", "-k", "0")
    assert code == 2 and "at least 1" in err


def test_custom_library_folder_from_config(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, lib_dir: Path
) -> None:
    folder = tmp_path / "my voices"
    config = tmp_path / "custom.toml"
    config.write_text(f'[voices]\nlibrary = "{folder.as_posix()}"\n')
    src = write_voice(tmp_path, "x", vec(1))
    assert main(["--config", str(config), "voice", "import", str(src)]) == 0
    capsys.readouterr()
    assert (folder / "x.safetensors").is_file()
    assert not lib_dir.exists()
