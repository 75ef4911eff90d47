"""Disfluency clean-up: fillers and repetitions out, the rest untouched and well formed."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from livevoice.config import TextConfig
from livevoice.frames import Word
from livevoice.text.disfluency import DisfluencyCleaner, reduce_word
from livevoice.text.tokens import ends_clause, ends_sentence, key


def words(text: str) -> list[Word]:
    return [Word(w, i * 0.25, i * 0.25 + 0.2) for i, w in enumerate(text.split())]


def clean(text: str, previous: str | None = None, fillers: tuple[str, ...] | None = None) -> str:
    cleaner = DisfluencyCleaner() if fillers is None else DisfluencyCleaner(fillers)
    before = Word(previous, -1.0, -0.5) if previous is not None else None
    return " ".join(w.text for w in cleaner.clean(words(text), before))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # fillers, with their punctuation, and the capital of a sentence start kept
        ("Um, I want to go.", "I want to go."),
        ("Uh, the cat sat.", "The cat sat."),
        ("Ummm, hmmm. Okay", "Okay"),
        ("I went there, um.", "I went there."),
        ("so, um.", "so."),
        ("Is it, uh?", "Is it?"),
        ("I think, um, we should", "I think, we should"),
        ("UH um erm er ah hmm uhm", ""),
        # words that only look like fillers stay
        ("uh-huh, mm-hmm, umbrella, hum, ahead, her", "uh-huh, mm-hmm, umbrella, hum, ahead, her"),
        # immediate whole-word repetitions
        ("I I I want", "I want"),
        ("the the cat", "the cat"),
        ("The the cat", "The cat"),
        ("It was me, me, me, but really nice.", "It was me, but really nice."),
        ("I, I think so", "I think so"),
        ("I... I don't know", "I don't know"),
        ("Well— well, fine", "Well, fine"),
        ("go to the the the shop.", "go to the shop."),
        ("I I, um, I want", "I want"),
        # ...but not across a sentence end, ; or :
        ("No. No.", "No. No."),
        ("Stop! Stop!", "Stop! Stop!"),
        ("this; this", "this; this"),
        # part-word repetitions as Whisper writes them
        ("th- the cat", "the cat"),
        ("Th- the cat", "The cat"),
        ("I- I want", "I want"),
        ("I went to the sh- shop", "I went to the shop"),
        ("b-b-but why", "but why"),
        ("B-b-but why", "But why"),
        ("s-sorry, I-I mean", "sorry, I mean"),
        ("B -b -but why", "But why"),
        ("wh- um what", "what"),
        ("th- um, the the cat", "the cat"),
        # broken-off words that do not begin the next word, and compounds, stay
        ("I went to th- to the shop", "I went to th- to the shop"),
        (
            "bye-bye, so-so, x-ray, e-mail, co-op, well-being",
            "bye-bye, so-so, x-ray, e-mail, co-op, well-being",
        ),
        ("COVID -19 and D -H", "COVID -19 and D -H"),
        # clean text is left alone
        ("Hello everyone, today we talk.", "Hello everyone, today we talk."),
        ("", ""),
    ],
)
def test_clean(text: str, expected: str) -> None:
    assert clean(text) == expected


@pytest.mark.parametrize(
    ("previous", "text", "expected"),
    [
        ("the", "the cat", "cat"),  # the first copy was already spoken
        ("the,", "the, the cat", "cat"),
        ("done.", "Done.", "Done."),
        ("it.", "Um, so it goes", "So it goes"),  # a sentence start after the previous phrase
        ("and", "Um, so it goes", "so it goes"),  # mid-sentence: no capital invented
        ("and", "um.", ""),
    ],
)
def test_the_word_before_is_context(previous: str, text: str, expected: str) -> None:
    assert clean(text, previous) == expected


def test_the_filler_list_is_configurable_and_takes_phrases() -> None:
    assert clean("Like, you know, I mean it", fillers=("like", "you know")) == "I mean it"
    assert clean("you know what? um", fillers=("you know",)) == "what? um"
    assert clean("Um, yes", fillers=()) == "Um, yes"


def test_kept_words_keep_their_timings() -> None:
    out = DisfluencyCleaner().clean(words("Um, I I want b-but th- then"))
    assert [(w.text, w.start_s) for w in out] == [("I", 0.5), ("want", 0.75), ("but", 1.0), ("then", 1.5)]


def test_reduce_word() -> None:
    assert reduce_word(Word("W-w-what?", 0.0, 1.0)) == Word("What?", 0.0, 1.0)
    assert reduce_word(Word("ha-ha", 0.0, 1.0)).text == "ha-ha"


VOCAB = [
    "I", "i", "I,", "I-", "the", "The", "the,", "th-", "Th-", "-the", "cat", "cat.", "b-b-but", "but",
    "Um,", "um", "uh.", "Hmm?", "u-um,", "I-I", "so-so", "no.", "No", "no,", "well...", "we", "x;", "-",
    "--", "you", "know", "kn-", "Know.",
]  # fmt: skip


@settings(max_examples=400, deadline=None)
@given(st.lists(st.sampled_from(VOCAB), max_size=25), st.sampled_from([None, "the", "I.", "th-", "um,"]))
def test_clean_up_is_idempotent_and_only_removes(chosen: list[str], previous: str | None) -> None:
    cleaner = DisfluencyCleaner((*TextConfig().fillers, "you know"))
    before = Word(previous, -1.0, -0.5) if previous is not None else None
    once = cleaner.clean(words(" ".join(chosen)), before)
    assert cleaner.clean(once, before) == once
    original = words(" ".join(chosen))
    starts = [w.start_s for w in once]
    assert starts == sorted(set(starts))  # kept words come from distinct originals, in order
    by_start = {w.start_s: w for w in original}
    for word in once:
        assert key(by_start[word.start_s].text).endswith(key(word.text))
        assert key(word.text) not in {"um", "uh", "hmm"}
    text = " ".join(w.text for w in once)
    assert ", ," not in text and not text.startswith(",")


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.sampled_from(["I", "went", "to", "the", "shop,", "and", "it", "rained.", "So", "x-ray"]),
        max_size=30,
    )
)
def test_fluent_text_is_unchanged(chosen: list[str]) -> None:
    fluent = [w for i, w in enumerate(chosen) if i == 0 or key(w) != key(chosen[i - 1])]
    text = " ".join(fluent)
    assert clean(text) == text


def test_punctuation_helpers() -> None:
    assert ends_sentence('today."') and ends_sentence("why?!") and not ends_sentence("Mr.")
    assert not ends_sentence("U.S.") and not ends_sentence("and...") and ends_clause("and...")
    assert ends_clause("--") and ends_clause("so,") and not ends_clause("th-")
    assert key("Don’t,") == "don't" and key("«Hello»") == "hello" and key("--") == ""
