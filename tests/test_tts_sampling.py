"""Sampling options and the device-side token choice, checked against the transformers processors."""

from __future__ import annotations

from typing import Any

import pytest
import torch

from livevoice.errors import ConfigError
from livevoice.tts.sampling import SamplingOptions, TokenPicker, resolve_sampling


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


def reference_scores(
    logits: torch.Tensor,
    history: torch.Tensor,
    *,
    do_sample: bool,
    temperature: float,
    top_k: int,
    top_p: float,
    repetition_penalty: float = 1.0,
    suppress_tokens: list[int] | None = None,
    end_token: int | None = None,
    min_new_tokens: int = 0,
) -> torch.Tensor:
    """What qwen-tts's generate does: the transformers logits processors, in generate's order."""
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
    if min_new_tokens and end_token is not None:
        processors.append(MinNewTokensLengthLogitsProcessor(0, min_new_tokens, end_token, device="cpu"))
    if suppress_tokens:
        processors.append(SuppressTokensLogitsProcessor(suppress_tokens, device="cpu"))
    if do_sample:
        if temperature != 1.0:
            processors.append(TemperatureLogitsWarper(temperature))
        if top_k:
            processors.append(TopKLogitsWarper(top_k=top_k))
        if top_p < 1.0:
            processors.append(TopPLogitsWarper(top_p=top_p))
    out: torch.Tensor = processors(history, logits.float())  # type: ignore[arg-type]
    return out


SETTINGS = [
    {"do_sample": False, "temperature": 1.0, "top_k": 0, "top_p": 1.0},
    {"do_sample": True, "temperature": 0.9, "top_k": 50, "top_p": 1.0},
    {"do_sample": True, "temperature": 0.7, "top_k": 0, "top_p": 0.8},
    {"do_sample": True, "temperature": 1.3, "top_k": 5, "top_p": 0.5},
]


@pytest.mark.parametrize("settings", SETTINGS)
@pytest.mark.parametrize("generated", [0, 1, 2, 7])
def test_device_scores_equal_the_transformers_processors(settings: dict[str, Any], generated: int) -> None:
    vocab, end = 96, 70
    rules = {"repetition_penalty": 1.05, "suppress_tokens": list(range(64, 96)), "end_token": end}
    rng = torch.Generator().manual_seed(generated)
    for _ in range(20):
        logits = 3 * torch.randn(1, vocab, generator=rng)
        history = torch.randint(0, vocab, (1, generated), generator=rng)
        expected = reference_scores(logits, history, **settings, **rules, min_new_tokens=2)
        picker = TokenPicker(vocab_size=vocab, **settings, **rules, min_new_tokens=2)
        seen = torch.zeros(vocab, dtype=torch.bool)
        seen[history.view(-1)] = True
        got = picker.scores(logits, seen, torch.tensor([generated]), torch.tensor([True]))
        torch.testing.assert_close(got, expected, rtol=0, atol=0)
        plain = {**settings, "do_sample": False}
        greedy = TokenPicker(vocab_size=vocab, **plain, **rules, min_new_tokens=2)
        chosen = greedy.choose(logits, None, seen, torch.tensor([generated]), torch.tensor([True]))
        best = reference_scores(logits, history, **plain, **rules, min_new_tokens=2).argmax()
        assert int(chosen) == int(best)


def test_repetition_penalty_turns_the_greedy_choice() -> None:
    logits = torch.tensor([[2.0, 1.99, 0.0]])
    seen = torch.tensor([True, False, False])
    plain = TokenPicker(vocab_size=3, do_sample=False, temperature=1.0, top_k=0, top_p=1.0)
    penalised = TokenPicker(
        vocab_size=3, do_sample=False, temperature=1.0, top_k=0, top_p=1.0, repetition_penalty=1.05
    )
    assert plain.choose(logits, None, seen).tolist() == [[0]]
    assert penalised.choose(logits, None, seen).tolist() == [[1]]


def test_end_token_is_held_back_before_min_new_tokens_or_when_not_allowed_and_band_always() -> None:
    logits = torch.tensor([[0.0, 0.1, 5.0, 9.0]])  # 2 = end token, 3 = special band
    picker = TokenPicker(
        vocab_size=4,
        do_sample=False,
        temperature=1.0,
        top_k=0,
        top_p=1.0,
        suppress_tokens=[3],
        end_token=2,
        min_new_tokens=2,
    )
    yes, no = torch.tensor([True]), torch.tensor([False])
    assert picker.choose(logits, None, None, torch.tensor([1]), yes).tolist() == [[1]]
    assert picker.choose(logits, None, None, torch.tensor([2]), yes).tolist() == [[2]]
    assert picker.choose(logits, None, None, torch.tensor([2]), no).tolist() == [[1]]


def test_sampling_is_reproducible_with_a_seed_follows_the_distribution_and_top_k_one_is_argmax() -> None:
    logits = torch.randn(1, 50, generator=torch.Generator().manual_seed(0))
    wide = TokenPicker(vocab_size=50, do_sample=True, temperature=0.9, top_k=50, top_p=1.0)
    draws = []
    for _ in range(2):
        gen = torch.Generator().manual_seed(5)
        draws.append([int(wide.choose(logits, gen)) for _ in range(20)])
    assert draws[0] == draws[1]
    assert len(set(draws[0])) > 1
    narrow = TokenPicker(vocab_size=50, do_sample=True, temperature=0.9, top_k=1, top_p=1.0)
    gen = torch.Generator().manual_seed(5)
    assert {int(narrow.choose(logits, gen)) for _ in range(10)} == {int(logits.argmax())}
    # The exponential race draws token i with probability softmax(scores)_i: compare the
    # frequencies of 20000 draws with the probabilities (a 6-sigma band per token).
    three = torch.tensor([[0.0, 1.0, 2.0]])
    picker = TokenPicker(vocab_size=3, do_sample=True, temperature=1.0, top_k=0, top_p=1.0)
    gen = torch.Generator().manual_seed(9)
    counts = torch.bincount(torch.cat([picker.choose(three, gen).view(1) for _ in range(20000)]), minlength=3)
    probs = torch.softmax(three, dim=-1)[0]
    sigma = torch.sqrt(probs * (1 - probs) / 20000)
    assert torch.all((counts / 20000 - probs).abs() < 6 * sigma)
