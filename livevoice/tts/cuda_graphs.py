"""Capturing a stream's step functions as CUDA graphs (used by the frame stepper and the codec decoder).

A step function reads and writes only preallocated tensors, so one capture of its kernels
can be replayed for every frame or chunk. Captures happen one at a time in the process,
in "thread_local" mode: another stream keeps generating in its own thread meanwhile.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import torch

log = logging.getLogger(__name__)

_CAPTURE_LOCK = threading.Lock()


def capture_graphs(
    parts: Mapping[Any, Callable[[], None]],
    device: torch.device,
    *,
    reset: Callable[[], None],
    what: str,
    generator: torch.Generator | None = None,
) -> dict[Any, Any]:
    """Each of ``parts`` captured as a ``torch.cuda.CUDAGraph``, all sharing one memory pool
    (the caller never replays two at once).

    Before each capture: ``reset()`` (the state a part starts from), two warm-up runs on a
    side stream (kernels chosen and memory allocated outside the capture), ``reset()``
    again. ``generator``: the random generator the parts draw from, registered with every
    graph so each replay draws fresh numbers. When a capture fails: one warning naming
    ``what``, and ``{}``: the caller runs the parts eagerly (slower, same results).
    """
    import torch

    graphs: dict[Any, Any] = {}
    with _CAPTURE_LOCK:
        current = torch.cuda.current_stream(device)
        pool = None
        try:
            for name, part in parts.items():
                reset()
                side = torch.cuda.Stream(device)
                side.wait_stream(current)
                with torch.cuda.stream(side):
                    for _ in range(2):
                        part()
                current.wait_stream(side)
                reset()
                graph = torch.cuda.CUDAGraph()
                if generator is not None:
                    graph.register_generator_state(generator)
                with torch.cuda.graph(graph, pool=pool, capture_error_mode="thread_local"):
                    part()
                pool = graph.pool()
                graphs[name] = graph
            torch.cuda.synchronize(device)
        except RuntimeError as err:
            graphs.clear()
            torch.cuda.synchronize(device)
            log.warning("TTS: CUDA graph capture of the %s failed, it runs eagerly (slower): %s", what, err)
    return graphs


__all__ = ["capture_graphs"]
