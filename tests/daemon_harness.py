"""What the daemon tests on the rig share: a daemon (opened, or running in a thread), the CLI,
a recorder, and waiting for a condition with a deadline (never a fixed sleep)."""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import json
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import numpy as np

from livevoice.config import Config
from livevoice.control.client import ControlClient
from livevoice.daemon import Daemon
from livevoice.models import Models

T = TypeVar("T")
POLL_S = 0.02
"""How often a condition is looked at again while waiting for it."""


def wait_until(condition: Callable[[], T], timeout_s: float, what: str) -> T:
    """The first truthy value of ``condition()``; fails after ``timeout_s`` saying ``what`` never came."""
    deadline = time.monotonic() + timeout_s
    while not (value := condition()):
        assert time.monotonic() < deadline, f"no {what} within {timeout_s} s"
        time.sleep(POLL_S)
    return value


async def eventually(condition: Callable[[], Awaitable[T] | T], timeout_s: float, what: str) -> T:
    """:func:`wait_until` inside a scenario: the condition may be a coroutine function (e.g. a
    request and a look at its answer); the event loop runs while waiting."""

    async def value_now() -> T:
        value = condition()
        return await value if inspect.isawaitable(value) else value  # type: ignore[return-value]

    deadline = time.monotonic() + timeout_s
    while not (value := await value_now()):
        assert time.monotonic() < deadline, f"no {what} within {timeout_s} s"
        await asyncio.sleep(POLL_S)
    return value


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    """Run ``livevoice ARGS`` as a user would; it must succeed."""
    result = subprocess.run(
        [sys.executable, "-m", "livevoice.cli", *args], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    return result


def rig_config(root: Path, tiny_qwen_dir: Path, library: Path, audio: str = "", control: str = "") -> Path:
    """A config file for a daemon on the rig with the tiny TTS model; ``audio`` and ``control``
    hold extra lines of those sections (the default devices of the rig are silent)."""
    path = root / "config.toml"
    path.write_text(
        f"[audio]\n{audio}\n"
        f'[tts]\nmodel = "{tiny_qwen_dir}"\ntorch_threads = 1\nseed = 1\n'
        f'[voices]\nlibrary = "{library}"\n'
        f'[control]\nport = 0\nsecret_file = "{root / "secret"}"\n{control}\n'
    )
    return path


@contextlib.contextmanager
def opened(config: Config, models: Models) -> Iterator[Daemon]:
    """A real daemon with its loop open on the rig's devices, without its control server or main
    loop: for driving its state (``daemon.state``) directly."""
    daemon = Daemon(config, None, models, json_events=False)
    daemon.open()
    try:
        yield daemon
    finally:
        daemon.close()


class Running:
    """A daemon in a thread (real devices, real models, real control server)."""

    def __init__(self, config: Config, models: Models, config_path: Path | None = None) -> None:
        self.daemon = Daemon(config, config_path, models, json_events=False)
        self.thread = threading.Thread(target=self.daemon.run, daemon=True)

    def __enter__(self) -> Running:
        self.thread.start()

        def started() -> bool:
            assert self.thread.is_alive(), "the daemon stopped while starting"
            server = self.daemon.server
            return self.daemon.pipeline is not None and server is not None and bool(server.url)

        wait_until(started, 60, "started daemon")
        self.secret = Path(self.daemon.config.control.secret_file).read_text().strip()
        return self

    def __exit__(self, *exc: object) -> None:
        self.daemon.request_stop()
        self.thread.join(timeout=30)
        assert not self.thread.is_alive()

    @property
    def url(self) -> str:
        assert self.daemon.server is not None
        return self.daemon.server.url

    async def client(self, **kwargs: Any) -> ControlClient:
        return await ControlClient.connect(self.url, self.secret, **kwargs)


def recording_streams_of(pid: int) -> list[dict[str, Any]]:
    """The sound server's recording streams (source outputs) that process ``pid`` has open."""
    listing = subprocess.run(
        ["pactl", "-f", "json", "list", "source-outputs"], capture_output=True, text=True, timeout=10
    ).stdout
    return [
        stream
        for stream in json.loads(listing or "[]")
        if stream.get("properties", {}).get("application.process.id") == str(pid)
    ]


class Recorder:
    """Records a source with parec (float32, 48 kHz, mono, 20 ms latency); ready once the
    sound server lists its recording stream as running. As a context manager, stopped at
    the end whatever happens."""

    def __init__(self, source: str, path: Path) -> None:
        self.path = path
        self.proc = subprocess.Popen(
            [
                "parec",
                "-d",
                source,
                "--latency-msec=20",
                "--format=float32le",
                "--rate=48000",
                "--channels=1",
                "--raw",
                str(path),
            ]
        )

        def recording() -> bool:
            assert self.proc.poll() is None, "parec exited"
            return any(not s.get("corked", True) for s in recording_streams_of(self.proc.pid))

        try:
            wait_until(recording, 10, f"recording stream of parec on {source}")
        except BaseException:
            self.proc.kill()
            self.proc.wait(timeout=10)
            raise

    def __enter__(self) -> Recorder:
        return self

    def __exit__(self, *exc: object) -> None:
        """Stopped, also when a test fails: no parec is left behind."""
        if self.proc.poll() is None:
            self.stop()

    def audio(self) -> np.ndarray:
        """What was recorded so far."""
        data = self.path.read_bytes()
        return np.frombuffer(data[: len(data) // 4 * 4], dtype=np.float32)

    def stop(self) -> np.ndarray:
        self.proc.send_signal(signal.SIGINT)
        self.proc.wait(timeout=10)
        return np.fromfile(self.path, dtype=np.float32)


def loud_seconds(audio: np.ndarray, threshold: float = 0.02) -> float:
    """Seconds of audio in 10 ms windows (at 48 kHz) whose RMS is above ``threshold``."""
    n = len(audio) // 480
    if n == 0:
        return 0.0
    rms = np.sqrt(np.mean(audio[: n * 480].reshape(n, 480) ** 2, axis=1))
    return float(np.sum(rms > threshold)) * 0.01


def play(clip: Path) -> None:
    """Play a file into the test microphone."""
    subprocess.run(["paplay", "-d", "lvtest_in", str(clip)], check=True, timeout=60)
