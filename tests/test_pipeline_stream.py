"""The loop's routing of streamed phrases ([text] segment_on = "stream"): a real pipeline as the
daemon builds it, not started (no device opened, no model called); what reaches the TTS queue."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from test_control_support import make_library

from livevoice.audio.budget import plan_buffers
from livevoice.config import Config, TextConfig
from livevoice.controls import LiveControls
from livevoice.frames import LoopRecord, StageError, TranscriptFinal, WordsCommitted
from livevoice.pipeline import Pipeline
from livevoice.text import Say, TextPhrase, words_from_text
from livevoice.tts.phrase_feed import PhraseFeed, Run


@pytest.fixture
def records() -> list[LoopRecord]:
    return []


@pytest.fixture
def pipeline(tmp_path: Path, records: list[LoopRecord]) -> Pipeline:
    library = make_library(tmp_path / "voices")
    text = TextConfig(segment_on="stream", clean_disfluencies=True)
    controls = LiveControls(library, library.get("alice"), text)
    devices: dict[str, Any] = {"input": None, "output": None, "monitor": None}
    return Pipeline(Config(), plan_buffers(300, 48000), devices, None, None, None, controls, records.append)


def queued(pipeline: Pipeline) -> list[PhraseFeed]:
    return list(pipeline.tts._queue.queue)


def test_a_clause_is_queued_on_its_first_words_and_grows_with_each_commit(pipeline: Pipeline) -> None:
    ws = words_from_text("so we go on, um.")
    pipeline._on_transcript(WordsCommitted(1, ws[:3], 10))
    (feed,) = queued(pipeline)
    assert (feed.utterance_id, feed.t_text_ready_ns, feed.closed) == (1, 10, False)
    assert feed.next_run() == Run(Say("so we go"), more=True)
    pipeline._on_transcript(WordsCommitted(1, ws[3:4], 11))  # "on," ends the clause: closed
    assert feed.closed and feed.next_run() == Run(Say("on,"))
    assert feed.next_run() is None
    # "um." is cleaned away: the utterance's end marker reaches nobody, the queue stays as it was
    pipeline._on_transcript(TranscriptFinal(1, "so we go on, um.", ws, 0.0, 1.0, 1, 2, 12))
    assert queued(pipeline) == [feed]


def test_the_piece_that_closes_a_phrase_reaches_it_even_without_words(pipeline: Pipeline) -> None:
    ws = words_from_text("so we go um.")
    pipeline._on_transcript(WordsCommitted(2, ws[:3], 10))
    (feed,) = queued(pipeline)
    pipeline._on_transcript(TranscriptFinal(2, "so we go um.", ws, 0.0, 1.0, 1, 2, 12))
    assert feed.closed and feed.text == "so we go"


def test_an_asr_failure_closes_the_phrase_being_streamed(
    pipeline: Pipeline, records: list[LoopRecord]
) -> None:
    pipeline._on_transcript(WordsCommitted(3, words_from_text("we were saying that"), 10))
    (feed,) = queued(pipeline)
    pipeline._asr_failed("asr", "ASR failed, utterance dropped: boom")
    assert feed.closed and not pipeline.text.phrase_open
    assert StageError("asr", "ASR failed, utterance dropped: boom") in records


def test_stopping_closes_the_phrase_being_streamed(pipeline: Pipeline) -> None:
    pipeline._on_transcript(WordsCommitted(4, words_from_text("and then we"), 10))
    (feed,) = queued(pipeline)
    pipeline.stop()
    assert feed.closed and not pipeline.text.phrase_open


def test_typed_text_waits_behind_a_streamed_phrase_and_a_new_one_never_leaves_it_waiting(
    pipeline: Pipeline,
) -> None:
    pipeline._on_transcript(WordsCommitted(5, words_from_text("one two three"), 10))
    uid = pipeline.speak("Typed words.")  # queued behind it; the streamed phrase stays open
    first, typed = queued(pipeline)
    assert not first.closed and typed.utterance_id == uid and typed.closed
    # a streamed phrase the text stage left open (it never does) is closed by the next one
    pipeline.tts.submit(TextPhrase.build(6, 0, (Say("four five six"),), False, 11, (), more=True))
    assert first.closed and not queued(pipeline)[-1].closed
