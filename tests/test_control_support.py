"""Shared pieces of the control tests: a real voice library, the real state, a server.

No tests here. The state is always the daemon's own :class:`LiveState` over
:class:`LiveControls` and real voice files: without an audio loop (control-only) here;
the tests of the requests that need audio run it over a real daemon on the test audio
server (``daemon_harness``).
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
from livevoice.control.live import LiveState
from livevoice.control.server import ControlServer
from livevoice.controls import LiveControls
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
    "SetDevices": {"outputDevice": "lvtest_null"},
}
"""A valid requestData for every request type (``lvtest_null``: the rig's silent default sink)."""


def make_library(folder: Path, dim: int = 1024) -> VoiceLibrary:
    """alice, bob, carol (``dim`` values: 1024 as for the 0.6B model, 64 for the tiny test
    model) and big (twice as many), random but fixed."""
    library = VoiceLibrary(folder)
    rng = np.random.default_rng(1234)
    for name in ("alice", "bob", "carol"):
        embedding = rng.standard_normal(dim).astype(np.float32)
        library.add(
            Voice(embedding, VoiceMeta(name=name, model_id="Qwen/Qwen3-TTS-12Hz-0.6B-Base", note="test"))
        )
    big = rng.standard_normal(2 * dim).astype(np.float32)
    library.add(Voice(big, VoiceMeta(name="big", model_id="Qwen/Qwen3-TTS-12Hz-1.7B-Base")))
    return library


def control_only(library: VoiceLibrary) -> LiveState:
    """The state ``livevoice run --control-only`` serves, starting with voice alice."""
    return LiveState(LiveControls(library, library.get("alice")))


def control_config(**changes: Any) -> ControlConfig:
    """The default [control] section on port 0 with ``changes``."""
    values: dict[str, Any] = {"port": 0, **changes}
    return ControlConfig(**values)


@contextlib.asynccontextmanager
async def running_server(state: LiveState, **changes: Any) -> AsyncIterator[ControlServer]:
    """A started server over a control-only ``state`` on 127.0.0.1, an ephemeral port, secret
    :data:`SECRET`; the changes of its controls are published as run_control_only does."""
    server = ControlServer(state, control_config(**changes), SECRET)
    state.controls.listen(server.publish_record)
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
