"""``livevoice doctor [--json]``: check the set-up, one row per check, with the fix for each problem."""

from __future__ import annotations

import argparse
from typing import Any


def register(sub: argparse._SubParsersAction[Any]) -> None:
    p = sub.add_parser(
        "doctor",
        help="check everything `livevoice run` needs and say how to fix what is not right",
        description="Checks Python and packages, CUDA, the speech recogniser (one real decode), the sound "
        "server and the virtual mic, the configured devices, the TTS model, the voices, the control port "
        "and the secret file. Each row is OK, WARN or FAIL, with the command that fixes it. Exit code 0 "
        "when nothing FAILs, 1 otherwise. Changes nothing.",
    )
    p.add_argument("--json", action="store_true", help="print one JSON object instead of the table")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from livevoice.cli import config_path_from_args
    from livevoice.doctor import Context, config_check, exit_code, format_table, run_checks, to_json

    path = config_path_from_args(args)
    config, config_row = config_check(path)
    rows = [config_row, *run_checks(Context(config, path))]
    print(to_json(rows) if args.json else format_table(rows))
    return exit_code(rows)
