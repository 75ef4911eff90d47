"""Random-weight models with the released architectures: their sizes, and the streaming loop on them."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from tts_reference import generate_codes

from livevoice.testing.tiny_qwen import REAL_SIZES, build_real_size_qwen3_tts, qwen3_tts_configs
from livevoice.tts.loading import load_qwen3_engine

GREEDY = {"do_sample": False, "subtalker_dosample": False}


@pytest.mark.parametrize(("size", "hidden", "mlp"), [("0.6B", 1024, 3072), ("1.7B", 2048, 6144)])
def test_real_size_configs_are_the_released_architectures(size: str, hidden: int, mlp: int) -> None:
    config, tokenizer = qwen3_tts_configs(REAL_SIZES[size])
    talker = config.talker_config
    assert (talker.hidden_size, talker.intermediate_size) == (hidden, mlp)
    assert (talker.num_hidden_layers, talker.num_attention_heads, talker.num_key_value_heads) == (28, 16, 8)
    assert talker.head_dim == 128 and talker.rope_theta == 1e6
    assert talker.rope_scaling["mrope_section"] == [24, 20, 20] and talker.rope_scaling["interleaved"]
    assert (talker.vocab_size, talker.text_hidden_size, talker.num_code_groups) == (3072, 2048, 16)
    predictor = talker.code_predictor_config
    assert (predictor.num_hidden_layers, predictor.hidden_size, predictor.intermediate_size) == (
        5,
        1024,
        3072,
    )
    assert (predictor.num_attention_heads, predictor.num_key_value_heads, predictor.head_dim) == (16, 8, 128)
    assert predictor.vocab_size == 2048
    decoder = tokenizer.decoder_config
    assert (decoder.num_hidden_layers, decoder.latent_dim, decoder.codebook_dim) == (8, 1024, 512)
    assert (decoder.decoder_dim, decoder.sliding_window, decoder.codebook_size) == (1536, 72, 2048)
    speaker = config.speaker_encoder_config
    assert speaker.enc_channels == [512, 512, 512, 512, 1536] and speaker.enc_dim == hidden


@pytest.mark.slow
def test_the_real_size_06b_model_streams_the_codes_of_qwen_tts_generate(tmp_path: Path) -> None:
    torch.set_num_threads(2)
    folder = build_real_size_qwen3_tts(tmp_path / "real", "0.6B")
    frames = 3
    engine = load_qwen3_engine(
        str(folder), device="cpu", sampling={**GREEDY, "max_new_tokens": frames}, warmup=False
    )
    assert engine.embedding_dim == 1024
    talker = engine._model.talker
    assert not talker.codec_head.weight[engine.steps.end_token].any()  # phrases never end by themselves
    embedding = (0.05 * np.random.default_rng(3).standard_normal(1024)).astype(np.float32)
    text = "Hello there."
    stream = engine.open(embedding, text)
    chunks = list(stream)
    np.testing.assert_array_equal(stream.codes, generate_codes(engine, embedding, text, frames))
    assert sum(c.frames for c in chunks) == frames and chunks[-1].final
    assert sum(len(c.samples) for c in chunks) == frames * 1920
