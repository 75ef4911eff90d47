"""A newcomer's first run, as a user starts it: `livevoice run` (a real process) with a fresh
config (no voice library, no output device set) and the tiny test model, on the PipeWire
test server. It makes the virtual mic and the starter voices, says so in its ready line,
and speech played into the test microphone comes out converted at the virtual mic, never
at the default sink. And without a model (`run --control-only`) no starter voice is made."""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

import pytest
from daemon_harness import Recorder, cli, loud_seconds, play, rig_config, wait_until

from livevoice.audio import virtual_mic as vm
from livevoice.testing.speech import espeak
from livevoice.voices.library import VoiceLibrary
from livevoice.voices.starters import starter_clips

SENTENCE = "Good evening and welcome to the stream."
READY_S = 600
"""Loading the models and making the voices, on a busy machine with one thread."""


class Daemon:
    """``livevoice --config CONFIG run ARGS`` in its own process; stdout and stderr in files."""

    def __init__(self, root: Path, config: Path, *args: str) -> None:
        self.config = config
        self.out_path, self.err_path = root / "stdout", root / "stderr"
        self._files: list[IO[str]] = [self.out_path.open("w"), self.err_path.open("w")]
        env = {
            **os.environ,
            "XDG_CONFIG_HOME": str(root / "xdg-config"),
            "XDG_DATA_HOME": str(root / "xdg-data"),
            "OMP_NUM_THREADS": "1",
        }
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "livevoice.cli", "--config", str(config), "run", *args],
            stdout=self._files[0],
            stderr=self._files[1],
            env=env,
        )

    def stdout(self) -> str:
        return self.out_path.read_text()

    def stderr(self) -> str:
        return self.err_path.read_text()

    def line(self, pattern: str, timeout_s: float, *, stderr: bool = True) -> re.Match[str]:
        """The first match of ``pattern`` in its output, once it is there; fails if it exits."""

        def found() -> re.Match[str] | None:
            text = self.stderr() if stderr else self.stdout()
            match = re.search(pattern, text, re.MULTILINE)
            assert match or self.proc.poll() is None, f"exited with {self.proc.returncode}: {self.stderr()}"
            return match

        return wait_until(found, timeout_s, f"{pattern!r} from livevoice run")

    def ctl(self, port: str, request: str) -> Any:
        """``livevoice ctl REQUEST`` against it, as a user would; the response data."""
        return json.loads(cli("--config", str(self.config), "ctl", request, "--port", port).stdout)

    def __enter__(self) -> Daemon:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def stop(self) -> int:
        """SIGTERM, and its exit code (killed if it does not stop)."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout=60)
        finally:
            if self.proc.poll() is None:
                self.proc.kill()
                self.proc.wait(timeout=30)
            for handle in self._files:
                handle.close()


@pytest.fixture
def no_virtual_mic(audio_rig: Path) -> Iterator[None]:
    """A newcomer has no virtual mic yet; none is left behind."""
    cli("virtual-mic", "remove")
    assert vm.virtual_mic_status().absent
    yield
    cli("virtual-mic", "remove")


@pytest.mark.rig
@pytest.mark.slow
def test_a_first_run_makes_the_voices_and_speaks_into_the_virtual_mic(
    no_virtual_mic: None, audio_rig: Path, tiny_qwen_dir: Path, tmp_path: Path
) -> None:
    library = tmp_path / "voices"  # not made yet
    config = rig_config(tmp_path, tiny_qwen_dir, library, audio='input_device = "lvtest_mic"')
    assert "output_device" not in config.read_text() and "default_voice" not in config.read_text()
    clip = espeak(SENTENCE, tmp_path / "speech.wav")
    with contextlib.ExitStack() as stack:
        # all the default sink (the rig's stand-in for the speakers) plays, from before the start
        speakers = stack.enter_context(Recorder("lvtest_null.monitor", tmp_path / "speakers.raw"))
        daemon = stack.enter_context(Daemon(tmp_path, config, "--json"))
        ready = daemon.line(r"^livevoice: ready; .*$", READY_S).group(0)
        assert ready.startswith(
            "livevoice: ready; listening on 'lvtest_mic', speaking into the virtual mic: "
        )
        assert 'choose "livevoice virtual mic" as the microphone in Discord, OBS or a game' in ready
        assert "echo risk" not in ready
        port = daemon.line(r"control ws://127\.0\.0\.1:(\d+)", 1).group(1)
        assert vm.virtual_mic_status().complete  # made by the daemon

        # the starter voices, made with the loaded model's speaker encoder: its size, 64
        starters = [c.name for c in starter_clips()]
        voices = VoiceLibrary(library).list()
        assert sorted(v.name for v in voices) == sorted(starters)
        assert all(v.dim == 64 and v.source.startswith("starter:") for v in voices), voices
        assert "the voice library was empty: made starter voices" in daemon.stderr()
        current = daemon.ctl(port, "GetCurrentVoice")
        assert (current["voice"], current["dim"]) == (starters[0], 64) == ("starter-mid", 64)
        assert daemon.ctl(port, "ListDevices")["outputDevice"] == "livevoice_out"

        # speech into the microphone -> a transcript -> converted speech at the virtual mic
        virtual_mic = stack.enter_context(Recorder("livevoice_mic", tmp_path / "virtual_mic.raw"))
        play(clip)
        final = json.loads(daemon.line(r'^\{"type": "TranscriptFinal".*$', 120, stderr=False).group(0))
        assert "welcome" in final["text"].lower(), final
        wait_until(
            lambda: loud_seconds(virtual_mic.audio()) > 0.3, 120, "converted speech at the virtual mic"
        )
        wait_until(lambda: not daemon.ctl(port, "GetStatus")["speaking"], 120, "the phrase spoken to its end")
        counters = daemon.ctl(port, "GetStats")["daemon"]["counters"]
        assert counters["phrasesSpoken"] >= 1 and counters["ttsErrors"] == 0, counters
        heard = speakers.stop()
        assert len(heard) > 48000  # the speakers were recorded all along: nothing reached them
        assert loud_seconds(heard, threshold=0.001) == 0.0

        # a reload with the file as it was: the virtual mic stays, nothing "needs a restart"
        daemon.proc.send_signal(signal.SIGHUP)
        daemon.line(r"config reloaded", 30)
        assert "after a restart" not in daemon.stderr()
        assert daemon.ctl(port, "ListDevices")["outputDevice"] == "livevoice_out"
        assert daemon.stop() == 0, daemon.stderr()


def test_control_only_makes_no_starter_voices(tmp_path: Path) -> None:
    """No model, no speaker encoder: the library stays as it is (empty), and the daemon runs."""
    library = tmp_path / "voices"
    config = tmp_path / "config.toml"
    config.write_text(
        f'[voices]\nlibrary = "{library}"\n[control]\nport = 0\nsecret_file = "{tmp_path / "secret"}"\n'
    )
    with Daemon(tmp_path, config, "--control-only") as daemon:
        port = daemon.line(r"listening on ws://127\.0\.0\.1:(\d+)", 120, stderr=False).group(1)
        assert daemon.ctl(port, "ListVoices")["voices"] == []
        assert daemon.ctl(port, "GetCurrentVoice")["voice"] == ""
        assert daemon.stop() == 0, daemon.stderr()
    assert not library.exists() or list(library.iterdir()) == []
