"""Network fair's link as a compiled event loop (numba), one realization after the other:
the vectorized form of :mod:`pssim.network.fair`. Imported on first use only, so that
nothing else pays for the compiler; compiled once, then cached on disk.

Per realization, the flows waiting to join are a heap by (instant, worker) and the
transferring flows a queue in join order (their keys never decrease), so an event costs
O(log N). The link's arithmetic is the SimPy processes' own functions, compiled, and the
loop takes the same steps at each instant as the SimPy link does when it wakes: set the
clock, end every flow due (docs/model.md, "Ties"), then let the flows of that instant
join and find when the next ends.
"""

from __future__ import annotations

import numba
import numpy as np

from pssim.network.fair import FLUID_EPS, advance, finish_time, sent_bytes, share_rate

_jit = numba.njit(cache=True)
_share_rate = _jit(share_rate)
_advance = _jit(advance)
_finish_time = _jit(finish_time)
_sent_bytes = _jit(sent_bytes)


@_jit
def _before(at: np.ndarray, who: np.ndarray, a: int, b: int) -> bool:
    return at[a] < at[b] or (at[a] == at[b] and who[a] < who[b])


@_jit
def _push(at: np.ndarray, who: np.ndarray, size: int, time: float, worker: int) -> int:
    i = size
    at[i] = time
    who[i] = worker
    while i > 0:
        parent = (i - 1) // 2
        if not _before(at, who, i, parent):
            break
        at[i], at[parent] = at[parent], at[i]
        who[i], who[parent] = who[parent], who[i]
        i = parent
    return size + 1


@_jit
def _pop(at: np.ndarray, who: np.ndarray, size: int) -> int:
    size -= 1
    at[0] = at[size]
    who[0] = who[size]
    i = 0
    while True:
        least = i
        for child in (2 * i + 1, 2 * i + 2):
            if child < size and _before(at, who, child, least):
                least = child
        if least == i:
            return size
        at[i], at[least] = at[least], at[i]
        who[i], who[least] = who[least], who[i]
        i = least


@_jit
def follow(ready: np.ndarray, size: float, cap: float, link: float, latency: float,
           pieces: np.ndarray, threshold: int, stop: np.ndarray, received: np.ndarray,
           transferred: np.ndarray) -> None:
    """Fill ``received`` (reps, N, m; +inf where nothing is received) with when each flow
    of ``size`` bytes ready at ``ready`` ends, each realization k followed up to the
    instant ``stop[k]`` or, with ``threshold`` > 0, the instant its master holds
    ``threshold`` distinct ``pieces`` (N, m), if earlier; where ``transferred`` has
    realizations, also the bytes each flow transferring at ``stop[k]`` had sent then."""
    reps, n, m = ready.shape
    dust = FLUID_EPS * size
    join_at = np.empty(n)  # the heap of flows waiting to join: instant and worker
    join_worker = np.empty(n, dtype=np.int64)
    keys = np.empty(n)  # the transferring flows, a ring in join order
    flow_worker = np.empty(n, dtype=np.int64)
    flow_message = np.empty(n, dtype=np.int64)
    message = np.empty(n, dtype=np.int64)  # each worker's next flow
    seen = np.zeros(pieces.max() + 1 if threshold > 0 else 1, dtype=np.bool_)
    for k in range(reps):
        waiting = 0
        for w in range(n):
            waiting = _push(join_at, join_worker, waiting, ready[k, w, 0] + latency, w)
            message[w] = 0
        seen[:] = False
        held = 0
        halt = stop[k]
        head = 0
        count = 0
        clock = 0.0
        since = 0.0
        rate = np.inf
        end = np.inf
        while True:
            t = join_at[0] if waiting > 0 else np.inf
            t = min(t, end)
            if t > halt or t == np.inf:
                break
            if count > 0:
                clock = keys[head] if t >= end else _advance(clock, since, t, rate)
            since = t
            while count > 0:
                key = keys[head]
                if key - clock <= dust:
                    w = flow_worker[head]
                    j = flow_message[head]
                    head = head + 1 if head + 1 < n else 0
                    count -= 1
                    received[k, w, j] = t
                    if j + 1 < m:
                        waiting = _push(join_at, join_worker, waiting,
                                        max(ready[k, w, j + 1], t) + latency, w)
                    if threshold > 0 and not seen[pieces[w, j]]:
                        seen[pieces[w, j]] = True
                        held += 1
                        if held == threshold:
                            halt = min(halt, t)
                    continue
                rate = _share_rate(count, cap, link)
                if _finish_time(t, clock, key, rate) > t:
                    break
                clock = key
            if count == 0:
                clock = 0.0
            while waiting > 0 and join_at[0] <= t:
                w = join_worker[0]
                waiting = _pop(join_at, join_worker, waiting)
                tail = head + count
                if tail >= n:
                    tail -= n
                keys[tail] = clock + size
                flow_worker[tail] = w
                flow_message[tail] = message[w]
                message[w] += 1
                count += 1
            if count > 0:
                rate = _share_rate(count, cap, link)
                end = _finish_time(since, clock, keys[head], rate)
            else:
                end = np.inf
        if transferred.shape[0] > 0 and count > 0:
            now = _advance(clock, since, stop[k], rate)
            for i in range(count):
                at = head + i if head + i < n else head + i - n
                transferred[k, flow_worker[at], flow_message[at]] = _sent_bytes(
                    size, keys[at], now)
