"""End to end on the real PipeWire rig: espeak-ng speech played into a test microphone ->
daemon (embedded tiny.en + tiny random-weight Qwen3 model) -> virtual mic sink ->
recorded from the virtual microphone; an app drives it over the real websocket."""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jiwer
import numpy as np
import pytest
import soundfile
from daemon_harness import Recorder, Running, cli, eventually, loud_seconds, play, wait_until

from livevoice.config import load_config
from livevoice.control.client import ControlClient
from livevoice.models import Models
from livevoice.pipeline import Pipeline
from livevoice.testing.speech import espeak
from livevoice.tts.engine import TtsStream
from livevoice.voices.embedding import Voice, VoiceMeta, save_voice
from livevoice.voices.library import VoiceLibrary

pytestmark = [pytest.mark.rig, pytest.mark.slow]

RATE = 48000
SENTENCE_1 = "Good evening and welcome to the stream."
SENTENCE_2 = "Tonight we are playing a racing game."


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


def words(text: str) -> list[str]:
    return re.sub(r"[^a-z0-9' ]", " ", text.lower()).split()


@dataclass
class RecordingEngine:
    """The real TTS engine, with a record of the voice and text of every phrase."""

    inner: Any
    opened: list[tuple[str, np.ndarray]] = field(default_factory=list)
    streams: list[TtsStream] = field(default_factory=list)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def open(self, embedding: np.ndarray, text: str = "", *, final: bool = True) -> TtsStream:
        self.opened.append((text, np.array(embedding, copy=True)))
        stream: TtsStream = self.inner.open(embedding, text, final=final)
        self.streams.append(stream)
        return stream


def test_the_whole_loop_live(setup: Path, tiny_models: Models) -> None:
    config = load_config(setup / "config.toml")
    engine = RecordingEngine(tiny_models.engine)
    models = Models(tiny_models.recognizer, tiny_models.vad, engine)
    library = VoiceLibrary(Path(config.voices.library))
    alpha, beta = library.get("alpha").embedding, library.get("beta").embedding

    async def scenario(running: Running) -> None:
        pipeline = running.daemon.pipeline
        assert pipeline is not None
        client = await running.client()
        try:
            status = await client.request("GetStatus")
            assert status["asrDevice"] == models.recognizer.device_in_use  # "cpu" here, "cuda" on a GPU
            # 1. speech in -> transcript -> synthesized audio at the virtual mic, in voice alpha
            recorder = Recorder("livevoice_mic", setup / "rec1.raw")
            play(setup / "s1.wav")
            final = await client.wait_for("TranscriptFinal", 60)
            uid = final["utteranceId"]
            latency = await client.wait_for("UtteranceLatency", 60, utteranceId=uid)
            error = jiwer.wer(" ".join(words(SENTENCE_1)), " ".join(words(final["text"])))
            assert error <= 0.25, final["text"]
            stamps = latency["stampsNs"]
            order = ["speechStart", "textReady", "ttsStart", "ttsFirstAudio", "firstSampleOut"]
            assert all(k in stamps for k in [*order, "speechEnd"]), stamps
            values = [stamps[k] for k in order]
            assert values == sorted(values), stamps
            assert stamps["speechStart"] < stamps["speechEnd"]
            await eventually(
                lambda: loud_seconds(recorder.audio()) > 0.3, 30, "synthesized speech at the virtual mic"
            )
            recorder.stop()
            await eventually(  # every recognised word is spoken, once
                lambda: words(" ".join(text for text, _ in engine.opened)) == words(final["text"]),
                30,
                f"every phrase of {final['text']!r} spoken",
            )
            assert all(np.array_equal(e, alpha) for _, e in engine.opened)

            # 2. SetVoice mid-run: the next phrase is spoken with beta's embedding
            before = len(engine.opened)
            await client.request("SetVoice", {"voice": "beta", "apply": "phrase"})
            changed = await client.wait_for("VoiceChanged", 5)
            assert changed["voice"] == "beta"
            play(setup / "s2.wav")
            await client.wait_for("TranscriptFinal", 60)
            await client.wait_for("UtteranceLatency", 60)
            assert len(engine.opened) > before
            assert all(np.array_equal(e, beta) for _, e in engine.opened[before:])

            # 3. passthrough: the microphone as is, no model in the path
            await client.request("SetMode", {"mode": "passthrough"})
            spoken_before = len(engine.opened)
            recorder = Recorder("livevoice_mic", setup / "rec3.raw")
            play(setup / "tone.wav")
            await passed_through_the_loop(pipeline, "the tone")  # nothing of it is left to leak later
            await eventually(lambda: loud_seconds(recorder.audio()) > 1.5, 30, "the tone at the virtual mic")
            audio3 = recorder.stop()
            spectrum = np.abs(np.fft.rfft(audio3))
            assert abs(np.argmax(spectrum) * RATE / len(audio3) - 440) < 5
            assert len(engine.opened) == spoken_before

            # 4. mute: nothing goes out, nothing is recognised
            await client.request("SetMode", {"mode": "mute"})
            # what passthrough had already queued plays out first; this step records after it
            await eventually(pipeline.output.drained, 30, "the passed-through tone played out")
            recorder = Recorder("livevoice_mic", setup / "rec4.raw")
            utterances_before = pipeline.front.detector.utterance_id
            play(setup / "s1.wav")
            await passed_through_the_loop(pipeline, "the muted clip")
            assert pipeline.front.detector.utterance_id == utterances_before  # the VAD heard nothing
            clip_samples = int(soundfile.info(str(setup / "s1.wav")).duration * RATE)
            await eventually(
                lambda: len(recorder.audio()) >= clip_samples, 30, "a recording as long as the clip"
            )
            audio4 = recorder.stop()
            assert loud_seconds(audio4) == 0.0
            assert len(engine.opened) == spoken_before

            # back to convert: the first transcript since muting is of this clip, not the muted one
            await client.request("SetMode", {"mode": "convert"})
            play(setup / "s2.wav")
            final = await client.wait_for("TranscriptFinal", 60)
            assert jiwer.wer(" ".join(words(SENTENCE_2)), " ".join(words(final["text"]))) <= 0.25, final

            # 5. typed text is spoken in convert mode; stats add up
            response = await client.request("Speak", {"text": "Typed words."})
            await client.wait_for("UtteranceLatency", 60, utteranceId=response["utteranceId"])
            stats = await client.request("GetStats")
            assert stats["daemon"]["outputFirstPacket"]["count"] >= 3
            assert stats["daemon"]["counters"]["phraseDrops"] == 0
        finally:
            await client.close()

    with Running(config, models, setup / "config.toml") as running:
        asyncio.run(scenario(running))


def test_streamed_phrases_live(setup: Path, tiny_models: Models) -> None:
    """segment_on = "stream", switched over the websocket: speech played into the test
    microphone comes out at the virtual mic, every recognised word spoken once, in its voice."""
    config = load_config(setup / "config.toml")
    engine = RecordingEngine(tiny_models.engine)
    models = Models(tiny_models.recognizer, tiny_models.vad, engine)
    alpha = VoiceLibrary(Path(config.voices.library)).get("alpha").embedding

    async def scenario(running: Running) -> None:
        pipeline = running.daemon.pipeline
        assert pipeline is not None
        client = await running.client()
        try:
            options = await client.request("SetTextOptions", {"segmentOn": "stream"})
            assert (
                options["segmentOn"] == "stream"
                and pipeline.controls.text_settings.config.segment_on == "stream"
            )
            recorder = Recorder("livevoice_mic", setup / "stream.raw")
            play(setup / "s1.wav")
            uid = (await client.wait_for("SpeechStarted", 60))["utteranceId"]
            # its first words may be played before the speech ends: the latency event (sent
            # once the speech end is known) can come before the final transcript
            seen = await events_of(client, uid, {"TranscriptFinal", "UtteranceLatency"}, 60)
            final = seen["TranscriptFinal"]
            assert jiwer.wer(" ".join(words(SENTENCE_1)), " ".join(words(final["text"]))) <= 0.25, final
            stamps = seen["UtteranceLatency"]["stampsNs"]
            order = ["textReady", "ttsStart", "ttsFirstAudio", "firstSampleOut"]
            assert [stamps[k] for k in order] == sorted(stamps[k] for k in order), stamps
            await eventually(
                lambda: loud_seconds(recorder.audio()) > 0.3, 30, "synthesized speech at the virtual mic"
            )
            await eventually(lambda: not pipeline.speaking, 60, "the phrase spoken to its end")
            recorder.stop()
            spoken = " ".join(stream.text for stream in engine.streams)
            assert words(spoken) == words(final["text"])  # every word once, whatever the pieces
            assert all(np.array_equal(e, alpha) for _, e in engine.opened)
            stats = await client.request("GetStats")
            assert stats["daemon"]["counters"]["phraseDrops"] == 0
            assert stats["daemon"]["counters"]["ttsErrors"] == 0
        finally:
            await client.close()

    with Running(config, models, setup / "config.toml") as running:
        asyncio.run(scenario(running))


async def events_of(client: ControlClient, uid: int, types: set[str], timeout_s: float) -> dict[str, Any]:
    """The data of the first event of each type in ``types`` about utterance ``uid``, in any order."""
    seen: dict[str, Any] = {}
    async with asyncio.timeout(timeout_s):
        while set(seen) != types:
            event = await client.next_event()
            if event.event_type in types and event.event_data.get("utteranceId") == uid:
                seen.setdefault(event.event_type, dict(event.event_data))
    return seen


def sound_server_clients_of(pid: int) -> int:
    """How many sound-server clients process ``pid`` has open."""
    listing = subprocess.run(
        ["pactl", "-f", "json", "list", "clients"], capture_output=True, text=True
    ).stdout
    return sum(
        c.get("properties", {}).get("application.process.id") == str(pid) for c in json.loads(listing or "[]")
    )


def notifications(sock: socket.socket, until: str, timeout_s: float) -> list[str]:
    """sd_notify datagrams received until one holds ``until`` (each split into its lines)."""
    deadline = time.monotonic() + timeout_s
    seen: list[str] = []
    while until not in seen:
        sock.settimeout(max(0.01, deadline - time.monotonic()))
        try:
            seen += sock.recv(4096).decode().splitlines()
        except TimeoutError:
            raise AssertionError(f"no {until} within {timeout_s} s; got {seen}") from None
    return seen


def test_as_a_service_notify_watchdog_reload_and_sigterm(setup: Path, tmp_path: Path) -> None:
    """`livevoice run` under a notify socket, as systemd runs it: the start timeout extended while
    the models load, READY once they are, WATCHDOG pings, SIGHUP reloads (RELOADING then READY,
    and the new setting is in force), SIGTERM stops cleanly (STOPPING, exit 0) and leaves no
    process and no sound-server client behind."""
    notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    notify.bind(str(tmp_path / "notify"))
    config = tmp_path / "config.toml"
    config.write_text((setup / "config.toml").read_text())
    env = {**os.environ, "NOTIFY_SOCKET": str(tmp_path / "notify"), "WATCHDOG_USEC": "2000000"}
    stderr = (tmp_path / "stderr").open("w")
    proc = subprocess.Popen(
        [sys.executable, "-m", "livevoice.cli", "--config", str(config), "run"],
        stdout=subprocess.DEVNULL,
        stderr=stderr,
        env=env,
    )
    try:
        started = notifications(notify, "READY=1", 120)
        assert any(line.startswith("EXTEND_TIMEOUT_USEC=") for line in started[: started.index("READY=1")])
        assert sound_server_clients_of(proc.pid) >= 2  # microphone and output streams
        assert "WATCHDOG=1" in notifications(notify, "WATCHDOG=1", 2)
        url = re.search(r"control (ws://\S+)", (tmp_path / "stderr").read_text())
        assert url, (tmp_path / "stderr").read_text()
        secret = (setup / "secret").read_text().strip()
        assert asyncio.run(text_option(url.group(1), secret, "segmentOn")) == "clause"
        config.write_text(config.read_text() + '\n[text]\nsegment_on = "end"\n')
        proc.send_signal(signal.SIGHUP)
        after_hup = notifications(notify, "READY=1", 10)
        assert "RELOADING=1" in after_hup
        assert asyncio.run(text_option(url.group(1), secret, "segmentOn")) == "end"
        assert proc.poll() is None
        proc.send_signal(signal.SIGTERM)
        assert "STOPPING=1" in notifications(notify, "STOPPING=1", 10)
        assert proc.wait(timeout=30) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
        notify.close()
        stderr.close()
    wait_until(lambda: sound_server_clients_of(proc.pid) == 0, 10, "its sound-server clients gone")
    assert subprocess.run(["pgrep", "-P", str(proc.pid)], capture_output=True).returncode == 1


async def passed_through_the_loop(pipeline: Pipeline, what: str) -> None:
    """Until the loop has read what was just played into the microphone: everything captured
    so far and 0.25 s more (what the sound server still held), a block beyond it (so the
    block that held the end was handled: passed through, muted or given to the VAD)."""
    end = pipeline.front.ring.write_pos + pipeline.plan.sample_rate // 4 + pipeline.plan.block_samples
    await eventually(lambda: pipeline.front.ring.read_pos > end, 30, f"{what} read by the loop")


async def text_option(url: str, secret: str, name: str) -> Any:
    async with await ControlClient.connect(url, secret, event_subscriptions=0) as client:
        return (await client.request("GetTextOptions"))[name]
