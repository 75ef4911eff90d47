"""The pure core of the control protocol: records, envelopes, request checking, docs coverage."""

from __future__ import annotations

import dataclasses
import json
import re
import types
import typing
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from livevoice import frames
from livevoice.control import protocol, records
from livevoice.control.codes import (
    CloseCode,
    EventSubscription,
    OpCode,
    RequestStatus,
    status_name,
    wire_name,
)
from livevoice.control.events import EVENT_SUBSCRIPTIONS, EVENTS, event_for_frame, subscription_for
from livevoice.control.protocol import (
    CLIENT_OPS,
    MESSAGES,
    SERVER_OPS,
    Authentication,
    Event,
    Hello,
    Identified,
    Identify,
    ProtocolError,
    Reidentify,
    Request,
    RequestBatch,
    RequestBatchResponse,
    RequestResponse,
    RequestStatusInfo,
    close_reason,
    decode,
    encode,
)
from livevoice.control.requests import REQUESTS, find_request_type
from livevoice.control.wire import WireError, camel, from_wire, to_wire, wire_fields
from livevoice.voices import algebra

DOCS = Path(__file__).resolve().parent.parent / "docs" / "protocol.md"

# -- strategies that respect each field's type and bounds --------------------------

_TEXT = st.text(st.characters(codec="utf-8"), max_size=30)


def _strategy(tp: Any, meta: Mapping[str, Any]) -> st.SearchStrategy[Any]:
    origin = typing.get_origin(tp)
    if dataclasses.is_dataclass(tp) and isinstance(tp, type):
        return records_of(tp)
    if origin is typing.Literal:
        return st.sampled_from(typing.get_args(tp))
    if origin in (typing.Union, types.UnionType):
        inner = next(a for a in typing.get_args(tp) if a is not type(None))
        return st.none() | _strategy(inner, meta)
    min_len = meta.get("min_len") or 0
    max_len = meta.get("max_len")
    if origin is tuple:
        return st.lists(
            _strategy(typing.get_args(tp)[0], {}), min_size=min_len, max_size=min(max_len or 3, 3)
        ).map(tuple)
    if origin in (dict, Mapping):
        return st.dictionaries(_TEXT, _strategy(typing.get_args(tp)[1], {}), min_size=min_len, max_size=4)
    if tp is bool:
        return st.booleans()
    if tp is int:
        lo, hi = meta.get("min"), meta.get("max")
        return st.integers(
            min_value=lo if lo is not None else -(2**53), max_value=hi if hi is not None else 2**53
        )
    if tp is float:
        return st.floats(allow_nan=False, allow_infinity=False, width=64)
    if tp is str:
        return st.text(
            st.characters(codec="utf-8"),
            min_size=min_len,
            max_size=min(max_len or 40, 40),
        )
    if tp is Any:
        return st.none() | st.integers() | _TEXT
    raise AssertionError(f"no strategy for {tp!r}")


def records_of(cls: type) -> st.SearchStrategy[Any]:
    hints = typing.get_type_hints(cls)
    fields = {f.name: _strategy(hints[f.name], f.metadata) for f in dataclasses.fields(cls)}
    return st.builds(cls, **fields)


ALL_RECORDS = sorted(
    {spec.data_type for spec in REQUESTS.values()}
    | {spec.response_type for spec in REQUESTS.values()}
    | set(EVENTS.values()),
    key=lambda cls: cls.__name__,
)


@pytest.mark.parametrize("cls", ALL_RECORDS, ids=lambda cls: cls.__name__)
@settings(max_examples=25, deadline=None)
@given(data=st.data())
def test_every_record_round_trips_through_json(cls: type, data: st.DataObject) -> None:
    record = data.draw(records_of(cls))
    wire = json.loads(json.dumps(to_wire(record), allow_nan=False))
    assert from_wire(cls, wire) == record


@settings(max_examples=40, deadline=None)
@given(
    message=st.one_of(
        st.builds(Hello, _TEXT, st.integers(0, 9), st.builds(Authentication, _TEXT, _TEXT)),
        st.builds(Identify, st.integers(0, 9), _TEXT, st.integers(0, 2**20)),
        st.builds(Identified, st.integers(0, 9)),
        st.builds(Reidentify, st.integers(0, 2**20)),
        st.builds(
            Event, _TEXT, st.integers(0, 2**20), st.dictionaries(_TEXT, st.integers() | _TEXT | st.none())
        ),
        st.builds(Request, _TEXT, _TEXT | st.none(), st.none() | st.dictionaries(_TEXT, st.integers())),
        st.builds(
            RequestBatch,
            _TEXT,
            st.lists(st.dictionaries(_TEXT, st.integers()), max_size=3).map(tuple),
            st.booleans(),
        ),
        st.builds(
            RequestResponse,
            _TEXT,
            _TEXT,
            st.builds(RequestStatusInfo, st.booleans(), st.integers(100, 999), st.none() | _TEXT),
            st.none() | st.dictionaries(_TEXT, st.integers() | st.none()),
        ),
    )
)
def test_every_envelope_round_trips(message: Any) -> None:
    text = encode(message)
    envelope = json.loads(text)
    assert envelope["op"] == int(message.OP)
    assert decode(text, MESSAGES) == message


def test_batch_response_round_trips_and_keeps_nulls_inside_response_data() -> None:
    ok = RequestResponse("GetCurrentVoice", "a", RequestStatusInfo(True, 100), {"pending": None})
    bad = RequestResponse("SetVoice", "b", RequestStatusInfo(False, 600, "unknown voice 'x'"))
    message = RequestBatchResponse("batch-1", (ok, bad))
    text = encode(message)
    assert decode(text, SERVER_OPS) == message
    results = json.loads(text)["d"]["results"]
    assert results[0]["responseData"] == {"pending": None}
    assert "comment" not in results[0]["requestStatus"]
    assert "responseData" not in results[1]


def test_ops_split_between_client_and_server() -> None:
    assert set(CLIENT_OPS) | set(SERVER_OPS) == set(OpCode)
    assert not set(CLIENT_OPS) & set(SERVER_OPS)
    assert {cls.OP for cls in MESSAGES.values()} == set(OpCode)


@pytest.mark.parametrize(
    ("text", "code", "fragment"),
    [
        (b'{"op": 6}', CloseCode.MESSAGE_DECODE_ERROR, "binary"),
        ("{not json", CloseCode.MESSAGE_DECODE_ERROR, "not valid JSON"),
        ("[" * 5000 + "]" * 5000, CloseCode.MESSAGE_DECODE_ERROR, "nested too deeply"),
        ("[1, 2]", CloseCode.MESSAGE_DECODE_ERROR, "JSON object"),
        ('{"d": {}}', CloseCode.MISSING_DATA_FIELD, "no 'op'"),
        ('{"op": "6", "d": {}}', CloseCode.INVALID_DATA_FIELD_TYPE, "'op' must be an integer"),
        ('{"op": true, "d": {}}', CloseCode.INVALID_DATA_FIELD_TYPE, "'op' must be an integer"),
        ('{"op": 7, "d": {}}', CloseCode.UNKNOWN_OP_CODE, "op 7 cannot be sent here"),
        ('{"op": 42, "d": {}}', CloseCode.UNKNOWN_OP_CODE, "op 42"),
        ('{"op": 6}', CloseCode.MISSING_DATA_FIELD, "no 'd'"),
        ('{"op": 6, "d": []}', CloseCode.INVALID_DATA_FIELD_TYPE, "field 'd' must be an object"),
        ('{"op": 6, "d": {}}', CloseCode.MISSING_DATA_FIELD, "missing field 'd.requestId'"),
        ('{"op": 6, "d": {"requestId": 5}}', CloseCode.INVALID_DATA_FIELD_TYPE, "d.requestId"),
        (
            '{"op": 6, "d": {"requestId": "' + "x" * 300 + '"}}',
            CloseCode.INVALID_DATA_FIELD_VALUE,
            "at most 256",
        ),
        ('{"op": 1, "d": {"rpcVersion": 1.5}}', CloseCode.INVALID_DATA_FIELD_TYPE, "d.rpcVersion"),
        (
            '{"op": 1, "d": {"rpcVersion": 1, "eventSubscriptions": -1}}',
            CloseCode.INVALID_DATA_FIELD_VALUE,
            "out of",
        ),
        (
            '{"op": 8, "d": {"requestId": "b", "requests": {}}}',
            CloseCode.INVALID_DATA_FIELD_TYPE,
            "d.requests",
        ),
        ('{"op": 8, "d": {"requestId": "b", "haltOnFailure": 1}}', CloseCode.INVALID_DATA_FIELD_TYPE, "halt"),
    ],
)
def test_bad_envelopes_give_precise_close_codes(text: str | bytes, code: CloseCode, fragment: str) -> None:
    with pytest.raises(ProtocolError) as caught:
        decode(text)
    assert caught.value.code == code
    assert fragment in caught.value.reason
    assert len(caught.value.reason.encode()) <= 123


def test_envelopes_ignore_unknown_fields_for_forward_compatibility() -> None:
    message = decode('{"op": 6, "d": {"requestId": "1", "requestType": "GetStatus", "future": 1}, "x": 2}')
    assert message == Request("1", "GetStatus", None)


def test_close_reason_fits_a_close_frame_on_a_character_boundary() -> None:
    reason = close_reason("é" * 100)
    assert len(reason.encode("utf-8")) <= 123
    assert reason.endswith("...")
    assert close_reason("short") == "short"


def test_event_text_is_one_valid_envelope() -> None:
    text = protocol.encode_event("ModeChanged", 2, '{"mode":"mute","previous":"convert"}')
    assert decode(text, SERVER_OPS) == Event("ModeChanged", 2, {"mode": "mute", "previous": "convert"})


# -- request data checking --------------------------------------------------------


def _check(request_type: str, data: Any) -> WireError:
    with pytest.raises(WireError) as caught:
        from_wire(REQUESTS[request_type].data_type, data)
    return caught.value


@pytest.mark.parametrize(
    ("request_type", "data", "status", "fragment"),
    [
        ("SetVoice", {}, RequestStatus.MISSING_REQUEST_FIELD, "missing field 'voice'"),
        (
            "SetVoice",
            {"voice": 3},
            RequestStatus.INVALID_REQUEST_FIELD_TYPE,
            "'voice' must be a string, not a number",
        ),
        ("SetVoice", {"voice": ""}, RequestStatus.REQUEST_FIELD_EMPTY, "'voice' must not be empty"),
        ("SetVoice", {"voice": "a" * 201}, RequestStatus.REQUEST_FIELD_OUT_OF_RANGE, "at most 200"),
        (
            "SetVoice",
            {"voice": "a", "apply": "later"},
            RequestStatus.INVALID_REQUEST_FIELD,
            "allowed: now, phrase",
        ),
        (
            "SetVoice",
            {"voice": "a", "Apply": "now"},
            RequestStatus.UNKNOWN_REQUEST_FIELD,
            "unknown field 'Apply'",
        ),
        ("SetVoice", ["alice"], RequestStatus.INVALID_REQUEST_FIELD_TYPE, "requestData must be an object"),
        (
            "MorphVoice",
            {"to": "b", "durationMs": 1.5},
            RequestStatus.INVALID_REQUEST_FIELD_TYPE,
            "an integer",
        ),
        (
            "MorphVoice",
            {"to": "b", "durationMs": -1},
            RequestStatus.REQUEST_FIELD_OUT_OF_RANGE,
            "0 to 600000",
        ),
        (
            "MorphVoice",
            {"to": "b", "durationMs": True},
            RequestStatus.INVALID_REQUEST_FIELD_TYPE,
            "not a boolean",
        ),
        ("MorphVoice", {"to": "b", "curve": "cubic"}, RequestStatus.INVALID_REQUEST_FIELD, "linear, ease"),
        ("MixVoices", {"weights": {}}, RequestStatus.REQUEST_FIELD_EMPTY, "'weights' must not be empty"),
        ("MixVoices", {"weights": {"a": "x"}}, RequestStatus.INVALID_REQUEST_FIELD_TYPE, "'weights.a'"),
        ("MixVoices", {"weights": {"a": 1e400}}, RequestStatus.INVALID_REQUEST_FIELD, "finite"),
        (
            "MixVoices",
            {"weights": {str(i): 1 for i in range(17)}},
            RequestStatus.REQUEST_FIELD_OUT_OF_RANGE,
            "16",
        ),
        ("SetMode", {"mode": None}, RequestStatus.INVALID_REQUEST_FIELD_TYPE, "not null"),
        ("SetPushToTalk", {"pressed": "yes"}, RequestStatus.INVALID_REQUEST_FIELD_TYPE, "true or false"),
        ("Speak", {"text": "x" * 2001}, RequestStatus.REQUEST_FIELD_OUT_OF_RANGE, "at most 2000"),
        ("GetStatus", {"verbose": True}, RequestStatus.UNKNOWN_REQUEST_FIELD, "fields: none"),
    ],
)
def test_bad_request_data_gets_a_precise_status(
    request_type: str, data: Any, status: RequestStatus, fragment: str
) -> None:
    err = _check(request_type, data)
    assert err.status == status
    assert fragment in err.comment


def test_optional_fields_take_their_defaults() -> None:
    data = from_wire(REQUESTS["MorphVoice"].data_type, {"to": "bob"})
    assert (data.to, data.duration_ms, data.curve) == ("bob", 2000, "linear")
    assert from_wire(REQUESTS["SetPushToTalk"].data_type, {"pressed": False}).enabled is None


def test_request_types_resolve_ignoring_case() -> None:
    assert find_request_type("setvoice") == "SetVoice"
    assert find_request_type("SETVOICE") == "SetVoice"
    assert find_request_type("SetVoices") is None


def test_camel_case_wire_names() -> None:
    assert camel("duration_ms") == "durationMs"
    assert camel("push_to_talk_pressed") == "pushToTalkPressed"
    assert camel("dim") == "dim"


def test_protocol_curves_are_the_voice_algebra_curves() -> None:
    assert records.CURVES == algebra.CURVES
    assert typing.get_args(records.Curve) == algebra.CURVES


# -- events -----------------------------------------------------------------------


def test_high_volume_events_are_opt_in() -> None:
    default = EventSubscription.ALL
    opt_in = {name for name, bit in EVENT_SUBSCRIPTIONS.items() if not bit & default}
    assert opt_in == {"TranscriptPartial", "LevelMeters"}
    assert (
        subscription_for(["LevelMeters", "ModeChanged"])
        == EventSubscription.LEVEL_METERS | EventSubscription.MODE
    )


def test_pipeline_records_become_events() -> None:
    started = event_for_frame(frames.SpeechStarted(3, 1.25, 10))
    assert to_wire(started) == {"utteranceId": 3, "streamTimeMs": 1250.0}
    ended = event_for_frame(frames.SpeechEnded(3, 2.5, 20, 30))
    assert (ended.event_type, ended.stream_time_ms) == ("SpeechEnded", 2500.0)
    partial = event_for_frame(frames.TranscriptPartial(3, "hello", "wor", 25))
    assert to_wire(partial) == {"utteranceId": 3, "committedText": "hello", "tentativeText": "wor"}
    words = (frames.Word("hello", 0.1, 0.4, 0.9), frames.Word("world", 0.5, 0.9, 0.8))
    final = event_for_frame(frames.TranscriptFinal(3, "hello world", words, 0.1, 0.9, 10, 20, 40))
    assert to_wire(final) == {
        "utteranceId": 3,
        "text": "hello world",
        "startMs": 100.0,
        "endMs": 900.0,
        "words": [
            {"text": "hello", "startMs": 100.0, "endMs": 400.0, "probability": 0.9},
            {"text": "world", "startMs": 500.0, "endMs": 900.0, "probability": 0.8},
        ],
    }
    stamps = frames.LatencyStamps(3, speech_start=1_000_000, speech_end=2_000_000, text_ready=3_000_000)
    stamps.tts_start = 3_500_000
    stamps.tts_first_audio = 4_000_000
    stamps.first_sample_out = 5_000_000
    stamps.extra["phraseReady"] = 3_200_000
    latency = to_wire(event_for_frame(stamps))
    assert latency["stampsNs"] == {
        "speechStart": 1_000_000,
        "speechEnd": 2_000_000,
        "textReady": 3_000_000,
        "ttsStart": 3_500_000,
        "ttsFirstAudio": 4_000_000,
        "firstSampleOut": 5_000_000,
        "phraseReady": 3_200_000,
    }
    assert (latency["ttsFirstPacketMs"], latency["outputFirstPacketMs"], latency["mouthToEarMs"]) == (
        0.5,
        2.0,
        3.0,
    )
    partial_stamps = to_wire(event_for_frame(frames.LatencyStamps(4, speech_start=7)))
    assert partial_stamps["stampsNs"] == {"speechStart": 7}
    assert partial_stamps["mouthToEarMs"] is None
    with pytest.raises(TypeError):
        event_for_frame(frames.Phrase(1, 0, "x", True, 0))


def test_every_loop_record_becomes_its_event() -> None:
    """Each record the loop reports (frames.LoopRecord) has an event, with wire units."""
    progress = frames.MorphProgress("alice", "carol", 2000, "ease", 0.25)
    expected: dict[type, tuple[object, str, dict[str, Any]]] = {
        frames.ModeChanged: (
            frames.ModeChanged("mute", "convert"),
            "ModeChanged",
            {"mode": "mute", "previous": "convert"},
        ),
        frames.VoiceChanged: (
            frames.VoiceChanged("carol", "alice", 1024, False, progress, "now"),
            "VoiceChanged",
            {
                "voice": "carol",
                "previous": "alice",
                "dim": 1024,
                "transient": False,
                "morph": {
                    "fromVoice": "alice",
                    "toVoice": "carol",
                    "durationMs": 2000,
                    "curve": "ease",
                    "progress": 0.25,
                },
            },
        ),
        frames.StageError: (
            frames.StageError("tts", "phrase dropped"),
            "Error",
            {"source": "tts", "message": "phrase dropped"},
        ),
        frames.RealTimeWarning: (
            frames.RealTimeWarning(1.23456, "this machine cannot speak in real time"),
            "RealTimeWarning",
            {"realTimeFactor": 1.235, "message": "this machine cannot speak in real time"},
        ),
        frames.DeviceLost: (
            frames.DeviceLost("output", "livevoice_out", "the stream stopped"),
            "DeviceLost",
            {"role": "output", "device": "livevoice_out", "reason": "the stream stopped"},
        ),
        frames.DeviceRestored: (
            frames.DeviceRestored("input", "default"),
            "DeviceRestored",
            {"role": "input", "device": "default"},
        ),
        frames.BufferOverrun: (
            frames.BufferOverrun("phrases", 3),
            "BufferOverrun",
            {"buffer": "phrases", "count": 3},
        ),
        frames.BufferUnderrun: (
            frames.BufferUnderrun("output", 1),
            "BufferUnderrun",
            {"buffer": "output", "count": 1},
        ),
        frames.LevelMeters: (
            frames.LevelMeters(1.0, 0.1, 0.5, 0.0),
            "LevelMeters",
            {
                "inputPeakDbfs": 0.0,
                "inputRmsDbfs": -20.0,
                "outputPeakDbfs": -6.0206,
                "outputRmsDbfs": -120.0,
            },
        ),
    }
    covered = {frames.SpeechStarted, frames.SpeechEnded, frames.TranscriptPartial, frames.TranscriptFinal}
    covered |= {frames.LatencyStamps}  # above
    assert set(typing.get_args(frames.LoopRecord)) == covered | set(expected)
    for record, event_type, data in expected.values():
        event = event_for_frame(record)
        assert event.event_type == event_type
        if event_type == "LevelMeters":  # dBFS of 1.0, 0.1, 0.5 and of silence (clamped)
            assert to_wire(event) == pytest.approx(data, abs=1e-4)
        else:
            assert to_wire(event) == data


def test_latency_summary_percentiles() -> None:
    summary = records.LatencySummary.from_values([100.0, 300.0, 200.0, 400.0, 500.0])
    assert (summary.count, summary.last_ms, summary.p50_ms, summary.max_ms) == (5, 500.0, 300.0, 500.0)
    assert summary.p95_ms == pytest.approx(480.0)
    assert records.LatencySummary.from_values([]) == records.LatencySummary(count=0)


# -- the documentation covers the code ----------------------------------------------


def _nested_records(cls: type) -> set[type]:
    found = {cls}
    for tp in typing.get_type_hints(cls).values():
        for candidate in (tp, *typing.get_args(tp)):
            if dataclasses.is_dataclass(candidate) and candidate not in found:
                found |= _nested_records(candidate)  # type: ignore[arg-type]
    return found


def test_docs_name_every_op_code_request_event_field_and_code() -> None:
    text = DOCS.read_text(encoding="utf-8")
    missing = []
    for member in (*OpCode, *CloseCode, *RequestStatus):
        if not re.search(rf"\b{int(member)}\b", text) or wire_name(member) not in text:
            missing.append(f"{type(member).__name__}.{member.name} ({int(member)} {wire_name(member)})")
    for member in EventSubscription:
        if wire_name(member) not in text:
            missing.append(f"EventSubscription.{member.name}")
    wire_records: set[type] = set()
    for name, spec in REQUESTS.items():
        if f"### {name}" not in text:
            missing.append(f"request {name}")
        wire_records |= _nested_records(spec.data_type) | _nested_records(spec.response_type)
    for name, cls in EVENTS.items():
        if f"### {name}" not in text:
            missing.append(f"event {name}")
        wire_records |= _nested_records(cls)
    for cls in MESSAGES.values():
        wire_records |= _nested_records(cls)
    for cls in wire_records:
        for field_name in wire_fields(cls):
            if f"`{field_name}`" not in text:
                missing.append(f"field {cls.__name__}.{field_name}")
    assert not missing, "docs/protocol.md does not mention: " + ", ".join(sorted(set(missing)))


def test_status_names() -> None:
    assert status_name(600) == "ResourceNotFound"
    assert status_name(999) == "999"
