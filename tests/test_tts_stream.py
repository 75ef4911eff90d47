"""The streaming Qwen3-TTS loop on the tiny random-weight model: parity, chunks, text, cancel."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import torch
from tts_reference import generate_codes

from livevoice.tts.engine import TtsChunk, TtsEngine, TtsStream
from livevoice.tts.qwen3 import Qwen3TtsEngine, Qwen3TtsStream, load_qwen3_engine

pytestmark = pytest.mark.slow

GREEDY = {"do_sample": False, "subtalker_dosample": False}
FRAMES = 24
TEXT = "Hello world, this is livevoice."
LONG_TEXT = " ".join(["A much longer phrase keeps going for a while"] * 8) + "."
TOLERANCE = 1e-4  # joined chunks vs full decode (float32 rounding, observed ~3e-6)


def voice(seed: int, dim: int = 64) -> np.ndarray:
    return (0.5 * np.random.default_rng(seed).standard_normal(dim)).astype(np.float32)


@pytest.fixture(scope="module")
def engine(tiny_qwen_dir: Path) -> Iterator[Qwen3TtsEngine]:
    torch.set_num_threads(1)
    yield load_qwen3_engine(
        str(tiny_qwen_dir), device="cpu", sampling={**GREEDY, "max_new_tokens": FRAMES}, warmup=True
    )


def reference_codes(
    engine: Qwen3TtsEngine, embedding: np.ndarray, text: str, language: str, frames: int
) -> np.ndarray:
    """qwen-tts's own generate() codes for the same x-vector-only prompt, greedy."""
    return generate_codes(engine, embedding, text, frames, language)


def test_engine_and_stream_follow_the_interface(engine: Qwen3TtsEngine, tiny_qwen_dir: Path) -> None:
    assert isinstance(engine, TtsEngine)
    assert (engine.sample_rate, engine.embedding_dim, engine.samples_per_frame) == (24000, 64, 1920)
    fresh = load_qwen3_engine(str(tiny_qwen_dir), device="cpu", sampling=GREEDY, warmup=True)
    assert fresh.cached_voices == 0  # the warm-up voice is not kept
    stream = engine.open(voice(0), "Hi.")
    assert isinstance(stream, TtsStream)
    assert stream.t_start_ns == stream.t_first_audio_ns == 0
    stream.cancel()
    assert list(stream) == []


@pytest.mark.parametrize("language", ["auto", "english"])
def test_greedy_codes_equal_qwen_tts_generate(engine: Qwen3TtsEngine, language: str) -> None:
    embedding = voice(1)
    expected = reference_codes(engine, embedding, TEXT, language, FRAMES)
    engine.language = language
    try:
        stream = engine.open(embedding, TEXT)
        chunks = list(stream)
    finally:
        engine.language = "auto"
    assert expected.shape == (FRAMES, 16)
    np.testing.assert_array_equal(stream.codes, expected)
    assert chunks[-1].final and not any(c.final for c in chunks[:-1])


def test_chunks_joined_equal_qwen_tts_decode_of_the_codes(engine: Qwen3TtsEngine) -> None:
    stream = engine.open(voice(2), TEXT)
    chunks = list(stream)
    assert [c.index for c in chunks] == list(range(len(chunks)))
    assert [c.frames for c in chunks] == [2, 4, 4, 4, 4, 4, 2]
    for c in chunks:
        assert c.sample_rate == 24000 and c.samples.dtype == np.float32
        assert len(c.samples) == c.frames * 1920
    joined = np.concatenate([c.samples for c in chunks])
    wavs, rate = engine._model.speech_tokenizer.decode([{"audio_codes": torch.from_numpy(stream.codes)}])
    assert rate == 24000
    assert joined.shape == wavs[0].shape
    assert float(np.abs(wavs[0]).mean()) > 0.05
    assert float(np.abs(joined - wavs[0]).max()) < TOLERANCE
    assert [c.t_ns for c in chunks] == sorted(c.t_ns for c in chunks)
    assert stream.t_start_ns <= stream.t_first_audio_ns == chunks[0].t_ns


@pytest.mark.parametrize("first", [1, 2])
@pytest.mark.parametrize("text", ["Hi.", LONG_TEXT])
def test_first_chunk_comes_after_the_configured_frames(engine: Qwen3TtsEngine, first: int, text: str) -> None:
    engine.first_chunk_frames = first
    try:
        stream = engine.open(voice(3), text)
        iterator = iter(stream)
        chunk = next(iterator)
        # Only the frames of the first chunk exist yet, however long the text.
        assert (chunk.frames, stream.frames_generated, len(chunk.samples)) == (first, first, first * 1920)
        stream.cancel()
        assert list(iterator) == []
    finally:
        engine.first_chunk_frames = 2


def consume(stream: Qwen3TtsStream, out: list[TtsChunk]) -> threading.Thread:
    thread = threading.Thread(target=lambda: out.extend(stream), daemon=True)
    thread.start()
    return thread


def test_text_appended_while_speaking_gives_the_codes_of_the_whole_text(engine: Qwen3TtsEngine) -> None:
    embedding = voice(4)
    whole = engine.open(embedding, TEXT)
    list(whole)
    first, rest = TEXT[:9], TEXT[9:]  # "Hello wor" + "ld, this is livevoice."
    stream = engine.open(embedding, first, final=False)
    chunks: list[TtsChunk] = []
    thread = consume(stream, chunks)
    assert stream.wait_until_waiting(60)
    # Paused after reading every token but the last one (which may still merge): no end, no padding.
    ready = len(engine.steps.tokenize(first)) - 1
    assert stream.frames_generated == ready
    np.testing.assert_array_equal(stream.codes, whole.codes[:ready])
    stream.append(rest)
    stream.close()
    thread.join(60)
    assert not thread.is_alive()
    np.testing.assert_array_equal(stream.codes, whole.codes)
    assert chunks[-1].final


def test_empty_open_waits_for_text_then_speaks(engine: Qwen3TtsEngine) -> None:
    stream = engine.open(voice(5), "", final=False)
    chunks: list[TtsChunk] = []
    thread = consume(stream, chunks)
    assert stream.wait_until_waiting(60)
    assert stream.frames_generated == 0 and stream.t_start_ns == 0
    stream.append("Hi")
    stream.append(" there.")
    stream.close()
    thread.join(60)
    assert chunks and chunks[-1].final and stream.t_start_ns > 0


def test_cancel_within_one_frame(engine: Qwen3TtsEngine) -> None:
    stream = engine.open(voice(6), LONG_TEXT)
    seen = []
    for chunk in stream:
        seen.append(chunk)
        stream.cancel()
    assert len(seen) == 1 and not seen[0].final
    assert stream.frames_generated == engine.first_chunk_frames
    assert stream.cancelled


def test_cancel_from_another_thread_wakes_a_stream_waiting_for_text(engine: Qwen3TtsEngine) -> None:
    stream = engine.open(voice(7), "Hello the", final=False)
    chunks: list[TtsChunk] = []
    thread = consume(stream, chunks)
    assert stream.wait_until_waiting(60)
    stream.cancel()
    thread.join(60)
    assert not thread.is_alive()
    assert not any(c.final for c in chunks)


def test_prefix_is_computed_once_per_voice(engine: Qwen3TtsEngine) -> None:
    with engine._prefix_lock:
        engine._prefixes.clear()
    a, b = voice(8), voice(9)
    first = engine.open(a, "One.")
    list(first)
    prefix = engine.voice_prefix(torch.from_numpy(a))
    second = engine.open(a, "One.")
    list(second)
    assert engine.cached_voices == 1
    assert engine.voice_prefix(torch.from_numpy(a)) is prefix
    np.testing.assert_array_equal(first.codes, second.codes)
    list(engine.open(b, "One."))
    assert engine.cached_voices == 2


def test_end_token_stops_the_phrase_but_not_before_the_text_is_final(tiny_qwen_dir: Path) -> None:
    eager = load_qwen3_engine(str(tiny_qwen_dir), device="cpu", sampling=GREEDY, warmup=False)
    head = eager._model.talker.codec_head
    biased = torch.nn.Linear(head.in_features, head.out_features, bias=True)
    with torch.no_grad():  # the same head, plus a bias that makes codec_eos the most likely token
        biased.weight.copy_(head.weight)
        biased.bias.zero_()
        biased.bias[eager.steps.end_token] = 1e4
    eager._model.talker.codec_head = biased
    done = eager.open(voice(10), TEXT)
    chunks = list(done)
    assert done.frames_generated == 2  # the end token is held back for the first two frames only
    assert chunks[-1].final and sum(c.frames for c in chunks) == 2

    open_text = eager.open(voice(10), "Hello there", final=False)
    late: list[TtsChunk] = []
    thread = consume(open_text, late)
    assert open_text.wait_until_waiting(60)
    assert open_text.frames_generated == len(eager.steps.tokenize("Hello there")) - 1 > 2
    open_text.close()
    thread.join(60)
    assert late[-1].final


def test_sampling_with_a_seed_is_reproducible(tiny_qwen_dir: Path) -> None:
    runs = []
    for seed in (7, 7, 8):
        sampled = load_qwen3_engine(
            str(tiny_qwen_dir), device="cpu", seed=seed, sampling={"max_new_tokens": 12}, warmup=False
        )
        assert sampled.sampling.do_sample  # from the model's generation_config.json
        stream = sampled.open(voice(11), TEXT)
        list(stream)
        runs.append(stream.codes)
    assert np.array_equal(runs[0], runs[1])
    assert not np.array_equal(runs[0], runs[2])


def test_extract_embedding_any_rate_and_channels(engine: Qwen3TtsEngine) -> None:
    import soxr

    rng = np.random.default_rng(12)
    mono_44k = (0.2 * rng.standard_normal(44100)).astype(np.float32)
    stereo = np.stack([mono_44k, mono_44k], axis=1)
    from_stereo = engine.extract_embedding(stereo, 44100)
    at_24k = np.asarray(soxr.resample(mono_44k, 44100, 24000, quality="HQ"), dtype=np.float32)
    direct = engine._model.extract_speaker_embedding(at_24k, 24000).float().numpy()
    assert from_stereo.dtype == np.float32 and from_stereo.shape == (64,)
    np.testing.assert_allclose(from_stereo, direct, rtol=0, atol=1e-6)
    other = engine.extract_embedding((0.2 * rng.standard_normal(24000)).astype(np.float32), 24000)
    assert not np.allclose(other, from_stereo)


def test_two_streams_at_once_keep_their_own_state(engine: Qwen3TtsEngine) -> None:
    a, b = voice(20), voice(21)
    alone_a, alone_b = engine.open(a, TEXT), engine.open(b, LONG_TEXT)
    list(alone_a)
    list(alone_b)
    together_a, together_b = engine.open(a, TEXT), engine.open(b, LONG_TEXT)
    chunks_a, chunks_b = iter(together_a), iter(together_b)
    done_a = done_b = False
    while not (done_a and done_b):  # alternate chunk by chunk: both hold a stepper at once
        if not done_a:
            done_a = next(chunks_a).final
        if not done_b:
            done_b = next(chunks_b).final
    assert engine.steppers.size >= 2
    np.testing.assert_array_equal(together_a.codes, alone_a.codes)
    np.testing.assert_array_equal(together_b.codes, alone_b.codes)


def test_more_streams_than_steppers_wait_their_turn_in_threads(engine: Qwen3TtsEngine) -> None:
    from livevoice.tts.frame_step import MAX_STEPPERS

    texts = [f"Phrase number {n}, spoken at the same time." for n in range(MAX_STEPPERS + 2)]
    alone = []
    for n, text in enumerate(texts):
        stream = engine.open(voice(30 + n), text)
        list(stream)
        alone.append(stream.codes)
    streams = [engine.open(voice(30 + n), text) for n, text in enumerate(texts)]
    outputs: list[list[TtsChunk]] = [[] for _ in streams]
    threads = [consume(stream, out) for stream, out in zip(streams, outputs, strict=True)]
    for thread in threads:
        thread.join(120)
        assert not thread.is_alive()
    assert engine.steppers.size <= MAX_STEPPERS
    for stream, out, expected in zip(streams, outputs, alone, strict=True):
        assert out[-1].final
        np.testing.assert_array_equal(stream.codes, expected)


def test_real_time_factor_counts_generation_not_waiting_for_text(engine: Qwen3TtsEngine) -> None:
    stream = engine.open(voice(40), "Hello there, how", final=False)
    chunks: list[TtsChunk] = []
    thread = consume(stream, chunks)
    assert stream.wait_until_waiting(60)
    paused_at = stream.compute_s
    other = engine.open(voice(41), LONG_TEXT)  # time passes while the stream waits for text
    list(other)
    assert stream.compute_s == paused_at
    stream.append(" are you?")
    stream.close()
    thread.join(60)
    audio_s = sum(len(c.samples) for c in chunks) / 24000
    assert audio_s > 0 and stream.audio_samples == sum(len(c.samples) for c in chunks)
    assert stream.compute_s > paused_at
    assert stream.real_time_factor == pytest.approx(stream.compute_s / audio_s)
    assert stream.compute_s < (chunks[-1].t_ns - stream.t_start_ns) / 1e9 - other.compute_s
