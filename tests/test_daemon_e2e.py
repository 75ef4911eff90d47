"""End to end on the real PipeWire rig: espeak-ng speech played into a test microphone ->
daemon (embedded tiny.en + tiny random-weight Qwen3 model) -> virtual mic sink ->
recorded from the virtual microphone; an app drives it over the real websocket."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jiwer
import numpy as np
import pytest

from livevoice.config import load_config
from livevoice.control.client import ControlClient
from livevoice.daemon import Daemon, load_models
from livevoice.testing.speech import espeak
from livevoice.tts.engine import TtsStream
from livevoice.voices.embedding import Voice, VoiceMeta, save_voice
from livevoice.voices.library import VoiceLibrary

RATE = 48000
SENTENCE_1 = "Good evening and welcome to the stream."
SENTENCE_2 = "Tonight we are playing a racing game."


def cli(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        [sys.executable, "-m", "livevoice.cli", *args], capture_output=True, text=True, timeout=120
    )
    if check:
        assert result.returncode == 0, result.stderr
    return result


@pytest.fixture(scope="module")
def virtual_mic(audio_rig: Path) -> Iterator[str]:
    """The user's path: `livevoice virtual-mic create` makes livevoice_out + livevoice_mic."""
    cli("virtual-mic", "create")
    yield "livevoice_mic"
    cli("virtual-mic", "remove")


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory, tiny_qwen_dir: Path, virtual_mic: str) -> Path:
    """A config file, a voice library with two voices, and speech clips."""
    root = tmp_path_factory.mktemp("e2e")
    library = root / "voices"
    library.mkdir()
    rng = np.random.default_rng(7)
    for name in ("alpha", "beta"):
        vector = rng.normal(0, 1, 64).astype(np.float32)
        save_voice(library / f"{name}.safetensors", Voice(vector, VoiceMeta(name=name, source="test")))
    config = root / "config.toml"
    config.write_text(
        f"""
[audio]
input_device = "lvtest_mic"
output_device = "livevoice_out"
[tts]
model = "{tiny_qwen_dir}"
torch_threads = 1
seed = 1
[voices]
library = "{library}"
default_voice = "alpha"
[control]
port = 0
secret_file = "{root / "secret"}"
"""
    )
    espeak(SENTENCE_1, root / "s1.wav")
    espeak(SENTENCE_2, root / "s2.wav")
    subprocess.run(
        ["sox", "-n", "-r", "48000", "-c", "1", str(root / "tone.wav"), "synth", "2.0", "sine", "440"],
        check=True,
    )
    return root


class Recorder:
    """Records the virtual microphone with parec (float32, 48 kHz, mono)."""

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
            ],
        )
        time.sleep(0.3)

    def stop(self) -> np.ndarray:
        self.proc.send_signal(signal.SIGINT)
        self.proc.wait(timeout=10)
        return np.fromfile(self.path, dtype=np.float32)


def words(text: str) -> list[str]:
    return re.sub(r"[^a-z0-9' ]", " ", text.lower()).split()


def loud_seconds(audio: np.ndarray, threshold: float = 0.02) -> float:
    """Seconds of audio in 10 ms windows whose RMS is above ``threshold``."""
    n = len(audio) // 480
    if n == 0:
        return 0.0
    rms = np.sqrt(np.mean(audio[: n * 480].reshape(n, 480) ** 2, axis=1))
    return float(np.sum(rms > threshold)) * 0.01


def play(clip: Path) -> None:
    subprocess.run(["paplay", "-d", "lvtest_in", str(clip)], check=True, timeout=60)


@dataclass
class RecordingEngine:
    """The real TTS engine, with a record of the voice and text of every phrase."""

    inner: Any
    opened: list[tuple[str, np.ndarray]] = field(default_factory=list)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def open(self, embedding: np.ndarray, text: str = "", *, final: bool = True) -> TtsStream:
        self.opened.append((text, np.array(embedding, copy=True)))
        stream: TtsStream = self.inner.open(embedding, text, final=final)
        return stream


async def wait_event(
    client: ControlClient, event_type: str, timeout_s: float, **match: Any
) -> dict[str, Any]:
    deadline = time.monotonic() + timeout_s
    while True:
        remaining = deadline - time.monotonic()
        assert remaining > 0, f"no {event_type} event within {timeout_s} s"
        event = await client.next_event(remaining)
        if event.event_type == event_type and all(event.event_data.get(k) == v for k, v in match.items()):
            return dict(event.event_data)


def test_the_whole_loop_live(setup: Path) -> None:
    config = load_config(setup / "config.toml")
    models = load_models(config)
    engine = RecordingEngine(models.engine)
    models.engine = engine
    daemon = Daemon(config, setup / "config.toml", models, json_events=False)
    thread = threading.Thread(target=daemon.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while daemon.pipeline is None or daemon.server is None or not daemon.server.url:
        assert thread.is_alive() and time.monotonic() < deadline, "daemon did not start"
        time.sleep(0.1)
    secret = (setup / "secret").read_text().strip()
    library = VoiceLibrary(Path(config.voices.library))
    alpha, beta = library.get("alpha").embedding, library.get("beta").embedding

    async def scenario() -> None:
        client = await ControlClient.connect(daemon.server.url, secret)
        try:
            # 1. speech in -> transcript -> synthesized audio at the virtual mic, in voice alpha
            recorder = Recorder("livevoice_mic", setup / "rec1.raw")
            play(setup / "s1.wav")
            final = await wait_event(client, "TranscriptFinal", 60)
            uid = final["utteranceId"]
            latency = await wait_event(client, "UtteranceLatency", 60, utteranceId=uid)
            await asyncio.sleep(1.5)
            audio1 = recorder.stop()
            error = jiwer.wer(" ".join(words(SENTENCE_1)), " ".join(words(final["text"])))
            assert error <= 0.25, final["text"]
            stamps = latency["stampsNs"]
            order = ["speechStart", "textReady", "ttsStart", "ttsFirstAudio", "firstSampleOut"]
            assert all(k in stamps for k in [*order, "speechEnd"]), stamps
            values = [stamps[k] for k in order]
            assert values == sorted(values), stamps
            assert stamps["speechStart"] < stamps["speechEnd"]
            assert loud_seconds(audio1) > 0.3, "no synthesized speech reached the virtual mic"
            spoken = " ".join(text for text, _ in engine.opened)
            assert words(spoken) == words(final["text"])  # every recognised word was spoken, once
            assert all(np.array_equal(e, alpha) for _, e in engine.opened)

            # 2. SetVoice mid-run: the next phrase is spoken with beta's embedding
            before = len(engine.opened)
            await client.request("SetVoice", {"voice": "beta", "apply": "phrase"})
            changed = await wait_event(client, "VoiceChanged", 5)
            assert changed["voice"] == "beta"
            play(setup / "s2.wav")
            await wait_event(client, "TranscriptFinal", 60)
            await wait_event(client, "UtteranceLatency", 60)
            assert len(engine.opened) > before
            assert all(np.array_equal(e, beta) for _, e in engine.opened[before:])

            # 3. passthrough: the microphone as is, no model in the path
            await client.request("SetMode", {"mode": "passthrough"})
            spoken_before = len(engine.opened)
            recorder = Recorder("livevoice_mic", setup / "rec3.raw")
            play(setup / "tone.wav")
            await asyncio.sleep(0.5)
            audio3 = recorder.stop()
            assert loud_seconds(audio3) > 1.5
            spectrum = np.abs(np.fft.rfft(audio3))
            assert abs(np.argmax(spectrum) * RATE / len(audio3) - 440) < 5
            assert len(engine.opened) == spoken_before

            # 4. mute: nothing goes out, nothing is recognised
            await client.request("SetMode", {"mode": "mute"})
            recorder = Recorder("livevoice_mic", setup / "rec4.raw")
            play(setup / "s1.wav")
            await asyncio.sleep(3.0)
            audio4 = recorder.stop()
            assert loud_seconds(audio4) == 0.0
            assert len(engine.opened) == spoken_before

            # 5. typed text is spoken in convert mode; stats add up
            await client.request("SetMode", {"mode": "convert"})
            response = await client.request("Speak", {"text": "Typed words."})
            await wait_event(client, "UtteranceLatency", 60, utteranceId=response["utteranceId"])
            stats = await client.request("GetStats")
            assert stats["daemon"]["outputFirstPacket"]["count"] >= 3
            assert stats["daemon"]["counters"]["phraseDrops"] == 0
        finally:
            await client.close()

    try:
        asyncio.run(scenario())
    finally:
        daemon.request_stop()
        thread.join(timeout=30)
    assert not thread.is_alive()


def test_sigterm_leaves_no_process_or_stream_behind(setup: Path) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "livevoice.cli", "--config", str(setup / "config.toml"), "run"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    assert proc.stderr is not None
    deadline = time.monotonic() + 120
    ready = ""
    while time.monotonic() < deadline and "ready" not in ready:
        ready = proc.stderr.readline()
        assert ready, "livevoice exited before it was ready"
    clients = subprocess.run(
        ["pactl", "-f", "json", "list", "clients"], capture_output=True, text=True
    ).stdout
    assert str(proc.pid) in clients  # it is connected to the sound server
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=30) == 0
    time.sleep(0.5)
    clients = subprocess.run(
        ["pactl", "-f", "json", "list", "clients"], capture_output=True, text=True
    ).stdout
    assert str(proc.pid) not in clients
    assert subprocess.run(["pgrep", "-P", str(proc.pid)], capture_output=True).returncode == 1
