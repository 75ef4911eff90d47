"""Text that grows while it is spoken, handed to the model one token per codec frame.

Qwen3-TTS reads the phrase as an additive row per 80 ms frame: the text tokens one by
one, then one end-of-text row, then padding. A phrase can still be growing (the
recogniser commits words while the TTS already speaks), so :class:`TextFeed` answers,
for each step, one of:

- a token id to read now;
- :data:`END` (the text is final and fully read: the end-of-text row);
- :data:`PAD` (after the end: padding);
- :data:`WAIT` (the text is not final and no token is ready yet: generation must pause;
  reading padding now would make the model end the phrase early).

Byte-level BPE can merge the last token of the text with characters appended later
("Hel" + "lo"), so while the text is not final its last token is held back. Tokens already
handed out are never changed; if a later re-tokenisation disagrees with them (rare: BPE
re-segmenting more than the last token), reading continues at the same position of the
new tokenisation.

Pure code: the tokenizer is any function from text to token ids.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Final

END: Final = -1
"""Step marker: read the end-of-text row."""
PAD: Final = -2
"""Step marker: read padding (after the end)."""
WAIT: Final = -3
"""Step marker: no token is ready yet; wait for more text or for close()."""


class TextFeed:
    """The text of one phrase and its tokens, possibly still growing."""

    def __init__(self, tokenize: Callable[[str], list[int]], text: str = "", *, final: bool = False) -> None:
        self._tokenize = tokenize
        self._text = text
        self._final = final
        self._tokens: list[int] = tokenize(text) if text else []

    @property
    def text(self) -> str:
        """The text so far."""
        return self._text

    @property
    def final(self) -> bool:
        """True once no more text can be appended."""
        return self._final

    @property
    def tokens(self) -> list[int]:
        """The current tokenisation of the whole text (a copy)."""
        return list(self._tokens)

    def append(self, text: str) -> None:
        """Add ``text`` at the end (exactly as given: include the separating space)."""
        if self._final:
            raise ValueError("cannot append to a closed text")
        if text:
            self._text += text
            self._tokens = self._tokenize(self._text)

    def close(self) -> None:
        """Declare the text final."""
        self._final = True

    def ready_count(self) -> int:
        """Number of tokens that may be read now."""
        if self._final:
            return len(self._tokens)
        return max(0, len(self._tokens) - 1)

    def step(self, index: int) -> int:
        """What to read at text position ``index`` (0-based): a token id, END, PAD or WAIT."""
        if index < self.ready_count():
            return self._tokens[index]
        if not self._final:
            return WAIT
        return END if index == len(self._tokens) else PAD

    def is_empty(self) -> bool:
        """True if the text has no tokens (nothing to say)."""
        return not self._tokens


__all__ = ["END", "PAD", "WAIT", "TextFeed"]
