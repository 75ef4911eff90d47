"""The control server over real sockets: real websockets clients against a real server on 127.0.0.1,
over the daemon's own state (control-only, and a whole daemon on the test audio server)."""

from __future__ import annotations

import asyncio
import json
import socket
import threading
from pathlib import Path
from typing import Any

import pytest
from daemon_harness import Running, rig_config
from test_control_support import (
    SECRET,
    VALID_DATA,
    closed_with,
    control_config,
    control_only,
    make_library,
    raw_connect,
    raw_identify,
    recv_json,
    running_server,
)
from websockets.exceptions import InvalidStatus

from livevoice.config import load_config
from livevoice.control.client import (
    ConnectionClosedError,
    ControlClient,
    ControlClientError,
    RequestFailedError,
)
from livevoice.control.codes import CloseCode, EventSubscription, RequestStatus
from livevoice.control.events import LevelMetersEvent
from livevoice.control.requests import REQUESTS
from livevoice.control.server import ControlServer, ControlServerError, ControlServerThread
from livevoice.models import Models
from livevoice.voices.library import VoiceLibrary


@pytest.fixture(scope="module")
def library(tmp_path_factory: pytest.TempPathFactory) -> VoiceLibrary:
    return make_library(tmp_path_factory.mktemp("voices"))


def run(coro: Any) -> Any:
    return asyncio.run(coro)


async def status_of(url: str) -> dict[str, Any]:
    async with await ControlClient.connect(url, SECRET, event_subscriptions=0) as client:
        return await client.request("GetStatus")


LEVELS = LevelMetersEvent(-12.0, -24.0, -9.5, -20.25)


# -- handshake and authentication ---------------------------------------------------


def test_handshake_identify_and_first_request(library: VoiceLibrary) -> None:
    async def scenario() -> None:
        async with running_server(control_only(library)) as server:
            assert server.port > 0
            first = await raw_connect(server.url)
            second = await raw_connect(server.url)
            hello = await recv_json(first)
            other_hello = await recv_json(second)
            assert hello["op"] == 0
            assert hello["d"]["rpcVersion"] == 1
            assert hello["d"]["livevoiceVersion"]
            auth_1, auth_2 = hello["d"]["authentication"], other_hello["d"]["authentication"]
            assert auth_1["challenge"] != auth_2["challenge"]
            assert auth_1["salt"] == auth_2["salt"]
            await second.close()
            from livevoice.control import auth

            answer = auth.auth_response(SECRET, auth_1["salt"], auth_1["challenge"])
            await first.send(json.dumps({"op": 1, "d": {"rpcVersion": 1, "authentication": answer}}))
            assert await recv_json(first) == {"op": 2, "d": {"negotiatedRpcVersion": 1}}
            await first.send(json.dumps({"op": 6, "d": {"requestType": "GetStatus", "requestId": "s1"}}))
            response = await recv_json(first)
            assert response["op"] == 7
            assert response["d"]["requestId"] == "s1"
            assert response["d"]["requestStatus"] == {"result": True, "code": 100}
            assert response["d"]["responseData"]["voice"] == "alice"
            await first.close()

    run(scenario())


@pytest.mark.parametrize(
    ("identify", "code"),
    [
        ({"rpcVersion": 1, "authentication": "d3Jvbmc="}, CloseCode.AUTHENTICATION_FAILED),
        ({"rpcVersion": 1}, CloseCode.AUTHENTICATION_FAILED),
        ({"rpcVersion": 2, "authentication": "x"}, CloseCode.UNSUPPORTED_RPC_VERSION),
    ],
)
def test_identify_failures_close_the_session(
    library: VoiceLibrary, identify: dict[str, Any], code: int
) -> None:
    async def scenario() -> None:
        async with running_server(control_only(library)) as server:
            ws = await raw_connect(server.url)
            await recv_json(ws)
            await ws.send(json.dumps({"op": 1, "d": identify}))
            close_code, reason = await closed_with(ws)
            assert close_code == code
            assert reason
            assert (await status_of(server.url))["voice"] == "alice"

    run(scenario())


def test_client_with_the_wrong_secret_gets_one_clear_line(library: VoiceLibrary) -> None:
    async def scenario() -> None:
        async with running_server(control_only(library)) as server:
            with pytest.raises(ControlClientError, match="refused the secret"):
                await ControlClient.connect(server.url, "not-the-secret-at-all")

    run(scenario())


def test_session_rules(library: VoiceLibrary) -> None:
    async def scenario() -> None:
        async with running_server(control_only(library), identify_timeout_s=0.3) as server:
            silent = await raw_connect(server.url)
            await recv_json(silent)
            code, reason = await closed_with(silent)
            assert code == CloseCode.IDENTIFY_TIMEOUT
            assert "0.3 s" in reason

        async with running_server(control_only(library)) as server:
            early = await raw_connect(server.url)
            await recv_json(early)
            await early.send(json.dumps({"op": 6, "d": {"requestType": "GetStatus", "requestId": "1"}}))
            assert (await closed_with(early))[0] == CloseCode.NOT_IDENTIFIED

            twice = await raw_connect(server.url)
            await raw_identify(twice)
            await twice.send(json.dumps({"op": 1, "d": {"rpcVersion": 1, "authentication": "x"}}))
            assert (await closed_with(twice))[0] == CloseCode.ALREADY_IDENTIFIED

            bad_bits = await raw_connect(server.url)
            await raw_identify(bad_bits)
            await bad_bits.send(json.dumps({"op": 3, "d": {"eventSubscriptions": 1 << 30}}))
            code, reason = await closed_with(bad_bits)
            assert code == CloseCode.INVALID_DATA_FIELD_VALUE
            assert "unknown bits" in reason

    run(scenario())


# -- requests -----------------------------------------------------------------------


@pytest.mark.rig
@pytest.mark.slow
def test_every_request_and_its_errors_over_the_socket(
    audio_rig: Path, tmp_path: Path, tiny_qwen_dir: Path, tiny_models: Models
) -> None:
    """A whole daemon on the rig (its loop, its control server), every request over its socket."""
    library = make_library(tmp_path / "voices", dim=64)
    config = load_config(rig_config(tmp_path, tiny_qwen_dir, library.folder))

    async def scenario(running: Running) -> None:
        async with await running.client() as client:
            for request_type in REQUESTS:
                response = await client.call(request_type, VALID_DATA[request_type])
                assert response.ok, (request_type, response.request_status)
                assert response.request_type == request_type
                bad = await client.call(request_type, {**(VALID_DATA[request_type] or {}), "bogus": 1})
                assert bad.request_status.code == RequestStatus.UNKNOWN_REQUEST_FIELD
                assert "'bogus'" in (bad.request_status.comment or "")
            with pytest.raises(RequestFailedError) as caught:
                await client.request("SetVoice", {"voice": "zed"})
            assert caught.value.code == RequestStatus.RESOURCE_NOT_FOUND
            assert "600 ResourceNotFound" in str(caught.value)
            unknown = await client.call("Explode")
            assert unknown.request_status.code == RequestStatus.UNKNOWN_REQUEST_TYPE
            assert (await client.request("ListDevices"))["outputDevice"] == "lvtest_null"
            spoken = await client.request("Speak", {"text": "Still speaking."})
            latency = await client.wait_for("UtteranceLatency", 60, utteranceId=spoken["utteranceId"])
            assert latency["outputFirstPacketMs"] > 0
            stats = await client.request("GetStats")
            assert stats["control"]["clients"] == 1
            assert stats["daemon"]["ttsFirstPacket"]["count"] >= 1
            assert stats["daemon"]["counters"]["ttsErrors"] == 0

    with Running(config, tiny_models) as running:
        run(scenario(running))


def test_every_request_of_control_only_over_the_socket(library: VoiceLibrary) -> None:
    async def scenario() -> None:
        state = control_only(library)
        async with running_server(state) as server, await ControlClient.connect(server.url, SECRET) as client:
            for request_type in REQUESTS:
                response = await client.call(request_type, VALID_DATA[request_type])
                expected = RequestStatus.NOT_AVAILABLE if REQUESTS[request_type].needs_audio else 100
                assert response.request_status.code == expected, (request_type, response.request_status)
            stats = await client.request("GetStats")
            assert stats["daemon"]["ttsFirstPacket"] == {
                "count": 0,
                "lastMs": None,
                "p50Ms": None,
                "p95Ms": None,
                "maxMs": None,
            }

    run(scenario())


def test_requests_of_one_session_are_answered_in_order(library: VoiceLibrary) -> None:
    async def scenario() -> None:
        async with running_server(control_only(library)) as server:
            ws = await raw_connect(server.url)
            await raw_identify(ws, subscriptions=0)
            voices = ["bob", "carol", "alice", "bob"]
            for i, voice in enumerate(voices):
                data = {"voice": voice}
                await ws.send(
                    json.dumps(
                        {"op": 6, "d": {"requestType": "SetVoice", "requestId": f"v{i}", "requestData": data}}
                    )
                )
            await ws.send(json.dumps({"op": 6, "d": {"requestType": "GetStatus", "requestId": "last"}}))
            ids = []
            for _ in range(len(voices) + 1):
                message = await recv_json(ws)
                ids.append(message["d"]["requestId"])
                last = message
            assert ids == ["v0", "v1", "v2", "v3", "last"]
            assert last["d"]["responseData"]["voice"] == "bob"
            await ws.close()

    run(scenario())


def test_batch_requests(library: VoiceLibrary) -> None:
    async def scenario() -> None:
        async with running_server(control_only(library)) as server:
            async with await ControlClient.connect(server.url, SECRET, event_subscriptions=0) as client:
                results = await client.batch(
                    [("SetMode", {"mode": "mute"}), ("SetVoice", {"voice": "carol"}), ("GetStatus", None)]
                )
                assert [r.request_status.code for r in results] == [100, 100, 100]
                assert results[2].response_data is not None
                assert (results[2].response_data["mode"], results[2].response_data["voice"]) == (
                    "mute",
                    "carol",
                )
                halted = await client.batch(
                    [("SetVoice", {"voice": "zed"}), ("SetMode", {"mode": "convert"})], halt_on_failure=True
                )
                assert [r.request_status.code for r in halted] == [600]
                assert (await client.request("GetStatus"))["mode"] == "mute"
            ws = await raw_connect(server.url)
            await raw_identify(ws)
            too_many = [{"requestType": "GetStatus"}] * 101
            await ws.send(json.dumps({"op": 8, "d": {"requestId": "big", "requests": too_many}}))
            code, reason = await closed_with(ws)
            assert code == CloseCode.INVALID_DATA_FIELD_VALUE
            assert "at most 100" in reason

    run(scenario())


# -- events -------------------------------------------------------------------------


def test_events_reach_exactly_their_subscribers(library: VoiceLibrary) -> None:
    async def scenario() -> None:
        async with running_server(control_only(library)) as server:
            everything = await ControlClient.connect(server.url, SECRET)
            mode_only = await ControlClient.connect(
                server.url, SECRET, event_subscriptions=EventSubscription.MODE
            )
            nothing = await ControlClient.connect(server.url, SECRET, event_subscriptions=0)
            meters = await ControlClient.connect(
                server.url, SECRET, event_subscriptions=EventSubscription.LEVEL_METERS
            )
            await everything.request("SetMode", {"mode": "passthrough"})
            await everything.request("SetVoice", {"voice": "bob"})
            assert server.publish_event(LEVELS)

            first = await everything.next_event(5)
            assert (first.event_type, first.event_data) == (
                "ModeChanged",
                {"mode": "passthrough", "previous": "convert"},
            )
            assert first.event_intent == EventSubscription.MODE
            second = await everything.next_event(5)
            assert second.event_type == "VoiceChanged"
            assert second.event_data == {
                "voice": "bob",
                "previous": "alice",
                "dim": 1024,
                "transient": False,
                "morph": None,
            }
            assert (await mode_only.next_event(5)).event_type == "ModeChanged"
            level = await meters.next_event(5)
            assert level.event_type == "LevelMeters"
            assert level.event_data == {
                "inputPeakDbfs": -12.0,
                "inputRmsDbfs": -24.0,
                "outputPeakDbfs": -9.5,
                "outputRmsDbfs": -20.25,
            }
            # A request round trip after the publications proves nothing else was queued:
            # events are queued before any later response of the same session.
            for client in (everything, mode_only, nothing, meters):
                await client.request("GetStatus")
                with pytest.raises(TimeoutError):
                    await client.next_event(0.05)

            await nothing.reidentify(int(EventSubscription.MODE))
            await everything.request("SetMode", {"mode": "mute"})
            assert (await nothing.next_event(5)).event_data["mode"] == "mute"
            for client in (everything, mode_only, nothing, meters):
                await client.close()

    run(scenario())


def test_publish_from_many_threads_keeps_each_threads_order(library: VoiceLibrary) -> None:
    server = ControlServer(control_only(library), control_config(), SECRET)
    assert not server.publish("ModeChanged", {"mode": "mute", "previous": "convert"})
    with pytest.raises(ValueError, match="unknown event type"):
        server.publish("Explosion", {})
    thread = ControlServerThread(server)
    url = thread.start()
    threads, per_thread = 4, 200

    def publisher(index: int) -> None:
        for seq in range(per_thread):
            server.publish("BufferOverrun", {"buffer": f"t{index}", "count": seq})

    async def scenario() -> list[tuple[str, int]]:
        async with await ControlClient.connect(
            url, SECRET, event_subscriptions=EventSubscription.BUFFERS
        ) as client:
            workers = [threading.Thread(target=publisher, args=(i,)) for i in range(threads)]
            for worker in workers:
                worker.start()
            received = []
            for _ in range(threads * per_thread):
                event = await client.next_event(10)
                received.append((event.event_data["buffer"], event.event_data["count"]))
            for worker in workers:
                worker.join()
            stats = await client.request("GetStats")
            assert stats["control"]["eventsPublished"] == threads * per_thread + 1
            assert stats["control"]["eventsDropped"] == 1
            return received

    try:
        received = run(scenario())
    finally:
        thread.stop()
    for index in range(threads):
        assert [count for buffer, count in received if buffer == f"t{index}"] == list(range(per_thread))


def test_fifty_concurrent_clients(library: VoiceLibrary) -> None:
    async def scenario() -> None:
        async with running_server(control_only(library)) as server:
            clients = await asyncio.gather(*(ControlClient.connect(server.url, SECRET) for _ in range(50)))

            async def work(index: int, client: ControlClient) -> None:
                for _ in range(3):
                    await client.request("SetPushToTalk", {"pressed": index % 2 == 0})
                    status = await client.request("GetStatus")
                    assert status["voice"] == "alice"

            await asyncio.gather(*(work(i, c) for i, c in enumerate(clients)))
            stats = await clients[0].request("GetStats")
            assert stats["control"]["clients"] == 50
            await clients[0].request("SetMode", {"mode": "mute"})
            events = await asyncio.gather(*(c.next_event(10) for c in clients))
            assert {(e.event_type, e.event_data["mode"]) for e in events} == {("ModeChanged", "mute")}
            await asyncio.gather(*(c.close() for c in clients))

    run(scenario())


def test_a_client_that_never_reads_is_closed_without_delaying_others(library: VoiceLibrary) -> None:
    async def scenario() -> None:
        async with running_server(control_only(library), send_queue_size=8) as server:
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            sock.setblocking(False)
            await asyncio.get_running_loop().sock_connect(sock, ("127.0.0.1", server.port))
            stuck = await raw_connect(server.url, sock=sock, max_queue=1)
            await raw_identify(stuck, subscriptions=int(EventSubscription.LEVEL_METERS))
            healthy = await ControlClient.connect(server.url, SECRET, event_subscriptions=0)
            rounds = 0
            while server.control_stats().slow_clients_disconnected == 0:
                rounds += 1
                assert rounds < 400, "the stuck client was never disconnected"
                for _ in range(500):
                    assert server.publish_event(LEVELS)
                # the healthy client is answered while the stuck one jams its socket
                assert (await healthy.request("GetStatus"))["voice"] == "alice"
            code, reason = await closed_with(stuck, timeout_s=10)
            assert code == CloseCode.SEND_QUEUE_FULL
            assert "does not read" in reason
            stats = await healthy.request("GetStats")
            assert stats["control"]["slowClientsDisconnected"] == 1
            assert stats["control"]["eventsDropped"] == 0
            await healthy.close()

    run(scenario())


# -- hostile input ------------------------------------------------------------------


def test_browser_origins_are_refused_unless_allowed(library: VoiceLibrary) -> None:
    async def scenario() -> None:
        allowed = ("http://localhost:8080",)
        async with running_server(control_only(library), allowed_origins=allowed) as server:
            with pytest.raises(InvalidStatus) as caught:
                await raw_connect(server.url, origin="http://evil.example")
            assert caught.value.response.status_code == 403
            assert b"control.allowed_origins" in caught.value.response.body
            with pytest.raises(ControlClientError, match="HTTP 403"):
                await ControlClient.connect(server.url, SECRET, origin="null")
            page = await ControlClient.connect(server.url, SECRET, origin="http://localhost:8080")
            assert (await page.request("GetStatus"))["voice"] == "alice"
            await page.close()
        async with running_server(control_only(library)) as server:
            with pytest.raises(InvalidStatus):
                await raw_connect(server.url, origin="http://localhost:8080")

    run(scenario())


def test_oversized_and_malformed_messages_close_only_their_session(library: VoiceLibrary) -> None:
    async def scenario() -> None:
        async with running_server(control_only(library), max_message_bytes=1024) as server:
            bystander = await ControlClient.connect(server.url, SECRET)
            big = await raw_connect(server.url)
            await raw_identify(big)
            await big.send(
                json.dumps(
                    {
                        "op": 6,
                        "d": {"requestType": "Speak", "requestId": "1", "requestData": {"text": "x" * 2000}},
                    }
                )
            )
            assert (await closed_with(big))[0] == CloseCode.MESSAGE_TOO_BIG
            cases: list[tuple[str | bytes, int]] = [
                (b"\x00\x01", CloseCode.MESSAGE_DECODE_ERROR),
                ("{nope", CloseCode.MESSAGE_DECODE_ERROR),
                ('{"op": 99, "d": {}}', CloseCode.UNKNOWN_OP_CODE),
                ('{"op": 6, "d": {"requestType": "GetStatus"}}', CloseCode.MISSING_DATA_FIELD),
                ("[" * 500 + "]" * 500, CloseCode.MESSAGE_DECODE_ERROR),
            ]
            for message, expected in cases:
                ws = await raw_connect(server.url)
                await raw_identify(ws)
                await ws.send(message)
                code, reason = await closed_with(ws)
                assert code == expected, (message, reason)
            assert (await bystander.request("GetStatus"))["voice"] == "alice"
            with pytest.raises(TimeoutError):
                await bystander.next_event(0.05)
            await bystander.close()

    run(scenario())


def test_stopping_the_server_says_going_away_and_frees_the_port(library: VoiceLibrary) -> None:
    async def scenario() -> None:
        state = control_only(library)
        server = ControlServer(state, control_config(), SECRET)
        await server.start()
        client = await ControlClient.connect(server.url, SECRET)
        clash = ControlServer(state, control_config(port=server.port), SECRET)
        with pytest.raises(ControlServerError, match=f"cannot listen on 127.0.0.1:{server.port}"):
            await clash.start()
        await server.close()
        with pytest.raises(ConnectionClosedError) as caught:
            await client.next_event(5)
        assert caught.value.code == CloseCode.GOING_AWAY
        again = ControlServer(state, control_config(port=server.port), SECRET)
        await again.start()
        await again.close()

    run(scenario())
