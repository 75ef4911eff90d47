"""A complete tiny random-weight Qwen3-TTS *Base* model, built from config objects.

No weights are downloaded: every part (talker, code predictor, speaker encoder, 12 Hz
speech tokenizer with its Mimi encoder and causal decoder, byte-level text tokenizer) is
made from small configs with seeded random weights and saved with ``save_pretrained``, so
``qwen_tts.Qwen3TTSModel.from_pretrained(folder)`` loads it on CPU and runs the real
code path at a few milliseconds per 80 ms codec frame. The audio is noise-like, but its
shape, rates and timing are those of the real model: 24 kHz output, 1920 samples per
frame, 16 codebooks, a speaker embedding of ``hidden_size`` values.

The same ``seed`` and ``hidden_size`` give byte-identical weights.

:func:`build_real_size_qwen3_tts` builds the same kind of random-weight model with the
layer sizes of the released 0.6B and 1.7B Base models (see :data:`REAL_SIZES`): compute
time depends on the sizes, not on the weight values, so anyone with a GPU can measure
real-time speed without downloading weights (``bench/tts.py --real-size 0.6B``). The
end-of-speech row of its codec head is zeroed, so phrases run to their frame cap.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
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


def _build_text_tokenizer(folder: Path, words: Sequence[str] = ()) -> dict[str, int]:
    """Save a deterministic byte-level BPE tokenizer into ``folder``; return the special ids.

    ``words`` become tokens of their own, alone and after a space (ASCII letters only).
    """
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers
    from transformers import Qwen2TokenizerFast

    alphabet = sorted(pre_tokenizers.ByteLevel.alphabet())
    vocab = {symbol: index for index, symbol in enumerate(alphabet)}
    merges: dict[tuple[str, str], None] = {}
    for word in (*_MERGED_WORDS, *words):
        left = word[0]
        for char in word[1:]:
            merges[(left, char)] = None
            left += char
            vocab.setdefault(left, len(vocab))
    space = "\u0120"  # the byte-level symbol of a space
    for word in words:  # once a word is whole, the space before it joins it
        merges[(space, word)] = None
        vocab.setdefault(space + word, len(vocab))
    bpe = models.BPE(vocab=vocab, merges=list(merges))
    tokenizer = Tokenizer(bpe)
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    tokenizer.decoder = decoders.ByteLevel()
    tokenizer.add_special_tokens(list(_SPECIAL_TOKENS))
    fast = Qwen2TokenizerFast(tokenizer_object=tokenizer)
    fast.save_pretrained(str(folder))
    return {token: int(tokenizer.token_to_id(token)) for token in _SPECIAL_TOKENS}


@dataclass(frozen=True)
class Architecture:
    """Layer sizes of a Qwen3-TTS 12 Hz Base model (the parts that set its compute time)."""

    hidden_size: int
    """Talker hidden size = speaker-embedding dimension."""
    intermediate_size: int
    """Talker MLP size."""
    layers: int
    """Talker decoder layers."""
    heads: int
    kv_heads: int
    head_dim: int
    rope_theta: float
    mrope_section: tuple[int, int, int]
    """Rotary sections (temporal, height, width); they sum to head_dim / 2."""
    codebook_size: int
    """Codes per codebook (16 codebooks)."""
    text_hidden_size: int
    predictor_hidden_size: int
    predictor_intermediate_size: int
    predictor_layers: int
    predictor_heads: int
    predictor_kv_heads: int
    predictor_head_dim: int
    speaker_channels: tuple[int, ...]
    """ECAPA-TDNN channels (the last one is the pooling input)."""
    speaker_attention_channels: int
    speaker_res2net_scale: int
    speaker_se_channels: int
    decoder: dict[str, Any]
    """The 12 Hz codec decoder's config."""
    encoder: dict[str, Any]
    """The 12 Hz codec encoder's (Mimi) config."""


def _tiny_architecture(hidden_size: int) -> Architecture:
    heads = 4
    head_dim = hidden_size // heads
    if head_dim % 2 or head_dim < 6:
        raise ValueError(f"hidden_size {hidden_size} must be a multiple of 8 and at least 24")
    half = head_dim // 2
    return Architecture(
        hidden_size=hidden_size,
        intermediate_size=2 * hidden_size,
        layers=2,
        heads=heads,
        kv_heads=2,
        head_dim=head_dim,
        rope_theta=10000,
        mrope_section=(half - 2 * (half // 3), half // 3, half // 3),
        codebook_size=CODEBOOK_SIZE,
        text_hidden_size=32,
        predictor_hidden_size=32,
        predictor_intermediate_size=64,
        predictor_layers=2,
        predictor_heads=2,
        predictor_kv_heads=1,
        predictor_head_dim=16,
        speaker_channels=(32, 32, 32, 32, 96),
        speaker_attention_channels=16,
        speaker_res2net_scale=4,
        speaker_se_channels=16,
        decoder={
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
        },
        encoder={
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
        },
    )


def _real_size(hidden_size: int, intermediate_size: int) -> Architecture:
    return Architecture(
        hidden_size=hidden_size,
        intermediate_size=intermediate_size,
        layers=28,
        heads=16,
        kv_heads=8,
        head_dim=128,
        rope_theta=1_000_000,
        mrope_section=(24, 20, 20),
        codebook_size=2048,
        text_hidden_size=2048,
        predictor_hidden_size=1024,
        predictor_intermediate_size=3072,
        predictor_layers=5,
        predictor_heads=16,
        predictor_kv_heads=8,
        predictor_head_dim=128,
        speaker_channels=(512, 512, 512, 512, 1536),
        speaker_attention_channels=128,
        speaker_res2net_scale=8,
        speaker_se_channels=128,
        decoder={
            "codebook_size": 2048,
            "codebook_dim": 512,
            "hidden_size": 1024,
            "latent_dim": 1024,
            "num_attention_heads": 16,
            "num_key_value_heads": 16,
            "head_dim": 64,
            "sliding_window": 72,
            "intermediate_size": 3072,
            "num_hidden_layers": 8,
            "num_quantizers": 16,
            "upsample_rates": [8, 5, 4, 3],
            "upsampling_ratios": [2, 2],
            "decoder_dim": 1536,
            "max_position_embeddings": 8000,
        },
        encoder={
            "sampling_rate": 24000,
            "frame_rate": 12.5,
            "upsampling_ratios": [8, 6, 5, 4],
            "codebook_size": 2048,
            "num_quantizers": 16,
            "num_semantic_quantizers": 1,
        },
    )


REAL_SIZES: dict[str, Architecture] = {
    "0.6B": _real_size(1024, 3072),
    "1.7B": _real_size(2048, 6144),
}
"""The layer sizes of the released Qwen3-TTS-12Hz-0.6B-Base and -1.7B-Base models."""


def _talker_config(arch: Architecture, text_vocab_size: int) -> dict[str, Any]:
    vocab_size = arch.codebook_size + _SPECIAL_CODEC_BAND
    band = arch.codebook_size  # first id of the special band
    return {
        "vocab_size": vocab_size,
        "hidden_size": arch.hidden_size,
        "intermediate_size": arch.intermediate_size,
        "num_hidden_layers": arch.layers,
        "num_attention_heads": arch.heads,
        "num_key_value_heads": arch.kv_heads,
        "head_dim": arch.head_dim,
        "max_position_embeddings": 4096 if arch.layers < 28 else 32768,
        "rope_theta": arch.rope_theta,
        "rope_scaling": {
            "rope_type": "default",
            "mrope_section": list(arch.mrope_section),
            "interleaved": True,
        },
        "num_code_groups": 16,
        "text_hidden_size": arch.text_hidden_size,
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
            "vocab_size": arch.codebook_size,
            "hidden_size": arch.predictor_hidden_size,
            "intermediate_size": arch.predictor_intermediate_size,
            "num_hidden_layers": arch.predictor_layers,
            "num_attention_heads": arch.predictor_heads,
            "num_key_value_heads": arch.predictor_kv_heads,
            "head_dim": arch.predictor_head_dim,
            "max_position_embeddings": 64 if arch.layers < 28 else 65536,
            "rope_theta": arch.rope_theta,
            "num_code_groups": 16,
        },
    }


def _speaker_encoder_config(arch: Architecture) -> dict[str, Any]:
    return {
        "mel_dim": 128,
        "enc_dim": arch.hidden_size,
        "enc_channels": list(arch.speaker_channels),
        "enc_kernel_sizes": [5, 3, 3, 3, 1],
        "enc_dilations": [1, 2, 3, 4, 1],
        "enc_attention_channels": arch.speaker_attention_channels,
        "enc_res2net_scale": arch.speaker_res2net_scale,
        "enc_se_channels": arch.speaker_se_channels,
        "sample_rate": 24000,
    }


def _speech_tokenizer_config(arch: Architecture) -> dict[str, Any]:
    return {
        "encoder_config": dict(arch.encoder),
        "decoder_config": dict(arch.decoder),
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
        codes = torch.randint(
            0,
            decoder.config.codebook_size,
            (1, decoder.config.num_quantizers, 24),
            generator=generator,
            device="cpu",
        )
        decoder(codes.to(last.weight.device))
        hook.remove()
        raw = captured[0]
        scale = _TARGET_RMS / float(raw.std())
        last.weight.mul_(scale)
        last.bias.copy_((last.bias - raw.mean()) * scale)


def build_tiny_qwen3_tts(
    folder: Path, *, seed: int = 0, hidden_size: int = 64, words: Sequence[str] = ()
) -> Path:
    """Build a tiny random-weight Qwen3-TTS Base model into ``folder`` and return ``folder``.

    ``hidden_size`` is the talker hidden size, hence the speaker-embedding dimension
    (a multiple of 8, at least 24). Loadable on CPU with
    ``qwen_tts.Qwen3TTSModel.from_pretrained(folder)``. Its text tokenizer has a token per
    byte, so the model reads text at about the pace it is spoken (a frame per character);
    ``words`` (ASCII letters) get a token each, as common words have in the released
    models' tokenizer, whose text runs ahead of the speech (a frame per word).
    """
    if any(not (word.isascii() and word.isalpha()) for word in words):
        raise ValueError("word tokens must be ASCII letters")
    return _build(folder, _tiny_architecture(hidden_size), seed=seed, words=tuple(words))


def build_real_size_qwen3_tts(folder: Path, size: str, *, seed: int = 0, device: str = "cpu") -> Path:
    """Build a random-weight model with the layer sizes of the released ``size`` ("0.6B" or
    "1.7B") Base model into ``folder`` (weights saved in bfloat16) and return ``folder``.

    Its codec head never chooses the end token (that row is zero), so every phrase runs
    to its frame cap. ``device``: where the weights are initialised ("cuda" is much faster
    than the CPU for the 1.7B model).
    """
    if size not in REAL_SIZES:
        raise ValueError(f"unknown model size {size!r}; sizes: {', '.join(REAL_SIZES)}")
    return _build(folder, REAL_SIZES[size], seed=seed, device=device, zero_end_token=True)


def qwen3_tts_configs(arch: Architecture, special: dict[str, int] | None = None) -> tuple[Any, Any]:
    """The qwen-tts config objects (model, 12 Hz tokenizer) of ``arch``, without any weights.

    ``special``: the text tokenizer's special-token ids (default: those of the byte-level
    tokenizer the builders save).
    """
    from livevoice.tts.loading import import_qwen_tts

    import_qwen_tts()
    from qwen_tts.core.models import Qwen3TTSConfig
    from qwen_tts.core.tokenizer_12hz.configuration_qwen3_tts_tokenizer_v2 import Qwen3TTSTokenizerV2Config

    if special is None:
        first = 256 + sum(len(word) - 1 for word in _MERGED_WORDS)  # bytes, then the merges
        special = {token: first + index for index, token in enumerate(_SPECIAL_TOKENS)}
    config = Qwen3TTSConfig(
        talker_config=_talker_config(arch, max(special.values()) + 1),
        speaker_encoder_config=_speaker_encoder_config(arch),
        tokenizer_type="qwen3_tts_tokenizer_12hz",
        tts_model_size="tiny" if arch.layers < 28 else f"{arch.hidden_size}",
        tts_model_type="base",
        im_start_token_id=special["<|im_start|>"],
        im_end_token_id=special["<|im_end|>"],
        tts_pad_token_id=special["<tts_pad>"],
        tts_bos_token_id=special["<tts_text_bos>"],
        tts_eos_token_id=special["<tts_text_eod>"],
    )
    return config, Qwen3TTSTokenizerV2Config(**_speech_tokenizer_config(arch))


def _build(
    folder: Path,
    arch: Architecture,
    *,
    seed: int,
    device: str = "cpu",
    zero_end_token: bool = False,
    words: tuple[str, ...] = (),
) -> Path:
    import torch

    from livevoice.tts.loading import import_qwen_tts

    import_qwen_tts()
    from qwen_tts.core.models import Qwen3TTSForConditionalGeneration
    from qwen_tts.core.tokenizer_12hz.modeling_qwen3_tts_tokenizer_v2 import Qwen3TTSTokenizerV2Model
    from transformers import EncodecFeatureExtractor

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    special = _build_text_tokenizer(folder, words)
    config, tokenizer_config = qwen3_tts_configs(arch, special)
    previous_state = torch.random.get_rng_state()
    previous_threads = torch.get_num_threads()
    try:
        torch.manual_seed(seed)
        torch.set_num_threads(1)  # the decoder calibration sums the same way whatever the caller's threads
        with torch.device(device):
            model = Qwen3TTSForConditionalGeneration(config).eval()
            if zero_end_token:
                with torch.no_grad():
                    model.talker.codec_head.weight[config.talker_config.codec_eos_token_id].zero_()
            if zero_end_token:  # real sizes: half the file size, as the released checkpoints
                model = model.to(torch.bfloat16)
            model.save_pretrained(str(folder), safe_serialization=True)
            del model

            speech_tokenizer = Qwen3TTSTokenizerV2Model(tokenizer_config).eval()
            _randomize_decoder(speech_tokenizer, seed)
            speech_folder = folder / "speech_tokenizer"
            speech_tokenizer.save_pretrained(str(speech_folder), safe_serialization=True)
        EncodecFeatureExtractor(feature_size=1, sampling_rate=24000).save_pretrained(str(speech_folder))
    finally:
        torch.random.set_rng_state(previous_state)
        torch.set_num_threads(previous_threads)

    # The speaker-encoder config takes no **kwargs, but save_pretrained writes a
    # model_type into it: drop that key so the folder loads.
    config_path = folder / "config.json"
    saved = json.loads(config_path.read_text(encoding="utf-8"))
    saved.get("speaker_encoder_config", {}).pop("model_type", None)
    _write_json(config_path, saved)
    _write_json(folder / "generation_config.json", GENERATION_CONFIG)
    return folder


__all__ = [
    "CODEBOOK_SIZE",
    "GENERATION_CONFIG",
    "REAL_SIZES",
    "Architecture",
    "build_real_size_qwen3_tts",
    "build_tiny_qwen3_tts",
    "qwen3_tts_configs",
]
