"""Control-only mode: the control server over real voices, with no models and no audio devices.

``livevoice run --control-only`` lets app developers build against the protocol on any
machine. The state is the daemon's own (:class:`~livevoice.control.live.LiveState` over
:class:`~livevoice.controls.LiveControls`): library voices are real (set, mixed with the
voice algebra, morphed with its schedule), mode and push-to-talk are kept, the text
settings are loaded and checked as the daemon does, and VoiceChanged/ModeChanged are
published. There is no audio loop, so Speak, StopSpeaking, ListDevices and SetDevices
answer NotAvailable (207).
"""

from __future__ import annotations

import asyncio
import signal
from pathlib import Path

from livevoice.config import Config
from livevoice.control import auth
from livevoice.control.live import LiveState
from livevoice.control.server import ControlServer
from livevoice.controls import LiveControls
from livevoice.voices.embedding import VoiceError


def run_control_only(config: Config, *, port: int | None = None) -> int:
    """Serve the control protocol with no models and no audio until SIGINT/SIGTERM; exit status.

    Prints one line with the URL. Raises :class:`~livevoice.errors.LivevoiceError`
    (one line) for a bad default voice, an unusable secret file or a taken port.
    """
    secret_file = auth.secret_path(config)
    secret = auth.load_or_create_secret(secret_file)
    try:
        controls = LiveControls.from_config(config)
    except VoiceError as err:
        raise VoiceError(f"control-only mode cannot load voices.default_voice: {err}") from None
    server = ControlServer(LiveState(controls), config.control, secret, port=port)
    controls.listen(server.publish_record)
    return asyncio.run(_serve(server, secret_file))


async def _serve(server: ControlServer, secret_file: Path) -> int:
    url = await server.start()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    print(f"livevoice control-only: listening on {url} (secret file: {secret_file})", flush=True)
    try:
        await stop.wait()
    finally:
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(signum)
        await server.close()
    return 0


__all__ = ["run_control_only"]
