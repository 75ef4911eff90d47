"""LocalAgreement-2: commit the words two consecutive hypotheses agree on.

Each decode of the growing utterance gives a hypothesis: a list of timed words.
A word is *committed* (will never change) once it is part of the longest common
prefix of the last two hypotheses, after the words already committed. Pure code.
"""

from __future__ import annotations

import string

from livevoice.frames import Word

_STRIP = string.punctuation + "¿¡«»“”‘’…"


def normalize(text: str) -> str:
    """Compare words without case and surrounding punctuation."""
    return text.strip().strip(_STRIP).lower()


class LocalAgreement:
    """The LocalAgreement-2 policy over timed word hypotheses (times absolute, seconds)."""

    def __init__(
        self,
        *,
        overlap_tolerance_s: float = 0.1,
        max_ngram: int = 5,
        stable_margin_s: float = 0.0,
        min_probability: float = 0.0,
        unsure_margin_s: float = float("inf"),
    ) -> None:
        self.committed: list[Word] = []
        self._previous: list[Word] = []
        self.overlap_tolerance_s = overlap_tolerance_s
        self.max_ngram = max_ngram
        self.stable_margin_s = stable_margin_s
        """A word is only committed once the pass heard this much audio after its end (s):
        passes a few hundred ms apart agree on a guess at the last, half-heard word."""
        self.min_probability = min_probability
        """A word Whisper gave a lower probability in either pass is *unsure*: it is only
        committed during speech once a pass heard ``unsure_margin_s`` after it (it and the
        words after it wait for more audio, or for the final pass)."""
        self.unsure_margin_s = unsure_margin_s

    @property
    def committed_end_s(self) -> float:
        return self.committed[-1].end_s if self.committed else 0.0

    def _new_part(self, hypothesis: list[Word]) -> list[Word]:
        """The part of ``hypothesis`` after what is already committed.

        Drops words that start before the committed end (with a tolerance), then a leading n-gram that
        repeats the committed tail (Whisper re-reads the last committed words when the
        buffer still holds their audio).
        """
        limit = self.committed_end_s - self.overlap_tolerance_s
        words = [w for w in hypothesis if w.start_s >= limit]
        if self.committed and words:
            for n in range(min(self.max_ngram, len(self.committed), len(words)), 0, -1):
                tail = [normalize(w.text) for w in self.committed[-n:]]
                head = [normalize(w.text) for w in words[:n]]
                if tail == head:
                    return words[n:]
        return words

    def update(self, hypothesis: list[Word], heard_until_s: float = float("inf")) -> list[Word]:
        """Take a new hypothesis (of audio up to ``heard_until_s``); return the words it newly commits."""
        current = self._new_part(hypothesis)
        previous = self._new_part(self._previous)
        agreed: list[Word] = []
        for new, old in zip(current, previous, strict=False):
            margin = self.stable_margin_s
            if min(new.probability, old.probability) < self.min_probability:
                margin = max(margin, self.unsure_margin_s)
            if normalize(new.text) != normalize(old.text) or new.end_s > heard_until_s - margin:
                break
            agreed.append(new)
        self.committed.extend(agreed)
        self._previous = hypothesis
        return agreed

    def tentative(self) -> list[Word]:
        """Words of the last hypothesis not committed yet."""
        return self._new_part(self._previous)

    def finish(self, hypothesis: list[Word]) -> list[Word]:
        """End of speech: commit everything the final hypothesis adds."""
        rest = self._new_part(hypothesis)
        self.committed.extend(rest)
        self._previous = []
        return rest
