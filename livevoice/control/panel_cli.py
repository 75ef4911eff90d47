"""``livevoice panel``: the address of the browser panel, with the secret in its fragment.

::

    livevoice panel            # prints http://127.0.0.1:4460/#secret=...
    livevoice panel --open     # and opens it in the default browser

The daemon serves the panel on its control port (``livevoice run``, also with
``--control-only``). The secret travels only in the URL fragment, which browsers never
send to a server; the page keeps it in its local storage. ``--open`` does not put the
address on a command line (where other users of the machine could read it): it writes
a small page that forwards to it, readable only by you, next to the secret file, and
opens that.
"""

from __future__ import annotations

import argparse
import html
import http.client
import os
import sys
import urllib.parse
import webbrowser
from pathlib import Path
from typing import Any

from livevoice.control.cli import add_daemon_options, daemon_address
from livevoice.errors import LivevoiceError

FORWARD_PAGE = "panel.html"
"""Name of the forwarding page ``--open`` writes next to the secret file."""


class PanelError(LivevoiceError):
    """The panel cannot be opened."""


def register(sub: argparse._SubParsersAction[Any]) -> None:
    """Add ``panel`` to the ``livevoice`` parser."""
    parser = sub.add_parser(
        "panel",
        help="print (or open) the address of the browser control panel",
        description="Print the address of the daemon's browser panel, with the secret in the part after '#' "
        "(which browsers never send to a server). Use it in a browser tab or as an OBS custom browser dock.",
    )
    parser.add_argument("--open", action="store_true", help="also open the panel in the default browser")
    add_daemon_options(parser)
    parser.set_defaults(func=run_panel)


def panel_url(host: str, port: int, secret: str) -> str:
    """``http://HOST:PORT/#secret=...``; a wildcard bind address becomes 127.0.0.1."""
    if host in ("", "0.0.0.0", "::"):
        host = "127.0.0.1"
    shown = f"[{host}]" if ":" in host else host
    return f"http://{shown}:{port}/#secret={urllib.parse.quote(secret, safe='')}"


def daemon_answers(host: str, port: int, timeout_s: float = 3.0) -> bool:
    """Whether something serves the panel page at ``host:port`` (a plain GET / answered 200)."""
    if host in ("", "0.0.0.0", "::"):
        host = "127.0.0.1"
    connection = http.client.HTTPConnection(host, port, timeout=timeout_s)
    try:
        connection.request("GET", "/")
        return connection.getresponse().status == 200
    except (OSError, http.client.HTTPException):
        return False
    finally:
        connection.close()


def write_forward_page(folder: Path, url: str) -> Path:
    """A page (mode 0600) that sends the browser on to ``url``; its path."""
    path = folder / FORWARD_PAGE
    quoted = html.escape(url, quote=True)
    text = (
        '<!doctype html>\n<meta charset="utf-8">\n<meta name="referrer" content="no-referrer">\n'
        f'<meta http-equiv="refresh" content="0;url={quoted}">\n<title>livevoice panel</title>\n'
        f'<p><a href="{quoted}">Open the livevoice panel</a></p>\n'
    )
    try:
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
    except OSError as err:
        raise PanelError(f"cannot write {path}: {err.strerror or err}") from None
    return path


def run_panel(args: argparse.Namespace) -> int:
    """Handler of ``livevoice panel``."""
    from livevoice.cli import config_from_args
    from livevoice.control import auth

    config = config_from_args(args)
    host, port, secret_file = daemon_address(args, config)
    url = panel_url(host, port, auth.read_secret(secret_file))
    if not daemon_answers(host, port):
        print(
            f"livevoice: warning: no livevoice daemon answers on port {port} yet; start it with "
            "`livevoice run` (the page connects once it runs)",
            file=sys.stderr,
        )
    print(url, flush=True)
    if args.open:
        page = write_forward_page(secret_file.parent, url)
        if not webbrowser.open(page.as_uri()):
            raise PanelError("found no web browser to open; open the address above yourself")
    return 0


__all__ = ["daemon_answers", "panel_url", "register", "run_panel", "write_forward_page"]
