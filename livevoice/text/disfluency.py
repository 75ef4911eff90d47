"""Disfluency clean-up: fillers, part-word and whole-word repetitions.

For people who use livevoice to speak more fluently. Conservative: only what is
clearly not meant to be said is removed, in this order:

1. part-word repetitions inside a word: ``"b-b-but"`` -> ``"but"``, ``"s-sorry"`` ->
   ``"sorry"`` (a leading part is dropped when it begins the last part; reduplications
   such as ``"bye-bye"`` or ``"so-so"`` stay);
2. fillers from a list (by default ``um uh erm er ah hmm uhm``; each letter may repeat,
   so ``"Ummm,"`` goes too; ``"uh-huh"`` is a word and stays);
3. part-word repetitions across words, as Whisper writes them: ``"th- the"`` or
   ``"b -but"`` -> ``"the"`` / ``"but"`` (the cut-off part must begin the next word);
4. immediate repetitions of a word: ``"I I I want"``, ``"the, the"``, ``"me, me, me,"``
   -> one copy. Copies separated by a sentence end (``"No. No."``) or ``;`` ``:`` stay.
   Every immediate repetition goes, also intended ones such as ``"very very"``.

The text stays well formed (see :func:`~livevoice.text.tokens.drop_words`): no stray
commas, a sentence-ending mark is kept, a capital at a sentence start is kept. The
clean-up is idempotent: the steps are repeated until nothing changes (removing a word can
bring a filler or a repetition together: ``"you kn- know"``), so cleaning a cleaned text
changes nothing.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

from livevoice.config import TextConfig
from livevoice.frames import Word
from livevoice.text.matching import Pattern, PatternSet, Token
from livevoice.text.tokens import capitalise, drop_words, ends_sentence, is_capitalised, key, split

DEFAULT_FILLERS = TextConfig().fillers
"""Pure fillers: the ``[text] fillers`` default."""


def filler_patterns(fillers: Sequence[str]) -> PatternSet:
    """Compile filler words or phrases (``"you know"``); each letter may repeat."""
    patterns = []
    for filler in fillers:
        tokens = tuple(Token(key(word), stretch=True) for word in filler.split() if key(word))
        if tokens:
            patterns.append(Pattern(tokens, filler))
    return PatternSet(patterns)


def is_cut_off(word: Word) -> bool:
    """The word ends in a single hyphen, the way Whisper writes a word broken off (``"th-"``)."""
    trail = split(word.text)[2]
    return trail.startswith("-") and not trail.startswith("--")


def _is_continuation(word: Word) -> bool:
    """The word starts with a hyphen, the way Whisper sometimes writes the rest (``"-but"``)."""
    lead = split(word.text)[0]
    return lead.endswith("-") and not lead.endswith("--")


def is_part_word_repetition(word: Word, following: Word) -> bool:
    """True when ``word`` is a broken-off start of ``following`` (``"th-"`` before ``"the"``)."""
    if not (is_cut_off(word) or _is_continuation(following)):
        return False
    stem = key(word.text).split("-")[-1]
    return stem.isalpha() and key(following.text).startswith(stem)


def is_repetition(word: Word, following: Word) -> bool:
    """True when ``following`` repeats ``word`` with at most a comma, dash or ``...`` between."""
    word_key = key(word.text)
    if not word_key or word_key != key(following.text) or ends_sentence(word.text):
        return False
    trail = split(word.text)[2]
    return ";" not in trail and ":" not in trail


def reduce_word(word: Word) -> Word:
    """``"b-b-but"`` -> ``"but"``: drop leading hyphen parts that begin the last part."""
    lead, core, trail = split(word.text)
    parts = core.split("-")
    last = parts[-1].casefold()
    keep_from = 0
    while keep_from < len(parts) - 1:
        part = parts[keep_from].casefold()
        starts_last = last.startswith(part) and (len(part) < len(last) or len(part) == 1)
        if not (part.isalpha() and starts_last):
            break
        keep_from += 1
    if keep_from == 0:
        return word
    reduced = dataclasses.replace(word, text=lead + "-".join(parts[keep_from:]) + trail)
    return capitalise(reduced) if is_capitalised(core) else reduced


class DisfluencyCleaner:
    """Removes fillers and repetitions from recognised words. Immutable; thread-safe."""

    def __init__(self, fillers: Sequence[str] = DEFAULT_FILLERS) -> None:
        self.fillers = filler_patterns(fillers)

    def clean(self, words: Sequence[Word], previous: Word | None = None) -> list[Word]:
        """``words`` without disfluencies; timings of the kept words unchanged.

        ``previous`` is the word spoken just before ``words`` (``None`` at the start of an
        utterance): a word repeating it is dropped too, and it tells whether the first
        word starts a sentence.
        """
        current = list(words)
        # Removing a word can make a new filler or repetition ("you kn- know" -> "you know"):
        # repeat until nothing changes. A pass that drops nothing changes nothing more, so
        # this ends after at most len(words) + 1 passes.
        for _ in range(len(words) + 2):
            cleaned = self._clean_once(current, previous)
            if cleaned == current:
                break
            current = cleaned
        return current

    def _clean_once(self, words: list[Word], previous: Word | None) -> list[Word]:
        cleaned = [reduce_word(w) for w in words]
        cleaned = self._drop_fillers(cleaned, previous)
        cleaned = self._drop_part_words(cleaned, previous)
        return self._drop_repetitions(cleaned, previous)

    def _drop_fillers(self, words: list[Word], previous: Word | None) -> list[Word]:
        drop = [False] * len(words)
        for start, end in self.fillers.find([key(w.text) for w in words]):
            drop[start:end] = [True] * (end - start)
        return drop_words(words, drop, previous)

    @staticmethod
    def _drop_part_words(words: list[Word], previous: Word | None) -> list[Word]:
        drop = [False] * len(words)
        for i in range(len(words) - 1):
            if is_part_word_repetition(words[i], words[i + 1]):
                drop[i] = True
                lead, core, trail = split(words[i + 1].text)
                if core and lead.endswith("-"):
                    words[i + 1] = dataclasses.replace(words[i + 1], text=lead.rstrip("-") + core + trail)
        return drop_words(words, drop, previous)

    @staticmethod
    def _drop_repetitions(words: list[Word], previous: Word | None) -> list[Word]:
        drop = [False] * len(words)
        start = 0
        reference = previous
        while start < len(words) and reference is not None and is_repetition(reference, words[start]):
            drop[start] = True
            reference = words[start]
            start += 1
        for i in range(start, len(words) - 1):
            drop[i] = is_repetition(words[i], words[i + 1])
        return drop_words(words, drop, previous)


__all__ = [
    "DEFAULT_FILLERS",
    "DisfluencyCleaner",
    "filler_patterns",
    "is_cut_off",
    "is_part_word_repetition",
    "is_repetition",
    "reduce_word",
]
