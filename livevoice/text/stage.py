"""The text stage between the ASR and the TTS: phrases, disfluency clean-up, word filter.

::

    WordsCommitted / TranscriptFinal
        -> PhraseSegmenter   (when to hand words on)
        -> DisfluencyCleaner (optional: fillers, repetitions)
        -> WordFilter        (optional: beep, drop or replace listed words)
        -> TextPhrase        (Say / Beep parts for the TTS)

Synchronous and pure apart from the utterance in progress. One worker thread calls
:meth:`TextStage.on_words` / :meth:`TextStage.on_final`; any thread may switch the
settings (:meth:`TextStage.configure` or :meth:`TextStage.use`), which swaps them in
between two calls, never in the middle of one. Settings are loaded (the list file read)
by :meth:`TextSettings.load` before anything changes: a bad new setting (a missing list
file) raises there and leaves the old settings in place. In the daemon the settings in
force belong to :class:`~livevoice.controls.LiveControls`; the pipeline hands them to its
stage.

Per utterance the stage returns phrases numbered 0, 1, 2... and exactly one with
``final=True``, the last. That one may have no parts: everything was said already, and
it only marks the end of the utterance (do not send it to the TTS). A non-final phrase
always has parts: a segment the clean-up or the filter emptied is skipped.

With ``segment_on = "stream"`` a phrase comes in pieces (see
:class:`~livevoice.frames.Phrase`): piece 0 (``more=True``) opens it with its first
words, pieces 1, 2... add the words committed later, and the piece with ``more=False``
closes it. The clean-up and the filter run on every piece (with the word before it as
context; the segmenter's guard never splits what they must see together). A piece they
empty is skipped (its words go with the next piece), except the one that closes an open
phrase: it is sent without parts, so the TTS knows the phrase is complete. A phrase whose
utterance is abandoned (:meth:`TextStage.abandon`, or words of a new utterance) is closed
by such an empty piece too, so nothing waits for words that will never come. Pieces are
sent to the TTS, the closing ones even without parts; only a piece-0 record without
parts (the final marker) is not.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from livevoice.config import TextConfig
from livevoice.frames import Phrase, TranscriptFinal, Word
from livevoice.text.disfluency import (
    DisfluencyCleaner,
    is_cut_off,
    is_part_word_repetition,
    is_repetition,
)
from livevoice.text.filter import WordFilter, load_word_list
from livevoice.text.matching import PatternSet
from livevoice.text.parts import Beep, Part, Say
from livevoice.text.segmenter import Cut, PhraseSegmenter, Segment
from livevoice.text.tokens import join, key


@dataclass(frozen=True, slots=True)
class TextPhrase(Phrase):
    """A :class:`~livevoice.frames.Phrase` with where to beep and the words it came from.

    ``text`` is what to speak without the beeps ("" when there is nothing to say); a TTS
    stage that knows beeps speaks ``parts`` instead. Build it with :meth:`build`.
    """

    parts: tuple[Part, ...]
    """:class:`Say` and :class:`Beep` in speaking order (never two :class:`Say` in a row);
    empty only in a final phrase that just marks the end of the utterance, or in a piece
    that closes a streamed phrase."""
    words: tuple[Word, ...]
    """The recognised words the phrase (or piece) stands for, before clean-up and filter
    (with those of any segment before it that the clean-up or the filter emptied): every
    committed word of an utterance is in exactly one record's ``words``."""

    @classmethod
    def build(
        cls,
        utterance_id: int,
        phrase_index: int,
        parts: tuple[Part, ...],
        final: bool,
        t_text_ready_ns: int,
        words: tuple[Word, ...],
        *,
        piece: int = 0,
        more: bool = False,
    ) -> TextPhrase:
        """A phrase (or a piece of one) whose ``text`` is its :class:`Say` parts joined by spaces."""
        text = " ".join(part.text for part in parts if isinstance(part, Say))
        return cls(
            utterance_id, phrase_index, text, final, t_text_ready_ns, parts, words, piece=piece, more=more
        )

    @property
    def has_beep(self) -> bool:
        """True when at least one part is a :class:`Beep`."""
        return any(isinstance(part, Beep) for part in self.parts)

    def display_text(self, beep: str = "[beep]") -> str:
        """The phrase as one line for logs and transcript events, beeps shown as ``beep``."""
        return " ".join(part.text if isinstance(part, Say) else beep for part in self.parts)


def words_from_text(text: str) -> tuple[Word, ...]:
    """Typed text as words (no timings), for sending it through :meth:`TextStage.process`."""
    return tuple(Word(word, 0.0, 0.0) for word in text.split())


def to_parts(items: Sequence[Word | Beep]) -> tuple[Part, ...]:
    """Runs of words joined into :class:`Say` parts, beeps kept between them."""
    parts: list[Part] = []
    run: list[Word] = []
    for item in items:
        if isinstance(item, Beep):
            if run:
                parts.append(Say(join(run)))
                run = []
            parts.append(item)
        else:
            run.append(item)
    if run:
        parts.append(Say(join(run)))
    return tuple(parts)


def _straddled(patterns: PatternSet, keys: list[str], i: int, complete: bool) -> Cut | None:
    """NO when a match covers both sides of ``i``; WAIT when one could still form across it."""
    if not patterns or patterns.longest < 2:
        return None
    if any(start < i < end for start, end in patterns.find(keys)):
        return Cut.NO
    if not complete:
        first = max(0, len(keys) - patterns.longest + 1)
        if any(patterns.open_at(keys, j) for j in range(first, i)):
            return Cut.WAIT
    return None


@dataclass(frozen=True)
class TextSettings:
    """The ``[text]`` settings, loaded: the clean-up and the word filter (its list file read).

    Immutable: switching settings swaps one object for another. Build with :meth:`load`.
    """

    config: TextConfig
    cleaner: DisfluencyCleaner | None
    word_filter: WordFilter | None

    @classmethod
    def load(cls, config: TextConfig) -> TextSettings:
        """Load ``config``; :class:`~livevoice.text.filter.WordFilterError` for a bad list file."""
        cleaner = DisfluencyCleaner(config.fillers) if config.clean_disfluencies else None
        word_filter = None
        if config.word_filter_file:
            patterns = load_word_list(Path(config.word_filter_file).expanduser())
            word_filter = WordFilter(patterns, config.filter_action, config.filter_replacement)
        return cls(config, cleaner, word_filter)

    def guard(self, words: Sequence[Word], i: int, complete: bool) -> Cut:
        """Keep together what the clean-up and the filter must see together."""
        keys = [key(w.text) for w in words] if self.cleaner or self.word_filter else []
        if self.cleaner is not None:
            if i < len(words):
                before, after = words[i - 1], words[i]
                if is_repetition(before, after) or is_part_word_repetition(before, after):
                    return Cut.NO
            elif not complete and is_cut_off(words[i - 1]):
                return Cut.WAIT
            verdict = _straddled(self.cleaner.fillers, keys, i, complete)
            if verdict is not None:
                return verdict
        if self.word_filter is not None:
            verdict = _straddled(self.word_filter.patterns, keys, i, complete)
            if verdict is not None:
                return verdict
        return Cut.YES


class TextStage:
    """Committed words in, :class:`TextPhrase` records for the TTS out."""

    def __init__(self, settings: TextConfig | TextSettings | None = None) -> None:
        self._lock = threading.Lock()
        if not isinstance(settings, TextSettings):
            settings = TextSettings.load(settings or TextConfig())
        self._settings = settings
        self._segmenter = PhraseSegmenter(self._settings.config, self._settings.guard)
        self._utterance_id: int | None = None
        self._next_index = 0
        self._piece = 0
        """The next piece of the phrase being streamed; 0 = no phrase open."""
        self._carried: tuple[Word, ...] = ()
        """Words of skipped (emptied) segments, given to the next phrase's ``words``."""

    @property
    def config(self) -> TextConfig:
        """The settings in use."""
        return self._settings.config

    @property
    def discarded_words(self) -> int:
        """Committed words of abandoned utterances (never finished, never spoken)."""
        return self._segmenter.discarded_words

    @property
    def phrase_open(self) -> bool:
        """True while a streamed phrase was handed on (piece 0) and not closed yet."""
        return self._piece > 0

    @property
    def settings(self) -> TextSettings:
        """The loaded settings in use."""
        return self._settings

    def configure(self, config: TextConfig) -> None:
        """Switch to new settings from the next call on (raises, changing nothing, on a bad list file)."""
        self.use(TextSettings.load(config))

    def use(self, settings: TextSettings) -> None:
        """Switch to settings already loaded, from the next call on (nothing to do if in use)."""
        if settings is self._settings:
            return
        with self._lock:
            self._settings = settings
            self._segmenter.configure(settings.config, settings.guard)

    def on_words(self, utterance_id: int, words: Sequence[Word], t_ns: int) -> list[TextPhrase]:
        """Newly committed words in; the phrases (or pieces) now ready out (often none).

        Words of a new utterance while another one is unfinished abandon that one (as
        :meth:`abandon` does): the first record out may close its open phrase.
        """
        with self._lock:
            closing = self._close_abandoned(utterance_id, t_ns)
            return closing + self._finish(self._segmenter.on_words(utterance_id, words, t_ns))

    def on_final(self, final: TranscriptFinal) -> list[TextPhrase]:
        """The end of an utterance: the rest of it, the last phrase with ``final=True``."""
        with self._lock:
            closing = self._close_abandoned(final.utterance_id, final.t_text_ready_ns)
            return closing + self._finish(self._segmenter.on_final(final))

    def abandon(self, t_ns: int) -> list[TextPhrase]:
        """Forget the utterance in progress (it will not be finished: an ASR error).

        Its words not handed on are dropped (counted in :attr:`discarded_words`); a phrase
        of it that is being streamed is closed: the record out (if any) closes it.
        """
        with self._lock:
            return self._close_abandoned(None, t_ns)

    def _close_abandoned(self, utterance_id: int | None, t_ns: int) -> list[TextPhrase]:
        """Abandon the unfinished utterance unless it is ``utterance_id``; the record that
        closes its open phrase, if one is open."""
        current = self._segmenter.utterance_id
        if current is not None and current != utterance_id:
            self._segmenter.discard(current)
        uid = self._utterance_id
        if uid is None or uid == utterance_id:
            return []
        closing: list[TextPhrase] = []
        if self._piece:
            closing.append(
                TextPhrase.build(uid, self._next_index, (), False, t_ns, self._carried, piece=self._piece)
            )
        self._utterance_id = None
        self._piece = 0
        self._carried = ()
        return closing

    def process(self, words: Sequence[Word], previous: Word | None = None) -> tuple[Part, ...]:
        """The clean-up and the filter of the current settings on one group of words.

        ``previous`` is the word spoken just before (``None`` at the start of an utterance).
        """
        settings = self._settings
        cleaned = settings.cleaner.clean(words, previous) if settings.cleaner else list(words)
        items: Sequence[Word | Beep] = cleaned
        if settings.word_filter is not None:
            items = settings.word_filter.apply(cleaned, previous)
        return to_parts(items)

    def _finish(self, segments: list[Segment]) -> list[TextPhrase]:
        phrases: list[TextPhrase] = []
        for segment in segments:
            if segment.utterance_id != self._utterance_id:
                self._utterance_id = segment.utterance_id
                self._next_index = 0
                self._piece = 0
                self._carried = ()
            parts = self.process(segment.words, segment.previous)
            closes_open_phrase = self._piece > 0 and not segment.more
            if not parts and not segment.final and not closes_open_phrase:
                self._carried += segment.words
                continue
            phrases.append(
                TextPhrase.build(
                    segment.utterance_id,
                    self._next_index,
                    parts,
                    segment.final,
                    segment.t_text_ready_ns,
                    self._carried + segment.words,
                    piece=self._piece,
                    more=segment.more,
                )
            )
            self._carried = ()
            if segment.more:
                self._piece += 1
            else:
                self._piece = 0
                self._next_index += 1
            if segment.final:
                self._utterance_id = None
        return phrases


__all__ = ["TextPhrase", "TextSettings", "TextStage", "to_parts", "words_from_text"]
