"""Network fair's link as a compiled event loop (numba), one realization after the other:
the vectorized form of :mod:`pssim.network.fair`. Imported on first use only, so that
nothing else pays for the compiler; compiled once, then cached on disk.

Per realization, the flows waiting to join are a heap by (instant, worker) and the
transferring flows a queue in join order (their keys never decrease), so an event costs
O(log N). The link's arithmetic is the SimPy processes' own functions, compiled, and the
loop takes the same steps at each instant as the SimPy link does when it wakes: set the
clock, end every flow due (docs/model.md, "Network", ties under fair), then let the flows
of that instant join and find when the next ends.

The same loop (:func:`_run`) follows a single iteration (:func:`follow`) and, from the
state the iteration before left, each iteration of a training run (:func:`carry`, with
:func:`drop` and :func:`abort` at the iteration's end): a worker's uplink sends its
messages of every iteration in order, one flow at a time.
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
def _push(at: np.ndarray, who: np.ndarray, size: int, time: float, worker: int) -> int:
    """Add (time, worker) to the heap of ``size`` entries, ordered by (time, worker); its
    new size."""
    i = size
    while i > 0:
        parent = (i - 1) >> 1
        if at[parent] < time or (at[parent] == time and who[parent] < worker):
            break
        at[i] = at[parent]
        who[i] = who[parent]
        i = parent
    at[i] = time
    who[i] = worker
    return size + 1


@_jit
def _sift(at: np.ndarray, who: np.ndarray, size: int, i: int, time: float,
          worker: int) -> None:
    """Put (time, worker) in the hole at ``i`` of the heap of ``size`` entries, moving it
    down to its place."""
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
        i = c
    at[i] = time
    who[i] = worker


@_jit
def _pop(at: np.ndarray, who: np.ndarray, size: int) -> int:
    """Remove the heap's least entry; its new size."""
    size -= 1
    _sift(at, who, size, 0, at[size], who[size])
    return size


@numba.njit(cache=True, inline="always")
def _next(flow: np.ndarray, model: np.ndarray, w: int, t: int, j: int, x: float,
          now: float, last: int, latency: float, current: np.ndarray, freed: np.ndarray,
          join_at: np.ndarray, join_worker: np.ndarray, waiting: int,
          now_worker: np.ndarray, joining: int) -> tuple[int, int]:
    """Worker ``w``'s uplink is free from ``x`` on: it begins its message j of iteration
    t (t at most ``last``, the last known) at max(its ready time, x), and the flow joins
    the link with those of ``now`` if it joins then, else it waits in the heap; with no
    such message the uplink is idle from ``x`` on. A message that would begin after
    ``model[t, w]``, when the next model reached the worker, is dropped with the rest of
    its iteration (whose ready times never decrease). The heap's and this instant's new
    sizes."""
    while t <= last:
        s = max(flow[t, w, j, 0], x)
        if s > model[t, w]:
            t += 1
            j = 0
            continue
        flow[t, w, j, 1] = s
        current[w, 0] = t
        current[w, 1] = j
        at = s + latency
        if at <= now:  # it joins now, with the others of this instant
            now_worker[joining] = w
            joining += 1
        else:
            waiting = _push(join_at, join_worker, waiting, at, w)
        return waiting, joining
    current[w, 0] = -1
    freed[w] = x
    return waiting, joining


@numba.njit(cache=True, inline="always")
def _run(flow: np.ndarray, model: np.ndarray, iteration: int, size: float,
         latency: float, rates: np.ndarray, pieces: np.ndarray, distinct: bool,
         threshold: int, seen: np.ndarray, halt: float, clocks: np.ndarray,
         counts: np.ndarray, keys: np.ndarray, flow_worker: np.ndarray,
         join_at: np.ndarray, join_worker: np.ndarray, current: np.ndarray,
         freed: np.ndarray, now_worker: np.ndarray) -> None:
    """One realization's link, from the state it was left in (see :func:`state`),
    through every instant up to ``halt`` or, with ``threshold`` > 0, the instant its
    master holds ``threshold`` messages of ``iteration`` (with ``distinct``, of that many
    distinct ``pieces``), if earlier. ``flow`` (iterations, N, m, 3) holds each message's
    ready, start and reception instants (+inf until known), for the iterations up to
    ``iteration``; ``model`` (iterations, N) drops messages as :func:`_next` says."""
    m = flow.shape[2]
    n = keys.shape[0]
    dust = FLUID_EPS * size
    clock, since, rate, end = clocks[0], clocks[1], clocks[2], clocks[3]
    head, count, waiting = counts[0], counts[1], counts[2]
    joining = 0
    held = 0
    if distinct:
        seen[:] = False
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
                head = head + 1 if head + 1 < n else 0
                count -= 1
                u = current[w, 0]
                j = current[w, 1]
                flow[u, w, j, 2] = t
                # Its uplink's next message: the next of this iteration, or the first
                # of the next.
                after, then = (u, j + 1) if j + 1 < m else (u + 1, 0)
                waiting, joining = _next(flow, model, w, after, then, t, t, iteration,
                                         latency, current, freed, join_at, join_worker,
                                         waiting, now_worker, joining)
                if threshold > 0 and u == iteration:
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
            joining += 1
            waiting = _pop(join_at, join_worker, waiting)
        for i in range(joining):
            tail = head + count
            if tail >= n:
                tail -= n
            keys[tail] = clock + size
            flow_worker[tail] = now_worker[i]
            count += 1
        joining = 0
        if count > 0:
            rate = rates[count]
            end = _finish_time(since, clock, keys[head], rate)
        else:
            end = np.inf
    clocks[0], clocks[1], clocks[2], clocks[3] = clock, since, rate, end
    counts[0], counts[1], counts[2] = head, count, waiting


@_jit
def _rates(n: int, cap: float, link: float) -> np.ndarray:
    """The share at each number of flows, each computed once by the SimPy link's
    function."""
    rates = np.empty(n + 1)
    for i in range(1, n + 1):
        rates[i] = _share_rate(i, cap, link)
    return rates


def state(reps: int, workers: int) -> tuple[np.ndarray, ...]:
    """The links of ``reps`` realizations, idle, in the order :func:`_run` takes them:
    ``clocks`` (the link's clock, the instant it was set, the rate since, when the head
    flow ends), ``counts`` (the ring's head, its flows, the heap's entries), the ring of
    transferring flows in join order (``keys``, ``flow_worker``), the heap of flows
    waiting to join by (instant, worker) (``join_at``, ``join_worker``), and per uplink
    the message of its flow, (iteration, message) or (-1, -1) when idle (``current``),
    and since when it has been idle (``freed``)."""
    clocks = np.zeros((reps, 4))
    clocks[:, 2:] = np.inf
    return (clocks, np.zeros((reps, 3), dtype=np.int64), np.empty((reps, workers)),
            np.empty((reps, workers), dtype=np.int64), np.empty((reps, workers)),
            np.empty((reps, workers), dtype=np.int64),
            np.full((reps, workers, 2), -1, dtype=np.int64),
            np.full((reps, workers), -np.inf))


@numba.njit(cache=True, inline="always")
def _begin(flow: np.ndarray, model: np.ndarray, iteration: int, latency: float,
           counts: np.ndarray, join_at: np.ndarray, join_worker: np.ndarray,
           current: np.ndarray, freed: np.ndarray, now_worker: np.ndarray) -> None:
    """Each idle uplink begins its first message of ``iteration``, now known: it joins
    the heap (the link has not reached its instant yet), built at once if it was
    empty."""
    # Gathered first (as if they all joined now), then put in the heap.
    begun = 0
    for w in range(current.shape[0]):
        if current[w, 0] < 0:
            _, begun = _next(flow, model, w, iteration, 0, freed[w], np.inf, iteration,
                             latency, current, freed, join_at, join_worker, 0, now_worker,
                             begun)
    waiting = counts[2]
    if waiting == 0:
        for i in range(begun):
            w = now_worker[i]
            join_at[i] = flow[iteration, w, 0, 1] + latency
            join_worker[i] = w
        for i in range(begun // 2 - 1, -1, -1):
            _sift(join_at, join_worker, begun, i, join_at[i], join_worker[i])
        waiting = begun
    else:
        for i in range(begun):
            w = now_worker[i]
            waiting = _push(join_at, join_worker, waiting, flow[iteration, w, 0, 1] + latency,
                            w)
    counts[2] = waiting


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
    clocks, counts = np.empty(4), np.empty(3, dtype=np.int64)
    keys, flow_worker = np.empty(n), np.empty(n, dtype=np.int64)
    join_at, join_worker = np.empty(n), np.empty(n, dtype=np.int64)
    current, freed = np.empty((n, 2), dtype=np.int64), np.empty(n)
    now_worker = np.empty(n, dtype=np.int64)  # the flows that join this instant
    seen = np.zeros(pieces.max() + 1 if distinct else 1, dtype=np.bool_)
    rates = _rates(n, cap, link)
    # Each worker's ready, start and reception instants side by side, so that the events
    # of a large cluster, which visit the workers in no order, touch one place per flow.
    flow = np.empty((1, n, m, 3))
    never = np.full((1, n), np.inf)  # no model cancels a single iteration's messages
    for k in range(reps):
        flow[0, :, :, 0] = ready[k]
        flow[0, :, :, 1:] = np.inf
        clocks[:2] = 0.0
        clocks[2:] = np.inf
        counts[:] = 0
        current[:] = -1
        freed[:] = -np.inf
        _begin(flow, never, 0, latency, counts, join_at, join_worker, current, freed,
               now_worker)
        _run(flow, never, 0, size, latency, rates, pieces, distinct, threshold, seen,
             stop[k], clocks, counts, keys, flow_worker, join_at, join_worker, current,
             freed, now_worker)
        start[k] = flow[0, :, :, 1]
        received[k] = flow[0, :, :, 2]
        if transferred.shape[0] > 0 and counts[1] > 0:
            # The bytes each flow transferring at stop[k] had sent, as the SimPy link's
            # abort computes them.
            now = _advance(clocks[0], clocks[1], stop[k], clocks[2])
            for i in range(counts[1]):
                place = counts[0] + i if counts[0] + i < n else counts[0] + i - n
                w = flow_worker[place]
                transferred[k, w, current[w, 1]] = _sent_bytes(size, keys[place], now)


@_jit
def carry(flow: np.ndarray, model: np.ndarray, iteration: int, size: float, cap: float,
          link: float, latency: float, pieces: np.ndarray, distinct: bool, threshold: int,
          clocks: np.ndarray, counts: np.ndarray, keys: np.ndarray,
          flow_worker: np.ndarray, join_at: np.ndarray, join_worker: np.ndarray,
          current: np.ndarray, freed: np.ndarray) -> None:
    """Iteration ``iteration`` of training runs: each realization k's link, from the
    state the iterations before left (see :func:`state`), through the instant its master
    holds ``threshold`` messages of that iteration (with ``distinct``, of that many
    distinct ``pieces``). ``flow`` (reps, iterations, N, m, 3) holds the ready, start and
    reception instants, this iteration's ready ones filled in, and ``model`` (reps,
    iterations, N) when the model after each iteration reached each worker under
    ``late_policy = cancel`` (+inf otherwise, and for the iterations not ended)."""
    n = flow.shape[2]
    rates = _rates(n, cap, link)
    seen = np.zeros(pieces.max() + 1 if distinct else 1, dtype=np.bool_)
    now_worker = np.empty(n, dtype=np.int64)
    for k in range(flow.shape[0]):
        _begin(flow[k], model[k], iteration, latency, counts[k], join_at[k], join_worker[k],
               current[k], freed[k], now_worker)
        _run(flow[k], model[k], iteration, size, latency, rates, pieces, distinct,
             threshold, seen, np.inf, clocks[k], counts[k], keys[k], flow_worker[k],
             join_at[k], join_worker[k], current[k], freed[k], now_worker)


@_jit
def drop(flow: np.ndarray, model: np.ndarray, iteration: int, counts: np.ndarray,
         join_at: np.ndarray, join_worker: np.ndarray, current: np.ndarray) -> None:
    """Under ``late_policy = cancel``, once ``model[k, iteration]`` is known: drop each
    message of that iteration waiting to begin after its worker received the next model
    (the rest of its iteration with it). Its uplink is then idle; since when does not
    matter, for the next iteration's messages are ready after the model."""
    for k in range(flow.shape[0]):
        size = counts[k, 2]
        kept = 0
        for i in range(size):
            w = join_worker[k, i]
            t, j = current[k, w, 0], current[k, w, 1]
            if t == iteration and flow[k, t, w, j, 1] > model[k, t, w]:
                flow[k, t, w, j, 1] = np.inf
                current[k, w] = -1
            else:
                join_at[k, kept] = join_at[k, i]
                join_worker[k, kept] = w
                kept += 1
        if kept < size:
            for i in range(kept // 2 - 1, -1, -1):
                _sift(join_at[k], join_worker[k], kept, i, join_at[k, i], join_worker[k, i])
            counts[k, 2] = kept


@_jit
def abort(flow: np.ndarray, end: np.ndarray, clocks: np.ndarray, counts: np.ndarray,
          join_worker: np.ndarray, current: np.ndarray, freed: np.ndarray) -> None:
    """Under ``cancel_transfers = abort``: at ``end[k]`` every flow of the iterations
    ended stops and every message of theirs not begun is dropped, which leaves each
    realization's link and uplinks idle."""
    for k in range(flow.shape[0]):
        for i in range(counts[k, 2]):
            w = join_worker[k, i]
            t, j = current[k, w, 0], current[k, w, 1]
            if flow[k, t, w, j, 1] > end[k]:
                flow[k, t, w, j, 1] = np.inf  # it would have begun after the end
        clocks[k, :2] = 0.0
        clocks[k, 2:] = np.inf
        counts[k] = 0
        current[k] = -1
        freed[k] = -np.inf
