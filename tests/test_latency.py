"""Latency accounting as pure code."""

from __future__ import annotations

import pytest

from livevoice.frames import LatencyStamps
from livevoice.latency import LatencyTracker

MS = 1_000_000


def test_an_utterance_completes_when_first_sample_out_and_speech_end_are_known() -> None:
    done: list[LatencyStamps] = []
    tracker = LatencyTracker(done.append)
    assert tracker.stamp(1, "speech_start", 1000 * MS) is None
    tracker.stamp(1, "text_ready", 2500 * MS)  # a first phrase before the end of speech
    tracker.stamp(1, "tts_start", 2510 * MS)
    tracker.stamp(1, "tts_first_audio", 2600 * MS)
    tracker.stamp(1, "tts_first_audio", 9999 * MS)  # the first stamp of a stage wins
    assert tracker.stamp(1, "first_sample_out", 2650 * MS) is None  # speech still going on
    stamps = tracker.stamp(1, "speech_end", 3000 * MS)
    assert stamps is not None and done == [stamps]
    assert stamps.tts_first_packet_ms == pytest.approx(90)
    assert stamps.output_first_packet_ms == pytest.approx(150)
    assert stamps.mouth_to_ear_ms == pytest.approx(-350)  # it spoke before the speaker finished
    assert tracker.snapshot() == {
        "tts_first_packet_ms": [pytest.approx(90)],
        "output_first_packet_ms": [pytest.approx(150)],
        "mouth_to_ear_ms": [pytest.approx(-350)],
    }
    assert tracker.completed == 1


def test_typed_text_completes_without_speech_stamps() -> None:
    tracker = LatencyTracker()
    tracker.begin_typed(7)
    tracker.stamp(7, "text_ready", 0 + 1)
    stamps = tracker.stamp(7, "first_sample_out", 200 * MS)
    assert stamps is not None and stamps.mouth_to_ear_ms is None
    assert tracker.snapshot()["mouth_to_ear_ms"] == []


def test_open_utterances_are_bounded_and_abandoned_ones_counted() -> None:
    tracker = LatencyTracker(max_open=4)
    for uid in range(10):
        tracker.stamp(uid, "speech_start", uid + 1)
    assert tracker.abandoned == 6
    tracker.abandon(9)
    tracker.abandon(9)
    assert tracker.abandoned == 7
    with pytest.raises(ValueError, match="unknown latency stage"):
        tracker.stamp(1, "tts_end", 1)


def test_stamps_compute_none_for_missing_stages() -> None:
    stamps = LatencyStamps(1, speech_end=5)
    assert stamps.tts_first_packet_ms is None and stamps.output_first_packet_ms is None
