"""The text stage: segmenter + clean-up + filter, switchable while it runs, from the config."""

from __future__ import annotations

import itertools
import json
import threading
from collections.abc import Sequence
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from livevoice.config import Config, TextConfig, load_config, replace
from livevoice.errors import ConfigError, LivevoiceError
from livevoice.frames import Phrase, TranscriptFinal, Word
from livevoice.text import Beep, Say, TextPhrase, TextStage, WordFilterError, words_from_text
from livevoice.text.tokens import join


def words(text: str) -> tuple[Word, ...]:
    return tuple(Word(w, i * 0.5, i * 0.5 + 0.25) for i, w in enumerate(text.split()))


def final_of(utterance_id: int, ws: Sequence[Word], t_ns: int = 99) -> TranscriptFinal:
    ws = tuple(ws)
    return TranscriptFinal(utterance_id, join(ws), ws, 0.0, 1.0, 1, 2, t_ns)


def run(
    stage: TextStage, ws: Sequence[Word], chunks: Sequence[int], utterance_id: int = 1
) -> list[TextPhrase]:
    out: list[TextPhrase] = []
    position = 0
    for n, size in enumerate(chunks):
        out += stage.on_words(utterance_id, ws[position : position + size], 10 + n)
        position += size
    return out + stage.on_final(final_of(utterance_id, ws))


def shown(phrases: Sequence[TextPhrase]) -> list[str]:
    return [p.display_text() for p in phrases]


@pytest.fixture
def word_list(tmp_path: Path) -> Path:
    path = tmp_path / "filter.txt"
    path.write_text("# on stream\ndarn\noh my gosh\n")
    return path


def test_everything_off_by_default_passes_the_words_through() -> None:
    assert TextConfig().clean_disfluencies is False and TextConfig().word_filter_file == ""
    ws = words("Um, I I want, uh, the the darn cake. Now!")
    phrases = run(TextStage(), ws, [3, 3, 3])
    assert [(p.phrase_index, p.text, p.final) for p in phrases] == [
        (0, "Um, I I want,", False),
        (1, "uh, the the darn cake.", False),
        (2, "Now!", True),
    ]
    assert all(p.parts == (Say(p.text),) and p.text == join(p.words) for p in phrases)


def test_clean_up_and_filter_together(word_list: Path) -> None:
    stage = TextStage(TextConfig(clean_disfluencies=True, word_filter_file=str(word_list)))
    phrases = run(stage, words("Um, I I want, uh, the the darn cake. Now!"), [3, 3, 3])
    assert shown(phrases) == ["I want,", "the [beep] cake.", "Now!"]
    assert phrases[1].parts == (Say("the"), Beep(0.25, 1), Say("cake."))
    assert phrases[1].text == "the cake." and phrases[1].has_beep
    assert isinstance(phrases[1], Phrase)  # the TTS worker takes it as it is


def test_a_phrase_emptied_by_the_clean_up_is_skipped_and_its_words_carried() -> None:
    stage = TextStage(TextConfig(clean_disfluencies=True, min_phrase_words=1))
    ws = words("Um, uh, hmm, I agree. Um.")
    phrases = run(stage, ws, [1, 1, 1, 2, 1])
    assert [(p.phrase_index, p.text, p.final) for p in phrases] == [(0, "I agree.", False), (1, "", True)]
    assert phrases[0].words == ws[:5] and phrases[1].words == ws[5:]
    assert phrases[1].parts == ()  # the end-of-utterance marker: nothing to say


def test_a_beeped_phrase_is_not_skipped(word_list: Path) -> None:
    stage = TextStage(TextConfig(word_filter_file=str(word_list), min_phrase_words=1))
    phrases = run(stage, words("Darn! fine."), [1, 1])
    assert [(p.parts, p.final) for p in phrases] == [
        ((Beep(0.25, 1),), False),
        ((Say("fine."),), False),
        ((), True),
    ]


def test_a_listed_phrase_is_kept_together_across_clause_marks_and_commits(word_list: Path) -> None:
    config = TextConfig(word_filter_file=str(word_list), min_phrase_words=1)
    stage = TextStage(config)
    ws = words("Oh, my gosh, that was great.")
    assert stage.on_words(1, ws[:1], 1) == []  # "Oh," could start "oh my gosh": wait
    assert stage.on_words(1, ws[1:2], 2) == []
    (beeped,) = stage.on_words(1, ws[2:4], 3)
    assert beeped.parts == (Beep(1.25, 3),) and beeped.t_text_ready_ns == 3
    assert shown(stage.on_words(1, ws[4:], 4) + stage.on_final(final_of(1, ws))) == ["that was great.", ""]
    # without the filter, "Oh," is a phrase of its own
    assert shown(run(TextStage(replace_text(config, word_filter_file="")), ws, [1]))[0] == "Oh,"
    # a commit that ends the phrase without completing it: the cut is made
    stage = TextStage(config)
    assert stage.on_words(2, words("Oh, my"), 1) == []
    assert shown(stage.on_words(2, words("word, yes."), 2)) == ["Oh,", "my word,", "yes."]


def replace_text(config: TextConfig, **changes: object) -> TextConfig:
    """``config`` with some keys changed, validated like the config file."""
    return replace(Config(text=config), "text", **changes).text


def test_repetitions_across_a_clause_mark_are_kept_together_when_known() -> None:
    config = TextConfig(clean_disfluencies=True, min_phrase_words=3)
    ws = words("I saw the, the cat today.")
    assert shown(run(TextStage(config), ws, [6])) == ["I saw the cat today.", ""]
    # committed in two pieces, "the," is already spoken: the repeat is dropped from the next phrase
    assert shown(run(TextStage(config), ws, [3, 3])) == ["I saw the,", "cat today.", ""]


def test_a_broken_off_word_waits_for_the_next_word() -> None:
    stage = TextStage(TextConfig(clean_disfluencies=True, min_phrase_words=1, max_phrase_words=3))
    assert stage.on_words(1, words("so I th-"), 1) == []
    phrases = stage.on_words(1, words("the cat,"), 2)
    assert shown(phrases) == ["so I the", "cat,"]
    assert [w.text for w in phrases[0].words] == ["so", "I", "th-", "the"]


def test_configure_switches_settings_for_the_next_phrase(word_list: Path) -> None:
    stage = TextStage(TextConfig())
    assert shown(stage.on_words(1, words("Um, darn it,"), 1)) == ["Um, darn it,"]
    stage.configure(TextConfig(clean_disfluencies=True, word_filter_file=str(word_list)))
    assert stage.config.clean_disfluencies
    assert shown(stage.on_words(1, words("um, darn it,"), 2)) == ["[beep] it,"]
    stage.configure(replace_text(stage.config, filter_action="replace", filter_replacement="gosh"))
    assert shown(stage.on_words(1, words("so darn it,"), 3)) == ["so gosh it,"]


def test_a_bad_list_file_changes_nothing(tmp_path: Path, word_list: Path) -> None:
    good = TextConfig(word_filter_file=str(word_list), filter_action="drop", min_phrase_words=1)
    stage = TextStage(good)
    missing = tmp_path / "nope.txt"
    with pytest.raises(WordFilterError) as err:
        stage.configure(replace_text(good, word_filter_file=str(missing), clean_disfluencies=True))
    assert str(err.value) == f"word filter list {missing} does not exist"
    assert stage.config == good
    assert shown(run(stage, words("um, darn it."), [])) == ["um,", "it."]
    with pytest.raises(LivevoiceError, match=r"word filter list .* does not exist"):
        TextStage(TextConfig(word_filter_file=str(missing)))


def test_configure_from_another_thread_never_tears_a_call(word_list: Path) -> None:
    configs = [
        TextConfig(segment_on="end"),
        TextConfig(min_phrase_words=1, clean_disfluencies=True, word_filter_file=str(word_list)),
    ]
    stage = TextStage(configs[0])
    stop = threading.Event()

    def flip() -> None:
        n = 0
        while not stop.is_set():
            stage.configure(configs[n % 2])
            n += 1

    flipper = threading.Thread(target=flip)
    flipper.start()
    try:
        seen = set()
        for uid in range(300):
            seen.add(tuple(shown(run(stage, words("um, darn."), [], uid))))
    finally:
        stop.set()
        flipper.join()
    assert seen <= {("um, darn.",), ("[beep]",)}  # a torn call would give ("um,", "darn.")


def test_the_text_section_of_a_config_file(tmp_path: Path, word_list: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text(
        "[text]\n"
        'segment_on = "sentence"\n'
        "clean_disfluencies = true\n"
        f'word_filter_file = "{word_list}"\n'
        'filter_action = "replace"\n'
        'filter_replacement = "gosh"\n'
        'fillers = ["um", "you know"]\n'
    )
    config = load_config(path)
    stage = TextStage(config.text)
    ws = words("You know, um, darn, it works, I think. Yes.")
    assert shown(run(stage, ws, [2, 2, 2, 2, 1])) == ["Gosh, it works, I think.", "Yes."]


@pytest.mark.parametrize(
    ("table", "message"),
    [
        (
            {"segment_on": "word"},
            "text.segment_on = 'word' is not allowed; allowed: 'clause', 'sentence', 'end'",
        ),
        ({"min_phrase_words": 0}, "text.min_phrase_words = 0 is out of range; allowed: 1 to 100"),
        (
            {"min_phrase_words": 5, "max_phrase_words": 4},
            "text.max_phrase_words = 4 is below text.min_phrase_words = 5",
        ),
        (
            {"filter_action": "replace", "filter_replacement": " "},
            "text.filter_replacement = ' ' has no letter",
        ),
        ({"fillers": ["um", "u*"]}, "text.fillers has 'u*'; allowed: words or phrases of letters or digits"),
        ({"fillers": "um"}, "text.fillers = 'um' is not a list of strings"),
        ({"clean_disfluencies": "yes"}, "text.clean_disfluencies = 'yes' is not true or false"),
    ],
)
def test_bad_text_settings_are_one_line_naming_the_key(
    tmp_path: Path, table: dict[str, object], message: str
) -> None:
    path = tmp_path / "bad.toml"
    path.write_text("[text]\n" + "".join(f"{k} = {json.dumps(v)}\n" for k, v in table.items()))
    with pytest.raises(ConfigError) as err:
        load_config(path)
    assert message in str(err.value) and "\n" not in str(err.value)


def test_typed_text_goes_through_the_same_clean_up_and_filter(word_list: Path) -> None:
    stage = TextStage(
        TextConfig(clean_disfluencies=True, word_filter_file=str(word_list), filter_action="drop")
    )
    assert stage.process(words_from_text("Um, the the darn cake")) == (Say("The cake"),)
    assert TextStage().process(words_from_text("  as  typed ")) == (Say("as typed"),)


def test_an_abandoned_utterance_is_counted() -> None:
    stage = TextStage(TextConfig(segment_on="end"))
    stage.on_words(1, words("never finished"), 1)
    assert stage.abandon(5) == [] and stage.discarded_words == 2
    stage.on_words(2, words("left behind"), 1)
    assert shown(run(stage, words("next"), [], 3)) == ["next"]
    assert stage.discarded_words == 4


def records(phrases: Sequence[TextPhrase]) -> list[tuple[int, int, bool, bool, str]]:
    """(phrase index, piece, more, final, text as shown) of each record."""
    return [(p.phrase_index, p.piece, p.more, p.final, p.display_text()) for p in phrases]


def test_stream_opens_a_phrase_on_its_first_words_and_adds_each_commit() -> None:
    stage = TextStage(TextConfig(segment_on="stream", min_phrase_words=3))
    ws = words("Good evening and welcome to the stream, tonight we race.")
    assert stage.on_words(1, ws[:2], 10) == []
    (opening,) = stage.on_words(1, ws[2:3], 11)
    assert records([opening]) == [(0, 0, True, False, "Good evening and")]
    assert opening.t_text_ready_ns == 11 and opening.parts == (Say("Good evening and"),)
    assert isinstance(opening, Phrase)  # what the TTS worker takes
    assert stage.phrase_open
    phrases = stage.on_words(1, ws[3:5], 12) + stage.on_words(1, ws[5:8], 13)
    assert records(phrases) == [
        (0, 1, True, False, "welcome to"),
        (0, 2, False, False, "the stream,"),  # the clause mark closes it
    ]
    assert not stage.phrase_open
    assert records(stage.on_final(final_of(1, ws))) == [(1, 0, False, True, "tonight we race.")]


def test_stream_applies_the_clean_up_and_the_filter_to_every_piece(word_list: Path) -> None:
    config = TextConfig(segment_on="stream", clean_disfluencies=True, word_filter_file=str(word_list))
    stage = TextStage(config)
    ws = words("Um, I I want, uh, the the darn cake. Now!")
    phrases = run(stage, ws, [3, 1, 2, 2, 1, 1])
    assert records(phrases) == [
        (0, 0, True, False, "I"),  # "Um, I I": three words open it, two are clean-up
        (0, 1, False, False, "want,"),
        (1, 0, True, False, "the [beep]"),  # "uh, the the darn"
        (1, 1, False, False, "cake."),
        (2, 0, False, True, "Now!"),
    ]
    assert [w for p in phrases for w in p.words] == list(ws)
    assert phrases[2].parts == (Say("the"), Beep(0.25, 1))
    # the same words handed on as whole clauses say the same
    whole = run(TextStage(replace_text(config, segment_on="clause")), ws, [3, 1, 2, 2, 1, 1])
    assert shown(whole) == ["I want,", "the [beep] cake.", "Now!"]


def test_stream_skips_an_emptied_piece_but_sends_the_one_that_closes() -> None:
    stage = TextStage(TextConfig(segment_on="stream", clean_disfluencies=True, min_phrase_words=2))
    ws = words("um uh so we go um, well.")
    phrases = run(stage, ws, [2, 1, 2, 1])
    assert records(phrases) == [
        (0, 0, True, False, "so"),  # "um uh" emptied: its words go with the next piece
        (0, 1, True, False, "we go"),
        (0, 2, False, False, ""),  # "um," emptied, but it ends the clause: the phrase is closed
        (1, 0, False, True, "well."),
    ]
    assert phrases[0].words == ws[:3] and phrases[2].words == ws[5:6] and phrases[2].parts == ()


def test_an_abandoned_utterance_closes_its_streamed_phrase() -> None:
    stage = TextStage(TextConfig(segment_on="stream", min_phrase_words=2))
    assert records(stage.on_words(1, words("we were saying"), 1)) == [(0, 0, True, False, "we were saying")]
    assert records(stage.on_words(1, words("that w-"), 2)) == [(0, 1, True, False, "that w-")]
    (closing,) = stage.abandon(3)  # an ASR error: no final transcript will come
    assert (closing.utterance_id, closing.phrase_index, closing.piece, closing.more) == (1, 0, 2, False)
    assert closing.parts == () and closing.t_text_ready_ns == 3 and not stage.phrase_open
    assert stage.abandon(4) == []
    # words of a new utterance abandon the unfinished one the same way
    stage.on_words(2, words("one two three"), 5)
    stage.on_words(2, words("four"), 6)
    phrases = stage.on_words(3, words("next one"), 7)
    assert [(p.utterance_id, p.piece, p.more, p.display_text()) for p in phrases] == [
        (2, 2, False, ""),
        (3, 0, True, "next one"),
    ]
    assert stage.discarded_words == 0  # every word was handed on


VOCAB = [
    "Um,", "uh", "I", "I,", "the", "the,", "th-", "darn", "Darn.", "oh", "my", "gosh!", "cake.", "so", "why?",
]  # fmt: skip


@st.composite
def scenario(draw: st.DrawFn) -> tuple[dict[str, object], tuple[Word, ...], list[int]]:
    low = draw(st.integers(1, 4))
    options: dict[str, object] = {
        "segment_on": draw(st.sampled_from(["clause", "sentence", "end", "stream"])),
        "min_phrase_words": low,
        "max_phrase_words": draw(st.sampled_from([0, low, 8])),
        "clean_disfluencies": draw(st.booleans()),
        "filter_action": draw(st.sampled_from(["beep", "drop", "replace"])),
    }
    ws = words(" ".join(draw(st.lists(st.sampled_from(VOCAB), min_size=1, max_size=30))))
    return options, ws, draw(st.lists(st.integers(0, 4), max_size=len(ws)))


@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(scenario(), st.booleans())
def test_every_word_is_accounted_for_in_exactly_one_phrase(
    word_list: Path, case: tuple[dict[str, object], tuple[Word, ...], list[int]], use_filter: bool
) -> None:
    options, ws, chunks = case
    config = TextConfig(word_filter_file=str(word_list) if use_filter else "", **options)  # type: ignore[arg-type]
    phrases = run(TextStage(config), ws, chunks, utterance_id=5)
    assert [w for p in phrases for w in p.words] == list(ws)
    groups = [list(g) for _, g in itertools.groupby(phrases, key=lambda p: p.phrase_index)]
    assert [g[0].phrase_index for g in groups] == list(range(len(groups)))
    for group in groups:  # pieces 0, 1, 2...; only the last closes the phrase; only it may be empty
        assert [p.piece for p in group] == list(range(len(group)))
        assert [p.more for p in group] == [True] * (len(group) - 1) + [False]
        assert all(p.parts for p in group[:-1])
        assert group[-1].parts or group[-1].piece > 0 or group[-1].final
    assert [p.final for p in phrases] == [False] * (len(phrases) - 1) + [True]
    if config.segment_on == "stream" and not use_filter and not config.clean_disfluencies:
        clause = run(TextStage(replace_text(config, segment_on="clause")), ws, chunks, utterance_id=5)
        spoken = [" ".join(p.text for p in g if p.text) for g in groups]
        assert [t for t in spoken if t] == [p.text for p in clause if p.text]
    for p in phrases:
        kinds = [type(part) for part in p.parts]
        assert all(not (a is b is Say) for a, b in itertools.pairwise(kinds))
        assert all(part.text for part in p.parts if isinstance(part, Say))
        if not use_filter and not config.clean_disfluencies:
            assert p.text == join(p.words)
