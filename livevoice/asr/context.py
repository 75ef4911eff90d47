"""Context across utterances, and the guard against Whisper's repetition loops. Pure code.

Each utterance is decoded from its own audio; without context, Whisper guesses its first
words from nothing ("At dawn a pilot" -> "I thought that"). :class:`SpokenContext` keeps
the end of what was said before and hands it out as the decoder's text prompt, within
limits that keep tiny.en out of the loops a naive prompt caused (one word repeated for
10 s): the prompt is short (``max_chars``, cut at a word), it is forgotten after a pause
of ``reset_after_s``, and it is dropped as soon as a decode that used it loops.
:func:`repetition_start` finds such a loop in a hypothesis.
"""

from __future__ import annotations

from collections.abc import Sequence

from livevoice.asr.agreement import normalize

LONG_NGRAM = 5
"""An n-gram of at least this many words said twice in a row is a loop too (Whisper repeating
a whole sentence: "Can you hear me clearly through the microphone? Can you hear me ...")."""


def repetition_start(words: Sequence[str], *, min_copies: int = 3, max_ngram: int = 30) -> int | None:
    """Index of the second copy in the first loop in ``words``; None when there is none.

    A loop: ``min_copies`` or more consecutive copies of one n-gram shorter than
    :data:`LONG_NGRAM` words, or two copies of a longer one (n <= ``max_ngram``).
    Cutting the words there keeps one copy: "thank you thank you thank you" -> "thank you".
    """
    keys = [normalize(w) for w in words]
    for start in range(len(keys)):
        for n in range(1, max_ngram + 1):
            gram = keys[start : start + n]
            if len(gram) < n or not any(gram):
                break
            copies = 1
            while keys[start + copies * n : start + (copies + 1) * n] == gram:
                copies += 1
            if copies >= (min_copies if n < LONG_NGRAM else 2):
                return start + n
    return None


class SpokenContext:
    """The end of the previous utterances' text, handed out as a prompt while it is fresh."""

    def __init__(self, *, max_chars: int, reset_after_s: float) -> None:
        self.max_chars = max_chars
        """Longest prompt (characters); 0 = no context."""
        self.reset_after_s = reset_after_s
        """A pause longer than this (stream time, s) forgets the context."""
        self._text = ""
        self._end_s: float | None = None

    def prompt(self, utterance_start_s: float) -> str | None:
        """The prompt for an utterance starting at ``utterance_start_s`` (stream time)."""
        if not self._text or self._end_s is None:
            return None
        if utterance_start_s - self._end_s > self.reset_after_s:
            self.drop()
            return None
        return self._text

    def remember(self, text: str, end_s: float) -> None:
        """Add an utterance's final text, which ended at ``end_s`` (stream time)."""
        if self.max_chars <= 0 or not text.strip():
            return
        joined = f"{self._text} {text.strip()}".strip()
        if len(joined) > self.max_chars:
            cut = joined[-self.max_chars :]
            space = cut.find(" ")
            joined = cut[space + 1 :] if 0 <= space < len(cut) - 1 else cut
        self._text = joined
        self._end_s = end_s

    def drop(self) -> None:
        """Forget everything (after a loop, or a long pause)."""
        self._text = ""
        self._end_s = None
