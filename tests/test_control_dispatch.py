"""Requests against real voice files, without sockets: the Dispatcher over the daemon's own state,
control-only, and over a real daemon on the test audio server for the requests that need audio."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from daemon_harness import opened, rig_config, wait_until
from test_control_support import VALID_DATA, control_only, make_library

from livevoice.audio import virtual_mic as vm
from livevoice.config import Config, VoicesConfig, load_config
from livevoice.control.codes import RequestStatus
from livevoice.control.dispatch import Dispatcher
from livevoice.control.live import LiveState
from livevoice.control.protocol import RequestBatch, RequestResponse
from livevoice.control.records import ControlStats
from livevoice.control.requests import REQUESTS
from livevoice.controls import LiveControls
from livevoice.daemon import Daemon
from livevoice.errors import LivevoiceError
from livevoice.frames import ControlChange, ModeChanged, VoiceChanged
from livevoice.models import Models
from livevoice.voices import algebra
from livevoice.voices.library import VoiceLibrary

NO_STATS = ControlStats(0, 0, 0, 0)
AUDIO_REQUESTS = [name for name, spec in REQUESTS.items() if spec.needs_audio]


@pytest.fixture
def library(tmp_path: Path) -> VoiceLibrary:
    return make_library(tmp_path / "voices")


@pytest.fixture
def events() -> list[ControlChange]:
    return []


@pytest.fixture
def state(library: VoiceLibrary, events: list[ControlChange]) -> LiveState:
    live = control_only(library)
    live.controls.listen(events.append)
    return live


@pytest.fixture
def dispatcher(state: LiveState) -> Dispatcher:
    return Dispatcher(state, lambda: NO_STATS)


@pytest.fixture
def daemon(audio_rig: Path, tmp_path: Path, tiny_qwen_dir: Path, tiny_models: Models) -> Iterator[Daemon]:
    """A real daemon, its loop open on the rig's silent default microphone and (no output set) the
    virtual mic, voices of the tiny model's size."""
    library = make_library(tmp_path / "voices", dim=64)
    config = load_config(rig_config(tmp_path, tiny_qwen_dir, library.folder))
    with opened(config, tiny_models) as running:
        yield running


def call(dispatcher: Dispatcher, request_type: Any, data: Any = None) -> RequestResponse:
    return dispatcher.handle("id-1", request_type, data)


def ok(dispatcher: Dispatcher, request_type: str, data: Any = None) -> dict[str, Any]:
    response = call(dispatcher, request_type, data)
    assert response.request_status.result, response.request_status
    assert response.request_status.code == 100
    assert response.request_id == "id-1"
    assert response.response_data is not None
    return response.response_data


def failed(dispatcher: Dispatcher, request_type: Any, data: Any, status: RequestStatus) -> str:
    response = call(dispatcher, request_type, data)
    assert not response.request_status.result
    assert response.request_status.code == status, response.request_status.comment
    assert response.response_data is None
    assert response.request_status.comment
    return response.request_status.comment


@pytest.mark.parametrize("request_type", [name for name in REQUESTS if name not in AUDIO_REQUESTS])
def test_every_request_succeeds_with_valid_data(dispatcher: Dispatcher, request_type: str) -> None:
    ok(dispatcher, request_type, VALID_DATA[request_type])


@pytest.mark.rig
@pytest.mark.slow
@pytest.mark.parametrize("request_type", list(REQUESTS))
def test_every_request_succeeds_with_valid_data_on_the_daemon(daemon: Daemon, request_type: str) -> None:
    ok(Dispatcher(daemon.state, lambda: NO_STATS), request_type, VALID_DATA[request_type])


def test_reads_describe_the_real_library(dispatcher: Dispatcher, library: VoiceLibrary) -> None:
    voices = ok(dispatcher, "ListVoices")
    assert [v["name"] for v in voices["voices"]] == ["alice", "big", "bob", "carol"]
    assert voices["currentVoice"] == "alice"
    alice = voices["voices"][0]
    assert (alice["dim"], alice["modelId"], alice["note"]) == (1024, "Qwen/Qwen3-TTS-12Hz-0.6B-Base", "test")
    assert voices["voices"][1]["dim"] == 2048
    assert ok(dispatcher, "GetCurrentVoice") == {
        "voice": "alice",
        "dim": 1024,
        "modelId": "Qwen/Qwen3-TTS-12Hz-0.6B-Base",
        "transient": False,
        "pending": None,
        "morph": None,
    }
    version = ok(dispatcher, "GetVersion")
    assert version["availableRequests"] == list(REQUESTS)
    assert "VoiceChanged" in version["availableEvents"]
    assert version["rpcVersion"] == 1


def test_set_voice_changes_the_voice_and_publishes(
    dispatcher: Dispatcher, state: LiveState, library: VoiceLibrary, events: list[ControlChange]
) -> None:
    ok(dispatcher, "SetVoice", {"voice": "bob", "apply": "now"})
    assert ok(dispatcher, "GetStatus")["voice"] == "bob"
    assert events == [VoiceChanged("bob", "alice", 1024, False, None, "now")]
    embedding = state.controls.voice_for_phrase()
    assert embedding is not None
    np.testing.assert_array_equal(embedding, library.get("bob").embedding)


def test_unknown_voice_is_not_found_and_changes_nothing(
    dispatcher: Dispatcher, events: list[ControlChange]
) -> None:
    comment = failed(dispatcher, "SetVoice", {"voice": "zed"}, RequestStatus.RESOURCE_NOT_FOUND)
    assert "unknown voice 'zed'" in comment and "alice" in comment
    assert ok(dispatcher, "GetStatus")["voice"] == "alice"
    assert events == []


def test_mix_voices_makes_the_algebra_mix_current(
    dispatcher: Dispatcher, state: LiveState, library: VoiceLibrary, events: list[ControlChange]
) -> None:
    result = ok(dispatcher, "MixVoices", {"weights": {"alice": 7, "bob": 3}})
    assert result == {"voice": "mix:0.7*alice+0.3*bob"}
    current = ok(dispatcher, "GetCurrentVoice")
    assert (current["voice"], current["transient"], current["dim"]) == ("mix:0.7*alice+0.3*bob", True, 1024)
    expected = algebra.mix([(library.get("alice").embedding, 0.7), (library.get("bob").embedding, 0.3)])
    embedding = state.controls.voice_for_phrase()
    assert embedding is not None
    np.testing.assert_allclose(embedding, expected, rtol=1e-6)
    assert isinstance(events[-1], VoiceChanged) and events[-1].transient is True


@pytest.mark.parametrize(
    ("weights", "status", "fragment"),
    [
        ({"alice": 1, "big": 1}, RequestStatus.INCOMPATIBLE_RESOURCES, "'big' (2048)"),
        ({"alice": 1, "zed": 1}, RequestStatus.RESOURCE_NOT_FOUND, "'zed'"),
        ({"alice": -1, "bob": 2}, RequestStatus.REQUEST_FIELD_OUT_OF_RANGE, "weights.alice"),
        ({"alice": 0, "bob": 0}, RequestStatus.INVALID_REQUEST_FIELD, "positive weight"),
    ],
)
def test_bad_mixes_fail_precisely(
    dispatcher: Dispatcher,
    events: list[ControlChange],
    weights: dict[str, float],
    status: RequestStatus,
    fragment: str,
) -> None:
    assert fragment in failed(dispatcher, "MixVoices", {"weights": weights}, status)
    assert ok(dispatcher, "GetCurrentVoice")["voice"] == "alice"
    assert events == []


def test_morph_reports_progress_and_arrives(
    dispatcher: Dispatcher, state: LiveState, library: VoiceLibrary, events: list[ControlChange]
) -> None:
    ok(dispatcher, "MorphVoice", {"to": "carol", "durationMs": 600_000, "curve": "ease"})
    current = ok(dispatcher, "GetCurrentVoice")
    assert current["voice"] == "carol"
    morph = current["morph"]
    assert (morph["fromVoice"], morph["toVoice"], morph["durationMs"], morph["curve"]) == (
        "alice",
        "carol",
        600_000,
        "ease",
    )
    assert 0.0 <= morph["progress"] < 0.01
    embedding = state.controls.voice_for_phrase()
    assert embedding is not None
    assert algebra.cosine(embedding, library.get("alice").embedding) > 0.99
    assert isinstance(events[-1], VoiceChanged)
    assert events[-1].morph is not None and events[-1].voice == "carol"
    ok(dispatcher, "MorphVoice", {"to": "bob", "durationMs": 0})
    assert ok(dispatcher, "GetCurrentVoice")["morph"] is None
    embedding = state.controls.voice_for_phrase()
    assert embedding is not None
    np.testing.assert_array_equal(embedding, library.get("bob").embedding)


def test_morph_to_another_model_size_is_incompatible(dispatcher: Dispatcher) -> None:
    comment = failed(dispatcher, "MorphVoice", {"to": "big"}, RequestStatus.INCOMPATIBLE_RESOURCES)
    assert "1024" in comment and "2048" in comment


def test_mode_and_push_to_talk(dispatcher: Dispatcher, events: list[ControlChange]) -> None:
    ok(dispatcher, "SetMode", {"mode": "convert"})
    assert events == []
    ok(dispatcher, "SetMode", {"mode": "mute"})
    assert events == [ModeChanged("mute", "convert")]
    ok(dispatcher, "SetPushToTalk", {"pressed": True, "enabled": True})
    ok(dispatcher, "SetPushToTalk", {"pressed": False})
    status = ok(dispatcher, "GetStatus")
    assert (status["mode"], status["pushToTalkEnabled"], status["pushToTalkPressed"]) == ("mute", True, False)
    failed(dispatcher, "SetMode", {"mode": "loud"}, RequestStatus.INVALID_REQUEST_FIELD)


@pytest.mark.rig
@pytest.mark.slow
def test_audio_requests_reach_the_daemons_loop(daemon: Daemon) -> None:
    dispatcher = Dispatcher(daemon.state, lambda: NO_STATS)
    first = ok(dispatcher, "Speak", {"text": "one"})["utteranceId"]
    assert ok(dispatcher, "Speak", {"text": "two"}) == {"utteranceId": first + 1}

    def both_played() -> dict[str, Any] | None:
        stats = ok(dispatcher, "GetStats")["daemon"]
        return stats if stats["utterances"] == 2 else None  # first samples of both played

    counters = wait_until(both_played, 60, "two typed utterances played")["counters"]
    assert (counters["phrasesSpoken"], counters["phraseDrops"], counters["ttsErrors"]) == (2, 0, 0)

    ok(dispatcher, "Speak", {"text": "three is cut off"})
    ok(dispatcher, "StopSpeaking")
    wait_until(lambda: not ok(dispatcher, "GetStatus")["speaking"], 30, "silence after StopSpeaking")

    devices = ok(dispatcher, "ListDevices")
    assert (devices["inputDevice"], devices["outputDevice"], devices["monitorDevice"]) == (
        "",
        "livevoice_out",  # none set: the virtual mic, made when the loop opened
        "",
    )
    assert daemon.pipeline is not None and daemon.pipeline.output.stream.device_name == "livevoice_out"
    names = [d["name"] for d in devices["devices"]]
    assert "lvtest_mic" in names  # the rig's named ALSA device
    before = daemon.pipeline
    ok(dispatcher, "SetDevices", {"outputDevice": "lvtest_null", "monitorDevice": ""})
    assert daemon.pipeline is not None and daemon.pipeline is not before  # reopened
    assert daemon.pipeline.output.stream.device_name == "lvtest_null"  # routed to the sink by name
    devices = ok(dispatcher, "ListDevices")
    assert (devices["inputDevice"], devices["outputDevice"], devices["monitorDevice"]) == (
        "",
        "lvtest_null",
        "",
    )
    assert "'nope'" in failed(
        dispatcher, "SetDevices", {"outputDevice": "nope"}, RequestStatus.RESOURCE_NOT_FOUND
    )
    assert ok(dispatcher, "ListDevices")["outputDevice"] == "lvtest_null"  # unchanged
    # no output asked for: the virtual mic (made again if it is gone), never the default sink
    vm.remove_virtual_mic()
    ok(dispatcher, "SetDevices", {"outputDevice": ""})
    assert vm.virtual_mic_status().complete
    assert daemon.pipeline is not None and daemon.pipeline.output.stream.device_name == "livevoice_out"
    assert ok(dispatcher, "ListDevices")["outputDevice"] == "livevoice_out"
    failed(dispatcher, "SetDevices", {}, RequestStatus.MISSING_REQUEST_FIELD)
    failed(dispatcher, "Speak", {"text": " \n\t"}, RequestStatus.REQUEST_FIELD_EMPTY)
    assert ok(dispatcher, "GetStatus")["audioAvailable"] is True


@pytest.mark.rig
@pytest.mark.slow
def test_a_voice_the_loaded_model_cannot_speak_is_incompatible(daemon: Daemon) -> None:
    dispatcher = Dispatcher(daemon.state, lambda: NO_STATS)
    comment = failed(dispatcher, "SetVoice", {"voice": "big"}, RequestStatus.INCOMPATIBLE_RESOURCES)
    assert comment == "voice 'big' has 128 values but the loaded TTS model takes 64"
    failed(dispatcher, "MorphVoice", {"to": "big"}, RequestStatus.INCOMPATIBLE_RESOURCES)
    assert ok(dispatcher, "GetCurrentVoice")["dim"] == 64


@pytest.mark.parametrize("request_type", AUDIO_REQUESTS)
def test_control_only_answers_not_available_for_audio_requests(
    library: VoiceLibrary, request_type: str
) -> None:
    dispatcher = Dispatcher(control_only(library), lambda: NO_STATS)
    comment = failed(dispatcher, request_type, VALID_DATA[request_type], RequestStatus.NOT_AVAILABLE)
    assert "control-only" in comment
    assert ok(dispatcher, "GetStatus")["audioAvailable"] is False


def test_control_only_state_from_config(library: VoiceLibrary) -> None:
    config = Config(voices=VoicesConfig(library=str(library.folder)))
    assert LiveState(LiveControls.from_config(config)).get_status().voice == "alice"
    config = Config(voices=VoicesConfig(library=str(library.folder), default_voice="carol"))
    assert LiveState(LiveControls.from_config(config)).get_status().voice == "carol"
    empty = Config(voices=VoicesConfig(library=str(library.folder / "nothing-here")))
    assert LiveState(LiveControls.from_config(empty)).get_current_voice().voice == ""


@pytest.mark.parametrize(
    ("request_type", "status", "fragment"),
    [
        (None, RequestStatus.MISSING_REQUEST_TYPE, "missing"),
        ("", RequestStatus.MISSING_REQUEST_TYPE, "missing"),
        (7, RequestStatus.INVALID_REQUEST_FIELD_TYPE, "must be a string"),
        ("setvoice", RequestStatus.UNKNOWN_REQUEST_TYPE, "did you mean SetVoice?"),
        ("Explode", RequestStatus.UNKNOWN_REQUEST_TYPE, "known: GetVersion"),
    ],
)
def test_bad_request_types(
    dispatcher: Dispatcher, request_type: Any, status: RequestStatus, fragment: str
) -> None:
    assert fragment in failed(dispatcher, request_type, None, status)


def test_request_data_must_be_an_object(dispatcher: Dispatcher) -> None:
    failed(dispatcher, "GetStatus", [1], RequestStatus.INVALID_REQUEST_FIELD_TYPE)
    failed(dispatcher, "SetVoice", "alice", RequestStatus.INVALID_REQUEST_FIELD_TYPE)


class BrokenState(LiveState):
    """The real state with two failures put in: a bug, and an error the user can fix."""

    def get_stats(self) -> Any:
        raise RuntimeError("boom")

    def stop_speaking(self) -> None:
        raise LivevoiceError("the output device is gone")


def test_state_failures_become_statuses(library: VoiceLibrary) -> None:
    dispatcher = Dispatcher(BrokenState(LiveControls(library, library.get("alice"))), lambda: NO_STATS)
    comment = failed(dispatcher, "GetStats", None, RequestStatus.GENERIC_ERROR)
    assert "RuntimeError: boom" in comment
    comment = failed(dispatcher, "StopSpeaking", None, RequestStatus.REQUEST_PROCESSING_FAILED)
    assert comment == "the output device is gone"


def test_batch_applies_in_order_and_halts_on_failure(dispatcher: Dispatcher, state: LiveState) -> None:
    batch = RequestBatch(
        "b",
        (
            {"requestType": "SetMode", "requestId": "m", "requestData": {"mode": "mute"}},
            {"requestType": "GetStatus"},
            {"requestType": "SetVoice", "requestData": {"voice": "zed"}},
            {"requestType": "SetVoice", "requestData": {"voice": "bob"}},
        ),
        halt_on_failure=True,
    )
    response = dispatcher.handle_batch(batch)
    assert response.request_id == "b"
    assert [r.request_id for r in response.results] == ["m", "1", "2"]
    assert [r.request_status.code for r in response.results] == [100, 100, 600]
    assert response.results[1].response_data is not None
    assert response.results[1].response_data["mode"] == "mute"
    assert state.get_status().voice == "alice"
    response = dispatcher.handle_batch(
        RequestBatch(
            "c",
            (
                5,
                {"requestType": "GetStatus", "extra": 1},
                {"requestType": "SetVoice", "requestData": {"voice": "bob"}},
            ),
        )
    )
    codes = [r.request_status.code for r in response.results]
    assert codes == [RequestStatus.INVALID_REQUEST_FIELD_TYPE, RequestStatus.UNKNOWN_REQUEST_FIELD, 100]
    assert state.get_status().voice == "bob"
