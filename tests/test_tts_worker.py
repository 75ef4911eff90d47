"""The TTS worker with the real tiny Qwen3 engine, writing into a real output ring (the
playback stream is not opened: these tests read what would be played)."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from livevoice.audio.budget import plan_buffers
from livevoice.audio.output import AudioOutput
from livevoice.frames import FloatArray, Phrase
from livevoice.latency import LatencyTracker
from livevoice.text.parts import Beep, Say
from livevoice.text.stage import TextPhrase
from livevoice.tts.worker import BEEP_HZ, TtsWorker, beep

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def engine(tiny_qwen_dir: Path) -> Any:
    from livevoice.tts.qwen3 import load_qwen3_engine

    return load_qwen3_engine(
        str(tiny_qwen_dir), torch_threads=1, seed=1, first_chunk_frames=1, chunk_frames=1
    )


@dataclass
class Writes:
    """The real output, with a record of every block queued for playback."""

    output: AudioOutput
    blocks: list[FloatArray] = field(default_factory=list)

    def __post_init__(self) -> None:
        write = self.output.write

        def recorded(samples: FloatArray, **kw: Any) -> int:
            self.blocks.append(np.array(samples, copy=True))
            return write(samples, **kw)

        self.output.write = recorded  # type: ignore[method-assign]


def speak(engine: Any, phrase: Phrase, budget_ms: int) -> Writes:
    plan = plan_buffers(budget_ms, 48000)
    writes = Writes(AudioOutput(plan, None, None))
    voice = np.random.default_rng(0).normal(0, 1, engine.embedding_dim).astype(np.float32)
    worker = TtsWorker(engine, writes.output, lambda: voice, LatencyTracker(), lambda event: None)
    worker.start()
    try:
        assert worker.submit(phrase)
        deadline = time.monotonic() + 60
        while worker.phrases_spoken + worker.errors == 0:
            assert time.monotonic() < deadline
            time.sleep(0.01)
    finally:
        worker.stop()
    assert worker.errors == 0
    return writes


@pytest.mark.parametrize("budget_ms", [300, 3000])
def test_the_start_of_a_phrase_fills_the_pre_buffer_before_it_plays(engine: Any, budget_ms: int) -> None:
    """One-frame chunks (80 ms = 3840 samples at 48 kHz): with a 3 s budget the pre-buffer is
    300 ms, so the first block queued holds several chunks; with 300 ms (30 ms pre-buffer)
    the first chunk goes out alone."""
    phrase = Phrase(1, 0, "Hello there, this is a test.", True, time.monotonic_ns())
    writes = speak(engine, phrase, budget_ms)
    prebuffer = plan_buffers(budget_ms, 48000).output_prebuffer_samples
    total = sum(len(b) for b in writes.blocks)
    assert len(writes.blocks[0]) >= min(prebuffer, total)
    if budget_ms == 300:
        assert len(writes.blocks[0]) < 2 * 3840
    else:
        assert len(writes.blocks[0]) >= prebuffer > 3 * 3840
    assert writes.output.ring.write_pos == total


def test_a_beep_part_is_a_tone_as_long_as_the_hidden_words(engine: Any) -> None:
    parts = (Say("Well"), Beep(0.4, 1), Say("that is it."))
    phrase = TextPhrase.build(2, 0, parts, True, time.monotonic_ns(), ())
    blocks = speak(engine, phrase, 300).blocks
    tone = beep(0.4, 48000)
    assert len(tone) == int(0.4 * 48000)
    spectrum = np.abs(np.fft.rfft(tone))
    assert np.fft.rfftfreq(len(tone), 1 / 48000)[np.argmax(spectrum)] == BEEP_HZ
    index = next(i for i, b in enumerate(blocks) if np.array_equal(b, tone))
    assert 0 < index < len(blocks) - 1  # between the speech of "Well" and of "that is it."
