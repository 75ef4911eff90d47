"""``livevoice doctor``: the table, then each check against the real thing (the PipeWire test
server, PortAudio's devices, the bundled ASR model, the tiny TTS model, real sockets, files)."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pytest
from hub_server import ConnectionCounter, serve_silence

from livevoice.audio import virtual_mic as vm
from livevoice.config import Config, config_from_dict
from livevoice.control.auth import load_or_create_secret
from livevoice.doctor import (
    Check,
    Context,
    _livevoice_answers,
    check_control_port,
    exit_code,
    format_table,
    run_checks,
    to_json,
)
from livevoice.tts.qwen3 import load_qwen3_engine
from livevoice.voices.embedding import Voice, VoiceMeta
from livevoice.voices.library import VoiceLibrary
from livevoice.voices.starters import make_starter_voices


def wait_for(condition: Callable[[], bool], what: str, timeout_s: float = 60.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def by_name(rows: list[Check]) -> dict[str, Check]:
    return {row.name: row for row in rows}


def make_config(tmp_path: Path, **sections: dict[str, object]) -> Config:
    base: dict[str, dict[str, object]] = {
        "voices": {"library": str(tmp_path / "voices")},
        "control": {"secret_file": str(tmp_path / "secret"), "port": free_port()},
    }
    for name, values in sections.items():
        base.setdefault(name, {}).update(values)
    return config_from_dict(base)


@pytest.fixture
def pair_name(audio_rig: Path) -> Iterator[str]:
    name = f"lvdoc{uuid.uuid4().hex[:6]}"
    yield name
    vm.remove_virtual_mic(name)


def test_the_table_and_the_json() -> None:
    rows = [
        Check("python", "OK", "Python 3.11.7"),
        Check("tts model", "FAIL", "not here", "livevoice models pull 0.6B"),
        Check("voices", "WARN", "none yet", "livevoice voice starters"),
    ]
    assert format_table(rows) == "\n".join(
        [
            "STATUS  CHECK      DETAIL",
            "OK      python     Python 3.11.7",
            "FAIL    tts model  not here",
            "                   fix: livevoice models pull 0.6B",
            "WARN    voices     none yet",
            "                   fix: livevoice voice starters",
            "1 FAIL, 1 WARN: `livevoice run` stops at a FAIL; fix those first",
        ]
    )
    assert exit_code(rows) == 1 and exit_code(rows[::2]) == 0
    assert format_table(rows[::2]).endswith("no FAIL, 1 WARN: livevoice can run")
    parsed = json.loads(to_json(rows))
    assert parsed["ok"] is False
    assert parsed["checks"][1] == {
        "name": "tts model",
        "status": "FAIL",
        "detail": "not here",
        "fix": "livevoice models pull 0.6B",
    }


@pytest.mark.rig
def test_a_fresh_machine_is_told_what_is_missing_and_how_to_get_it(audio_rig: Path, tmp_path: Path) -> None:
    """A fresh checkout: no model, no voices, no virtual mic, no secret, no network. The doctor
    names exactly those, each with the command that gets it, and changes nothing."""
    import torch

    vm.remove_virtual_mic()  # a new user's sound server has none yet
    env = {
        **os.environ,
        "HF_HOME": str(tmp_path / "hf"),
        "XDG_CONFIG_HOME": str(tmp_path / "config"),
        "XDG_DATA_HOME": str(tmp_path / "data"),
        "OMP_NUM_THREADS": "1",
    }
    env.pop("HF_HUB_OFFLINE", None)
    with serve_silence(ConnectionCounter()) as hub:  # no network: the hub closes every connection
        env["HF_ENDPOINT"] = hub.url
        done = subprocess.run(
            [sys.executable, "-m", "livevoice.cli", "doctor", "--json"],
            capture_output=True,
            text=True,
            env=env,
            timeout=300,
        )
        table = subprocess.run(
            [sys.executable, "-m", "livevoice.cli", "doctor"],
            capture_output=True,
            text=True,
            env=env,
            timeout=300,
        )
    assert done.returncode == 1, done.stderr
    report = json.loads(done.stdout)
    assert report["ok"] is False
    rows = {row["name"]: row for row in report["checks"]}
    assert [name for name, row in rows.items() if row["status"] == "FAIL"] == ["tts model"]
    model = rows["tts model"]
    assert model["detail"] == (
        "Qwen/Qwen3-TTS-12Hz-0.6B-Base is not on this machine and cannot be downloaded now "
        f"(cannot reach {hub.url}: the connection was closed)"
    )
    assert model["fix"] == (
        "livevoice models pull 0.6B (where the hub can be reached), or set [tts] model to a model folder"
    )
    library = tmp_path / "data" / "livevoice" / "voices"
    assert rows["voices"]["detail"] == f"no voices in {library} yet: `livevoice run` makes the starter voices"
    assert rows["virtual mic"]["detail"].startswith(
        '"livevoice virtual mic" does not exist yet: `livevoice run`'
    )
    assert rows["output"]["detail"].startswith("the virtual mic 'livevoice_out' (output_device is unset)")
    assert rows["secret"]["status"] == "OK" and "made at the first start" in rows["secret"]["detail"]
    # exactly what is missing, each with how to get it; everything else is fine
    missing = {name: (row["status"], row["fix"]) for name, row in rows.items() if row["status"] != "OK"}
    cuda = missing.pop("cuda", None)
    assert (cuda is None) == torch.cuda.is_available(), cuda
    assert missing == {
        "tts model": ("FAIL", model["fix"]),
        "voices": ("WARN", "livevoice voice starters"),
        "virtual mic": ("WARN", "livevoice virtual-mic create"),
    }
    fine = {"config", "python", "packages", "asr", "sound server", "input", "output", "echo", "control port"}
    assert fine <= rows.keys()  # all OK, as they are not in missing
    assert rows["asr"]["detail"].startswith("tiny.en ran a test decode on cpu")
    assert table.returncode == 1
    assert "fix: livevoice models pull 0.6B (where the hub can be reached)" in table.stdout
    assert not library.exists()  # the doctor changes nothing
    assert not (tmp_path / "config" / "livevoice" / "secret").exists()
    assert vm.virtual_mic_status().absent


@pytest.mark.slow
@pytest.mark.rig
def test_a_ready_set_up_passes(pair_name: str, tiny_qwen_dir: Path, tmp_path: Path) -> None:
    import torch

    config = make_config(tmp_path, tts={"model": str(tiny_qwen_dir)})
    make_starter_voices(
        VoiceLibrary(tmp_path / "voices"), load_qwen3_engine(str(tiny_qwen_dir), device="cpu", warmup=False)
    )
    load_or_create_secret(tmp_path / "secret")
    vm.create_virtual_mic(pair_name)
    rows = by_name(run_checks(Context(config, None, vmic_name=pair_name)))
    fails = [row for row in rows.values() if row.status == "FAIL"]
    assert fails == []
    assert rows["tts model"].status == "OK"
    assert (
        rows["tts model"].detail.endswith("voices of 64 values")
        and "local folder" in rows["tts model"].detail
    )
    assert rows["voices"] == Check("voices", "OK", "3 voices, 3 of 64 values for this model")
    assert rows["virtual mic"].status == "OK" and f"{pair_name}_mic" in rows["virtual mic"].detail
    assert rows["output"].detail.startswith(f"the virtual mic: sound-server node '{pair_name}_out'")
    assert rows["echo"].status == "OK"
    assert rows["secret"].status == "OK" and rows["control port"].status == "OK"
    assert rows["cuda"].status == ("OK" if torch.cuda.is_available() else "WARN")


@pytest.mark.slow
@pytest.mark.rig
def test_what_is_wrong_is_found(pair_name: str, tiny_qwen_dir: Path, tmp_path: Path) -> None:
    library = VoiceLibrary(tmp_path / "voices")
    library.add(Voice(np.ones(32, np.float32), VoiceMeta(name="old")))
    broken_model = tmp_path / "model"
    shutil.copytree(tiny_qwen_dir, broken_model)
    (broken_model / "speech_tokenizer" / "model.safetensors").unlink()
    config = make_config(
        tmp_path,
        tts={"model": str(tiny_qwen_dir)},
        audio={"input_device": "no-such-mic", "output_device": "default"},
        asr={"model": str(tmp_path / "no-asr-model")},
    )
    secret = tmp_path / "secret"
    load_or_create_secret(secret)
    secret.chmod(0o644)
    checks = ("devices", "tts model", "voices", "secret", "asr", "virtual mic", "sound server")
    rows = by_name(run_checks(Context(config, None, vmic_name=pair_name), only=checks))
    assert rows["input"].status == "FAIL" and rows["input"].detail.startswith(
        "no input device matches 'no-such-mic'"
    )
    assert rows["input"].fix == "`livevoice devices` lists them; set [audio] input_device"
    assert rows["output"].status == "OK" and "'default'" in rows["output"].detail
    assert rows["voices"] == Check(
        "voices",
        "FAIL",
        "1 voice, none of 64 values (the model's size): they were made with another model",
        "livevoice voice starters",
    )
    assert rows["secret"] == Check(
        "secret", "FAIL", f"{secret} is readable by other users (mode 0644)", f"chmod 600 {secret}"
    )
    assert rows["asr"].status == "FAIL" and "no-asr-model" in rows["asr"].detail
    assert rows["virtual mic"].status == "OK"  # not used: the output is chosen

    library.add(Voice(np.ones(64, np.float32), VoiceMeta(name="fits")))
    unset = make_config(
        tmp_path,
        tts={"model": str(broken_model)},
        voices={"default_voice": "fits"},
        audio={"output_device": ""},
    )
    rows = by_name(run_checks(Context(unset, None, vmic_name=pair_name), only=checks))
    assert rows["tts model"].status == "FAIL"
    assert rows["tts model"].detail.endswith("lacks speech_tokenizer/model.safetensors")
    assert (
        rows["virtual mic"].status == "WARN"
        and rows["virtual mic"].fix == f"livevoice virtual-mic create --name {pair_name}"
    )
    # its config.json still says its size: one voice fits, the other is reported
    assert rows["voices"] == Check(
        "voices",
        "WARN",
        "2 voices, 1 of 64 values for this model; 1 of another size (old) cannot be used",
        "livevoice voice list",
    )

    echo = make_config(tmp_path, audio={"output_device": "default"})
    rows = by_name(run_checks(Context(echo, None, vmic_name=pair_name), only=("devices", "echo")))
    assert rows["echo"].status == "WARN" and rows["echo"].detail.startswith(
        "echo risk: the microphone and the output"
    )


@pytest.mark.rig
def test_no_sound_server(pair_name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    empty = tmp_path / "runtime"
    empty.mkdir(mode=0o700)
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(empty))
    rows = by_name(
        run_checks(
            Context(make_config(tmp_path), None, vmic_name=pair_name), only=("sound server", "virtual mic")
        )
    )
    assert rows["sound server"].status == "FAIL"
    assert "no PipeWire or PulseAudio server is running" in rows["sound server"].detail
    assert rows["sound server"].fix == "systemctl --user start pipewire pipewire-pulse wireplumber"
    assert rows["virtual mic"] == Check(
        "virtual mic", "FAIL", "cannot be checked without the sound server", "see sound server"
    )


def test_the_control_port(tmp_path: Path) -> None:
    config = make_config(tmp_path)
    assert check_control_port(Context(config, None)).status == "OK"
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", config.control.port))
        holder.listen()
        found = check_control_port(Context(config, None))
    assert (
        found.status == "FAIL"
        and found.detail == f"127.0.0.1:{config.control.port} is taken by another program"
    )
    assert f"sport = :{config.control.port}" in found.fix

    env = {**os.environ, "XDG_CONFIG_HOME": str(tmp_path / "xdg"), "XDG_DATA_HOME": str(tmp_path / "data")}
    port = config.control.port
    daemon = subprocess.Popen(
        [sys.executable, "-m", "livevoice.cli", "run", "--control-only", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        wait_for(
            lambda: _livevoice_answers("127.0.0.1", port) or daemon.poll() is not None, "the control server"
        )
        assert daemon.poll() is None, daemon.stderr.read() if daemon.stderr else ""
        found = check_control_port(Context(config, None))
    finally:
        daemon.terminate()
        daemon.wait(timeout=30)
    assert found.status == "WARN" and found.detail.startswith(
        f"a livevoice daemon is already running on 127.0.0.1:{port}"
    )
