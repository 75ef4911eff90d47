"""Sampling settings and the per-step token choice of the Qwen3-TTS streaming loop.

The defaults come from the model's ``generation_config.json`` (what qwen-tts's own
``generate`` uses) and can be overridden key by key. :class:`TokenPicker` applies them with
torch operations on the model's device, in the order ``generate``'s logits processors do
(repetition penalty, minimum new tokens, suppressed tokens, then temperature / top-k /
top-p when sampling), so with greedy decoding the streaming loop picks exactly what
``generate`` picks, and the whole choice can live inside a captured CUDA graph.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from livevoice.errors import ConfigError

if TYPE_CHECKING:
    import torch

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


class TokenPicker:
    """Chooses one token from logits with torch operations only, on the logits' device.

    What qwen-tts's ``generate`` does through transformers logits processors, in the same
    order (repetition penalty, end token held back, suppressed ids, then temperature,
    top-k and top-p when sampling), but without any host round trip, Python decision on a
    tensor value or allocation of a size that depends on data: every call issues the same
    kernels, so it can be captured in a CUDA graph and replayed. The tests check it
    against the transformers processors score for score.

    Sampling draws from the softmax by the exponential race (``argmax(p / E)`` with
    ``E ~ Exp(1)``), which picks token *i* with probability *p_i* like ``multinomial`` but
    needs no host synchronisation; the random numbers come from the caller's generator.
    """

    def __init__(
        self,
        *,
        vocab_size: int,
        do_sample: bool,
        temperature: float,
        top_k: int,
        top_p: float,
        repetition_penalty: float = 1.0,
        suppress_tokens: list[int] | None = None,
        end_token: int | None = None,
        min_new_tokens: int = 0,
        device: str | torch.device = "cpu",
    ) -> None:
        import torch

        self.vocab_size = vocab_size
        self.do_sample = do_sample
        self.temperature = temperature
        self.top_k = min(top_k, vocab_size) if top_k > 0 else 0
        self.top_p = top_p
        self.repetition_penalty = repetition_penalty
        self.min_new_tokens = min_new_tokens
        self.end_token = end_token
        suppress = torch.zeros(vocab_size, dtype=torch.bool)
        if suppress_tokens:
            suppress[torch.tensor(suppress_tokens, dtype=torch.long)] = True
        self._suppress = suppress.to(device) if suppress_tokens else None
        end = torch.zeros(vocab_size, dtype=torch.bool)
        if end_token is not None:
            end[end_token] = True
        self._end = end.to(device) if end_token is not None else None

    def scores(
        self,
        logits: torch.Tensor,
        seen: torch.Tensor | None = None,
        generated: torch.Tensor | None = None,
        allow_end: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """The processed float32 scores ``(1, vocab)`` from which :meth:`pick` chooses.

        ``seen``: bool ``(vocab,)``, the tokens already chosen in this phrase (repetition
        penalty). ``generated``: long ``(1,)``, how many tokens were chosen so far (the end
        token is held back while fewer than ``min_new_tokens``). ``allow_end``: bool
        ``(1,)``; False holds the end token back too.
        """
        import torch

        scores = logits.float()
        if self.repetition_penalty != 1.0 and seen is not None:
            penalised = torch.where(
                scores < 0, scores * self.repetition_penalty, scores / self.repetition_penalty
            )
            scores = torch.where(seen, penalised, scores)
        if self._end is not None:
            block = torch.zeros(1, dtype=torch.bool, device=scores.device)
            if generated is not None and self.min_new_tokens > 0:
                block = block | (generated < self.min_new_tokens)
            if allow_end is not None:
                block = block | ~allow_end
            scores = scores.masked_fill(self._end & block, float("-inf"))
        if self._suppress is not None:
            scores = scores.masked_fill(self._suppress, float("-inf"))
        if not self.do_sample:
            return scores
        if self.temperature != 1.0:
            scores = scores / self.temperature
        if self.top_k:
            kth = torch.topk(scores, self.top_k, dim=-1).values[..., -1:]
            scores = scores.masked_fill(scores < kth, float("-inf"))
        if self.top_p < 1.0:
            ordered, order = torch.sort(scores, descending=False, dim=-1)
            cumulative = ordered.softmax(dim=-1).cumsum(dim=-1)
            drop = cumulative <= (1 - self.top_p)
            drop[..., -1:] = False
            scores = scores.masked_fill(drop.scatter(-1, order, drop), float("-inf"))
        return scores

    def pick(self, scores: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
        """The chosen token ``(1, 1)`` (long): arg-max, or a draw from ``softmax(scores)``."""
        import torch

        if not self.do_sample:
            return torch.argmax(scores, dim=-1, keepdim=True)
        probs = torch.softmax(scores, dim=-1)
        race = torch.empty_like(probs).exponential_(generator=generator).clamp_min_(1e-30)
        return torch.argmax(probs / race, dim=-1, keepdim=True)

    def choose(
        self,
        logits: torch.Tensor,
        generator: torch.Generator | None,
        seen: torch.Tensor | None = None,
        generated: torch.Tensor | None = None,
        allow_end: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """:meth:`scores` then :meth:`pick`: the token ``(1, 1)`` for ``logits`` ``(1, vocab)``."""
        return self.pick(self.scores(logits, seen, generated, allow_end), generator)


__all__ = ["SamplingOptions", "TokenPicker", "resolve_sampling"]
