"""Sampling settings and the per-step token choice of the Qwen3-TTS streaming loop.

The defaults come from the model's ``generation_config.json`` (what qwen-tts's own
``generate`` uses) and can be overridden key by key. Token choice reuses the
transformers logits processors in the order ``generate`` applies them (repetition
penalty, minimum new tokens, suppressed tokens, then temperature / top-k / top-p when
sampling), so with greedy decoding the streaming loop picks exactly what ``generate``
picks.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from livevoice.errors import ConfigError

if TYPE_CHECKING:
    import torch
    from transformers import LogitsProcessorList

# qwen-tts's fallbacks when generation_config.json lacks a key (Qwen3TTSModel._merge_generate_kwargs).
QWEN_TTS_DEFAULTS: dict[str, Any] = {
    "do_sample": True,
    "top_k": 50,
    "top_p": 1.0,
    "temperature": 0.9,
    "repetition_penalty": 1.05,
    "subtalker_dosample": True,
    "subtalker_top_k": 50,
    "subtalker_top_p": 1.0,
    "subtalker_temperature": 0.9,
    "max_new_tokens": 2048,
}


@dataclass(frozen=True, slots=True)
class SamplingOptions:
    """How codec tokens are chosen. Field names follow qwen-tts's generation config."""

    do_sample: bool = True
    """Sample codebook 0 (the talker); False = greedy."""
    top_k: int = 50
    """Talker: keep the k most likely tokens (0 = all)."""
    top_p: float = 1.0
    """Talker: nucleus probability mass (1.0 = all)."""
    temperature: float = 0.9
    """Talker: softmax temperature."""
    repetition_penalty: float = 1.05
    """Talker: penalty on codebook-0 tokens already generated in the phrase (1.0 = none)."""
    subtalker_dosample: bool = True
    """Sample codebooks 1-15 (the code predictor); False = greedy."""
    subtalker_top_k: int = 50
    """Code predictor: top-k."""
    subtalker_top_p: float = 1.0
    """Code predictor: top-p."""
    subtalker_temperature: float = 0.9
    """Code predictor: temperature."""
    max_new_tokens: int = 2048
    """Most codec frames in one phrase (80 ms each) before it is cut."""


def resolve_sampling(
    generation_config: Mapping[str, Any] | None, overrides: Mapping[str, Any] | None = None
) -> SamplingOptions:
    """Sampling options: ``overrides``, else the model's generation config, else qwen-tts's defaults.

    An unknown override key or a value of the wrong type raises :class:`ConfigError`.
    """
    fields = {f.name: f for f in dataclasses.fields(SamplingOptions)}
    values: dict[str, Any] = {}
    for name in fields:
        if overrides is not None and overrides.get(name) is not None:
            values[name] = overrides[name]
        elif generation_config is not None and name in generation_config:
            values[name] = generation_config[name]
        else:
            values[name] = QWEN_TTS_DEFAULTS[name]
    for name in overrides or {}:
        if name not in fields:
            raise ConfigError(f"unknown sampling option {name!r}; options: {', '.join(fields)}")
    for name, value in values.items():
        default = QWEN_TTS_DEFAULTS[name]
        if isinstance(default, bool):
            ok = isinstance(value, bool)
        elif isinstance(default, int):
            ok = isinstance(value, int) and not isinstance(value, bool) and value >= 0
        else:
            ok = isinstance(value, int | float) and not isinstance(value, bool) and value >= 0
            values[name] = float(value)
        if not ok:
            raise ConfigError(f"sampling option {name} = {value!r} is not a valid {type(default).__name__}")
    if values["temperature"] <= 0 or values["subtalker_temperature"] <= 0:
        raise ConfigError("sampling temperatures must be greater than 0 (use do_sample=false for greedy)")
    if values["max_new_tokens"] < 1:
        raise ConfigError("sampling option max_new_tokens must be at least 1")
    return SamplingOptions(**values)


def build_processors(
    *,
    do_sample: bool,
    temperature: float,
    top_k: int,
    top_p: float,
    repetition_penalty: float = 1.0,
    suppress_tokens: list[int] | None = None,
    eos_token_id: int | None = None,
    min_new_tokens: int = 0,
    device: str | torch.device = "cpu",
) -> LogitsProcessorList:
    """The transformers logits processors ``generate`` would apply, in its order."""
    from transformers import (
        LogitsProcessorList,
        MinNewTokensLengthLogitsProcessor,
        RepetitionPenaltyLogitsProcessor,
        SuppressTokensLogitsProcessor,
        TemperatureLogitsWarper,
        TopKLogitsWarper,
        TopPLogitsWarper,
    )

    processors = LogitsProcessorList()
    if repetition_penalty != 1.0:
        processors.append(RepetitionPenaltyLogitsProcessor(penalty=repetition_penalty))
    if min_new_tokens > 0 and eos_token_id is not None:
        processors.append(
            MinNewTokensLengthLogitsProcessor(
                prompt_length_to_skip=0,
                min_new_tokens=min_new_tokens,
                eos_token_id=eos_token_id,
                device=str(device),
            )
        )
    if suppress_tokens:
        processors.append(SuppressTokensLogitsProcessor(suppress_tokens, device=str(device)))
    if do_sample:
        if temperature != 1.0:
            processors.append(TemperatureLogitsWarper(temperature))
        if top_k != 0:
            processors.append(TopKLogitsWarper(top_k=top_k, min_tokens_to_keep=1))
        if top_p < 1.0:
            processors.append(TopPLogitsWarper(top_p=top_p, min_tokens_to_keep=1))
    return processors


def choose_token(
    logits: torch.Tensor,
    history: torch.Tensor,
    processors: LogitsProcessorList,
    *,
    do_sample: bool,
    generator: torch.Generator | None,
) -> torch.Tensor:
    """Pick the next token, shape ``(1, 1)``, from ``logits`` ``(1, vocab)``.

    ``history`` ``(1, n)`` holds the tokens chosen so far (for repetition penalty and
    minimum length). Greedy takes the arg-max; sampling draws from the softmax with
    ``generator``.
    """
    import torch

    scores = processors(history, logits.float())  # type: ignore[arg-type]
    if do_sample:
        probs = torch.softmax(scores, dim=-1)
        return torch.multinomial(probs, num_samples=1, generator=generator)
    return torch.argmax(scores, dim=-1, keepdim=True)


__all__ = ["SamplingOptions", "build_processors", "choose_token", "resolve_sampling"]
