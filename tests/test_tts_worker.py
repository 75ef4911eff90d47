"""The TTS worker with the real tiny Qwen3 engine, writing into a real output ring (the
playback stream is not opened: these tests read what would be played)."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from livevoice.audio.budget import plan_buffers
from livevoice.audio.output import AudioOutput
from livevoice.frames import FloatArray, Phrase
from livevoice.latency import LatencyTracker
from livevoice.text.parts import Beep, Part, Say
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


# -- streamed phrases ([text] segment_on = "stream") ------------------------------------------

GREEDY = {"do_sample": False, "subtalker_dosample": False, "max_new_tokens": 60}
VOICE = np.random.default_rng(3).normal(0, 1, 64).astype(np.float32)
PACE = 0.8


@pytest.fixture(scope="module")
def greedy(tiny_qwen_dir: Path) -> Any:
    """Greedy decoding, and phrases end only once their text is read (as a trained model's do:
    the random-weight model may end a phrase anywhere, a streamed one only once it is closed)."""
    from livevoice.tts.qwen3 import load_qwen3_engine

    engine = load_qwen3_engine(str(tiny_qwen_dir), torch_threads=1, sampling=GREEDY, chunk_frames=2)
    engine.paced_frames_per_char = PACE
    return engine


@dataclass
class StreamsOf:
    """The real engine, with every stream it opened (to read their codes and text)."""

    inner: Any
    streams: list[Any] = field(default_factory=list)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def open(self, embedding: np.ndarray, text: str = "", *, final: bool = True) -> Any:
        stream = self.inner.open(embedding, text, final=final)
        self.streams.append(stream)
        return stream


@contextlib.contextmanager
def worker_for(engine: Any, budget_ms: int = 3000) -> Iterator[tuple[TtsWorker, Writes]]:
    writes = Writes(AudioOutput(plan_buffers(budget_ms, 48000), None, None))
    worker = TtsWorker(engine, writes.output, lambda: VOICE, LatencyTracker(), lambda event: None)
    worker.start()
    try:
        yield worker, writes
    finally:
        worker.stop()


def wait_until(condition: Callable[[], object], what: str, timeout_s: float = 60) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, f"no {what} within {timeout_s} s"
        time.sleep(0.01)


def streamed(texts: list[tuple[Part, ...]], utterance_id: int = 5) -> list[TextPhrase]:
    """The pieces of one phrase: the first opens it, the last closes it."""
    last = len(texts) - 1
    return [
        TextPhrase.build(utterance_id, 0, parts, False, time.monotonic_ns(), (), piece=i, more=i < last)
        for i, parts in enumerate(texts)
    ]


def waiting_for_text(engine: StreamsOf, count: int) -> Any:
    """The ``count``-th stream once it has read all its text and waits for more."""
    wait_until(lambda: len(engine.streams) >= count, f"TTS stream {count}")
    stream = engine.streams[count - 1]
    assert stream.wait_until_waiting(60)
    return stream


def test_a_streamed_phrase_speaks_the_codes_of_the_whole_text(greedy: Any) -> None:
    """Pieces given while the stream speaks (each time it waits for text) give exactly the
    codes (greedy) of the phrase handed on whole; what is ready plays while it waits."""
    text = "Hi, this is livevoice speaking."
    engine = StreamsOf(greedy)
    with worker_for(engine) as (worker, _):
        assert worker.submit(TextPhrase.build(4, 0, (Say(text),), True, time.monotonic_ns(), ()))
        wait_until(lambda: worker.phrases_spoken == 1, "whole phrase spoken")
    whole = engine.streams[0]
    assert whole.frames_generated >= len(greedy.steps.tokenize(text))  # it read all its text
    engine.streams.clear()
    pieces = streamed([(Say("Hi,"),), (Say("this is"),), (Say("livevoice speaking."),)])
    with worker_for(engine) as (worker, writes):
        assert worker.submit(pieces[0])
        stream = waiting_for_text(engine, 1)
        # "Hi," is 2 frames (160 ms), less than the 300 ms pre-buffer: played anyway, as the
        # rest of the phrase is still unsaid
        wait_until(lambda: writes.output.ring.write_pos > 0, "the audio ready before the next piece")
        assert 0 < stream.frames_generated < whole.frames_generated
        assert worker.submit(pieces[1])
        assert worker.submit(pieces[2])
        wait_until(lambda: worker.phrases_spoken == 1, "streamed phrase spoken")
        assert worker.errors == 0 and len(engine.streams) == 1
    assert stream.text == text
    np.testing.assert_array_equal(stream.codes, whole.codes)
    assert writes.output.ring.write_pos == sum(len(b) for b in writes.blocks) > 0


def test_a_beep_in_a_streamed_phrase_ends_one_stream_and_the_text_after_it_starts_another(
    greedy: Any,
) -> None:
    engine = StreamsOf(greedy)
    pieces = streamed([(Say("Well"),), (Beep(0.4, 1), Say("that is")), (Say("it."),)])
    with worker_for(engine, 300) as (worker, writes):
        assert worker.submit(pieces[0])
        waiting_for_text(engine, 1)
        assert worker.submit(pieces[1])
        waiting_for_text(engine, 2)
        assert worker.submit(pieces[2])
        wait_until(lambda: worker.phrases_spoken == 1, "streamed phrase spoken")
    assert [s.text for s in engine.streams] == ["Well", "that is it."]
    tone = beep(0.4, 48000)
    index = next(i for i, b in enumerate(writes.blocks) if np.array_equal(b, tone))
    assert 0 < index < len(writes.blocks) - 1  # between the speech of "Well" and of "that is it."


def test_cutting_a_streamed_phrase_drops_its_later_pieces(greedy: Any) -> None:
    """A voice applied "now" (or StopSpeaking) cuts the phrase being spoken: the rest of the
    clause is not spoken; the next phrase is."""
    engine = StreamsOf(greedy)
    with worker_for(engine) as (worker, _):
        cut = streamed([(Say("This clause is"),), (Say("cut off"),), (Say("here."),)], utterance_id=8)
        assert worker.submit(cut[0])
        waiting_for_text(engine, 1)
        worker.skip_current()
        wait_until(lambda: not worker.speaking, "the cut phrase ended")
        assert not worker.submit(cut[1]) and not worker.submit(cut[2])
        nxt = streamed([(Say("Next one"),), (Say("is spoken."),)], utterance_id=9)
        assert worker.submit(nxt[0]) and worker.submit(nxt[1])
        wait_until(lambda: worker.phrases_spoken == 2, "the next phrase spoken")
    assert [s.text for s in engine.streams] == ["This clause is", "Next one is spoken."]
    assert engine.streams[0].cancelled and worker.errors == 0


def test_a_paced_end_makes_a_phrase_as_long_as_its_text(greedy: Any) -> None:
    """The random-weight model ends this phrase after 3 frames, before reading most of its
    text; paced (``paced_frames_per_char``, set for these tests and the benchmarks) it reads
    it all and ends when it has as many frames as the text would take to say."""
    text = "Hi, this is livevoice speaking."
    tokens = len(greedy.steps.tokenize(text))
    greedy.paced_frames_per_char = None
    try:
        early = greedy.open(VOICE, text)
        list(early)
    finally:
        greedy.paced_frames_per_char = PACE
    assert early.frames_generated < tokens
    paced = greedy.open(VOICE, text)
    chunks = list(paced)
    assert tokens <= paced.frames_generated <= max(tokens + 1, round(PACE * len(text))) and chunks[-1].final
    assert sum(c.frames for c in chunks) == paced.frames_generated
    np.testing.assert_array_equal(paced.codes[: early.frames_generated - 1], early.codes[:-1])
