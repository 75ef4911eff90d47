"""One codec frame of Qwen3-TTS from static buffers, captured as a CUDA graph on a GPU.

A frame is: the code predictor's 15 passes (codebooks 1-15 from the talker's hidden state
and codebook 0), the sum of the 16 codebook embeddings plus the next text row, one talker
step, and the choice of the next codebook-0 token. :class:`FrameStepper` holds everything
that step reads and writes in preallocated tensors (talker and predictor key/value
caches, the position, the tokens chosen so far, the codes of the phrase, the stream's
random generator) so the same sequence of kernels serves every frame:

- on CUDA it is captured once as a graph and each frame is one ``replay()`` (hundreds of
  kernels launched by one call, no Python in between, no host synchronisation);
- on the CPU the same functions run eagerly (the tests run this path against qwen-tts's
  own ``generate``).

Three graphs are captured: the whole frame (the usual case), and its two halves, used
when the next text row is not known yet (the phrase is still growing): the predictor half
runs at once so the frame's audio is not held back, the talker half once the text comes.

Where the host learns what the device chose: every frame's codes are copied (without
waiting) into pinned host memory and an event is recorded; the stream waits on the event
of the previous frame while the device already computes the next one, so the
end-of-speech token is read one frame late and the device never idles for it.

A stepper also holds the stream's incremental codec decoder
(:class:`~livevoice.tts.codec.StreamingCodecDecoder`, its chunk lengths captured the same
way). One stepper serves one stream at a time (its buffers are that stream's state);
:class:`StepperPool` gives each concurrent stream its own.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterable, Iterator
from typing import TYPE_CHECKING, Any

from livevoice.tts.codec import StreamingCodecDecoder
from livevoice.tts.cuda_graphs import capture_graphs
from livevoice.tts.model_steps import PREFIX_MAX_POSITIONS, Qwen3Steps, VoicePrefix
from livevoice.tts.sampling import SamplingOptions, TokenPicker

if TYPE_CHECKING:
    import torch

MIN_NEW_FRAMES = 2
"""The end token is held back for the first frames of a phrase (as in qwen-tts)."""
MAX_STEPPERS = 4
"""Most streams that generate at the same time; a further stream waits for one to finish."""


class FrameStepper:
    """Static buffers (and, on CUDA, graphs) for generating one stream's frames.

    ``frames``: the most frames a phrase may have (the sampling option
    ``max_new_tokens``). ``graphs``: capture CUDA graphs (CUDA only): the frame parts, and
    the codec decoder for chunks of ``codec_sizes`` frames.
    """

    def __init__(
        self,
        steps: Qwen3Steps,
        options: SamplingOptions,
        frames: int,
        *,
        graphs: bool,
        codec_sizes: Iterable[int] = (),
    ) -> None:
        import torch

        self.steps = steps
        self.options = options
        self.frames = frames
        device = steps.device
        self.device = device
        self.cuda = device.type == "cuda"
        groups = steps.num_groups
        self._groups = groups
        self._columns = torch.arange(groups, device=device)
        self.kv = steps.talker_cache(PREFIX_MAX_POSITIONS + frames + 2)
        self.predictor_kv = steps.predictor_cache()
        self.position = torch.zeros(1, dtype=torch.long, device=device)
        """Talker position the next step writes (device)."""
        self.frame = torch.zeros(1, dtype=torch.long, device=device)
        """Index of the frame the next predictor half fills (device)."""
        self.generated = torch.zeros(1, dtype=torch.long, device=device)
        """Codebook-0 tokens chosen so far in the phrase (device)."""
        self.seen = torch.zeros(steps.vocab_size, dtype=torch.bool, device=device)
        """Codebook-0 tokens chosen so far, as a mask (repetition penalty)."""
        self.allow_end = torch.ones(1, dtype=torch.bool, device=device)
        self._allow_end_value = True
        self.hidden = torch.zeros((1, 1, steps.hidden_size), dtype=steps.dtype, device=device)
        """The talker state that chose the current codebook-0 token."""
        self.frame_embed = torch.zeros_like(self.hidden)
        """The summed codebook embeddings of the last frame (zero before the first step)."""
        self.text_in = torch.zeros_like(self.hidden)
        """The text row the next talker step reads (set by the host before each launch)."""
        self._embeds = torch.zeros((1, groups, steps.hidden_size), dtype=steps.dtype, device=device)
        self.codes = torch.zeros((frames + 2, groups), dtype=torch.long, device=device)
        """Row i: the 16 codes of frame i (column 0 written by the talker step that chose it)."""
        self.host_codes = (
            torch.zeros(self.codes.shape, dtype=torch.long, pin_memory=True) if self.cuda else self.codes
        )
        """What the host reads: a pinned copy on CUDA (filled by :meth:`launch`), else the same tensor."""
        self.generator = torch.Generator(device=device)
        self._talker_picker = TokenPicker(
            vocab_size=steps.vocab_size,
            do_sample=options.do_sample,
            temperature=options.temperature,
            top_k=options.top_k,
            top_p=options.top_p,
            repetition_penalty=options.repetition_penalty,
            suppress_tokens=steps.suppressed_tokens,
            end_token=steps.end_token,
            min_new_tokens=MIN_NEW_FRAMES,
            device=device,
        )
        self._predictor_picker = TokenPicker(
            vocab_size=steps.predictor_vocab_size,
            do_sample=options.subtalker_dosample,
            temperature=options.subtalker_temperature,
            top_k=options.subtalker_top_k,
            top_p=options.subtalker_top_p,
            device=device,
        )
        self._events = [torch.cuda.Event() for _ in range(4)] if self.cuda else []
        self._launches = 0
        self._graphs: dict[str, Any] = {}
        self.parts: dict[str, Callable[[], None]] = {
            "frame": self._frame,
            "predict": self._predict,
            "talk": self._talk,
        }
        if graphs and self.cuda:
            self._capture()
        self.codec = StreamingCodecDecoder(steps.codec_decoder, graph_sizes=codec_sizes if graphs else ())
        """The stream's codec decoder (reset by :meth:`begin`)."""

    @property
    def captured(self) -> bool:
        """True when frames replay CUDA graphs."""
        return bool(self._graphs)

    # ------------------------------------------------------------ the device side

    def _predict(self) -> None:
        """Codebooks 1-15 of the current frame; their summed embeddings into ``frame_embed``."""
        import torch

        steps = self.steps
        groups = self._groups
        code0 = self.codes.view(-1).index_select(0, self.frame * groups).view(1, 1)
        first = steps.codec_embed(code0)
        self._embeds[:, :1].copy_(first)
        hidden = steps.predictor_forward(torch.cat([self.hidden, first], dim=1), self.predictor_kv, 0)
        tokens = [code0.view(1)]
        for group in range(groups - 1):
            logits = steps.predictor_logits(hidden[:, -1], group)
            token = self._predictor_picker.choose(logits, self.generator)
            tokens.append(token.view(1))
            embed = steps.predictor_embed(token, group)
            self._embeds[:, group + 1 : group + 2].copy_(embed)
            if group < groups - 2:
                hidden = steps.predictor_forward(embed, self.predictor_kv, 2 + group)
        self.frame_embed.copy_(self._embeds.sum(1, keepdim=True))
        self.codes.view(-1).index_copy_(0, self.frame * groups + self._columns, torch.cat(tokens))
        self.frame.add_(1)

    def _talk(self) -> None:
        """One talker step on ``frame_embed + text_in``; the next codebook-0 token into ``codes``."""
        steps = self.steps
        hidden = steps.talker_forward(self.frame_embed + self.text_in, self.kv, self.position)
        logits = steps.codec_logits(hidden)
        token = self._talker_picker.choose(logits, self.generator, self.seen, self.generated, self.allow_end)
        self.hidden.copy_(hidden)
        self.codes.view(-1).index_copy_(0, self.generated * self._groups, token.view(1))
        self.seen.index_fill_(0, token.view(1), True)
        self.generated.add_(1)
        self.position.add_(1)

    def _frame(self) -> None:
        self._predict()
        self._talk()

    def _capture(self) -> None:
        """Capture the three parts as CUDA graphs (one memory pool: they never run at once)."""
        self._graphs = capture_graphs(
            self.parts,
            self.device,
            reset=lambda: self._reset(PREFIX_MAX_POSITIONS),
            what="frame steps",
            generator=self.generator,
        )

    def _reset(self, position: int) -> None:
        self.position.fill_(position)
        self.frame.zero_()
        self.generated.zero_()
        self.seen.zero_()
        self.frame_embed.zero_()

    # -------------------------------------------------------------- the host side

    def begin(self, prefix: VoicePrefix, first_row: torch.Tensor, seed: int | None) -> Any:
        """Start a phrase: the voice's prompt cache, then the first talker step on ``first_row``.

        ``first_row`` ``(1, 1, hidden)``: the first text row plus ``codec_bos``. Returns the
        event after which codebook 0 of frame 0 is readable (see :meth:`wait`).
        """
        if seed is None:
            self.generator.seed()
        else:
            self.generator.manual_seed(seed)
        self.kv[:, :, :, : prefix.length].copy_(prefix.kv)
        self._reset(prefix.length)
        self.codec.reset()
        self.set_allow_end(True)
        self.text_in.copy_(first_row)
        return self.launch("talk", 0)

    def set_text(self, row: torch.Tensor) -> None:
        """The text row ``(1, 1, hidden)`` the next talker step reads."""
        self.text_in.copy_(row)

    def set_allow_end(self, allow: bool) -> None:
        """Whether the next talker step may choose the end token (only once the text is final)."""
        if allow != self._allow_end_value:
            self.allow_end.fill_(allow)
            self._allow_end_value = allow

    def launch(self, part: str, frame: int) -> Any:
        """Run ``part`` ("frame", "predict" or "talk") for frame ``frame`` without waiting.

        Returns an event (CUDA; None on the CPU, where everything has happened on return)
        after which rows ``frame`` and ``frame + 1`` of :attr:`host_codes` are readable.
        """
        import torch

        graph = self._graphs.get(part)
        if graph is not None:
            graph.replay()
        else:
            self.parts[part]()
        if not self.cuda:
            return None
        rows = slice(frame, frame + 2)
        self.host_codes[rows].copy_(self.codes[rows], non_blocking=True)
        # A ring of events: the stream waits on at most the last two launches.
        event = self._events[self._launches % len(self._events)]
        self._launches += 1
        event.record(torch.cuda.current_stream(self.device))
        return event

    @staticmethod
    def wait(event: Any) -> None:
        """Block until a :meth:`launch` is done (no-op on the CPU)."""
        if event is not None:
            event.synchronize()


class StepperPool:
    """Frame steppers for concurrent streams: each stream has its own buffers and graphs.

    Two streams at once (a typed phrase while speech is converted, or two programs'
    requests) never share a buffer: a stream takes a free stepper, or makes one (up to
    :data:`MAX_STEPPERS`), and waits only when that many generate already. A stepper whose
    sampling options or frame cap no longer match the engine's is rebuilt.
    """

    def __init__(self, steps: Qwen3Steps, *, graphs: bool, codec_sizes: Iterable[int] = ()) -> None:
        self.steps = steps
        self.graphs = graphs
        self.codec_sizes = tuple(codec_sizes)
        self._free: list[FrameStepper] = []
        self._made = 0
        self._cond = threading.Condition()
        self.captured = False
        """True once a stepper was captured as CUDA graphs."""
        self.codec_captured: tuple[int, ...] = ()
        """Chunk lengths (frames) the codec decoder of the newest stepper replays as graphs."""

    @property
    def size(self) -> int:
        """Steppers that exist (free or in use)."""
        with self._cond:
            return self._made

    @contextlib.contextmanager
    def stepper(self, options: SamplingOptions) -> Iterator[FrameStepper]:
        """A stepper for ``options`` for the duration of the block."""
        stepper = self._take(options)
        try:
            yield stepper
        finally:
            with self._cond:
                self._free.append(stepper)
                self._cond.notify()

    def _take(self, options: SamplingOptions) -> FrameStepper:
        with self._cond:
            while True:
                for index, stepper in enumerate(self._free):
                    if stepper.options == options:
                        return self._free.pop(index)
                if self._free:  # a stepper for other options: replace it
                    self._free.pop(0)
                    self._made -= 1
                if self._made < MAX_STEPPERS:
                    self._made += 1
                    break
                self._cond.wait()
        try:
            stepper = FrameStepper(
                self.steps, options, options.max_new_tokens, graphs=self.graphs, codec_sizes=self.codec_sizes
            )
            self.captured = self.captured or stepper.captured
            self.codec_captured = stepper.codec.captured_sizes
            return stepper
        except BaseException:
            with self._cond:
                self._made -= 1
                self._cond.notify()
            raise


__all__ = ["MAX_STEPPERS", "MIN_NEW_FRAMES", "FrameStepper", "StepperPool"]
