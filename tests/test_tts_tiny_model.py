"""The tiny Qwen3-TTS test model loads with qwen-tts and is deterministic."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from livevoice.testing.tiny_qwen import build_tiny_qwen3_tts

pytestmark = pytest.mark.slow


def test_tiny_model_loads_and_embeds(tiny_qwen_dir: Path) -> None:
    from qwen_tts import Qwen3TTSModel

    torch.set_num_threads(1)
    model = Qwen3TTSModel.from_pretrained(str(tiny_qwen_dir))
    assert model.model.tts_model_type == "base"
    rng = np.random.default_rng(0)
    wav = (0.1 * rng.standard_normal(24000)).astype(np.float32)
    embedding = model.model.extract_speaker_embedding(wav, 24000)
    assert tuple(embedding.shape) == (64,)
    other = model.model.extract_speaker_embedding(np.roll(wav, 100) * 0.5, 24000)
    assert not torch.equal(embedding, other)


def test_same_seed_same_bytes_other_seed_differs(tiny_qwen_dir: Path, tmp_path: Path) -> None:
    again = build_tiny_qwen3_tts(tmp_path / "again", seed=0)
    other = build_tiny_qwen3_tts(tmp_path / "other", seed=1)
    for name in ("model.safetensors", "speech_tokenizer/model.safetensors", "tokenizer.json"):
        assert (again / name).read_bytes() == (tiny_qwen_dir / name).read_bytes(), name
    assert (other / "model.safetensors").read_bytes() != (again / "model.safetensors").read_bytes()


def test_hidden_size_sets_the_embedding_dimension(tmp_path: Path) -> None:
    from qwen_tts import Qwen3TTSModel

    torch.set_num_threads(1)
    folder = build_tiny_qwen3_tts(tmp_path / "dim32", hidden_size=32)
    model = Qwen3TTSModel.from_pretrained(str(folder))
    wav = (0.1 * np.random.default_rng(1).standard_normal(24000)).astype(np.float32)
    assert tuple(model.model.extract_speaker_embedding(wav, 24000).shape) == (32,)


def test_word_tokens_make_the_model_read_a_word_per_frame(tmp_path: Path) -> None:
    """With ``words`` the text tokenizer has a token per listed word (after a space or not), as
    the released models' tokenizer has for common words; other text stays a token per byte."""
    from livevoice.tts.qwen3 import load_qwen3_engine

    folder = build_tiny_qwen3_tts(tmp_path / "words", words=["Good", "evening", "and", "welcome"])
    engine = load_qwen3_engine(str(folder), torch_threads=1, sampling={"max_new_tokens": 8}, warmup=False)
    tokenize = engine.steps.tokenize
    assert len(tokenize("Good evening and welcome")) == 4
    assert len(tokenize("Good evening and welcome to it.")) == 4 + len(" to it.")
    assert len(tokenize("evening")) == 1 and len(tokenize("Evening")) == len("Evening")
    assert list(engine.open(np.zeros(64, dtype=np.float32), "Good evening."))[-1].final
    with pytest.raises(ValueError, match="ASCII letters"):
        build_tiny_qwen3_tts(tmp_path / "bad", words=["don't"])
