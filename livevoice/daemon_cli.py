"""``livevoice run``: start the daemon."""

from __future__ import annotations

import argparse
from typing import Any


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
    from livevoice.daemon import run_daemon

    return run_daemon(config, config_path=config_path_from_args(args), json_events=args.json)
