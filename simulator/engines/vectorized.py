"""The vectorized engine: the same iterations as the SimPy engine, as array operations over
all realizations at once (docs/model.md, "Engines").

Exact where the network discipline has a recursion (its ``arrays``): order statistics of
the ready times without a network, the Lindley recursion under ``fifo``, the link's events
in time order under ``fair``. Training runs: under ``none``, and under ``fifo`` and
``fair``, whose links carry their state from one iteration into the next
(``Discipline.links``).
Times come from the same float expressions as in the SimPy engine, so the two agree
realization by realization.
"""

from __future__ import annotations

import numpy as np

from pssim.engines.base import Engine, Outcome, TraceRow
from pssim.network import Discipline
from pssim.network.base import DecodingRule
from pssim.schemes import Scheme
from pssim.training import Training

#: Realizations of a training run whose links carry their state, run together: more
#: would let the queues of an iteration outgrow the processor's caches (at N = 40, r = 4,
#: the cost per realization doubled from 500 to 2,000 at once).
_BLOCK = 256


class Vectorized(Engine):
    """numpy over realizations: disciplines that declare an exact recursion, no trace."""

    name = "vectorized"

    def unsupported(self, network: Discipline, trace: bool,
                    training: Training | None = None) -> str | None:
        if (training is not None and not training.single and not network.independent_messages
                and not network.carries):
            return ("the vectorized engine runs training runs only where messages never wait "
                    "for one another (network none) or the links' state carries from one "
                    f"iteration into the next (fifo, fair), not under network {network.name!r}")
        if trace:
            return "the vectorized engine gives no event trace"
        if self.name not in network.engines:
            return f"the vectorized engine has no exact recursion for network {network.name!r}"
        return None

    def simulate(self, scheme: Scheme, network: Discipline, finish: list[np.ndarray],
                 first_rep: int = 0, trace: list[TraceRow] | None = None,
                 training: Training | None = None,
                 receptions: list[np.ndarray] | None = None) -> Outcome:
        """As :meth:`Engine.simulate`; with ``receptions``, each chunk also appends when
        the master received each message, (reps, K, N, messages per worker), for what
        needs to know which messages it held (coded gradient descent)."""
        if training is None or training.single:
            return self.iteration(scheme, network, finish[0], receptions,
                                  training is not None and training.aborts)
        if network.independent_messages:
            return self.training_run(scheme, network, finish, training, receptions)
        # Links that carry their state: a block of realizations at a time, whose queues
        # stay in cache (each realization's are its own, so results do not change).
        reps, iterations = finish[0].shape[0], len(finish)
        out = Outcome.empty(reps * iterations)
        parts: list[np.ndarray] = []
        for first in range(0, reps, _BLOCK):
            last = min(reps, first + _BLOCK)
            out[first * iterations : last * iterations] = self.training_run(
                scheme, network, [f[first:last] for f in finish], training,
                None if receptions is None else parts)
        if receptions is not None:
            receptions.append(np.concatenate(parts))
        return out

    def training_run(self, scheme: Scheme, network: Discipline, finish: list[np.ndarray],
                     training: Training, receptions: list[np.ndarray] | None = None
                     ) -> Outcome:
        """K iterations of each realization, one iteration after the other, all
        realizations at once. Where messages never wait for one another, iteration t
        depends on the ones before only through when each worker begins it; otherwise the
        discipline's :meth:`~Discipline.links` carry the links' state from one iteration
        into the next."""
        iterations = len(finish)
        reps, n, _ = finish[0].shape
        g = scheme.group
        links = (None if network.independent_messages
                 else network.links(reps, iterations, DecodingRule(
                     scheme.labels(), scheme.threshold, scheme.count_rule)))
        completion = _Completion(scheme, reps)
        out = Outcome.empty(reps * iterations)
        start = np.zeros(reps)
        begin = np.zeros((reps, n))
        # Every iteration's computations in one allocation, which the system backs with
        # large pages: as many small fresh arrays cost more in page faults than in
        # arithmetic.
        computed = np.empty((iterations, *finish[0].shape))
        sent_by: list[np.ndarray] = []
        received_by: list[np.ndarray] = []
        ends: list[np.ndarray] = []
        models: list[np.ndarray] = []  # when each worker receives the model of t + 1
        for t in range(iterations):
            finished = np.add(begin[:, :, None], finish[t], out=computed[t])
            last = finished[:, :, -1]
            ready = finished if g == 1 else finished[:, :, g - 1 :: g]
            if links is None:
                sent, received = network.arrays(
                    ready, identify=receptions is not None or not scheme.count_rule)
            else:
                sent, received = links.send(ready)
            end = completion(received.reshape(reps, -1))
            bound = end[:, None]
            rows = slice(t, None, iterations)
            out.start[rows] = start
            out.end[rows] = end
            out.completion_time[rows] = end - start
            out.aborted_bytes[rows] = (_in_order(network.transferred(ready, sent, received, end))
                                       if training.aborts else 0.0)
            counts: dict[int, np.ndarray] = {}
            # Without a network the three arrays are often one and the same: count once.
            for column, times in ((out.messages, received), (out.messages_sent, sent),
                                  (out.computations, finished)):
                if id(times) not in counts:
                    counts[id(times)] = np.count_nonzero(times.reshape(reps, -1) <= bound,
                                                         axis=1)
                column[rows] = counts[id(times)]
            sent_by.append(sent)
            received_by.append(received)
            ends.append(end)
            start = end + training.decode_time
            if t + 1 < iterations:
                reception = training.receptions(start, n)
                models.append(reception)
                begin = (reception if training.late_policy == "cancel"
                         else np.maximum(reception, last))
            if links is not None:
                links.end(end, training.aborts,
                          models[t] if training.late_policy == "cancel" and t + 1 < iterations
                          else None)
        final = ends[-1][:, None, None]
        for t in range(iterations):
            if training.aborts:
                # Aborted at T_t, or never begun after it: no message arrives late.
                out.late_messages[t::iterations] = 0
                continue
            # The links may have revised receptions after T_t: they are final only now.
            received = received_by[t]
            late = (received > ends[t][:, None, None]) & (received <= final)
            if training.late_policy == "cancel" and t + 1 < iterations:
                # What had not begun when the next model came was dropped.
                late &= sent_by[t] <= models[t][:, :, None]
            out.late_messages[t::iterations] = np.count_nonzero(late.reshape(reps, -1),
                                                                axis=1)
        if receptions is not None:
            receptions.append(np.stack(received_by, axis=1))
        return out

    def iteration(self, scheme: Scheme, network: Discipline, finish: np.ndarray,
                  receptions: list[np.ndarray] | None = None, aborts: bool = False
                  ) -> Outcome:
        """One iteration of each realization of ``finish`` (shape (reps, N, r)); with
        ``aborts``, the bytes its transmissions in flight at T had transferred."""
        g = scheme.group
        # Message j is ready when computation (j+1)·g ends.
        ready = finish if g == 1 else finish[:, :, g - 1 :: g]
        reps = finish.shape[0]
        # What is in flight at T needs each message's own reception.
        sent, received = network.arrays_until(
            ready, receptions is not None or not scheme.count_rule or aborts,
            DecodingRule(scheme.labels(), scheme.threshold, scheme.count_rule))
        if receptions is not None:
            receptions.append(received[:, None])
        t = _Completion(scheme, reps)(received.reshape(reps, -1))
        bound = t[:, None]
        counts: dict[int, np.ndarray] = {}
        # Without a network the three arrays are often one and the same: count each once.
        for times in (received, sent, finish):
            if id(times) not in counts:
                counts[id(times)] = np.count_nonzero(times.reshape(reps, -1) <= bound, axis=1)
        aborted = (_in_order(network.transferred(ready, sent, received, t)) if aborts
                   else np.zeros(reps))
        return Outcome.single(t, counts[id(received)], counts[id(sent)], counts[id(finish)],
                              aborted)


def _in_order(per_message: np.ndarray) -> np.ndarray:
    """Each realization's sum over its messages in (worker, message) order, one addition
    after the other as the SimPy engine adds them (a cumulative sum never pairs terms),
    so that the two engines agree to the bit."""
    return np.cumsum(per_message.reshape(per_message.shape[0], -1), axis=1)[:, -1]


class _Completion:
    """The instant the master holds ``threshold`` distinct pieces, for ``reps``
    realizations at a time; one working array serves every call (a training run's
    iterations), for fresh memory costs more than the ranking itself."""

    def __init__(self, scheme: Scheme, reps: int) -> None:
        labels = scheme.labels().ravel()
        # Row c: for each piece, the index of its c-th message; none under a count rule,
        # where every message counts.
        self.copies = None if scheme.count_rule else _copies(labels)
        self.k = scheme.threshold - 1
        self.first = np.empty((reps, labels.size if self.copies is None
                                     else self.copies.shape[1]))

    def __call__(self, flat: np.ndarray) -> np.ndarray:
        """``flat`` holds the reception times of each realization, per message in
        (worker, message) order."""
        first = self.first
        if self.copies is None:
            np.copyto(first, flat)
        else:
            # Earliest reception of each piece, gathering one copy of every piece at a
            # time (pieces with fewer copies repeat their first one, which leaves the
            # minimum alone).
            np.take(flat, self.copies[0], axis=1, out=first)
            for column in self.copies[1:]:
                np.minimum(first, flat[:, column], out=first)
        first.partition(self.k, axis=1)
        return first[:, self.k].copy()


def _copies(labels: np.ndarray) -> np.ndarray:
    """Message indices by copy: row c holds, for each piece, the index of its c-th message
    (or of its first when it has fewer)."""
    counts = np.unique(labels, return_counts=True)[1]
    order = np.argsort(labels, kind="stable")
    starts = np.r_[0, np.cumsum(counts)[:-1]]
    rank = np.minimum(np.arange(counts.max())[:, None], counts[None, :] - 1)
    return order[starts[None, :] + rank]
