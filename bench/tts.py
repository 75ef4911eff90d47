"""Streaming TTS benchmark: time to first audio, real-time factor, cost per frame.

Runs livevoice's streaming Qwen3-TTS loop and qwen-tts's own non-streaming
``generate_voice_clone`` side by side on the same model, voice and phrases, and prints:

- time to first audio (streaming: first chunk; qwen-tts: the whole phrase, since it
  returns only when every frame is generated and decoded) and their ratio;
- real-time factor (generation time / audio duration) of both;
- cost per frame of the streaming loop against the position in a long utterance (it
  should stay flat: the KV caches grow but the codec decoder state does not).

Default model: the tiny random-weight test model, built into a temporary folder (greedy,
so both sides produce the same codes). ``--real-size 0.6B`` or ``1.7B`` builds a random-weight
model with the released models' layer sizes instead (its phrases run to their frame cap):
speed depends on the sizes, not on the weights, so a GPU can be measured without weights.
On CUDA, ``--eager-too`` also runs the same loop without CUDA graphs, in the same process.
With real weights on a GPU machine:

    python bench/tts.py --model Qwen/Qwen3-TTS-12Hz-0.6B-Base --device cuda
"""

from __future__ import annotations

import argparse
import dataclasses
import itertools
import platform
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

SHORT = "Hello there, how are you today?"
LONG = (
    "Real-time voice conversion listens to a microphone, recognises the words as they are spoken, "
    "and says them again in another voice a fraction of a second later, so that a game, a call or a "
    "stream hears the new voice instead of the old one, while the speaker keeps talking naturally."
)


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument(
        "--model", default=None, help="hub id or folder of a *-Base model (default: tiny test model)"
    )
    p.add_argument(
        "--real-size",
        choices=("0.6B", "1.7B"),
        default=None,
        help="build a random-weight model with the layer sizes of the released 0.6B or 1.7B model",
    )
    p.add_argument("--eager-too", action="store_true", help="CUDA: also run without CUDA graphs, compare")
    p.add_argument("--eager-repeats", type=int, default=1, help="runs per measurement without graphs")
    p.add_argument(
        "--upstream-repeats", type=int, default=None, help="runs of qwen-tts generate (default: --repeats)"
    )
    p.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda"))
    p.add_argument("--threads", type=int, default=1, help="torch CPU threads (0 = torch default)")
    p.add_argument("--first-chunk-frames", type=int, default=2)
    p.add_argument("--chunk-frames", type=int, default=4)
    p.add_argument("--short-frames", type=int, default=16, help="frame cap of the short phrase")
    p.add_argument("--long-frames", type=int, default=200, help="frame cap of the long phrase")
    p.add_argument("--repeats", type=int, default=3, help="runs per measurement (median reported)")
    p.add_argument("--greedy", action="store_true", help="greedy decoding (default: the model's sampling)")
    return p.parse_args()


def stream_once(engine: Any, embedding: np.ndarray, text: str) -> dict[str, Any]:
    t0 = time.monotonic_ns()
    stream = engine.open(embedding, text)
    chunks = list(stream)
    if engine.device.type == "cuda":
        import torch

        torch.cuda.synchronize()
    t_end = time.monotonic_ns()
    samples = sum(len(c.samples) for c in chunks)
    return {
        "first_ms": (stream.t_first_audio_ns - t0) / 1e6,
        "total_s": (t_end - t0) / 1e9,
        "audio_s": samples / engine.sample_rate,
        "frames": stream.frames_generated,
        "frame_ns": [t0, *stream.frame_ready_ns],
        "chunks": [(c.t_ns, c.frames) for c in chunks],
        "t0": t0,
        "compute_s": stream.compute_s,
        "decode_ms": [ns / 1e6 for ns in stream.decode_ns],
    }


def upstream_once(engine: Any, embedding: np.ndarray, text: str, frames: int, greedy: bool) -> dict[str, Any]:
    import torch
    from qwen_tts.inference.qwen3_tts_model import VoiceClonePromptItem

    item = VoiceClonePromptItem(
        ref_code=None, ref_spk_embedding=torch.from_numpy(embedding), x_vector_only_mode=True, icl_mode=False
    )
    extra: dict[str, Any] = {"do_sample": False, "subtalker_dosample": False} if greedy else {}
    t0 = time.monotonic_ns()
    wavs, rate = engine._wrapper.generate_voice_clone(
        text, language="Auto", voice_clone_prompt=[item], max_new_tokens=frames + 1, **extra
    )
    if engine.device.type == "cuda":
        torch.cuda.synchronize()
    total_s = (time.monotonic_ns() - t0) / 1e9
    return {"first_ms": total_s * 1000, "total_s": total_s, "audio_s": len(wavs[0]) / rate}


def median(runs: list[dict[str, Any]], key: str) -> float:
    return float(statistics.median(r[key] for r in runs))


def per_frame_profile(run: dict[str, Any], bins: int = 5) -> list[tuple[str, float, float]]:
    """(frame range, ms per frame for the codes, ms per frame including decode) per bin of the utterance."""
    frame_ns = np.asarray(run["frame_ns"], dtype=np.float64)
    step_ms = np.diff(frame_ns) / 1e6  # step i = time to produce frame i+1 (first includes prefill)
    chunk_times = np.asarray([t for t, _ in run["chunks"]], dtype=np.float64)
    chunk_frames = np.cumsum([n for _, n in run["chunks"]])
    n = len(step_ms)
    edges = np.linspace(0, n, bins + 1).astype(int)
    rows = []
    for lo, hi in itertools.pairwise(edges):
        codes_ms = float(np.mean(step_ms[max(lo, 1) : hi])) if hi > max(lo, 1) else float("nan")
        # chunks that end inside [lo, hi): wall time between chunk ends / frames in between
        inside = [(t, f) for t, f in zip(chunk_times, chunk_frames, strict=True) if lo < f <= hi]
        if len(inside) >= 2:
            all_ms = (inside[-1][0] - inside[0][0]) / 1e6 / (inside[-1][1] - inside[0][1])
        else:
            all_ms = float("nan")
        rows.append((f"{lo + 1}-{hi}", codes_ms, all_ms))
    return rows


def set_frame_cap(engine: Any, cap: int) -> None:
    engine.sampling = dataclasses.replace(engine.sampling, max_new_tokens=cap)


def measure(
    engine: Any, embedding: np.ndarray, args: argparse.Namespace, *, upstream: bool
) -> tuple[list[str], list[dict[str, Any]]]:
    """Rows of the main table (one per phrase) and the long phrase's runs."""
    rows: list[str] = []
    long_runs: list[dict[str, Any]] = []
    upstream_repeats = args.repeats if args.upstream_repeats is None else args.upstream_repeats
    for name, text, cap in (("short", SHORT, args.short_frames), ("long", LONG, args.long_frames)):
        set_frame_cap(engine, cap)
        ours = [stream_once(engine, embedding, text) for _ in range(args.repeats)]
        if name == "long":
            long_runs = ours
        first_ours = median(ours, "first_ms")
        rtf_ours = median(ours, "total_s") / max(median(ours, "audio_s"), 1e-9)
        if upstream and upstream_repeats > 0:
            theirs = [
                upstream_once(engine, embedding, text, cap, args.greedy) for _ in range(upstream_repeats)
            ]
            first_theirs = median(theirs, "first_ms")
            rtf_theirs = median(theirs, "total_s") / max(median(theirs, "audio_s"), 1e-9)
            upstream_cells = f"{first_theirs:.0f} ms | {first_theirs / first_ours:.1f}x | {rtf_theirs:.2f}"
        else:
            upstream_cells = "- | - | -"
        frames = int(median(ours, "frames"))
        rows.append(f"| {name} | {frames} | {first_ours:.0f} ms | {rtf_ours:.3f} | {upstream_cells} |")
    return rows, long_runs


def print_decode(long_runs: list[dict[str, Any]], label: str = "codec decoding") -> None:
    first = statistics.median(run["decode_ms"][0] for run in long_runs)
    later = statistics.median(ms for run in long_runs for ms in run["decode_ms"][1:-1])
    print(f"{label} (long phrase): first chunk {first:.1f} ms, later chunks {later:.1f} ms each")


def print_profile(long_runs: list[dict[str, Any]]) -> None:
    print(f"Streaming cost per frame along the long phrase (median of {len(long_runs)} runs):")
    print()
    print("| frames | codes ms/frame | with decode ms/frame |")
    print("|---|---|---|")
    profiles = [per_frame_profile(run) for run in long_runs]
    for rows in zip(*profiles, strict=True):
        codes_ms = statistics.median(r[1] for r in rows)
        all_ms = statistics.median(r[2] for r in rows)
        print(f"| {rows[0][0]} | {codes_ms:.1f} | {all_ms:.1f} |")


def main() -> int:
    args = parse_args()
    import torch

    from livevoice.tts.loading import load_qwen3_engine
    from livevoice.tts.qwen3 import Qwen3TtsEngine

    if args.threads > 0:
        torch.set_num_threads(args.threads)
    with tempfile.TemporaryDirectory() as tmp:
        model = args.model
        label = model or "tiny random-weight model"
        if model is None and args.real_size:
            from livevoice.testing.tiny_qwen import build_real_size_qwen3_tts

            t_build = time.perf_counter()
            build_device = "cuda" if args.device != "cpu" and torch.cuda.is_available() else "cpu"
            model = str(build_real_size_qwen3_tts(Path(tmp) / "real", args.real_size, device=build_device))
            label = f"random-weight model of the {args.real_size} architecture"
            print(f"built the {args.real_size} model in {time.perf_counter() - t_build:.0f} s", flush=True)
        elif model is None:
            from livevoice.testing.tiny_qwen import build_tiny_qwen3_tts

            model = str(build_tiny_qwen3_tts(Path(tmp) / "tiny"))
            args.greedy = True  # both sides then produce the same codes, frame for frame
        overrides: dict[str, Any] = {"do_sample": False, "subtalker_dosample": False} if args.greedy else {}
        t_load = time.perf_counter()
        engine = load_qwen3_engine(
            model,
            device=args.device,
            first_chunk_frames=args.first_chunk_frames,
            chunk_frames=args.chunk_frames,
            sampling=overrides,
            seed=1,
        )
        load_s = time.perf_counter() - t_load
        rng = np.random.default_rng(0)
        embedding = engine.extract_embedding((0.1 * rng.standard_normal(3 * 24000)).astype(np.float32), 24000)
        upstream_once(engine, embedding, "Warm up.", 4, args.greedy)

        mode = "greedy" if args.greedy else "sampling"
        where = str(engine.device)
        if engine.device.type == "cuda":
            where += f" ({torch.cuda.get_device_name(engine.device)})"
        print(f"# TTS benchmark: {label} on {where} ({engine.dtype}, {mode})")
        print(
            f"machine: {platform.machine()}, {torch.get_num_threads()} torch threads, "
            f"torch {torch.__version__}; load + warm-up {load_s:.1f} s; "
            f"first chunk {args.first_chunk_frames} frames, then {args.chunk_frames}; "
            f"CUDA graphs: frames {'yes' if engine.graphs_captured else 'no'}, "
            f"codec chunks of {list(engine.steppers.codec_captured) or 'no'} frames"
        )
        print()
        header = (
            "phrase",
            "frames",
            "stream first audio",
            "stream RTF",
            "qwen-tts first audio",
            "ratio",
            "qwen-tts RTF",
        )
        print("| " + " | ".join(header) + " |")
        print("|---|---|---|---|---|---|---|")
        rows, long_runs = measure(engine, embedding, args, upstream=True)
        for row in rows:
            print(row, flush=True)
        print()
        print_decode(long_runs)
        print()
        print_profile(long_runs)
        if args.eager_too and engine.device.type == "cuda":
            eager = Qwen3TtsEngine(
                engine._wrapper,
                model_id=engine.model_id,
                first_chunk_frames=args.first_chunk_frames,
                chunk_frames=args.chunk_frames,
                sampling=engine.sampling,
                seed=1,
                cuda_graphs=False,
            )
            eager.warmup()
            eager_args = argparse.Namespace(**{**vars(args), "repeats": args.eager_repeats})
            eager_rows, eager_runs = measure(eager, embedding, eager_args, upstream=False)
            print()
            print("The same loop without CUDA graphs (same process, same model):")
            print()
            print("| " + " | ".join(header) + " |")
            print("|---|---|---|---|---|---|---|")
            for row in eager_rows:
                print(row)
            print()
            print_decode(eager_runs, "codec decoding without graphs")
            graph_rtf = median(long_runs, "total_s") / max(median(long_runs, "audio_s"), 1e-9)
            eager_rtf = median(eager_runs, "total_s") / max(median(eager_runs, "audio_s"), 1e-9)
            print()
            print(f"long phrase: CUDA graphs {eager_rtf / graph_rtf:.1f}x faster than without")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
