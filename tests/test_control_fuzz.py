"""Property-based fuzzing of message shapes against a real daemon on the test audio server.

Every example opens a real session, identifies, sends one generated message and reads
the server's answer: a response, or a close with a precise code. Then a second,
long-lived session checks that the server still answers GetStatus and that the state
did not change, unless the message was a valid request that changed it on purpose.
The daemon is the real one (its loop open on the rig's silent devices, the tiny TTS
model), so Speak, StopSpeaking and SetDevices act on a real loop.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from daemon_harness import Running, rig_config
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from test_control_support import VALID_DATA, make_library
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection, connect

from livevoice.config import load_config
from livevoice.control import auth
from livevoice.control.codes import CloseCode, RequestStatus
from livevoice.control.requests import REQUESTS
from livevoice.control.wire import wire_fields
from livevoice.models import Models

pytestmark = [pytest.mark.rig, pytest.mark.slow]

MAX_MESSAGE_BYTES = 8192
ALLOWED_CLOSE_CODES = {int(c) for c in CloseCode} - {int(CloseCode.UNKNOWN_REASON), int(CloseCode.NORMAL)}


class Harness:
    def __init__(self, folder: Path, tiny_qwen_dir: Path, models: Models) -> None:
        library = make_library(folder / "voices", dim=64)
        control = f"max_message_bytes = {MAX_MESSAGE_BYTES}"
        config = load_config(rig_config(folder, tiny_qwen_dir, library.folder, control=control))
        self._stack = contextlib.ExitStack()
        self.running = self._stack.enter_context(Running(config, models))
        self.url = self.running.url
        self.checker = self._stack.enter_context(self.session())
        self.baseline = self.snapshot()

    @contextlib.contextmanager
    def session(self) -> Iterator[ClientConnection]:
        """An identified session subscribed to no events."""
        with connect(self.url, proxy=None, compression=None, open_timeout=5, max_size=None) as ws:
            hello = json.loads(ws.recv(timeout=5))["d"]["authentication"]
            answer = auth.auth_response(self.running.secret, hello["salt"], hello["challenge"])
            identify = {"rpcVersion": 1, "authentication": answer, "eventSubscriptions": 0}
            ws.send(json.dumps({"op": 1, "d": identify}))
            assert json.loads(ws.recv(timeout=5))["op"] == 2
            yield ws

    def request(self, request_type: str) -> dict[str, Any]:
        self.checker.send(json.dumps({"op": 6, "d": {"requestType": request_type, "requestId": "check"}}))
        response = json.loads(self.checker.recv(timeout=5))
        assert response["d"]["requestStatus"]["code"] == 100
        data: dict[str, Any] = response["d"]["responseData"]
        return data

    def snapshot(self) -> tuple[Any, ...]:
        """What only a request that succeeded may change."""
        status = self.request("GetStatus")
        del status["speaking"], status["speechActive"]  # the loop's own doing, as time passes
        current = self.request("GetCurrentVoice")
        current.pop("morph")  # a morph ends by itself as time passes
        devices = self.request("ListDevices")
        del devices["devices"]
        pipeline = self.running.daemon.pipeline
        assert pipeline is not None
        return (
            status,
            current,
            self.request("GetTextOptions"),
            devices,
            pipeline,  # the same object: reopened only by a SetDevices that succeeded
            pipeline.typed_utterances,
        )

    def close(self) -> None:
        self._stack.close()


@pytest.fixture(scope="module")
def harness(
    audio_rig: Path, tmp_path_factory: pytest.TempPathFactory, tiny_qwen_dir: Path, tiny_models: Models
) -> Iterator[Harness]:
    h = Harness(tmp_path_factory.mktemp("fuzz"), tiny_qwen_dir, tiny_models)
    yield h
    h.close()


# -- message shapes ---------------------------------------------------------------

_text = st.text(max_size=20)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.floats(allow_nan=False) | _text,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(_text, children, max_size=4),
    max_leaves=12,
)
field_names = st.sampled_from(
    sorted({name for spec in REQUESTS.values() for name in wire_fields(spec.data_type)})
)
plausible_values = (
    st.sampled_from(["alice", "big", "zed", "", " ", "now", "phrase", "ease", "mute", "USB Mic"])
    | st.sampled_from(["end", "sentence", "replace", "beep", "words.txt"])
    | st.lists(st.sampled_from(["um", "", "u*m", "er er"]), max_size=3)
    | st.integers(-5, 700_000)
    | st.dictionaries(
        st.sampled_from(["alice", "bob", "big", "zed"]), st.integers(-1, 3) | st.floats(), max_size=3
    )
)
"""Values of the right kind, often just outside what is allowed."""
request_data = json_values | st.dictionaries(field_names | _text, json_values, max_size=4)
request_types = st.sampled_from(list(REQUESTS)) | _text | json_values


@st.composite
def request_items(draw: st.DrawFn) -> Any:
    item: dict[str, Any] = {}
    if draw(st.booleans()):
        item["requestType"] = draw(request_types)
    if draw(st.booleans()):
        item["requestId"] = draw(_text | json_values)
    if draw(st.booleans()):
        item["requestData"] = draw(request_data)
    if draw(st.integers(0, 5)) == 0:
        item[draw(_text)] = draw(json_values)
    return item


@st.composite
def near_valid_requests(draw: st.DrawFn) -> Any:
    """A valid request with one thing changed: a value replaced (mostly), a field dropped or one added."""
    change = draw(st.sampled_from(["replace", "replace", "replace", "drop", "add"]))
    with_data = [name for name, data in VALID_DATA.items() if data]
    request_type = draw(st.sampled_from(list(REQUESTS) if change == "add" else with_data))
    data = dict(VALID_DATA[request_type] or {})
    if change == "replace":
        data[draw(st.sampled_from(sorted(data)))] = draw(plausible_values | json_values)
    elif change == "drop":
        del data[draw(st.sampled_from(sorted(data)))]
    else:
        data[draw(field_names | _text)] = draw(json_values)
    return {"requestType": request_type, "requestId": draw(_text), "requestData": data}


def _envelope(op: Any, d: Any) -> str:
    return json.dumps({"op": op, "d": d})


messages = st.one_of(
    json_values.map(json.dumps),
    st.text(max_size=40),
    st.binary(max_size=40),
    st.builds(_envelope, st.integers(-2, 12) | json_values, json_values),
    st.builds(_envelope, st.just(6), request_items()),
    st.builds(_envelope, st.just(6), near_valid_requests()),
    st.builds(
        _envelope,
        st.just(8),
        st.fixed_dictionaries(
            {"requestId": _text},
            optional={"requests": st.lists(request_items(), max_size=4), "haltOnFailure": json_values},
        ),
    ),
    st.builds(
        _envelope,
        st.sampled_from([1, 3]),
        st.dictionaries(st.sampled_from(["rpcVersion", "authentication", "eventSubscriptions"]), json_values),
    ),
    st.integers(MAX_MESSAGE_BYTES + 1, MAX_MESSAGE_BYTES * 2).map(lambda n: '"' + "x" * n + '"'),
)


def _results(answer: dict[str, Any]) -> list[dict[str, Any]]:
    if answer["op"] == 9:
        results: list[dict[str, Any]] = answer["d"]["results"]
        return results
    return [answer["d"]] if answer["op"] == 7 else []


def _changed_state_on_purpose(answer: dict[str, Any]) -> bool:
    return any(
        r["requestStatus"]["result"] and REQUESTS[r["requestType"]].changes_state for r in _results(answer)
    )


@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(message=messages)
def test_after_any_message_the_server_answers_and_the_state_is_unchanged(
    harness: Harness, message: str | bytes
) -> None:
    with harness.session() as ws:
        ws.send(message)
        try:
            answer = json.loads(ws.recv(timeout=5))
        except ConnectionClosed:
            answer = None
        except TimeoutError:
            pytest.fail(f"no answer to {message!r}")
    if answer is None:
        event(f"closed {ws.close_code}")
        assert ws.close_code in ALLOWED_CLOSE_CODES, (message, ws.close_code, ws.close_reason)
        assert ws.close_reason
    else:
        assert answer["op"] in (2, 7, 9), answer
        event(f"op {answer['op']} " + " ".join(str(r["requestStatus"]["code"]) for r in _results(answer)))
        assert all(r["requestStatus"]["code"] != 205 for r in _results(answer))  # never an internal error
        if answer["op"] == 7:
            status = answer["d"]["requestStatus"]
            assert status["result"] == (status["code"] == 100)
            if not status["result"]:
                assert status["comment"]
        if _changed_state_on_purpose(answer):
            harness.baseline = harness.snapshot()
            return
    assert harness.snapshot() == harness.baseline, message


near_valid_messages = st.one_of(
    st.builds(_envelope, st.just(6), near_valid_requests()),
    st.builds(
        _envelope,
        st.just(8),
        st.builds(
            dict,
            requestId=_text,
            requests=st.lists(near_valid_requests(), max_size=4),
            haltOnFailure=st.booleans(),
        ),
    ),
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(message=near_valid_messages)
def test_near_valid_requests_are_answered_precisely(harness: Harness, message: str) -> None:
    with harness.session() as ws:
        ws.send(message)
        answer = json.loads(ws.recv(timeout=5))
    results = _results(answer)
    assert results or answer["op"] == 9
    for result in results:
        status = result["requestStatus"]
        event(f"status {status['code']}")
        assert status["code"] in {int(s) for s in RequestStatus} - {int(RequestStatus.GENERIC_ERROR)}
        assert status["result"] == (status["code"] == 100)
        assert ("responseData" in result) == status["result"]
        if not status["result"]:
            assert status["comment"] and "\n" not in status["comment"]
    if _changed_state_on_purpose(answer):
        harness.baseline = harness.snapshot()
    else:
        assert harness.snapshot() == harness.baseline, message
