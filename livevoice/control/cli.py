"""``livevoice ctl``: send one request to the running daemon, or watch its events.

::

    livevoice ctl GetStatus
    livevoice ctl SetVoice '{"voice": "alice"}'
    livevoice ctl MorphVoice '{"to": "bob", "durationMs": 3000, "curve": "ease"}'
    livevoice ctl watch --events TranscriptFinal UtteranceLatency

A request prints its ``responseData`` as JSON; a failed request is one line on
stderr and exit status 2. ``watch`` prints one JSON object per event and line. The
secret comes from the secret file (``control.secret_file`` or ``--secret-file``).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from pathlib import Path
from typing import Any

from livevoice.config import Config
from livevoice.control.codes import EventSubscription
from livevoice.control.events import EVENTS, subscription_for
from livevoice.control.requests import REQUESTS, find_request_type
from livevoice.errors import LivevoiceError

WATCH = "watch"


class CommandLineError(LivevoiceError):
    """A ``livevoice ctl`` argument that makes no sense."""


def add_daemon_options(parser: argparse.ArgumentParser) -> None:
    """``--host``, ``--port``, ``--secret-file``: which running daemon a command talks to."""
    parser.add_argument("--host", default=None, help="daemon address (default: control.host, 127.0.0.1)")
    parser.add_argument("--port", type=int, default=None, help="daemon port (default: control.port, 4460)")
    parser.add_argument(
        "--secret-file",
        type=Path,
        default=None,
        help="file holding the daemon's secret (default: control.secret_file, else the config folder)",
    )


def daemon_address(args: argparse.Namespace, config: Config) -> tuple[str, int, Path]:
    """(host, port, secret file) of the daemon a command talks to: the options of
    :func:`add_daemon_options`, else the ``[control]`` settings."""
    from livevoice.control import auth

    host = args.host if args.host is not None else config.control.host
    port = args.port if args.port is not None else config.control.port
    if not 1 <= port <= 65535:
        raise CommandLineError(f"port {port} is not a port the daemon can listen on (1-65535); give --port")
    return host, port, args.secret_file or auth.secret_path(config)


def register(sub: argparse._SubParsersAction[Any]) -> None:
    """Add ``ctl`` to the ``livevoice`` parser."""
    parser = sub.add_parser(
        "ctl",
        help="send a request to the running daemon, or watch its events",
        description="Send one control request to the running daemon (see docs/protocol.md), "
        "or stream its events as JSON lines with 'watch'.",
        epilog=f"requests: {', '.join(REQUESTS)}. events: {', '.join(EVENTS)}.",
    )
    parser.add_argument(
        "request", metavar="REQUEST", help="a request type (e.g. GetStatus, SetVoice) or 'watch'"
    )
    parser.add_argument(
        "data",
        metavar="JSON",
        nargs="?",
        default=None,
        help='requestData as a JSON object, e.g. \'{"voice": "alice"}\'',
    )
    add_daemon_options(parser)
    parser.add_argument(
        "--events",
        nargs="+",
        metavar="EVENT",
        default=None,
        help="watch: event types to show (default: every low-volume event); "
        "name TranscriptPartial or LevelMeters to receive those",
    )
    parser.add_argument("--count", type=int, default=None, help="watch: stop after this many events")
    parser.add_argument(
        "--timeout",
        type=float,
        default=10.0,
        help="seconds to wait for the connection and an answer (default 10)",
    )
    parser.set_defaults(func=run_ctl)


def _event_names(given: list[str]) -> list[str]:
    by_fold = {name.casefold(): name for name in EVENTS}
    names = []
    for item in given:
        for part in item.split(","):
            if not part.strip():
                continue
            name = by_fold.get(part.strip().casefold())
            if name is None:
                raise CommandLineError(f"unknown event {part.strip()!r}; events: {', '.join(EVENTS)}")
            names.append(name)
    return names


def _request_data(text: str | None) -> dict[str, Any] | None:
    if text is None:
        return None
    try:
        data = json.loads(text)
    except ValueError as err:
        raise CommandLineError(f"JSON argument {text[:60]!r} is not valid JSON: {err}") from None
    if not isinstance(data, dict):
        raise CommandLineError(
            f'JSON argument must be an object like \'{{"voice": "alice"}}\', not {text[:60]!r}'
        )
    return data


def run_ctl(args: argparse.Namespace) -> int:
    """Handler of ``livevoice ctl``."""
    from livevoice.cli import config_from_args
    from livevoice.control import auth
    from livevoice.control.server import ws_url

    config = config_from_args(args)
    host, port, secret_file = daemon_address(args, config)
    secret = auth.read_secret(secret_file)
    url = ws_url(host, port)
    if args.request.casefold() == WATCH:
        if args.data is not None:
            raise CommandLineError("watch takes no JSON argument; choose events with --events")
        names = _event_names(args.events) if args.events else []
        return asyncio.run(_watch(url, secret, names, args.count, args.timeout))
    if args.events is not None or args.count is not None:
        raise CommandLineError("--events and --count go with 'watch'")
    request_type = find_request_type(args.request)
    if request_type is None:
        raise CommandLineError(f"unknown request {args.request!r}; requests: {', '.join(REQUESTS)}, or watch")
    data = _request_data(args.data)
    response = asyncio.run(_request(url, secret, request_type, data, args.timeout))
    _print(json.dumps(response, indent=2, ensure_ascii=False))
    return 0


def _print(text: str) -> bool:
    """Print a line to stdout; False once the reader went away (e.g. piped into head)."""
    try:
        print(text, flush=True)
    except BrokenPipeError:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return False
    return True


async def _request(
    url: str, secret: str, request_type: str, data: dict[str, Any] | None, timeout_s: float
) -> dict[str, Any]:
    from livevoice.control.client import ControlClient, ControlClientError

    async with await ControlClient.connect(
        url, secret, event_subscriptions=0, open_timeout_s=timeout_s
    ) as client:
        try:
            async with asyncio.timeout(timeout_s):
                return await client.request(request_type, data)
        except TimeoutError:
            raise ControlClientError(f"{request_type}: no answer within {timeout_s:g} s") from None


async def _watch(url: str, secret: str, names: list[str], count: int | None, timeout_s: float) -> int:
    from livevoice.control.client import ControlClient

    mask = subscription_for(names) if names else EventSubscription.ALL
    wanted = set(names)
    seen = 0
    async with await ControlClient.connect(
        url, secret, event_subscriptions=int(mask), open_timeout_s=timeout_s
    ) as client:
        while count is None or seen < count:
            event = await client.next_event()
            if wanted and event.event_type not in wanted:
                continue
            line = json.dumps(
                {"eventType": event.event_type, "eventData": event.event_data}, ensure_ascii=False
            )
            if not _print(line):
                return 0
            seen += 1
    return 0


__all__ = ["register", "run_ctl"]
