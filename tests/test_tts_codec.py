"""Incremental codec decoding equals the full decode, with state that does not grow."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import torch

from livevoice.tts.codec import SHORT_CHUNK_GRAPHS, StreamingCodecDecoder, codec_graph_sizes, full_decode

pytestmark = pytest.mark.slow

FRAMES = 45  # more than the tiny decoder's 16-frame attention window
TOLERANCE = 1e-4  # float32 rounding of differently blocked convolutions; observed ~3e-6


@pytest.fixture(scope="module")
def decoder(tiny_qwen_dir: Path) -> Any:
    from qwen_tts import Qwen3TTSModel

    torch.set_num_threads(1)
    return Qwen3TTSModel.from_pretrained(str(tiny_qwen_dir)).model.speech_tokenizer.model.decoder


@pytest.fixture(scope="module")
def codes() -> torch.Tensor:
    return torch.randint(0, 64, (FRAMES, 16), generator=torch.Generator().manual_seed(3))


@pytest.mark.parametrize("sizes", [[1] * FRAMES, [2] + [4] * 10 + [3], [7, 1, 30, 7], [FRAMES]])
def test_chunks_joined_equal_the_full_decode(decoder: Any, codes: torch.Tensor, sizes: list[int]) -> None:
    reference = full_decode(decoder, codes)
    stream = StreamingCodecDecoder(decoder)
    pieces = []
    start = 0
    for size in sizes:
        piece = stream.decode(codes[start : start + size])
        assert piece.shape == (size * stream.samples_per_frame,)
        pieces.append(piece)
        start += size
    joined = torch.cat(pieces)
    assert joined.shape == reference.shape == (FRAMES * 1920,)
    assert float(reference.abs().mean()) > 0.05  # real signal, not silence
    assert float((joined - reference).abs().max()) < TOLERANCE
    assert stream.frames_decoded == FRAMES


def test_carried_state_is_made_once_and_bounded(decoder: Any, codes: torch.Tensor) -> None:
    stream = StreamingCodecDecoder(decoder)
    before = [(t.data_ptr(), tuple(t.shape)) for t in stream.carried_state]
    for start in range(0, FRAMES, 3):
        stream.decode(codes[start : start + 3])
    after = [(t.data_ptr(), tuple(t.shape)) for t in stream.carried_state]
    assert after == before  # the same tensors, nothing grew with the utterance
    assert any(float(t.abs().max()) > 0 for t in stream.carried_state[:-1])  # and they were written
    assert max(shape[-2] for _, shape in after if len(shape) == 6) == decoder.config.sliding_window - 1


def test_reset_starts_the_next_utterance(decoder: Any, codes: torch.Tensor) -> None:
    stream = StreamingCodecDecoder(decoder)
    stream.decode(codes[:9].flip(0))  # another utterance first
    stream.reset()
    assert stream.frames_decoded == 0
    joined = torch.cat([stream.decode(codes[start : start + 4]) for start in range(0, FRAMES, 4)])
    assert float((joined - full_decode(decoder, codes)).abs().max()) < TOLERANCE


def test_graph_sizes_are_ignored_off_cuda(decoder: Any, codes: torch.Tensor) -> None:
    stream = StreamingCodecDecoder(decoder, graph_sizes=(1, 2, 4))
    assert stream.captured_sizes == ()
    assert stream.decode(codes[:2]).shape == (2 * stream.samples_per_frame,)


SHORT = tuple(range(1, SHORT_CHUNK_GRAPHS + 1))


@pytest.mark.parametrize(
    ("first", "chunk", "sizes"),
    [(2, 4, (1, 2, 3, 4)), (1, 1, (1,)), (1, 20, (*SHORT, 20)), (12, 3, (*SHORT, 12))],
)
def test_codec_graph_sizes_cover_short_last_chunks(first: int, chunk: int, sizes: tuple[int, ...]) -> None:
    assert codec_graph_sizes(first, chunk) == sizes


def test_wrong_code_shape_is_refused(decoder: Any) -> None:
    with pytest.raises(ValueError, match=r"codes must be \(frames, 16\)"):
        StreamingCodecDecoder(decoder).decode(torch.zeros((3, 8), dtype=torch.long))
