"""What the daemon tests on the rig share: a daemon in a thread, the CLI, a recorder."""

from __future__ import annotations

import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np

from livevoice.config import Config
from livevoice.control.client import ControlClient
from livevoice.daemon import Daemon, Models


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    """Run ``livevoice ARGS`` as a user would; it must succeed."""
    result = subprocess.run(
        [sys.executable, "-m", "livevoice.cli", *args], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    return result


class Running:
    """A daemon in a thread (real devices, real models, real control server)."""

    def __init__(self, config: Config, models: Models, config_path: Path | None = None) -> None:
        self.daemon = Daemon(config, config_path, models, json_events=False)
        self.thread = threading.Thread(target=self.daemon.run, daemon=True)

    def __enter__(self) -> Running:
        self.thread.start()
        deadline = time.monotonic() + 60
        while self.daemon.pipeline is None or self.daemon.server is None or not self.daemon.server.url:
            assert self.thread.is_alive() and time.monotonic() < deadline, "daemon did not start"
            time.sleep(0.05)
        self.secret = Path(self.daemon.config.control.secret_file).read_text().strip()
        return self

    def __exit__(self, *exc: object) -> None:
        self.daemon.request_stop()
        self.thread.join(timeout=30)
        assert not self.thread.is_alive()

    async def client(self) -> ControlClient:
        return await ControlClient.connect(self.daemon.server.url, self.secret)


class Recorder:
    """Records a source with parec (float32, 48 kHz, mono, 20 ms latency)."""

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
        time.sleep(0.3)

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
