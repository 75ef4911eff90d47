"""The phrase segmenter: where committed words are cut into phrases, as pure code."""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import replace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from livevoice.config import TextConfig
from livevoice.frames import Phrase, TranscriptFinal, Word
from livevoice.text.segmenter import Cut, PhraseSegmenter, Segment


def words(text: str, start: float = 0.0, step: float = 0.3) -> tuple[Word, ...]:
    return tuple(Word(w, start + i * step, start + (i + 1) * step) for i, w in enumerate(text.split()))


def final_of(utterance_id: int, ws: Sequence[Word], t_ns: int = 10**9) -> TranscriptFinal:
    ws = tuple(ws)
    return TranscriptFinal(utterance_id, " ".join(w.text for w in ws), ws, 0.0, 1.0, 1, 2, t_ns)


def run(
    segmenter: PhraseSegmenter, ws: Sequence[Word], chunks: Sequence[int], utterance_id: int = 1
) -> list[Segment]:
    """Commit ``ws`` in chunks of the given sizes (the rest only in the final transcript)."""
    out: list[Segment] = []
    position = 0
    for n, size in enumerate(chunks):
        out += segmenter.on_words(utterance_id, ws[position : position + size], 1000 + n)
        position += size
    return out + segmenter.on_final(final_of(utterance_id, ws))


def one_by_one(ws: Sequence[Word]) -> list[int]:
    return [1] * len(ws)


def texts(segments: Sequence[Segment]) -> list[str]:
    return [s.text for s in segments]


SPEECH = (
    "Hello everyone, today we are going to talk about something important, "
    "which is how to speak well. So, thank you."
)


@pytest.mark.parametrize(
    ("config", "text", "expected"),
    [
        (
            TextConfig(segment_on="clause", min_phrase_words=3),
            SPEECH,
            [
                "Hello everyone, today we are going to talk about something important,",
                "which is how to speak well.",
                "So, thank you.",
                "",
            ],
        ),
        (
            TextConfig(segment_on="clause", min_phrase_words=1, max_phrase_words=0),
            SPEECH,
            [
                "Hello everyone,",
                "today we are going to talk about something important,",
                "which is how to speak well.",
                "So,",
                "thank you.",
                "",
            ],
        ),
        (
            TextConfig(segment_on="sentence", min_phrase_words=3, max_phrase_words=0),
            SPEECH,
            [
                "Hello everyone, today we are going to talk about something important, "
                "which is how to speak well.",
                "So, thank you.",
                "",
            ],
        ),
        (
            TextConfig(segment_on="end"),
            SPEECH,
            [SPEECH],
        ),
        (  # a forced cut without punctuation
            TextConfig(segment_on="clause", min_phrase_words=2, max_phrase_words=4),
            "one two three four five six seven eight nine ten",
            ["one two three four", "five six seven eight", "nine ten"],
        ),
        (  # sentence mode cuts a long sentence at its last comma before the limit
            TextConfig(segment_on="sentence", min_phrase_words=2, max_phrase_words=6),
            "one two three, four five six seven eight nine",
            ["one two three,", "four five six seven eight nine", ""],
        ),
        (  # ... but not before min_phrase_words
            TextConfig(segment_on="sentence", min_phrase_words=3, max_phrase_words=5),
            "one, two three four five six",
            ["one, two three four five", "six"],
        ),
        (  # abbreviations and trailing-off dots do not end a sentence
            TextConfig(segment_on="sentence", min_phrase_words=1, max_phrase_words=0),
            "Mr. Smith met Dr. Jones in the U.S. and... they talked. Fine!",
            ["Mr. Smith met Dr. Jones in the U.S. and... they talked.", "Fine!", ""],
        ),
        (  # a trailing-off "..." and a dash end a clause; closing quotes are looked through
            TextConfig(segment_on="clause", min_phrase_words=2, max_phrase_words=0),
            'well I was... thinking that -- maybe "we could." go',
            ["well I was...", "thinking that --", 'maybe "we could."', "go"],
        ),
    ],
)
def test_cuts(config: TextConfig, text: str, expected: list[str]) -> None:
    ws = words(text)
    assert texts(run(PhraseSegmenter(config), ws, one_by_one(ws))) == expected


def test_a_clause_is_handed_on_as_soon_as_it_is_committed() -> None:
    segmenter = PhraseSegmenter(TextConfig(min_phrase_words=2))
    assert segmenter.on_words(4, words("I think"), 100) == []
    got = segmenter.on_words(4, words("that, we should"), 200)
    assert [(s.text, s.index, s.final, s.t_text_ready_ns) for s in got] == [("I think that,", 0, False, 200)]
    assert [w.text for w in segmenter.pending_words] == ["we", "should"]
    final = segmenter.on_final(final_of(4, words("I think that, we should go."), 300))
    assert [(s.text, s.index, s.final, s.t_text_ready_ns) for s in final] == [("we should go.", 1, True, 300)]
    assert final[0].previous is not None and final[0].previous.text == "that,"


def test_an_utterance_handed_on_completely_ends_with_an_empty_final_marker() -> None:
    segmenter = PhraseSegmenter(TextConfig(min_phrase_words=1))
    ws = words("Yes, of course.")
    assert texts(segmenter.on_words(2, ws, 5)) == ["Yes,", "of course."]
    (marker,) = segmenter.on_final(final_of(2, ws, 9))
    assert marker == Segment(2, 2, (), True, 9, ws[-1])
    assert marker.to_phrase() == Phrase(2, 2, "", True, 9)


def test_the_final_transcript_is_the_truth_for_the_rest() -> None:
    """Words whose commit event was missed are still spoken, once."""
    segmenter = PhraseSegmenter(TextConfig(segment_on="end"))
    ws = words("one two three four five")
    assert segmenter.on_words(1, ws[:2], 1) == []
    (only,) = segmenter.on_final(final_of(1, ws))
    assert only.words == ws and only.final and only.index == 0


def test_a_final_transcript_alone_is_cut_like_the_commits() -> None:
    config = TextConfig(min_phrase_words=2)
    ws = words(SPEECH)
    assert texts(run(PhraseSegmenter(config), ws, [])) == [
        "Hello everyone,",
        "today we are going to talk about something important,",
        "which is how to speak well.",
        "So, thank you.",
    ]
    assert texts(run(PhraseSegmenter(config), ws, one_by_one(ws)))[:-1] == texts(
        run(PhraseSegmenter(config), ws, [])
    )


def test_a_new_utterance_abandons_the_pending_words_and_counts_them() -> None:
    segmenter = PhraseSegmenter(TextConfig(segment_on="end"))
    segmenter.on_words(1, words("lost words"), 1)
    got = run(segmenter, words("next one."), [2], utterance_id=2)
    assert [(s.utterance_id, s.index, s.text, s.final) for s in got] == [(2, 0, "next one.", True)]
    assert segmenter.discarded_words == 2
    segmenter.on_words(3, words("dropped too"), 1)
    assert segmenter.discard(9) == 0
    assert segmenter.discard(3) == 2
    assert segmenter.discarded_words == 4 and segmenter.pending_words == ()


def test_configure_applies_from_the_next_call() -> None:
    segmenter = PhraseSegmenter(TextConfig(segment_on="end"))
    assert segmenter.on_words(1, words("one, two, three,"), 1) == []
    segmenter.configure(TextConfig(segment_on="clause", min_phrase_words=1))
    assert texts(segmenter.on_words(1, words("four"), 2)) == ["one,", "two,", "three,"]


def test_a_guard_can_refuse_a_cut_or_make_it_wait() -> None:
    def guard(ws: Sequence[Word], i: int, complete: bool) -> Cut:
        if ws[i - 1].text == "wait,":
            return Cut.YES if complete or i < len(ws) else Cut.WAIT
        return Cut.NO if ws[i - 1].text == "no," else Cut.YES

    segmenter = PhraseSegmenter(TextConfig(min_phrase_words=1), guard)
    assert texts(segmenter.on_words(1, words("a, no, b, wait,"), 1)) == ["a,", "no, b,"]
    assert segmenter.on_words(1, (), 2) == []  # nothing new: still waiting
    assert texts(segmenter.on_words(1, words("c"), 3)) == ["wait,"]
    assert texts(segmenter.on_final(final_of(1, words("a, no, b, wait, c")))) == ["c"]


def pieces(segments: Sequence[Segment]) -> list[tuple[int, str, bool, bool]]:
    return [(s.index, s.text, s.more, s.final) for s in segments]


def test_stream_opens_a_clause_on_its_first_words_and_adds_each_commit() -> None:
    segmenter = PhraseSegmenter(TextConfig(segment_on="stream", min_phrase_words=3))
    assert segmenter.on_words(1, words("Good evening"), 1) == []  # fewer than min_phrase_words
    got = segmenter.on_words(1, words("and"), 2)
    assert pieces(got) == [(0, "Good evening and", True, False)] and got[0].t_text_ready_ns == 2
    assert pieces(segmenter.on_words(1, words("welcome to"), 3)) == [(0, "welcome to", True, False)]
    assert segmenter.phrase_open
    # the clause ends: the piece that closes it, then the next clause waits for its own 3 words
    got = segmenter.on_words(1, words("the stream, tonight we"), 4)
    assert pieces(got) == [(0, "the stream,", False, False)] and not segmenter.phrase_open
    assert got[0].previous is not None and got[0].previous.text == "to"
    final = segmenter.on_final(final_of(1, words("Good evening and welcome to the stream, tonight we race.")))
    assert pieces(final) == [(1, "tonight we race.", False, True)]


def test_stream_closes_an_open_phrase_at_the_end_of_speech_even_without_words() -> None:
    segmenter = PhraseSegmenter(TextConfig(segment_on="stream", min_phrase_words=2))
    ws = words("so we go")
    assert pieces(segmenter.on_words(1, ws, 1)) == [(0, "so we go", True, False)]
    (closing,) = segmenter.on_final(final_of(1, ws, 5))
    assert (closing.index, closing.words, closing.more, closing.final) == (0, (), False, True)


def test_stream_hands_on_what_the_guard_lets_go_and_keeps_the_rest() -> None:
    def guard(ws: Sequence[Word], i: int, complete: bool) -> Cut:
        if ws[i - 1].text.endswith("-"):
            return Cut.WAIT  # a broken-off word: the next word decides
        return Cut.NO if i < len(ws) and ws[i].text == ws[i - 1].text else Cut.YES

    segmenter = PhraseSegmenter(TextConfig(segment_on="stream", min_phrase_words=2), guard)
    assert pieces(segmenter.on_words(1, words("I want to w-"), 1)) == [(0, "I want to", True, False)]
    assert [w.text for w in segmenter.pending_words] == ["w-"]
    assert pieces(segmenter.on_words(1, words("want the the"), 2)) == [(0, "w- want the the", True, False)]
    got = segmenter.on_words(1, words("the"), 3)
    assert pieces(got) == [(0, "the", True, False)]


def test_stream_phrases_end_where_clause_phrases_end() -> None:
    ws = words(SPEECH)
    for chunks in (one_by_one(ws), [3, 1, 4, 2, 5, 1], []):
        streamed = run(PhraseSegmenter(TextConfig(segment_on="stream")), ws, chunks)
        whole = run(PhraseSegmenter(TextConfig(segment_on="clause")), ws, chunks)
        assert nonempty(phrase_words(streamed)) == nonempty(phrase_words(whole))
    # one word a commit: the first phrase opens on its 3rd word ("Hello everyone," is too short
    # to be a phrase of its own) and grows by a word at each commit up to its clause mark
    streamed = run(PhraseSegmenter(TextConfig(segment_on="stream")), ws, one_by_one(ws))
    first = [(s.text, s.more) for s in streamed if s.index == 0]
    assert first == [("Hello everyone, today", True)] + [(w.text, w is not ws[10]) for w in ws[3:11]]


def phrase_words(segments: Sequence[Segment]) -> list[tuple[Word, ...]]:
    """The words of each phrase (its segments joined), in order."""
    return [tuple(w for s in group for w in s.words) for _, group in by_phrase(segments)]


def nonempty(groups: list[tuple[Word, ...]]) -> list[tuple[Word, ...]]:
    return [g for g in groups if g]


def by_phrase(segments: Sequence[Segment]) -> list[tuple[int, list[Segment]]]:
    return [(index, list(group)) for index, group in itertools.groupby(segments, key=lambda s: s.index)]


VOCAB = ["I", "the", "so,", "well.", "Mr.", "and...", "ok!", "why?", "th-", "we", "go", "U.S.", "--", "x;"]


@st.composite
def scenario(draw: st.DrawFn) -> tuple[TextConfig, tuple[Word, ...], list[int]]:
    mode = draw(st.sampled_from(["clause", "sentence", "end", "stream"]))
    low = draw(st.integers(1, 5))
    high = draw(st.sampled_from([0, low, low + 1, low + 4]))
    text = " ".join(draw(st.lists(st.sampled_from(VOCAB), min_size=1, max_size=40)))
    ws = words(text)
    chunks = draw(st.lists(st.integers(0, 5), max_size=len(ws)))
    return TextConfig(segment_on=mode, min_phrase_words=low, max_phrase_words=high), ws, chunks


def check_segments(segments: list[Segment], ws: Sequence[Word], utterance_id: int) -> None:
    assert [w for s in segments for w in s.words] == list(ws)  # nothing lost, doubled or reordered
    groups = by_phrase(segments)
    assert [index for index, _ in groups] == list(range(len(groups)))
    for _, group in groups:  # the segments of a streamed phrase: all but the last say more follows
        assert [s.more for s in group] == [True] * (len(group) - 1) + [False]
    assert [s.final for s in segments] == [False] * (len(segments) - 1) + [True]
    assert all(s.words for s in segments[:-1]) and all(s.utterance_id == utterance_id for s in segments)
    for before, after in itertools.pairwise(segments):
        assert after.previous == (before.words[-1] if before.words else before.previous)


@settings(max_examples=300, deadline=None)
@given(scenario())
def test_words_are_never_lost_doubled_or_reordered_and_cuts_ignore_the_chunking(
    case: tuple[TextConfig, tuple[Word, ...], list[int]],
) -> None:
    config, ws, chunks = case
    segments = run(PhraseSegmenter(config), ws, chunks, utterance_id=7)
    check_segments(segments, ws, 7)
    phrases = phrase_words(segments)
    reference = run(PhraseSegmenter(config), ws, one_by_one(ws), utterance_id=7)
    assert nonempty(phrases) == nonempty(phrase_words(reference))
    if config.segment_on == "stream":  # phrases end where "clause" ends them
        clause = run(PhraseSegmenter(replace(config, segment_on="clause")), ws, chunks, utterance_id=7)
        assert nonempty(phrases) == nonempty(phrase_words(clause))
        opening = [group[0] for _, group in by_phrase(segments) if group[0].more]
        assert all(len(s.words) >= config.min_phrase_words for s in opening)
    if config.max_phrase_words:
        assert all(len(p) <= config.max_phrase_words for p in phrases[:-1])
    assert all(len(p) >= config.min_phrase_words for p in phrases[:-1])


@settings(max_examples=200, deadline=None)
@given(scenario(), st.integers(0, 2**32 - 1))
def test_whatever_a_guard_says_no_word_is_lost_doubled_or_reordered(
    case: tuple[TextConfig, tuple[Word, ...], list[int]], salt: int
) -> None:
    def guard(ws: Sequence[Word], i: int, complete: bool) -> Cut:
        verdict = list(Cut)[hash((salt, ws[i - 1].start_s, len(ws) == i)) % 3]
        return Cut.NO if complete and verdict is Cut.WAIT else verdict

    config, ws, chunks = case
    check_segments(run(PhraseSegmenter(config, guard), ws, chunks), ws, 1)
