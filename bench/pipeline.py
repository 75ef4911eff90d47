"""Pipeline benchmark on a real PipeWire server: what livevoice adds on top of the models.

Runs the daemon in this process (embedded tiny.en + the tiny random-weight Qwen3 model,
or ``--model`` for real weights) against a private PipeWire server with a virtual mic
(started here unless one is already running, see scripts/audio-rig.sh), drives it over
its real websocket, and reads the UtteranceLatency events:

- TTS first packet = tts_first_audio - tts_start (model compute: not livevoice's);
- queue wait = tts_start - text_ready (the phrase waiting for the TTS thread);
- output path = first_sample_out - tts_first_audio (resampling, output ring, device);
- added by livevoice = queue wait + output path = output first packet - TTS first packet;
- output first packet = first_sample_out - text_ready (the budgeted figure).

Typed phrases (Speak) measure the back half alone; spoken sentences (espeak-ng into the
test microphone) measure the whole loop, including mouth-to-ear.

Then ``[text] segment_on`` "clause" against "stream" (issue 10), mouth to ear per word:
the same sentences, each played once in each mode (the order alternating), and per
utterance:

- spoken word -> its first sample out: when the word's first sample left the output ring
  (the playback callback's clock) - when the speaker finished saying it (the audio time
  Whisper puts the word's end at, on the capture clock);
- end of speech -> last sample out: the utterance's last sample - its last speech sample;
- silence inside phrases: time a phrase's audio stopped between two of its chunks (a
  streamed phrase waiting for the words it has not heard yet; underruns too).

Where a word's first sample is: the TTS reports each chunk it queued (frames, ring
position, the text of its stream); a word starting at character ``c`` of a stream's text of
``L`` characters spoken in ``F`` codec frames starts at frame ``floor(c * F / L)``: speech
as evenly paced through the text (an approximation: a model says some words faster than
others). For the comparison the tiny random-weight model runs greedy and paced
(``paced_frames_per_char``: a phrase lasts as long as its text takes to say, at the pace
of the espeak-ng speech; left alone it ends phrases anywhere, or runs to its 2048-frame
cap), so both modes speak the same codes and differ only in when.

The model reads one text token per codec frame and, while a streamed phrase is open, can
speak only as far as the tokens it has read. ``--tokens bytes`` (the test model's own
tokenizer: a token per character) reads text at about the pace it is spoken; ``--tokens
words`` gives every word of the sentences a token, as the released models' tokenizer does
for common words: the text then runs far ahead of the speech, as with real weights, and a
streamed phrase must wait for words more often.

    python bench/pipeline.py [--typed 20] [--spoken 4] [--rounds 1] [--tokens bytes|words]
                             [--model DIR_OR_HUB_ID]
"""

from __future__ import annotations

import argparse
import asyncio
import bisect
import dataclasses
import itertools
import os
import platform
import re
import subprocess
import sys
import tempfile
import threading
import time
from collections import defaultdict
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
PHRASES = [
    "Hello everyone.",
    "Thanks for joining the stream tonight.",
    "Let me know in the chat what you think of this build.",
    "We will take a short break after this round.",
]
SENTENCES = ["Good evening and welcome to the stream.", "Tonight we are playing a racing game."]
COMPARED = [
    "Good evening and welcome to the stream, tonight we are playing a racing game.",
    "I wanted to tell you about the new update that came out this morning.",
    "If you like what you see, please follow the channel and leave a comment below.",
    "The first race starts in a few minutes, so grab a drink and get comfortable.",
    "We tried three different cars yesterday and the blue one was by far the fastest.",
    "Thanks for all the messages in the chat, they really make my day.",
    "Let me know which track you want to see next and I will add it to the list.",
    "After the break we will try the hardest level in the whole game.",
]
"""Sentences for clause vs stream: streamer talk, clauses of 3 to 15 words."""
MODES = ("clause", "stream")


def ensure_rig(folder: Path) -> Path | None:
    """Start a private audio server unless one is already set up; returns the rig to stop."""
    if os.environ.get("LIVEVOICE_TEST_RIG"):
        return None
    rig = folder / "rig"
    subprocess.run([str(ROOT / "scripts" / "audio-rig.sh"), "start", str(rig)], check=True)
    for line in (rig / "env").read_text().splitlines():
        if line.startswith("export "):
            key, _, value = line.removeprefix("export ").partition("=")
            os.environ[key] = value.strip('"')
    return rig


def pct(values: list[float], q: float) -> str:
    return f"{np.percentile(values, q):.1f}" if values else "-"


def summarize(name: str, values: list[float]) -> str:
    top = max(values) if values else 0.0
    return f"| {name} | {len(values)} | {pct(values, 50)} | {pct(values, 95)} | {top:.1f} |"


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--typed", type=int, default=20, help="typed phrases (Speak)")
    parser.add_argument("--spoken", type=int, default=4, help="spoken sentences through the test microphone")
    parser.add_argument(
        "--model", default=None, help="TTS model (default: the tiny random-weight test model)"
    )
    parser.add_argument("--budget-ms", type=int, default=300)
    parser.add_argument(
        "--rounds", type=int, default=1, help="clause vs stream: times each sentence is played per mode"
    )
    parser.add_argument(
        "--pace",
        type=float,
        default=0.8,
        help="tiny model: codec frames per character of text (0.8 = 15.6/s)",
    )
    parser.add_argument(
        "--tokens", choices=("bytes", "words"), default="bytes", help="tiny model: its text tokens"
    )
    args = parser.parse_args()

    import torch

    from livevoice.config import load_config
    from livevoice.control.client import ControlClient
    from livevoice.daemon import Daemon
    from livevoice.models import load_models
    from livevoice.testing.speech import espeak
    from livevoice.testing.tiny_qwen import build_tiny_qwen3_tts
    from livevoice.voices.embedding import Voice, VoiceMeta, save_voice

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        rig = ensure_rig(folder)
        created_vmic = False
        try:
            status = subprocess.run(
                [sys.executable, "-m", "livevoice.cli", "virtual-mic", "status"], capture_output=True
            )
            if status.returncode != 0:
                subprocess.run(
                    [sys.executable, "-m", "livevoice.cli", "virtual-mic", "create"],
                    check=True,
                    capture_output=True,
                )
                created_vmic = True
            words = sorted({w for s in COMPARED for w in re.findall(r"[A-Za-z]+", s)})
            tiny = not args.model
            if tiny:
                model = str(
                    build_tiny_qwen3_tts(folder / "tiny", words=words if args.tokens == "words" else ())
                )
            else:
                model = args.model
            library = folder / "voices"
            library.mkdir()
            config_path = folder / "config.toml"
            config_path.write_text(
                f'[audio]\ninput_device = "lvtest_mic"\noutput_device = "livevoice_out"\n'
                f"latency_budget_ms = {args.budget_ms}\n"
                f'[tts]\nmodel = "{model}"\ntorch_threads = 1\nseed = 1\n'
                f'[voices]\nlibrary = "{library}"\n'
                f'[control]\nport = 0\nsecret_file = "{folder / "secret"}"\n'
            )
            config = load_config(config_path)
            models = load_models(config)
            vector = np.random.default_rng(0).normal(0, 1, models.engine.embedding_dim).astype(np.float32)
            save_voice(library / "bench.safetensors", Voice(vector, VoiceMeta(name="bench", source="bench")))
            daemon = Daemon(config, config_path, models, json_events=False)
            thread = threading.Thread(target=daemon.run, daemon=True)
            thread.start()
            while daemon.pipeline is None or daemon.server is None or not daemon.server.url:
                time.sleep(0.1)
            clips = [espeak(s, folder / f"s{i}.wav") for i, s in enumerate(SENTENCES)]
            secret = (folder / "secret").read_text().strip()
            load_before = os.getloadavg()
            typed, spoken = asyncio.run(
                drive(daemon.server.url, secret, args.typed, clips, args.spoken, ControlClient)
            )
            compared: list[Utterance] = []
            if args.rounds:
                engine = models.engine
                if tiny:  # real weights are left as configured (sampled, ending phrases themselves)
                    greedy = {"do_sample": False, "subtalker_dosample": False}
                    engine.sampling = dataclasses.replace(engine.sampling, **greedy)
                    engine.paced_frames_per_char = args.pace
                long_clips = [espeak(s, folder / f"c{i}.wav") for i, s in enumerate(COMPARED)]
                probe = Probe(daemon.pipeline)
                try:
                    compared = asyncio.run(
                        compare(daemon.server.url, secret, long_clips, args.rounds, probe, ControlClient)
                    )
                finally:
                    probe.stop()
            load_after = os.getloadavg()
            daemon.request_stop()
            thread.join(timeout=30)
        finally:
            if created_vmic:
                subprocess.run(
                    [sys.executable, "-m", "livevoice.cli", "virtual-mic", "remove"], capture_output=True
                )
            if rig is not None:
                subprocess.run([str(ROOT / "scripts" / "audio-rig.sh"), "stop", str(rig)], check=True)

    print(
        f"# Pipeline benchmark: {args.model or 'tiny random-weight Qwen3 model'}, budget {args.budget_ms} ms"
    )
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} cores, torch {torch.__version__}, "
        f"PipeWire rig, 48 kHz; {date.today()}; load average {load_before[0]:.2f} before, "
        f"{load_after[0]:.2f} after"
    )
    for title, stamps_list in (("typed phrases (Speak)", typed), ("spoken sentences (whole loop)", spoken)):
        if not stamps_list:
            continue
        rows = figures(stamps_list)
        print(f"\n## {title}\n")
        print("| figure (ms) | n | p50 | p95 | max |")
        print("|---|---|---|---|---|")
        for name, values in rows.items():
            print(summarize(name, values))
    if compared:
        setup = f"greedy, tokens: {args.tokens}, pace {args.pace} frames/character" if tiny else args.model
        report_comparison(compared, setup)
    return 0


def figures(stamps_list: list[dict[str, int]]) -> dict[str, list[float]]:
    def span(later: str, earlier: str) -> list[float]:
        return [(s[later] - s[earlier]) / 1e6 for s in stamps_list if later in s and earlier in s]

    tts = span("ttsFirstAudio", "ttsStart")
    queue = span("ttsStart", "textReady")
    out = span("firstSampleOut", "ttsFirstAudio")
    return {
        "TTS first packet (model)": tts,
        "queue wait": queue,
        "output path": out,
        "added by livevoice": [q + o for q, o in zip(queue, out, strict=True)],
        "output first packet": span("firstSampleOut", "textReady"),
        "mouth-to-ear": span("firstSampleOut", "speechEnd"),
    }


async def drive(
    url: str, secret: str, typed: int, clips: list[Path], spoken: int, client_cls: Any
) -> tuple[list[dict[str, int]], list[dict[str, int]]]:
    client = await client_cls.connect(url, secret)
    typed_stamps: list[dict[str, int]] = []
    spoken_stamps: list[dict[str, int]] = []
    try:
        for i in range(typed):
            for _ in range(1200):  # start from a quiet output (the last phrase played out)
                if not (await client.request("GetStatus"))["speaking"]:
                    break
                await asyncio.sleep(0.05)
            response = await client.request("Speak", {"text": PHRASES[i % len(PHRASES)]})
            uid = response["utteranceId"]
            while True:
                event = await client.next_event(120)
                if event.event_type == "UtteranceLatency" and event.event_data["utteranceId"] == uid:
                    typed_stamps.append(dict(event.event_data["stampsNs"]))
                    break
        for i in range(spoken):
            clip = str(clips[i % len(clips)])
            await asyncio.to_thread(subprocess.run, ["paplay", "-d", "lvtest_in", clip], check=True)
            while True:
                event = await client.next_event(120)
                if event.event_type == "UtteranceLatency" and event.event_data["utteranceId"] < 1_000_000:
                    spoken_stamps.append(dict(event.event_data["stampsNs"]))
                    break
    finally:
        await client.close()
    return typed_stamps, spoken_stamps


# -- clause vs stream -------------------------------------------------------------------------


class Probe:
    """What the comparison reads from the running loop: the speech records (SpeechStarted,
    SpeechEnded, TranscriptFinal), every chunk the TTS queued, and the playback callbacks'
    (ring position, time) anchors, polled."""

    def __init__(self, pipeline: Any) -> None:
        from livevoice.frames import SpeechEnded, SpeechStarted, TranscriptFinal

        self.pipeline = pipeline
        self.records: list[Any] = []
        self.chunks: list[Any] = []
        self.anchors: list[tuple[int, int]] = []
        self.rate: int = pipeline.output.sample_rate
        emit = pipeline.emit
        kinds = (SpeechStarted, SpeechEnded, TranscriptFinal)

        def tap(record: Any) -> object:
            if isinstance(record, kinds):
                self.records.append(record)
            return emit(record)

        pipeline.emit = tap
        pipeline.tts.on_chunk = self.chunks.append
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._poll, daemon=True)
        self._thread.start()

    def _poll(self) -> None:
        stream = self.pipeline.output.stream
        last = (-1, -1)
        while not self._stop.is_set():
            anchor = stream.anchor
            if anchor != last:
                self.anchors.append(anchor)
                last = anchor
            time.sleep(0.0005)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        self.pipeline.tts.on_chunk = None

    def played_at(self, position: int) -> int:
        """When the sample at ring ``position`` left the ring (ns): the last callback that found
        the ring at or before it, plus the samples before it in that block."""
        anchors = self.anchors
        k = bisect.bisect_right(anchors, (position, 2**63)) - 1
        pos, t_ns = anchors[max(k, 0)]
        return t_ns + (position - pos) * 1_000_000_000 // self.rate

    def idle(self) -> bool:
        tts = self.pipeline.tts
        return not self.pipeline.speech_active and not self.pipeline.speaking and tts.queued == 0


@dataclasses.dataclass
class Utterance:
    mode: str
    sentence: int
    uid: int
    words: int
    word_lags_s: list[float]
    first_word_s: float
    last_sample_s: float
    silence_s: float
    pauses: int
    note: str = ""


async def compare(
    url: str, secret: str, clips: list[Path], rounds: int, probe: Probe, client_cls: Any
) -> list[Utterance]:
    client = await client_cls.connect(url, secret, event_subscriptions=0)
    plays: list[tuple[str, int, set[int]]] = []
    try:
        for r in range(rounds):
            for i, clip in enumerate(clips):
                for mode in MODES if (i + r) % 2 == 0 else MODES[::-1]:
                    await client.request("SetTextOptions", {"segmentOn": mode})
                    await settled(probe, set())
                    before = {rec.utterance_id for rec in probe.records}
                    await asyncio.to_thread(
                        subprocess.run, ["paplay", "-d", "lvtest_in", str(clip)], check=True
                    )
                    uids = await settled(probe, before)
                    plays.append((mode, i, uids))
                    print(f"  {mode:6s} sentence {i}: utterances {sorted(uids)}", flush=True)
    finally:
        await client.close()
    return [u for mode, i, uids in plays for uid in sorted(uids) if (u := measure(probe, mode, i, uid))]


async def settled(probe: Probe, before: set[int], timeout_s: float = 120) -> set[int]:
    """Wait until every utterance that started since ``before`` was transcribed and spoken and
    the loop has been idle for 0.3 s; those utterances."""
    from livevoice.frames import SpeechStarted, TranscriptFinal

    deadline = time.monotonic() + timeout_s
    quiet_since = None
    while time.monotonic() < deadline:
        started = {r.utterance_id for r in probe.records if isinstance(r, SpeechStarted)} - before
        finished = {r.utterance_id for r in probe.records if isinstance(r, TranscriptFinal)}
        if started <= finished and probe.idle():
            quiet_since = quiet_since or time.monotonic()
            if time.monotonic() - quiet_since >= 0.3:
                return started
        else:
            quiet_since = None
        await asyncio.sleep(0.02)
    raise TimeoutError("the loop did not settle")


def measure(probe: Probe, mode: str, sentence: int, uid: int) -> Utterance | None:
    from livevoice.frames import SpeechEnded, SpeechStarted, TranscriptFinal

    started = next(r for r in probe.records if isinstance(r, SpeechStarted) and r.utterance_id == uid)
    ended = next(r for r in probe.records if isinstance(r, SpeechEnded) and r.utterance_id == uid)
    final = next(r for r in probe.records if isinstance(r, TranscriptFinal) and r.utterance_id == uid)
    runs: dict[tuple[int, int], list[Any]] = defaultdict(list)
    for chunk in probe.chunks:
        if chunk.utterance_id == uid:
            runs[(chunk.phrase_index, chunk.run)].append(chunk)
    if not final.words or not runs:
        return None
    out_ns: list[int] = []  # each spoken word's first sample out, in speaking order
    silence_ns = pauses = 0
    last_ns = 0
    for key in sorted(runs):
        chunks = runs[key]
        text, frames = chunks[-1].text, sum(c.frames for c in chunks)
        offsets = [i for i, ch in enumerate(text) if ch != " " and (i == 0 or text[i - 1] == " ")]
        for offset in offsets:
            frame = min(frames - 1, offset * frames // len(text))
            chunk = next(c for c in chunks if c.first_frame <= frame < c.first_frame + c.frames)
            inside = (frame - chunk.first_frame) * chunk.samples // chunk.frames
            out_ns.append(probe.played_at(chunk.position + inside))
        period_ns = 1_000_000_000 // probe.rate
        for a, b in itertools.pairwise(chunks):  # from a's last sample out to b's first
            gap = probe.played_at(b.position) - probe.played_at(a.position + a.samples - 1) - period_ns
            if gap > 2 * 5_333_333:  # more than a block or two: the audio stopped
                silence_ns += gap
                pauses += 1
        end = chunks[-1]
        last_ns = max(last_ns, probe.played_at(end.position + max(end.samples - 1, 0)))
    if len(out_ns) != len(final.words):
        return Utterance(mode, sentence, uid, len(final.words), [], 0, 0, 0, 0, "words and speech differ")
    spoken_ns = [started.t_ns + round((w.end_s - started.stream_time_s) * 1e9) for w in final.words]
    lags = [(o - s) / 1e9 for o, s in zip(out_ns, spoken_ns, strict=True)]
    return Utterance(
        mode,
        sentence,
        uid,
        len(final.words),
        lags,
        lags[0],
        (last_ns - ended.t_ns) / 1e9,
        silence_ns / 1e9,
        pauses,
    )


def report_comparison(utterances: list[Utterance], setup: str) -> None:
    print(f"\n## clause vs stream ({setup})\n")
    print(
        "| mode | sentence | utterance | words | word -> out p50 s | first word -> out s | "
        "end of speech -> last sample s | silence in phrases s | pauses |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    for u in sorted(utterances, key=lambda u: (u.sentence, u.mode, u.uid)):
        if u.note:
            print(f"| {u.mode} | {u.sentence} | {u.uid} | {u.words} | {u.note} | | | | |")
            continue
        print(
            f"| {u.mode} | {u.sentence} | {u.uid} | {u.words} | {np.percentile(u.word_lags_s, 50):.2f} | "
            f"{u.first_word_s:.2f} | {u.last_sample_s:.2f} | {u.silence_s:.2f} | {u.pauses} |"
        )
    rows = {
        "spoken word -> its first sample out": lambda us: [x for u in us for x in u.word_lags_s],
        "first word of an utterance -> its first sample out": lambda us: [u.first_word_s for u in us],
        "end of speech -> last sample out": lambda us: [u.last_sample_s for u in us],
        "silence inside phrases, per utterance": lambda us: [u.silence_s for u in us],
        "pauses inside phrases, per utterance (count)": lambda us: [float(u.pauses) for u in us],
    }
    print(
        "\n| figure (s) | clause n | clause p50 | clause p95 | stream n | stream p50 | stream p95 "
        "| p50 change |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for name, pick in rows.items():
        cells, p50s = [], []
        for mode in MODES:
            values = pick([u for u in utterances if u.mode == mode and not u.note])
            p50s.append(float(np.percentile(values, 50)) if values else float("nan"))
            cells.append(f"{len(values)} | {pct3(values, 50)} | {pct3(values, 95)}")
        change = f"{100 * (p50s[1] - p50s[0]) / p50s[0]:+.0f} %" if p50s[0] else "-"
        print(f"| {name} | {cells[0]} | {cells[1]} | {change} |")
    skipped = sum(1 for u in utterances if u.note)
    print(f"\n{len(utterances)} utterances, {skipped} left out (spoken words and recognised words differ)")


def pct3(values: list[float], q: float) -> str:
    return f"{np.percentile(values, q):.2f}" if values else "-"


if __name__ == "__main__":
    sys.exit(main())
