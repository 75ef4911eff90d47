"""The phrase segmenter: when to hand committed words on to the TTS.

Words arrive in :class:`~livevoice.frames.WordsCommitted` events while someone speaks
and the rest arrives with the :class:`~livevoice.frames.TranscriptFinal` at the VAD end
of speech. The segmenter cuts them into phrases so that a long sentence starts being
spoken before it ends. By ``segment_on``:

- ``"clause"``: after a word ending a clause or sentence (``, ; : -- ... . ! ?``);
- ``"sentence"``: after a word ending a sentence (``. ! ?``; not ``Mr.`` or ``U.S.``);
- ``"end"``: never before the end of speech (one phrase per utterance);
- ``"stream"``: phrases end where ``"clause"`` ends them, but a phrase is handed on
  while it is spoken: its first words as soon as at least ``min_phrase_words`` of the
  clause are committed (a segment with ``more=True``), then every later commit (more
  segments of the same phrase), and the segment that ends the clause closes it
  (``more=False``).

A cut needs at least ``min_phrase_words`` words in the phrase (a lone ``"So,"`` waits
for more); with ``max_phrase_words`` > 0 a phrase that reaches that many words without
a boundary is cut anyway (in ``"sentence"`` mode at its last clause mark if it has
one). The end of speech always ends the last phrase, whatever its length.

Guarantees: every committed word ends up in exactly one segment, in order; phrase
indices count 0, 1, 2... per utterance (the segments of a streamed phrase share its
index, and only the last of them has ``more=False``); exactly one segment per utterance
has ``final=True``, the last. Where the phrases end depends only on the words, never on
how they were split into events (a :data:`CutGuard` that waits for the next words keeps
this true; see :class:`~livevoice.text.stage.TextStage`); where a streamed phrase is
split into segments depends on the commits, and every split is one the guard allows.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from livevoice.config import TextConfig
from livevoice.frames import Phrase, TranscriptFinal, Word
from livevoice.text.tokens import ends_clause, ends_sentence, join


class Cut(enum.Enum):
    """A guard's verdict on a possible cut."""

    YES = "yes"
    """Cut here."""
    NO = "no"
    """Not here (the words on both sides belong together); try the next boundary."""
    WAIT = "wait"
    """Cannot tell before the next words are known; cut nothing more for now."""


CutGuard = Callable[[Sequence[Word], int, bool], Cut]
"""``guard(words, i, complete)``: may the words be cut between ``words[i - 1]`` and
``words[i]``? ``i`` may be ``len(words)`` (after the last known word); ``complete`` is
True when no word follows ``words[-1]`` in the utterance."""


def always_cut(words: Sequence[Word], i: int, complete: bool) -> Cut:
    """The guard that accepts every boundary."""
    return Cut.YES


@dataclass(frozen=True, slots=True)
class Segment:
    """Committed words handed on together: one phrase before the text clean-up."""

    utterance_id: int
    index: int
    """0, 1, 2... within the utterance: the phrase (the segments of a streamed phrase share it)."""
    words: tuple[Word, ...]
    """The words, as recognised; empty only in a segment that closes a phrase after all its
    words were handed on (the final segment, or an abandoned streamed phrase)."""
    final: bool
    """True for the last segment of the utterance."""
    t_text_ready_ns: int
    """Monotonic time (ns) of the commit (or the final transcript) that completed it."""
    previous: Word | None
    """The word spoken just before ``words[0]`` in the utterance (None for the first segment)."""
    more: bool = False
    """True when more segments of the same phrase follow (``"stream"``); False when this one
    ends the phrase."""

    @property
    def text(self) -> str:
        """The words separated by single spaces."""
        return join(self.words)

    def to_phrase(self) -> Phrase:
        """The segment as a :class:`~livevoice.frames.Phrase` (its text unchanged)."""
        return Phrase(
            self.utterance_id, self.index, self.text, self.final, self.t_text_ready_ns, more=self.more
        )


class PhraseSegmenter:
    """Cuts the committed words of one utterance at a time into segments.

    Synchronous and pure apart from its own state; one thread calls it.
    """

    def __init__(self, config: TextConfig | None = None, guard: CutGuard = always_cut) -> None:
        self.config = config or TextConfig()
        self.guard = guard
        self.discarded_words = 0
        """Words of utterances that were abandoned without a final transcript (counted, not spoken)."""
        self._utterance_id: int | None = None
        self._pending: list[Word] = []
        self._handed_on = 0
        self._next_index = 0
        self._last: Word | None = None
        self._open_words = 0
        """Words of the phrase being handed on in pieces ("stream") already handed on; 0 = none open."""

    def configure(self, config: TextConfig, guard: CutGuard = always_cut) -> None:
        """Use new settings from the next call on; words already pending stay pending."""
        self.config = config
        self.guard = guard

    @property
    def pending_words(self) -> tuple[Word, ...]:
        """Committed words not handed on yet."""
        return tuple(self._pending)

    @property
    def utterance_id(self) -> int | None:
        """The utterance in progress (None between utterances)."""
        return self._utterance_id

    @property
    def phrase_open(self) -> bool:
        """True while a streamed phrase was opened (segments with ``more=True``) and not closed."""
        return self._open_words > 0

    def on_words(self, utterance_id: int, words: Sequence[Word], t_ns: int) -> list[Segment]:
        """Take newly committed words; return the segments that are now ready."""
        self._enter(utterance_id)
        self._pending.extend(words)
        cuts = self._cuts(self._pending, complete=False, handed_on=self._open_words)
        segments = self._emit(cuts, t_ns)
        if self.config.segment_on == "stream":
            segments += self._stream(t_ns)
        return segments

    def on_final(self, final: TranscriptFinal) -> list[Segment]:
        """End the utterance: the rest of its words, the last segment with ``final=True``.

        ``final.words`` is the truth: the rest is what follows the words already handed
        on (so a missed commit event loses nothing). When everything was handed on, the
        result is one empty final segment: the marker that the utterance ended.
        """
        self._enter(final.utterance_id)
        self._pending = list(final.words[self._handed_on :])
        cuts = self._cuts(self._pending, complete=True, handed_on=self._open_words)
        segments = self._emit(cuts, final.t_text_ready_ns)
        segments.append(self._segment(tuple(self._pending), final.t_text_ready_ns, final=True))
        self._utterance_id = None
        self._pending = []
        return segments

    def discard(self, utterance_id: int) -> int:
        """Forget an utterance that will not be finished (an ASR error); returns the words dropped.

        A streamed phrase of it that was opened is not closed here: whoever speaks it must
        be told (see :meth:`~livevoice.text.stage.TextStage.abandon`).
        """
        if self._utterance_id != utterance_id:
            return 0
        dropped = len(self._pending)
        self.discarded_words += dropped
        self._utterance_id = None
        self._pending = []
        self._open_words = 0
        return dropped

    def _enter(self, utterance_id: int) -> None:
        if self._utterance_id == utterance_id:
            return
        if self._utterance_id is not None:
            self.discard(self._utterance_id)
        self._utterance_id = utterance_id
        self._pending = []
        self._handed_on = 0
        self._next_index = 0
        self._last = None
        self._open_words = 0

    def _is_boundary(self, word: Word) -> bool:
        mode = self.config.segment_on
        if mode in ("clause", "stream"):
            return ends_clause(word.text)
        return mode == "sentence" and ends_sentence(word.text)

    def _cuts(self, words: Sequence[Word], *, complete: bool, handed_on: int = 0) -> list[int]:
        """Positions after which to cut ``words`` (increasing, each in 1..len(words)).

        ``handed_on`` words of the phrase that ``words`` continue were handed on already.
        """
        config = self.config
        if config.segment_on == "end":
            return []
        limit = config.max_phrase_words
        cuts: list[int] = []
        start = 0
        for i in range(1, len(words) + 1):
            size = i - start + (handed_on if start == 0 else 0)
            candidates: list[int] = []
            if size >= config.min_phrase_words and self._is_boundary(words[i - 1]):
                candidates.append(i)
            elif limit and size >= limit:
                if config.segment_on == "sentence":
                    earliest = start + config.min_phrase_words
                    marks = range(i - 1, earliest - 1, -1)
                    candidates.extend(k for k in marks if ends_clause(words[k - 1].text))
                candidates.append(i)
            if complete:  # the end of the utterance ends the last phrase anyway
                candidates = [k for k in candidates if k < len(words)]
            for k in candidates:
                verdict = self.guard(words, k, complete)
                if verdict is Cut.WAIT:
                    return cuts
                if verdict is Cut.YES:
                    cuts.append(k)
                    start = k
                    break
        return cuts

    def _stream(self, t_ns: int) -> list[Segment]:
        """``"stream"``: the pending words of the phrase not cut yet, as far as the guard
        lets them go (the phrase opens once it holds ``min_phrase_words``)."""
        words = self._pending
        for k in range(len(words), 0, -1):
            if self._open_words + k < self.config.min_phrase_words:
                break
            if self.guard(words, k, False) is Cut.YES:
                segment = self._segment(tuple(words[:k]), t_ns, final=False, more=True)
                del words[:k]
                return [segment]
        return []

    def _emit(self, cuts: list[int], t_ns: int) -> list[Segment]:
        segments: list[Segment] = []
        start = 0
        for end in cuts:
            segments.append(self._segment(tuple(self._pending[start:end]), t_ns, final=False))
            start = end
        del self._pending[:start]
        return segments

    def _segment(self, words: tuple[Word, ...], t_ns: int, *, final: bool, more: bool = False) -> Segment:
        assert self._utterance_id is not None
        segment = Segment(self._utterance_id, self._next_index, words, final, t_ns, self._last, more)
        if more:
            self._open_words += len(words)
        else:
            self._next_index += 1
            self._open_words = 0
        self._handed_on += len(words)
        if words:
            self._last = words[-1]
        return segment


__all__ = ["Cut", "CutGuard", "PhraseSegmenter", "Segment", "always_cut"]
