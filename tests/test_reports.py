"""The loop's counters as records: a watched counter that grows is reported with its total,
once per growth; levels go out at their interval."""

from __future__ import annotations

from livevoice.frames import BufferOverrun, BufferUnderrun, LevelMeters
from livevoice.reports import WATCHED, CounterReports

SILENT = LevelMeters(0.0, 0.0, 0.0, 0.0)


def counts(records: list[object]) -> list[object]:
    return [r for r in records if not isinstance(r, LevelMeters)]


def test_growth_is_reported_with_the_total() -> None:
    reports = CounterReports(level_interval_s=1.0)
    assert counts(reports.poll({"outputUnderruns": 0, "phraseDrops": 0}, SILENT, 0.0)) == []
    grown = {"outputUnderruns": 2, "phraseDrops": 1, "captureOverruns": 0}
    assert counts(reports.poll(grown, SILENT, 0.1)) == [
        BufferUnderrun("output", 2),
        BufferOverrun("phrases", 1),
    ]
    assert counts(reports.poll(grown, SILENT, 0.2)) == []  # no growth, nothing new
    grown = {**grown, "captureOverruns": 1, "vadQueueDrops": 4, "outputOverrunSamples": 480}
    assert counts(reports.poll(grown, SILENT, 0.3)) == [
        BufferOverrun("capture", 1),
        BufferOverrun("output", 480),
        BufferOverrun("vad", 4),
    ]


def test_a_rebuilt_pipeline_counting_from_zero_is_reported_again() -> None:
    reports = CounterReports()
    reports.poll({"phraseDrops": 5}, SILENT, 0.0)
    assert counts(reports.poll({"phraseDrops": 0}, SILENT, 0.1)) == []  # the new pipeline
    assert counts(reports.poll({"phraseDrops": 2}, SILENT, 0.2)) == [BufferOverrun("phrases", 2)]


def test_unwatched_counters_are_not_reported() -> None:
    reports = CounterReports()
    watched = {key for key, _, _ in WATCHED}
    assert "ttsErrors" not in watched and "asrDecodes" not in watched
    assert counts(reports.poll({"ttsErrors": 3, "asrDecodes": 10}, SILENT, 0.0)) == []


def test_levels_at_their_interval() -> None:
    reports = CounterReports(level_interval_s=0.05)
    loud = LevelMeters(0.5, 0.1, 0.0, 0.0)
    sent = [t for t in (0.0, 0.02, 0.04, 0.05, 0.06, 0.11) if reports.poll({}, loud, t) == [loud]]
    assert sent == [0.0, 0.05, 0.11]
