"""VAD: the pure state machine, and real silero on espeak-ng speech with silences."""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pytest

from livevoice.asr.vad import (
    FRAME_SAMPLES,
    SileroVad,
    SpeechAudio,
    SpeechBegins,
    SpeechDetector,
    SpeechEnds,
    VadSegmenter,
)
from livevoice.config import VadConfig
from livevoice.testing.speech import silence, speech

RATE = 16000


def decisions(probs: list[float], **kw: object) -> list[tuple[str, int, int]]:
    seg = VadSegmenter(VadConfig(**kw))  # type: ignore[arg-type]
    out = []
    for p in probs:
        d = seg.push(p)
        if d:
            out.append((d.kind, d.frame, d.decided_at))
    return out


def test_start_after_min_speech_end_after_min_silence() -> None:
    probs = [0.1] * 5 + [0.9] * 10 + [0.1] * 10
    # min_speech 96 ms = 3 frames; min_silence 250 ms = 8 frames
    assert decisions(probs) == [("start", 5, 7), ("end", 15, 22)]


def test_hysteresis_keeps_speech_through_middling_frames() -> None:
    probs = [0.9] * 5 + [0.4] * 20 + [0.1] * 8  # 0.4 is above threshold - 0.15
    assert decisions(probs) == [("start", 0, 2), ("end", 25, 32)]


def test_short_blips_and_short_pauses() -> None:
    blip = [0.9, 0.9] + [0.1] * 10
    assert decisions(blip) == []
    pause = [0.9] * 10 + [0.1] * 5 + [0.9] * 10 + [0.1] * 8
    assert decisions(pause) == [("start", 0, 2), ("end", 25, 32)]


def test_max_speech_forces_an_end_and_a_new_start() -> None:
    probs = [0.9] * 200
    got = decisions(probs, max_speech_s=2.0)  # 62 frames
    assert got[:3] == [("start", 0, 2), ("end", 62, 61), ("start", 62, 64)]


@pytest.fixture(scope="module")
def silero() -> SileroVad:
    return SileroVad()


def speech_bounds(samples: np.ndarray) -> tuple[int, int]:
    loud = np.flatnonzero(np.abs(samples) > 0.02)
    return int(loud[0]), int(loud[-1]) + 1


@pytest.mark.slow
def test_real_speech_with_silences_boundaries_within_tolerance(tmp_path: Path, silero: SileroVad) -> None:
    """Three sentences separated by 1.5 s and 0.8 s of silence -> three utterances.

    Tolerance: start within 100 ms of the first loud sample (silero decides per 32 ms
    frame and needs a few frames of evidence); end within 100 ms of the last loud
    sample (silence of min_silence_ms is needed to *decide*, but the end lies at the
    first silent frame). The pre-roll hands out audio from before the start.
    """
    parts = [
        silence(1.0),
        speech("Good morning everyone, welcome to the show.", tmp_path),
        silence(1.5),
        speech("Today we talk about trains.", tmp_path),
        silence(0.8),
        speech("Let us begin.", tmp_path),
        silence(1.0),
    ]
    expected = []
    pos = 0
    for part in parts:
        if part.any():
            a, b = speech_bounds(part)
            expected.append((pos + a, pos + b))
        pos += len(part)
    audio = np.concatenate(parts)
    silero.reset()
    detector = SpeechDetector(VadConfig(), silero)
    events = []
    for i in range(0, len(audio), 1000):  # odd chunk size: framing is the detector's job
        events.extend(detector.feed(audio[i : i + 1000]))
    events.extend(detector.flush())
    begins = [e for e in events if isinstance(e, SpeechBegins)]
    ends = [e for e in events if isinstance(e, SpeechEnds)]
    assert len(begins) == len(ends) == 3
    for (start, end), b, e in zip(expected, begins, ends, strict=True):
        assert abs(b.speech_start - start) <= 0.1 * RATE, (b.speech_start / RATE, start / RATE)
        assert abs(e.speech_end - end) <= 0.1 * RATE, (e.speech_end / RATE, end / RATE)
        assert b.audio_start == max(0, b.speech_start - 6 * FRAME_SAMPLES)  # 192 ms pre-roll
        # the utterance's audio is contiguous from audio_start to the end decision
        chunks = [x for x in events if isinstance(x, SpeechAudio) and x.utterance_id == b.utterance_id]
        assert chunks[0].position == b.audio_start
        for prev, nxt in itertools.pairwise(chunks):
            assert nxt.position == prev.position + len(prev.samples)
        joined = np.concatenate([c.samples for c in chunks])
        assert np.array_equal(joined, audio[b.audio_start : b.audio_start + len(joined)])
        assert b.audio_start + len(joined) == e.detected_at


@pytest.mark.slow
def test_streaming_probabilities_equal_faster_whispers_batched_call(
    tmp_path: Path, silero: SileroVad
) -> None:
    from faster_whisper.vad import SileroVADModel

    from livevoice.asr.vad import silero_model_path

    audio = np.concatenate([silence(0.5), speech("Testing one two three.", tmp_path), silence(0.5)])
    audio = audio[: len(audio) // FRAME_SAMPLES * FRAME_SAMPLES]
    batched = SileroVADModel(silero_model_path())(audio).reshape(-1)
    silero.reset()
    streamed = [silero(audio[i : i + FRAME_SAMPLES]) for i in range(0, len(audio), FRAME_SAMPLES)]
    assert np.allclose(streamed, batched, atol=1e-6)
    assert max(streamed) > 0.9 and streamed[0] < 0.1


@pytest.mark.slow
def test_skipped_audio_closes_the_utterance_and_keeps_positions(tmp_path: Path, silero: SileroVad) -> None:
    """Push-to-talk released mid-sentence: the utterance ends where the skip starts, and
    speech after the skip is found at its true stream position."""
    talk = speech("Hello there my friend.", tmp_path)
    first = np.concatenate([silence(0.5), talk[: len(talk) // 2]])
    skipped = np.concatenate([talk[len(talk) // 2 :], silence(1.0)])
    after = np.concatenate([silence(0.5), talk, silence(1.0)])
    silero.reset()
    detector = SpeechDetector(VadConfig(), silero)
    events = detector.feed(first)
    assert any(isinstance(e, SpeechBegins) for e in events)
    closed = detector.skip(skipped)
    assert len(closed) == 1 and isinstance(closed[0], SpeechEnds)
    assert abs(closed[0].speech_end - len(first)) < FRAME_SAMPLES
    events = detector.feed(after) + detector.flush()
    begin = next(e for e in events if isinstance(e, SpeechBegins))
    true_start = len(first) + len(skipped) + 0.5 * RATE + speech_bounds(talk)[0]
    assert abs(begin.speech_start - true_start) <= 0.1 * RATE
