"""Server policies on the SimPy engine (docs/model.md, "Server policies").

A policy's run is a training run of the SimPy engine whose master updates by the policy's
rule instead of the scheme's decoding: the same network processes, downlink, cancelled
and drained work, aborted transfers and compute model, through :class:`_Training`'s
hooks. Round policies (k-sync, k-batch-sync, adaptive) keep its rounds and change only
when a round ends; asynchronous ones (k-async, k-batch-async) give every worker rounds of
its own, each on the model version it holds.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import partial

import numpy as np
from simpy.events import Event

from pssim.compute import ComputeModel
from pssim.engines.des import _MODEL_PRIORITY, _collecting_young, _tidy, _Training
from pssim.errors import ConfigError
from pssim.network import Discipline
from pssim.schemes import Scheme
from pssim.server.base import Policy
from pssim.training import Training

#: One gradient delivered to the master: rep, worker, partition, version it was computed
#: on, update it counted in (−1: none), time of its arrival.
GradientRow = tuple[int, int, int, int, int, float]


@dataclass(frozen=True)
class Updates:
    """Per realization and update (updates of a realization in a row)."""

    #: S_u = U_{u−1} + decode_time and U_u, seconds from the run's start.
    start: np.ndarray
    end: np.ndarray
    #: Gradients the update used, and the sum and maximum of their staleness.
    gradients: np.ndarray
    staleness_sum: np.ndarray
    staleness_max: np.ndarray
    #: Messages of the update's round received by U_u (all its gradients), after it
    #: (late: discarded), and computations of the round cancelled by the next model.
    messages: np.ndarray
    late_messages: np.ndarray
    cancelled: np.ndarray


class Draws:
    """The finish offsets of a chunk of realizations, round by round, drawn when a round
    is first needed: an asynchronous worker may run more rounds than there are updates.
    Round j takes the compute model's iteration j, so realization k's draws depend on
    (seed, k, j) alone, whatever the chunk."""

    def __init__(self, model: ComputeModel, seed: int, start: int, stop: int,
                 workers: int, load: int, policy: str) -> None:
        self.args = (model, seed, start, stop, workers, load)
        self.policy = policy
        self.rounds: dict[int, np.ndarray] = {}

    def __call__(self, j: int) -> np.ndarray:
        if j not in self.rounds:
            model, seed, start, stop, workers, load = self.args
            with np.errstate(over="ignore"):
                finish = model.finish_times(seed, start, stop, workers, load,
                                            **({"iteration": j} if j else {}))
            if not np.isfinite(finish[..., -1]).all():
                raise ConfigError("compute model", model, f"gives finish times that are not "
                                  f"finite numbers in round {j}, which server "
                                  f"{self.policy} needs (a table of durations must give "
                                  "every iteration a worker reaches, or no iteration "
                                  "column)")
            self.rounds[j] = finish
        return self.rounds[j]


class _Rep:
    """One realization's rounds, as lists, for :meth:`_Training.run_all`."""

    def __init__(self, draws: Draws, k: int) -> None:
        self.draws = draws
        self.k = k
        self.rounds: dict[int, list[list[float]]] = {}

    def __getitem__(self, j: int) -> list[list[float]]:
        if j not in self.rounds:
            self.rounds[j] = self.draws(j)[self.k].tolist()
        return self.rounds[j]


class _Server(_Training):
    """What every policy's master records: the gradients each update uses."""

    def __init__(self, scheme: Scheme, network: Discipline, labels: list[list[int]],
                 pieces: int, rep: int, gradients: list[GradientRow] | None,
                 training: Training, policy: Policy) -> None:
        super().__init__(scheme, network, labels, pieces, rep, None, training)
        updates = training.iterations
        self.policy = policy
        self.rows = gradients
        self.load = scheme.load
        self.used_t = [0] * updates
        self.stale_sum_t = [0] * updates
        self.stale_max_t = [0] * updates
        self.cancelled_t = [0] * updates
        # Distinct workers and partitions of the update in progress.
        self.by_worker = [False] * scheme.workers
        self.by_partition = [False] * pieces
        self.workers_held = 0
        self.partitions_held = 0
        self.setup()

    def setup(self) -> None:
        """The state of the policy's kind of run."""

    def tally(self, u: int, worker: int, partition: int, version: int) -> bool:
        """Update ``u`` uses this gradient, computed on ``version``: whether it happens
        now."""
        self.used_t[u] += 1
        stale = u - version
        self.stale_sum_t[u] += stale
        self.stale_max_t[u] = max(self.stale_max_t[u], stale)
        if self.rows is not None:
            self.rows.append((self.rep, worker, partition, version, u, self.env.now))
        if self.end_t[u] < math.inf:
            return False  # made at this very instant, which counts for it
        if not self.by_worker[worker]:
            self.by_worker[worker] = True
            self.workers_held += 1
        if not self.by_partition[partition]:
            self.by_partition[partition] = True
            self.partitions_held += 1
        return self.policy.enough(u, self.used_t[u], self.workers_held, self.partitions_held)

    def discard(self, worker: int, partition: int, version: int) -> None:
        if self.rows is not None:
            self.rows.append((self.rep, worker, partition, version, -1, self.env.now))

    def complete(self, t: int) -> None:
        self.by_worker = [False] * len(self.by_worker)
        self.by_partition = [False] * len(self.by_partition)
        self.workers_held = self.partitions_held = 0
        super().complete(t)


class _Rounds(_Server):
    """k-sync, k-batch-sync, adaptive: the training run's rounds, ended by the policy."""

    def setup(self) -> None:
        # Computations of its current round each worker has finished.
        self.finished = [0] * self.scheme.workers

    def receive(self, worker: int, message: int) -> None:
        t, j = self._iteration(message)
        partition = self.labels[worker][j]
        if not self._counts(t):
            self.late_t[t] += 1
            self.discard(worker, partition, t)
            return
        self.received_t[t] += 1
        if self.tally(t, worker, partition, t):
            self.complete(t)

    def model_received(self, i: int, t: int, event: Event | None = None) -> None:
        if self.training.late_policy == "cancel":
            self.cancelled_t[t - 1] += self.load - self.finished[i]
        self.finished[i] = 0
        super().model_received(i, t, event)

    def computed(self, i: int, t: int, c: int, times: list[float],
                 event: Event | None = None) -> None:
        if t > self.cancelled[i]:
            self.finished[i] = c
        super().computed(i, t, c, times, event)


class _Async(_Server):
    """k-async, k-batch-async: each worker's rounds on the versions it holds. A worker's
    messages are numbered in the order it sends them."""

    def setup(self) -> None:
        n = self.scheme.workers
        #: The update that a gradient received now counts in; also the newest version.
        self.next = 0
        self.version = [0] * n
        self.held = [0] * n
        self.begun = [0] * n
        self.waiting = [False] * n
        # When each worker last pushed a gradient: a model arriving at that very instant
        # finds it between two gradients, and is taken at once.
        self.pushed = [-math.inf] * n
        self.sent_of: list[list[tuple[int, int]]] = [[] for _ in range(n)]

    def abandoned(self, worker: int, message: int) -> bool:
        return False  # every gradient counts: none is ever dropped or aborted

    def aborted(self, worker: int, message: int) -> bool:
        return False

    def started(self, worker: int, message: int) -> None:
        pass  # counted nowhere: the summary's messages are the gradients received

    def begin_computations(self, i: int, t: int, begin: float) -> None:
        """Worker i's next round, on version ``t``: one computation when it pulls after
        each push, else up to r."""
        j = self.begun[i]
        self.begun[i] += 1
        self.version[i] = t
        offsets = self.finishes[j][i]
        times = [begin + f for f in (offsets[:1] if self.policy.pulls else offsets)]
        self.env.at(times[0]).callbacks.append(partial(self.computed, i, j, 1, times))

    def computed(self, i: int, t: int, c: int, times: list[float],
                 event: Event | None = None) -> None:
        if t != self.begun[i] - 1:
            return  # a round left for a newer model the instant it began
        v = self.version[i]
        self.pushed[i] = self.env.now
        # A round's computations follow the scheme's assignment; one per round, a worker
        # that pulls goes round its partitions.
        partition = self.labels[i][(t if self.policy.pulls else c - 1) % self.m]
        self.sent_of[i].append((v, partition))
        self.send(i, len(self.sent_of[i]) - 1)
        if self.policy.pulls:
            return  # the reply to the push begins the next round
        now = self.env.now
        if self.held[i] > v:
            self.begin_computations(i, self.held[i], now)
        elif c < len(times):
            self.env.at(times[c]).callbacks.append(partial(self.computed, i, t, c + 1, times))
        else:
            self.waiting[i] = True

    def model_received(self, i: int, t: int, event: Event | None = None) -> None:
        self.held[i] = max(self.held[i], t)
        between = self.waiting[i] or self.pushed[i] == self.env.now
        if self.policy.pulls or (between and t > self.version[i]):
            self.waiting[i] = False
            self.begin_computations(i, t, self.env.now)

    def receive(self, worker: int, message: int) -> None:
        version, partition = self.sent_of[worker][message]
        u = self.next
        if u == self.training.iterations:
            self.discard(worker, partition, version)  # after the last update, at its instant
            return
        self.received_t[u] += 1
        if self.tally(u, worker, partition, version):
            self.complete(u)
        if self.policy.pulls and self.next < self.training.iterations:
            # The newest version, once its decode is over.
            send = max(self.env.now, self.start_t[self.next])
            at = float(self.training.receptions(send, 1)[0])
            self.env.at(at, _MODEL_PRIORITY).callbacks.append(
                partial(self.model_received, worker, self.next))

    def complete(self, t: int) -> None:
        self.next = t + 1
        super().complete(t)

    def send_model(self, t: int, start: float) -> None:
        if not self.policy.pulls:
            super().send_model(t, start)


def simulate(policy: Policy, network: Discipline, draws: Draws, first_rep: int, reps: int,
             training: Training, gradients: list[GradientRow] | None) -> Updates:
    """Realizations ``first_rep`` … ``first_rep + reps − 1`` of the policy's scheme."""
    scheme = policy.scheme
    labels = scheme.labels()
    pieces = int(labels.max()) + 1
    rows = labels.tolist()
    updates = training.iterations
    size = reps * updates
    out = Updates(np.empty(size), np.empty(size), *(np.empty(size, dtype=np.int64)
                                                     for _ in range(6)))
    kind = _Rounds if policy.rounds else _Async
    with _collecting_young():
        for k in range(reps):
            sim = kind(scheme, network, rows, pieces, first_rep + k, gradients, training,
                       policy)
            sim.run_all(_Rep(draws, k))
            _tidy()
            where = slice(k * updates, (k + 1) * updates)
            out.start[where] = sim.start_t
            # S_0 = U_{−1} + decode_time with U_{−1} = 0 (docs/model.md, "Server
            # policies"): a policy's first update is charged the decode as every other.
            out.start[k * updates] = training.decode_time
            out.end[where] = sim.end_t
            out.gradients[where] = sim.used_t
            out.staleness_sum[where] = sim.stale_sum_t
            out.staleness_max[where] = sim.stale_max_t
            out.messages[where] = sim.received_t
            out.late_messages[where] = sim.late_t
            out.cancelled[where] = sim.cancelled_t
    return out
