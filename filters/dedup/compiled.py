"""Whether a dedup kernel runs as its numba-compiled loop or as numpy array operations (same results).

numba's first use in a process costs about 0.6 s on a 2-vCPU Xeon (its import, then loading the cached machine
code into its target context), more than numpy takes for a few thousand documents. So a kernel runs compiled
once any kernel has been (the cost is paid) or when its input is large enough to repay it; `compiled=True` /
`False` forces either.
"""

from __future__ import annotations

import threading

#: at this many bytes of text (word hashes) or shingles (signatures), the compiled loop repays its loading:
#: numpy takes about 0.3 s a million of either, the compiled loops a twentieth of that after 0.6 s to load
COMPILED_FROM_BYTES = 5_000_000
COMPILED_FROM_SHINGLES = 1_000_000

_lock = threading.Lock()
_loaded = False


def use_compiled(size: int, threshold: int, compiled: bool | None = None) -> bool:
    """Whether to run the compiled loop for an input of `size` (bytes or shingles, as `threshold` counts)."""
    global _loaded
    with _lock:
        choice = compiled if compiled is not None else _loaded or size >= threshold
        _loaded |= choice
        return choice
