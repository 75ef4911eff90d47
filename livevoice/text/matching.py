"""Whole-word matching of word sequences against a list of words and phrases.

Used by the word filter (a user's list file) and by the disfluency clean-up (the
fillers). A pattern is one or more tokens; each token matches one word:

- exactly (``"darn"`` matches ``"Darn,"`` but not ``"darned"``: whole words only),
- as a prefix when written with a ``*`` suffix (``"darn*"`` matches ``"darned"``),
- or, for fillers, with every letter allowed to repeat (``"um"`` matches ``"Ummm"``).

Words are compared by :func:`~livevoice.text.tokens.key` (case-insensitive, outer
punctuation ignored). For the word filter a hyphenated word also matches through any
of its parts (``"darn"`` matches ``"darn-it"``), so a compound cannot smuggle a listed
word past; a filler does not (``"uh-huh"`` is not ``"uh"``).
Matching is leftmost-longest and never overlaps.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class Token:
    """One word of a pattern."""

    text: str
    """The word in its matching form (see :func:`~livevoice.text.tokens.key`)."""
    prefix: bool = False
    """Matches any word that starts with ``text`` (written ``text*``)."""
    stretch: bool = False
    """Each letter may repeat (``um`` matches ``umm``, ``uum``)."""
    parts: bool = False
    """A hyphenated word also matches through any of its parts (``darn`` matches ``darn-it``)."""
    regex: re.Pattern[str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.stretch:
            body = "".join(re.escape(c) + "+" for c in self.text)
        else:
            body = re.escape(self.text) + (".*" if self.prefix else "")
        object.__setattr__(self, "regex", re.compile(body, re.DOTALL))

    def matches(self, word_key: str) -> bool:
        """True when the word (in matching form), or with ``parts`` one of its hyphen-separated
        parts, matches."""
        if self.regex.fullmatch(word_key):
            return True
        if not self.parts or "-" not in word_key:
            return False
        return any(self.regex.fullmatch(part) for part in word_key.split("-"))


@dataclass(frozen=True, slots=True)
class Pattern:
    """A word or phrase to look for."""

    tokens: tuple[Token, ...]
    source: str
    """The pattern as the user wrote it (for messages)."""

    def __len__(self) -> int:
        return len(self.tokens)


class PatternSet:
    """A compiled list of patterns, indexed by their first word."""

    def __init__(self, patterns: Iterable[Pattern]) -> None:
        self.patterns = tuple(patterns)
        self._exact: dict[str, list[Pattern]] = {}
        self._by_first_char: dict[str, list[Pattern]] = {}
        for pattern in self.patterns:
            first = pattern.tokens[0]
            if first.prefix or first.stretch:
                self._by_first_char.setdefault(first.text[0], []).append(pattern)
            else:
                self._exact.setdefault(first.text, []).append(pattern)
        self.longest = max((len(p) for p in self.patterns), default=0)
        """Tokens in the longest pattern (0 for an empty set)."""

    def __bool__(self) -> bool:
        return bool(self.patterns)

    def _candidates(self, word_key: str) -> list[Pattern]:
        """Patterns whose first token may match the word (a superset of those that do)."""
        found: list[Pattern] = []
        for part in {word_key, *word_key.split("-")}:
            if part:
                found.extend(self._exact.get(part, ()))
                found.extend(self._by_first_char.get(part[0], ()))
        return found

    @staticmethod
    def _prefix_length(pattern: Pattern, keys: Sequence[str], start: int) -> int:
        """How many tokens of ``pattern`` match ``keys`` from ``start`` on (stops at a mismatch)."""
        count = 0
        for token, word_key in zip(pattern.tokens, keys[start:], strict=False):
            if not token.matches(word_key):
                break
            count += 1
        return count

    def longest_at(self, keys: Sequence[str], start: int) -> int:
        """Words in the longest complete match starting at ``keys[start]`` (0 if none)."""
        best = 0
        for pattern in self._candidates(keys[start]):
            if len(pattern) > best and self._prefix_length(pattern, keys, start) == len(pattern):
                best = len(pattern)
        return best

    def find(self, keys: Sequence[str]) -> list[tuple[int, int]]:
        """Leftmost-longest, non-overlapping matches as ``(start, end)`` word positions."""
        spans: list[tuple[int, int]] = []
        i = 0
        while i < len(keys):
            length = self.longest_at(keys, i) if keys[i] else 0
            if length:
                spans.append((i, i + length))
                i += length
            else:
                i += 1
        return spans

    def open_at(self, keys: Sequence[str], start: int) -> bool:
        """True when ``keys[start:]`` (running to the end of what is known) is the beginning
        of a longer pattern: the next words could still complete a match."""
        rest = len(keys) - start
        if rest <= 0 or rest >= self.longest or not keys[start]:
            return False
        return any(
            len(pattern) > rest and self._prefix_length(pattern, keys, start) == rest
            for pattern in self._candidates(keys[start])
        )


__all__ = ["Pattern", "PatternSet", "Token"]
