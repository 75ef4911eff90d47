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
from daemon_harness import Running, cli

from livevoice.config import Config, load_config, replace
from livevoice.daemon import Models, load_models
from livevoice.tts.engine import TtsChunk, TtsStream
from livevoice.voices.embedding import Voice, VoiceMeta, save_voice


@pytest.fixture(scope="module")
def config(
    audio_rig: Path, tmp_path_factory: pytest.TempPathFactory, tiny_qwen_dir: Path
) -> Iterator[Config]:
    root = tmp_path_factory.mktemp("faults")
    (root / "voices").mkdir()
    vector = np.random.default_rng(3).normal(0, 1, 64).astype(np.float32)
    save_voice(root / "voices" / "alpha.safetensors", Voice(vector, VoiceMeta(name="alpha")))
    path = root / "config.toml"
    path.write_text(
        f'[audio]\ninput_device = "lvtest_mic"\noutput_device = "livevoice_out"\n'
        f'[tts]\nmodel = "{tiny_qwen_dir}"\ntorch_threads = 1\nseed = 1\n'
        f'[voices]\nlibrary = "{root / "voices"}"\n'
        f'[control]\nport = 0\nsecret_file = "{root / "secret"}"\n'
    )
    cli("virtual-mic", "create")
    yield load_config(path)
    cli("virtual-mic", "remove")


@pytest.fixture(scope="module")
def models(config: Config) -> Models:
    return load_models(config)


@dataclass
class FaultyEngine:
    """The real TTS engine, made to fail on a marker word, or to be slow on every chunk."""

    inner: Any
    fail_on: str = "explode"
    chunk_delay_s: float = 0.0

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def open(self, embedding: np.ndarray, text: str = "", *, final: bool = True) -> TtsStream:
        if self.fail_on in text:
            raise RuntimeError(f"synthetic failure on {text!r}")
        return SlowStream(self.inner.open(embedding, text, final=final), self.chunk_delay_s)


@dataclass
class SlowStream:
    inner: Any
    delay_s: float
    t_start_ns: int = field(default=0)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def __iter__(self) -> Iterator[TtsChunk]:
        for chunk in self.inner:
            time.sleep(self.delay_s)
            self.t_start_ns = self.inner.t_start_ns
            yield chunk


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

        async def scenario() -> None:
            client = await running.client()
            try:
                cli("virtual-mic", "remove")
                lost = await client.wait_for("DeviceLost", 10, role="output")
                assert lost["device"] == "livevoice_out"
                status = await client.request("GetStatus")
                assert status["audioAvailable"] is True  # still answering
                await asyncio.sleep(1.5)
                assert running.daemon.pipeline is None  # not playing into the default device meanwhile
                cli("virtual-mic", "create")
                await client.wait_for("DeviceRestored", 10, role="output")
                response = await client.request("Speak", {"text": "Back again."})
                await client.wait_for("UtteranceLatency", 60, utteranceId=response["utteranceId"])

                index, arguments = module_of("lvtest_mic")
                await asyncio.to_thread(subprocess.run, ["pactl", "unload-module", str(index)], check=True)
                await client.wait_for("DeviceLost", 10, role="input")
                load = ["pactl", "load-module", "module-remap-source", *arguments.split()]
                await asyncio.to_thread(subprocess.run, load, check=True)
                await client.wait_for("DeviceRestored", 15, role="input")
                stats = await client.request("GetStats")
                assert stats["daemon"]["counters"]["devicesLost"] == 0
            finally:
                await client.close()

        asyncio.run(scenario())


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
    """Phrases arrive faster than a slow TTS speaks them: the queue stays at its bound, the
    overflow is counted and reported, and no phrase is spoken after waiting too long."""
    slow = Models(models.recognizer, models.vad, FaultyEngine(models.engine, chunk_delay_s=0.4))
    with Running(config, slow) as running:
        pipeline = running.daemon.pipeline
        assert pipeline is not None
        pipeline.tts.max_wait_s = 3.0

        async def scenario() -> None:
            client = await running.client()
            try:
                for i in range(40):
                    await client.request("Speak", {"text": f"Phrase number {i}."})
                    assert pipeline.tts.queued <= 16
                overrun = await client.wait_for("BufferOverrun", 10, buffer="phrases")
                assert overrun["count"] >= 1  # reported as soon as the first phrase is dropped
                await asyncio.sleep(6)
                stats = await client.request("GetStats")
                counters = stats["daemon"]["counters"]
                assert counters["phraseDrops"] >= 40 - 16 - 1
                output = stats["daemon"]["outputFirstPacket"]
                assert output["count"] >= 1 and output["maxMs"] <= 3000 + 2000  # max wait + one phrase
                await client.request("StopSpeaking")
                await asyncio.sleep(0.5)
                assert pipeline.tts.queued == 0
                assert len(pipeline.tracker._open) <= pipeline.tracker.max_open
            finally:
                await client.close()

        asyncio.run(scenario())
