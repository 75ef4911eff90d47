"""Incremental decoding of Qwen3-TTS 12 Hz codec frames into audio.

The 12 Hz tokenizer's decoder is causal: its convolutions pad on the left only, its
transposed convolutions trim on the right, and its transformer attends through a causal
sliding window. :class:`StreamingCodecDecoder` runs the decoder's own layers (their
weights, no copy of their code paths beyond the order of the layers) on a few new frames
at a time and carries, between calls:

- for each causal convolution, its last ``(kernel - 1) * dilation`` input steps;
- for each transposed convolution with overlap, its previous input step(s);
- for the transformer, a sliding-window KV cache (``DynamicCache`` built from the
  decoder config, so at most ``sliding_window - 1`` positions per layer).

So the cost of a chunk depends on its own length only, never on how long the utterance
already is, and the output is the full decode's output (``decoder(codes)`` of all frames
at once) up to float rounding: the same products summed in a different blocking, about
1e-6 in float32 (the tests bound it at 1e-4). This is exact where qwen-tts's own
``chunked_decode`` (25 frames of left context) is not.
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import nn


class StreamingCodecDecoder:
    """Decode codec frames chunk by chunk with carried state (one instance per utterance).

    ``decoder`` is a qwen-tts ``Qwen3TTSTokenizerV2Decoder`` (``speech_tokenizer.model.decoder``).
    """

    def __init__(self, decoder: Any) -> None:
        from transformers import DynamicCache

        self._decoder = decoder
        self._num_quantizers = int(decoder.config.num_quantizers)
        self._samples_per_frame = int(decoder.total_upsample)
        self._tails: dict[int, torch.Tensor] = {}
        self._cache = DynamicCache(config=decoder.config)
        self._frames = 0

    @property
    def samples_per_frame(self) -> int:
        """Output samples per codec frame (1920 at 24 kHz)."""
        return self._samples_per_frame

    @property
    def frames_decoded(self) -> int:
        """Codec frames decoded so far."""
        return self._frames

    @torch.inference_mode()
    def decode(self, codes: torch.Tensor) -> torch.Tensor:
        """Decode the next frames.

        ``codes``: integer tensor ``(frames, num_quantizers)`` (the order the talker
        produces them). Returns float samples ``(frames * samples_per_frame,)`` in [-1, 1].
        """
        if codes.ndim != 2 or codes.shape[1] != self._num_quantizers:
            raise ValueError(f"codes must be (frames, {self._num_quantizers}), got {tuple(codes.shape)}")
        frames = int(codes.shape[0])
        if frames == 0:
            return torch.zeros(0, dtype=torch.float32)
        dec = self._decoder
        hidden = dec.quantizer.decode(codes.clamp(min=0).T.unsqueeze(0))
        hidden = self._causal_conv(dec.pre_conv, hidden).transpose(1, 2)
        position = torch.arange(self._frames, self._frames + frames, device=hidden.device)
        hidden = dec.pre_transformer(
            inputs_embeds=hidden, past_key_values=self._cache, use_cache=True, cache_position=position
        ).last_hidden_state
        hidden = hidden.permute(0, 2, 1)
        for trans_conv, convnext in dec.upsample:
            hidden = self._trans_conv(trans_conv, hidden)
            hidden = self._convnext(convnext, hidden)
        layers = list(dec.decoder)
        hidden = self._causal_conv(layers[0], hidden)
        for block in layers[1:-2]:
            hidden = self._decoder_block(block, hidden)
        hidden = layers[-2](hidden)
        wav = self._causal_conv(layers[-1], hidden)
        self._frames += frames
        return wav.clamp(min=-1, max=1)[0, 0]

    def _causal_conv(self, module: Any, hidden: torch.Tensor) -> torch.Tensor:
        """A left-padded stride-1 conv, fed with its carried input tail instead of zeros."""
        conv: nn.Conv1d = module.conv
        if module.stride != 1:
            raise ValueError("only stride-1 causal convolutions can stream")
        pad = int(module.padding)
        if pad == 0:
            return conv(hidden)
        tail = self._tails.get(id(module))
        if tail is None:
            tail = hidden.new_zeros(hidden.shape[0], hidden.shape[1], pad)
        extended = torch.cat([tail, hidden], dim=-1)
        self._tails[id(module)] = extended[..., -pad:]
        return conv(extended)

    def _trans_conv(self, module: Any, hidden: torch.Tensor) -> torch.Tensor:
        """A right-trimmed transposed conv, fed with the input step(s) its overlap needs."""
        conv: nn.ConvTranspose1d = module.conv
        stride = int(conv.stride[0])
        overlap = int(module.right_pad)
        steps = hidden.shape[-1]
        if overlap == 0:
            return conv(hidden)[..., : steps * stride]
        keep = math.ceil(overlap / stride)
        previous = self._tails.get(id(module))
        if previous is None:
            previous = hidden.new_zeros(hidden.shape[0], hidden.shape[1], keep)
        extended = torch.cat([previous, hidden], dim=-1)
        self._tails[id(module)] = extended[..., -keep:]
        out = conv(extended)
        start = keep * stride
        return out[..., start : start + steps * stride]

    def _convnext(self, block: Any, hidden: torch.Tensor) -> torch.Tensor:
        residual = hidden
        hidden = self._causal_conv(block.dwconv, hidden).permute(0, 2, 1)
        hidden = block.pwconv2(block.act(block.pwconv1(block.norm(hidden))))
        hidden = (block.gamma * hidden).permute(0, 2, 1)
        return residual + hidden

    def _decoder_block(self, block: Any, hidden: torch.Tensor) -> torch.Tensor:
        snake, trans_conv, *units = block.block
        hidden = self._trans_conv(trans_conv, snake(hidden))
        for unit in units:
            residual = hidden
            hidden = self._causal_conv(unit.conv1, unit.act1(hidden))
            hidden = self._causal_conv(unit.conv2, unit.act2(hidden))
            hidden = hidden + residual
        return hidden


def full_decode(decoder: Any, codes: torch.Tensor) -> torch.Tensor:
    """Reference: decode all ``codes`` ``(frames, num_quantizers)`` at once with the decoder's own forward."""
    with torch.inference_mode():
        return decoder(codes.clamp(min=0).T.unsqueeze(0))[0, 0]


__all__ = ["StreamingCodecDecoder", "full_decode"]
