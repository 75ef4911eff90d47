"""A complete tiny random-weight Qwen3-TTS *Base* model, built from config objects.

No weights are downloaded: every part (talker, code predictor, speaker encoder, 12 Hz
speech tokenizer with its Mimi encoder and causal decoder, byte-level text tokenizer) is
made from small configs with seeded random weights and saved with ``save_pretrained``, so
``qwen_tts.Qwen3TTSModel.from_pretrained(folder)`` loads it on CPU and runs the real
code path at a few milliseconds per 80 ms codec frame. The audio is noise-like, but its
shape, rates and timing are those of the real model: 24 kHz output, 1920 samples per
frame, 16 codebooks, a speaker embedding of ``hidden_size`` values.

The same ``seed`` and ``hidden_size`` give byte-identical weights.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from livevoice.tts.sampling import QWEN_TTS_DEFAULTS

# Text-tokenizer layout: the 256 byte-level symbols, a chain of merges that makes
# "assistant" one token (qwen-tts slices the chat prompt by token position), then the
# special tokens.
_SPECIAL_TOKENS = (
    "<|endoftext|>",
    "<|im_start|>",
    "<|im_end|>",
    "<tts_pad>",
    "<tts_text_bos>",
    "<tts_text_eod>",
)
_MERGED_WORDS = ("assistant",)

CODEBOOK_SIZE = 64
"""Codes per codebook in the tiny model (the real 12 Hz tokenizer has 2048)."""
_TARGET_RMS = 0.2
_SPECIAL_CODEC_BAND = 1024  # qwen-tts suppresses the top 1024 talker ids (except EOS)


def _build_text_tokenizer(folder: Path) -> dict[str, int]:
    """Save a deterministic byte-level BPE tokenizer into ``folder``; return the special ids."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers
    from transformers import Qwen2TokenizerFast

    alphabet = sorted(pre_tokenizers.ByteLevel.alphabet())
    vocab = {symbol: index for index, symbol in enumerate(alphabet)}
    merges: list[tuple[str, str]] = []
    for word in _MERGED_WORDS:
        left = word[0]
        for char in word[1:]:
            merges.append((left, char))
            left += char
            vocab.setdefault(left, len(vocab))
    bpe = models.BPE(vocab=vocab, merges=merges)
    tokenizer = Tokenizer(bpe)
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    tokenizer.decoder = decoders.ByteLevel()
    tokenizer.add_special_tokens(list(_SPECIAL_TOKENS))
    fast = Qwen2TokenizerFast(tokenizer_object=tokenizer)
    fast.save_pretrained(str(folder))
    return {token: int(tokenizer.token_to_id(token)) for token in _SPECIAL_TOKENS}


def _talker_config(hidden_size: int, text_vocab_size: int) -> dict[str, Any]:
    heads = 4
    head_dim = hidden_size // heads
    if head_dim % 2 or head_dim < 6:
        raise ValueError(f"hidden_size {hidden_size} must be a multiple of 8 and at least 24")
    half = head_dim // 2
    mrope_section = [half - 2 * (half // 3), half // 3, half // 3]
    vocab_size = CODEBOOK_SIZE + _SPECIAL_CODEC_BAND
    band = CODEBOOK_SIZE  # first id of the special band
    return {
        "vocab_size": vocab_size,
        "hidden_size": hidden_size,
        "intermediate_size": 2 * hidden_size,
        "num_hidden_layers": 2,
        "num_attention_heads": heads,
        "num_key_value_heads": 2,
        "head_dim": head_dim,
        "max_position_embeddings": 4096,
        "rope_theta": 10000,
        "rope_scaling": {"rope_type": "default", "mrope_section": mrope_section, "interleaved": True},
        "num_code_groups": 16,
        "text_hidden_size": 32,
        "text_vocab_size": text_vocab_size,
        "codec_eos_token_id": band + 2,
        "codec_think_id": band + 6,
        "codec_nothink_id": band + 7,
        "codec_think_bos_id": band + 8,
        "codec_think_eos_id": band + 9,
        "codec_pad_id": band + 0,
        "codec_bos_id": band + 1,
        "spk_id": {},
        "spk_is_dialect": {},
        "codec_language_id": {"english": band + 50, "chinese": band + 51, "german": band + 52},
        "code_predictor_config": {
            "vocab_size": CODEBOOK_SIZE,
            "hidden_size": 32,
            "intermediate_size": 64,
            "num_hidden_layers": 2,
            "num_attention_heads": 2,
            "num_key_value_heads": 1,
            "head_dim": 16,
            "max_position_embeddings": 64,
            "num_code_groups": 16,
        },
    }


def _speaker_encoder_config(hidden_size: int) -> dict[str, Any]:
    return {
        "mel_dim": 128,
        "enc_dim": hidden_size,
        "enc_channels": [32, 32, 32, 32, 96],
        "enc_kernel_sizes": [5, 3, 3, 3, 1],
        "enc_dilations": [1, 2, 3, 4, 1],
        "enc_attention_channels": 16,
        "enc_res2net_scale": 4,
        "enc_se_channels": 16,
        "sample_rate": 24000,
    }


def _speech_tokenizer_config() -> dict[str, Any]:
    encoder = {
        "sampling_rate": 24000,
        "frame_rate": 12.5,
        "hidden_size": 16,
        "num_filters": 4,
        "num_residual_layers": 1,
        "upsampling_ratios": [8, 6, 5, 4],
        "codebook_size": CODEBOOK_SIZE,
        "codebook_dim": 16,
        "num_quantizers": 16,
        "vector_quantization_hidden_dimension": 16,
        "num_semantic_quantizers": 1,
        "upsample_groups": 16,
        "num_hidden_layers": 1,
        "intermediate_size": 32,
        "num_attention_heads": 2,
        "num_key_value_heads": 2,
        "head_dim": 8,
        "sliding_window": 16,
    }
    decoder = {
        "codebook_size": CODEBOOK_SIZE,
        "codebook_dim": 16,
        "hidden_size": 32,
        "latent_dim": 32,
        "num_attention_heads": 2,
        "num_key_value_heads": 2,
        "head_dim": 16,
        "sliding_window": 16,
        "intermediate_size": 64,
        "num_hidden_layers": 2,
        "num_quantizers": 16,
        "upsample_rates": [8, 5, 4, 3],
        "upsampling_ratios": [2, 2],
        "decoder_dim": 64,
        "max_position_embeddings": 8000,
    }
    return {
        "encoder_config": encoder,
        "decoder_config": decoder,
        "encoder_valid_num_quantizers": 16,
        "input_sample_rate": 24000,
        "output_sample_rate": 24000,
        "decode_upsample_rate": 1920,
        "encode_downsample_rate": 1920,
    }


GENERATION_CONFIG: dict[str, Any] = dict(QWEN_TTS_DEFAULTS)
"""The sampling settings written as the tiny model's generation_config.json (the real models' values)."""


def _write_json(path: Path, data: dict[str, Any]) -> None:
    path.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n", encoding="utf-8")


def _randomize_decoder(model: Any, seed: int) -> None:
    """Make the codec decoder produce audible, zero-mean audio from random weights.

    Its codebooks initialise to zeros (the decoder would ignore the codes) and the
    transformers initialisation (std 0.02) gives a near-silent output, so the layers get
    PyTorch's own initialisation; then the last convolution is calibrated on random codes
    so the waveform has no DC offset and an RMS of about ``_TARGET_RMS``.
    """
    import torch

    decoder = model.decoder
    with torch.no_grad():
        for name, param in decoder.named_parameters():
            if name.endswith("_codebook.embedding_sum"):
                param.normal_()
        for module in decoder.modules():
            if isinstance(module, torch.nn.Conv1d | torch.nn.ConvTranspose1d | torch.nn.Linear):
                module.reset_parameters()
        last = decoder.decoder[-1].conv
        captured: list[torch.Tensor] = []
        hook = last.register_forward_hook(lambda _m, _i, out: captured.append(out.detach()))
        generator = torch.Generator().manual_seed(seed)
        codes = torch.randint(0, CODEBOOK_SIZE, (1, decoder.config.num_quantizers, 24), generator=generator)
        decoder(codes)
        hook.remove()
        raw = captured[0]
        scale = _TARGET_RMS / float(raw.std())
        last.weight.mul_(scale)
        last.bias.copy_((last.bias - raw.mean()) * scale)


def build_tiny_qwen3_tts(folder: Path, *, seed: int = 0, hidden_size: int = 64) -> Path:
    """Build a tiny random-weight Qwen3-TTS Base model into ``folder`` and return ``folder``.

    ``hidden_size`` is the talker hidden size, hence the speaker-embedding dimension
    (a multiple of 8, at least 24). Loadable on CPU with
    ``qwen_tts.Qwen3TTSModel.from_pretrained(folder)``.
    """
    import torch

    from livevoice.tts.qwen3 import import_qwen_tts

    import_qwen_tts()
    from qwen_tts.core.models import Qwen3TTSConfig, Qwen3TTSForConditionalGeneration
    from qwen_tts.core.tokenizer_12hz.configuration_qwen3_tts_tokenizer_v2 import Qwen3TTSTokenizerV2Config
    from qwen_tts.core.tokenizer_12hz.modeling_qwen3_tts_tokenizer_v2 import Qwen3TTSTokenizerV2Model
    from transformers import EncodecFeatureExtractor

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    special = _build_text_tokenizer(folder)
    text_vocab_size = max(special.values()) + 1

    config = Qwen3TTSConfig(
        talker_config=_talker_config(hidden_size, text_vocab_size),
        speaker_encoder_config=_speaker_encoder_config(hidden_size),
        tokenizer_type="qwen3_tts_tokenizer_12hz",
        tts_model_size="tiny",
        tts_model_type="base",
        im_start_token_id=special["<|im_start|>"],
        im_end_token_id=special["<|im_end|>"],
        tts_pad_token_id=special["<tts_pad>"],
        tts_bos_token_id=special["<tts_text_bos>"],
        tts_eos_token_id=special["<tts_text_eod>"],
    )
    previous_state = torch.random.get_rng_state()
    try:
        torch.manual_seed(seed)
        model = Qwen3TTSForConditionalGeneration(config).eval()
        model.save_pretrained(str(folder), safe_serialization=True)

        tokenizer_config = Qwen3TTSTokenizerV2Config(**_speech_tokenizer_config())
        speech_tokenizer = Qwen3TTSTokenizerV2Model(tokenizer_config).eval()
        _randomize_decoder(speech_tokenizer, seed)
        speech_folder = folder / "speech_tokenizer"
        speech_tokenizer.save_pretrained(str(speech_folder), safe_serialization=True)
        EncodecFeatureExtractor(feature_size=1, sampling_rate=24000).save_pretrained(str(speech_folder))
    finally:
        torch.random.set_rng_state(previous_state)

    # The speaker-encoder config takes no **kwargs, but save_pretrained writes a
    # model_type into it: drop that key so the folder loads.
    config_path = folder / "config.json"
    saved = json.loads(config_path.read_text(encoding="utf-8"))
    saved.get("speaker_encoder_config", {}).pop("model_type", None)
    _write_json(config_path, saved)
    _write_json(folder / "generation_config.json", GENERATION_CONFIG)
    return folder


__all__ = ["CODEBOOK_SIZE", "GENERATION_CONFIG", "build_tiny_qwen3_tts"]
