"""The loop's counters turned into records: buffer overruns and underruns as they happen,
levels; and final transcripts printed on stdout.

The daemon's main loop polls :meth:`CounterReports.poll` about 20 times a second with the
pipeline's counters and levels. A watched counter that grew since the last poll gives one
record carrying its total; level meters go out every :attr:`CounterReports.level_interval_s`.
A pipeline rebuilt after a device change starts its counters at zero again: a total
smaller than the last one seen starts that counter's reporting over.
"""

from __future__ import annotations

import json
from collections.abc import Mapping

from livevoice.frames import BufferOverrun, BufferUnderrun, LevelMeters, TranscriptFinal

WATCHED: tuple[tuple[str, str, type[BufferOverrun] | type[BufferUnderrun]], ...] = (
    ("outputUnderruns", "output", BufferUnderrun),
    ("captureOverruns", "capture", BufferOverrun),
    ("outputOverrunSamples", "output", BufferOverrun),
    ("phraseDrops", "phrases", BufferOverrun),
    ("vadQueueDrops", "vad", BufferOverrun),
)
"""(counter, buffer it is about, record reported when it grows)."""
LEVEL_INTERVAL_S = 0.05
"""Level meters about 20 times a second."""


class CounterReports:
    """Remembers what was reported; one poller (the daemon's main loop)."""

    def __init__(self, level_interval_s: float = LEVEL_INTERVAL_S) -> None:
        self.level_interval_s = level_interval_s
        self._reported: dict[str, int] = {}
        self._levels_at_s: float | None = None

    def poll(
        self, counters: Mapping[str, int], levels: LevelMeters, now_s: float
    ) -> list[BufferOverrun | BufferUnderrun | LevelMeters]:
        """Records for the counters that grew, and the levels when they are due."""
        records: list[BufferOverrun | BufferUnderrun | LevelMeters] = []
        for key, buffer, record in WATCHED:
            value = counters.get(key, 0)
            previous = self._reported.get(key, 0)
            if value < previous:  # a new pipeline counts from zero
                previous = 0
            if value > previous:
                records.append(record(buffer, value))
            self._reported[key] = value
        if self._levels_at_s is None or now_s - self._levels_at_s >= self.level_interval_s:
            self._levels_at_s = now_s
            records.append(levels)
        return records


def print_transcript(record: TranscriptFinal, *, json_lines: bool) -> None:
    """A final transcript on stdout: ``[  12.34] text``, or a JSON line for tools (``run --json``)."""
    if json_lines:
        line = {"type": "TranscriptFinal", "utteranceId": record.utterance_id, "text": record.text}
        print(json.dumps(line), flush=True)
    else:
        print(f"[{record.start_s:7.2f}] {record.text}", flush=True)


__all__ = ["LEVEL_INTERVAL_S", "WATCHED", "CounterReports", "print_transcript"]
