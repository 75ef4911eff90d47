"""The CUDA fast path: captured frame graphs give the codes of the eager steps and of qwen-tts.

These run only where a CUDA GPU exists (the device tool's H200, users' machines); on a
machine without one the whole module is skipped.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import torch
from tts_reference import generate_codes

from livevoice.tts.codec import codec_graph_sizes
from livevoice.tts.loading import load_qwen3_engine
from livevoice.tts.qwen3 import Qwen3TtsEngine

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")

GREEDY = {"do_sample": False, "subtalker_dosample": False}
FRAMES = 24
TEXT = "Hello world, this is livevoice on a graphics card."


def voice(seed: int) -> np.ndarray:
    return (0.5 * np.random.default_rng(seed).standard_normal(64)).astype(np.float32)


@pytest.fixture(scope="module")
def graphs(tiny_qwen_dir: Path) -> Iterator[Qwen3TtsEngine]:
    engine = load_qwen3_engine(
        str(tiny_qwen_dir), device="cuda", sampling={**GREEDY, "max_new_tokens": FRAMES}, warmup=True
    )
    yield engine


@pytest.fixture(scope="module")
def eager(tiny_qwen_dir: Path) -> Iterator[Qwen3TtsEngine]:
    engine = load_qwen3_engine(
        str(tiny_qwen_dir),
        device="cuda",
        sampling={**GREEDY, "max_new_tokens": FRAMES},
        warmup=True,
        cuda_graphs=False,
    )
    yield engine


@pytest.mark.slow
def test_frames_replay_captured_graphs_in_bf16(graphs: Qwen3TtsEngine, eager: Qwen3TtsEngine) -> None:
    assert graphs.dtype == torch.bfloat16 and graphs.graphs_captured
    assert not eager.graphs_captured


@pytest.mark.slow
def test_greedy_graph_codes_equal_eager_steps_and_qwen_tts_generate(
    graphs: Qwen3TtsEngine, eager: Qwen3TtsEngine
) -> None:
    embedding = voice(1)
    with_graphs = graphs.open(embedding, TEXT)
    chunks = list(with_graphs)
    without = eager.open(embedding, TEXT)
    list(without)
    np.testing.assert_array_equal(with_graphs.codes, without.codes)
    np.testing.assert_array_equal(with_graphs.codes, generate_codes(graphs, embedding, TEXT, FRAMES))
    assert sum(c.frames for c in chunks) == FRAMES and chunks[-1].final


@pytest.mark.slow
def test_text_appended_while_speaking_on_graphs(graphs: Qwen3TtsEngine) -> None:
    embedding = voice(2)
    whole = graphs.open(embedding, TEXT)
    list(whole)
    stream = graphs.open(embedding, TEXT[:9], final=False)
    out: list[object] = []
    thread = threading.Thread(target=lambda: out.extend(stream), daemon=True)
    thread.start()
    assert stream.wait_until_waiting(60)
    stream.append(TEXT[9:])
    stream.close()
    thread.join(60)
    np.testing.assert_array_equal(stream.codes, whole.codes)


@pytest.mark.slow
def test_seeded_sampling_on_graphs_is_reproducible_and_two_threads_do_not_interfere(
    tiny_qwen_dir: Path,
) -> None:
    sampled = load_qwen3_engine(
        str(tiny_qwen_dir), device="cuda", seed=5, sampling={"max_new_tokens": FRAMES}, warmup=True
    )
    assert sampled.sampling.do_sample and sampled.graphs_captured
    alone = []
    for n in range(2):
        stream = sampled.open(voice(10 + n), TEXT)
        list(stream)
        alone.append(stream.codes)
    again = sampled.open(voice(10), TEXT)
    list(again)
    np.testing.assert_array_equal(again.codes, alone[0])
    streams = [sampled.open(voice(10 + n), TEXT) for n in range(2)]
    threads = [threading.Thread(target=lambda s=s: list(s), daemon=True) for s in streams]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    for stream, expected in zip(streams, alone, strict=True):
        np.testing.assert_array_equal(stream.codes, expected)


@pytest.mark.slow
def test_codec_chunks_replay_graphs_and_give_the_eager_decoders_audio(
    graphs: Qwen3TtsEngine, eager: Qwen3TtsEngine
) -> None:
    with graphs.steppers.stepper(graphs.sampling) as stepper:
        captured = stepper.codec.captured_sizes
    assert captured == codec_graph_sizes(graphs.first_chunk_frames, graphs.chunk_frames)
    embedding = voice(3)
    with_graphs = list(graphs.open(embedding, TEXT))
    without = list(eager.open(embedding, TEXT))
    assert [c.frames for c in with_graphs] == [c.frames for c in without]
    audio = np.concatenate([c.samples for c in with_graphs])
    reference = np.concatenate([c.samples for c in without])
    assert float(np.abs(reference).mean()) > 1e-3  # real signal, not silence
    np.testing.assert_allclose(audio, reference, atol=2e-2)
