"""The model steps of Qwen3-TTS (12 Hz, *-Base): the one module that reaches into qwen-tts.

Everything livevoice needs from the loaded qwen-tts model goes through :class:`Qwen3Steps`:
the text and codec embeddings, the speaker encoder, the codec decoder (for
:mod:`livevoice.tts.codec`), and the two transformer stacks run step by step:

- the **talker** (28 layers in the released models) reads one input row per 80 ms frame and
  gives the hidden state and the logits of codebook 0;
- the **code predictor** (5 layers) turns [talker hidden state, codebook-0 embedding] into
  codebooks 1-15, one small step each.

Both run here over the model's own submodules (projections, norms, MLPs) but with
livevoice's static key/value caches: preallocated tensors written in place at positions
held in device tensors, attention over the whole buffer with a mask computed on the
device. So a step issues the same kernels at every position and allocates nothing whose
size depends on the position: it can be captured once as a CUDA graph and replayed for
every frame (see :mod:`livevoice.tts.frame_step`). With only text in the prompt the three
rotary "mrope" sections of the talker see the same position, which is plain rotary
embedding; the tests check this module against the HF forward code path, code for code.

:func:`check_model_api` runs at load: another qwen-tts or transformers version that lacks
one of the attributes used here is refused with one line naming it, not with a traceback
in the middle of a phrase.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from livevoice.errors import ModelError

if TYPE_CHECKING:
    import numpy as np
    import torch

ROLE_PROMPT = "<|im_start|>assistant\n"
"""The text-track prompt before the phrase (three tokens in Qwen's tokenizer)."""
PREFIX_MAX_POSITIONS = 16
"""Room kept at the start of a talker cache for a voice prefix (about 10 positions)."""

# Attributes of the loaded Qwen3TTSForConditionalGeneration that this module and
# livevoice.tts.codec use, checked once at load. "layers[0]" checks the first layer.
REQUIRED_ATTRIBUTES: tuple[str, ...] = (
    "config.tts_bos_token_id",
    "config.tts_eos_token_id",
    "config.tts_pad_token_id",
    "config.talker_config.hidden_size",
    "config.talker_config.vocab_size",
    "config.talker_config.num_code_groups",
    "config.talker_config.codec_eos_token_id",
    "config.talker_config.codec_pad_id",
    "config.talker_config.codec_bos_id",
    "config.talker_config.codec_think_id",
    "config.talker_config.codec_nothink_id",
    "config.talker_config.codec_think_bos_id",
    "config.talker_config.codec_think_eos_id",
    "config.talker_config.codec_language_id",
    "config.talker_config.sliding_window",
    "extract_speaker_embedding",
    "talker.text_projection",
    "talker.codec_head",
    "talker.model.codec_embedding",
    "talker.model.text_embedding",
    "talker.model.norm",
    "talker.model.rotary_emb.inv_freq",
    "talker.model.rotary_emb.attention_scaling",
    "talker.model.layers[0].input_layernorm",
    "talker.model.layers[0].post_attention_layernorm",
    "talker.model.layers[0].mlp",
    "talker.model.layers[0].self_attn.q_proj",
    "talker.model.layers[0].self_attn.k_proj",
    "talker.model.layers[0].self_attn.v_proj",
    "talker.model.layers[0].self_attn.o_proj",
    "talker.model.layers[0].self_attn.q_norm",
    "talker.model.layers[0].self_attn.k_norm",
    "talker.model.layers[0].self_attn.head_dim",
    "talker.model.layers[0].self_attn.scaling",
    "talker.code_predictor.small_to_mtp_projection",
    "talker.code_predictor.lm_head",
    "talker.code_predictor.model.codec_embedding",
    "talker.code_predictor.model.norm",
    "talker.code_predictor.model.rotary_emb.inv_freq",
    "talker.code_predictor.model.rotary_emb.attention_scaling",
    "talker.code_predictor.model.layers[0].input_layernorm",
    "talker.code_predictor.model.layers[0].post_attention_layernorm",
    "talker.code_predictor.model.layers[0].mlp",
    "talker.code_predictor.model.layers[0].self_attn.q_proj",
    "talker.code_predictor.model.layers[0].self_attn.k_proj",
    "talker.code_predictor.model.layers[0].self_attn.v_proj",
    "talker.code_predictor.model.layers[0].self_attn.o_proj",
    "talker.code_predictor.model.layers[0].self_attn.q_norm",
    "talker.code_predictor.model.layers[0].self_attn.k_norm",
    "talker.code_predictor.model.layers[0].self_attn.head_dim",
    "talker.code_predictor.model.layers[0].self_attn.scaling",
    "talker.code_predictor.model.layers[0].self_attn.sliding_window",
    "speech_tokenizer.model.get_output_sample_rate",
    "speech_tokenizer.model.get_decode_upsample_rate",
    "speech_tokenizer.model.decoder.config.num_quantizers",
    "speech_tokenizer.model.decoder.total_upsample",
    "speech_tokenizer.model.decoder.quantizer",
    "speech_tokenizer.model.decoder.pre_conv",
    "speech_tokenizer.model.decoder.config.sliding_window",
    "speech_tokenizer.model.decoder.pre_transformer.input_proj",
    "speech_tokenizer.model.decoder.pre_transformer.output_proj",
    "speech_tokenizer.model.decoder.pre_transformer.norm",
    "speech_tokenizer.model.decoder.pre_transformer.rotary_emb.inv_freq",
    "speech_tokenizer.model.decoder.pre_transformer.rotary_emb.attention_scaling",
    "speech_tokenizer.model.decoder.pre_transformer.layers[0].input_layernorm",
    "speech_tokenizer.model.decoder.pre_transformer.layers[0].post_attention_layernorm",
    "speech_tokenizer.model.decoder.pre_transformer.layers[0].mlp",
    "speech_tokenizer.model.decoder.pre_transformer.layers[0].self_attn_layer_scale",
    "speech_tokenizer.model.decoder.pre_transformer.layers[0].mlp_layer_scale",
    "speech_tokenizer.model.decoder.pre_transformer.layers[0].self_attn.q_proj",
    "speech_tokenizer.model.decoder.pre_transformer.layers[0].self_attn.k_proj",
    "speech_tokenizer.model.decoder.pre_transformer.layers[0].self_attn.v_proj",
    "speech_tokenizer.model.decoder.pre_transformer.layers[0].self_attn.o_proj",
    "speech_tokenizer.model.decoder.pre_transformer.layers[0].self_attn.q_norm",
    "speech_tokenizer.model.decoder.pre_transformer.layers[0].self_attn.k_norm",
    "speech_tokenizer.model.decoder.pre_transformer.layers[0].self_attn.head_dim",
    "speech_tokenizer.model.decoder.pre_transformer.layers[0].self_attn.scaling",
    "speech_tokenizer.model.decoder.upsample",
    "speech_tokenizer.model.decoder.decoder",
)


def _package_versions() -> str:
    from importlib.metadata import PackageNotFoundError, version

    found = []
    for name in ("qwen-tts", "transformers"):
        try:
            found.append(f"{name} {version(name)}")
        except PackageNotFoundError:
            found.append(f"{name} (not installed)")
    return ", ".join(found)


def check_model_api(model: Any) -> None:
    """Raise a one-line :class:`ModelError` naming the first attribute of
    :data:`REQUIRED_ATTRIBUTES` that ``model`` (a Qwen3TTSForConditionalGeneration) lacks."""
    for path in REQUIRED_ATTRIBUTES:
        node = model
        for part in path.split("."):
            name, _, index = part.partition("[")
            if not hasattr(node, name):
                raise ModelError(
                    f"this qwen-tts model has no '{path}' ({_package_versions()}); "
                    "livevoice needs qwen-tts 0.1.1 with transformers 4.57.x"
                )
            node = getattr(node, name)
            if index:
                node = node[int(index.rstrip("]"))]


@dataclass(frozen=True, slots=True)
class VoicePrefix:
    """The text-independent start of the prompt for one voice, run through the talker once."""

    kv: Any
    """Keys and values of the prefix positions: ``(layers, 2, kv_heads, positions, head_dim)``."""
    codec_bos: Any
    """``codec_bos`` embedding ``(1, 1, hidden)``, added to the first text row."""

    @property
    def length(self) -> int:
        """Number of prompt positions."""
        return int(self.kv.shape[3])


def _rotate_half(x: torch.Tensor) -> torch.Tensor:
    import torch

    half = x.shape[-1] // 2
    return torch.cat((-x[..., half:], x[..., :half]), dim=-1)


def rotary_tables(
    inv_freq: torch.Tensor, scaling: float, positions: torch.Tensor, dtype: torch.dtype
) -> tuple[torch.Tensor, torch.Tensor]:
    """(cos, sin) ``(positions, head_dim)`` in ``dtype``: float32 products as the HF rotary module does."""
    import torch

    freqs = positions.float()[:, None] * inv_freq.float()[None, :]
    angles = torch.cat((freqs, freqs), dim=-1)
    return (angles.cos() * scaling).to(dtype), (angles.sin() * scaling).to(dtype)


def project_qkv(
    attention: Any, hidden: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor, n: int
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Queries, keys (normed, rotated) and values ``(1, heads, n, d)`` of one attention block."""
    dim = int(attention.head_dim)
    q = attention.q_norm(attention.q_proj(hidden).view(1, n, -1, dim)).transpose(1, 2)
    k = attention.k_norm(attention.k_proj(hidden).view(1, n, -1, dim)).transpose(1, 2)
    v = attention.v_proj(hidden).view(1, n, -1, dim).transpose(1, 2)
    return q * cos + _rotate_half(q) * sin, k * cos + _rotate_half(k) * sin, v


def attend(
    q: torch.Tensor, keys: torch.Tensor, values: torch.Tensor, visible: torch.Tensor | None, scale: float
) -> torch.Tensor:
    """Attention of ``q`` ``(1, q_heads, n, d)`` over ``keys``/``values`` ``(1, kv_heads, length, d)``.

    ``visible``: bool ``(n, length)`` (True = attend), or None for causal attention with
    ``n == length``. A single query is grouped by key/value head (``(1, kv_heads, group,
    d)``) so no key or value is copied; head ``j`` reads key/value head ``j // group``, as
    the models' ``repeat_kv`` does.
    """
    import torch.nn.functional as F

    _, q_heads, n, dim = q.shape
    kv_heads = keys.shape[1]
    group = q_heads // kv_heads
    if n == 1:
        mask = None if visible is None else visible.view(1, 1, 1, -1)
        out = F.scaled_dot_product_attention(
            q.reshape(1, kv_heads, group, dim), keys, values, attn_mask=mask, scale=scale
        )
        return out.reshape(1, q_heads, 1, dim)
    if group > 1:
        keys = keys.repeat_interleave(group, dim=1)
        values = values.repeat_interleave(group, dim=1)
    if visible is None:
        return F.scaled_dot_product_attention(q, keys, values, is_causal=True, scale=scale)
    return F.scaled_dot_product_attention(q, keys, values, attn_mask=visible.view(1, 1, n, -1), scale=scale)


class Qwen3Steps:
    """Step functions over a loaded qwen-tts ``Qwen3TTSForConditionalGeneration``.

    Stateless apart from constant tables: caches and buffers belong to the caller, so
    several streams can step the same (read-only) weights from different threads.
    """

    def __init__(self, model: Any, text_tokenizer: Any) -> None:
        import torch

        check_model_api(model)
        self.model = model
        self._text_tokenizer = text_tokenizer
        talker = model.talker
        config = model.config
        tc = config.talker_config
        self.talker_config = tc
        first = next(talker.parameters())
        self.device: torch.device = first.device
        self.dtype: torch.dtype = first.dtype
        self.hidden_size = int(tc.hidden_size)
        self.num_groups = int(tc.num_code_groups)
        self.vocab_size = int(tc.vocab_size)
        self.end_token = int(tc.codec_eos_token_id)
        self.suppressed_tokens = [
            i for i in range(self.vocab_size - 1024, self.vocab_size) if i != self.end_token
        ]
        """The special codec band qwen-tts never samples (all but the end token)."""
        attention = talker.model.layers[0].self_attn
        self.layers = len(talker.model.layers)
        self.head_dim = int(attention.head_dim)
        self.kv_heads = int(attention.k_proj.out_features) // self.head_dim
        self.window: int | None = tc.sliding_window
        predictor = talker.code_predictor
        p_attention = predictor.model.layers[0].self_attn
        self.predictor_layers = len(predictor.model.layers)
        self.predictor_head_dim = int(p_attention.head_dim)
        self.predictor_kv_heads = int(p_attention.k_proj.out_features) // self.predictor_head_dim
        self.predictor_vocab_size = int(predictor.lm_head[0].out_features)
        tokenizer_model = model.speech_tokenizer.model
        self.sample_rate = int(tokenizer_model.get_output_sample_rate())
        self.samples_per_frame = int(tokenizer_model.get_decode_upsample_rate())
        self.codec_decoder = tokenizer_model.decoder
        role = text_tokenizer(ROLE_PROMPT)["input_ids"]
        if len(role) != 3:
            raise ModelError(
                f"the model's text tokenizer splits the role prompt into {len(role)} tokens, not 3"
            )
        rotary = predictor.model.rotary_emb
        with torch.inference_mode():
            special = torch.tensor(
                [[config.tts_bos_token_id, config.tts_eos_token_id, config.tts_pad_token_id]],
                device=self.device,
            )
            rows = self.project_text(special)
            self.tts_bos, self.tts_eos, self.tts_pad = (r.clone() for r in rows.chunk(3, dim=1))
            self.role_rows = self.project_text(torch.tensor([role], device=self.device))
            positions = torch.arange(self.num_groups, device=self.device)
            self._predictor_cos, self._predictor_sin = rotary_tables(
                rotary.inv_freq, float(rotary.attention_scaling), positions, self.dtype
            )

    # ------------------------------------------------------------- text and codec rows

    @property
    def talker(self) -> Any:
        return self.model.talker

    def tokenize(self, text: str) -> list[int]:
        """Token ids of ``text`` as qwen-tts tokenizes it inside the assistant prompt."""
        prompt = f"<|im_start|>assistant\n{text}<|im_end|>\n<|im_start|>assistant\n"
        ids: list[int] = self._text_tokenizer(prompt)["input_ids"]
        return ids[3:-5]

    def project_text(self, ids: torch.Tensor) -> torch.Tensor:
        """Text-track rows ``(1, n, hidden)`` for token ids ``(1, n)``."""
        return self.talker.text_projection(self.talker.get_text_embeddings()(ids))

    def codec_rows(self, ids: list[int]) -> torch.Tensor:
        """Codec-track rows ``(1, n, hidden)`` for codec ids."""
        import torch

        return self.talker.get_input_embeddings()(torch.tensor([ids], device=self.device))

    def codec_embed(self, code: torch.Tensor) -> torch.Tensor:
        """Embedding ``(1, 1, hidden)`` of a codebook-0 token ``(1, 1)``."""
        return self.talker.get_input_embeddings()(code)

    def prefix_rows(self, embedding: torch.Tensor, language: str) -> tuple[torch.Tensor, torch.Tensor]:
        """The prompt rows before the text ``(1, P, hidden)`` and the ``codec_bos`` row ``(1, 1, hidden)``.

        Role tokens, then the codec track ``[think/nothink, think_bos, (language),
        think_eos]``, the speaker embedding as one position and ``codec_pad``, each summed
        with ``tts_pad`` (the last with ``tts_bos``): qwen-tts's x-vector-only prompt.
        """
        import torch

        tc = self.talker_config
        if language == "auto":
            tags = [tc.codec_nothink_id, tc.codec_think_bos_id, tc.codec_think_eos_id]
        else:
            tags = [
                tc.codec_think_id,
                tc.codec_think_bos_id,
                tc.codec_language_id[language],
                tc.codec_think_eos_id,
            ]
        codec = torch.cat(
            [
                self.codec_rows(tags),
                embedding.view(1, 1, -1),
                self.codec_rows([tc.codec_pad_id, tc.codec_bos_id]),
            ],
            dim=1,
        )
        text_track = torch.cat([self.tts_pad.expand(-1, codec.shape[1] - 2, -1), self.tts_bos], dim=1)
        return torch.cat([self.role_rows, text_track + codec[:, :-1]], dim=1), codec[:, -1:]

    def voice_prefix(self, embedding: torch.Tensor, language: str) -> VoicePrefix:
        """Run the prompt rows of a voice through the talker once (eager) and keep their keys/values."""
        import torch

        rows, codec_bos = self.prefix_rows(embedding, language)
        length = rows.shape[1]
        if length > PREFIX_MAX_POSITIONS:
            raise ModelError(f"the voice prompt has {length} positions, more than {PREFIX_MAX_POSITIONS}")
        kv = self.talker_cache(length)
        self.talker_forward(rows, kv, torch.arange(length, device=self.device))
        return VoicePrefix(kv=kv, codec_bos=codec_bos)

    # -------------------------------------------------------------------- talker

    def talker_cache(self, positions: int) -> torch.Tensor:
        """A zeroed talker key/value cache ``(layers, 2, kv_heads, positions, head_dim)``."""
        import torch

        return torch.zeros(
            (self.layers, 2, self.kv_heads, positions, self.head_dim), dtype=self.dtype, device=self.device
        )

    def talker_forward(self, rows: torch.Tensor, kv: torch.Tensor, positions: torch.Tensor) -> torch.Tensor:
        """The talker over ``rows`` ``(1, n, hidden)`` at ``positions`` (long ``(n,)``, on the device).

        Writes their keys/values into ``kv`` at ``positions`` and attends to every cached
        position up to each row's own (within the sliding window, if the model has one).
        Returns the final-norm hidden states ``(1, n, hidden)``.
        """
        import torch

        talker = self.talker.model
        n = rows.shape[1]
        columns = torch.arange(kv.shape[3], device=self.device)
        visible = columns[None, :] <= positions[:, None]
        if self.window is not None:
            visible = visible & (columns[None, :] > positions[:, None] - self.window)
        rotary = talker.rotary_emb
        cos, sin = rotary_tables(rotary.inv_freq, float(rotary.attention_scaling), positions, self.dtype)
        hidden = rows
        for index, layer in enumerate(talker.layers):
            hidden = self._layer(layer, hidden, cos, sin, kv[index], positions, visible, n)
        out: torch.Tensor = talker.norm(hidden)
        return out

    def codec_logits(self, hidden: torch.Tensor) -> torch.Tensor:
        """Codebook-0 logits ``(1, vocab)`` from the talker hidden state ``(1, 1, hidden)``."""
        out: torch.Tensor = self.talker.codec_head(hidden)[:, -1]
        return out

    def _layer(
        self,
        layer: Any,
        hidden: torch.Tensor,
        cos: torch.Tensor,
        sin: torch.Tensor,
        kv: torch.Tensor,
        positions: torch.Tensor,
        visible: torch.Tensor,
        n: int,
    ) -> torch.Tensor:
        """One decoder layer; its keys/values go into ``kv`` ``(2, kv_heads, length, d)`` at ``positions``."""
        attention = layer.self_attn
        q, k, v = project_qkv(attention, layer.input_layernorm(hidden), cos, sin, n)
        keys, values = kv[0].unsqueeze(0), kv[1].unsqueeze(0)
        keys.index_copy_(2, positions, k)
        values.index_copy_(2, positions, v)
        out = attend(q, keys, values, visible, float(attention.scaling))
        hidden = hidden + attention.o_proj(out.transpose(1, 2).reshape(1, n, -1))
        result: torch.Tensor = hidden + layer.mlp(layer.post_attention_layernorm(hidden))
        return result

    # --------------------------------------------------------------- code predictor

    def predictor_cache(self) -> torch.Tensor:
        """A code-predictor key/value cache ``(layers, 2, kv_heads, 16, head_dim)``: one frame's positions."""
        import torch

        return torch.zeros(
            (self.predictor_layers, 2, self.predictor_kv_heads, self.num_groups, self.predictor_head_dim),
            dtype=self.dtype,
            device=self.device,
        )

    def predictor_forward(self, rows: torch.Tensor, kv: torch.Tensor, start: int) -> torch.Tensor:
        """The code predictor over ``rows`` ``(1, n, talker hidden)`` at positions ``start..start+n-1``.

        ``start`` is a Python int (a frame always runs positions 0-15 in the same order, so
        the slices are the same at every replay). Several rows only at ``start == 0``
        (causal). Returns the final-norm hidden states ``(1, n, predictor hidden)``.
        """
        predictor = self.talker.code_predictor
        hidden = predictor.small_to_mtp_projection(rows)
        n = hidden.shape[1]
        end = start + n
        if n > 1 and start != 0:
            raise ValueError("several predictor rows are only run from position 0")
        cos, sin = self._predictor_cos[start:end], self._predictor_sin[start:end]
        for index, layer in enumerate(predictor.model.layers):
            attention = layer.self_attn
            q, k, v = project_qkv(attention, layer.input_layernorm(hidden), cos, sin, n)
            keys, values = kv[index, 0].unsqueeze(0), kv[index, 1].unsqueeze(0)
            keys[:, :, start:end].copy_(k)
            values[:, :, start:end].copy_(v)
            window = attention.sliding_window
            low = max(0, end - int(window)) if window is not None and n == 1 else 0
            out = attend(q, keys[:, :, low:end], values[:, :, low:end], None, float(attention.scaling))
            hidden = hidden + attention.o_proj(out.transpose(1, 2).reshape(1, n, -1))
            hidden = hidden + layer.mlp(layer.post_attention_layernorm(hidden))
        result: torch.Tensor = predictor.model.norm(hidden)
        return result

    def predictor_logits(self, hidden: torch.Tensor, group: int) -> torch.Tensor:
        """Logits ``(1, codebook size)`` of codebook ``group + 1`` from a predictor state ``(1, hidden)``."""
        out: torch.Tensor = self.talker.code_predictor.lm_head[group](hidden)
        return out

    def predictor_embed(self, code: torch.Tensor, group: int) -> torch.Tensor:
        """Embedding ``(1, 1, talker hidden)`` of the token ``(1, 1)`` of codebook ``group + 1``."""
        out: torch.Tensor = self.talker.code_predictor.get_input_embeddings()[group](code)
        return out

    # ------------------------------------------------------------------ speaker

    def speaker_embedding(self, samples: np.ndarray, sample_rate: int) -> torch.Tensor:
        """The speaker encoder's embedding of float32 mono audio at ``sample_rate`` (24 kHz)."""
        out: torch.Tensor = self.model.extract_speaker_embedding(samples, sample_rate)
        return out


__all__ = [
    "PREFIX_MAX_POSITIONS",
    "REQUIRED_ATTRIBUTES",
    "ROLE_PROMPT",
    "Qwen3Steps",
    "VoicePrefix",
    "check_model_api",
]
