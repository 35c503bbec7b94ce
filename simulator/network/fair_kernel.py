"""Network fair's link as a compiled event loop (numba), one realization after the other:
the vectorized form of :mod:`pssim.network.fair`. Imported on first use only, so that
nothing else pays for the compiler; compiled once, then cached on disk.

Per realization, the flows waiting to join are a heap by (instant, worker) and the
transferring flows a queue in join order (their keys never decrease), so an event costs
O(log N). The link's arithmetic is the SimPy processes' own functions, compiled, and the
loop takes the same steps at each instant as the SimPy link does when it wakes: set the
clock, end every flow due (docs/model.md, "Network", ties under fair), then let the flows
of that instant join and find when the next ends.
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
def _push(at: np.ndarray, who: np.ndarray, which: np.ndarray, size: int, time: float,
          worker: int, message: int) -> int:
    """Add (time, worker, message) to the heap of ``size`` entries, ordered by (time,
    worker); its new size."""
    i = size
    while i > 0:
        parent = (i - 1) >> 1
        if at[parent] < time or (at[parent] == time and who[parent] < worker):
            break
        at[i] = at[parent]
        who[i] = who[parent]
        which[i] = which[parent]
        i = parent
    at[i] = time
    who[i] = worker
    which[i] = message
    return size + 1


@_jit
def _sift(at: np.ndarray, who: np.ndarray, which: np.ndarray, size: int, i: int,
          time: float, worker: int, message: int) -> None:
    """Put (time, worker, message) in the hole at ``i`` of the heap of ``size`` entries,
    moving it down to its place."""
    while True:
        c = 2 * i + 1
        if c >= size:
            break
        if c + 1 < size and (at[c + 1] < at[c] or (at[c + 1] == at[c] and who[c + 1] < who[c])):
            c += 1
        if time < at[c] or (time == at[c] and worker < who[c]):
            break
        at[i] = at[c]
        who[i] = who[c]
        which[i] = which[c]
        i = c
    at[i] = time
    who[i] = worker
    which[i] = message


@_jit
def _pop(at: np.ndarray, who: np.ndarray, which: np.ndarray, size: int) -> int:
    """Remove the heap's least entry; its new size."""
    size -= 1
    _sift(at, who, which, size, 0, at[size], who[size], which[size])
    return size


@_jit
def follow(ready: np.ndarray, size: float, cap: float, link: float, latency: float,
           pieces: np.ndarray, distinct: bool, threshold: int, stop: np.ndarray,
           start: np.ndarray,
           received: np.ndarray, transferred: np.ndarray) -> None:
    """Fill ``start`` and ``received`` (reps, N, m; +inf for what never starts or is never
    received) with when each flow of ``size`` bytes ready at ``ready`` starts (at its
    ready time or, if later, when its worker's previous flow ends) and ends, each
    realization k followed up to the instant ``stop[k]`` or, with ``threshold`` > 0, the
    instant its master holds ``threshold`` messages, or with ``distinct`` messages of
    ``threshold`` distinct ``pieces`` (N, m), if earlier; where
    ``transferred`` has realizations, also the bytes each flow transferring at ``stop[k]``
    had sent then."""
    reps, n, m = ready.shape
    dust = FLUID_EPS * size
    join_at = np.empty(n)  # the heap of flows waiting to join: instant, worker, message
    join_worker = np.empty(n, dtype=np.int64)
    join_message = np.empty(n, dtype=np.int64)
    keys = np.empty(n)  # the transferring flows, a ring in join order
    flow_worker = np.empty(n, dtype=np.int64)
    flow_message = np.empty(n, dtype=np.int64)
    now_worker = np.empty(n, dtype=np.int64)  # the flows that join this instant
    now_message = np.empty(n, dtype=np.int64)
    seen = np.zeros(pieces.max() + 1 if distinct else 1, dtype=np.bool_)
    # Each worker's ready, start and reception instants side by side, so that the events
    # of a large cluster, which visit the workers in no order, touch one place per flow.
    flow = np.empty((n, m, 3))
    # The share at each number of flows, each computed once by the SimPy link's function.
    rates = np.empty(n + 1)
    for i in range(1, n + 1):
        rates[i] = _share_rate(i, cap, link)
    for k in range(reps):
        flow[:, :, 0] = ready[k]
        flow[:, :, 1:] = np.inf
        for w in range(n):
            flow[w, 0, 1] = ready[k, w, 0]
            join_at[w] = ready[k, w, 0] + latency
            join_worker[w] = w
            join_message[w] = 0
        waiting = n
        for i in range(n // 2 - 1, -1, -1):
            _sift(join_at, join_worker, join_message, n, i, join_at[i], join_worker[i],
                  join_message[i])
        if distinct:
            seen[:] = False
        joining = 0
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
                    flow[w, j, 2] = t
                    if j + 1 < m:
                        flow[w, j + 1, 1] = max(flow[w, j + 1, 0], t)
                        at = flow[w, j + 1, 1] + latency
                        if at <= t:  # it joins now, with the others of this instant
                            now_worker[joining] = w
                            now_message[joining] = j + 1
                            joining += 1
                        else:
                            waiting = _push(join_at, join_worker, join_message, waiting,
                                            at, w, j + 1)
                    if threshold > 0:
                        if distinct:
                            if seen[pieces[w, j]]:
                                continue
                            seen[pieces[w, j]] = True
                        held += 1
                        if held == threshold:
                            halt = min(halt, t)
                    continue
                rate = rates[count]
                if _finish_time(t, clock, key, rate) > t:
                    break
                clock = key
            if count == 0:
                clock = 0.0
            while waiting > 0 and join_at[0] <= t:
                now_worker[joining] = join_worker[0]
                now_message[joining] = join_message[0]
                joining += 1
                waiting = _pop(join_at, join_worker, join_message, waiting)
            for i in range(joining):
                tail = head + count
                if tail >= n:
                    tail -= n
                keys[tail] = clock + size
                flow_worker[tail] = now_worker[i]
                flow_message[tail] = now_message[i]
                count += 1
            joining = 0
            if count > 0:
                rate = rates[count]
                end = _finish_time(since, clock, keys[head], rate)
            else:
                end = np.inf
        start[k] = flow[:, :, 1]
        received[k] = flow[:, :, 2]
        if transferred.shape[0] > 0 and count > 0:
            now = _advance(clock, since, stop[k], rate)
            for i in range(count):
                place = head + i if head + i < n else head + i - n
                transferred[k, flow_worker[place], flow_message[place]] = _sent_bytes(
                    size, keys[place], now)
