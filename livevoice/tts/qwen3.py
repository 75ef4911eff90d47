"""Streaming Qwen3-TTS (12 Hz, *-Base models) conditioned on a speaker embedding.

qwen-tts's own ``generate`` produces every codec frame of a phrase before decoding any
audio. livevoice drives the same model one frame at a time and yields audio after the
first one or two frames. The parts, by concern:

- :mod:`livevoice.tts.loading`: finding, validating and loading a model (one-line errors);
- :mod:`livevoice.tts.model_steps`: the only module that touches qwen-tts internals: the
  talker and code-predictor steps over static key/value caches, embeddings, the speaker
  encoder (checked at load);
- :mod:`livevoice.tts.frame_step`: one frame from preallocated buffers, captured as a
  CUDA graph on a GPU; a pool gives concurrent streams their own buffers;
- :mod:`livevoice.tts.sampling`: token choice with torch operations on the device;
- :mod:`livevoice.tts.stream`: the per-phrase loop (text in, chunks out);
- :mod:`livevoice.tts.codec`: incremental, exact decoding of frames into audio.

This module is the engine those parts make: :class:`Qwen3TtsEngine` holds the loaded
model, the per-voice prompt cache and the frame steppers, and opens streams. With greedy
decoding the streams yield exactly the codes of qwen-tts's ``generate`` for the same
x-vector-only prompt (tested).
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from typing import TYPE_CHECKING, Any

import numpy as np

from livevoice.errors import ConfigError
from livevoice.tts.codec import codec_graph_sizes
from livevoice.tts.engine import TtsError
from livevoice.tts.frame_step import StepperPool
from livevoice.tts.loading import (
    check_language,
    import_qwen_tts,
    load_from_config,
    load_qwen3_engine,
    resolve_device,
)
from livevoice.tts.model_steps import Qwen3Steps, VoicePrefix
from livevoice.tts.sampling import SamplingOptions, resolve_sampling
from livevoice.tts.stream import Qwen3TtsStream

if TYPE_CHECKING:
    import torch

SPEAKER_ENCODER_RATE = 24000
"""Sample rate (Hz) the speaker encoder takes."""
MIN_EMBEDDING_AUDIO_S = 0.5
"""Shortest audio (s) :meth:`Qwen3TtsEngine.extract_embedding` accepts."""
_PREFIX_CACHE_VOICES = 32


class Qwen3TtsEngine:
    """A loaded Qwen3-TTS Base model that streams speech in the voice of a speaker embedding.

    Build it with :func:`~livevoice.tts.loading.load_qwen3_engine`. Streams may run in
    different threads: they share the weights read-only and each has its own frame
    stepper (buffers, caches, CUDA graphs); each stream is iterated by one thread.
    """

    def __init__(
        self,
        wrapper: Any,
        *,
        model_id: str,
        language: str = "auto",
        first_chunk_frames: int = 2,
        chunk_frames: int = 4,
        sampling: SamplingOptions | None = None,
        seed: int | None = None,
        cuda_graphs: bool = True,
    ) -> None:
        self._wrapper = wrapper
        self._model = wrapper.model
        self.steps = Qwen3Steps(wrapper.model, wrapper.processor.tokenizer)
        self.model_id = model_id
        self.device: torch.device = self.steps.device
        self.dtype: torch.dtype = self.steps.dtype
        self.embedding_dim = self.steps.hidden_size
        self.sample_rate = self.steps.sample_rate
        self.samples_per_frame = self.steps.samples_per_frame
        self.language = check_language(self._model.config, language)
        if first_chunk_frames < 1 or chunk_frames < 1:
            raise ConfigError("first_chunk_frames and chunk_frames must be at least 1")
        self.first_chunk_frames = first_chunk_frames
        self.chunk_frames = chunk_frames
        self.sampling = sampling or resolve_sampling(getattr(self._model, "generate_config", None))
        self.seed = seed
        self.paced_frames_per_char: float | None = None
        """None: the model ends each phrase. For random-weight models (tests, benchmarks): a
        phrase may not end before the model has read its whole text, and ends once it has this
        many frames per character of text (0.8: 15.6 characters/s, a speaker's pace), or one
        frame after reading it when its text has more tokens than that. A trained model ends
        once it has said its text; a random one anywhere, or never: paced, its phrases are as
        long as their text, however the text reached it (all at once or appended)."""
        self.steppers = StepperPool(
            self.steps,
            graphs=cuda_graphs and self.device.type == "cuda",
            codec_sizes=codec_graph_sizes(first_chunk_frames, chunk_frames),
        )
        self._prefix_lock = threading.Lock()
        self._prefixes: OrderedDict[tuple[bytes, str], VoicePrefix] = OrderedDict()

    # ----------------------------------------------------------------- public API

    def open(self, embedding: np.ndarray, text: str = "", *, final: bool = True) -> Qwen3TtsStream:
        """Start a phrase in the voice ``embedding`` (float32 ``(embedding_dim,)``); see Qwen3TtsStream."""
        vector = self._check_embedding(embedding)
        if final and not text.strip():
            raise TtsError("nothing to say: the text is empty")
        return Qwen3TtsStream(self, vector, text, final=final)

    def extract_embedding(self, audio: np.ndarray, sample_rate: int) -> np.ndarray:
        """Speaker embedding (float32 ``(embedding_dim,)``) of a recording, by the model's speaker encoder.

        ``audio``: ``(samples,)`` or ``(samples, channels)`` (averaged to mono) at
        ``sample_rate`` Hz (resampled to 24 kHz with soxr); at least 0.5 s.
        """
        from livevoice.audio.resample import resample

        samples = np.asarray(audio, dtype=np.float32)
        if samples.ndim == 2:
            samples = samples.mean(axis=1, dtype=np.float32)
        elif samples.ndim != 1:
            raise TtsError(f"audio has shape {samples.shape}; expected (samples,) or (samples, channels)")
        if sample_rate <= 0:
            raise TtsError(f"sample rate {sample_rate} Hz is not positive")
        duration_s = len(samples) / sample_rate
        if duration_s < MIN_EMBEDDING_AUDIO_S:
            raise TtsError(
                f"audio of {duration_s:.2f} s is too short for a voice; "
                f"need at least {MIN_EMBEDDING_AUDIO_S} s"
            )
        if not np.all(np.isfinite(samples)):
            raise TtsError("audio contains NaN or infinite samples")
        samples = resample(np.ascontiguousarray(samples), sample_rate, SPEAKER_ENCODER_RATE)
        samples = np.clip(samples, -1.0, 1.0)
        embedding = self.steps.speaker_embedding(samples, SPEAKER_ENCODER_RATE)
        return np.ascontiguousarray(embedding.float().cpu().numpy(), dtype=np.float32).reshape(-1)

    def warmup(self) -> None:
        """Run one short phrase so the first real phrase does not pay for lazy initialisation
        (on CUDA: the frame and codec graphs are captured here)."""
        rng = np.random.default_rng(0)
        embedding = (0.05 * rng.standard_normal(self.embedding_dim)).astype(np.float32)
        stream = self.open(embedding, "Hello.")
        for chunk in stream:
            if chunk.index >= 1:
                stream.cancel()
        with self._prefix_lock:
            self._prefixes.clear()

    @property
    def cached_voices(self) -> int:
        """Number of voices whose prompt prefix is cached."""
        with self._prefix_lock:
            return len(self._prefixes)

    @property
    def graphs_captured(self) -> bool:
        """True once a stream ran on captured CUDA graphs."""
        return self.steppers.captured

    # ------------------------------------------------------------ for the streams

    def voice_prefix(self, embedding: torch.Tensor) -> VoicePrefix:
        """The prompt cache for this voice and the engine language (computed once, then reused)."""
        key = (hashlib.sha1(embedding.float().cpu().numpy().tobytes()).digest(), self.language)
        with self._prefix_lock:
            cached = self._prefixes.get(key)
            if cached is not None:
                self._prefixes.move_to_end(key)
                return cached
        entry = self.steps.voice_prefix(embedding, self.language)
        with self._prefix_lock:
            self._prefixes[key] = entry
            while len(self._prefixes) > _PREFIX_CACHE_VOICES:
                self._prefixes.popitem(last=False)
        return entry

    def _check_embedding(self, embedding: np.ndarray) -> torch.Tensor:
        import torch

        array = np.asarray(embedding, dtype=np.float32)
        if array.ndim != 1 or array.shape[0] != self.embedding_dim:
            raise TtsError(
                f"speaker embedding has {array.size} values {tuple(array.shape)} but model '{self.model_id}' "
                f"takes {self.embedding_dim}"
            )
        if not np.all(np.isfinite(array)):
            raise TtsError("speaker embedding contains NaN or infinite values")
        return torch.from_numpy(array.copy()).to(self.device, self.dtype)


__all__ = [
    "SPEAKER_ENCODER_RATE",
    "Qwen3TtsEngine",
    "Qwen3TtsStream",
    "import_qwen_tts",
    "load_from_config",
    "load_qwen3_engine",
    "resolve_device",
]
