"""Where the recogniser runs: the CUDA 12 libraries from their packages, the start-up
self-check and the fall back to the CPU when CUDA fails (for real: no GPU here)."""

from __future__ import annotations

import json
import logging
import os
import platform
import subprocess
import sys
from pathlib import Path

import pytest

from livevoice.asr.cuda_libs import CUDA12_LIBRARIES, library_file
from livevoice.asr.whisper import WhisperRecognizer, encoder_frames
from livevoice.config import AsrConfig
from livevoice.testing.speech import speech

linux_x86 = pytest.mark.skipif(
    not (sys.platform.startswith("linux") and platform.machine() == "x86_64"),
    reason="the CUDA 12 packages are a Linux x86_64 dependency",
)

PRELOAD_PROBE = """
import ctypes, json
def bare(name):
    try:
        ctypes.CDLL(name)
        return True
    except OSError:
        return False
before = bare("libcublas.so.12")
from livevoice.asr.cuda_libs import cublas_version, preload_cuda12
report = preload_cuda12()
print(json.dumps({"before": before, "after": bare("libcublas.so.12"), "loaded": report.loaded,
                  "complete": report.complete, "version": cublas_version()}))
"""


@linux_x86
def test_cuda12_packages_are_installed_with_every_library() -> None:
    for spec in CUDA12_LIBRARIES:
        path = library_file(spec)
        assert path is not None and path.is_file(), f"{spec.soname} missing from {spec.distribution}"
        assert path.name.startswith(spec.soname.split(".so")[0] + ".so.12")


@linux_x86
def test_preloading_makes_the_bare_name_the_engine_opens_resolve() -> None:
    """In a fresh process: ``dlopen("libcublas.so.12")`` (what CTranslate2 calls) fails on the
    linker's path alone, and works after the preload, with no LD_LIBRARY_PATH and no GPU."""
    env = {k: v for k, v in os.environ.items() if k != "LD_LIBRARY_PATH"}
    result = subprocess.run(
        [sys.executable, "-c", PRELOAD_PROBE], capture_output=True, text=True, timeout=120, env=env
    )
    assert result.returncode == 0, result.stderr
    probe = json.loads(result.stdout.strip().splitlines()[-1])
    if probe["before"]:
        pytest.skip("a CUDA 12 cuBLAS is on this machine's linker path: the preload cannot be seen")
    assert probe["after"] is True and probe["complete"] is True, probe
    assert set(probe["loaded"]) == {spec.soname for spec in CUDA12_LIBRARIES}
    for soname, path in probe["loaded"].items():
        assert Path(path).is_file() and Path(path).name.startswith(soname.split(".so")[0])
    assert probe["version"][0] == 12 and probe["version"][1] >= 8, probe["version"]


def test_cuda_failure_falls_back_to_the_cpu_with_one_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Asking for CUDA on a machine without a usable GPU: the real CTranslate2 error, one
    warning line, and a recogniser that works on the CPU."""
    import ctranslate2

    if ctranslate2.get_cuda_device_count() > 0:
        pytest.skip("this machine has a GPU: CUDA does not fail here (bench/asr_gpu_check.py checks it)")
    with caplog.at_level(logging.INFO, logger="livevoice.asr.whisper"):
        recognizer = WhisperRecognizer(AsrConfig(device="cuda", compute_type="float16"))
    assert recognizer.device_in_use == "cpu"
    assert recognizer.compute_type_in_use == "int8"  # float16 is GPU-only: the CPU default instead
    assert recognizer.cuda_error and "CUDA" in recognizer.cuda_error
    warnings = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(warnings) == 1 and "\n" not in warnings[0].getMessage(), warnings
    assert "runs on the CPU" in warnings[0].getMessage()
    assert recognizer.self_check_ms > 0
    words = recognizer.transcribe(
        speech("Please send me the report.", tmp_path), prompt=None, max_new_tokens=30
    )
    assert [w.text.strip(".,").lower() for w in words] == ["please", "send", "me", "the", "report"]


def test_a_cpu_recogniser_reports_its_device_without_a_warning(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="livevoice.asr.whisper"):
        recognizer = WhisperRecognizer(AsrConfig(device="cpu"))
    assert (recognizer.device_in_use, recognizer.compute_type_in_use, recognizer.cuda_error) == (
        "cpu",
        "int8",
        None,
    )
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]


def test_encoder_frames_cover_the_buffer_and_the_padding_in_whole_seconds() -> None:
    assert encoder_frames(16000, 5000) == 700  # 1 s (101 frames) + 5 s -> 7 s
    assert encoder_frames(5 * 16000, 5000) == 1100
    assert encoder_frames(0, 1000) == 200
    assert encoder_frames(28 * 16000, 5000) == 3000  # never past Whisper's 30 s window
    for samples in range(0, 30 * 16000, 7919):
        frames = encoder_frames(samples, 3000)
        assert frames % 100 == 0 or frames == 3000
        assert frames >= min(3000, samples // 160 + 1 + 300)
