"""The ``livevoice`` command line.

Each domain registers its own subcommands (``register(subparsers)`` in its ``cli``
module) so this file stays a table of contents. Handlers import heavy libraries
(torch, faster-whisper) lazily, so ``livevoice --help`` and ``livevoice ctl`` start fast.

A :class:`~livevoice.errors.LivevoiceError` becomes one line on stderr and exit code 2.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from livevoice import __version__
from livevoice.config import Config, default_config_path, load_config, replace
from livevoice.errors import LivevoiceError

COMMAND_MODULES = (
    "livevoice.daemon_cli",
    "livevoice.audio.cli",
    "livevoice.audio.vmic_cli",
    "livevoice.asr.cli",
    "livevoice.tts.cli",
    "livevoice.voices.cli",
    "livevoice.control.cli",
    "livevoice.control.panel_cli",
    "livevoice.models.cli",
    "livevoice.doctor_cli",
)

Handler = Callable[[argparse.Namespace], int]


def config_path_from_args(args: argparse.Namespace) -> Path | None:
    """The file named by ``--config``, else the user's config file if it exists, else None."""
    path: Path | None = args.config
    if path is None:
        candidate = default_config_path()
        path = candidate if candidate.exists() else None
    return path


def config_from_args(args: argparse.Namespace) -> Config:
    """The config named by ``--config``, else the user's config file if it exists, else defaults."""
    return load_config(config_path_from_args(args))


def with_overrides(config: Config, section: str, **values: object) -> Config:
    """``config`` with keys of ``section`` replaced by command-line options that were given
    (None = not given), validated like the file."""
    given = {key: value for key, value in values.items() if value is not None}
    return replace(config, section, **given) if given else config


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="livevoice",
        description="Real-time voice conversion into a virtual microphone.",
    )
    parser.add_argument("--version", action="version", version=f"livevoice {__version__}")
    parser.add_argument(
        "--config",
        type=Path,
        default=None,
        help="config file (default: $XDG_CONFIG_HOME/livevoice/config.toml)",
    )
    parser.add_argument("-v", "--verbose", action="count", default=0, help="more log output (-vv: debug)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    level = logging.WARNING - 10 * min(args.verbose, 2)
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if args.verbose < 2:  # libraries' chatter (every decode, every download retry) stays out
        logging.getLogger("faster_whisper").setLevel(logging.WARNING)
        # (they set their own levels when imported, from these variables)
        os.environ.setdefault("HF_HUB_VERBOSITY", "error")
        os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    handler: Handler = args.func
    try:
        return handler(args)
    except LivevoiceError as err:
        print(f"livevoice: error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
