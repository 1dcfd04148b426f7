"""Process-wide memory behaviour for bulk ingest: set once at the start of `ftbot ingest`."""

from __future__ import annotations

import contextlib
import sys


def return_freed_memory() -> None:
    """Make glibc hand large freed blocks back to the OS (a fixed M_MMAP_THRESHOLD of 128 KiB).

    Batches of tensors and spaCy arrays are freed, but glibc's adaptive threshold then serves later large
    blocks from a heap that fragments: a 100,000-message ingest peaked 1.42× higher than a 10,000-message one
    with no data kept; with this, 1.03× (bench/ingest_scale.py), at no measurable CPU cost to ingest.
    Not for answering: every forward pass then maps and faults in fresh pages for its activations, and
    generation took 1,282 ms instead of 1,034 ms per answer (bench/ask_latency.py, same run conditions).
    """
    if not sys.platform.startswith("linux"):
        return
    import ctypes

    with contextlib.suppress(OSError, AttributeError):  # not glibc (musl, …): nothing to tune
        ctypes.CDLL("libc.so.6").mallopt(-3, 128 * 1024)  # -3: M_MMAP_THRESHOLD
