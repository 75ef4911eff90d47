"""``livevoice run``: start the daemon (or the control server alone), with its signals."""

from __future__ import annotations

import argparse
import signal
from pathlib import Path
from types import FrameType
from typing import Any

from livevoice.config import Config


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
    """Check devices and voices, load the models, run the daemon until SIGTERM/SIGINT (SIGHUP
    reloads the config); the exit code. LivevoiceError for what the user can fix."""
    from livevoice.audio.choice import resolve_devices
    from livevoice.controls import LiveControls
    from livevoice.daemon import Daemon
    from livevoice.models import load_models

    resolve_devices(config.audio)  # a wrong device or voice is reported before minutes of model loading
    LiveControls.from_config(config)
    models = load_models(config)
    daemon = Daemon(config, config_path, models, json_events)

    def on_stop(signum: int, frame: FrameType | None) -> None:
        daemon.request_stop()

    def on_hup(signum: int, frame: FrameType | None) -> None:
        daemon.request_reload()

    signal.signal(signal.SIGTERM, on_stop)
    signal.signal(signal.SIGINT, on_stop)
    signal.signal(signal.SIGHUP, on_hup)
    return daemon.run()
