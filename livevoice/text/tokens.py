"""Word-level helpers shared by the text stage: matching keys, punctuation, removal.

Whisper writes punctuation onto the words (``"Hello,"``, ``"today."``) and leaves the
leading space off. Everything here works on :class:`~livevoice.frames.Word` records
and keeps their timings, so a filtered word still knows how long it was spoken.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Sequence

from livevoice.frames import Word

_APOSTROPHES = str.maketrans({"’": "'", "‘": "'", "ʼ": "'"})
_CLOSERS = "\"'”’»)]}"
_TITLES = frozenset({"mr", "mrs", "ms", "dr", "prof", "st", "jr", "sr", "vs", "mt"})
_INITIALISM = re.compile(r"(?:\w\.)+\w")
_CLAUSE_MARKS = (",", ";", ":", "--", "—", "–", "...", "…")


def key(text: str) -> str:
    """The form words are compared in: case-folded, curly apostrophes straightened and
    everything that is not a letter or digit cut from both ends (``"Don’t,"`` -> ``"don't"``)."""
    _, core, _ = split(text.translate(_APOSTROPHES).casefold())
    return core


def split(text: str) -> tuple[str, str, str]:
    """``(leading punctuation, core, trailing punctuation)``; the core runs from the first
    to the last letter or digit. A word without any (``"--"``) is all trailing punctuation."""
    start, end = 0, len(text)
    while start < end and not text[start].isalnum():
        start += 1
    while end > start and not text[end - 1].isalnum():
        end -= 1
    if start == end:
        return "", "", text
    return text[:start], text[start:end], text[end:]


def _trailing_marks(text: str) -> str:
    """Trailing punctuation without closing quotes and brackets (``'today."'`` -> ``"."``)."""
    return split(text)[2].translate(str.maketrans("", "", _CLOSERS))


def ends_sentence(text: str) -> bool:
    """True when the word ends a sentence (``. ! ?``), not an abbreviation such as
    ``Mr.`` or ``U.S.`` and not a trailing-off ``...``."""
    marks = _trailing_marks(text)
    if "!" in marks or "?" in marks:
        return True
    if "." not in marks or ".." in marks:
        return False
    core = split(text)[1]
    return core.casefold() not in _TITLES and not _INITIALISM.fullmatch(core)


def ends_clause(text: str) -> bool:
    """True when the word ends a clause or a sentence (``, ; : -- — ...`` or :func:`ends_sentence`)."""
    if ends_sentence(text):
        return True
    marks = _trailing_marks(text)
    return any(mark in marks for mark in _CLAUSE_MARKS)


def sentence_mark(text: str) -> str:
    """The sentence-ending mark of the word (``"."``, ``"?"``, ``"!"``) or ``""``."""
    if not ends_sentence(text):
        return ""
    marks = _trailing_marks(text)
    for mark in ("?", "!"):
        if mark in marks:
            return mark
    return "."


def is_sentence_start(previous: Word | None) -> bool:
    """True when the word after ``previous`` starts a sentence (``None`` = start of speech)."""
    return previous is None or ends_sentence(previous.text)


def is_capitalised(text: str) -> bool:
    """True when the first letter of the word is upper case."""
    core = split(text)[1]
    return bool(core) and core[0].isupper()


def capitalise(word: Word) -> Word:
    """The word with its first letter upper-cased, if the word is all lower case (an
    ``iPhone`` stays as it is)."""
    lead, core, trail = split(word.text)
    if not core or not core.islower():
        return word
    return dataclasses.replace(word, text=lead + core[0].upper() + core[1:] + trail)


def with_mark(word: Word, mark: str) -> Word:
    """The word with its trailing punctuation replaced by ``mark``."""
    lead, core, _ = split(word.text)
    return dataclasses.replace(word, text=lead + core + mark)


def join(words: Sequence[Word]) -> str:
    """The words as one text, separated by single spaces."""
    return " ".join(w.text for w in words)


def drop_words(words: Sequence[Word], drop: Sequence[bool], previous: Word | None) -> list[Word]:
    """``words`` without those marked in ``drop``, keeping the text well formed.

    - A dropped word's own punctuation goes with it (no ``", ,"`` or leading comma is
      left), except a sentence-ending mark (``. ? !``) it carried, which moves onto the
      word kept before it when that one has none (``"there um."`` -> ``"there."``).
    - When a dropped word started a sentence with a capital, the next kept word gets one
      (``"Um, the cat"`` -> ``"The cat"``).

    ``previous`` is the word spoken just before ``words`` (``None`` at the start of an
    utterance); it tells whether the first word starts a sentence and is never changed.
    """
    out: list[Word] = []
    at_start = is_sentence_start(previous)
    capital_due = False
    for word, dropped in zip(words, drop, strict=True):
        if dropped:
            if at_start and is_capitalised(word.text):
                capital_due = True
            mark = sentence_mark(word.text)
            if mark:
                if out and not ends_sentence(out[-1].text):
                    out[-1] = with_mark(out[-1], mark)
                at_start = True
            continue
        if capital_due:
            word = capitalise(word)
            capital_due = False
        out.append(word)
        at_start = ends_sentence(word.text)
    return out
