"""The decode schedule, the context across utterances and the loop guard: pure code."""

from __future__ import annotations

import pytest

from livevoice.asr.context import SpokenContext, repetition_start
from livevoice.asr.schedule import CostEstimate, DecodePolicy, PassKind, auto_step_ms

POLICY = DecodePolicy(step_ms=300, min_first_decode_ms=1000, end_silence_ms=250, close_after_ms=96)


def next_pass(
    *,
    buffer_ms: float = 2000,
    unseen_ms: float = 400,
    unheard_ms: float = 400,
    silence_ms: int = 0,
    cost_ms: float | None = 100,
) -> PassKind | None:
    return POLICY.next_pass(
        buffer_ms=buffer_ms,
        unseen_ms=unseen_ms,
        unheard_speech_ms=unheard_ms,
        trailing_silence_ms=silence_ms,
        cost_ms=cost_ms,
    )


def test_intermediate_passes_need_a_step_of_new_audio_and_a_first_second() -> None:
    assert next_pass() is PassKind.INTERMEDIATE
    assert next_pass(unseen_ms=299) is None
    assert next_pass(buffer_ms=999, unseen_ms=999) is None
    assert next_pass(cost_ms=None) is PassKind.INTERMEDIATE  # nothing measured yet


def test_an_intermediate_pass_must_be_over_before_the_vad_can_end_the_utterance() -> None:
    # 64 ms of silence: 186 ms before the VAD's 250 ms end; a 150 ms pass fits, a 200 ms one does not
    assert next_pass(silence_ms=64, cost_ms=150) is PassKind.INTERMEDIATE
    assert next_pass(silence_ms=64, cost_ms=200) is None
    # while the speaker talks, even a slow pass is allowed (or nothing would commit before the end)
    assert next_pass(silence_ms=0, cost_ms=900) is PassKind.INTERMEDIATE
    assert next_pass(silence_ms=32, cost_ms=900) is None


def test_a_pause_brings_one_closing_pass_over_all_the_speech() -> None:
    assert next_pass(silence_ms=96, unseen_ms=10, unheard_ms=50, cost_ms=900) is PassKind.CLOSING
    assert next_pass(silence_ms=96, buffer_ms=300, unseen_ms=300, unheard_ms=200) is PassKind.CLOSING
    # the last pass already heard every bit of speech: nothing more before the end
    assert next_pass(silence_ms=160, unseen_ms=100, unheard_ms=0) is None
    assert next_pass(silence_ms=160, unseen_ms=100, unheard_ms=-60) is None


def test_cost_estimate_follows_the_recent_decodes() -> None:
    cost = CostEstimate(smoothing=0.5)
    assert cost.ms is None
    cost.add(100)
    assert cost.ms == 100
    cost.add(300)
    assert cost.ms == 200
    cost.add(200)
    assert cost.ms == 200


def test_auto_step_is_shorter_on_a_gpu() -> None:
    assert auto_step_ms("cuda") < auto_step_ms("cpu")


@pytest.mark.parametrize(
    ("words", "cut"),
    [
        ("can you hear me oh oh oh oh oh", 5),
        ("thank you thank you thank you", 2),
        ("please send it thank you. Thank you, thank you!", 5),
        ("my favourite colour is blue and my favourite colour is blue and my favourite colour is", 6),
        ("can you hear me clearly? Can you hear me clearly? Can you", 5),
        ("a b c d a b c d a b c d", 4),
        ("a b c d a b c d", None),
        ("we said it twice and then we said it again", None),
        ("no no we said no", None),
        ("the the", None),
        ("", None),
    ],
)
def test_repetition_start_finds_three_copies_or_two_long_ones(words: str, cut: int | None) -> None:
    assert repetition_start(words.split()) == cut


def test_context_is_the_tail_of_what_was_said_while_fresh() -> None:
    context = SpokenContext(max_chars=30, reset_after_s=10.0)
    assert context.prompt(0.0) is None
    context.remember("Good evening and welcome.", end_s=2.0)
    assert context.prompt(3.0) == "Good evening and welcome."
    context.remember("Tonight we are playing a racing game.", end_s=6.0)
    prompt = context.prompt(7.0)
    assert prompt is not None and len(prompt) <= 30
    assert prompt == "we are playing a racing game."  # cut at a word, never mid-word
    assert context.prompt(16.5) is None  # 10.5 s after the last utterance: forgotten
    assert context.prompt(7.0) is None  # and stays forgotten


def test_context_drop_and_off() -> None:
    context = SpokenContext(max_chars=100, reset_after_s=10.0)
    context.remember("Hello there.", end_s=1.0)
    context.drop()
    assert context.prompt(1.5) is None
    off = SpokenContext(max_chars=0, reset_after_s=10.0)
    off.remember("Hello there.", end_s=1.0)
    assert off.prompt(1.5) is None
    context.remember("   ", end_s=2.0)
    assert context.prompt(2.5) is None
