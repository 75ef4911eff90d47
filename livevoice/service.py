"""Tell systemd how the daemon is doing: the sd_notify protocol, without libsystemd.

Under a ``Type=notify`` unit, systemd passes the address of a datagram socket in
``$NOTIFY_SOCKET`` (a filesystem path, or an abstract-namespace name written with a
leading ``@``). The daemon sends newline-separated ``KEY=VALUE`` assignments to it:
``READY=1`` once the models are loaded, ``WATCHDOG=1`` while the loop is healthy,
``RELOADING=1`` around a config reload, ``STOPPING=1`` when draining for exit.

Every function here is a no-op returning False when ``$NOTIFY_SOCKET`` is unset (a run
from a terminal), and none of them raises: a notification that cannot be delivered is
logged and reported by the return value, never allowed to stop the audio loop.
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import threading
import time
from collections.abc import Iterator

log = logging.getLogger(__name__)

MAX_STATUS_CHARS = 400
"""A status line longer than this is cut (systemd shows one line in ``systemctl status``)."""


def notify(*assignments: str) -> bool:
    """Send ``KEY=VALUE`` assignments to ``$NOTIFY_SOCKET`` in one datagram.

    Returns True when the datagram was sent, False when there is no notify socket or
    sending failed (logged). Never raises.
    """
    address = os.environ.get("NOTIFY_SOCKET", "")
    if not address:
        return False
    if address.startswith("@"):
        target = "\0" + address[1:]  # Linux abstract namespace
    elif address.startswith("/"):
        target = address
    else:
        log.warning("NOTIFY_SOCKET=%r is not a unix socket address; not notifying systemd", address)
        return False
    message = "\n".join(assignments).encode("utf-8", errors="replace")
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) as sock:
            sock.connect(target)
            sock.sendall(message)
    except (OSError, ValueError) as err:
        log.warning("could not notify systemd at %r: %s", address, err)
        return False
    return True


def notify_ready(status: str = "") -> bool:
    """Startup finished (models loaded, devices open): ``READY=1``, with an optional status line."""
    return notify("READY=1", *_status(status))


def notify_watchdog() -> bool:
    """Keep-alive: the loop is healthy. Send at least every half of :func:`watchdog_interval_s`."""
    return notify("WATCHDOG=1")


def notify_reloading(status: str = "") -> bool:
    """A config reload begins (after SIGHUP); send :func:`notify_ready` when it is done.

    Carries ``MONOTONIC_USEC`` (CLOCK_MONOTONIC in µs, which ``time.monotonic_ns`` reads on
    Linux); ``Type=notify-reload`` units of systemd >= 253 require it, older ones ignore it.
    """
    usec = time.monotonic_ns() // 1000
    return notify("RELOADING=1", f"MONOTONIC_USEC={usec}", *_status(status))


def notify_stopping(status: str = "") -> bool:
    """Shutdown begins (after SIGTERM): the daemon drains and exits."""
    return notify("STOPPING=1", *_status(status))


def notify_status(text: str) -> bool:
    """A one-line, human-readable status shown by ``systemctl --user status livevoice``."""
    return notify(*_status(text))


def notify_extend_timeout(seconds: float) -> bool:
    """Ask systemd for ``seconds`` more before it gives up on startup (e.g. during a model download)."""
    return notify(f"EXTEND_TIMEOUT_USEC={max(0, round(seconds * 1_000_000))}")


EXTEND_STEP_S = 60.0
"""What :func:`extending_start` asks for at a time (s); it asks again every third of it."""


@contextlib.contextmanager
def extending_start(status: str = "", step_s: float = EXTEND_STEP_S) -> Iterator[None]:
    """While the block runs (loading models, which may first download them), keep systemd's
    start timeout from running out: :func:`notify_extend_timeout` at once and then every
    ``step_s / 3``. Nothing happens without a notify socket."""
    if not os.environ.get("NOTIFY_SOCKET"):
        yield
        return
    if status:
        notify_status(status)
    done = threading.Event()

    def extend() -> None:
        while True:
            notify_extend_timeout(step_s)
            if done.wait(step_s / 3):
                return

    thread = threading.Thread(target=extend, name="livevoice-start-timeout", daemon=True)
    thread.start()
    try:
        yield
    finally:
        done.set()
        thread.join()


def watchdog_interval_s() -> float | None:
    """The watchdog timeout systemd enforces (s), from ``$WATCHDOG_USEC``; None when off.

    Ping with :func:`notify_watchdog` at least every half of this. None as well when
    ``$WATCHDOG_PID`` names another process (the variable was inherited, not meant for us)
    or when the value is not a positive integer (logged).
    """
    raw = os.environ.get("WATCHDOG_USEC", "")
    if not raw:
        return None
    pid = os.environ.get("WATCHDOG_PID", "")
    if pid and pid.strip() != str(os.getpid()):
        return None
    try:
        usec = int(raw.strip())
    except ValueError:
        log.warning("ignoring WATCHDOG_USEC=%r: not an integer number of microseconds", raw)
        return None
    if usec <= 0:
        log.warning("ignoring WATCHDOG_USEC=%r: not positive", raw)
        return None
    return usec / 1_000_000


def _status(text: str) -> list[str]:
    if not text:
        return []
    line = " ".join(text.split())[:MAX_STATUS_CHARS]
    return [f"STATUS={line}"]
