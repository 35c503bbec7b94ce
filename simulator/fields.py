"""The parameters of a run as plain data: each one's default, help text, kind and group.

The one place where a parameter's default and help text are written. :class:`pssim.config.Config`
declares its fields from these (adding validation), and the command line builds its options from
them without importing pydantic or the Config, so that ``pssim --help`` starts fast
(docs/performance.md, "Start-up").
"""

from __future__ import annotations

import math
from typing import Any, NamedTuple


class Spec(NamedTuple):
    """A parameter: its default, the kind of value it takes (how the command line shows it and
    a sweep file types it), its help text and the group it belongs to (``stragglers``: a key
    of a [stragglers] table), if any."""

    default: Any
    kind: str
    help: str
    group: str | None = None


#: Every parameter of :class:`pssim.config.Config`, in the Config's order.
SPECS: dict[str, Spec] = {
    "scheme": Spec(("all",), "names", "Scheme name, comma-separated list run on common random "
        "numbers, LCC(p), or 'all' (GC, LCC, LCC-MMC, LCC-MMC-2, UC-MMC, UC-MMC-PG)."),
    "workers": Spec(40, "int", "Number of workers N."),
    "load": Spec(4, "int", "Computation load r per worker, 1..N."),
    "polynomials": Spec(None, "int", "Polynomials p of the LCC family (must divide the load); "
        "default p = r."),
    "pg_tolerance": Spec(0.05, "float", "UC-MMC-PG tolerance τ in [0, 1): it stops at "
        "⌈(1−τ)N⌉ partitions."),
    "mu": Spec(10.0, "float", group="stragglers", help="Straggling rate μ > 0 of the "
        "exponential family (1/seconds)."),
    "alpha": Spec(0.01, "float", group="stragglers", help="Minimum duration α >= 0 of one "
        "computation (seconds)."),
    "family": Spec("exponential", "str", group="stragglers", help="Straggler family of the "
        "random part Y of a duration X = (alpha + Y)·slowdowns: exponential (mu), gamma (shape, "
        "rate), lognormal (mu_log, sigma_log) or pareto (shape, scale)."),
    "shape": Spec(None, "float", group="stragglers", help="Shape > 0 of the gamma or pareto "
        "family."),
    "rate": Spec(None, "float", group="stragglers", help="Rate > 0 of the gamma family "
        "(1/seconds)."),
    "mu_log": Spec(None, "float", group="stragglers", help="Mean of ln Y in the lognormal "
        "family (ln seconds)."),
    "sigma_log": Spec(None, "float", group="stragglers", help="Standard deviation > 0 of ln Y "
        "in the lognormal family."),
    "scale": Spec(None, "float", group="stragglers", help="Scale > 0 of the pareto family: the "
        "least Y (seconds)."),
    "granularity": Spec("per_iteration", "str", group="stragglers", help="per_iteration (one "
        "duration per worker and iteration; computation c ends at c·X) or per_computation (a "
        "duration per computation)."),
    "speeds": Spec(None, "floats", group="stragglers", help="Slowdown factors >= 1 of workers "
        "0..N-1, fixed ('1,1,2,...')."),
    "persistent": Spec(None, "table", group="stragglers", help="Persistent stragglers "
        "FRACTION:FACTOR: in each realization ⌊fraction·N⌋ workers, drawn at random, are slow "
        "by factor in every iteration."),
    "markov": Spec(None, "table", group="stragglers", help="Markov stragglers "
        "P_SLOW:P_RECOVER:FACTOR: each worker turns slow with probability p_slow and fast again "
        "with p_recover between iterations; slow multiplies its durations by factor."),
    "shared": Spec(None, "table", group="stragglers", help="Shared slowdown SIGMA: every "
        "duration of a realization's iteration is multiplied by exp(sigma·Z), Z ~ N(0, 1), one "
        "Z for the cluster."),
    "groups": Spec(None, "table", group="stragglers", help="Groups that slow together "
        "SIZE:SIGMA: workers in blocks of size consecutive ids (a host, a rack; the last block "
        "may be smaller) share a factor exp(sigma·Z), Z ~ N(0, 1), per realization and "
        "iteration."),
    "compute_times": Spec(None, "str", "CSV or Parquet file of explicit durations (seconds): "
        "columns worker, duration, and optionally computation (1..r), rep and iteration. "
        "Replaces the straggler model."),
    "network": Spec("none", "str", "Network discipline: none, fifo, fair or tcp."),
    "uplink_bandwidth": Spec(math.inf, "quantity", "Each worker's uplink: bytes/s, or with a "
        "unit ('10Gbps', '1.25GB/s')."),
    "master_bandwidth": Spec(math.inf, "quantity", "The master's shared link: bytes/s, or with "
        "a unit."),
    "latency": Spec(0.0, "quantity", "Propagation delay: seconds, or with a unit ('50us', "
        "'2ms')."),
    "message_size": Spec(None, "quantity", "Bytes per message, or with a unit ('4MB', '4MiB'); "
        "required for fifo and fair."),
    "mtu": Spec(1500, "int", "Network tcp: the largest IP packet, bytes (576..65536); a segment "
        "carries mtu − 52 bytes of payload and 66 of headers on the wire."),
    "buffer": Spec(1_500_000.0, "quantity", "Network tcp: the tail-drop queue at the master's "
        "link, bytes or with a unit ('1.5MB'); at least one full segment (mtu + 14 bytes)."),
    "iterations": Spec(1, "int", "Iterations K of a training run (1: the paper's single "
        "iteration); under a server policy, the updates simulated."),
    "late_policy": Spec("cancel", "str", "What a worker does with the unfinished work of an "
        "iteration when the next model arrives: cancel it, or drain it (finish and send it)."),
    "cancel_transfers": Spec("complete", "str", "What an iteration's end does to its "
        "transmissions still in flight: complete them (late messages still occupy the links), "
        "or abort them at once (their links serve the others; what they had sent counts in "
        "wasted_bytes)."),
    "downlink": Spec("broadcast", "str", "How the master sends the new model: broadcast (one "
        "transfer reaches every worker) or unicast (N copies back to back, in worker order)."),
    "downlink_bandwidth": Spec(math.inf, "quantity", "The master's downlink: bytes/s, or with a "
        "unit ('10Gbps')."),
    "model_size": Spec(None, "quantity", "Bytes of the model sent to the workers, or with a "
        "unit ('4MB'); default message_size."),
    "decode_time": Spec(0.0, "quantity", "Seconds the master spends decoding after an iteration "
        "ends, before it sends the next model, or with a unit ('2ms'); 'model' (pssim train): "
        "the decode's floating-point operations divided by master_flops."),
    "master_flops": Spec(1e9, "float", "The master's floating-point operations per second, for "
        "decode_time = model."),
    "server": Spec("sync", "str", "When the master updates the model: sync (each iteration "
        "ends when the scheme decodes), k-sync (the first K workers' gradients), k-batch-sync "
        "(the first K gradients), k-async (K distinct workers since the last update, stale "
        "gradients count), k-batch-async (every K gradients; a worker pulls after each push) "
        "or adaptive (k-sync whose K doubles every server_period updates). Under a policy, "
        "iterations counts updates and the scheme is UC-MMC (or UC-MMC-PG with adaptive)."),
    "server_k": Spec(None, "int", "K of the server policy (required by k-sync, k-batch-sync, "
        "k-async and k-batch-async; adaptive's first K, default 1)."),
    "server_period": Spec(10, "int", "Server adaptive: updates between doublings of K (>= 1)."),
    "reps": Spec(1000, "int", "Realizations (independent iterations)."),
    "seed": Spec(0, "int", "Root seed (integer >= 0)."),
    "engine": Spec("auto", "str", "auto (default: vectorized where it applies, else des), des "
        "(SimPy: every network, traces), vectorized (numpy: networks none, fifo and fair), or "
        "analytic (closed forms: count-rule schemes, ShiftedExponential, network none)."),
}


def grouped(group: str) -> tuple[str, ...]:
    """The parameters of a group, in order: ``stragglers`` are the keys of a [stragglers]
    table."""
    return tuple(name for name, spec in SPECS.items() if spec.group == group)
