"""Download progress, followed by the bytes that have landed on disk.

The hub client downloads several files at once, each with its own progress bar, and
those bars are unreadable in a log. Here one reporter follows the whole download by
measuring the files it writes (a callable returns the bytes so far) and reports:

- on a terminal: one bar (tqdm), redrawn in place;
- otherwise (a pipe, the systemd journal): a plain line every ``line_every_s`` seconds,
  e.g. ``livevoice: downloading Qwen/...: 1.21 GB of 2.52 GB (48 %), 24.3 MB/s, ~54 s left``.

Measuring the disk instead of hooking into the client keeps the reporter independent
of how the client downloads (plain HTTP or Xet, in threads or not), and counts what a
previous, interrupted download already left there.
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable
from types import TracebackType
from typing import Any, TextIO

from livevoice.models.folder import format_bytes

LINE_EVERY_S = 10.0
"""Seconds between plain progress lines when the output is not a terminal."""
POLL_S = 0.25
"""Seconds between two measurements (and bar redraws)."""


def format_duration(seconds: float) -> str:
    """``54 s``, ``3 min 20 s``, ``1 h 05 min``."""
    seconds = max(0, round(seconds))
    if seconds < 60:
        return f"{seconds} s"
    minutes, secs = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes} min {secs:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"


def progress_line(label: str, done: int, total: int | None, rate_bps: float) -> str:
    """One plain progress line (no prefix): bytes done, of the total, percentage, rate, time left."""
    parts = [f"downloading {label}: {format_bytes(done)}"]
    if total:
        parts[0] += f" of {format_bytes(total)} ({100 * min(done, total) // total} %)"
    if rate_bps > 0:
        parts.append(f"{format_bytes(rate_bps)}/s")
        if total and total > done:
            parts.append(f"~{format_duration((total - done) / rate_bps)} left")
    return ", ".join(parts)


class DownloadProgress:
    """Reports a download's progress from a background thread while the ``with`` block runs.

    ``measure()`` returns the bytes of the download present on disk (including what an
    earlier attempt left); ``total_bytes`` is the full size when known. ``interactive``:
    draw a bar (default: when ``stream`` is a terminal); otherwise plain lines every
    ``line_every_s`` seconds, one at the start and one at the end.
    """

    def __init__(
        self,
        label: str,
        total_bytes: int | None,
        measure: Callable[[], int],
        stream: TextIO | None = None,
        *,
        interactive: bool | None = None,
        line_every_s: float = LINE_EVERY_S,
        poll_s: float = POLL_S,
    ) -> None:
        self.label = label
        self.total_bytes = total_bytes
        self.measure = measure
        self.stream = stream if stream is not None else sys.stderr
        if interactive is None:
            isatty = getattr(self.stream, "isatty", None)
            interactive = bool(isatty and isatty())
        self.interactive = interactive
        self.line_every_s = line_every_s
        self.poll_s = poll_s
        self.lines_written = 0
        """Plain lines written so far (not counting the bar)."""
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._bar: Any = None
        self._start_bytes = 0
        self._started_s = 0.0
        self._last_line_s = 0.0
        self._shown = 0

    def _measure(self) -> int:
        try:
            return max(0, int(self.measure()))
        except OSError:  # a file renamed between listing and stat: next time
            return self._shown

    def _line(self, text: str) -> None:
        print(f"livevoice: {text}", file=self.stream, flush=True)
        self.lines_written += 1

    def rate_bps(self, done: int, now_s: float) -> float:
        """Bytes per second received since the start (what was already on disk not counted)."""
        elapsed = now_s - self._started_s
        return (done - self._start_bytes) / elapsed if elapsed > 0 else 0.0

    def __enter__(self) -> DownloadProgress:
        self._started_s = self._last_line_s = time.monotonic()
        self._start_bytes = self._shown = self._measure()
        if self.interactive:
            from tqdm import tqdm

            self._bar = tqdm(
                total=self.total_bytes,
                initial=self._start_bytes,
                unit="B",
                unit_scale=True,
                unit_divisor=1000,
                desc=self.label,
                file=self.stream,
                dynamic_ncols=True,
            )
        else:
            text = f"downloading {self.label}"
            if self.total_bytes:
                text += f": {format_bytes(self.total_bytes)}"
            if self._start_bytes:
                text += f" ({format_bytes(self._start_bytes)} already here)"
            self._line(text)
        self._thread = threading.Thread(target=self._run, name="download-progress", daemon=True)
        self._thread.start()
        return self

    def _run(self) -> None:
        while not self._stop.wait(self.poll_s):
            self._report()

    def _report(self) -> None:
        done = self._measure()
        now = time.monotonic()
        if self._bar is not None:
            if done != self._shown:
                self._bar.update(done - self._shown)
        elif now - self._last_line_s >= self.line_every_s:
            self._line(progress_line(self.label, done, self.total_bytes, self.rate_bps(done, now)))
            self._last_line_s = now
        self._shown = done

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        if self._bar is not None:
            self._report()
            self._bar.close()
            self._bar = None
        if exc_type is None:
            elapsed = time.monotonic() - self._started_s
            self._shown = self._measure()
            received = self._shown - self._start_bytes
            self._line(
                f"downloaded {self.label}: {format_bytes(received)} in {format_duration(elapsed)}"
                + (f" ({format_bytes(self._shown)} in all)" if self._start_bytes else "")
            )


__all__ = ["LINE_EVERY_S", "DownloadProgress", "format_duration", "progress_line"]
