"""``livevoice run --control-only`` as a real process, driven by ``livevoice ctl``.

The processes of this module share one daemon; each test starts from the same state (voice
alice, mode convert, push-to-talk off), whatever ran before it.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import stat
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from test_control_support import make_library

from livevoice.cli import main
from livevoice.control.client import ControlClient


@dataclass
class Daemon:
    process: subprocess.Popen[str]
    port: int
    config: Path
    secret_file: Path


def start_daemon(folder: Path) -> Daemon:
    """A control-only daemon process over a fresh library in ``folder``; once it listens."""
    make_library(folder / "voices")
    secret_file = folder / "config" / "secret"
    config = folder / "config.toml"
    config.write_text(
        f'[voices]\nlibrary = "{folder / "voices"}"\n\n[control]\nport = 0\nsecret_file = "{secret_file}"\n',
        encoding="utf-8",
    )
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    process = subprocess.Popen(
        [sys.executable, "-m", "livevoice.cli", "--config", str(config), "run", "--control-only"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    assert process.stdout is not None
    line = process.stdout.readline()
    match = re.search(r"listening on ws://127\.0\.0\.1:(\d+) ", line)
    assert match, (line, process.stderr.read() if process.poll() is not None and process.stderr else "")
    return Daemon(process, int(match.group(1)), config, secret_file)


def stop_daemon(daemon: Daemon) -> None:
    if daemon.process.poll() is None:
        daemon.process.kill()
        daemon.process.communicate(timeout=30)


@pytest.fixture(scope="module")
def shared_daemon(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Daemon]:
    daemon = start_daemon(tmp_path_factory.mktemp("control-cli"))
    yield daemon
    stop_daemon(daemon)


@pytest.fixture
def daemon(shared_daemon: Daemon) -> Daemon:
    """The shared daemon, put back in its starting state."""

    async def reset() -> None:
        url = f"ws://127.0.0.1:{shared_daemon.port}"
        secret = shared_daemon.secret_file.read_text().strip()
        async with await ControlClient.connect(url, secret, event_subscriptions=0) as client:
            for request_type, data in (
                ("SetVoice", {"voice": "alice"}),
                ("SetMode", {"mode": "convert"}),
                ("SetPushToTalk", {"pressed": False, "enabled": False}),
            ):
                await client.request(request_type, data)

    asyncio.run(reset())
    return shared_daemon


def ctl(daemon: Daemon, *args: str, capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(["--config", str(daemon.config), "ctl", "--port", str(daemon.port), *args])
    out, err = capsys.readouterr()
    return code, out, err


def test_requests_from_the_command_line(daemon: Daemon, capsys: pytest.CaptureFixture[str]) -> None:
    assert stat.S_IMODE(daemon.secret_file.stat().st_mode) == 0o600
    code, out, err = ctl(daemon, "GetStatus", capsys=capsys)
    assert (code, err) == (0, "")
    status = json.loads(out)
    assert (status["voice"], status["audioAvailable"], status["mode"]) == ("alice", False, "convert")

    assert ctl(daemon, "setvoice", '{"voice": "bob"}', capsys=capsys)[:2] == (0, "{}\n")
    assert json.loads(ctl(daemon, "GetCurrentVoice", capsys=capsys)[1])["voice"] == "bob"
    mixed = json.loads(ctl(daemon, "MixVoices", '{"weights": {"alice": 1, "carol": 1}}', capsys=capsys)[1])
    assert mixed == {"voice": "mix:0.5*alice+0.5*carol"}
    voices = json.loads(ctl(daemon, "ListVoices", capsys=capsys)[1])
    assert [v["name"] for v in voices["voices"]] == ["alice", "big", "bob", "carol"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("SetVoice", '{"voice": "zed"}'), "SetVoice failed (600 ResourceNotFound): unknown voice 'zed'"),
        (("Speak", '{"text": "hi"}'), "Speak failed (207 NotAvailable): Speak needs the audio loop"),
        (("SetMode", '{"mode": "loud"}'), "SetMode failed (400 InvalidRequestField)"),
        (("Explode",), "unknown request 'Explode'; requests: GetVersion"),
        (("SetVoice", "{voice"), "is not valid JSON"),
        (("SetVoice", '["bob"]'), "must be an object"),
        (("watch", "--events", "Nope"), "unknown event 'Nope'"),
        (("GetStatus", "--count", "1"), "--events and --count go with 'watch'"),
    ],
)
def test_errors_are_one_line_and_exit_2(
    daemon: Daemon, capsys: pytest.CaptureFixture[str], args: tuple[str, ...], message: str
) -> None:
    code, out, err = ctl(daemon, *args, capsys=capsys)
    assert code == 2
    assert out == ""
    assert err.count("\n") == 1 and err.startswith("livevoice: error: ")
    assert message in err


def test_wrong_secret_and_no_daemon(
    daemon: Daemon, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    wrong = tmp_path / "wrong"
    wrong.write_text("x" * 40)
    wrong.chmod(0o600)
    code, _, err = ctl(daemon, "--secret-file", str(wrong), "GetStatus", capsys=capsys)
    assert code == 2 and "refused the secret" in err
    code = main(["--config", str(daemon.config), "ctl", "--port", "1", "GetStatus"])
    err = capsys.readouterr().err
    assert code == 2 and "cannot connect to ws://127.0.0.1:1" in err and "is the daemon running?" in err


def test_watch_streams_events_as_json_lines(daemon: Daemon, capsys: pytest.CaptureFixture[str]) -> None:
    watcher = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "livevoice.cli",
            "--config",
            str(daemon.config),
            "ctl",
            "--port",
            str(daemon.port),
            "watch",
            "--events",
            "ModeChanged,VoiceChanged",
            "--count",
            "2",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 30
        while json.loads(ctl(daemon, "GetStats", capsys=capsys)[1])["control"]["clients"] < 2:
            assert time.monotonic() < deadline, "the watcher never connected"
            time.sleep(0.05)
        ctl(daemon, "SetMode", '{"mode": "mute"}', capsys=capsys)
        ctl(daemon, "SetVoice", '{"voice": "carol"}', capsys=capsys)
        out, err = watcher.communicate(timeout=30)
    finally:
        if watcher.poll() is None:
            watcher.kill()
            watcher.communicate(timeout=30)
    assert (watcher.returncode, err) == (0, "")
    lines = [json.loads(line) for line in out.splitlines()]
    assert lines == [
        {"eventType": "ModeChanged", "eventData": {"mode": "mute", "previous": "convert"}},
        {
            "eventType": "VoiceChanged",
            "eventData": {
                "voice": "carol",
                "previous": "alice",
                "dim": 1024,
                "transient": False,
                "morph": None,
            },
        },
    ]


def test_sigterm_stops_the_daemon_cleanly(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A daemon of its own: it logs a refused secret on stderr and stops cleanly on SIGTERM."""
    daemon = start_daemon(tmp_path)
    try:
        wrong = tmp_path / "wrong"
        wrong.write_text("x" * 40)
        wrong.chmod(0o600)
        code, _, err = ctl(daemon, "--secret-file", str(wrong), "GetStatus", capsys=capsys)
        assert code == 2 and "refused the secret" in err
        daemon.process.send_signal(signal.SIGTERM)
        out, err = daemon.process.communicate(timeout=30)
    finally:
        stop_daemon(daemon)
    assert daemon.process.returncode == 0
    assert out == ""
    assert "Traceback" not in err
    assert "failed to authenticate" in err
