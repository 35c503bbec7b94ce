"""The Lindley recursion of a queue with one server and a constant service time, compiled:
it is sequential along the queue, and a step per position in Python costs more than the
arithmetic once a chunk holds few realizations (docs/performance.md, section 9). Training
runs carry the master's queue from one iteration into the next (``fifo.Queues``): the
queue's order by the tie rule (:func:`merge`), what waits past an iteration's end
(:func:`backlog`) and the receptions (:func:`deliver`) are compiled loops too.

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


@numba.njit(cache=True, nogil=True)
def merge(waiting: np.ndarray, waiting_keys: np.ndarray, counts: np.ndarray,
          arrival: np.ndarray, order: np.ndarray, keys: np.ndarray, received: np.ndarray,
          queue: np.ndarray, queue_keys: np.ndarray) -> None:
    """Each row's queue in the order its link serves it: by arrival, equal arrivals by
    the tie rule, lower worker, then earlier iteration, then earlier message. A key is a
    message's flat index into ``received[i]``, laid out (iteration, worker, message).
    The first ``counts[i]`` of ``waiting`` are in that order already; ``arrival``'s
    columns are one iteration's messages in (worker, message) order, with ``keys`` (the
    same in every row), and ``order`` sorts each row (numpy's sort, not stable: equal
    arrivals are put back in column order here, in place). One pass merges the two;
    the row's end is padded with +inf and the key -1."""
    workers, messages = received.shape[2], received.shape[3]
    count = arrival.shape[1]
    for i in range(arrival.shape[0]):
        row = arrival[i]
        o = order[i]
        for k in range(1, count):
            j = k
            while j > 0 and row[o[j]] == row[o[j - 1]] and o[j] < o[j - 1]:
                o[j], o[j - 1] = o[j - 1], o[j]
                j -= 1
        size = counts[i]
        a = 0
        b = 0
        for k in range(size + count):
            if b == count:
                first = True
            elif a == size:
                first = False
            else:
                x = waiting[i, a]
                y = row[o[b]]
                first = x < y or (x == y and _rank(waiting_keys[i, a], workers, messages)
                                  < _rank(keys[o[b]], workers, messages))
            if first:
                queue[i, k] = waiting[i, a]
                queue_keys[i, k] = waiting_keys[i, a]
                a += 1
            else:
                queue[i, k] = row[o[b]]
                queue_keys[i, k] = keys[o[b]]
                b += 1
        for k in range(size + count, queue.shape[1]):
            queue[i, k] = np.inf
            queue_keys[i, k] = -1


@numba.njit(cache=True, nogil=True)
def _rank(key: int, workers: int, messages: int) -> tuple[int, int, int]:
    """The tie rule's order of the message with this key: (worker, iteration, message)."""
    t, rest = divmod(key, workers * messages)
    w, j = divmod(rest, messages)
    return w, t, j


@numba.njit(cache=True, nogil=True)
def backlog(queue: np.ndarray, queue_keys: np.ndarray, start: np.ndarray,
            leave: np.ndarray, until: np.ndarray, received: np.ndarray, drops: bool,
            free: np.ndarray, waiting: np.ndarray, waiting_keys: np.ndarray,
            counts: np.ndarray) -> None:
    """What each row's link carries past ``until[i]``: ``free[i]``, the departure of the
    last message whose service began before it (unchanged if none), and, in queue order,
    the ``counts[i]`` messages whose service had not begun, but, with ``drops``, those
    whose reception (in ``received``, by key, see :func:`merge`) is +inf: dropped."""
    for i in range(queue.shape[0]):
        k = 0
        while k < queue.shape[1] and start[i, k] < until[i]:
            k += 1
        if k > 0:
            free[i] = leave[i, k - 1]
        w = 0
        for j in range(k, queue.shape[1]):
            key = queue_keys[i, j]
            if key < 0:
                break  # the padding: nothing after it
            if not drops or np.isfinite(received[i, key]):
                waiting[i, w] = queue[i, j]
                waiting_keys[i, w] = key
                w += 1
        counts[i] = w


@numba.njit(cache=True, nogil=True)
def deliver(queue_keys: np.ndarray, leave: np.ndarray, received: np.ndarray) -> None:
    """Each row's departures ``leave`` into ``received[i]``, by the keys of its queue
    (see :func:`merge`); the padding (key -1) is left out."""
    for i in range(queue_keys.shape[0]):
        for k in range(queue_keys.shape[1]):
            key = queue_keys[i, k]
            if key < 0:
                break  # the padding comes last
            received[i, key] = leave[i, k]
