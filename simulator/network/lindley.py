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


@numba.njit(cache=True, nogil=True)
def merge(waiting: np.ndarray, waiting_keys: np.ndarray, arrival: np.ndarray,
          order: np.ndarray, keys: np.ndarray, queue: np.ndarray, queue_keys: np.ndarray
          ) -> None:
    """Each row's queue in the order its link serves it: by arrival, equal arrivals by
    key. ``waiting`` is in that order already (padded with +inf at its end);
    ``arrival``'s columns are in the order of their ``keys`` (the same in every row),
    and ``order`` sorts each row
    (numpy's sort, not stable: equal arrivals are put back in column order here, in
    place); one pass then merges the two."""
    size = waiting.shape[1]
    count = arrival.shape[1]
    for i in range(arrival.shape[0]):
        row = arrival[i]
        o = order[i]
        for k in range(1, count):
            j = k
            while j > 0 and row[o[j]] == row[o[j - 1]] and o[j] < o[j - 1]:
                o[j], o[j - 1] = o[j - 1], o[j]
                j -= 1
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
                first = x < y or (x == y and waiting_keys[i, a] < keys[o[b]])
            if first:
                queue[i, k] = waiting[i, a]
                queue_keys[i, k] = waiting_keys[i, a]
                a += 1
            else:
                queue[i, k] = row[o[b]]
                queue_keys[i, k] = keys[o[b]]
                b += 1


@numba.njit(cache=True, nogil=True)
def backlog(queue: np.ndarray, queue_keys: np.ndarray, start: np.ndarray,
            leave: np.ndarray, until: np.ndarray, received: np.ndarray, drops: bool,
            free: np.ndarray, waiting: np.ndarray, waiting_keys: np.ndarray) -> None:
    """What each row's link carries past ``until[i]``: ``free[i]``, the departure of the
    last message whose service began before it (unchanged if none), and, in queue order,
    the messages whose service had not begun, but, with ``drops``, those whose reception
    is +inf in ``received`` (dropped, see :func:`deliver`); padded with +inf and the
    key -1."""
    _, iterations, _, messages = received.shape
    for i in range(queue.shape[0]):
        k = 0
        while k < queue.shape[1] and start[i, k] < until[i]:
            k += 1
        if k > 0:
            free[i] = leave[i, k - 1]
        w = 0
        for j in range(k, queue.shape[1]):
            if not np.isfinite(queue[i, j]):
                break  # the padding: nothing after it
            key = queue_keys[i, j]
            if not drops or np.isfinite(received[i, key // messages % iterations,
                                                 key // (iterations * messages),
                                                 key % messages]):
                waiting[i, w] = queue[i, j]
                waiting_keys[i, w] = queue_keys[i, j]
                w += 1
        for j in range(w, waiting.shape[1]):
            waiting[i, j] = np.inf
            waiting_keys[i, j] = -1


@numba.njit(cache=True, nogil=True)
def deliver(queue_keys: np.ndarray, leave: np.ndarray, received: np.ndarray) -> None:
    """Each row's departures ``leave`` into ``received[i, iteration, worker, message]``,
    by the keys of its queue, (worker·K + iteration)·m + message, K and m being
    ``received``'s; the padding (key -1) is left out."""
    _, iterations, _, messages = received.shape
    for i in range(queue_keys.shape[0]):
        for k in range(queue_keys.shape[1]):
            key = queue_keys[i, k]
            if key < 0:
                break  # the padding comes last
            received[i, key // messages % iterations, key // (iterations * messages),
                     key % messages] = leave[i, k]
