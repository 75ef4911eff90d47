"""The parts of a phrase as the TTS worker takes them: whole phrases, and streamed ones whose
pieces arrive while a TTS stream speaks them (the stream's text is a real TextFeed here)."""

from __future__ import annotations

import threading

from livevoice.frames import Phrase
from livevoice.text.parts import Beep, Say
from livevoice.text.stage import TextPhrase
from livevoice.tts.phrase_feed import PhraseFeed, Run
from livevoice.tts.text_feed import TextFeed


def piece(parts: tuple[Say | Beep, ...], index: int, *, more: bool, phrase: int = 0) -> TextPhrase:
    return TextPhrase.build(7, phrase, parts, False, 100 + index, (), piece=index, more=more)


def sink() -> TextFeed:
    """What an engine stream keeps of its text (bytes as tokens)."""
    return TextFeed(lambda text: list(text.encode()))


def test_a_whole_phrase_is_its_parts_in_order() -> None:
    feed = PhraseFeed(TextPhrase.build(1, 0, (Say("Well"), Beep(0.4, 1), Say("that is it.")), True, 5, ()))
    assert feed.closed and feed.t_text_ready_ns == 5
    assert [feed.next_run() for _ in range(4)] == [
        Run(Say("Well")),
        Run(Beep(0.4, 1)),
        Run(Say("that is it.")),
        None,
    ]
    plain = PhraseFeed(Phrase(2, 0, "Typed words.", True, 6))  # typed text: no parts, its text
    assert plain.next_run() == Run(Say("Typed words.")) and plain.next_run() is None


def test_a_streamed_phrase_grows_the_stream_speaking_it_until_it_closes() -> None:
    feed = PhraseFeed(piece((Say("Good evening and"),), 0, more=True))
    run = feed.next_run()
    assert run == Run(Say("Good evening and"), more=True)  # open the stream with final=False
    text = sink()
    text.append("Good evening and")
    feed.attach(text)
    assert feed.add(piece((Say("welcome"),), 1, more=True))
    assert feed.add(piece((Say("to the stream,"),), 2, more=False))
    assert text.text == "Good evening and welcome to the stream," and text.final
    assert feed.next_run() is None and feed.text == "Good evening and welcome to the stream,"
    assert not feed.add(piece((Say("late"),), 3, more=False))  # closed: nothing more is taken


def test_a_beep_inside_a_streamed_clause_closes_the_text_before_it_and_opens_a_new_stream() -> None:
    feed = PhraseFeed(piece((Say("I want"),), 0, more=True))
    assert feed.next_run() == Run(Say("I want"), more=True)
    first = sink()
    first.append("I want")
    feed.attach(first)
    assert feed.add(piece((Say("the"), Beep(0.3, 1), Say("cake")), 1, more=True))
    assert first.text == "I want the" and first.final  # its stream ends before the beep
    assert feed.next_run() == Run(Beep(0.3, 1))
    assert feed.next_run() == Run(Say("cake"), more=True)
    second = sink()
    second.append("cake")
    feed.attach(second)
    assert feed.add(piece((), 2, more=False))  # the closing piece may be empty
    assert second.text == "cake" and second.final and feed.next_run() is None


def test_pieces_that_come_before_the_stream_is_attached_are_given_to_it() -> None:
    feed = PhraseFeed(piece((Say("so we"),), 0, more=True))
    run = feed.next_run()
    assert run is not None and run.more
    assert feed.add(piece((Say("go"),), 1, more=True))  # while the worker opens the stream
    text = sink()
    text.append("so we")
    feed.attach(text)
    assert text.text == "so we go" and not text.final
    assert feed.add(piece((Say("now."),), 2, more=False))
    assert text.text == "so we go now." and text.final
    # closed before the attach: the stream is closed at once
    late = PhraseFeed(piece((Say("a b"),), 0, more=True, phrase=1))
    assert late.next_run() == Run(Say("a b"), more=True)
    assert late.add(piece((Say("c."),), 1, more=False, phrase=1))
    text = sink()
    text.append("a b")
    late.attach(text)
    assert text.text == "a b c." and text.final and late.next_run() is None


def test_the_worker_waits_for_the_next_piece_or_a_cancel() -> None:
    feed = PhraseFeed(piece((Say("one"), Beep(0.2, 1)), 0, more=True))
    assert feed.next_run() == Run(Say("one"))  # a beep follows: this text is complete
    assert feed.next_run() == Run(Beep(0.2, 1))
    got: list[Run | None] = []
    taker = threading.Thread(target=lambda: got.extend([feed.next_run(), feed.next_run()]))
    taker.start()
    assert feed.add(piece((Say("two"),), 1, more=True))
    feed.cancel()
    taker.join(10)
    assert not taker.is_alive()
    assert got[1] is None and got[0] in (Run(Say("two"), more=True), None)
    assert not feed.add(piece((Say("three"),), 2, more=False))


def test_a_piece_of_another_phrase_or_out_of_order_is_not_taken() -> None:
    feed = PhraseFeed(piece((Say("a b c"),), 0, more=True))
    assert not feed.holds(piece((Say("x"),), 1, more=True, phrase=1))
    assert not feed.add(piece((Say("x"),), 2, more=True))  # piece 1 is missing
    assert feed.add(piece((Say("d"),), 1, more=True))
    assert feed.next_run() == Run(Say("a b c d"), more=True)


def test_closing_a_phrase_left_open_lets_what_it_has_be_spoken() -> None:
    feed = PhraseFeed(piece((Say("left open"),), 0, more=True))
    assert feed.next_run() == Run(Say("left open"), more=True)
    text = sink()
    text.append("left open")
    feed.attach(text)
    feed.close()
    assert text.final and feed.closed and feed.next_run() is None
    assert not feed.add(piece((Say("late"),), 1, more=False))
