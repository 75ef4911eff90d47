"""sd_notify over a real AF_UNIX datagram socket, watchdog parsing, and the systemd user unit."""

from __future__ import annotations

import configparser
import contextlib
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from livevoice import service

UNIT = Path(__file__).resolve().parent.parent / "systemd" / "livevoice.service"


@pytest.fixture
def receiver(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[socket.socket]:
    """A datagram socket bound at a filesystem path, announced in $NOTIFY_SOCKET."""
    path = tmp_path / "notify"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.bind(str(path))
        sock.settimeout(5)
        monkeypatch.setenv("NOTIFY_SOCKET", str(path))
        yield sock


def _nothing_pending(sock: socket.socket) -> bool:
    sock.setblocking(False)
    try:
        sock.recv(4096)
    except BlockingIOError:
        return True
    finally:
        sock.settimeout(5)
    return False


def test_each_message_arrives_as_one_datagram(receiver: socket.socket) -> None:
    assert service.notify_ready("models loaded")
    assert receiver.recv(4096) == b"READY=1\nSTATUS=models loaded"
    assert service.notify_watchdog()
    assert receiver.recv(4096) == b"WATCHDOG=1"
    assert service.notify_stopping()
    assert receiver.recv(4096) == b"STOPPING=1"
    assert service.notify_status("voice: alice\n  mode:\tconvert")
    assert receiver.recv(4096) == b"STATUS=voice: alice mode: convert"
    assert service.notify_extend_timeout(90.5)
    assert receiver.recv(4096) == b"EXTEND_TIMEOUT_USEC=90500000"
    assert _nothing_pending(receiver)


def test_a_long_start_keeps_extending_the_timeout_until_it_is_done(receiver: socket.socket) -> None:
    with service.extending_start("loading models", step_s=0.3):
        assert receiver.recv(4096) == b"STATUS=loading models"
        assert receiver.recv(4096) == b"EXTEND_TIMEOUT_USEC=300000"  # at once
        assert receiver.recv(4096) == b"EXTEND_TIMEOUT_USEC=300000"  # and again a third of it later
        threads = [t for t in threading.enumerate() if t.name == "livevoice-start-timeout"]
        assert len(threads) == 1
    assert not threads[0].is_alive()  # done: nothing more will come
    receiver.setblocking(False)
    pending = []
    with contextlib.suppress(BlockingIOError):
        while True:
            pending.append(receiver.recv(4096))
    assert set(pending) <= {b"EXTEND_TIMEOUT_USEC=300000"}


def test_a_start_without_a_notify_socket_starts_no_thread(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NOTIFY_SOCKET", raising=False)
    with service.extending_start("loading models", step_s=0.3):
        assert not [t for t in threading.enumerate() if t.name == "livevoice-start-timeout"]


def test_reloading_carries_the_monotonic_clock(receiver: socket.socket) -> None:
    before = time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000
    assert service.notify_reloading("reloading config")
    after = time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000
    lines = receiver.recv(4096).decode().split("\n")
    assert lines[0] == "RELOADING=1"
    assert lines[2] == "STATUS=reloading config"
    key, _, usec = lines[1].partition("=")
    assert key == "MONOTONIC_USEC"
    assert before <= int(usec) <= after


def test_status_is_one_bounded_line(receiver: socket.socket) -> None:
    service.notify_status("x" * 1000 + "\nsecond line")
    message = receiver.recv(4096).decode()
    assert "\n" not in message
    assert message == "STATUS=" + "x" * service.MAX_STATUS_CHARS


def test_abstract_namespace_address(monkeypatch: pytest.MonkeyPatch) -> None:
    name = f"livevoice-test-{uuid.uuid4().hex}"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.bind("\0" + name)
        sock.settimeout(5)
        monkeypatch.setenv("NOTIFY_SOCKET", "@" + name)
        assert service.notify_ready()
        assert sock.recv(4096) == b"READY=1"


def test_a_child_process_notifies_the_socket_it_inherits(receiver: socket.socket) -> None:
    """As under systemd: the daemon is another process that finds the socket in its environment."""
    receiver.setsockopt(socket.SOL_SOCKET, socket.SO_PASSCRED, 1)
    child = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, livevoice.service as s; sys.exit(0 if s.notify_ready('up') else 1)",
        ],
        env=os.environ.copy(),
    )
    message, ancillary, _, _ = receiver.recvmsg(4096, socket.CMSG_SPACE(12))
    assert child.wait(timeout=30) == 0
    assert message == b"READY=1\nSTATUS=up"
    creds = [data for level, kind, data in ancillary if kind == socket.SCM_CREDENTIALS]
    assert int.from_bytes(creds[0][:4], sys.byteorder) == child.pid  # what NotifyAccess=main checks


def test_no_notify_socket_is_a_quiet_no_op(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NOTIFY_SOCKET", raising=False)
    assert not service.notify_ready()
    assert not service.notify_watchdog()
    assert not service.notify_stopping()
    assert not service.notify_reloading()
    assert not service.notify_status("x")


@pytest.mark.parametrize(
    "address",
    [
        "relative/path",
        "vsock:2:1234",
        "/nonexistent-dir-for-livevoice/notify",
        "@livevoice-nobody-listens-" + uuid.uuid4().hex,
        "/" + "a" * 200,
        "/bad\0path",
    ],
)
def test_an_unreachable_socket_never_raises(monkeypatch: pytest.MonkeyPatch, address: str) -> None:
    monkeypatch.setattr(os, "environ", {**os.environ, "NOTIFY_SOCKET": address})
    assert not service.notify_ready()
    assert not service.notify_watchdog()


@pytest.mark.parametrize(
    ("usec", "pid", "expected"),
    [
        (None, None, None),
        ("30000000", None, 30.0),
        ("1500000", "self", 1.5),
        (" 250000\n", None, 0.25),
        ("30000000", "1", None),  # inherited: meant for another process
        ("0", None, None),
        ("-5", None, None),
        ("thirty", None, None),
        ("", None, None),
    ],
)
def test_watchdog_interval(
    monkeypatch: pytest.MonkeyPatch, usec: str | None, pid: str | None, expected: float | None
) -> None:
    for key, value in (("WATCHDOG_USEC", usec), ("WATCHDOG_PID", pid)):
        if value is None:
            monkeypatch.delenv(key, raising=False)
        else:
            monkeypatch.setenv(key, str(os.getpid()) if value == "self" else value)
    assert service.watchdog_interval_s() == expected


def _unit() -> configparser.ConfigParser:
    parser = configparser.ConfigParser(interpolation=None, strict=True)
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    parser.read_string(UNIT.read_text())
    return parser


def test_unit_declares_the_service_contract() -> None:
    unit = _unit()
    s = unit["Service"]
    assert s["Type"] == "notify"
    assert s["Restart"] == "on-failure"
    assert s["ExecReload"] == "kill -HUP $MAINPID"
    assert int(s["WatchdogSec"]) > 0
    assert s["ExecStart"].startswith("%h/") and s["ExecStart"].endswith("/bin/livevoice run")
    assert s["ExecStartPre"].startswith("-%h/") and s["ExecStartPre"].endswith(" virtual-mic create")
    assert s["NoNewPrivileges"] == "yes"
    # these would cut the daemon off from sound cards, GPUs or realtime audio threads
    for breaks_audio in ("PrivateDevices", "RestrictRealtime", "MemoryDenyWriteExecute", "PrivateUsers"):
        assert breaks_audio not in s
    assert unit["Install"]["WantedBy"] == "default.target"


def _verify(unit_text: str, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    """``systemd-analyze --user verify`` with a home where the venv path of the unit exists."""
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        pytest.fail("systemd-analyze is missing: install systemd to validate the unit file")
    home = tmp_path / "home"
    bin_dir = home / ".local/share/livevoice/venv/bin"
    bin_dir.mkdir(parents=True)
    (bin_dir / "livevoice").symlink_to(Path(sys.executable).parent / "livevoice")
    runtime = tmp_path / "runtime"
    runtime.mkdir(mode=0o700)
    unit = tmp_path / "livevoice.service"
    unit.write_text(unit_text)
    env = {**os.environ, "HOME": str(home), "XDG_RUNTIME_DIR": str(runtime), "SYSTEMD_LOG_LEVEL": "notice"}
    return subprocess.run(
        [analyze, "--user", "verify", str(unit)], capture_output=True, text=True, env=env, timeout=60
    )


def test_systemd_accepts_the_unit(tmp_path: Path) -> None:
    done = _verify(UNIT.read_text(), tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stderr.strip() == ""


def test_systemd_verify_would_catch_a_broken_unit(tmp_path: Path) -> None:
    broken = (
        UNIT.read_text().replace("Type=notify", "Type=notfy").replace("/bin/livevoice run", "/bin/lv run")
    )
    done = _verify(broken, tmp_path)
    assert "notfy" in done.stderr
    assert done.returncode != 0
