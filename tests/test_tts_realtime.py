"""The real-time factor of recent phrases and the one-time "cannot keep up" warning."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from livevoice.audio.budget import plan_buffers
from livevoice.audio.output import AudioOutput
from livevoice.frames import Phrase, RealTimeWarning
from livevoice.latency import LatencyTracker
from livevoice.tts.realtime import MIN_AUDIO_S, RealTimeMonitor, slow_machine_message
from livevoice.tts.worker import TtsWorker


def test_the_factor_is_compute_over_audio_of_the_recent_phrases() -> None:
    monitor = RealTimeMonitor(window_s=10.0)
    assert monitor.factor == 0.0
    monitor.add(1.0, 4.0)
    monitor.add(2.0, 4.0)
    assert monitor.factor == pytest.approx(3.0 / 8.0)
    monitor.add(8.0, 4.0)  # the newest two (8 s) do not fill the 10 s window: all three count
    assert monitor.factor == pytest.approx(11.0 / 12.0)
    monitor.add(3.0, 8.0)  # the newest two fill it (12 s): the oldest two leave
    assert monitor.factor == pytest.approx(11.0 / 12.0)
    monitor.add(0.5, 30.0)  # one long phrase alone fills the window
    assert monitor.factor == pytest.approx(0.5 / 30.0)


def test_it_warns_once_above_the_threshold_and_not_before_enough_speech() -> None:
    monitor = RealTimeMonitor(0.9)
    assert monitor.add(5.0, 1.0) is None  # slow, but only 1 s of speech so far
    assert monitor.add(0.5, MIN_AUDIO_S) == pytest.approx(5.5 / (1.0 + MIN_AUDIO_S))
    assert monitor.warned
    assert monitor.add(50.0, 1.0) is None  # once
    fast = RealTimeMonitor(0.9)
    assert [fast.add(0.1, 1.0) for _ in range(10)] == [None] * 10 and not fast.warned
    never = RealTimeMonitor(0.0)
    assert never.add(100.0, 10.0) is None
    assert RealTimeMonitor().add(1.0, 0.0) is None  # a phrase with no audio (cancelled at once)


def test_the_message_says_what_and_why_in_one_line() -> None:
    message = slow_machine_message(1.84)
    assert "\n" not in message and "1.84 s" in message and "real time" in message


@pytest.mark.slow
def test_the_worker_reports_the_real_engines_factor_and_warns_once(tiny_qwen_dir: Path) -> None:
    from livevoice.tts.loading import load_qwen3_engine

    engine = load_qwen3_engine(str(tiny_qwen_dir), torch_threads=1, seed=1, sampling={"max_new_tokens": 30})
    reports: list[Any] = []
    # A threshold this machine is sure to exceed (the tiny model needs some compute per second).
    monitor = RealTimeMonitor(1e-6)
    voice = np.random.default_rng(0).normal(0, 1, engine.embedding_dim).astype(np.float32)
    output = AudioOutput(plan_buffers(3000, 48000), None, None)
    worker = TtsWorker(engine, output, lambda: voice, LatencyTracker(), reports.append, realtime=monitor)
    worker.start()
    try:
        for n in range(3):  # 30 frames = 2.4 s each: the second phrase passes the 3 s minimum
            assert worker.submit(Phrase(n + 1, 0, "Hello there, this is a test.", True, time.monotonic_ns()))
            deadline = time.monotonic() + 60
            while worker.phrases_spoken + worker.errors < n + 1:
                assert time.monotonic() < deadline
                output.clear()  # nothing plays these samples: make room for the next ones
                time.sleep(0.01)
    finally:
        worker.stop()
    assert worker.errors == 0
    warnings = [r for r in reports if isinstance(r, RealTimeWarning)]
    assert len(warnings) == 1
    assert warnings[0].real_time_factor > 0 and "cannot speak in real time" in warnings[0].message
    assert 0 < monitor.factor < 5  # a real figure: compute per second of speech on this CPU
