"""``livevoice devices``: what PortAudio sees."""

from __future__ import annotations

import argparse
import json
from typing import Any


def register(sub: argparse._SubParsersAction[Any]) -> None:
    p = sub.add_parser("devices", help="list audio input and output devices")
    p.add_argument("--json", action="store_true", help="one JSON object per device")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from livevoice.audio.devices import format_device_table, list_devices

    devices = list_devices()
    if args.json:
        for d in devices:
            print(json.dumps(d.to_dict()))
    else:
        print(format_device_table(devices))
    return 0
