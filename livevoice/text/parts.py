"""What the text stage hands to the TTS: spoken text and beeps, in order."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Say:
    """Text to speak in the current voice."""

    text: str
    """Words separated by single spaces, with their punctuation; never empty."""


@dataclass(frozen=True, slots=True)
class Beep:
    """A filtered word or phrase to be replaced by a tone."""

    duration_s: float
    """How long the hidden words were spoken (seconds, >= 0): a natural length for the tone."""
    words: int
    """How many recognised words the beep hides (>= 1)."""


Part = Say | Beep
"""One piece of a phrase: :class:`Say` or :class:`Beep`."""

__all__ = ["Beep", "Part", "Say"]
