"""Requests against real voice files, without sockets: the Dispatcher over the control-only state."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from test_control_support import VALID_DATA, AudioState, make_library

from livevoice.config import Config, VoicesConfig
from livevoice.control.codes import RequestStatus
from livevoice.control.dispatch import Dispatcher
from livevoice.control.events import ModeChangedEvent, VoiceChangedEvent
from livevoice.control.protocol import RequestBatch, RequestResponse
from livevoice.control.records import ControlStats
from livevoice.control.requests import REQUESTS
from livevoice.control.standalone import ControlOnlyState
from livevoice.errors import LivevoiceError
from livevoice.voices import algebra
from livevoice.voices.library import VoiceLibrary

NO_STATS = ControlStats(0, 0, 0, 0)


@pytest.fixture
def library(tmp_path: Path) -> VoiceLibrary:
    return make_library(tmp_path / "voices")


@pytest.fixture
def events() -> list[Any]:
    return []


@pytest.fixture
def state(library: VoiceLibrary, events: list[Any]) -> AudioState:
    audio_state = AudioState(library)
    audio_state.bind_events(events.append)
    return audio_state


@pytest.fixture
def dispatcher(state: AudioState) -> Dispatcher:
    return Dispatcher(state, lambda: NO_STATS)


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


@pytest.mark.parametrize("request_type", list(REQUESTS))
def test_every_request_succeeds_with_valid_data(dispatcher: Dispatcher, request_type: str) -> None:
    ok(dispatcher, request_type, VALID_DATA[request_type])


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
    dispatcher: Dispatcher, state: AudioState, library: VoiceLibrary, events: list[Any]
) -> None:
    ok(dispatcher, "SetVoice", {"voice": "bob", "apply": "now"})
    assert ok(dispatcher, "GetStatus")["voice"] == "bob"
    assert events == [VoiceChangedEvent("bob", "alice", 1024, False, None)]
    embedding = state.current_embedding()
    assert embedding is not None
    np.testing.assert_array_equal(embedding, library.get("bob").embedding)


def test_unknown_voice_is_not_found_and_changes_nothing(dispatcher: Dispatcher, events: list[Any]) -> None:
    comment = failed(dispatcher, "SetVoice", {"voice": "zed"}, RequestStatus.RESOURCE_NOT_FOUND)
    assert "unknown voice 'zed'" in comment and "alice" in comment
    assert ok(dispatcher, "GetStatus")["voice"] == "alice"
    assert events == []


def test_mix_voices_makes_the_algebra_mix_current(
    dispatcher: Dispatcher, state: AudioState, library: VoiceLibrary, events: list[Any]
) -> None:
    result = ok(dispatcher, "MixVoices", {"weights": {"alice": 7, "bob": 3}})
    assert result == {"voice": "mix:0.7*alice+0.3*bob"}
    current = ok(dispatcher, "GetCurrentVoice")
    assert (current["voice"], current["transient"], current["dim"]) == ("mix:0.7*alice+0.3*bob", True, 1024)
    expected = algebra.mix([(library.get("alice").embedding, 0.7), (library.get("bob").embedding, 0.3)])
    embedding = state.current_embedding()
    assert embedding is not None
    np.testing.assert_allclose(embedding, expected, rtol=1e-6)
    assert events[-1].transient is True


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
    dispatcher: Dispatcher, events: list[Any], weights: dict[str, float], status: RequestStatus, fragment: str
) -> None:
    assert fragment in failed(dispatcher, "MixVoices", {"weights": weights}, status)
    assert ok(dispatcher, "GetCurrentVoice")["voice"] == "alice"
    assert events == []


def test_morph_reports_progress_and_arrives(
    dispatcher: Dispatcher, state: AudioState, library: VoiceLibrary, events: list[Any]
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
    embedding = state.current_embedding()
    assert embedding is not None
    assert algebra.cosine(embedding, library.get("alice").embedding) > 0.99
    assert events[-1].morph is not None and events[-1].voice == "carol"
    ok(dispatcher, "MorphVoice", {"to": "bob", "durationMs": 0})
    assert ok(dispatcher, "GetCurrentVoice")["morph"] is None
    embedding = state.current_embedding()
    assert embedding is not None
    np.testing.assert_array_equal(embedding, library.get("bob").embedding)


def test_morph_to_another_model_size_is_incompatible(dispatcher: Dispatcher) -> None:
    comment = failed(dispatcher, "MorphVoice", {"to": "big"}, RequestStatus.INCOMPATIBLE_RESOURCES)
    assert "1024" in comment and "2048" in comment


def test_mode_and_push_to_talk(dispatcher: Dispatcher, events: list[Any]) -> None:
    ok(dispatcher, "SetMode", {"mode": "convert"})
    assert events == []
    ok(dispatcher, "SetMode", {"mode": "mute"})
    assert events == [ModeChangedEvent("mute", "convert")]
    ok(dispatcher, "SetPushToTalk", {"pressed": True, "enabled": True})
    ok(dispatcher, "SetPushToTalk", {"pressed": False})
    status = ok(dispatcher, "GetStatus")
    assert (status["mode"], status["pushToTalkEnabled"], status["pushToTalkPressed"]) == ("mute", True, False)
    failed(dispatcher, "SetMode", {"mode": "loud"}, RequestStatus.INVALID_REQUEST_FIELD)


def test_audio_requests_reach_the_state(dispatcher: Dispatcher, state: AudioState) -> None:
    assert ok(dispatcher, "Speak", {"text": "one"}) == {"utteranceId": 1}
    assert ok(dispatcher, "Speak", {"text": "two"}) == {"utteranceId": 2}
    assert state.spoken == ["one", "two"]
    ok(dispatcher, "StopSpeaking")
    assert state.stops == 1
    ok(dispatcher, "SetDevices", {"inputDevice": "USB Mic", "monitorDevice": ""})
    devices = ok(dispatcher, "ListDevices")
    assert (devices["inputDevice"], devices["outputDevice"], devices["monitorDevice"]) == ("USB Mic", "", "")
    assert devices["devices"][1] == {
        "index": 1,
        "name": "livevoice_out",
        "hostApi": "PipeWire",
        "maxInputChannels": 0,
        "maxOutputChannels": 2,
        "defaultSampleRate": 48000.0,
    }
    assert "'nope'" in failed(
        dispatcher, "SetDevices", {"outputDevice": "nope"}, RequestStatus.RESOURCE_NOT_FOUND
    )
    failed(dispatcher, "SetDevices", {}, RequestStatus.MISSING_REQUEST_FIELD)
    failed(dispatcher, "Speak", {"text": " \n\t"}, RequestStatus.REQUEST_FIELD_EMPTY)
    assert state.spoken == ["one", "two"]


@pytest.mark.parametrize("request_type", ["Speak", "StopSpeaking", "ListDevices", "SetDevices"])
def test_control_only_answers_not_available_for_audio_requests(
    library: VoiceLibrary, request_type: str
) -> None:
    dispatcher = Dispatcher(ControlOnlyState(library, library.get("alice")), lambda: NO_STATS)
    comment = failed(dispatcher, request_type, VALID_DATA[request_type], RequestStatus.NOT_AVAILABLE)
    assert "control-only" in comment
    assert ok(dispatcher, "GetStatus")["audioAvailable"] is False


def test_control_only_state_from_config(library: VoiceLibrary) -> None:
    config = Config(voices=VoicesConfig(library=str(library.folder)))
    assert ControlOnlyState.from_config(config).get_status().voice == "alice"
    config = Config(voices=VoicesConfig(library=str(library.folder), default_voice="carol"))
    assert ControlOnlyState.from_config(config).get_status().voice == "carol"
    empty = Config(voices=VoicesConfig(library=str(library.folder / "nothing-here")))
    assert ControlOnlyState.from_config(empty).get_current_voice().voice == ""


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


class BrokenState(AudioState):
    def get_stats(self) -> Any:
        raise RuntimeError("boom")

    def stop_speaking(self) -> None:
        raise LivevoiceError("the output device is gone")


def test_state_failures_become_statuses(library: VoiceLibrary) -> None:
    dispatcher = Dispatcher(BrokenState(library), lambda: NO_STATS)
    comment = failed(dispatcher, "GetStats", None, RequestStatus.GENERIC_ERROR)
    assert "RuntimeError: boom" in comment
    comment = failed(dispatcher, "StopSpeaking", None, RequestStatus.REQUEST_PROCESSING_FAILED)
    assert comment == "the output device is gone"


def test_batch_applies_in_order_and_halts_on_failure(dispatcher: Dispatcher, state: AudioState) -> None:
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
