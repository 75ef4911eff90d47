"""The parts of one phrase for the TTS worker, as they arrive.

A phrase handed on whole (``[text] segment_on`` "clause", "sentence", "end", typed text)
arrives with all its :class:`~livevoice.text.parts.Say` and
:class:`~livevoice.text.parts.Beep` parts. A streamed phrase (``"stream"``) arrives in
pieces (:class:`~livevoice.frames.Phrase` ``piece``/``more``) while the worker may already
be speaking it. :class:`PhraseFeed` holds what has not been spoken and hands the worker
one :class:`Run` at a time:

- a beep, to play;
- a run of text to speak in one TTS stream; ``more`` when text may still follow (the
  phrase is open and nothing but text came so far). The worker opens that stream with
  ``final=False`` and :meth:`PhraseFeed.attach` es it: from then on the text of new pieces
  is appended to it by the thread that adds them (the worker is busy generating, or the
  stream waits for text), and the stream is closed when the phrase closes or a beep comes.

So a beep inside a streamed clause closes the text before it (its stream ends there),
plays, and the text after it opens a new stream, as within a phrase handed on whole.

Thread-safe: one thread adds pieces, the worker takes runs, any thread may cancel. Adding
never waits for the worker; it takes this feed's lock and the attached stream's (both held
briefly: appending text only re-tokenises it).
"""

from __future__ import annotations

import threading
from collections import deque
from dataclasses import dataclass
from typing import Protocol

from livevoice.frames import Phrase
from livevoice.text.parts import Beep, Part, Say


class TextSink(Protocol):
    """Where the text of an open run goes (a :class:`~livevoice.tts.engine.TtsStream`)."""

    def append(self, text: str) -> None: ...

    def close(self) -> None: ...


@dataclass(frozen=True, slots=True)
class Run:
    """What the worker does next with a phrase."""

    part: Part
    """A :class:`Beep` to play, or a :class:`Say` with the text to start a TTS stream on."""
    more: bool = False
    """For text: more text may follow (open the stream with ``final=False`` and attach it)."""


def _leading_text(parts: deque[Part]) -> list[str]:
    """Take the :class:`Say` parts at the front of ``parts``; their texts."""
    texts: list[str] = []
    while parts and isinstance(part := parts[0], Say):
        texts.append(part.text)
        parts.popleft()
    return texts


def parts_of(phrase: Phrase) -> tuple[Part, ...]:
    """A record's parts: those of a text-stage phrase, else its text as one :class:`Say`."""
    parts: tuple[Part, ...] = getattr(phrase, "parts", ())
    if parts:
        return parts
    return (Say(phrase.text),) if phrase.text.strip() else ()


class PhraseFeed:
    """One phrase for the TTS worker: its parts not spoken yet, and whether more will come."""

    def __init__(self, head: Phrase) -> None:
        self.utterance_id = head.utterance_id
        self.phrase_index = head.phrase_index
        self.t_text_ready_ns = head.t_text_ready_ns
        """When the phrase's first words were handed on."""
        self._cond = threading.Condition()
        self._parts: deque[Part] = deque(parts_of(head))
        self._closed = not head.more
        self._cancelled = False
        self._sink: TextSink | None = None
        self._pieces = 1
        self._text = [p.text for p in self._parts if isinstance(p, Say)]

    # -- the adding thread ----------------------------------------------------------

    def holds(self, piece: Phrase) -> bool:
        """True when ``piece`` belongs to this phrase."""
        return (piece.utterance_id, piece.phrase_index) == (self.utterance_id, self.phrase_index)

    def add(self, piece: Phrase) -> bool:
        """A later piece of the phrase; False (ignored) once the phrase was closed or cancelled."""
        with self._cond:
            if self._closed or self._cancelled or piece.piece != self._pieces:
                return False
            self._pieces += 1
            parts = deque(parts_of(piece))
            self._text += [p.text for p in parts if isinstance(p, Say)]
            sink = self._sink
            if sink is not None:
                for text in _leading_text(parts):
                    sink.append(" " + text)
                if parts or not piece.more:  # a beep, or the end: this run is complete
                    self._sink = None
                    sink.close()
            self._parts.extend(parts)
            self._closed = not piece.more
            self._cond.notify_all()
            return True

    def close(self) -> None:
        """No more pieces will come (their phrase was left open by mistake): what it has is
        spoken to its end."""
        with self._cond:
            if self._closed or self._cancelled:
                return
            self._closed = True
            sink, self._sink = self._sink, None
            if sink is not None:
                sink.close()
            self._cond.notify_all()

    def cancel(self) -> None:
        """Stop: the worker gets no more runs, later pieces are ignored (an attached stream is
        the worker's to cancel)."""
        with self._cond:
            self._cancelled = True
            self._sink = None
            self._cond.notify_all()

    # -- the worker -----------------------------------------------------------------

    def next_run(self) -> Run | None:
        """The next thing to speak, waiting for it; None once everything was handed out and
        the phrase is closed, or once it is cancelled."""
        with self._cond:
            while not self._parts:
                if self._closed or self._cancelled:
                    return None
                self._cond.wait()
            if self._cancelled:
                return None
            part = self._parts.popleft()
            if isinstance(part, Beep):
                return Run(part)
            texts = [part.text, *_leading_text(self._parts)]
            return Run(Say(" ".join(texts)), more=not self._parts and not self._closed)

    def attach(self, sink: TextSink) -> None:
        """The stream now speaking the last run (handed out with ``more``): the text that
        arrives from now on goes to it, and it is closed when its run is complete."""
        with self._cond:
            if self._cancelled:
                return
            for text in _leading_text(self._parts):  # arrived meanwhile
                sink.append(" " + text)
            if self._parts or self._closed:
                sink.close()
            else:
                self._sink = sink

    def detach(self, sink: TextSink) -> None:
        """The stream has ended (or was cancelled): nothing more goes to it."""
        with self._cond:
            if self._sink is sink:
                self._sink = None

    # -- anyone -----------------------------------------------------------------------

    @property
    def closed(self) -> bool:
        """True once the piece that closes the phrase arrived."""
        return self._closed

    @property
    def cancelled(self) -> bool:
        return self._cancelled

    @property
    def text(self) -> str:
        """The phrase's text so far (without beeps), for logs."""
        with self._cond:
            return " ".join(self._text)


__all__ = ["PhraseFeed", "Run", "TextSink", "parts_of"]
