"""Streaming Qwen3-TTS (12 Hz, *-Base models) conditioned on a speaker embedding.

qwen-tts's own ``generate`` produces every codec frame of a phrase before decoding any
audio. This module drives the same model classes one frame at a time:

1. **Prefix, once per voice.** The prompt is ``<|im_start|>assistant\\n`` (text track),
   then the codec track ``[think/nothink, think_bos, (language), think_eos]``, the
   speaker embedding as one position, and ``codec_pad`` (each summed with ``tts_pad``,
   the last with ``tts_bos``). None of it depends on the text, so its KV cache is
   computed once per (voice, language) and copied into each new phrase.
2. **First text position.** The first text token plus ``codec_bos``: one talker step gives
   the first codebook-0 token.
3. **Per frame.** The code predictor turns [talker hidden state, codebook-0 embedding]
   into codebooks 1-15 (15 small autoregressive steps); the 16 codebook embeddings are
   summed, the next text row is added (the next text token, then ``tts_eos`` once the
   text is final and read, then ``tts_pad``) and one talker step with the KV cache gives
   the next codebook-0 token. ``codec_eos`` ends the phrase.
4. **Audio.** Frames are decoded incrementally by :class:`~livevoice.tts.codec.StreamingCodecDecoder`:
   the first chunk after ``first_chunk_frames`` frames, then every ``chunk_frames``.

With greedy decoding this loop yields exactly the codes of qwen-tts's ``generate`` for the
same x-vector-only prompt (tested). Token choice uses the transformers logits processors
with the model's generation config (see :mod:`livevoice.tts.sampling`).

The step functions (:meth:`Qwen3TtsEngine._talker_step`, :meth:`Qwen3TtsEngine._predict_codes`)
take and return plain tensors and a cache object, so a static-cache / CUDA-graph version can
replace them without touching the stream logic.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import logging
import os
import sys
import threading
import time
from collections import OrderedDict
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from livevoice.errors import ConfigError, ModelError
from livevoice.frames import FloatArray
from livevoice.tts.engine import TtsChunk, TtsError, chunk_sizes
from livevoice.tts.sampling import SamplingOptions, build_processors, choose_token, resolve_sampling
from livevoice.tts.text_feed import END, PAD, WAIT, TextFeed

if TYPE_CHECKING:
    import torch

    from livevoice.config import TtsConfig

log = logging.getLogger(__name__)

SPEAKER_ENCODER_RATE = 24000
"""Sample rate (Hz) the speaker encoder takes."""
MIN_EMBEDDING_AUDIO_S = 0.5
"""Shortest audio (s) :meth:`Qwen3TtsEngine.extract_embedding` accepts."""
MIN_NEW_FRAMES = 2
"""The end token is suppressed for the first frames of a phrase (as in qwen-tts)."""
_PREFIX_CACHE_VOICES = 32
_ROLE_PROMPT = "<|im_start|>assistant\n"


@dataclass(frozen=True, slots=True)
class _VoicePrefix:
    """The text-independent start of the prompt for one voice, run through the talker once."""

    kv: tuple[tuple[Any, Any], ...]
    """Per talker layer, the (keys, values) of the prefix positions."""
    codec_bos: Any
    """``codec_bos`` embedding (1, 1, hidden), added to the first text row."""

    def new_cache(self) -> Any:
        """A fresh KV cache holding the prefix (the stored tensors are never modified)."""
        from transformers import DynamicCache

        return DynamicCache(ddp_cache_data=self.kv)


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


def _first_line(err: BaseException) -> str:
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


def _load_config(model: str) -> Any:
    """The model's Qwen3TTSConfig, or a one-line ModelError saying why it cannot be had."""
    import_qwen_tts()
    from qwen_tts.core.models import Qwen3TTSConfig

    folder = Path(model).expanduser()
    if folder.is_dir():
        if not (folder / "config.json").is_file():
            raise ModelError(f"cannot load TTS model '{model}': the folder has no config.json")
        source = str(folder)
    elif folder.exists():
        raise ModelError(f"cannot load TTS model '{model}': it is a file, not a model folder")
    elif _looks_like_path(model):
        raise ModelError(f"cannot load TTS model '{model}': no such folder")
    else:
        source = model
    try:
        return Qwen3TTSConfig.from_pretrained(source)
    except (OSError, ValueError) as err:
        if source == model and not folder.is_dir():
            raise ModelError(
                f"cannot load TTS model '{model}': not a local folder and it cannot be downloaded "
                f"({_first_line(err)})"
            ) from None
        raise ModelError(f"cannot load TTS model '{model}': {_first_line(err)}") from None


def check_language(config: Any, language: str) -> str:
    """``language`` lower-cased if the model (its Qwen3TTSConfig) supports it, else a ConfigError."""
    known = getattr(config.talker_config, "codec_language_id", None) or {}
    supported = ["auto", *(name for name in known if "dialect" not in name)]
    if language.lower() not in supported:
        raise ConfigError(f"TTS language {language!r} is not supported; supported: {', '.join(supported)}")
    return language.lower()


class Qwen3TtsEngine:
    """A loaded Qwen3-TTS Base model that streams speech in the voice of a speaker embedding.

    Build it with :func:`load_qwen3_engine`. Streams may run in different threads (they
    share the weights read-only and keep their own caches); each stream is iterated by
    one thread.
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
    ) -> None:
        import torch

        self._wrapper = wrapper
        self._model = wrapper.model
        self._talker = self._model.talker
        self._config = self._model.config
        self._talker_config = self._config.talker_config
        self.model_id = model_id
        self.device: torch.device = next(self._talker.parameters()).device
        self.dtype: torch.dtype = next(self._talker.parameters()).dtype
        self.embedding_dim = int(self._talker_config.hidden_size)
        tokenizer_model = self._model.speech_tokenizer.model
        self.sample_rate = int(tokenizer_model.get_output_sample_rate())
        self.samples_per_frame = int(tokenizer_model.get_decode_upsample_rate())
        self._codec_decoder = tokenizer_model.decoder
        self._text_tokenizer = wrapper.processor.tokenizer
        self.language = self._check_language(language)
        if first_chunk_frames < 1 or chunk_frames < 1:
            raise ConfigError("first_chunk_frames and chunk_frames must be at least 1")
        self.first_chunk_frames = first_chunk_frames
        self.chunk_frames = chunk_frames
        self.sampling = sampling or resolve_sampling(getattr(self._model, "generate_config", None))
        self.seed = seed
        self._num_groups = int(self._talker_config.num_code_groups)
        self._eos = int(self._talker_config.codec_eos_token_id)
        vocab = int(self._talker_config.vocab_size)
        self._suppress = [i for i in range(vocab - 1024, vocab) if i != self._eos]
        self._prefix_lock = threading.Lock()
        self._prefixes: OrderedDict[tuple[bytes, str], _VoicePrefix] = OrderedDict()
        role = self._text_tokenizer(_ROLE_PROMPT)["input_ids"]
        if len(role) != 3:
            raise ModelError(
                f"TTS model '{model_id}': its text tokenizer splits the role prompt "
                f"into {len(role)} tokens, not 3"
            )
        with torch.inference_mode():
            special = torch.tensor(
                [
                    [
                        self._config.tts_bos_token_id,
                        self._config.tts_eos_token_id,
                        self._config.tts_pad_token_id,
                    ]
                ],
                device=self.device,
            )
            rows = self._project_text(special)
            self._tts_bos, self._tts_eos, self._tts_pad = rows.chunk(3, dim=1)
            self._role_rows = self._project_text(torch.tensor([role], device=self.device))

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
        embedding = self._model.extract_speaker_embedding(samples, SPEAKER_ENCODER_RATE)
        return np.ascontiguousarray(embedding.float().cpu().numpy(), dtype=np.float32).reshape(-1)

    def warmup(self) -> None:
        """Run one short phrase so the first real phrase does not pay for lazy initialisation."""
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

    # ------------------------------------------------------------ model steps

    def _check_language(self, language: str) -> str:
        return check_language(self._config, language)

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

    def _project_text(self, ids: torch.Tensor) -> torch.Tensor:
        """Text-track rows (1, n, hidden) for token ids (1, n)."""
        return self._talker.text_projection(self._talker.get_text_embeddings()(ids))

    def _codec_rows(self, ids: list[int]) -> torch.Tensor:
        import torch

        return self._talker.get_input_embeddings()(torch.tensor([ids], device=self.device))

    def _tokenize(self, text: str) -> list[int]:
        """Token ids of ``text`` as qwen-tts tokenizes it inside the assistant prompt."""
        prompt = f"<|im_start|>assistant\n{text}<|im_end|>\n<|im_start|>assistant\n"
        ids: list[int] = self._text_tokenizer(prompt)["input_ids"]
        return ids[3:-5]

    def _text_row(self, step: int) -> torch.Tensor:
        """The text-track row (1, 1, hidden) for a :class:`TextFeed` step value."""
        import torch

        if step == END:
            return self._tts_eos
        if step == PAD:
            return self._tts_pad
        return self._project_text(torch.tensor([[step]], device=self.device))

    def _voice_prefix(self, embedding: torch.Tensor) -> _VoicePrefix:
        """The prefix KV cache for this voice and the engine language (computed once, then reused)."""
        import torch
        from transformers import DynamicCache

        key = (hashlib.sha1(embedding.float().cpu().numpy().tobytes()).digest(), self.language)
        with self._prefix_lock:
            cached = self._prefixes.get(key)
            if cached is not None:
                self._prefixes.move_to_end(key)
                return cached
        tc = self._talker_config
        if self.language == "auto":
            tags = [tc.codec_nothink_id, tc.codec_think_bos_id, tc.codec_think_eos_id]
        else:
            tags = [
                tc.codec_think_id,
                tc.codec_think_bos_id,
                tc.codec_language_id[self.language],
                tc.codec_think_eos_id,
            ]
        codec = torch.cat(
            [
                self._codec_rows(tags),
                embedding.view(1, 1, -1),
                self._codec_rows([tc.codec_pad_id, tc.codec_bos_id]),
            ],
            dim=1,
        )
        text_track = torch.cat([self._tts_pad.expand(-1, codec.shape[1] - 2, -1), self._tts_bos], dim=1)
        prefix = torch.cat([self._role_rows, text_track + codec[:, :-1]], dim=1)
        cache = DynamicCache()
        self._talker.model(inputs_embeds=prefix, past_key_values=cache, use_cache=True)
        kv = tuple((layer.keys, layer.values) for layer in cache.layers)
        entry = _VoicePrefix(kv=kv, codec_bos=codec[:, -1:])
        with self._prefix_lock:
            self._prefixes[key] = entry
            while len(self._prefixes) > _PREFIX_CACHE_VOICES:
                self._prefixes.popitem(last=False)
        return entry

    def _talker_step(self, embeds: torch.Tensor, cache: Any) -> tuple[torch.Tensor, torch.Tensor]:
        """One talker step: input rows (1, n, hidden) -> (last hidden (1, 1, hidden), logits (1, vocab))."""
        out = self._talker.model(inputs_embeds=embeds, past_key_values=cache, use_cache=True)
        hidden = out.last_hidden_state[:, -1:]
        return hidden, self._talker.codec_head(hidden)[:, -1]

    def _predict_codes(
        self, hidden: torch.Tensor, first_code: torch.Tensor, sampler: _Sampler
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Codebooks 1-15 for one frame.

        ``hidden`` (1, 1, hidden): the talker state that produced ``first_code`` (1, 1).
        Returns (codes (16,), summed codebook embeddings (1, 1, hidden)).
        """
        import torch
        from transformers import DynamicCache

        predictor = self._talker.code_predictor
        first_embed = self._talker.get_input_embeddings()(first_code)
        cache = DynamicCache()
        step_input = torch.cat([hidden, first_embed], dim=1)
        embeds = [first_embed]
        codes = [first_code]
        history = first_code.new_zeros((1, 0))
        for group in range(self._num_groups - 1):
            out = predictor.model(
                inputs_embeds=predictor.small_to_mtp_projection(step_input),
                past_key_values=cache,
                use_cache=True,
            )
            logits = predictor.lm_head[group](out.last_hidden_state[:, -1])
            code = sampler.predictor_token(logits, history)
            history = torch.cat([history, code], dim=1)
            step_input = predictor.get_input_embeddings()[group](code)
            embeds.append(step_input)
            codes.append(code)
        frame_embed = torch.cat(embeds, dim=1).sum(1, keepdim=True)
        return torch.cat(codes, dim=1)[0], frame_embed


class _Sampler:
    """Token choice for one stream: processors, history-free predictor choice, seeded generator."""

    def __init__(self, engine: Qwen3TtsEngine) -> None:
        import torch

        options = engine.sampling
        self.options = options
        self.generator = torch.Generator(device=engine.device)
        if engine.seed is None:
            self.generator.seed()
        else:
            self.generator.manual_seed(engine.seed)
        self.talker = build_processors(
            do_sample=options.do_sample,
            temperature=options.temperature,
            top_k=options.top_k,
            top_p=options.top_p,
            repetition_penalty=options.repetition_penalty,
            suppress_tokens=engine._suppress,
            eos_token_id=engine._eos,
            min_new_tokens=MIN_NEW_FRAMES,
            device=engine.device,
        )
        self.predictor = build_processors(
            do_sample=options.subtalker_dosample,
            temperature=options.subtalker_temperature,
            top_k=options.subtalker_top_k,
            top_p=options.subtalker_top_p,
            device=engine.device,
        )
        self.eos = engine._eos

    def talker_token(self, logits: torch.Tensor, history: torch.Tensor, *, allow_end: bool) -> torch.Tensor:
        if not allow_end:
            logits = logits.clone()
            logits[:, self.eos] = float("-inf")
        return choose_token(
            logits, history, self.talker, do_sample=self.options.do_sample, generator=self.generator
        )

    def predictor_token(self, logits: torch.Tensor, history: torch.Tensor) -> torch.Tensor:
        return choose_token(
            logits,
            history,
            self.predictor,
            do_sample=self.options.subtalker_dosample,
            generator=self.generator,
        )


class Qwen3TtsStream:
    """One phrase being spoken by a :class:`Qwen3TtsEngine` (see :class:`~livevoice.tts.engine.TtsStream`).

    Generation pauses (blocks) when the text is not final and every ready token has been
    read; the model never reads the end of the text or padding before :meth:`close`, and
    it may not end the phrase before then. Cancelling ends iteration within one frame.
    """

    def __init__(self, engine: Qwen3TtsEngine, embedding: torch.Tensor, text: str, *, final: bool) -> None:
        self._engine = engine
        self._embedding = embedding
        self._cond = threading.Condition()
        self._feed = TextFeed(engine._tokenize, text, final=final)
        self._cancelled = False
        self._started = False
        self._waiting = False
        self._frame_codes: list[np.ndarray] = []
        self.t_start_ns = 0
        self.t_first_audio_ns = 0
        self.frame_ready_ns: list[int] = []
        """Monotonic time (ns) at which each frame's 16 codes were ready."""

    # ----------------------------------------------------------- control (any thread)

    def append(self, text: str) -> None:
        """Extend the text (as given; include the separating space)."""
        with self._cond:
            if self._feed.final:
                raise TtsError("cannot append text to a phrase that was already closed")
            self._feed.append(text)
            self._cond.notify_all()

    def close(self) -> None:
        """The text is final. Closing a phrase that has no text cancels it and raises TtsError."""
        with self._cond:
            self._feed.close()
            empty = not self._feed.text.strip()
            if empty:
                self._cancelled = True
            self._cond.notify_all()
        if empty:
            raise TtsError("nothing to say: the phrase was closed without text")

    def cancel(self) -> None:
        """Stop generating; iteration ends within one frame, without a final chunk."""
        with self._cond:
            self._cancelled = True
            self._cond.notify_all()

    # ------------------------------------------------------------------ state

    @property
    def cancelled(self) -> bool:
        """True once :meth:`cancel` was called."""
        return self._cancelled

    @property
    def waiting_for_text(self) -> bool:
        """True while generation is paused because every ready token of an unfinished text was read."""
        with self._cond:
            return self._waiting

    def wait_until_waiting(self, timeout_s: float) -> bool:
        """Block until generation pauses for text (True) or ``timeout_s`` passes (False)."""
        with self._cond:
            return (
                self._cond.wait_for(lambda: self._waiting or self._cancelled, timeout=timeout_s)
                and self._waiting
            )

    @property
    def text(self) -> str:
        """The text so far."""
        with self._cond:
            return self._feed.text

    @property
    def frames_generated(self) -> int:
        """Codec frames generated so far."""
        return len(self._frame_codes)

    @property
    def codes(self) -> np.ndarray:
        """The codes generated so far, int64 ``(frames, 16)``."""
        if not self._frame_codes:
            return np.zeros((0, self._engine._num_groups), dtype=np.int64)
        return np.stack(self._frame_codes)

    # ------------------------------------------------------------- generation

    def __iter__(self) -> Iterator[TtsChunk]:
        if self._started:
            raise RuntimeError("a TTS stream can be iterated only once")
        self._started = True
        return self._generate()

    def _next_text(self, index: int) -> int | None:
        """The text step at ``index`` (token, END or PAD), waiting until it is ready; None if cancelled."""
        with self._cond:
            while True:
                if self._cancelled:
                    return None
                step = self._feed.step(index)
                if step != WAIT:
                    self._waiting = False
                    return step
                self._waiting = True
                self._cond.notify_all()
                self._cond.wait()

    def _text_final(self) -> bool:
        with self._cond:
            return self._feed.final

    def _generate(self) -> Iterator[TtsChunk]:
        import torch

        # As a decorator on a generator, inference mode is entered and left around each
        # step, so it does not leak into the consumer's code between chunks.
        return torch.inference_mode()(self._run)()

    def _run(self) -> Iterator[TtsChunk]:
        import torch

        from livevoice.tts.codec import StreamingCodecDecoder

        engine = self._engine
        first = self._next_text(0)
        if first is None or first < 0:  # cancelled (closing without text cancels)
            return
        self.t_start_ns = time.monotonic_ns()
        sampler = _Sampler(engine)
        prefix = engine._voice_prefix(self._embedding)
        cache = prefix.new_cache()
        hidden, logits = engine._talker_step(engine._text_row(first) + prefix.codec_bos, cache)
        history = torch.zeros((1, 0), dtype=torch.long, device=engine.device)
        code = sampler.talker_token(logits, history, allow_end=self._text_final())
        decoder = StreamingCodecDecoder(engine._codec_decoder)
        sizes = chunk_sizes(engine.first_chunk_frames, engine.chunk_frames)
        target = next(sizes)
        pending: list[torch.Tensor] = []
        index = 0
        text_index = 1
        while True:
            if self._cancelled:
                return
            if int(code) == engine._eos or self.frames_generated >= engine.sampling.max_new_tokens:
                yield self._chunk(decoder, pending, index, final=True)
                return
            history = torch.cat([history, code], dim=1)
            codes, frame_embed = engine._predict_codes(hidden, code, sampler)
            self._frame_codes.append(codes.cpu().numpy())
            self.frame_ready_ns.append(time.monotonic_ns())
            pending.append(codes)
            if len(pending) == target:
                if self._cancelled:
                    return
                yield self._chunk(decoder, pending, index, final=False)
                index += 1
                target = next(sizes)
                pending = []
            step = self._next_text(text_index)
            if step is None:
                return
            text_index += 1
            hidden, logits = engine._talker_step(frame_embed + engine._text_row(step), cache)
            code = sampler.talker_token(logits, history, allow_end=self._text_final())

    def _chunk(self, decoder: Any, pending: list[Any], index: int, *, final: bool) -> TtsChunk:
        import torch

        if pending:
            samples = decoder.decode(torch.stack(pending)).float().cpu().numpy()
        else:
            samples = np.zeros(0, dtype=np.float32)
        now = time.monotonic_ns()
        if self.t_first_audio_ns == 0 and len(samples):
            self.t_first_audio_ns = now
        audio: FloatArray = np.ascontiguousarray(samples, dtype=np.float32)
        return TtsChunk(
            samples=audio,
            sample_rate=self._engine.sample_rate,
            index=index,
            frames=len(pending),
            t_ns=now,
            final=final,
        )


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
) -> Qwen3TtsEngine:
    """Load a Qwen3-TTS *-Base model (hub id or local folder) as a streaming engine.

    ``device``: "auto" (CUDA with bf16 when available, else CPU float32), "cpu" or "cuda".
    ``first_chunk_frames`` / ``chunk_frames``: codec frames (80 ms each) in the first and
    in later audio chunks. ``torch_threads``: torch CPU threads (0 = leave torch's
    default). ``seed``: seeds every stream's sampling (None = random). ``sampling``:
    overrides of the model's generation config (keys of :class:`SamplingOptions`).
    ``warmup``: run a short phrase at load.

    Errors (one line): :class:`ModelError` for a model that cannot be found, downloaded
    or used (including non-Base variants); :class:`ConfigError` for bad options.
    """
    import torch

    if first_chunk_frames < 1 or chunk_frames < 1:
        raise ConfigError("first_chunk_frames and chunk_frames must be at least 1")
    if torch_threads < 0:
        raise ConfigError(f"torch_threads = {torch_threads} must be 0 (default) or more")
    target_device, dtype = resolve_device(device)
    config = _load_config(model)
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
    resolve_sampling(None, sampling)
    if torch_threads > 0:
        torch.set_num_threads(torch_threads)

    from qwen_tts import Qwen3TTSModel

    source = str(Path(model).expanduser()) if Path(model).expanduser().is_dir() else model
    try:
        wrapper = Qwen3TTSModel.from_pretrained(source, device_map=str(target_device), dtype=dtype)
    except (OSError, ValueError, KeyError, RuntimeError) as err:
        raise ModelError(f"cannot load TTS model '{model}': {_first_line(err)}") from None
    wrapper.model.eval()
    engine = Qwen3TtsEngine(
        wrapper,
        model_id=model,
        language=language,
        first_chunk_frames=first_chunk_frames,
        chunk_frames=chunk_frames,
        sampling=resolve_sampling(getattr(wrapper.model, "generate_config", None), sampling),
        seed=seed,
    )
    if warmup:
        t0 = time.perf_counter()
        engine.warmup()
        log.info("TTS warm-up took %.0f ms", (time.perf_counter() - t0) * 1000)
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
    )


__all__ = [
    "SPEAKER_ENCODER_RATE",
    "Qwen3TtsEngine",
    "Qwen3TtsStream",
    "load_from_config",
    "load_qwen3_engine",
    "resolve_device",
]
