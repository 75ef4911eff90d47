"""Incremental decoding of Qwen3-TTS 12 Hz codec frames into audio.

The 12 Hz tokenizer's decoder is causal: its convolutions pad on the left only, its
transposed convolutions trim on the right, and its transformer attends through a causal
sliding window. :class:`StreamingCodecDecoder` runs the decoder's own layers (their
weights, no copy of their code paths beyond the order of the layers) on a few new frames
at a time and carries, between calls:

- for each causal convolution, its last ``(kernel - 1) * dilation`` input steps;
- for each transposed convolution with overlap, its previous input step(s);
- for the transformer, the keys/values of the last ``sliding_window - 1`` positions.

All of it lives in tensors allocated once and written in place (the transformer runs over
the decoder's own projections, norms and MLPs, as :mod:`livevoice.tts.model_steps` runs the
talker), so a chunk of a given length issues the same kernels every time: on CUDA the
usual chunk lengths are captured as CUDA graphs and each chunk is one ``replay()``; on the
CPU the same code runs eagerly.

So the cost of a chunk depends on its own length only, never on how long the utterance
already is, and the output is the full decode's output (``decoder(codes)`` of all frames
at once) up to float rounding: the same products summed in a different blocking, about
1e-6 in float32 (the tests bound it at 1e-4). This is exact where qwen-tts's own
``chunked_decode`` (25 frames of left context) is not.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from typing import Any

import torch
from torch import nn

from livevoice.tts.cuda_graphs import capture_graphs
from livevoice.tts.model_steps import attend, project_qkv, rotary_tables

SHORT_CHUNK_GRAPHS = 8
"""Chunk lengths up to this many frames get a graph too (a phrase's last chunk, and a chunk
cut while the text is awaited, are shorter than the configured lengths)."""


def codec_graph_sizes(first_chunk_frames: int, chunk_frames: int) -> tuple[int, ...]:
    """Chunk lengths (frames) worth a CUDA graph: the two configured ones and the short ones."""
    shorter = range(1, min(max(first_chunk_frames, chunk_frames), SHORT_CHUNK_GRAPHS) + 1)
    return tuple(sorted({first_chunk_frames, chunk_frames, *shorter}))


class StreamingCodecDecoder:
    """Decode codec frames chunk by chunk with carried state in preallocated tensors.

    ``decoder`` is a qwen-tts ``Qwen3TTSTokenizerV2Decoder`` (``speech_tokenizer.model.decoder``).
    All carried state (convolution tails, the transformer's sliding-window keys/values, the
    position) lives in tensors made here and written in place, so a chunk of ``n`` frames
    issues the same kernels at every call. ``graph_sizes``: on CUDA, chunk lengths (frames)
    to capture as CUDA graphs now (other lengths run the same code eagerly, on the same
    state). One instance serves one stream at a time; :meth:`reset` starts the next utterance.
    """

    def __init__(self, decoder: Any, *, graph_sizes: Iterable[int] = ()) -> None:
        self._decoder = decoder
        self._num_quantizers = int(decoder.config.num_quantizers)
        self._samples_per_frame = int(decoder.total_upsample)
        first = next(decoder.parameters())
        self._device = first.device
        self._dtype = first.dtype
        self._tails: dict[int, torch.Tensor] = {}
        for module in decoder.modules():
            steps = _tail_steps(module)
            if steps:
                channels = module.conv.in_channels
                self._tails[id(module)] = self._zeros((1, channels, steps))
        transformer = decoder.pre_transformer
        attention = transformer.layers[0].self_attn
        self._window = int(decoder.config.sliding_window)
        head_dim = int(attention.head_dim)
        kv_heads = int(attention.k_proj.out_features) // head_dim
        self._kv = self._zeros((len(transformer.layers), 2, 1, kv_heads, self._window - 1, head_dim))
        """Keys/values of the last ``window - 1`` positions (zero and masked before the start)."""
        self._position = torch.zeros(1, dtype=torch.long, device=self._device)
        """Stream position (frames) of the next chunk's first frame, on the device."""
        self._frames = 0
        self._inputs: dict[int, torch.Tensor] = {}
        self._outputs: dict[int, torch.Tensor] = {}
        self._graphs: dict[int, Any] = {}
        sizes = sorted({int(n) for n in graph_sizes if int(n) > 0})
        if sizes and self._device.type == "cuda":
            self._capture(sizes)

    @property
    def samples_per_frame(self) -> int:
        """Output samples per codec frame (1920 at 24 kHz)."""
        return self._samples_per_frame

    @property
    def frames_decoded(self) -> int:
        """Codec frames decoded since the last :meth:`reset`."""
        return self._frames

    @property
    def carried_state(self) -> tuple[torch.Tensor, ...]:
        """The tensors carried between chunks (made once, written in place)."""
        return (*self._tails.values(), self._kv, self._position)

    @property
    def captured_sizes(self) -> tuple[int, ...]:
        """Chunk lengths (frames) that replay a CUDA graph."""
        return tuple(sorted(self._graphs))

    @torch.inference_mode()
    def reset(self) -> None:
        """Forget the utterance: the next frame decoded is a first frame."""
        for tail in self._tails.values():
            tail.zero_()
        self._kv.zero_()
        self._position.zero_()
        self._frames = 0

    @torch.inference_mode()
    def decode(self, codes: torch.Tensor) -> torch.Tensor:
        """Decode the next frames.

        ``codes``: integer tensor ``(frames, num_quantizers)`` (the order the talker
        produces them). Returns float samples ``(frames * samples_per_frame,)`` in [-1, 1]
        (on a captured length: the graph's output tensor, valid until the next call).
        """
        if codes.ndim != 2 or codes.shape[1] != self._num_quantizers:
            raise ValueError(f"codes must be (frames, {self._num_quantizers}), got {tuple(codes.shape)}")
        frames = int(codes.shape[0])
        if frames == 0:
            return torch.zeros(0, dtype=torch.float32)
        graph = self._graphs.get(frames)
        if graph is None:
            wav = self._step(codes.to(self._device))
        else:
            self._inputs[frames].copy_(codes)
            graph.replay()
            wav = self._outputs[frames]
        self._frames += frames
        return wav

    # ------------------------------------------------------------ the device side

    def _zeros(self, shape: tuple[int, ...]) -> torch.Tensor:
        return torch.zeros(shape, dtype=self._dtype, device=self._device)

    def _step(self, codes: torch.Tensor) -> torch.Tensor:
        """``codes`` ``(n, quantizers)`` -> ``n * samples_per_frame`` samples; advances the state."""
        dec = self._decoder
        frames = int(codes.shape[0])
        hidden = dec.quantizer.decode(codes.clamp(min=0).T.unsqueeze(0))
        hidden = self._causal_conv(dec.pre_conv, hidden).transpose(1, 2)
        hidden = self._transformer(hidden, frames).permute(0, 2, 1)
        for trans_conv, convnext in dec.upsample:
            hidden = self._trans_conv(trans_conv, hidden)
            hidden = self._convnext(convnext, hidden)
        layers = list(dec.decoder)
        hidden = self._causal_conv(layers[0], hidden)
        for block in layers[1:-2]:
            hidden = self._decoder_block(block, hidden)
        hidden = layers[-2](hidden)
        wav = self._causal_conv(layers[-1], hidden)
        self._position.add_(frames)
        out: torch.Tensor = wav.clamp(min=-1, max=1)[0, 0]
        return out

    def _transformer(self, hidden: torch.Tensor, n: int) -> torch.Tensor:
        """The decoder's transformer over ``n`` new rows, attending through the carried window.

        Row ``i`` (stream position ``p + i``) sees the positions ``p + i - window < q <= p + i``
        that exist (``q >= 0``): the previous ``window - 1`` (held in ``_kv``) and the new rows.
        """
        transformer = self._decoder.pre_transformer
        carried = self._window - 1
        relative = torch.arange(-carried, n, device=self._device)  # key slots, relative to p
        rows = torch.arange(n, device=self._device)[:, None]
        visible = (relative <= rows) & (relative > rows - self._window) & (relative + self._position >= 0)
        positions = self._position + torch.arange(n, device=self._device)
        rotary = transformer.rotary_emb
        cos, sin = rotary_tables(rotary.inv_freq, float(rotary.attention_scaling), positions, hidden.dtype)
        hidden = transformer.input_proj(hidden)
        for index, layer in enumerate(transformer.layers):
            attention = layer.self_attn
            q, k, v = project_qkv(attention, layer.input_layernorm(hidden), cos, sin, n)
            cache = self._kv[index]
            keys, values = _carry(cache[0], k, dim=2), _carry(cache[1], v, dim=2)
            out = attend(q, keys, values, visible, float(attention.scaling))
            out = attention.o_proj(out.transpose(1, 2).reshape(1, n, -1))
            hidden = hidden + layer.self_attn_layer_scale(out)
            hidden = hidden + layer.mlp_layer_scale(layer.mlp(layer.post_attention_layernorm(hidden)))
        result: torch.Tensor = transformer.output_proj(transformer.norm(hidden))
        return result

    def _causal_conv(self, module: Any, hidden: torch.Tensor) -> torch.Tensor:
        """A left-padded stride-1 conv, fed with its carried input tail instead of zeros."""
        tail = self._tails.get(id(module))
        return module.conv(hidden if tail is None else _carry(tail, hidden, dim=-1))

    def _trans_conv(self, module: Any, hidden: torch.Tensor) -> torch.Tensor:
        """A right-trimmed transposed conv, fed with the input step(s) its overlap needs."""
        stride = int(module.conv.stride[0])
        steps = hidden.shape[-1]
        previous = self._tails.get(id(module))
        if previous is None:
            return module.conv(hidden)[..., : steps * stride]
        out = module.conv(_carry(previous, hidden, dim=-1))
        start = previous.shape[-1] * stride
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

    def _capture(self, sizes: list[int]) -> None:
        """Capture one graph per chunk length, each with its own static input codes."""
        parts: dict[int, Callable[[], None]] = {}
        for n in sizes:
            self._inputs[n] = torch.zeros((n, self._num_quantizers), dtype=torch.long, device=self._device)

            def part(n: int = n) -> None:
                self._outputs[n] = self._step(self._inputs[n])

            parts[n] = part
        with torch.inference_mode():
            self._graphs = capture_graphs(parts, self._device, reset=self.reset, what="codec decoder")
            if not self._graphs:
                self._outputs.clear()
            self.reset()


def _carry(tail: torch.Tensor, new: torch.Tensor, *, dim: int) -> torch.Tensor:
    """``new`` with the carried ``tail`` in front (along ``dim``); ``tail`` then holds the end
    of that, for the next chunk (written in place: the same tensor every call)."""
    extended = torch.cat([tail, new], dim=dim)
    tail.copy_(extended.narrow(dim, extended.shape[dim] - tail.shape[dim], tail.shape[dim]))
    return extended


def _tail_steps(module: Any) -> int:
    """Input steps a causal (transposed) convolution of the decoder carries between chunks."""
    conv = getattr(module, "conv", None)
    if isinstance(conv, nn.ConvTranspose1d) and hasattr(module, "right_pad"):
        overlap = int(module.right_pad)
        return math.ceil(overlap / int(conv.stride[0])) if overlap else 0
    if isinstance(conv, nn.Conv1d) and hasattr(module, "padding") and hasattr(module, "stride"):
        if module.stride != 1:
            raise ValueError("only stride-1 causal convolutions can stream")
        return int(module.padding)
    return 0


def full_decode(decoder: Any, codes: torch.Tensor) -> torch.Tensor:
    """Reference: decode all ``codes`` ``(frames, num_quantizers)`` at once with the decoder's own forward."""
    with torch.inference_mode():
        return decoder(codes.clamp(min=0).T.unsqueeze(0))[0, 0]


__all__ = ["SHORT_CHUNK_GRAPHS", "StreamingCodecDecoder", "codec_graph_sizes", "full_decode"]
