"""Server policies (docs/model.md, "Server policies"): small cases computed by hand from the
model, the closed forms of the policies' time per update (network none, no downlink cost,
exponential durations), k-sync at K = N as the synchronous server, and bad input."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

import pssim
from pssim import ConfigError
from pssim.cli import app

UPDATE = ["update", "server_k", "start", "end", "gradients", "staleness_mean",
          "staleness_max", "messages", "late_messages", "cancelled"]
GRADIENT = ["worker", "partition", "version", "update", "time"]


def durations(per_worker: list[float], iterations: list[list[float]] | None = None
              ) -> pd.DataFrame:
    """One duration per worker, the same in every round; or one per (iteration, worker)."""
    if iterations is None:
        return pd.DataFrame({"worker": range(len(per_worker)), "duration": per_worker})
    return pd.DataFrame([{"iteration": t, "worker": w, "duration": d}
                         for t, row in enumerate(iterations) for w, d in enumerate(row)])


def updates(summary: pd.DataFrame) -> list[tuple[Any, ...]]:
    return [tuple(r) for r in summary[UPDATE].itertuples(index=False)]


def gradients(trace: pd.DataFrame) -> list[tuple[Any, ...]]:
    return sorted(tuple(r) for r in trace[GRADIENT].itertuples(index=False))


def policy(server: str, workers: int, load: int, k: int | None, iterations: int,
           **options: Any) -> pssim.Results:
    return pssim.simulate("UC-MMC", workers, load, server=server, server_k=k,
                          iterations=iterations, reps=1, trace=True, **options)


# -- small cases by hand ------------------------------------------------------------------

def test_k_sync_cancels_the_slowest_worker() -> None:
    # N = 3, r = 1, K = 2. Round 0 (durations 1, 2, 4): update 0 at 2 with workers 0 and 1;
    # worker 2 is cancelled at the model's arrival, 2. Round 1 begins at 2 (durations 3,
    # 1, 1): workers 1 and 2 both at 3, and worker 0 is cancelled no more (the run ends).
    run = policy("k-sync", 3, 1, 2, 2, compute_times=durations([], [[1, 2, 4], [3, 1, 1]]))
    assert updates(run.summary) == [(0, 2, 0.0, 2.0, 2, 0.0, 0, 2, 0, 1),
                                    (1, 2, 2.0, 3.0, 2, 0.0, 0, 2, 0, 0)]
    assert gradients(run.trace) == [(0, 0, 0, 0, 1.0), (1, 1, 0, 0, 2.0),
                                    (1, 1, 1, 1, 3.0), (2, 2, 1, 1, 3.0)]


def test_k_sync_drains_late_work_and_counts_all_at_the_update_instant() -> None:
    # As above under drain: worker 2 sends its round-0 gradient at 4 (late: update -1)
    # and begins round 1 at 4, done at 5; worker 0 began it at 2, also done at 5. Update
    # 1 comes at 5 with worker 1's (at 3) and both gradients of the instant 5.
    run = policy("k-sync", 3, 1, 2, 2, late_policy="drain",
                 compute_times=durations([], [[1, 2, 4], [3, 1, 1]]))
    assert updates(run.summary) == [(0, 2, 0.0, 2.0, 2, 0.0, 0, 2, 1, 0),
                                    (1, 2, 2.0, 5.0, 3, 0.0, 0, 3, 0, 0)]
    assert gradients(run.trace) == [(0, 0, 0, 0, 1.0), (0, 0, 1, 1, 5.0),
                                    (1, 1, 0, 0, 2.0), (1, 1, 1, 1, 3.0),
                                    (2, 2, 0, -1, 4.0), (2, 2, 1, 1, 5.0)]


def test_k_batch_sync_takes_several_gradients_of_a_fast_worker() -> None:
    # N = 2, r = 2, K = 3. Round 0: worker 0 (1 s each) sends partitions 0 and 1 at 1 and
    # 2, worker 1 (3 s each) partition 1 at 3: the update; its second computation is
    # cancelled. Round 1 from 3 (worker 0: 2 s each, worker 1: 0.5 s each): worker 1 at
    # 3.5 and 4, worker 0 at 5; worker 0's second computation is never needed.
    table = pd.DataFrame([{"iteration": t, "worker": w, "computation": c, "duration": d}
                          for t, rows in enumerate([[1, 3], [2, 0.5]])
                          for w, d in enumerate(rows) for c in (1, 2)])
    run = policy("k-batch-sync", 2, 2, 3, 2, compute_times=table)
    assert updates(run.summary) == [(0, 3, 0.0, 3.0, 3, 0.0, 0, 3, 0, 1),
                                    (1, 3, 3.0, 5.0, 3, 0.0, 0, 3, 0, 0)]
    assert gradients(run.trace) == [(0, 0, 0, 0, 1.0), (0, 0, 1, 1, 5.0),
                                    (0, 1, 0, 0, 2.0), (1, 0, 1, 1, 4.0),
                                    (1, 1, 0, 0, 3.0), (1, 1, 1, 1, 3.5)]


def test_k_async_counts_stale_gradients() -> None:
    # N = 3, r = 1, K = 2, durations 1, 2, 5 in every round. Update 0 at 2 (workers 0, 1 on
    # version 0), who wait for version 1 and begin it at 2; update 1 at 4 (both on version
    # 1). Worker 2 finishes version 0 at 5, its gradient 2 versions old, with worker 0's
    # on version 2 at the same instant: update 2 at 5, staleness mean 1, max 2.
    run = policy("k-async", 3, 1, 2, 3, compute_times=durations([1, 2, 5]))
    assert updates(run.summary) == [(0, 2, 0.0, 2.0, 2, 0.0, 0, 2, 0, 0),
                                    (1, 2, 2.0, 4.0, 2, 0.0, 0, 2, 0, 0),
                                    (2, 2, 4.0, 5.0, 2, 1.0, 2, 2, 0, 0)]
    assert gradients(run.trace) == [(0, 0, 0, 0, 1.0), (0, 0, 1, 1, 3.0), (0, 0, 2, 2, 5.0),
                                    (1, 1, 0, 0, 2.0), (1, 1, 1, 1, 4.0), (2, 2, 0, 2, 5.0)]


def test_k_async_worker_goes_on_with_its_partitions_until_a_new_model() -> None:
    # N = 3, r = 2, K = 2; 1, 3 and 10 s per computation. Worker 0 sends partitions 0, 1
    # of version 0 at 1 and 2 and waits; worker 1's partition 1 at 3 makes update 0, and
    # both take version 1 at 3 (worker 1 between two gradients). Update 1 at 6 (worker 0
    # at 4, 5; worker 1 at 6), update 2 at 9 (worker 0 at 7, 8; worker 1 at 9). Worker 2,
    # still on version 0, sends partition 2 at 10, 3 versions old, and worker 0 its
    # partition 0 of version 3 at that instant: update 3 at 10.
    run = policy("k-async", 3, 2, 2, 4, compute_times=durations([1, 3, 10]))
    assert updates(run.summary) == [(0, 2, 0.0, 3.0, 3, 0.0, 0, 3, 0, 0),
                                    (1, 2, 3.0, 6.0, 3, 0.0, 0, 3, 0, 0),
                                    (2, 2, 6.0, 9.0, 3, 0.0, 0, 3, 0, 0),
                                    (3, 2, 9.0, 10.0, 2, 1.5, 3, 2, 0, 0)]
    assert gradients(run.trace) == [
        (0, 0, 0, 0, 1.0), (0, 0, 1, 1, 4.0), (0, 0, 2, 2, 7.0), (0, 0, 3, 3, 10.0),
        (0, 1, 0, 0, 2.0), (0, 1, 1, 1, 5.0), (0, 1, 2, 2, 8.0),
        (1, 1, 0, 0, 3.0), (1, 1, 1, 1, 6.0), (1, 1, 2, 2, 9.0), (2, 2, 0, 3, 10.0)]


def test_k_batch_async_pulls_after_every_push() -> None:
    # N = 2, r = 1, K = 2, durations 1 and 3. Worker 0 pushes at 1 (version 0) and pulls
    # version 0 again; at 2 its second push makes update 0. At 3 worker 1's gradient on
    # version 0 and worker 0's on version 1 make update 1; worker 0 goes on with version
    # 2, at 4 and 5: update 2.
    run = policy("k-batch-async", 2, 1, 2, 3, compute_times=durations([1, 3]))
    assert updates(run.summary) == [(0, 2, 0.0, 2.0, 2, 0.0, 0, 2, 0, 0),
                                    (1, 2, 2.0, 3.0, 2, 0.5, 1, 2, 0, 0),
                                    (2, 2, 3.0, 5.0, 2, 0.0, 0, 2, 0, 0)]
    assert gradients(run.trace) == [(0, 0, 0, 0, 1.0), (0, 0, 0, 0, 2.0), (0, 0, 1, 1, 3.0),
                                    (0, 0, 2, 2, 4.0), (0, 0, 2, 2, 5.0), (1, 1, 0, 1, 3.0)]


def test_k_batch_async_goes_round_its_partitions() -> None:
    # N = 2, r = 2, K = 1, 1 and 1.5 s per gradient: worker 0 sends partition 0 (version
    # 0) at 1, partition 1 (version 1) at 2, partition 0 (version 3) at 3; worker 1
    # partition 1 (version 0) at 1.5 and partition 0 (version 2) at 3, first at that
    # instant (its computation began first): the fourth update, after which worker 0's is
    # never used.
    run = policy("k-batch-async", 2, 2, 1, 4, compute_times=durations([1, 1.5]))
    assert [tuple(r) for r in run.trace[GRADIENT].itertuples(index=False)] == [
        (0, 0, 0, 0, 1.0), (1, 1, 0, 1, 1.5), (0, 1, 1, 2, 2.0), (1, 0, 2, 3, 3.0),
        (0, 0, 3, -1, 3.0)]
    assert run.summary["end"].tolist() == [1.0, 1.5, 2.0, 3.0]
    assert run.summary["staleness_max"].tolist() == [0, 1, 1, 1]


def test_a_pull_waits_for_the_decode_and_crosses_the_downlink() -> None:
    # One worker, 1 s per gradient, K = 1: update 0 at 1; version 1 is ready at 1.25
    # (decode) and takes 0.5 s down: the worker begins at 1.75, and update 1 comes at
    # 2.75, starting at 1.25. Update 0 starts at U_{−1} + decode = 0.25.
    run = policy("k-batch-async", 1, 1, 1, 2, compute_times=durations([1]),
                 decode_time=0.25, downlink_bandwidth="2MB/s", model_size="1MB")
    assert updates(run.summary) == [(0, 1, 0.25, 1.0, 1, 0.0, 0, 1, 0, 0),
                                    (1, 1, 1.25, 2.75, 1, 0.0, 0, 1, 0, 0)]


@pytest.mark.parametrize(("scheme", "k", "end", "cancelled"), [
    # K doubles every update from 1, up to N = 3: updates at 1, 1 + 2, 3 + 3, 6 + 3; each
    # round cancels the workers it does not wait for.
    ("UC-MMC", [1, 2, 3, 3], [1.0, 3.0, 6.0, 9.0], [2, 1, 0, 0]),
    # UC-MMC-PG at tau = 0.5 decodes with 2 partitions: K stops there.
    ("UC-MMC-PG", [1, 2, 2, 2], [1.0, 3.0, 5.0, 7.0], [2, 1, 1, 0]),
])
def test_adaptive_doubles_k_up_to_the_schemes_threshold(
        scheme: str, k: list[int], end: list[float], cancelled: list[int]) -> None:
    summary = pssim.run(scheme, 3, 1, server="adaptive", server_period=1, iterations=4,
                        reps=1, pg_tolerance=0.5, compute_times=durations([1, 2, 3]))
    assert summary["server_k"].tolist() == k
    assert summary["end"].tolist() == end
    assert summary["cancelled"].tolist() == cancelled


def test_adaptive_keeps_k_for_a_period() -> None:
    summary = pssim.run("UC-MMC", 40, 1, server="adaptive", server_k=3, server_period=4,
                        iterations=16, reps=1)
    assert summary["server_k"].tolist() == [3] * 4 + [6] * 4 + [12] * 4 + [24] * 4


# -- the synchronous server as k-sync at K = N --------------------------------------------

@pytest.mark.parametrize("options", [
    {},
    {"late_policy": "drain"},
    {"network": "fifo", "message_size": "1MB", "master_bandwidth": "50MB/s",
     "downlink": "unicast", "downlink_bandwidth": "400MB/s", "decode_time": 0.002},
    {"network": "fair", "message_size": "1MB", "master_bandwidth": "50MB/s",
     "cancel_transfers": "abort"},
])
def test_k_sync_at_k_n_and_r_1_is_synchronous_uc_mmc(options: dict[str, Any]) -> None:
    common = {"iterations": 12, "reps": 40, "seed": 7, "engine": "des", **options}
    sync = pssim.run("UC-MMC", 5, 1, **common)
    k_sync = pssim.run("UC-MMC", 5, 1, server="k-sync", server_k=5, **common)
    for column in ("end", "messages", "late_messages"):
        assert k_sync[column].tolist() == sync[column].tolist(), column
    # Every update after the first starts where the iteration does; the first starts at
    # U_{−1} + decode_time = decode_time, where a training run's first iteration starts at 0.
    decode = float(common.get("decode_time", 0.0))
    first = k_sync["update"] == 0
    assert k_sync.loc[~first, "start"].tolist() == sync.loc[~first, "start"].tolist()
    assert (k_sync.loc[first, "start"] == decode).all()
    assert (sync.loc[first, "start"] == 0).all()
    assert np.array_equal(k_sync["completion_time"], k_sync["end"] - k_sync["start"])
    assert (k_sync["gradients"] == k_sync["messages"]).all()
    assert (k_sync["staleness_max"] == 0).all()


# -- closed forms -------------------------------------------------------------------------

def assert_mean(values: np.ndarray, expected: float) -> None:
    """The sample mean within 4 standard errors of ``expected``."""
    se = values.std(ddof=1) / math.sqrt(len(values))
    assert abs(values.mean() - expected) < 4 * se, (values.mean(), expected, se)


def test_k_sync_time_per_update_is_the_kth_order_statistic() -> None:
    # Every round restarts all N workers (cancel, instant downlink): its time is the K-th
    # of N Exp(mu) durations, of mean (H_N − H_{N−K})/mu; rounds are independent.
    n, k, mu = 6, 3, 10.0
    summary = pssim.run("UC-MMC", n, 1, server="k-sync", server_k=k, iterations=20,
                        reps=300, seed=3, mu=mu, alpha=0.0)
    harmonic = sum(1 / j for j in range(n - k + 1, n + 1))
    assert_mean(summary["completion_time"].to_numpy(), harmonic / mu)


def test_k_batch_sync_time_per_update_is_k_over_n_mu() -> None:
    # Durations per computation, Exp(mu) each: the round's gradients are a Poisson process
    # of rate N·mu until a worker has made r of them, which at r >= K cannot happen before
    # the K-th. Its time is Gamma(K, N·mu), of mean K/(N·mu).
    n, k, mu = 5, 4, 10.0
    summary = pssim.run("UC-MMC", n, k, server="k-batch-sync", server_k=k, iterations=20,
                        reps=300, seed=4, mu=mu, alpha=0.0, granularity="per_computation")
    assert_mean(summary["completion_time"].to_numpy(), k / (n * mu))


@pytest.mark.parametrize("law", [
    {"mu": 10.0, "alpha": 0.01},
    {"family": "gamma", "shape": 2.0, "rate": 20.0, "alpha": 0.01},
])
def test_k_batch_async_long_run_time_per_update_is_k_mean_x_over_n(
        law: dict[str, Any]) -> None:
    # Each worker is a renewal process of gradients (it pulls at once: network none, no
    # downlink cost), so the cluster delivers N/E[X] gradients per second in the long run
    # and an update every K·E[X]/N. E[X] = 0.11 s under both laws. Per realization, the
    # mean time per update after a warm-up of 50 updates.
    n, k, total, warm = 4, 3, 250, 50
    summary = pssim.run("UC-MMC", n, 1, server="k-batch-async", server_k=k,
                        iterations=total, reps=120, seed=5, **law)
    end = summary.pivot(index="rep", columns="update", values="end").to_numpy()
    per_update = (end[:, -1] - end[:, warm - 1]) / (total - warm)
    assert_mean(per_update, k * 0.11 / n)


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(n=st.integers(2, 6), data=st.data(), seed=st.integers(0, 2**16))
def test_waiting_for_more_gradients_never_makes_an_update_faster(
        n: int, data: st.DataObject, seed: int) -> None:
    # Network none and an instant downlink restart every round at its update, and round u
    # draws the same durations whatever K: its time is the K-th smallest of its finish
    # offsets, so it grows with K, update by update (common random numbers).
    server, r = data.draw(st.sampled_from([("k-sync", 1), ("k-batch-sync", 2)]))
    k = data.draw(st.integers(1, n * r - 1 if server == "k-batch-sync" else n - 1))
    common = {"server": server, "iterations": 6, "reps": 4, "seed": seed}
    fewer = pssim.run("UC-MMC", n, r, server_k=k, **common)
    more = pssim.run("UC-MMC", n, r, server_k=k + 1, **common)
    assert (more["completion_time"] >= fewer["completion_time"]).all()


# -- runs --------------------------------------------------------------------------------

def test_chunks_and_realizations_do_not_change_a_policys_results() -> None:
    options = {"server": "k-batch-async", "server_k": 2, "iterations": 30, "seed": 11}
    whole = pssim.run("UC-MMC", 4, 2, reps=6, **options)
    chunked = pssim.simulate("UC-MMC", 4, 2, reps=6, chunk_size=4, **options).summary
    tail = pssim.simulate("UC-MMC", 4, 2, reps=2, first_rep=4, **options).summary
    pd.testing.assert_frame_equal(whole, chunked)
    pd.testing.assert_frame_equal(whole[whole["rep"] >= 4].reset_index(drop=True), tail)


@pytest.mark.parametrize(("server", "k"), [("k-sync", 3), ("k-batch-sync", 5),
                                           ("k-async", 2), ("k-batch-async", 3),
                                           ("adaptive", 1)])
@pytest.mark.parametrize("options", [
    {},
    {"network": "fifo", "message_size": "1MB", "master_bandwidth": "100MB/s",
     "downlink_bandwidth": "1GB/s", "late_policy": "drain"},
])
def test_the_trace_gives_each_updates_gradients(server: str, k: int,
                                                options: dict[str, Any]) -> None:
    # What the learning side reads: the gradients with update u are the summary's, with
    # its staleness; version u + 1 is the result of update u, so no gradient is newer
    # than its update.
    period = {"server_period": 3} if server == "adaptive" else {}
    run = pssim.simulate("UC-MMC", 6, 2, server=server, server_k=k, iterations=15, reps=3,
                         seed=2, trace=True, **period, **options)
    used = run.trace[run.trace["update"] >= 0].assign(
        staleness=lambda t: t["update"] - t["version"])
    per = used.groupby(["rep", "update"])["staleness"].agg(["size", "mean", "max"])
    summary = run.summary.set_index(["rep", "update"])
    assert per["size"].tolist() == summary["gradients"].tolist()
    assert np.allclose(per["mean"], summary["staleness_mean"], rtol=0, atol=1e-12)
    assert per["max"].tolist() == summary["staleness_max"].tolist()
    assert (used["staleness"] >= 0).all()
    assert used["partition"].between(0, 5).all()
    # Each gradient counts in the update whose span holds its arrival.
    ends = run.summary.set_index(["rep", "update"])["end"]
    arrival = used.set_index(["rep", "update"])["time"]
    assert (arrival <= ends.reindex(arrival.index)).all()


def test_a_table_of_durations_too_short_for_the_rounds_is_refused() -> None:
    # k-batch-async at K = 2 needs 2 rounds of the one worker per update: a table of 2
    # iterations serves the first update only.
    table = durations([], [[1.0], [1.0]])
    with pytest.raises(ConfigError, match="round 2"):
        pssim.run("UC-MMC", 1, 1, server="k-batch-async", server_k=2, iterations=2, reps=1,
                  compute_times=table)


def test_server_names_take_any_case() -> None:
    summary = pssim.run("UC-MMC", 3, 1, server="K-Sync", server_k=2, iterations=2, reps=1)
    assert set(summary["server"]) == {"k-sync"}


def test_the_command_line_prints_a_policys_table() -> None:
    result = CliRunner().invoke(app, ["run", "--scheme", "UC-MMC", "--workers", "4",
                                      "--load", "1", "--server", "k-sync", "--server-k",
                                      "3", "--iterations", "5", "--reps", "20"])
    assert result.exit_code == 0, result.output
    header, row = result.output.splitlines()[:2]
    assert "T/update (s)" in header and "staleness" in header
    assert row.split()[:2] == ["UC-MMC", "20"]


def test_the_command_line_pairs_a_policys_schemes_with_a_baseline() -> None:
    # Under adaptive at N = 8, UC-MMC-PG (tau = 0.5) stops K at 4 partitions, UC-MMC goes
    # on to 8: on the same realizations every update of UC-MMC-PG ends no later.
    result = CliRunner().invoke(app, ["run", "--scheme", "UC-MMC,UC-MMC-PG", "--workers",
                                      "8", "--load", "1", "--server", "adaptive",
                                      "--server-period", "2", "--pg-tolerance", "0.5",
                                      "--iterations", "12", "--reps", "20", "--baseline",
                                      "UC-MMC"])
    assert result.exit_code == 0, result.output
    header, base, pg = result.output.splitlines()[:3]
    assert "ratio" in header
    assert base.split()[-3] == "1.0000"
    assert float(pg.split()[-3]) < 1


# -- bad input ---------------------------------------------------------------------------

BASE = ["run", "--workers", "4", "--load", "2", "--reps", "2", "--iterations", "3"]


@pytest.mark.parametrize(("args", "parameter", "value", "allowed"), [
    (["--scheme", "UC-MMC", "--server", "k-sync", "--server-k", "0"], "server_k", "0",
     "integer in [1, "),
    (["--scheme", "UC-MMC", "--server", "k-sync", "--server-k", "5"], "server_k", "5",
     "between 1 and 4"),
    (["--scheme", "UC-MMC", "--server", "k-async", "--server-k", "5"], "server_k", "5",
     "between 1 and 4"),
    (["--scheme", "UC-MMC", "--server", "k-batch-sync", "--server-k", "9"], "server_k", "9",
     "between 1 and 8"),
    (["--scheme", "UC-MMC", "--server", "k-snyc", "--server-k", "2"], "server", "k-snyc",
     "did you mean k-sync"),
    (["--scheme", "LCC", "--server", "k-async", "--server-k", "2"], "server", "k-async",
     "cannot run scheme LCC"),
    (["--scheme", "UC-MMC", "--server-k", "2"], "server_k", "2", "server sync takes none"),
    (["--scheme", "UC-MMC", "--server", "k-sync"], "server_k", "None", "is required"),
    (["--scheme", "UC-MMC", "--server", "adaptive", "--server-period", "0"], "server_period",
     "0", "integer in [1, "),
    (["--scheme", "UC-MMC", "--server", "adaptive", "--server-k", "5"], "server_k", "5",
     "between 1 and 4"),
    (["--scheme", "UC-MMC", "--server", "k-sync", "--server-k", "2", "--engine",
      "vectorized"], "engine", "vectorized", "use des or auto"),
    (["--scheme", "UC-MMC", "--server", "k-sync", "--server-k", "2", "--engine",
      "analytic"], "engine", "analytic", "use des"),
])
def test_bad_input_is_one_line_and_exit_2(args: list[str], parameter: str, value: str,
                                          allowed: str) -> None:
    result = CliRunner().invoke(app, [*BASE, *args])
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert result.exit_code == 2, result.output
    assert len(lines) == 1 and "Traceback" not in result.output, result.output
    assert lines[0].startswith(f"Error: invalid {parameter}="), lines[0]
    assert value in lines[0] and allowed in lines[0], lines[0]


def test_a_policy_is_refused_by_the_analytic_engine_in_python() -> None:
    with pytest.raises(ConfigError, match="server k-sync"):
        pssim.analyze("UC-MMC", 4, 1, server="k-sync", server_k=2)


def test_receptions_are_refused_under_a_policy() -> None:
    with pytest.raises(ConfigError, match="no reception times"):
        pssim.simulate("UC-MMC", 4, 1, server="k-sync", server_k=2, reps=1,
                       receptions=True)


def test_all_under_a_server_policy_is_the_schemes_it_can_run() -> None:
    from pssim.errors import Note

    with pytest.warns(Note, match=r"skipped GC \(not under server k-async\)"):
        summary = pssim.simulate(scheme=["all"], workers=4, load=2, server="k-async",
                                 server_k=2, iterations=3, reps=2, seed=1).summary
    assert set(summary["scheme"]) == {"UC-MMC"}
    with pytest.warns(Note, match=r"skipped GC \(not under server adaptive\)"):
        summary = pssim.simulate(scheme=["all"], workers=4, load=2, server="adaptive",
                                 iterations=3, reps=2, seed=1).summary
    assert list(dict.fromkeys(summary["scheme"])) == ["UC-MMC", "UC-MMC-PG"]
