"""ASR benchmark: word-commit lag, sentence-end lag and WER with a real-time feed.

The audio is released at real-time pace (wall clock) and transcribed as the live loop
does: the incremental transcriber decodes whenever it is ready, and audio keeps arriving
while it computes, so decode cost counts (file mode's clock is audio time; this one is
not). Speech is espeak-ng: per voice, clips of five sentences with 1 s pauses.

Figures:
- word commit lag: wall time of a word's commit - audio time at which Whisper says it ends;
- sentence end -> last word: wall time the utterance's final text is ready (its last word
  committed) - the audio time the sentence really ends (from the samples, not the VAD);
- WER of the final texts against the sentences.

Two sentence sets of 30, 10 per voice: ``dev`` (the one settings were tuned on) and
``holdout`` (never tuned on: the figures to report).

    python bench/asr.py [--set holdout] [--voices en-us,en-gb,en-us+f3] [--step-ms N] ...
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import platform
import re
import statistics
import sys
import tempfile
import time
from datetime import date
from pathlib import Path
from typing import Any

import jiwer
import numpy as np

from livevoice.asr.incremental import IncrementalTranscriber, max_new_tokens_for
from livevoice.asr.vad import SAMPLE_RATE, SileroVad, SpeechDetector
from livevoice.asr.whisper import WhisperRecognizer
from livevoice.config import AsrConfig, Config, VadConfig
from livevoice.frames import SpeechEnded, TranscriptFinal, WordsCommitted
from livevoice.testing.speech import silence, speech

DEV = [
    "The weather is nice today, so we will go for a walk in the park.",
    "Please send me the report before the meeting on Friday.",
    "My favourite colour is blue and my brother likes green.",
    "Turn left at the next corner and stop at the red house.",
    "We need more players for the game tonight, so tell your friends to join us after dinner.",
    "Can you hear me clearly through the microphone?",
    "The update takes a few minutes, so please keep the computer switched on.",
    "At dawn a pilot checked the engines before the long flight to the north.",
    "I left my keys on the kitchen table this morning.",
    "Our team won the match after a very close second half.",
    "The garden looks lovely after the rain last night.",
    "Mix the flour and the eggs before you add the milk.",
    "The bus was late again, so I walked to work.",
    "We should paint the kitchen a lighter shade of yellow.",
    "The old clock in the hall stopped at midnight.",
    "A group of students visited the castle on Tuesday.",
    "Please switch off the lights when you leave the room.",
    "The river was too deep to cross without a boat.",
    "My grandmother makes the best apple pie in town.",
    "The lecture was long, but the questions were interesting.",
    "He keeps his bicycle in the shed behind the house.",
    "The ticket office opens at nine in the morning.",
    "Fresh snow covered the mountains during the night.",
    "The waiter brought us the menu and a jug of water.",
    "She answered the phone on the third ring.",
    "The storm knocked down two trees on our street.",
    "I need to buy new shoes before the wedding.",
    "The band played our favourite song at the end.",
    "Most of the shops in the centre close at six.",
    "The kitten was hiding under the sofa all afternoon.",
]

HOLDOUT = [
    # en-us
    "Every morning the baker opens his shop at six o'clock.",
    "The train to the city leaves from platform four.",
    "She painted the fence white before the summer party.",
    "Could you bring two bottles of water from the fridge?",
    "The museum is closed on Mondays and public holidays.",
    "My sister is learning to play the piano this year.",
    "The children built a small boat out of old wood.",
    "Remember to water the plants while I am away.",
    "The new bridge will open to traffic next spring.",
    "He forgot his umbrella and got wet on the way home.",
    # en-gb
    "The library has a quiet room for reading on the top floor.",
    "We watched the sunset from the top of the hill.",
    "Put the books back on the shelf when you are done.",
    "The doctor said I should drink more water every day.",
    "A large dog was sleeping in front of the door.",
    "They moved to a small village near the sea last year.",
    "The shop sells fresh bread, cheese and fruit.",
    "Please close the window, it is getting cold in here.",
    "The concert starts at eight, so we should leave soon.",
    "Our neighbours are planting apple trees in their garden.",
    # en-us+f3
    "The printer on the second floor is out of paper again.",
    "I would like a cup of tea with milk and no sugar.",
    "The farmer sold his potatoes at the market on Saturday.",
    "We have to finish the project before the end of the month.",
    "The cat jumped onto the roof and would not come down.",
    "My phone battery died in the middle of the call.",
    "The teacher asked the students to write a short story.",
    "There is a good Italian restaurant around the corner.",
    "The wind was so strong that the tent blew away.",
    "Let me know when you arrive at the station.",
]

VOICES = ("en-us", "en-gb", "en-us+f3")


NUMBERS = ["zero", "one", "two", "three", "four", "five", "six"]
NUMBERS += ["seven", "eight", "nine", "ten", "eleven", "twelve"]
SPELLING = {"favorite": "favourite", "color": "colour", "neighbors": "neighbours", "center": "centre"}


def normalize(text: str) -> str:
    """Lower case, no punctuation, British spelling, numbers up to twelve as words."""
    words = re.sub(r"[^a-z0-9 ]", " ", text.lower().replace("'", "")).split()
    words = [NUMBERS[int(w)] if w.isdigit() and int(w) < len(NUMBERS) else w for w in words]
    words = [SPELLING.get(w, w) for w in words]
    return " ".join(words).replace("o clock", "oclock")


def pct(values: list[float], q: float) -> float:
    return float(np.percentile(values, q)) if values else float("nan")


@dataclasses.dataclass
class Clip:
    """Sentences spoken one after the other with pauses, and where each one really ends."""

    audio: np.ndarray
    sentences: list[str]
    ends_s: list[float]


def make_clip(sentences: list[str], voice: str, folder: Path, pause_s: float = 1.0) -> Clip:
    parts = [silence(0.5)]
    ends: list[float] = []
    position = len(parts[0])
    for sentence in sentences:
        spoken = speech(sentence, folder, voice=voice)
        loud = np.flatnonzero(np.abs(spoken) > 0.01)
        ends.append((position + (int(loud[-1]) + 1 if loud.size else len(spoken))) / SAMPLE_RATE)
        parts += [spoken, silence(pause_s)]
        position += len(spoken) + int(pause_s * SAMPLE_RATE)
    return Clip(np.concatenate(parts), sentences, ends)


@dataclasses.dataclass
class RunResult:
    commit_lag: list[float]
    sentence_lag: list[float]
    finals: list[str]
    decodes: int
    decode_ms: list[float]
    wall_s: float


class TimedRecognizer:
    """The real recognizer, timing each decode."""

    def __init__(self, inner: WhisperRecognizer) -> None:
        self.inner = inner
        self.costs_ms: list[float] = []

    def transcribe(self, audio: np.ndarray, *, prompt: str | None, max_new_tokens: int) -> list[Any]:
        started = time.perf_counter()
        words = self.inner.transcribe(audio, prompt=prompt, max_new_tokens=max_new_tokens)
        self.costs_ms.append((time.perf_counter() - started) * 1000)
        return words


def live_run(clip: Clip, config: Config, recognizer: WhisperRecognizer) -> RunResult:
    """Release the clip at real-time pace and transcribe it as the live ASR thread does."""
    detector = SpeechDetector(config.vad, SileroVad())
    t0 = time.perf_counter()

    def now_ns() -> int:
        return int((time.perf_counter() - t0) * 1e9)

    timed = TimedRecognizer(recognizer)
    try:
        transcriber = IncrementalTranscriber(
            timed, config.asr, clock=now_ns, end_silence_ms=config.vad.min_silence_ms
        )
    except TypeError:  # the transcriber before issue 10, for the "before" figures
        transcriber = IncrementalTranscriber(timed, config.asr, clock=now_ns)
    result = RunResult([], [], [], 0, timed.costs_ms, 0.0)
    vad_end: dict[int, float] = {}

    def take(events: list[Any]) -> None:
        for e in events:
            if isinstance(e, WordsCommitted):
                t = e.t_commit_ns / 1e9
                result.commit_lag.extend(t - w.end_s for w in e.words)
            elif isinstance(e, SpeechEnded):
                vad_end[e.utterance_id] = e.stream_time_s
            elif isinstance(e, TranscriptFinal):
                result.finals.append(e.text)
                end = vad_end[e.utterance_id]
                true_end = min(clip.ends_s, key=lambda s: abs(s - end))
                result.sentence_lag.append(e.t_text_ready_ns / 1e9 - true_end)

    audio = clip.audio
    fed = 0
    while fed < len(audio):
        available = min(len(audio), int((time.perf_counter() - t0) * SAMPLE_RATE))
        if available - fed < 512 and available < len(audio):
            time.sleep(0.005)
            continue
        for event in detector.feed(audio[fed:available]):
            take(transcriber.handle(event))
        fed = available
        if transcriber.should_decode(detector.trailing_silence_ms):
            take(transcriber.decode())
    for event in detector.flush():
        take(transcriber.handle(event))
    result.decodes = transcriber.decode_count
    result.wall_s = time.perf_counter() - t0
    return result


def decode_cost(
    recognizer: WhisperRecognizer, audio: np.ndarray, lengths: list[float], paddings: list[int]
) -> list[list[float]]:
    rows = []
    base = recognizer.config
    for seconds in lengths:
        clip = audio[: int(seconds * SAMPLE_RATE)]
        row = [seconds]
        for padding in paddings:
            recognizer.config = dataclasses.replace(base, encoder_padding_ms=padding)
            recognizer.transcribe(clip, prompt=None, max_new_tokens=max_new_tokens_for(seconds))
            times = []
            for _ in range(3):
                t = time.perf_counter()
                recognizer.transcribe(clip, prompt=None, max_new_tokens=max_new_tokens_for(seconds))
                times.append(time.perf_counter() - t)
            row.append(statistics.median(times) * 1000)
        rows.append(row)
    recognizer.config = base
    return rows


def asr_config(args: argparse.Namespace) -> AsrConfig:
    """Defaults, with the keys given on the command line (those the AsrConfig knows)."""
    known = {f.name for f in dataclasses.fields(AsrConfig)}
    overrides = {k: v for k, v in vars(args).items() if k in known and v is not None}
    return AsrConfig(**overrides)


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--set", choices=("dev", "holdout"), default="holdout")
    parser.add_argument("--voices", default=",".join(VOICES))
    parser.add_argument("--clips-per-voice", type=int, default=2, help="5 sentences each")
    for field in dataclasses.fields(AsrConfig):
        if field.type in ("int", int) and field.name != "cpu_threads":
            parser.add_argument("--" + field.name.replace("_", "-"), type=int)
        elif field.type in ("float", float):
            parser.add_argument("--" + field.name.replace("_", "-"), type=float)
    parser.add_argument("--cpu-threads", type=int)
    parser.add_argument("--model", help="[asr] model: a faster-whisper model name or folder")
    parser.add_argument("--vad-min-silence-ms", type=int, help="[vad] min_silence_ms")
    parser.add_argument("--device")
    parser.add_argument("--no-cost-table", action="store_true")
    args = parser.parse_args()

    vad = VadConfig()
    if args.vad_min_silence_ms is not None:
        vad = dataclasses.replace(vad, min_silence_ms=args.vad_min_silence_ms)
    config = Config(asr=asr_config(args), vad=vad)
    recognizer = WhisperRecognizer(config.asr)
    sentences = DEV if args.set == "dev" else HOLDOUT
    voices = args.voices.split(",")
    print(f"# ASR benchmark ({args.set} set), {date.today()}")
    print(f"machine: {platform.machine()}, {os.cpu_count()} CPUs, Python {sys.version.split()[0]}")
    device = getattr(recognizer, "device_in_use", config.asr.device)
    print(f"recogniser: {config.asr.model} on {device} ({getattr(recognizer, 'compute_type_in_use', '')})")
    print(f"[asr] {dataclasses.asdict(config.asr)}")
    print(f"[vad] {dataclasses.asdict(config.vad)}")
    print(f"load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    per_voice = len(sentences) // len(VOICES)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        totals = RunResult([], [], [], 0, [], 0.0)
        refs: list[str] = []
        print(
            "\n| voice | clip | WER | word lag p50 | p95 | sentence end -> last word p50 | p95 "
            "| decodes | decode ms p50 | load |"
        )
        print("|---|---|---|---|---|---|---|---|---|---|")
        for v, voice in enumerate(voices):
            own = sentences[v * per_voice : (v + 1) * per_voice]
            for c in range(args.clips_per_voice):
                chunk = own[c * 5 : (c + 1) * 5]
                if not chunk:
                    break
                clip = make_clip(chunk, voice, folder)
                result = live_run(clip, config, recognizer)
                error = jiwer.wer(normalize(" ".join(chunk)), normalize(" ".join(result.finals)))
                refs += chunk
                totals.finals += result.finals
                totals.commit_lag += result.commit_lag
                totals.sentence_lag += result.sentence_lag
                totals.decodes += result.decodes
                totals.decode_ms += result.decode_ms
                print(
                    f"| {voice} | {c + 1} | {100 * error:.1f} % | {pct(result.commit_lag, 50):.2f} s "
                    f"| {pct(result.commit_lag, 95):.2f} s | {pct(result.sentence_lag, 50):.2f} s "
                    f"| {pct(result.sentence_lag, 95):.2f} s | {result.decodes} "
                    f"| {pct(result.decode_ms, 50):.0f} | {os.getloadavg()[0]:.2f} |",
                    flush=True,
                )
                if error > 0:
                    print(f"  heard: {' / '.join(result.finals)}")
        total_wer = jiwer.wer(normalize(" ".join(refs)), normalize(" ".join(totals.finals)))
        print(
            f"\nall: WER {100 * total_wer:.1f} %; word commit lag p50 {pct(totals.commit_lag, 50):.2f} s, "
            f"p95 {pct(totals.commit_lag, 95):.2f} s; sentence end -> last word committed "
            f"p50 {pct(totals.sentence_lag, 50):.2f} s, p95 {pct(totals.sentence_lag, 95):.2f} s; "
            f"{totals.decodes} decodes, decode p50 {pct(totals.decode_ms, 50):.0f} ms, "
            f"p95 {pct(totals.decode_ms, 95):.0f} ms"
        )
        print(f"load average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
        if args.no_cost_table:
            return 0
        long_audio = np.concatenate([speech(" ".join(DEV), folder), silence(1.0)])
        paddings = sorted({getattr(config.asr, "encoder_padding_ms", 30_000), 30_000})
        print("\n| buffer s | " + " | ".join(f"decode ms, padding {p} ms" for p in paddings) + " |")
        print("|---|" + "---|" * len(paddings))
        for row in decode_cost(recognizer, long_audio, [1, 2, 4, 8, 12], paddings):
            print(f"| {row[0]:.0f} | " + " | ".join(f"{ms:.0f}" for ms in row[1:]) + " |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
