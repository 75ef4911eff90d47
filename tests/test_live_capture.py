"""Integration on a real PipeWire server: speech played into a virtual microphone is
captured by `livevoice listen` from that device, by name, and transcribed live."""

from __future__ import annotations

import json
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import jiwer
import numpy as np
import pytest
import soundfile

from livevoice.testing.speech import espeak

SENTENCES = ["Good evening and welcome to the stream.", "Tonight we are playing a racing game."]


def read_events(proc: subprocess.Popen[str], until: float, want_finals: int) -> list[dict[str, object]]:
    """JSON events from the process's stdout until ``want_finals`` finals (or the deadline).

    A reader thread, not select(): select() on a buffered pipe misses lines already read
    into Python's buffer, which would lose the last events.
    """
    assert proc.stdout is not None
    stdout = proc.stdout
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(target=lambda: [lines.put(line) for line in stdout], daemon=True).start()
    events: list[dict[str, object]] = []
    while sum(e["type"] == "TranscriptFinal" for e in events) < want_finals:
        try:
            events.append(json.loads(lines.get(timeout=max(0.01, until - time.monotonic()))))
        except queue.Empty:
            break
    return events


def with_pause(clip: Path, pause_s: float = 1.0) -> Path:
    """The clip followed by ``pause_s`` of silence, so the VAD ends one utterance before the next."""
    audio, rate = soundfile.read(clip, dtype="float32")
    soundfile.write(clip, np.concatenate([audio, np.zeros(int(pause_s * rate), np.float32)]), rate)
    return clip


@pytest.fixture
def routed_mic(audio_rig: Path) -> Iterator[tuple[str, str]]:
    """A microphone only the sound server knows by name (no ALSA device of that name)."""
    cli = [sys.executable, "-m", "livevoice.cli", "virtual-mic"]
    subprocess.run([*cli, "create", "--name", "lvroute"], check=True, capture_output=True)
    yield "lvroute_mic", "lvroute_out"
    subprocess.run([*cli, "remove", "--name", "lvroute"], check=True, capture_output=True)


@pytest.mark.rig
@pytest.mark.slow
@pytest.mark.parametrize("how", ["alsa-device", "server-source"])
def test_speech_into_a_virtual_mic_is_captured_by_name_and_transcribed(
    audio_rig: Path, tmp_path: Path, how: str, request: pytest.FixtureRequest
) -> None:
    """By an ALSA device name (the rig's asoundrc), and by a PipeWire source name alone (the
    desktop case: PortAudio lists only 'pipewire', livevoice routes the stream by name)."""
    mic, play_into = ("lvtest_mic", "lvtest_in")
    if how == "server-source":
        mic, play_into = request.getfixturevalue("routed_mic")
    clips = [with_pause(espeak(s, tmp_path / f"s{i}.wav")) for i, s in enumerate(SENTENCES)]
    proc = subprocess.Popen(
        [sys.executable, "-m", "livevoice.cli", "listen", "--input", mic, "--json"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        assert proc.stderr is not None
        # wait for the daemon to listen
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            line = proc.stderr.readline()
            assert line, "livevoice exited before listening"
            if f"listening on '{mic}'" in line:
                break
        for clip in clips:
            subprocess.run(["paplay", "-d", play_into, str(clip)], check=True, timeout=60)
        events = read_events(proc, time.monotonic() + 120, len(SENTENCES))
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            raise
    assert proc.returncode == 0
    finals = [e for e in events if e["type"] == "TranscriptFinal"]
    assert len(finals) == len(SENTENCES), events
    text = " ".join(str(f["text"]) for f in finals)
    error = jiwer.wer(
        " ".join(SENTENCES).lower().replace(".", ""), text.lower().replace(".", "").replace(",", "")
    )
    assert error <= 0.25, text  # measured 0-8 % through the rig: the audio arrives intact
    started = [e for e in events if e["type"] == "SpeechStarted"]
    ended = [e for e in events if e["type"] == "SpeechEnded"]
    assert len(started) == len(ended) == len(SENTENCES)
    for s, e, f in zip(started, ended, finals, strict=True):
        assert s["t_ns"] < e["t_ns"] <= e["t_detected_ns"] <= f["t_text_ready_ns"]  # type: ignore[operator]
