"""Loading a Qwen3-TTS *-Base model as a streaming engine, with every check done before the slow part.

Errors are one line: :class:`~livevoice.errors.ModelError` for a model that cannot be
found, downloaded or used (including non-Base variants and qwen-tts versions whose
internals differ), :class:`~livevoice.errors.ConfigError` for bad options.
"""

from __future__ import annotations

import contextlib
import io
import logging
import os
import sys
import time
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from livevoice.errors import ConfigError, ModelError
from livevoice.tts.sampling import resolve_sampling

if TYPE_CHECKING:
    import torch

    from livevoice.config import TtsConfig
    from livevoice.tts.qwen3 import Qwen3TtsEngine

log = logging.getLogger(__name__)


def resolve_device(device: str) -> tuple[torch.device, torch.dtype]:
    """("auto" | "cpu" | "cuda[:n]") -> (device, dtype): CUDA with bf16 when available, else CPU float32."""
    import torch

    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    if device.startswith("cuda"):
        if not torch.cuda.is_available():
            raise ConfigError(
                f"TTS device {device!r} requested but CUDA is not available here; use 'cpu' or 'auto'"
            )
        return torch.device(device), torch.bfloat16
    if device != "cpu":
        raise ConfigError(f"TTS device {device!r} is not allowed; allowed: 'auto', 'cpu', 'cuda'")
    return torch.device("cpu"), torch.float32


def first_line(err: BaseException) -> str:
    """The first line of an exception's message (or its type name)."""
    text = str(err).strip().splitlines()
    return text[0] if text else type(err).__name__


def _looks_like_path(model: str) -> bool:
    return model.startswith(("/", ".", "~")) or model.count("/") != 1 or (os.sep == "\\" and "\\" in model)


def import_qwen_tts() -> None:
    """Import qwen_tts once, without the flash-attn notice it prints to stdout (our stdout
    carries transcripts and JSON lines)."""
    if "qwen_tts" not in sys.modules:
        with contextlib.redirect_stdout(io.StringIO()):
            import qwen_tts  # noqa: F401


def model_folder(model: str) -> Path:
    """The local folder of ``model``: the folder itself, or for a hub id its copy in the hub
    cache, downloaded first (with progress on stderr) when needed.

    A one-line ModelError says why it cannot be had; for a hub model that is not on this
    machine while the hub cannot be reached, it comes within a few seconds (no retry loop)
    and names ``livevoice models pull`` and the local-folder alternative.
    """
    folder = Path(model).expanduser()
    if folder.is_dir():
        if not (folder / "config.json").is_file():
            raise ModelError(f"cannot load TTS model '{model}': the folder has no config.json")
        return folder
    if folder.exists():
        raise ModelError(f"cannot load TTS model '{model}': it is a file, not a model folder")
    if _looks_like_path(model):
        raise ModelError(f"cannot load TTS model '{model}': no such folder")
    from livevoice.models.hub import ensure_local_model

    return ensure_local_model(model)


def load_config(model: str, folder: Path | None = None) -> Any:
    """The model's Qwen3TTSConfig (from ``folder``, else from :func:`model_folder`), or a one-line
    ModelError saying why it cannot be had."""
    source = folder if folder is not None else model_folder(model)
    import_qwen_tts()
    from qwen_tts.core.models import Qwen3TTSConfig

    try:
        return Qwen3TTSConfig.from_pretrained(str(source))
    except (OSError, ValueError) as err:
        raise ModelError(f"cannot load TTS model '{model}': {first_line(err)}") from None


def check_language(config: Any, language: str) -> str:
    """``language`` lower-cased if the model (its Qwen3TTSConfig) supports it, else a ConfigError."""
    known = getattr(config.talker_config, "codec_language_id", None) or {}
    supported = ["auto", *(name for name in known if "dialect" not in name)]
    if language.lower() not in supported:
        raise ConfigError(f"TTS language {language!r} is not supported; supported: {', '.join(supported)}")
    return language.lower()


def load_qwen3_engine(
    model: str,
    *,
    device: str = "auto",
    first_chunk_frames: int = 2,
    chunk_frames: int = 4,
    torch_threads: int = 0,
    language: str = "auto",
    seed: int | None = None,
    sampling: Mapping[str, Any] | None = None,
    warmup: bool = True,
    cuda_graphs: bool = True,
) -> Qwen3TtsEngine:
    """Load a Qwen3-TTS *-Base model (hub id or local folder) as a streaming engine.

    ``device``: "auto" (CUDA with bf16 when available, else CPU float32), "cpu" or "cuda".
    ``first_chunk_frames`` / ``chunk_frames``: codec frames (80 ms each) in the first and
    in later audio chunks. ``torch_threads``: torch CPU threads (0 = leave torch's
    default). ``seed``: seeds every stream's sampling (None = random). ``sampling``:
    overrides of the model's generation config (keys of :class:`SamplingOptions`).
    ``warmup``: run a short phrase at load (on CUDA this also captures the frame graphs).
    ``cuda_graphs``: replay each frame as a captured CUDA graph on a GPU (False: the same
    steps run eagerly; slower, for comparison and troubleshooting).
    """
    import torch

    if first_chunk_frames < 1 or chunk_frames < 1:
        raise ConfigError("first_chunk_frames and chunk_frames must be at least 1")
    if torch_threads < 0:
        raise ConfigError(f"torch_threads = {torch_threads} must be 0 (default) or more")
    target_device, dtype = resolve_device(device)
    resolve_sampling(None, sampling)  # bad options fail before a download
    folder = model_folder(model)
    config = load_config(model, folder)
    model_type = getattr(config, "tts_model_type", None)
    if model_type != "base":
        raise ModelError(
            f"TTS model '{model}' is a {model_type or 'non-Qwen3-TTS'} model, not a *-Base model; "
            "only Base models take speaker embeddings"
        )
    if getattr(config, "tokenizer_type", None) != "qwen3_tts_tokenizer_12hz":
        raise ModelError(
            f"TTS model '{model}' uses tokenizer {config.tokenizer_type!r}; livevoice needs the 12 Hz one"
        )
    check_language(config, language)  # validate options before the slow load
    if torch_threads > 0:
        torch.set_num_threads(torch_threads)

    from qwen_tts import Qwen3TTSModel

    from livevoice.tts.qwen3 import Qwen3TtsEngine

    try:
        wrapper = Qwen3TTSModel.from_pretrained(str(folder), device_map=str(target_device), dtype=dtype)
    except (OSError, ValueError, KeyError, RuntimeError) as err:
        raise ModelError(f"cannot load TTS model '{model}': {first_line(err)}") from None
    wrapper.model.eval()
    engine = Qwen3TtsEngine(
        wrapper,
        model_id=model,
        language=language,
        first_chunk_frames=first_chunk_frames,
        chunk_frames=chunk_frames,
        sampling=resolve_sampling(getattr(wrapper.model, "generate_config", None), sampling),
        seed=seed,
        cuda_graphs=cuda_graphs,
    )
    if warmup:
        t0 = time.perf_counter()
        engine.warmup()
        log.info(
            "TTS warm-up took %.0f ms (%s)",
            (time.perf_counter() - t0) * 1000,
            "CUDA graphs" if engine.graphs_captured else f"no CUDA graphs, {engine.device.type}",
        )
    return engine


def load_from_config(
    config: TtsConfig, *, model: str | None = None, sampling: Mapping[str, Any] | None = None
) -> Qwen3TtsEngine:
    """:func:`load_qwen3_engine` with the options of the ``[tts]`` config section
    (``sampling`` overrides the model's generation config, as there)."""
    return load_qwen3_engine(
        model or config.model,
        device=config.device,
        first_chunk_frames=config.first_chunk_frames,
        chunk_frames=config.chunk_frames,
        torch_threads=config.torch_threads,
        language=config.language,
        seed=None if config.seed < 0 else config.seed,
        sampling=sampling,
        warmup=config.warmup,
        cuda_graphs=config.cuda_graphs,
    )


__all__ = [
    "check_language",
    "first_line",
    "import_qwen_tts",
    "load_config",
    "load_from_config",
    "load_qwen3_engine",
    "model_folder",
    "resolve_device",
]
