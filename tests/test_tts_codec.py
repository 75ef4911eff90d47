"""Incremental codec decoding equals the full decode, with state that does not grow."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import torch

from livevoice.tts.codec import StreamingCodecDecoder, full_decode

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


def test_carried_state_is_bounded(decoder: Any, codes: torch.Tensor) -> None:
    stream = StreamingCodecDecoder(decoder)
    window = decoder.config.sliding_window
    sizes = []
    for start in range(0, FRAMES, 3):
        stream.decode(codes[start : start + 3])
        sizes.append(
            (
                [layer.keys.shape[-2] for layer in stream._cache.layers],
                sorted(tail.shape[-1] for tail in stream._tails.values()),
            )
        )
    assert all(length <= window for length in sizes[-1][0])
    assert sizes[-1] == sizes[len(sizes) // 2]  # nothing grows with the utterance


def test_wrong_code_shape_is_refused(decoder: Any) -> None:
    with pytest.raises(ValueError, match=r"codes must be \(frames, 16\)"):
        StreamingCodecDecoder(decoder).decode(torch.zeros((3, 8), dtype=torch.long))
