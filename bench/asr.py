"""ASR benchmark: word-commit latency, WER and decode cost against buffer length.

Word-commit latency is measured as it would happen live on this machine: the audio is
released at real-time pace (wall clock), the incremental transcriber decodes whenever
it is ready, and audio keeps arriving while it computes. For each committed word:
latency = (wall time of the commit) - (audio time at which the word ends). The final
latency is (text ready) - (VAD end of speech). Speech is espeak-ng, several voices.

    python bench/asr.py [--voices en-us,en-us+f3] [--beam 5] [--step-ms 500]
"""

from __future__ import annotations

import argparse
import platform
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path

import jiwer
import numpy as np

from livevoice.asr.incremental import IncrementalTranscriber, max_new_tokens_for
from livevoice.asr.vad import SAMPLE_RATE, SileroVad, SpeechDetector
from livevoice.asr.whisper import WhisperRecognizer
from livevoice.config import AsrConfig, Config
from livevoice.frames import SpeechEnded, TranscriptFinal, WordsCommitted
from livevoice.testing.speech import silence, speech

SENTENCES = [
    "The weather is nice today, so we will go for a walk in the park.",
    "Please send me the report before the meeting on Friday.",
    "My favourite colour is blue and my brother likes green.",
    "Turn left at the next corner and stop at the red house.",
    "We need more players for the game tonight, so tell your friends to join us after dinner.",
    "Can you hear me clearly through the microphone?",
]


def normalize(text: str) -> str:
    text = text.lower().replace("favorite", "favourite").replace("color", "colour")
    return " ".join(re.sub(r"[^a-z0-9' ]", " ", text).split())


def pct(values: list[float], q: float) -> float:
    return float(np.percentile(values, q)) if values else float("nan")


def live_run(audio: np.ndarray, config: Config, recognizer: WhisperRecognizer) -> dict[str, object]:
    """Release ``audio`` at real-time pace and transcribe it as the live loop does."""
    detector = SpeechDetector(config.vad, SileroVad())
    t0 = time.perf_counter()

    def now_ns() -> int:
        return int((time.perf_counter() - t0) * 1e9)

    transcriber = IncrementalTranscriber(recognizer, config.asr, clock=now_ns)
    commit_latency: list[float] = []
    final_latency: list[float] = []
    finals: list[str] = []
    max_buffer_s = 0.0
    fed = 0
    ended_at: dict[int, float] = {}

    def take(events: list[object]) -> None:
        for e in events:
            if isinstance(e, WordsCommitted):
                t = e.t_commit_ns / 1e9
                commit_latency.extend(t - w.end_s for w in e.words)
            elif isinstance(e, SpeechEnded):
                ended_at[e.utterance_id] = e.stream_time_s
            elif isinstance(e, TranscriptFinal):
                finals.append(e.text)
                final_latency.append(e.t_text_ready_ns / 1e9 - ended_at[e.utterance_id])

    while fed < len(audio):
        available = min(len(audio), int((time.perf_counter() - t0) * SAMPLE_RATE))
        if available - fed < 512 and available < len(audio):
            time.sleep(0.01)
            continue
        for event in detector.feed(audio[fed:available]):
            take(transcriber.handle(event))  # type: ignore[arg-type]
        fed = available
        if transcriber.should_decode(detector.trailing_silence_ms):
            max_buffer_s = max(max_buffer_s, transcriber.buffer_seconds)
            take(transcriber.decode())  # type: ignore[arg-type]
    for event in detector.flush():
        take(transcriber.handle(event))  # type: ignore[arg-type]
    return {
        "commit": commit_latency,
        "final": final_latency,
        "finals": finals,
        "decodes": transcriber.decode_count,
        "max_buffer_s": max_buffer_s,
        "wall_s": time.perf_counter() - t0,
    }


def decode_cost(
    recognizer: WhisperRecognizer, audio: np.ndarray, lengths: list[float]
) -> list[tuple[float, float]]:
    rows = []
    for seconds in lengths:
        clip = audio[: int(seconds * SAMPLE_RATE)]
        recognizer.transcribe(clip, prompt=None, max_new_tokens=max_new_tokens_for(seconds))
        times = []
        for _ in range(3):
            t = time.perf_counter()
            recognizer.transcribe(clip, prompt=None, max_new_tokens=max_new_tokens_for(seconds))
            times.append(time.perf_counter() - t)
        rows.append((seconds, statistics.median(times) * 1000))
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--voices", default="en-us,en-us+f3")
    parser.add_argument("--beam", type=int, default=AsrConfig().beam_size)
    parser.add_argument("--step-ms", type=int, default=AsrConfig().step_ms)
    parser.add_argument("--threads", type=int, default=AsrConfig().cpu_threads)
    args = parser.parse_args()

    config = Config(asr=AsrConfig(beam_size=args.beam, step_ms=args.step_ms, cpu_threads=args.threads))
    recognizer = WhisperRecognizer(config.asr)
    print(
        f"# ASR benchmark: tiny.en (embedded), beam {args.beam}, step {args.step_ms} ms, "
        f"{args.threads} thread(s)"
    )
    print(f"machine: {platform.machine()}, {platform.processor() or 'cpu'}, Python {sys.version.split()[0]}")
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        all_commit: list[float] = []
        all_final: list[float] = []
        print(
            "\n| voice | audio s | WER | commit p50 | commit p95 | final p50 | final p95 "
            "| decodes | max buffer |"
        )
        print("|---|---|---|---|---|---|---|---|---|")
        for voice in args.voices.split(","):
            parts = [silence(0.5)]
            for sentence in SENTENCES:
                parts += [speech(sentence, folder, voice=voice), silence(1.0)]
            audio = np.concatenate(parts)
            result = live_run(audio, config, recognizer)
            commit = result["commit"]
            final = result["final"]
            assert isinstance(commit, list) and isinstance(final, list)
            finals = result["finals"]
            assert isinstance(finals, list)
            error = jiwer.wer(normalize(" ".join(SENTENCES)), normalize(" ".join(finals)))
            all_commit += commit
            all_final += final
            print(
                f"| {voice} | {len(audio) / SAMPLE_RATE:.1f} | {100 * error:.1f} % | {pct(commit, 50):.2f} s "
                f"| {pct(commit, 95):.2f} s | {pct(final, 50):.2f} s | {pct(final, 95):.2f} s "
                f"| {result['decodes']} | {result['max_buffer_s']:.1f} s |"
            )
        print(
            f"\nall voices: word commit p50 {pct(all_commit, 50):.2f} s, p95 {pct(all_commit, 95):.2f} s; "
            f"final text after end of speech p50 {pct(all_final, 50):.2f} s, p95 {pct(all_final, 95):.2f} s"
        )
        long_audio = np.concatenate([speech(" ".join(SENTENCES), folder), silence(1.0)])
        print("\n| buffer s | decode ms (median of 3) |")
        print("|---|---|")
        for seconds, ms in decode_cost(recognizer, long_audio, [1, 2, 4, 8, 12, 16]):
            print(f"| {seconds:.0f} | {ms:.0f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
