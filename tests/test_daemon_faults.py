"""Faults on the real PipeWire rig: devices that disappear and come back, a TTS that fails,
a TTS slower than real time. The daemon keeps running through all of them."""

from __future__ import annotations

import asyncio
import re
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from daemon_harness import Running, cli, eventually, rig_config

from livevoice.config import Config, load_config, replace
from livevoice.models import Models
from livevoice.tts.engine import TtsChunk, TtsStream
from livevoice.voices.embedding import Voice, VoiceMeta, save_voice

pytestmark = [pytest.mark.rig, pytest.mark.slow]


@pytest.fixture(scope="module")
def config(
    audio_rig: Path, tmp_path_factory: pytest.TempPathFactory, tiny_qwen_dir: Path
) -> Iterator[Config]:
    root = tmp_path_factory.mktemp("faults")
    (root / "voices").mkdir()
    vector = np.random.default_rng(3).normal(0, 1, 64).astype(np.float32)
    save_voice(root / "voices" / "alpha.safetensors", Voice(vector, VoiceMeta(name="alpha")))
    devices = 'input_device = "lvtest_mic"\noutput_device = "livevoice_out"'
    yield load_config(rig_config(root, tiny_qwen_dir, root / "voices", audio=devices))
    cli("virtual-mic", "remove")


@pytest.fixture
def models(config: Config, tiny_models: Models) -> Models:
    """The shared models, with the virtual mic the config names in place (a test removes it)."""
    cli("virtual-mic", "create")  # idempotent
    return tiny_models


@dataclass
class FaultyEngine:
    """The real TTS engine, made to fail on a marker word, or to be slow on every chunk (and to
    end a phrase after ``max_chunks``: the random-weight model would speak on for long)."""

    inner: Any
    fail_on: str = "explode"
    chunk_delay_s: float = 0.0
    max_chunks: int | None = None

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def open(self, embedding: np.ndarray, text: str = "", *, final: bool = True) -> TtsStream:
        if self.fail_on in text:
            raise RuntimeError(f"synthetic failure on {text!r}")
        stream = self.inner.open(embedding, text, final=final)
        return SlowStream(stream, self.chunk_delay_s, self.max_chunks)


@dataclass
class SlowStream:
    inner: Any
    delay_s: float
    max_chunks: int | None = None
    t_start_ns: int = field(default=0)

    delayed_s: float = field(default=0.0)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    @property
    def compute_s(self) -> float:
        return float(self.inner.compute_s) + self.delayed_s

    def __iter__(self) -> Iterator[TtsChunk]:
        for index, chunk in enumerate(self.inner):
            time.sleep(self.delay_s)  # the computation this slow TTS takes for a chunk
            self.delayed_s += self.delay_s
            self.t_start_ns = self.inner.t_start_ns
            yield chunk
            if self.max_chunks is not None and index + 1 >= self.max_chunks:
                self.inner.cancel()
                return


class RemovedSource:
    """A sound-server source whose module is unloaded; :meth:`restore` loads it again, as leaving
    the block does whatever happened in it."""

    def __init__(self, name: str) -> None:
        self.index, self.arguments = module_of(name)
        self.restored = True

    def __enter__(self) -> RemovedSource:
        subprocess.run(["pactl", "unload-module", str(self.index)], check=True, timeout=10)
        self.restored = False
        return self

    def restore(self) -> None:
        if not self.restored:
            load = ["pactl", "load-module", "module-remap-source", *self.arguments.split()]
            subprocess.run(load, check=True, timeout=10)
            self.restored = True

    def __exit__(self, *exc: object) -> None:
        self.restore()


def module_of(source_name: str) -> tuple[int, str]:
    """The pactl module that made ``source_name``, and its arguments."""
    modules = subprocess.run(["pactl", "list", "short", "modules"], capture_output=True, text=True).stdout
    for line in modules.splitlines():
        fields = line.split("\t")
        if re.search(rf"source_name={source_name}(\s|$)", fields[2] if len(fields) > 2 else ""):
            return int(fields[0]), fields[2]
    raise AssertionError(f"no module made {source_name}")


def test_output_and_input_devices_that_disappear_and_come_back(config: Config, models: Models) -> None:
    with Running(config, models) as running:
        asyncio.run(devices_come_and_go(running))


async def devices_come_and_go(running: Running) -> None:
    daemon = running.daemon
    async with await running.client() as client:

        async def lost_and_missing() -> tuple[int, int]:
            counters = (await client.request("GetStats"))["daemon"]["counters"]
            return counters["devicesLostTotal"], counters["devicesMissing"]

        cli("virtual-mic", "remove")
        lost = await client.wait_for("DeviceLost", 10, role="output")
        assert lost["device"] == "livevoice_out"
        assert await lost_and_missing() == (1, 1)
        assert (await client.request("GetStatus"))["audioAvailable"] is True  # still answering
        checked = daemon.health.checks
        await eventually(lambda: daemon.health.checks >= checked + 6, 30, "six more device checks")
        assert daemon.pipeline is None  # not playing into the default device meanwhile
        cli("virtual-mic", "create")
        await client.wait_for("DeviceRestored", 10, role="output")
        assert await lost_and_missing() == (1, 0)
        response = await client.request("Speak", {"text": "Back again."})
        await client.wait_for("UtteranceLatency", 60, utteranceId=response["utteranceId"])

        with RemovedSource("lvtest_mic") as microphone:
            await client.wait_for("DeviceLost", 10, role="input")
            assert await lost_and_missing() == (2, 1)
            await asyncio.to_thread(microphone.restore)
            await client.wait_for("DeviceRestored", 15, role="input")
        assert await lost_and_missing() == (2, 0)


def test_a_failing_tts_drops_the_phrase_and_the_loop_goes_on(config: Config, models: Models) -> None:
    faulty = Models(models.recognizer, models.vad, FaultyEngine(models.engine))
    with Running(config, faulty) as running:

        async def scenario() -> None:
            client = await running.client()
            try:
                await client.request("Speak", {"text": "This will explode."})
                error = await client.wait_for("Error", 30, source="tts")
                assert "synthetic failure" in error["message"]
                response = await client.request("Speak", {"text": "This works."})
                await client.wait_for("UtteranceLatency", 60, utteranceId=response["utteranceId"])
                stats = await client.request("GetStats")
                assert stats["daemon"]["counters"]["ttsErrors"] == 1
                assert (await client.request("GetStatus"))["mode"] == "convert"
            finally:
                await client.close()

        asyncio.run(scenario())

    fallback = replace(config, "daemon", fallback_to_passthrough=True)
    with Running(fallback, faulty) as running:

        async def fall_back() -> None:
            client = await running.client()
            try:
                await client.request("Speak", {"text": "Explode again, explode."})
                changed = await client.wait_for("ModeChanged", 30)
                assert changed["mode"] == "passthrough"
            finally:
                await client.close()

        asyncio.run(fall_back())


def test_a_tts_slower_than_real_time_stays_bounded(config: Config, models: Models) -> None:
    """Phrases arrive faster than a slow TTS speaks them: the overflow is counted and reported,
    no phrase is spoken after waiting too long, and every phrase is accounted for."""
    slow_engine = FaultyEngine(models.engine, chunk_delay_s=0.4, max_chunks=4)
    slow = Models(models.recognizer, models.vad, slow_engine)
    with Running(config, slow) as running:
        pipeline = running.daemon.pipeline
        assert pipeline is not None
        pipeline.tts.max_wait_s = 2.0

        async def scenario() -> None:
            client = await running.client()

            async def stats() -> dict[str, Any]:
                return dict((await client.request("GetStats"))["daemon"])

            async def settled() -> dict[str, Any] | None:
                """The stats once all 40 phrases are spoken, dropped or failed, and each utterance
                played or given up."""
                daemon = await stats()
                counters = daemon["counters"]
                handled = counters["phrasesSpoken"] + counters["phraseDrops"] + counters["ttsErrors"]
                finished = daemon["utterances"] + counters["latencyAbandoned"]
                return daemon if handled == 40 and finished == 40 else None

            try:
                for i in range(40):
                    await client.request("Speak", {"text": f"Phrase number {i}."})
                overrun = await client.wait_for("BufferOverrun", 10, buffer="phrases")
                assert overrun["count"] >= 1  # reported as soon as the first phrase is dropped
                daemon = await eventually(settled, 120, "all 40 phrases accounted for")
                counters = daemon["counters"]
                assert counters["phraseDrops"] >= 40 - 16 - 1  # the queue holds 16, one is being spoken
                assert counters["ttsErrors"] == 0
                output = daemon["outputFirstPacket"]
                assert output["count"] >= 1 and output["maxMs"] <= 2000 + 2000  # max wait + one phrase
                await client.request("StopSpeaking")
                assert pipeline.tts.queued == 0
            finally:
                await client.close()

        asyncio.run(scenario())


def test_a_machine_too_slow_for_real_time_is_told_once(config: Config, models: Models) -> None:
    """Every 2-4 frame chunk (160-320 ms of speech) takes 400 ms more to make: after 3 s of
    speech the daemon says that it cannot keep up (once: see test_tts_realtime), and GetStats
    shows the factor."""
    slow = Models(models.recognizer, models.vad, FaultyEngine(models.engine, chunk_delay_s=0.4, max_chunks=4))
    with Running(config, slow) as running:

        async def scenario() -> None:
            client = await running.client()
            try:
                for i in range(3):  # 3 x 1.12 s of speech, queued at once
                    await client.request("Speak", {"text": f"Slow phrase {i}."})
                warning = await client.wait_for("RealTimeWarning", 60)
                assert warning["realTimeFactor"] > 1.0
                assert "cannot speak in real time" in warning["message"]
                factor = (await client.request("GetStats"))["daemon"]["ttsRealTimeFactor"]
                assert factor == pytest.approx(warning["realTimeFactor"], rel=0.01)
            finally:
                await client.close()

        asyncio.run(scenario())
