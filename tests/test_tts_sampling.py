"""Sampling options resolution and token choice (transformers logits processors, no model)."""

from __future__ import annotations

from typing import Any

import pytest
import torch

from livevoice.errors import ConfigError
from livevoice.tts.sampling import SamplingOptions, build_processors, choose_token, resolve_sampling


def test_overrides_beat_generation_config_which_beats_defaults() -> None:
    options = resolve_sampling({"temperature": 0.7, "top_k": 30}, {"top_k": 5, "do_sample": False})
    assert options.temperature == 0.7
    assert options.top_k == 5
    assert options.do_sample is False
    assert options.repetition_penalty == SamplingOptions().repetition_penalty


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"temprature": 0.5}, "unknown sampling option 'temprature'"),
        ({"top_k": 2.5}, "top_k = 2.5 is not a valid int"),
        ({"do_sample": "yes"}, "do_sample = 'yes' is not a valid bool"),
        ({"temperature": 0}, "temperatures must be greater than 0"),
    ],
)
def test_bad_overrides_are_one_line_config_errors(overrides: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        resolve_sampling(None, overrides)


def greedy(**kwargs: Any) -> Any:
    return build_processors(do_sample=False, temperature=1.0, top_k=0, top_p=1.0, **kwargs)


def test_repetition_penalty_turns_the_greedy_choice() -> None:
    logits = torch.tensor([[2.0, 1.99, 0.0]])
    history = torch.tensor([[0]])
    plain = choose_token(logits, history, greedy(), do_sample=False, generator=None)
    penalised = choose_token(
        logits, history, greedy(repetition_penalty=1.05), do_sample=False, generator=None
    )
    assert plain.tolist() == [[0]]
    assert penalised.tolist() == [[1]]


def test_end_token_is_suppressed_before_min_new_tokens_and_band_always() -> None:
    logits = torch.tensor([[0.0, 0.1, 5.0, 9.0]])  # 2 = end token, 3 = special band
    processors = greedy(suppress_tokens=[3], eos_token_id=2, min_new_tokens=2)
    early = choose_token(logits, torch.tensor([[1]]), processors, do_sample=False, generator=None)
    later = choose_token(logits, torch.tensor([[1, 1]]), processors, do_sample=False, generator=None)
    assert early.tolist() == [[1]]
    assert later.tolist() == [[2]]


def test_sampling_is_reproducible_with_a_seed_and_top_k_one_is_argmax() -> None:
    logits = torch.randn(1, 50, generator=torch.Generator().manual_seed(0))
    history = torch.zeros((1, 0), dtype=torch.long)
    wide = build_processors(do_sample=True, temperature=0.9, top_k=50, top_p=1.0)
    draws = []
    for _ in range(2):
        gen = torch.Generator().manual_seed(5)
        draws.append(
            [int(choose_token(logits, history, wide, do_sample=True, generator=gen)) for _ in range(20)]
        )
    assert draws[0] == draws[1]
    assert len(set(draws[0])) > 1
    narrow = build_processors(do_sample=True, temperature=0.9, top_k=1, top_p=1.0)
    gen = torch.Generator().manual_seed(5)
    picks = {int(choose_token(logits, history, narrow, do_sample=True, generator=gen)) for _ in range(10)}
    assert picks == {int(logits.argmax())}
