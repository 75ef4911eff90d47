"""GPU check of the recogniser: the start-up self-check on CUDA, then decode timings.

Run on a machine with an NVIDIA GPU. Prints what happened at each step and one JSON line
at the end (``summary: {...}``):

1. the CUDA 12 libraries found in their packages (``livevoice.asr.cuda_libs``) and the
   cuBLAS version a bare ``dlopen("libcublas.so.12")`` gets;
2. ``WhisperRecognizer(device="cuda")``: the device really in use after its self-check
   (a CUDA failure shows as "cpu" plus the error, exactly what the daemon would do);
3. when CUDA works: decode time of a ``--seconds`` buffer (median and p90 of
   ``--repeats``), with the configured encoder padding and with Whisper's whole 30 s
   window, then a torch CUDA matrix product in the same process (torch's CUDA 13 cuBLAS
   beside CTranslate2's CUDA 12 one).

``--alias-cublas13`` runs steps 2-3 in a child process whose linker path has
``libcublas.so.12``/``libcublasLt.so.12`` pointing at torch's CUDA 13 cuBLAS: a
diagnostic (does CTranslate2 run on cuBLAS 13?) for machines where the CUDA 12 package
cannot be installed, never what livevoice does.

Machines that cannot carry the 75 MB embedded model can build a random-weight model of
tiny.en's shape from its tokenizer files (``--random-tiny FOLDER``, the folder holding
config.json, tokenizer.json and vocabulary.txt): same compute, meaningless words, so the
token cap (``--max-new-tokens``) stands in for the length of the text.

    python bench/asr_gpu_check.py [--model tiny.en] [--seconds 5] [--audio speech.npy]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import types
from pathlib import Path
from typing import Any

import numpy as np

SAMPLE_RATE = 16000


def ensure_av_importable() -> None:
    """faster-whisper imports PyAV for file decoding, which this check never does."""
    try:
        import av  # noqa: F401
    except ImportError:
        sys.modules["av"] = types.ModuleType("av")
        print("note: PyAV is not installed; a stand-in module is used (no file decoding here)")


def build_random_tiny(tokenizer_folder: Path, out: Path) -> Path:
    """A CTranslate2 Whisper model of tiny.en's shape with random weights (float16 on disk)."""
    from ctranslate2.specs import whisper_spec

    d, vocab_size, heads, layers = 384, 51864, 6, 4
    rng = np.random.default_rng(0)
    spec = whisper_spec.WhisperSpec(layers, heads, layers, heads)

    def fill(name: str) -> np.ndarray:
        leaf = name.rsplit("/", 2)
        kind, param = leaf[-2], leaf[-1]
        if param == "gamma":
            return np.ones(d, np.float32)
        if param == "beta" or (param == "bias" and "ffn/linear_0" not in name):
            return np.zeros(d, np.float32)
        if name.endswith("conv1/weight"):
            return rng.normal(0, 0.02, (d, 80, 3)).astype(np.float32)
        if name.endswith("conv2/weight"):
            return rng.normal(0, 0.02, (d, d, 3)).astype(np.float32)
        if name.endswith("embeddings/weight") or name.endswith("projection/weight"):
            return rng.normal(0, 0.02, (vocab_size, d)).astype(np.float32)
        if "self_attention/linear_0" in name:
            return rng.normal(0, 0.02, (3 * d, d)).astype(np.float32)
        if "/attention/linear_1" in name:
            return rng.normal(0, 0.02, (2 * d, d)).astype(np.float32)
        if "ffn/linear_0" in name:
            return rng.normal(0, 0.02, (4 * d, d)).astype(np.float32)
        if "ffn/linear_1" in name:
            return rng.normal(0, 0.02, (d, 4 * d)).astype(np.float32)
        if kind.startswith("linear_"):
            return rng.normal(0, 0.02, (d, d)).astype(np.float32)
        raise ValueError(f"no shape known for {name}")

    def assign(scope: Any, prefix: str) -> None:
        for key, value in list(vars(scope).items()):
            name = f"{prefix}/{key}" if prefix else key
            if isinstance(value, list):
                for i, item in enumerate(value):
                    assign(item, f"{name}_{i}")
            elif hasattr(value, "__dict__") and not isinstance(value, np.ndarray | type):
                assign(value, name)
            elif value is None:
                setattr(scope, key, fill(name))

    assign(spec.encoder, "encoder")
    assign(spec.decoder, "decoder")
    spec.encoder.position_encodings.encodings = rng.normal(0, 0.02, (1500, d)).astype(np.float32)
    spec.decoder.position_encodings.encodings = rng.normal(0, 0.02, (448, d)).astype(np.float32)
    tokens = (tokenizer_folder / "vocabulary.txt").read_text(encoding="utf-8").splitlines()
    spec.register_vocabulary(tokens)
    config = json.loads((tokenizer_folder / "config.json").read_text())
    for key, value in config.items():
        setattr(spec.config, key, value)
    spec.validate()
    spec.optimize(quantization="float16")
    spec.save(str(out))
    shutil.copy(tokenizer_folder / "tokenizer.json", out / "tokenizer.json")
    return out


def cublas13_alias_folder() -> Path:
    """A folder where the CUDA 12 cuBLAS names point at torch's CUDA 13 files."""
    import torch

    lib = Path(torch.__file__).resolve().parent.parent / "nvidia"
    found = {p.name: p for p in lib.rglob("libcublas*.so.13")}
    if "libcublas.so.13" not in found or "libcublasLt.so.13" not in found:
        raise RuntimeError(f"torch's CUDA 13 cuBLAS not found under {lib}")
    folder = Path(tempfile.mkdtemp(prefix="cublas13-as-12-"))
    for name in ("libcublas", "libcublasLt"):
        (folder / f"{name}.so.12").symlink_to(found[f"{name}.so.13"])
    return folder


def load_audio(path: Path | None, seconds: float) -> tuple[np.ndarray, str]:
    n = int(seconds * SAMPLE_RATE)
    if path is not None:
        audio = np.load(path).astype(np.float32)
        return np.resize(audio, n) if len(audio) < n else audio[:n], str(path)
    rng = np.random.default_rng(1)
    return (0.05 * rng.standard_normal(n)).astype(np.float32), "noise"


def timings(recognizer: Any, audio: np.ndarray, repeats: int, max_new_tokens: int) -> dict[str, float]:
    recognizer.transcribe(audio, prompt=None, max_new_tokens=max_new_tokens)
    costs = []
    for _ in range(repeats):
        started = time.perf_counter()
        words = recognizer.transcribe(audio, prompt=None, max_new_tokens=max_new_tokens)
        costs.append((time.perf_counter() - started) * 1000)
    return {
        "median_ms": round(statistics.median(costs), 1),
        "p90_ms": round(float(np.percentile(costs, 90)), 1),
        "words": len(words),
    }


def check(args: argparse.Namespace) -> dict[str, Any]:
    ensure_av_importable()
    import ctranslate2

    from livevoice.asr.cuda_libs import cublas_version, preload_cuda12
    from livevoice.asr.whisper import WhisperRecognizer
    from livevoice.config import AsrConfig

    summary: dict[str, Any] = {
        "python": sys.version.split()[0],
        "ctranslate2": ctranslate2.__version__,
        "cuda_devices": ctranslate2.get_cuda_device_count(),
        "ld_library_path": os.environ.get("LD_LIBRARY_PATH", ""),
    }
    report = preload_cuda12()
    print(report.describe())
    summary["cuda12_preload_complete"] = report.complete
    summary["cublas_version_by_bare_name"] = cublas_version()
    print(f"cuBLAS found under the name libcublas.so.12: {summary['cublas_version_by_bare_name']}")

    model = args.model
    if args.random_tiny is not None:
        model = str(build_random_tiny(args.random_tiny, Path(tempfile.mkdtemp(prefix="tiny-random-"))))
        print(f"random-weight tiny.en-shaped model built in {model}")
    started = time.perf_counter()
    recognizer = WhisperRecognizer(AsrConfig(model=model, device=args.device, beam_size=args.beam))
    summary.update(
        load_s=round(time.perf_counter() - started, 2),
        device_in_use=recognizer.device_in_use,
        compute_type=recognizer.compute_type_in_use,
        cuda_error=recognizer.cuda_error,
        self_check_ms=round(recognizer.self_check_ms, 1),
    )
    print(
        f"recogniser: device in use {recognizer.device_in_use} ({recognizer.compute_type_in_use}), "
        f"CUDA error: {recognizer.cuda_error}, self-check {recognizer.self_check_ms:.0f} ms"
    )
    if recognizer.device_in_use != args.device:
        return summary
    audio, source = load_audio(args.audio, args.seconds)
    summary["audio"] = source
    for padding in (recognizer.config.encoder_padding_ms, 30_000):
        recognizer.config = AsrConfig(
            model=model, device=args.device, beam_size=args.beam, encoder_padding_ms=padding
        )
        figures = timings(recognizer, audio, args.repeats, args.max_new_tokens)
        summary[f"decode_{args.seconds:g}s_padding_{padding}ms"] = figures
        print(f"decode of {args.seconds:g} s ({source}), encoder padding {padding} ms: {figures}")
    try:
        import torch

        a = torch.randn(1024, 1024, device=args.device)
        b = (a @ a).sum().item()
        x, w = torch.randn(1, 80, 3000, device=args.device), torch.randn(384, 80, 3, device=args.device)
        conv = torch.nn.functional.conv1d(x, w)
        summary["torch_after"] = (
            f"ok: torch {torch.__version__} CUDA {torch.version.cuda}, "
            f"matmul {b:.1f}, conv {tuple(conv.shape)}"
        )
    except Exception as err:  # the point is to see it
        summary["torch_after"] = f"failed: {err}"
    print(f"torch in the same process: {summary['torch_after']}")
    timings(recognizer, audio, 1, args.max_new_tokens)
    summary["asr_after_torch"] = "ok"
    return summary


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--model", default="tiny.en")
    parser.add_argument("--random-tiny", type=Path, help="folder with tiny.en's config/tokenizer/vocabulary")
    parser.add_argument("--audio", type=Path, help="16 kHz float32 .npy speech (default: noise)")
    parser.add_argument("--device", default="cuda", help="cuda (the point), or cpu to try the script")
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--repeats", type=int, default=10)
    parser.add_argument("--beam", type=int, default=5)
    parser.add_argument("--max-new-tokens", type=int, default=52, help="token cap (live loop: 12 + 8/s)")
    parser.add_argument("--alias-cublas13", action="store_true", help="also run with cuBLAS 13 named as 12")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    print(f"# ASR GPU check: {platform.node()}, {platform.machine()}, Python {sys.version.split()[0]}")
    try:
        out = subprocess.run(["nvidia-smi", "-L"], capture_output=True, text=True, timeout=30).stdout.strip()
        print(out or "nvidia-smi printed nothing")
    except (OSError, subprocess.SubprocessError) as err:
        print(f"nvidia-smi: {err}")
    summary = check(args)
    print("summary: " + json.dumps(summary))
    if args.alias_cublas13 and not args.child:
        folder = cublas13_alias_folder()
        print(f"\n# the same with libcublas.so.12 -> torch's CUDA 13 cuBLAS ({folder}); diagnostic only")
        env = dict(os.environ, LD_LIBRARY_PATH=f"{folder}:{os.environ.get('LD_LIBRARY_PATH', '')}")
        child = [a for a in sys.argv if a != "--alias-cublas13"] + ["--child"]
        subprocess.run([sys.executable, *child], env=env, timeout=300, check=False)
    return 0


if __name__ == "__main__":
    sys.exit(main())
