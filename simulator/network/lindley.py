"""The Lindley recursion of a queue with one server and a constant service time, compiled:
it is sequential along the queue, and a step per position in Python costs more than the
arithmetic once a chunk holds few realizations (docs/performance.md, section 9).

Imported only where a vectorized run needs it, so that nothing else pays for numba.
"""

from __future__ import annotations

import numba
import numpy as np


@numba.njit("void(float64[:, ::1], float64, float64[::1], float64[:, ::1], float64[:, ::1])",
            cache=True, nogil=True)
def lindley(arrival: np.ndarray, service: float, free: np.ndarray, start: np.ndarray,
            leave: np.ndarray) -> None:
    """Each row a queue, served in the order of its columns by a server free from
    ``free[i]`` on (-inf: idle): ``start[i, k] = max(arrival[i, k], leave[i, k-1])`` and
    ``leave[i, k] = start[i, k] + service``, the same float operations in the same order
    as the SimPy engine's links. ``start`` may be ``leave`` itself where the starts are
    not wanted."""
    for i in range(arrival.shape[0]):
        last = free[i]
        for k in range(arrival.shape[1]):
            begin = arrival[i, k]
            if last > begin:
                begin = last
            start[i, k] = begin
            last = begin + service
            leave[i, k] = last
