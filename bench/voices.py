"""Voice library and algebra figures: algebra call times, file I/O, search, speaker-encoder time.

Run: ``python bench/voices.py`` (add ``--no-encoder`` to skip the torch part).
Prints one line per figure; nothing is asserted. The speaker-encoder figure uses the
qwen-tts ECAPA-TDNN speaker encoder at its published size (package default config)
with random weights, so it measures compute time, not embedding quality.
"""

from __future__ import annotations

import argparse
import platform
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from livevoice.voices.algebra import learn_direction, mix, nearest, slerp
from livevoice.voices.embedding import Voice, VoiceMeta, load_voice, save_voice
from livevoice.voices.library import VoiceLibrary


def per_call_us(fn: Callable[[], object], min_time_s: float = 0.3) -> float:
    """Median time of one call (microseconds) over repeated batches."""
    fn()
    calls, start = 0, time.perf_counter()
    while time.perf_counter() - start < 0.05:
        fn()
        calls += 1
    batch = max(1, calls)
    samples = []
    start = time.perf_counter()
    while time.perf_counter() - start < min_time_s or len(samples) < 5:
        t0 = time.perf_counter()
        for _ in range(batch):
            fn()
        samples.append((time.perf_counter() - t0) / batch)
    return float(np.median(samples)) * 1e6


def report(label: str, value: float, unit: str) -> None:
    print(f"{label:<40} {value:10.2f} {unit}")


def bench_algebra(dim: int) -> None:
    rng = np.random.default_rng(0)
    vs = [rng.normal(size=dim).astype(np.float32) for _ in range(10)]
    bank = [(f"v{i}", rng.normal(size=dim).astype(np.float32)) for i in range(1000)]
    report(f"dim {dim}: mix of 2", per_call_us(lambda: mix([(vs[0], 0.7), (vs[1], 0.3)])), "us")
    report(f"dim {dim}: mix of 10", per_call_us(lambda: mix([(v, 1.0) for v in vs])), "us")
    report(f"dim {dim}: slerp", per_call_us(lambda: slerp(vs[0], vs[1], 0.3)), "us")
    learn = per_call_us(lambda: learn_direction(vs[:5], vs[5:], top_dims=64))
    report(f"dim {dim}: learn_direction 5+5, top 64", learn, "us")
    report(f"dim {dim}: nearest k=5 among 1000", per_call_us(lambda: nearest(vs[0], bank, 5)) / 1000, "ms")


def bench_files(dim: int, folder: Path) -> None:
    rng = np.random.default_rng(1)
    voice = Voice(rng.normal(size=dim).astype(np.float32), VoiceMeta(name="bench", model_id="m"))
    path = folder / f"bench{dim}.safetensors"
    save_voice(path, voice)
    save = per_call_us(lambda: save_voice(path, voice, force=True))
    report(f"dim {dim}: save_voice (atomic, fsync)", save / 1000, "ms")
    report(f"dim {dim}: load_voice", per_call_us(lambda: load_voice(path)) / 1000, "ms")
    lib = VoiceLibrary(folder / f"lib{dim}")
    for i in range(200):
        lib.add(Voice(rng.normal(size=dim).astype(np.float32), VoiceMeta(name=f"voice{i:03d}")))
    report(f"dim {dim}: library list, 200 voices", per_call_us(lib.list, 1.0) / 1000, "ms")


def bench_encoder(dim: int, seconds: float) -> None:
    import torch
    from qwen_tts.core.models.configuration_qwen3_tts import Qwen3TTSSpeakerEncoderConfig
    from qwen_tts.core.models.modeling_qwen3_tts import Qwen3TTSSpeakerEncoder, mel_spectrogram

    torch.manual_seed(0)
    encoder = Qwen3TTSSpeakerEncoder(Qwen3TTSSpeakerEncoderConfig(enc_dim=dim)).eval()
    audio = torch.from_numpy(np.random.default_rng(2).normal(scale=0.1, size=int(24000 * seconds)))
    audio = audio.float().unsqueeze(0)

    def run() -> None:
        with torch.inference_mode():
            mels = mel_spectrogram(
                audio,
                n_fft=1024,
                num_mels=128,
                sampling_rate=24000,
                hop_size=256,
                win_size=1024,
                fmin=0,
                fmax=12000,
            ).transpose(1, 2)
            encoder(mels)

    ms = per_call_us(run, 2.0) / 1000
    report(f"speaker encoder dim {dim}, {seconds:g} s audio, {torch.get_num_threads()} thr", ms, "ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--no-encoder", action="store_true")
    args = parser.parse_args()
    print(f"machine: {platform.machine()}, {platform.processor() or '?'}, python {platform.python_version()}")
    for dim in (1024, 2048):
        bench_algebra(dim)
    with tempfile.TemporaryDirectory() as tmp:
        for dim in (1024, 2048):
            bench_files(dim, Path(tmp))
    if not args.no_encoder:
        for dim in (1024, 2048):
            for seconds in (3.0, 10.0):
                bench_encoder(dim, seconds)


if __name__ == "__main__":
    main()
