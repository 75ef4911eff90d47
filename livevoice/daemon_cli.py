"""``livevoice run``: start the daemon (or the control server alone), with its signals."""

from __future__ import annotations

import argparse
import signal
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Any

from livevoice.config import Config

if TYPE_CHECKING:
    from livevoice.voices.library import VoiceLibrary


def register(sub: argparse._SubParsersAction[Any]) -> None:
    p = sub.add_parser(
        "run",
        help="run the daemon: microphone -> converted voice -> output device",
        description="Capture the microphone, recognise the speech, and speak it again in the current voice "
        "into the output device, with the websocket control server. With --control-only, run only the "
        "control server (no models, no audio devices).",
    )
    p.add_argument("--control-only", action="store_true", help="only the control server, no audio or models")
    p.add_argument(
        "--port", type=int, default=None, help="control server port (default: config control.port)"
    )
    p.add_argument("--input", dest="input_device", help="microphone (name substring or index)")
    p.add_argument("--output", dest="output_device", help="output device (name substring or index)")
    p.add_argument("--json", action="store_true", help="print transcript events as JSON lines")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from livevoice.cli import config_from_args, config_path_from_args, with_overrides

    config = with_overrides(config_from_args(args), "control", port=args.port)
    config = with_overrides(config, "audio", input_device=args.input_device, output_device=args.output_device)
    if args.control_only:
        from livevoice.control.standalone import run_control_only

        return run_control_only(config, port=args.port)
    return run_daemon(config, config_path=config_path_from_args(args), json_events=args.json)


def run_daemon(config: Config, *, config_path: Path | None = None, json_events: bool = False) -> int:
    """Check the output, devices and voices, load the models, make the starter voices (an empty
    library), run the daemon until SIGTERM/SIGINT (SIGHUP reloads the config); the exit code.
    LivevoiceError for what the user can fix."""
    from livevoice import service
    from livevoice.audio.choice import resolve_devices
    from livevoice.audio.default_output import resolve_default_output
    from livevoice.daemon import Daemon
    from livevoice.models import load_models
    from livevoice.voices.library import VoiceLibrary
    from livevoice.voices.starters import start_with_starters

    # reported before minutes of model loading: a virtual mic that cannot be made, a wrong
    # device, voice or word list (the daemon makes the virtual mic again when it opens)
    resolve_devices(resolve_default_output(config).config.audio)
    library = VoiceLibrary.from_config(config)
    check_voices(config, library)
    models = load_models(config)
    with service.extending_start():  # the speaker encoder runs once per starter voice
        config = start_with_starters(config, library, models.engine)
    daemon = Daemon(config, config_path, models, json_events)

    def on_stop(signum: int, frame: FrameType | None) -> None:
        daemon.request_stop()

    def on_hup(signum: int, frame: FrameType | None) -> None:
        daemon.request_reload()

    signal.signal(signal.SIGTERM, on_stop)
    signal.signal(signal.SIGINT, on_stop)
    signal.signal(signal.SIGHUP, on_hup)
    return daemon.run()


def check_voices(config: Config, library: VoiceLibrary) -> None:
    """Before the models load: the default voice and the text settings (VoiceError,
    WordFilterError). A library about to get its starter voices has none to check yet."""
    from livevoice.controls import LiveControls
    from livevoice.text.stage import TextSettings
    from livevoice.voices.starters import starters_will_fill

    if starters_will_fill(library, config.voices.default_voice):
        TextSettings.load(config.text)
    else:
        LiveControls.from_config(config)
