"""``livevoice transcribe``: the VAD + incremental ASR path on a file."""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

from livevoice.frames import TranscriptFinal, TranscriptPartial, record_to_dict


def register(sub: argparse._SubParsersAction[Any]) -> None:
    p = sub.add_parser(
        "transcribe",
        help="transcribe an audio file through the live VAD + incremental ASR path",
        description="Runs the same VAD and incremental ASR as the live loop on a file (any rate and "
        "channel count), faster than real time.",
    )
    p.add_argument("audio", type=Path, help="audio file (WAV, FLAC, OGG...)")
    p.add_argument("--json", action="store_true", help="print every transcript event as a JSON line")
    p.add_argument("--partials", action="store_true", help="with --json: also print unstable partials")
    p.add_argument("--model", help="faster-whisper model name or folder (default: config asr.model)")
    p.set_defaults(func=run)

    listen = sub.add_parser(
        "listen",
        help="live transcript of the microphone (no TTS, no output): check your mic and the recogniser",
    )
    listen.add_argument("--input", dest="input_device", help="microphone (name substring or index)")
    listen.add_argument("--json", action="store_true", help="print transcript events as JSON lines")
    listen.set_defaults(func=run_listen)


def run_listen(args: argparse.Namespace) -> int:
    from livevoice.asr.listen import run_listen as listen
    from livevoice.cli import config_from_args, with_overrides

    config = with_overrides(config_from_args(args), "audio", input_device=args.input_device)
    return listen(config, json_events=args.json)


def run(args: argparse.Namespace) -> int:
    from livevoice.asr.filemode import transcribe_samples
    from livevoice.asr.vad import SAMPLE_RATE, SileroVad
    from livevoice.asr.whisper import WhisperRecognizer
    from livevoice.audio.files import read_audio
    from livevoice.cli import config_from_args, with_overrides

    config = with_overrides(config_from_args(args), "asr", model=args.model)
    samples, _ = read_audio(args.audio, SAMPLE_RATE)
    recognizer = WhisperRecognizer(config.asr)
    started = time.perf_counter()
    for event in transcribe_samples(samples, config, recognizer, SileroVad()):
        if args.json:
            if isinstance(event, TranscriptPartial) and not args.partials:
                continue
            print(json.dumps(record_to_dict(event)), flush=True)
        elif isinstance(event, TranscriptFinal):
            print(f"[{event.start_s:7.2f} - {event.end_s:7.2f}] {event.text}", flush=True)
    elapsed = time.perf_counter() - started
    duration = len(samples) / SAMPLE_RATE
    if not args.json:
        print(
            f"({duration:.1f} s of audio in {elapsed:.1f} s, real-time factor {elapsed / duration:.2f})",
            file=sys.stderr,
        )
    return 0
