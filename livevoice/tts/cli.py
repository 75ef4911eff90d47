"""``livevoice say``: speak a phrase to a WAV file through the streaming TTS path."""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

import numpy as np


def register(sub: argparse._SubParsersAction[Any]) -> None:
    """Add this domain's subcommands to the ``livevoice`` parser."""
    p = sub.add_parser(
        "say",
        help="speak TEXT in a voice to a WAV file (prints time to first audio and real-time factor)",
        description="Speak TEXT in a voice through the streaming Qwen3-TTS path and write a 24 kHz WAV file.",
    )
    p.add_argument("text", help="what to say")
    p.add_argument(
        "--voice",
        default=None,
        help="library voice name or .safetensors voice file (default: [voices] default_voice)",
    )
    p.add_argument(
        "--model", default=None, help="Qwen3-TTS *-Base hub id or local folder (default: [tts] model)"
    )
    p.add_argument("-o", "--output", type=Path, required=True, help="WAV file to write")
    p.add_argument("--device", choices=("auto", "cpu", "cuda"), default=None, help="default: [tts] device")
    p.add_argument(
        "--language", default=None, help='language of TEXT ("auto", "english", ...; default: [tts] language)'
    )
    p.add_argument(
        "--first-chunk-frames", type=int, default=None, help="codec frames (80 ms) in the first chunk"
    )
    p.add_argument("--chunk-frames", type=int, default=None, help="codec frames in each later chunk")
    p.add_argument("--seed", type=int, default=None, help="sampling seed (same seed = same audio)")
    p.add_argument("--greedy", action="store_true", help="greedy decoding instead of sampling")
    p.add_argument(
        "--max-frames", type=int, default=None, help="cut the phrase after this many frames (80 ms each)"
    )
    p.set_defaults(func=cmd_say)


def _voice_embedding(config: Any, name_or_file: str | None) -> np.ndarray:
    from livevoice.errors import LivevoiceError

    choice = name_or_file or config.voices.default_voice
    if not choice:
        raise LivevoiceError("no voice given: use --voice NAME_OR_FILE (or set [voices] default_voice)")
    from livevoice.voices.library import VoiceLibrary

    voice = VoiceLibrary.from_config(config).resolve(choice)
    return np.asarray(voice.embedding, dtype=np.float32)


def cmd_say(args: argparse.Namespace) -> int:
    """Speak ``args.text`` to ``args.output``; print time to first audio and real-time factor."""
    from livevoice.audio.files import write_wav
    from livevoice.cli import config_from_args
    from livevoice.config import replace
    from livevoice.tts.qwen3 import load_from_config

    config = config_from_args(args)
    changes = {
        "model": args.model,
        "device": args.device,
        "language": args.language,
        "first_chunk_frames": args.first_chunk_frames,
        "chunk_frames": args.chunk_frames,
        "seed": args.seed,
    }
    config = replace(config, "tts", **{k: v for k, v in changes.items() if v is not None})
    embedding = _voice_embedding(config, args.voice)
    if not args.text.strip():
        from livevoice.tts.engine import TtsError

        raise TtsError("nothing to say: the text is empty")
    overrides: dict[str, Any] = {}
    if args.greedy:
        overrides.update(do_sample=False, subtalker_dosample=False)
    if args.max_frames is not None:
        overrides["max_new_tokens"] = args.max_frames
    engine = load_from_config(config.tts, sampling=overrides)
    stream = engine.open(embedding, args.text)
    t0 = time.monotonic_ns()
    pieces = [chunk.samples for chunk in stream]
    t_end = time.monotonic_ns()
    audio = np.concatenate(pieces) if pieces else np.zeros(0, dtype=np.float32)
    write_wav(args.output, audio, engine.sample_rate)
    audio_s = len(audio) / engine.sample_rate
    generation_s = (t_end - t0) / 1e9
    first_ms = (stream.t_first_audio_ns - t0) / 1e6 if stream.t_first_audio_ns else float("nan")
    rtf = generation_s / audio_s if audio_s > 0 else float("nan")
    print(
        f"wrote {args.output}: {audio_s:.2f} s of audio ({stream.frames_generated} frames) "
        f"in {generation_s:.2f} s; "
        f"time to first audio {first_ms:.0f} ms; real-time factor {rtf:.2f}"
    )
    return 0
