"""``livevoice virtual-mic create|remove|status``: the virtual microphone on PipeWire/PulseAudio."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

EXIT_MISSING = 1
"""Exit code of ``status`` when the pair is absent or incomplete (0 = ready, 2 = error)."""


def register(sub: argparse._SubParsersAction[Any]) -> None:
    p = sub.add_parser(
        "virtual-mic",
        help="create, remove or show the virtual microphone (PipeWire/PulseAudio)",
        description="Manage a virtual speaker NAME_out (livevoice plays into it) and a virtual "
        "microphone NAME_mic (select it in Discord, OBS or a game), made with pactl modules. "
        "create and remove are idempotent. status exits 0 when the pair is ready, 1 when it is "
        "missing or incomplete, 2 on an error.",
    )
    actions = p.add_subparsers(dest="vmic_action", metavar="ACTION")
    actions.required = True
    for action, help_text in (
        ("create", "make the pair if it is missing"),
        ("remove", "unload the pair"),
        ("status", "show what exists and how to play into it"),
    ):
        a = actions.add_parser(action, help=help_text)
        a.add_argument(
            "--name", default="livevoice", help="pair name: devices NAME_out and NAME_mic (default livevoice)"
        )
        if action == "status":
            a.add_argument("--json", action="store_true", help="print the state as one JSON object")
        a.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from livevoice.audio import virtual_mic as vm

    config_path = _config_path(args)
    if args.vmic_action == "create":
        state, commands = vm.create_virtual_mic(args.name)
        if not commands:
            verb = "already exists:"
        elif commands == [vm.load_sink_args(state.names), vm.load_source_args(state.names)]:
            verb = "created:"
        else:
            verb = "repaired:"
        print(f"virtual mic {args.name!r} {verb} {state.names.sink} -> {state.names.source}")
        print(f'Select "{state.names.source_description}" as the microphone in Discord, OBS or a game.')
        print("To make livevoice play into it, set " + vm.config_hint(state.names, config_path))
        return 0
    if args.vmic_action == "remove":
        state, changed = vm.remove_virtual_mic(args.name)
        print(f"virtual mic {args.name!r} " + ("removed" if changed else "was not there: nothing to remove"))
        return 0
    state = vm.virtual_mic_status(args.name)
    if args.json:
        print(
            json.dumps(
                {
                    "name": state.names.name,
                    "sink": state.names.sink,
                    "source": state.names.source,
                    "ready": state.complete,
                    "sink_exists": state.sink_exists,
                    "source_exists": state.source_exists,
                    "sink_modules": list(state.sink_modules),
                    "source_modules": list(state.source_modules),
                    "mic_link": state.mic_link,
                    "output_device": state.names.sink,
                }
            )
        )
    else:
        print(vm.format_status(state, config_path))
    return 0 if state.complete else EXIT_MISSING


def _config_path(args: argparse.Namespace) -> Path:
    from livevoice.config import default_config_path

    path: Path | None = getattr(args, "config", None)
    return path if path is not None else default_config_path()
