"""TTS models on disk: folder checks, progress reports, ``livevoice models pull|list`` and the
loader's hub path, against a local server that answers like the hub (tests/hub_server.py)
and against hubs that cannot be reached (a closed connection, silence, a name that does
not resolve, HF_HUB_OFFLINE)."""

from __future__ import annotations

import contextlib
import io
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from hub_server import ConnectionCounter, FakeHub, folder_files, serve_hub, serve_silence

from livevoice.models import hub
from livevoice.models.folder import format_bytes, inspect_folder, missing_files
from livevoice.models.progress import DownloadProgress, format_duration, progress_line

REPO = "Org/Tiny-TTS-Base"
HUB_0_6B = "Qwen/Qwen3-TTS-12Hz-0.6B-Base"


def wait_for(condition: Callable[[], bool], what: str, timeout_s: float = 120.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.02)


def cli_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {
        **os.environ,
        "HF_HOME": str(tmp_path / "hf"),
        "XDG_CONFIG_HOME": str(tmp_path / "config"),
        "XDG_DATA_HOME": str(tmp_path / "data"),
        "OMP_NUM_THREADS": "1",
        **extra,
    }
    for key in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "HF_HUB_CACHE"):
        if key not in extra:
            env.pop(key, None)
    return env


def livevoice(env: dict[str, str], *args: str, timeout_s: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "livevoice.cli", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=timeout_s,
    )


def write_config(tmp_path: Path, text: str) -> None:
    folder = tmp_path / "config" / "livevoice"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "config.toml").write_text(text, encoding="utf-8")


def snapshot_of(tmp_path: Path, repo: str, sha: str) -> Path:
    return tmp_path / "hf" / "hub" / ("models--" + repo.replace("/", "--")) / "snapshots" / sha


# -- model folders -------------------------------------------------------------


@pytest.mark.slow
def test_a_complete_folder_and_what_an_incomplete_one_lacks(tiny_qwen_dir: Path, tmp_path: Path) -> None:
    info = inspect_folder(tiny_qwen_dir)
    assert info.complete and info.is_qwen3_tts_base
    assert info.embedding_dim == 64
    assert info.size_bytes == sum(len(data) for data in folder_files(tiny_qwen_dir).values())

    copy = tmp_path / "copy"
    shutil.copytree(tiny_qwen_dir, copy)
    (copy / "speech_tokenizer" / "model.safetensors").unlink()
    (copy / "tokenizer.json").unlink()
    (copy / "merges.txt").unlink()
    assert missing_files(copy) == ["merges.txt", "speech_tokenizer/model.safetensors"]

    # sharded weights: every shard named by the index must be there
    (copy / "model.safetensors").rename(copy / "model-00001-of-00002.safetensors")
    index = {"weight_map": {"a": "model-00001-of-00002.safetensors", "b": "model-00002-of-00002.safetensors"}}
    (copy / "model.safetensors.index.json").write_text(json.dumps(index))
    assert "model-00002-of-00002.safetensors" in missing_files(copy)
    assert "model-00001-of-00002.safetensors" not in missing_files(copy)


def test_size_and_time_formats() -> None:
    assert [format_bytes(n) for n in (512, 4_100, 312_000_000, 2_523_000_000, 25_300_000)] == [
        "512 B",
        "4.10 kB",
        "312 MB",
        "2.52 GB",
        "25.3 MB",
    ]
    assert [format_duration(s) for s in (54.4, 200, 3900)] == ["54 s", "3 min 20 s", "1 h 05 min"]
    assert (
        progress_line("Qwen/X", 1_210_000_000, 2_520_000_000, 24_300_000)
        == "downloading Qwen/X: 1.21 GB of 2.52 GB (48 %), 24.3 MB/s, ~54 s left"
    )
    assert progress_line("Qwen/X", 1000, None, 0.0) == "downloading Qwen/X: 1.00 kB"


def test_aliases_and_hub_ids() -> None:
    assert hub.resolve_alias("0.6b") == HUB_0_6B
    assert hub.resolve_alias("1.7B") == "Qwen/Qwen3-TTS-12Hz-1.7B-Base"
    assert hub.resolve_alias("Org/Other") == "Org/Other"
    assert hub.pull_command(HUB_0_6B) == "livevoice models pull 0.6B"
    assert hub.pull_command("Org/Other") == "livevoice models pull Org/Other"
    assert [hub.looks_like_hub_id(m) for m in ("Org/Name", "./Org/Name", "/abs/x", "a/b/c", "plain")] == [
        True,
        False,
        False,
        False,
        False,
    ]


# -- progress --------------------------------------------------------------------


def test_progress_as_plain_lines_follows_the_bytes_on_disk(tmp_path: Path) -> None:
    part = tmp_path / "blob.incomplete"
    part.write_bytes(b"x" * 1000)  # left by an earlier attempt
    out = io.StringIO()
    progress = DownloadProgress(
        "Org/M",
        4000,
        lambda: part.stat().st_size,
        out,
        interactive=False,
        line_every_s=0.0,
        poll_s=0.01,
    )
    with progress:
        with part.open("ab") as f:
            f.write(b"x" * 2000)
        wait_for(lambda: "3.00 kB of 4.00 kB (75 %)" in out.getvalue(), "a line at 3 kB")
        with part.open("ab") as f:
            f.write(b"x" * 1000)
        wait_for(lambda: "4.00 kB of 4.00 kB (100 %)" in out.getvalue(), "a line at 4 kB")
    lines = out.getvalue().splitlines()
    assert lines[0] == "livevoice: downloading Org/M: 4.00 kB (1.00 kB already here)"
    assert all(line.startswith("livevoice: downloading Org/M: ") for line in lines[:-1])
    assert "\r" not in out.getvalue()
    assert lines[-1].startswith("livevoice: downloaded Org/M: 3.00 kB in ")
    assert lines[-1].endswith("(4.00 kB in all)")
    assert progress.lines_written == len(lines)


def test_progress_on_a_terminal_is_one_bar(tmp_path: Path) -> None:
    part = tmp_path / "blob.incomplete"
    part.write_bytes(b"")
    out = io.StringIO()
    with DownloadProgress("Org/M", 2000, lambda: part.stat().st_size, out, interactive=True, poll_s=0.01):
        part.write_bytes(b"x" * 2000)
    text = out.getvalue()
    assert "\r" in text and "Org/M" in text
    assert "100%" in text.split("\r")[-1] or "100%" in text.splitlines()[-2]
    assert text.splitlines()[-1].startswith("livevoice: downloaded Org/M: 2.00 kB in ")


# -- pulling from a hub ----------------------------------------------------------------


@pytest.mark.slow
def test_pull_is_resumed_after_an_interruption_then_listed_and_loaded_offline(
    tiny_qwen_dir: Path, tmp_path: Path
) -> None:
    # the client writes in 10 MiB pieces: a file larger than that shows a partial download on disk
    big = np.random.default_rng(0).integers(0, 256, 12 * 2**20, dtype=np.uint8).tobytes()
    files = {**folder_files(tiny_qwen_dir), "extra/big.bin": big}
    piece = 10 * 2**20
    with serve_hub(FakeHub({REPO: files}, stall={"extra/big.bin": piece + 1000})) as fake:
        env = cli_env(tmp_path, HF_ENDPOINT=fake.url)
        first = subprocess.Popen(
            [sys.executable, "-m", "livevoice.cli", "models", "pull", REPO],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        blobs = tmp_path / "hf" / "hub" / ("models--" + REPO.replace("/", "--")) / "blobs"

        def partial_bytes() -> int:
            total = 0
            for part in blobs.glob("*.incomplete") if blobs.is_dir() else ():
                with contextlib.suppress(FileNotFoundError):  # a small file completed meanwhile
                    total += part.stat().st_size
            return total

        wait_for(lambda: partial_bytes() >= piece, "the first 10 MiB on disk")
        first.send_signal(signal.SIGINT)
        _, err = first.communicate(timeout=60)
        assert first.returncode == 130
        assert f"download interrupted; `livevoice models pull {REPO}` resumes it" in err
        kept = partial_bytes()
        assert kept == piece

        fake.stall.clear()
        done = livevoice(env, "models", "pull", REPO)
        assert done.returncode == 0, done.stderr
        resumed = fake.gets_of("extra/big.bin")[-1]
        assert resumed.range == f"bytes={kept}-"  # only the rest was asked for
    snapshot = snapshot_of(tmp_path, REPO, fake.sha)
    assert folder_files(snapshot) == files
    assert f"{REPO}: 15.1 MB in the hub cache {snapshot}" in done.stdout
    assert f'model = "{REPO}"' in done.stdout and "To use it, set in" in done.stdout
    progress = done.stderr.splitlines()
    assert progress[0].startswith(f"livevoice: downloading {REPO}: 15.1 MB (")
    assert "already here)" in progress[0]
    assert progress[-1].startswith(f"livevoice: downloaded {REPO}: ")

    # listed as ready with the model's embedding size, and marked when configured
    write_config(tmp_path, f'[tts]\nmodel = "{REPO}"\n')
    listed = livevoice(env, "models", "list", "--json")
    assert listed.returncode == 0, listed.stderr
    entries = {e["model"]: e for e in map(json.loads, listed.stdout.splitlines())}
    assert entries[REPO]["state"] == "ready" and entries[REPO]["embedding_dim"] == 64
    assert entries[REPO]["configured"] and entries[REPO]["folder"] == str(snapshot)
    assert entries[HUB_0_6B]["state"] == "not downloaded"
    assert entries[HUB_0_6B]["fix"] == "livevoice models pull 0.6B"
    table = livevoice(env, "models", "list").stdout
    assert f"{REPO} *" in table and "livevoice models pull 1.7B" in table

    # pulled again: nothing to download
    with serve_hub(FakeHub({REPO: files})) as fake:
        again = livevoice({**env, "HF_ENDPOINT": fake.url}, "models", "pull")  # default: [tts] model
        assert again.returncode == 0, again.stderr
        assert f"{REPO} is already downloaded" in again.stdout
        assert f'Your config uses it: [tts] model = "{REPO}"' in again.stdout
        assert [r for r in fake.requests if r.method == "GET" and "/resolve/" in r.path] == []

    # the loader finds the cached copy without the hub: offline, or with the hub unreachable
    code = f"from livevoice.tts.loading import model_folder; print(model_folder({REPO!r}))"
    for extra in ({"HF_HUB_OFFLINE": "1"}, {"HF_ENDPOINT": "http://127.0.0.1:9"}):
        found = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, env={**env, **extra}, timeout=120
        )
        assert found.returncode == 0, found.stderr
        assert found.stdout.strip() == str(snapshot)


@pytest.mark.slow
def test_pull_into_a_folder(tiny_qwen_dir: Path, tmp_path: Path) -> None:
    files = folder_files(tiny_qwen_dir)
    target = tmp_path / "models" / "tiny"
    # announced as Xet-stored, as the hub does: fetched over plain HTTP all the same
    with serve_hub(FakeHub({REPO: files}, xet=True)) as fake:
        env = cli_env(tmp_path, HF_ENDPOINT=fake.url)
        done = livevoice(env, "models", "pull", REPO, "--to", str(target))
        assert not [r for r in fake.requests if "xet" in r.path]
    assert done.returncode == 0, done.stderr
    assert {name: data for name, data in folder_files(target).items() if not name.startswith(".")} == files
    assert f'model = "{target}"' in done.stdout
    assert not (tmp_path / "hf" / "hub" / ("models--" + REPO.replace("/", "--")) / "snapshots").exists()
    write_config(tmp_path, f'[tts]\nmodel = "{target}"\n')
    listed = livevoice(env, "models", "list", "--json")
    entry = next(e for e in map(json.loads, listed.stdout.splitlines()) if e["configured"])
    assert (entry["model"], entry["state"], entry["embedding_dim"]) == (str(target), "ready", 64)


@pytest.mark.slow
def test_the_loader_keeps_the_cached_model_when_an_update_cannot_be_downloaded(
    tiny_qwen_dir: Path, tmp_path: Path
) -> None:
    files = folder_files(tiny_qwen_dir)
    with serve_hub(FakeHub({REPO: files})) as fake:
        env = cli_env(tmp_path, HF_ENDPOINT=fake.url)
        assert livevoice(env, "models", "pull", REPO).returncode == 0
        old = snapshot_of(tmp_path, REPO, fake.sha)
    newer = "fedcba9876543210fedcba9876543210fedcba98"
    with serve_hub(FakeHub({REPO: files}, sha=newer, unavailable={"model.safetensors"})) as fake:
        code = f"from livevoice.tts.loading import model_folder; print(model_folder({REPO!r}))"
        found = subprocess.run(
            [sys.executable, "-c", code],
            capture_output=True,
            text=True,
            env={**env, "HF_ENDPOINT": fake.url},
            timeout=120,
        )
        assert any(f"/resolve/{newer}/" in r.path for r in fake.requests)  # the newer revision was tried
    assert found.returncode == 0, found.stderr
    assert found.stdout.strip() == str(old)
    assert (
        f"the download of {REPO} stopped" in found.stderr
        and "using the copy in the hub cache" in found.stderr
    )


@pytest.mark.slow
def test_the_loader_downloads_a_hub_model_with_progress_and_speaks(
    tiny_qwen_dir: Path, tmp_path: Path
) -> None:
    from safetensors.numpy import save_file

    voice = tmp_path / "v.safetensors"
    save_file({"speaker_embedding": np.linspace(-0.5, 0.5, 64, dtype=np.float32)}, str(voice))
    out = tmp_path / "out.wav"
    with serve_hub(FakeHub({REPO: folder_files(tiny_qwen_dir)})) as fake:
        env = cli_env(tmp_path, HF_ENDPOINT=fake.url)
        said = livevoice(
            env, "say", "Hi there.", "--voice", str(voice), "--model", REPO, "--device", "cpu",
            "--max-frames", "3", "-o", str(out),
        )  # fmt: skip
    assert said.returncode == 0, said.stderr
    assert out.stat().st_size > 0
    lines = said.stderr.splitlines()
    assert f"livevoice: downloading {REPO}: 2.50 MB" in lines
    assert any(line.startswith(f"livevoice: downloaded {REPO}: 2.50 MB in ") for line in lines)


# -- no hub --------------------------------------------------------------------------------


def say_with_hub_model(tmp_path: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    from safetensors.numpy import save_file

    voice = tmp_path / "v.safetensors"
    save_file({"speaker_embedding": np.ones(64, dtype=np.float32)}, str(voice))
    return livevoice(
        env, "-vv", "say", "Hi.", "--voice", str(voice), "--model", HUB_0_6B, "-o", str(tmp_path / "o.wav")
    )


def assert_unavailable_line(stderr: str, reason: str) -> None:
    last = stderr.strip().splitlines()[-1]
    assert last.startswith(
        f"livevoice: error: cannot load TTS model '{HUB_0_6B}': "
        "not a local folder and it cannot be downloaded ("
    ), last
    assert reason in last
    assert last.endswith(
        "run `livevoice models pull 0.6B` where the hub can be reached, "
        "or set [tts] model to a local model folder"
    )
    assert "Retrying" not in stderr  # -vv shows the hub client's retry warnings: there are none


@pytest.mark.parametrize("answer", [True, False], ids=["closed-at-once", "silent"])
def test_an_unreachable_hub_is_asked_once(tmp_path: Path, answer: bool) -> None:
    with serve_silence(ConnectionCounter(answer=answer)) as counter:
        env = cli_env(tmp_path, HF_ENDPOINT=counter.url)
        said = say_with_hub_model(tmp_path, env)
        pulled = livevoice(env, "-vv", "models", "pull")
        count = counter.count
    assert said.returncode == 2 and pulled.returncode == 2
    reason = "the connection was closed" if answer else f"did not answer within {hub.PROBE_TIMEOUT_S:g} s"
    assert_unavailable_line(said.stderr, reason)
    last = pulled.stderr.strip().splitlines()[-1]
    assert last.startswith(f"livevoice: error: cannot download {HUB_0_6B}: ") and reason in last
    assert last.endswith("or copy a downloaded model folder here and set [tts] model to it")
    assert "Retrying" not in pulled.stderr
    assert count == 2  # one request each: no retry loop


def test_a_hub_name_that_does_not_resolve(tmp_path: Path) -> None:
    # .invalid never resolves (RFC 2606): the lookup fails as it does on a machine without network
    said = say_with_hub_model(tmp_path, cli_env(tmp_path, HF_ENDPOINT="http://hub.livevoice.invalid"))
    assert said.returncode == 2
    assert_unavailable_line(said.stderr, "its name cannot be resolved (no network?)")


def test_hf_hub_offline_asks_nothing(tmp_path: Path) -> None:
    with serve_silence(ConnectionCounter()) as counter:
        said = say_with_hub_model(tmp_path, cli_env(tmp_path, HF_ENDPOINT=counter.url, HF_HUB_OFFLINE="1"))
        assert counter.count == 0
    assert said.returncode == 2
    assert_unavailable_line(said.stderr, "HF_HUB_OFFLINE is set")


@pytest.mark.slow
def test_unknown_models_and_folders_are_one_line(tiny_qwen_dir: Path, tmp_path: Path) -> None:
    with serve_hub(FakeHub({REPO: folder_files(tiny_qwen_dir)})) as fake:
        env = cli_env(tmp_path, HF_ENDPOINT=fake.url)
        unknown = livevoice(env, "models", "pull", "Org/Nope")
    assert unknown.returncode == 2
    assert (
        unknown.stderr.strip()
        == f"livevoice: error: cannot download Org/Nope: there is no model 'Org/Nope' on {fake.url}"
    )
    folder = livevoice(env, "models", "pull", str(tmp_path))
    assert folder.returncode == 2
    assert folder.stderr.strip().startswith("livevoice: error: models pull takes 0.6B, 1.7B or a hub id")
