"""The word filter: hide listed words and phrases before they are spoken.

The list is a UTF-8 text file, one word or phrase per line::

    # comments start with '#', blank lines are ignored
    darn            whole words only, case-insensitive: "Darn," matches, "darned" does not
    heck*           a '*' suffix matches every word that starts with it: "heckin", "heckler"
    oh my gosh      a phrase: the words in a row, whatever the punctuation between them

A hyphenated word matches through its parts ("darn-it" contains "darn"). Each match
becomes, by ``[text] filter_action``:

- ``beep``: a :class:`~livevoice.text.parts.Beep` as long as the hidden words were spoken;
- ``drop``: nothing (the sentence around it is kept well formed);
- ``replace``: the ``[text] filter_replacement`` word, with the punctuation of the match.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from livevoice.errors import LivevoiceError
from livevoice.frames import Word
from livevoice.text.matching import Pattern, PatternSet, Token
from livevoice.text.parts import Beep
from livevoice.text.tokens import capitalise, drop_words, is_capitalised, key, split

FILTER_ACTIONS = ("beep", "drop", "replace")
"""What happens to a filtered word or phrase."""


class WordFilterError(LivevoiceError):
    """A word filter list that is missing, unreadable or malformed."""


def _parse_token(word: str, where: str) -> Token:
    prefix = word.endswith("*")
    body = word[:-1] if prefix else word
    if "*" in body:
        raise WordFilterError(f"{where}: {word!r} has a '*' that is not at its end (only 'word*' is allowed)")
    text = key(body)
    if not text:
        raise WordFilterError(f"{where}: {word!r} has no letter or digit")
    return Token(text, prefix=prefix, parts=True)


def parse_word_list(text: str, source: str) -> PatternSet:
    """Parse the text of a list file; ``source`` names it in error messages."""
    patterns: list[Pattern] = []
    for number, line in enumerate(text.splitlines(), start=1):
        entry = line.split("#", 1)[0].strip()
        if not entry:
            continue
        where = f"word filter list {source} line {number}"
        tokens = tuple(_parse_token(word, where) for word in entry.split())
        patterns.append(Pattern(tokens, entry))
    return PatternSet(patterns)


def load_word_list(path: Path) -> PatternSet:
    """Read and parse a list file; any problem is one :class:`WordFilterError` line naming it."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise WordFilterError(f"word filter list {path} does not exist") from None
    except UnicodeDecodeError as err:
        raise WordFilterError(f"word filter list {path} is not UTF-8 text (byte {err.start})") from None
    except OSError as err:
        raise WordFilterError(f"word filter list {path} cannot be read: {err.strerror or err}") from None
    return parse_word_list(text, str(path))


class WordFilter:
    """A loaded list and what to do with its matches. Immutable; safe to share between threads."""

    def __init__(self, patterns: PatternSet, action: str = "beep", replacement: str = "bleep") -> None:
        if action not in FILTER_ACTIONS:
            raise WordFilterError(f"filter action {action!r} is not one of {', '.join(FILTER_ACTIONS)}")
        if action == "replace" and not key(replacement):
            raise WordFilterError(f"filter replacement {replacement!r} has no letter or digit")
        self.patterns = patterns
        self.action = action
        self.replacement = replacement.strip()

    def spans(self, words: Sequence[Word]) -> list[tuple[int, int]]:
        """Positions ``(start, end)`` of the listed words and phrases in ``words``."""
        return self.patterns.find([key(w.text) for w in words])

    def apply(self, words: Sequence[Word], previous: Word | None = None) -> list[Word | Beep]:
        """``words`` with every match beeped, dropped or replaced.

        ``previous`` is the word spoken just before (``None`` at the start of the
        utterance); with ``drop`` it decides whether the first word starts a sentence.
        """
        if self.action == "drop":
            return list(self._drop(words, previous))
        spans = self.spans(words)
        if not spans:
            return list(words)
        out: list[Word | Beep] = []
        position = 0
        for start, end in spans:
            out.extend(words[position:start])
            hidden = words[start:end]
            if self.action == "replace":
                out.append(self._replacement_for(hidden))
            elif out and isinstance(out[-1], Beep) and position == start:
                last = out[-1]
                out[-1] = Beep(last.duration_s + self._duration(hidden), last.words + len(hidden))
            else:
                out.append(Beep(self._duration(hidden), len(hidden)))
            position = end
        out.extend(words[position:])
        return out

    def _drop(self, words: Sequence[Word], previous: Word | None) -> list[Word]:
        """Drop matches until none is left (dropping can join the words of a listed phrase)."""
        kept = list(words)
        while spans := self.spans(kept):
            drop = [False] * len(kept)
            for start, end in spans:
                drop[start:end] = [True] * (end - start)
            kept = drop_words(kept, drop, previous)
        return kept

    @staticmethod
    def _duration(hidden: Sequence[Word]) -> float:
        return max(0.0, hidden[-1].end_s - hidden[0].start_s)

    def _replacement_for(self, hidden: Sequence[Word]) -> Word:
        lead = split(hidden[0].text)[0]
        trail = split(hidden[-1].text)[2]
        word = Word(
            lead + self.replacement + trail,
            hidden[0].start_s,
            hidden[-1].end_s,
            min(w.probability for w in hidden),
        )
        if is_capitalised(hidden[0].text):
            word = capitalise(word)
        return word


__all__ = [
    "FILTER_ACTIONS",
    "WordFilter",
    "WordFilterError",
    "load_word_list",
    "parse_word_list",
]
