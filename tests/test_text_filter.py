"""The word filter: list files, whole-word matching, beep / drop / replace."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from livevoice.errors import LivevoiceError
from livevoice.frames import Word
from livevoice.text.filter import WordFilter, WordFilterError, load_word_list, parse_word_list
from livevoice.text.parts import Beep
from livevoice.text.tokens import key

LIST = """\
# words I do not want to say on stream
darn
heck*          # every word starting with heck
oh my gosh
Frick
"""


def words(text: str) -> list[Word]:
    return [Word(w, i * 0.5, i * 0.5 + 0.25) for i, w in enumerate(text.split())]


def shown(items: list[Word | Beep]) -> str:
    return " ".join(f"<{i.words}:{i.duration_s}>" if isinstance(i, Beep) else i.text for i in items)


@pytest.fixture
def list_file(tmp_path: Path) -> Path:
    path = tmp_path / "words.txt"
    path.write_text(LIST, encoding="utf-8")
    return path


def test_the_list_file_is_parsed_entry_by_entry(list_file: Path) -> None:
    patterns = load_word_list(list_file)
    assert [p.source for p in patterns.patterns] == ["darn", "heck*", "oh my gosh", "Frick"]
    assert [[(t.text, t.prefix) for t in p.tokens] for p in patterns.patterns] == [
        [("darn", False)],
        [("heck", True)],
        [("oh", False), ("my", False), ("gosh", False)],
        [("frick", False)],
    ]
    assert patterns.longest == 3


def test_a_byte_order_mark_and_curly_apostrophes_are_fine(tmp_path: Path) -> None:
    path = tmp_path / "bom.txt"
    path.write_bytes("\ufeffdon’t\n".encode())
    (pattern,) = load_word_list(path).patterns
    assert pattern.tokens[0].text == "don't"
    assert shown(WordFilter(load_word_list(path), "drop").apply(words("I don't know"))) == "I know"


@pytest.mark.parametrize(
    ("action", "text", "expected"),
    [
        ("beep", "Darn, that hurt.", "<1:0.25> that hurt."),
        ("drop", "Darn, that hurt.", "That hurt."),
        ("replace", "Darn, that hurt.", "Bleep, that hurt."),
        ("beep", "what the heckin heck", "what the <2:0.5>"),  # adjacent matches: one beep
        ("drop", "what the heckin heck", "what the"),
        ("replace", "what the heckin heck.", "what the bleep bleep."),
        ("drop", "I said darn.", "I said."),
        ("beep", "oh, my gosh! so darned good", "<3:1.25> so darned good"),  # whole words only
        ("replace", "Oh my gosh, frick-frack!", "Bleep, bleep!"),  # hyphen parts match too
        ("drop", "Frick. the end", "The end"),
        ("beep", "nothing to hide here", "nothing to hide here"),
        ("drop", "darn", ""),
        ("beep", '"Darn," she said', "<1:0.25> she said"),
        ("replace", '"Darn," she said', '"Bleep," she said'),
    ],
)
def test_actions(list_file: Path, action: str, text: str, expected: str) -> None:
    word_filter = WordFilter(load_word_list(list_file), action, "bleep")
    assert shown(word_filter.apply(words(text))) == expected


def test_drop_keeps_the_sentence_start_of_the_word_before() -> None:
    word_filter = WordFilter(parse_word_list("darn", "test"), "drop")
    assert shown(word_filter.apply(words("Darn it"), previous=Word("end.", 0.0, 0.1))) == "It"
    assert shown(word_filter.apply(words("Darn it"), previous=Word("and", 0.0, 0.1))) == "it"


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("ok\nda*rn\n", "word filter list LIST line 2: 'da*rn' has a '*' that is not at its end"),
        ("\n\n*\n", "word filter list LIST line 3: '*' has no letter or digit"),
        ("fine\n--- -\n", "word filter list LIST line 2: '---' has no letter or digit"),
    ],
)
def test_a_malformed_entry_is_one_line_naming_file_and_line(
    tmp_path: Path, content: str, message: str
) -> None:
    path = tmp_path / "list.txt"
    path.write_text(content)
    with pytest.raises(WordFilterError) as err:
        load_word_list(path)
    assert str(err.value).startswith(message.replace("LIST", str(path)))
    assert "\n" not in str(err.value)


def test_a_missing_or_unreadable_file_is_one_line_naming_it(tmp_path: Path) -> None:
    cases = {
        tmp_path / "missing.txt": "does not exist",
        tmp_path: "cannot be read: Is a directory",
        tmp_path / "latin1.txt": "is not UTF-8 text (byte 3)",
    }
    (tmp_path / "latin1.txt").write_bytes(b"caf\xe9\n")
    for path, problem in cases.items():
        with pytest.raises(LivevoiceError) as err:
            load_word_list(path)
        assert str(err.value) == f"word filter list {path} {problem}"


def test_bad_actions_and_replacements_are_refused() -> None:
    with pytest.raises(WordFilterError, match="filter action 'hide' is not one of beep, drop, replace"):
        WordFilter(parse_word_list("x", "t"), "hide")
    with pytest.raises(WordFilterError, match="filter replacement '  ' has no letter or digit"):
        WordFilter(parse_word_list("x", "t"), "replace", "  ")


VOCAB = ["darn", "Darn,", "darned", "heck.", "Heckler", "oh", "my", "gosh!", "fine", "frick-frack", "ok"]


def runs(items: list[Word | Beep]) -> list[list[Word]]:
    """The words between beeps."""
    out: list[list[Word]] = [[]]
    for item in items:
        if isinstance(item, Beep):
            out.append([])
        else:
            out[-1].append(item)
    return out


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(VOCAB), max_size=30), st.sampled_from(["beep", "replace"]))
def test_beep_and_replace_hide_every_match_and_touch_nothing_else(chosen: list[str], action: str) -> None:
    word_filter = WordFilter(parse_word_list(LIST, "test"), action, "beep")
    original = words(" ".join(chosen))
    spans = word_filter.spans(original)
    out = word_filter.apply(original)
    assert all(word_filter.spans(run) == [] for run in runs(out))
    hidden = {i for start, end in spans for i in range(start, end)}
    kept = [i for i in out if isinstance(i, Word) and key(i.text) != "beep"]
    assert kept == [w for i, w in enumerate(original) if i not in hidden]
    beeps = [i for i in out if isinstance(i, Beep)]
    if action == "beep":
        assert sum(b.words for b in beeps) == len(hidden)
    else:
        assert beeps == [] and len(out) == len(kept) + len(spans)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(VOCAB), max_size=30))
def test_drop_leaves_no_listed_word_even_where_dropping_joins_a_phrase(chosen: list[str]) -> None:
    word_filter = WordFilter(parse_word_list(LIST, "test"), "drop")
    original = words(" ".join(chosen))
    out = word_filter.apply(original)
    assert all(isinstance(i, Word) for i in out)
    kept = [i for i in out if isinstance(i, Word)]
    assert word_filter.spans(kept) == []
    starts = [w.start_s for w in kept]
    assert starts == sorted(set(starts)) and set(starts) <= {w.start_s for w in original}


def test_drop_repeats_until_no_match_is_left() -> None:
    word_filter = WordFilter(parse_word_list(LIST, "test"), "drop")
    assert shown(word_filter.apply(words("oh darn my gosh! fine"))) == "fine"
