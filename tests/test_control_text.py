"""GetTextOptions / SetTextOptions: the text stage switched at run time, over the dispatcher,
a real websocket, the daemon's pipeline and ``livevoice ctl``.

Every check of a change also puts words through a text stage with the settings in force
and compares what comes out, so a request that answered success without reaching the
settings fails; the pipeline tests follow committed words to the TTS queue.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from test_control_support import SECRET, make_library, running_server

from livevoice.audio.budget import plan_buffers
from livevoice.cli import main
from livevoice.config import Config, TextConfig, VoicesConfig
from livevoice.control.client import ControlClient, RequestFailedError
from livevoice.control.codes import RequestStatus
from livevoice.control.dispatch import Dispatcher
from livevoice.control.live import LiveState
from livevoice.control.protocol import RequestBatch, RequestResponse
from livevoice.control.records import ControlStats, TextOptions
from livevoice.control.requests import SetTextOptionsRequest
from livevoice.control.wire import camel, to_wire, wire_fields
from livevoice.controls import LiveControls
from livevoice.frames import TranscriptFinal, Word, WordsCommitted
from livevoice.pipeline import Pipeline
from livevoice.reload import reload_config
from livevoice.text import Beep, Say, TextStage, WordFilterError, words_from_text
from livevoice.voices.library import VoiceLibrary

NO_STATS = ControlStats(0, 0, 0, 0)
SENTENCE = "Um, well darn it, oh my gosh I I want cake."
DEFAULTS = to_wire(TextOptions.from_config(TextConfig()))


@pytest.fixture
def library(tmp_path: Path) -> VoiceLibrary:
    return make_library(tmp_path / "voices")


@pytest.fixture
def word_list(tmp_path: Path) -> Path:
    path = tmp_path / "words.txt"
    path.write_text("# hidden on stream\ndarn\noh my gosh\n", encoding="utf-8")
    return path


@pytest.fixture
def state(library: VoiceLibrary) -> LiveState:
    return LiveState(LiveControls(library, library.get("alice")))


@pytest.fixture
def dispatcher(state: LiveState) -> Dispatcher:
    return Dispatcher(state, lambda: NO_STATS)


def call(dispatcher: Dispatcher, request_type: str, data: Any = None) -> RequestResponse:
    return dispatcher.handle("t", request_type, data)


def ok(dispatcher: Dispatcher, request_type: str, data: Any = None) -> dict[str, Any]:
    response = call(dispatcher, request_type, data)
    assert response.request_status.code == RequestStatus.SUCCESS, response.request_status.comment
    assert response.response_data is not None
    return response.response_data


def failed(dispatcher: Dispatcher, data: Any, status: RequestStatus) -> str:
    response = call(dispatcher, "SetTextOptions", data)
    assert response.request_status.code == status, response.request_status.comment
    assert not response.request_status.result and response.response_data is None
    comment = response.request_status.comment or ""
    assert comment and "\n" not in comment
    return comment


def parts(stage: TextStage | LiveState, text: str = SENTENCE) -> tuple[Any, ...]:
    """``text`` through a stage, or through a stage with the settings a state has in force."""
    if isinstance(stage, LiveState):
        stage = TextStage(stage.controls.text_settings)
    return stage.process(words_from_text(text))


# -- the records mirror the config -----------------------------------------------------


def test_request_and_answer_have_exactly_the_text_config_keys() -> None:
    keys = [camel(f.name) for f in dataclasses.fields(TextConfig)]
    assert wire_fields(SetTextOptionsRequest) == keys
    assert wire_fields(TextOptions) == keys
    assert DEFAULTS["fillers"] == list(TextConfig().fillers)


# -- dispatcher over the control-only state -------------------------------------------


def test_get_answers_the_settings_of_the_config(library: VoiceLibrary, word_list: Path) -> None:
    text = TextConfig(segment_on="sentence", word_filter_file=str(word_list), filter_action="drop")
    config = Config(voices=VoicesConfig(library=str(library.folder)), text=text)
    dispatcher = Dispatcher(LiveState(LiveControls.from_config(config)), lambda: NO_STATS)
    assert ok(dispatcher, "GetTextOptions") == {
        **DEFAULTS,
        "segmentOn": "sentence",
        "wordFilterFile": str(word_list),
        "filterAction": "drop",
    }


def test_set_changes_only_the_given_fields_and_the_stage_uses_them(
    dispatcher: Dispatcher, state: LiveState, word_list: Path
) -> None:
    assert ok(dispatcher, "GetTextOptions") == DEFAULTS
    assert parts(state) == (Say(SENTENCE),)

    answer = ok(dispatcher, "SetTextOptions", {"wordFilterFile": str(word_list)})
    assert answer == {**DEFAULTS, "wordFilterFile": str(word_list)}
    assert ok(dispatcher, "GetTextOptions") == answer
    assert parts(state) == (
        Say("Um, well"),
        Beep(0.0, 1),
        Say("it,"),
        Beep(0.0, 3),
        Say("I I want cake."),
    )

    changes = {"cleanDisfluencies": True, "filterAction": "replace", "filterReplacement": "beans"}
    answer = ok(dispatcher, "SetTextOptions", changes)
    assert answer == {**DEFAULTS, "wordFilterFile": str(word_list), **changes}
    assert parts(state) == (Say("Well beans it, beans I want cake."),)

    ok(dispatcher, "SetTextOptions", {"filterAction": "drop", "fillers": ["well"]})
    assert parts(state) == (Say("Um, it, I want cake."),)

    answer = ok(dispatcher, "SetTextOptions", {"wordFilterFile": "", "cleanDisfluencies": False})
    assert answer == {**DEFAULTS, "filterAction": "drop", "filterReplacement": "beans", "fillers": ["well"]}
    assert parts(state) == (Say(SENTENCE),)


def test_phrase_settings_reach_the_segmenter(dispatcher: Dispatcher, state: LiveState) -> None:
    stage = TextStage(state.controls.text_settings)
    ws = words_from_text("So, I went home. Then we ate, and slept.")
    assert [p.text for p in stage.on_words(1, ws, 1)] == ["So, I went home.", "Then we ate,"]
    assert stage.abandon(2) == []
    ok(dispatcher, "SetTextOptions", {"segmentOn": "end"})
    stage.use(state.controls.text_settings)  # as the pipeline does before each batch of words
    assert stage.on_words(2, ws, 1) == []
    final = TranscriptFinal(2, " ".join(w.text for w in ws), ws, 0.0, 1.0, 1, 2, 3)
    assert [(p.text, p.final) for p in stage.on_final(final)] == [(final.text, True)]
    assert (
        ok(dispatcher, "SetTextOptions", {"segmentOn": "stream", "minPhraseWords": 2})["segmentOn"]
        == "stream"
    )
    stage.use(state.controls.text_settings)
    pieces = stage.on_words(3, ws[:6], 4)  # a clause, then the first words of the next one
    assert [(p.text, p.piece, p.more) for p in pieces] == [
        ("So, I went home.", 0, False),
        ("Then we", 0, True),
    ]


@pytest.mark.parametrize(
    ("data", "status", "fragments"),
    [
        (
            {"filterAction": "mute"},
            RequestStatus.INVALID_REQUEST_FIELD,
            ["text.filter_action = 'mute' is not allowed", "'beep', 'drop', 'replace'"],
        ),
        ({"segmentOn": "word"}, RequestStatus.INVALID_REQUEST_FIELD, ["text.segment_on = 'word'"]),
        (
            {"minPhraseWords": 0},
            RequestStatus.INVALID_REQUEST_FIELD,
            ["text.min_phrase_words = 0 is out of range; allowed: 1 to 100"],
        ),
        (
            {"maxPhraseWords": 2},
            RequestStatus.INVALID_REQUEST_FIELD,
            ["text.max_phrase_words = 2 is below text.min_phrase_words = 3"],
        ),
        (
            {"filterAction": "replace", "filterReplacement": "!!"},
            RequestStatus.INVALID_REQUEST_FIELD,
            ["text.filter_replacement = '!!' has no letter or digit"],
        ),
        ({"fillers": ["um", "u*m"]}, RequestStatus.INVALID_REQUEST_FIELD, ["text.fillers has 'u*m'"]),
        (
            {"cleanDisfluencies": "yes"},
            RequestStatus.INVALID_REQUEST_FIELD_TYPE,
            ["'cleanDisfluencies' must be true or false"],
        ),
        ({"fillers": "um"}, RequestStatus.INVALID_REQUEST_FIELD_TYPE, ["'fillers' must be an array"]),
        ({"minPhraseWords": 2.5}, RequestStatus.INVALID_REQUEST_FIELD_TYPE, ["must be an integer"]),
        ({"filterActoin": "drop"}, RequestStatus.UNKNOWN_REQUEST_FIELD, ["'filterActoin'"]),
        ({}, RequestStatus.MISSING_REQUEST_FIELD, ["at least one of segmentOn", "fillers"]),
        ({"cleanDisfluencies": None}, RequestStatus.MISSING_REQUEST_FIELD, ["at least one of"]),
    ],
)
def test_bad_values_answer_one_precise_line_and_change_nothing(
    dispatcher: Dispatcher,
    state: LiveState,
    word_list: Path,
    data: dict[str, Any],
    status: RequestStatus,
    fragments: list[str],
) -> None:
    before = ok(dispatcher, "SetTextOptions", {"wordFilterFile": str(word_list), "minPhraseWords": 3})
    expected_parts = parts(state)
    assert Beep(0.0, 1) in expected_parts
    if status != RequestStatus.MISSING_REQUEST_FIELD:  # a valid change beside it is not applied either
        data = {"cleanDisfluencies": True, **data}
    comment = failed(dispatcher, data, status)
    for fragment in fragments:
        assert fragment in comment
    assert ok(dispatcher, "GetTextOptions") == before
    assert parts(state) == expected_parts


@pytest.mark.parametrize(
    ("content", "fragment"),
    [
        (None, "does not exist"),
        (b"darn\nda*rn\n", "line 2: 'da*rn' has a '*' that is not at its end"),
        (b"\xff\xfe\x00 not text", "is not UTF-8 text"),
        ("folder", "cannot be read"),
    ],
)
def test_a_bad_list_file_keeps_the_old_settings(
    dispatcher: Dispatcher,
    state: LiveState,
    word_list: Path,
    tmp_path: Path,
    content: bytes | str | None,
    fragment: str,
) -> None:
    before = ok(dispatcher, "SetTextOptions", {"wordFilterFile": str(word_list)})
    bad = tmp_path / "bad.txt"
    if isinstance(content, bytes):
        bad.write_bytes(content)
    elif content == "folder":
        bad.mkdir()
    comment = failed(
        dispatcher, {"wordFilterFile": str(bad), "filterAction": "drop"}, RequestStatus.INVALID_REQUEST_FIELD
    )
    assert comment.startswith(f"word filter list {bad}") and fragment in comment
    assert ok(dispatcher, "GetTextOptions") == before
    assert parts(state, "darn it") == (Beep(0.0, 1), Say("it"))


def test_setting_the_same_list_again_reads_the_edited_file(
    dispatcher: Dispatcher, state: LiveState, word_list: Path
) -> None:
    ok(dispatcher, "SetTextOptions", {"wordFilterFile": str(word_list), "filterAction": "drop"})
    assert parts(state, "darn heck it") == (Say("heck it"),)
    word_list.write_text("heck\n", encoding="utf-8")
    assert parts(state, "darn heck it") == (Say("heck it"),)  # loaded once, not per phrase
    ok(dispatcher, "SetTextOptions", {"wordFilterFile": str(word_list)})
    assert parts(state, "darn heck it") == (Say("darn it"),)
    word_list.unlink()
    comment = failed(dispatcher, {"cleanDisfluencies": True}, RequestStatus.INVALID_REQUEST_FIELD)
    assert "does not exist" in comment
    assert parts(state, "darn heck it") == (Say("darn it"),)


def test_a_batch_halts_at_a_bad_change(dispatcher: Dispatcher, state: LiveState) -> None:
    batch = RequestBatch(
        "b",
        (
            {"requestType": "SetTextOptions", "requestData": {"cleanDisfluencies": True}},
            {"requestType": "SetTextOptions", "requestData": {"segmentOn": "never"}},
            {"requestType": "SetTextOptions", "requestData": {"filterAction": "drop"}},
        ),
        halt_on_failure=True,
    )
    codes = [r.request_status.code for r in dispatcher.handle_batch(batch).results]
    assert codes == [RequestStatus.SUCCESS, RequestStatus.INVALID_REQUEST_FIELD]
    assert state.controls.text_settings.config == TextConfig(clean_disfluencies=True)


def test_control_only_start_with_a_missing_list_is_one_line(library: VoiceLibrary, tmp_path: Path) -> None:
    missing = tmp_path / "nope.txt"
    config = Config(
        voices=VoicesConfig(library=str(library.folder)), text=TextConfig(word_filter_file=str(missing))
    )
    with pytest.raises(WordFilterError, match=f"word filter list {re.escape(str(missing))} does not exist"):
        LiveControls.from_config(config)


# -- the daemon's pipeline ------------------------------------------------------------


def _pipeline(controls: LiveControls) -> Pipeline:
    """A real pipeline as the daemon builds it, not started: no devices opened, no model called."""
    devices: dict[str, Any] = {"input": None, "output": None, "monitor": None}
    plan = plan_buffers(300, 48000)
    return Pipeline(Config(), plan, devices, None, None, None, controls, lambda _: None)


def _spoken(pipeline: Pipeline, utterance_id: int, text: str) -> list[tuple[Any, ...]]:
    """Committed words in as the recogniser hands them on, the final text after: the parts
    of the phrases queued for the TTS."""
    ws = words_from_text(text)
    pipeline._on_transcript(WordsCommitted(utterance_id, ws, 1))
    pipeline._on_transcript(TranscriptFinal(utterance_id, text, ws, 0.0, 1.0, 1, 2, 3))
    queued = []
    while pipeline.tts.queued:
        queued.append(pipeline.tts._queue.get_nowait())
    return [tuple(run.part for run in iter(feed.next_run, None)) for feed in queued]


def test_the_running_pipeline_and_a_rebuilt_one_use_the_settings_in_force(
    library: VoiceLibrary, word_list: Path
) -> None:
    controls = LiveControls(library, library.get("alice"))
    dispatcher = Dispatcher(LiveState(controls), lambda: NO_STATS)
    running = _pipeline(controls)
    assert _spoken(running, 1, "Darn it, oh my gosh.") == [(Say("Darn it, oh my gosh."),)]
    changes = {"wordFilterFile": str(word_list), "filterAction": "replace", "cleanDisfluencies": True}
    assert ok(dispatcher, "SetTextOptions", changes) == {**DEFAULTS, **changes}
    assert _spoken(running, 2, SENTENCE) == [(Say("Well bleep it,"),), (Say("bleep I want cake."),)]

    comment = failed(dispatcher, {"maxPhraseWords": 1}, RequestStatus.INVALID_REQUEST_FIELD)
    assert "text.max_phrase_words = 1" in comment
    failed(dispatcher, {"wordFilterFile": str(word_list) + ".gone"}, RequestStatus.INVALID_REQUEST_FIELD)
    assert _spoken(running, 3, SENTENCE) == [(Say("Well bleep it,"),), (Say("bleep I want cake."),)]

    rebuilt = _pipeline(controls)  # what a device change builds
    assert _spoken(rebuilt, 4, "Darn it") == [(Say("Bleep it"),)]
    ok(dispatcher, "SetTextOptions", {"filterAction": "drop"})
    assert _spoken(rebuilt, 5, "Darn it") == [(Say("It"),)]


def test_sighup_puts_the_files_text_settings_in_force_or_keeps_them(
    library: VoiceLibrary, word_list: Path, tmp_path: Path
) -> None:
    path = tmp_path / "config.toml"
    voices = f'[voices]\nlibrary = "{library.folder}"\n'
    path.write_text(voices + f'[text]\nword_filter_file = "{word_list}"\nfilter_action = "drop"\n')
    controls = LiveControls(library, library.get("alice"))
    pipeline = _pipeline(controls)
    first = reload_config(path, Config(), controls)
    assert (first.loaded, first.errors, first.needs_restart) == (True, (), ())
    assert first.summary() == "config reloaded"
    assert first.config.text.filter_action == "drop"
    assert _spoken(pipeline, 1, "Darn it") == [(Say("It"),)]

    path.write_text(voices + f'[text]\nword_filter_file = "{word_list}.gone"\n[audio]\noutput_device = "x"\n')
    second = reload_config(path, first.config, controls)
    assert second.loaded and second.errors == (
        f"text settings not reloaded: word filter list {word_list}.gone does not exist",
    )
    assert second.needs_restart == ("audio",)
    assert second.summary() == "config reloaded; changes to [audio] take effect after a restart"
    assert second.config.text == first.config.text  # the settings in force are kept
    assert _spoken(pipeline, 2, "Darn it") == [(Say("It"),)]

    path.write_text("[text]\nsegment_on = 3\n")
    third = reload_config(path, second.config, controls)
    assert (third.loaded, third.config) == (False, second.config)
    assert third.errors[0].startswith("config not reloaded: ")
    assert _spoken(pipeline, 3, "Darn it") == [(Say("It"),)]


# -- over a real websocket -------------------------------------------------------------


def test_over_the_socket(library: VoiceLibrary, word_list: Path) -> None:
    state = LiveState(LiveControls(library, library.get("alice")))

    async def scenario() -> None:
        async with running_server(state) as server, await ControlClient.connect(server.url, SECRET) as client:
            assert await client.request("GetTextOptions") == DEFAULTS
            changes = {"wordFilterFile": str(word_list), "cleanDisfluencies": True}
            assert await client.request("SetTextOptions", changes) == {**DEFAULTS, **changes}
            with pytest.raises(RequestFailedError) as caught:
                await client.request("SetTextOptions", {"filterAction": "loud"})
            assert caught.value.code == RequestStatus.INVALID_REQUEST_FIELD
            assert caught.value.comment.startswith("config key text.filter_action = 'loud' is not allowed")
            gone = str(word_list.with_name("gone.txt"))
            missing = await client.call(
                "SetTextOptions", {"wordFilterFile": gone, "cleanDisfluencies": False}
            )
            assert missing.request_status.code == RequestStatus.INVALID_REQUEST_FIELD
            assert missing.request_status.comment == f"word filter list {gone} does not exist"
            assert await client.request("GetTextOptions") == {**DEFAULTS, **changes}

    asyncio.run(scenario())
    ws = (Word("Um,", 0.0, 0.3), Word("oh", 0.25, 0.5), Word("my", 0.5, 0.6), Word("gosh", 0.6, 0.75))
    ws += words_from_text("I I want cake.")
    stage = TextStage(state.controls.text_settings)
    phrases = stage.on_words(7, ws, 1)
    phrases += stage.on_final(TranscriptFinal(7, "", ws, 0.0, 1.0, 1, 2, 3))
    assert [(p.parts, p.final) for p in phrases] == [((Beep(0.5, 3), Say("I want cake.")), False), ((), True)]


# -- livevoice ctl against a control-only daemon ---------------------------------------


def test_ctl_get_and_set(
    library: VoiceLibrary, word_list: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "config.toml"
    config.write_text(
        f'[voices]\nlibrary = "{library.folder}"\n\n[control]\nport = 0\n'
        f'secret_file = "{tmp_path / "secret"}"\n\n[text]\nword_filter_file = "{word_list}"\n',
        encoding="utf-8",
    )
    process = subprocess.Popen(
        [sys.executable, "-m", "livevoice.cli", "--config", str(config), "run", "--control-only"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        assert process.stdout is not None
        match = re.search(r"listening on ws://127\.0\.0\.1:(\d+) ", process.stdout.readline())
        assert match, process.stderr.read() if process.poll() is not None and process.stderr else ""

        def ctl(*args: str) -> tuple[int, str, str]:
            code = main(["--config", str(config), "ctl", "--port", match.group(1), *args])
            out, err = capsys.readouterr()
            return code, out, err

        code, out, err = ctl("GetTextOptions")
        assert (code, err, json.loads(out)) == (0, "", {**DEFAULTS, "wordFilterFile": str(word_list)})
        code, out, err = ctl("settextoptions", '{"filterAction": "drop", "segmentOn": "sentence"}')
        assert (code, err) == (0, "")
        assert json.loads(out) == {
            **DEFAULTS,
            "wordFilterFile": str(word_list),
            "filterAction": "drop",
            "segmentOn": "sentence",
        }
        code, out, err = ctl("SetTextOptions", '{"minPhraseWords": 500}')
        assert (code, out) == (2, "")
        assert err == (
            "livevoice: error: SetTextOptions failed (400 InvalidRequestField): "
            "config key text.min_phrase_words = 500 is out of range; allowed: 1 to 100\n"
        )
        assert json.loads(ctl("GetTextOptions")[1])["filterAction"] == "drop"
    finally:
        process.terminate()
        process.communicate(timeout=30)
    assert process.returncode == 0
