"""The CUDA 12 libraries faster-whisper's engine needs, found in their pip packages.

CTranslate2 (the engine under faster-whisper) is built against CUDA 12 and opens cuBLAS
at its first GPU operation with ``dlopen("libcublas.so.12")``: a bare name, so only the
dynamic linker's search path is tried, and the copy that the ``nvidia-cublas-cu12``
package puts in site-packages is never found. torch brings CUDA 13 (``libcublas.so.13``),
which CTranslate2 cannot use. CTranslate2 wheels from 4.6.3 on no longer use cuDNN (their
Conv1D is plain CUDA), so cuBLAS 12 (with cuBLASLt and, for some of its kernels, NVRTC) is
all they need.

:func:`preload_cuda12` loads those files by full path before the engine asks for them:
once a library with the soname ``libcublas.so.12`` is in the process, the linker answers
the engine's ``dlopen`` with it. No ``LD_LIBRARY_PATH``; torch's CUDA 13 libraries have
other sonames and are left alone. Loading works on machines without a GPU (it only maps
the files), which is how the tests check the packages.
"""

from __future__ import annotations

import ctypes
import logging
import sys
import threading
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class LibrarySpec:
    """One shared library inside a pip package."""

    distribution: str
    """The package that ships it, e.g. "nvidia-cublas-cu12"."""
    pattern: str
    """Its path inside site-packages (a glob pattern where the file name carries a version)."""
    soname: str
    """The name the engine (or another library) asks the dynamic linker for."""
    required: bool = True
    """False for a library only some kernels load lazily (a failure there is not fatal)."""


CUDA12_LIBRARIES: tuple[LibrarySpec, ...] = (
    # NVRTC first: cuBLASLt opens it by name for a few kernels it compiles at run time.
    LibrarySpec(
        "nvidia-cuda-nvrtc-cu12",
        "nvidia/cuda_nvrtc/lib/libnvrtc-builtins.so.12.*",
        "libnvrtc-builtins.so.12",
        required=False,
    ),
    LibrarySpec("nvidia-cuda-nvrtc-cu12", "nvidia/cuda_nvrtc/lib/libnvrtc.so.12", "libnvrtc.so.12", False),
    LibrarySpec("nvidia-cublas-cu12", "nvidia/cublas/lib/libcublasLt.so.12", "libcublasLt.so.12"),
    LibrarySpec("nvidia-cublas-cu12", "nvidia/cublas/lib/libcublas.so.12", "libcublas.so.12"),
)
"""In load order: a library's dependencies before it."""


@dataclass
class PreloadReport:
    """What :func:`preload_cuda12` did."""

    loaded: dict[str, str] = field(default_factory=dict)
    """soname -> the file loaded for it."""
    missing: list[str] = field(default_factory=list)
    """Libraries whose package is not installed (sonames)."""
    failed: dict[str, str] = field(default_factory=dict)
    """soname -> why loading the file failed."""

    @property
    def complete(self) -> bool:
        """Every required library is loaded."""
        return all(spec.soname in self.loaded for spec in CUDA12_LIBRARIES if spec.required)

    def describe(self) -> str:
        """One line for the log."""
        parts = [f"loaded {', '.join(self.loaded) or 'nothing'}"]
        if self.missing:
            parts.append(f"not installed: {', '.join(self.missing)}")
        if self.failed:
            parts.append("failed: " + "; ".join(f"{k}: {v}" for k, v in self.failed.items()))
        return "CUDA 12 libraries: " + "; ".join(parts)


_lock = threading.Lock()
_report: PreloadReport | None = None
_handles: list[ctypes.CDLL] = []  # kept for the life of the process: the engine holds their symbols


def library_file(spec: LibrarySpec) -> Path | None:
    """Where ``spec``'s file is installed, or None when its package (or the file) is missing."""
    try:
        dist = metadata.distribution(spec.distribution)
    except metadata.PackageNotFoundError:
        return None
    pattern = Path(spec.pattern)
    folder = Path(str(dist.locate_file(pattern.parent)))
    matches = sorted(folder.glob(pattern.name)) if folder.is_dir() else []
    return matches[-1] if matches else None


def preload_cuda12() -> PreloadReport:
    """Load the CUDA 12 libraries from their packages (once per process; Linux only).

    Never raises: a package that is not installed or a file that does not load is
    reported, and the engine then looks on the linker's path as it always did.
    """
    global _report
    with _lock:
        if _report is not None:
            return _report
        report = PreloadReport()
        if sys.platform.startswith("linux"):
            for spec in CUDA12_LIBRARIES:
                path = library_file(spec)
                if path is None:
                    report.missing.append(spec.soname)
                    continue
                try:
                    _handles.append(ctypes.CDLL(str(path), mode=ctypes.RTLD_GLOBAL))
                except OSError as err:
                    report.failed[spec.soname] = str(err).splitlines()[0]
                    continue
                report.loaded[spec.soname] = str(path)
        log.debug("%s", report.describe())
        _report = report
        return report


def cublas_version() -> tuple[int, int, int] | None:
    """Version of the cuBLAS that a bare ``dlopen("libcublas.so.12")`` gets, as the engine
    does; None when none can be found. Needs no GPU (``cublasGetProperty`` reads constants)."""
    try:
        lib = ctypes.CDLL("libcublas.so.12")
    except OSError:
        return None
    values = []
    for prop in range(3):  # MAJOR_VERSION, MINOR_VERSION, PATCH_LEVEL
        value = ctypes.c_int(-1)
        if lib.cublasGetProperty(prop, ctypes.byref(value)) != 0:
            return None
        values.append(value.value)
    return values[0], values[1], values[2]
