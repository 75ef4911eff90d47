"""Shared pieces of the control tests: a real voice library, a state with audio requests, a server.

No tests here. ``AudioState`` stands in for the daemon (not written yet) only for the
four requests that need the audio loop; everything else is the real
:class:`ControlOnlyState` over real voice files.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Mapping
from pathlib import Path
from typing import Any

import numpy as np
from websockets.asyncio.client import ClientConnection, connect

from livevoice.config import ControlConfig
from livevoice.control import auth
from livevoice.control.codes import RPC_VERSION, EventSubscription
from livevoice.control.records import DeviceInfo, DeviceList
from livevoice.control.server import ControlServer
from livevoice.control.standalone import ControlOnlyState
from livevoice.control.state import ResourceNotFoundError
from livevoice.voices.embedding import Voice, VoiceMeta
from livevoice.voices.library import VoiceLibrary

SECRET = "test-secret-3f1d0c9b8a7e6d5c4b3a2f1e"

VALID_DATA: dict[str, dict[str, Any] | None] = {
    "GetVersion": None,
    "GetStatus": None,
    "GetStats": None,
    "ListVoices": None,
    "GetCurrentVoice": None,
    "SetVoice": {"voice": "bob"},
    "MorphVoice": {"to": "carol", "durationMs": 500, "curve": "ease"},
    "MixVoices": {"weights": {"alice": 0.7, "bob": 0.3}},
    "SetMode": {"mode": "passthrough"},
    "SetPushToTalk": {"pressed": True, "enabled": True},
    "GetTextOptions": None,
    "SetTextOptions": {"cleanDisfluencies": True, "filterAction": "drop", "minPhraseWords": 2},
    "Speak": {"text": "hello there"},
    "StopSpeaking": None,
    "ListDevices": None,
    "SetDevices": {"outputDevice": "livevoice_out"},
}
"""A valid requestData for every request type."""


def make_library(folder: Path) -> VoiceLibrary:
    """alice, bob, carol (1024 values) and big (2048 values), random but fixed."""
    library = VoiceLibrary(folder)
    rng = np.random.default_rng(1234)
    for name in ("alice", "bob", "carol"):
        embedding = rng.standard_normal(1024).astype(np.float32)
        library.add(
            Voice(embedding, VoiceMeta(name=name, model_id="Qwen/Qwen3-TTS-12Hz-0.6B-Base", note="test"))
        )
    big = rng.standard_normal(2048).astype(np.float32)
    library.add(Voice(big, VoiceMeta(name="big", model_id="Qwen/Qwen3-TTS-12Hz-1.7B-Base")))
    return library


class AudioState(ControlOnlyState):
    """ControlOnlyState plus the audio requests, recorded (the daemon is not written yet)."""

    DEVICES = (
        DeviceInfo(0, "USB Mic", "ALSA", 1, 0, 48000.0),
        DeviceInfo(1, "livevoice_out", "PipeWire", 0, 2, 48000.0),
    )

    def __init__(self, library: VoiceLibrary) -> None:
        super().__init__(library, library.get("alice"))
        self.spoken: list[str] = []
        self.stops = 0
        self.devices = {"input": "", "output": "", "monitor": ""}

    def speak(self, text: str) -> int:
        self.spoken.append(text)
        return len(self.spoken)

    def stop_speaking(self) -> None:
        self.stops += 1

    def list_devices(self) -> DeviceList:
        d = self.devices
        return DeviceList(self.DEVICES, d["input"], d["output"], d["monitor"])

    def set_devices(
        self, input_device: str | None, output_device: str | None, monitor_device: str | None
    ) -> None:
        names = {dev.name for dev in self.DEVICES}
        for role, value in (("input", input_device), ("output", output_device), ("monitor", monitor_device)):
            if value and value not in names:
                raise ResourceNotFoundError(f"no {role} device {value!r}")
        for role, value in (("input", input_device), ("output", output_device), ("monitor", monitor_device)):
            if value is not None:
                self.devices[role] = value


def control_config(**changes: Any) -> ControlConfig:
    """The default [control] section on port 0 with ``changes``."""
    values: dict[str, Any] = {"port": 0, **changes}
    return ControlConfig(**values)


@contextlib.asynccontextmanager
async def running_server(state: Any, **changes: Any) -> AsyncIterator[ControlServer]:
    """A started server on 127.0.0.1, an ephemeral port, secret :data:`SECRET`."""
    server = ControlServer(state, control_config(**changes), SECRET)
    if hasattr(state, "bind_events"):
        state.bind_events(server.publish_event)
    await server.start()
    try:
        yield server
    finally:
        await server.close()


async def raw_connect(url: str, **kwargs: Any) -> ClientConnection:
    """A plain websockets client (no protocol logic)."""
    return await connect(url, proxy=None, compression=None, open_timeout=5, **kwargs)


async def recv_json(ws: ClientConnection, timeout_s: float = 5.0) -> Any:
    async with asyncio.timeout(timeout_s):
        return json.loads(await ws.recv())


async def raw_identify(
    ws: ClientConnection, secret: str = SECRET, subscriptions: int = int(EventSubscription.ALL)
) -> Mapping[str, Any]:
    """Read Hello, answer it, return Identified."""
    hello = await recv_json(ws)
    challenge = hello["d"]["authentication"]
    answer = auth.auth_response(secret, challenge["salt"], challenge["challenge"])
    await ws.send(
        json.dumps(
            {
                "op": 1,
                "d": {
                    "rpcVersion": RPC_VERSION,
                    "authentication": answer,
                    "eventSubscriptions": subscriptions,
                },
            }
        )
    )
    identified: Mapping[str, Any] = await recv_json(ws)
    return identified


async def closed_with(ws: ClientConnection, timeout_s: float = 5.0) -> tuple[int | None, str]:
    """Read until the server closes; its close code and reason."""
    with contextlib.suppress(Exception):
        async with asyncio.timeout(timeout_s):
            async for _ in ws:
                pass
    return ws.close_code, ws.close_reason or ""
