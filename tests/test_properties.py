"""Properties that hold realization by realization (docs/model.md)."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pssim import run, simulate
from pssim.compute import BLOCK
from pssim.schemes import PAPER_SCHEMES, feasible

COUNT_RULES = ("GC", "LCC", "LCC-MMC", "LCC-MMC-2")
FAST = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@st.composite
def configs(draw: st.DrawFn, schemes: tuple[str, ...] = PAPER_SCHEMES) -> dict:
    """A feasible (scheme, N, r) with a seed."""
    n = draw(st.integers(2, 8))
    r = draw(st.integers(1, n))
    scheme = draw(st.sampled_from(schemes))
    if not feasible(scheme, n, r):
        scheme = "UC-MMC" if "UC-MMC" in schemes else "GC"
    return {"scheme": scheme, "workers": n, "load": r, "seed": draw(st.integers(0, 2**32)),
            "reps": 3}


bandwidths = st.floats(1e6, 1e10)
links = st.fixed_dictionaries({
    "network": st.sampled_from(["fifo", "fair"]),
    "uplink_bandwidth": bandwidths | st.just(math.inf),
    "master_bandwidth": bandwidths | st.just(math.inf),
    "latency": st.floats(0, 0.05),
    "message_size": st.floats(1e3, 1e8),
})


def times(**options: object) -> np.ndarray:
    return run(**options)["completion_time"].to_numpy()  # type: ignore[arg-type]


@FAST
@given(configs(), links)
def test_a_network_never_makes_an_iteration_faster(config: dict, link: dict) -> None:
    assert (times(**config, **link) >= times(**config)).all()


@FAST
@given(configs(), st.floats(1e6, 1e9), st.floats(1.0, 100.0), st.floats(0, 0.01))
def test_more_master_bandwidth_never_slows_fifo(config: dict, b: float, more: float,
                                                lat: float) -> None:
    # The master's link serves in arrival order whatever its speed, so each message's
    # reception time can only move earlier.
    link = {"network": "fifo", "message_size": 4e6, "latency": lat, "uplink_bandwidth": 2e9}
    slow = times(**config, **link, master_bandwidth=b)
    fast = times(**config, **link, master_bandwidth=b * more)
    assert (fast <= slow).all()


@FAST
@given(configs(COUNT_RULES), st.floats(1e6, 1e9), st.floats(1.0, 100.0))
def test_more_uplink_bandwidth_never_slows_fifo_count_rules(config: dict, b: float,
                                                            more: float) -> None:
    # Faster uplinks can reorder arrivals, but the k-th reception can only move earlier,
    # and a count rule needs only the k-th.
    link = {"network": "fifo", "message_size": 4e6, "master_bandwidth": 5e8}
    slow = times(**config, **link, uplink_bandwidth=b)
    fast = times(**config, **link, uplink_bandwidth=b * more)
    assert (fast <= slow).all()


@FAST
@given(configs(COUNT_RULES))
def test_count_rules_receive_exactly_their_threshold_without_network(config: dict) -> None:
    summary = run(**config)
    assert (summary["messages"] == summary["threshold"]).all()
    assert (summary["messages_sent"] == summary["threshold"]).all()


@FAST
@given(configs(), st.floats(0.0, 0.99))
def test_partial_gradient_never_slower_than_full(config: dict, tau: float) -> None:
    base = {**config, "scheme": ["UC-MMC", "UC-MMC-PG"], "pg_tolerance": tau}
    s = run(**base)
    full = s[s["scheme"] == "UC-MMC"]["completion_time"].to_numpy()
    partial = s[s["scheme"] == "UC-MMC-PG"]["completion_time"].to_numpy()
    assert (partial <= full).all()


@FAST
@given(configs(("UC-MMC", "UC-MMC-PG")), links | st.just({}))
def test_uc_completes_when_the_kth_distinct_partition_arrives(config: dict,
                                                              link: dict) -> None:
    res = simulate(**config, **link, trace=True)
    assert res.trace is not None
    n = config["workers"]
    for rep, row in res.summary.set_index("rep").iterrows():
        got = res.trace[(res.trace["rep"] == rep) & (res.trace["event"] == "received")]
        partition = (got["worker"] + got["message"] - 1) % n
        first = got.groupby(partition.to_numpy())["time"].min().sort_values()
        assert first.iloc[row["threshold"] - 1] == row["completion_time"]


def test_same_seed_same_summary() -> None:
    a = run("all", 10, 4, reps=50, seed=3, network="fifo", message_size="1MB",
            master_bandwidth="1Gbps")
    b = run("all", 10, 4, reps=50, seed=3, network="fifo", message_size="1MB",
            master_bandwidth="1Gbps")
    pd.testing.assert_frame_equal(a, b, check_exact=True)
    c = run("all", 10, 4, reps=50, seed=4)
    assert not np.array_equal(a["completion_time"], c["completion_time"])


def test_schemes_run_together_see_the_same_draws() -> None:
    both = simulate(["LCC-MMC", "UC-MMC"], 8, 3, reps=20, seed=5, trace=True)
    alone = run("LCC-MMC", 8, 3, reps=20, seed=5)
    pd.testing.assert_frame_equal(both.summary[both.summary["scheme"] == "LCC-MMC"], alone,
                                  check_exact=True)
    assert both.trace is not None
    done = both.trace[both.trace["event"] == "compute_done"]
    keys = ["rep", "worker", "computation"]
    a = done[done["scheme"] == "LCC-MMC"].set_index(keys)["time"]
    b = done[done["scheme"] == "UC-MMC"].set_index(keys)["time"]
    common = a.index.intersection(b.index)
    assert len(common) > 100
    assert (a.loc[common] == b.loc[common]).all()


def test_a_realization_does_not_depend_on_how_many_are_run() -> None:
    # Realizations straddle a block of the random streams.
    many = run("LCC", 6, 2, reps=BLOCK + 20, seed=9)
    few = run("LCC", 6, 2, reps=10, seed=9)
    pd.testing.assert_frame_equal(many.iloc[:10], few, check_exact=True)
