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

    python bench/pipeline.py [--typed 20] [--spoken 4] [--model DIR_OR_HUB_ID]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import subprocess
import sys
import tempfile
import threading
import time
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
            model = args.model or str(build_tiny_qwen3_tts(folder / "tiny"))
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
            typed, spoken = asyncio.run(
                drive(daemon.server.url, secret, args.typed, clips, args.spoken, ControlClient)
            )
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
        "PipeWire rig, 48 kHz"
    )
    for title, stamps_list in (("typed phrases (Speak)", typed), ("spoken sentences (whole loop)", spoken)):
        rows = figures(stamps_list)
        print(f"\n## {title}\n")
        print("| figure (ms) | n | p50 | p95 | max |")
        print("|---|---|---|---|---|")
        for name, values in rows.items():
            print(summarize(name, values))
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


if __name__ == "__main__":
    sys.exit(main())
