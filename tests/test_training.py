"""Training runs of many iterations on the SimPy engine (docs/model.md, "Training runs"):
small cases computed by hand from the model, and the single iteration unchanged."""

from __future__ import annotations

import math

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import pssim
from pssim import ConfigError
from pssim.schemes import feasible

COLUMNS = ["iteration", "start", "end", "completion_time", "messages", "messages_sent",
           "computations", "late_messages"]


def durations(per_iteration: list[list[float]]) -> pd.DataFrame:
    """One duration per (iteration, worker): r = 1 computation each."""
    return pd.DataFrame([{"iteration": t, "worker": w, "duration": d}
                         for t, row in enumerate(per_iteration) for w, d in enumerate(row)])


def rows(summary: pd.DataFrame) -> list[tuple]:
    return [tuple(r) for r in summary[COLUMNS].itertuples(index=False)]


def test_two_iterations_with_a_broadcast_downlink() -> None:
    # GC at N = 2, r = 1 needs both messages. Iteration 0 ends at 3 (the slower worker);
    # the model takes 1 MB / 2 MB/s = 0.5 s, so both workers begin again at 3.5 and
    # finish at 5.5 and 4.5: T1 = 5.5.
    summary = pssim.run("GC", 2, 1, iterations=2, reps=1, downlink_bandwidth="2MB/s",
                        model_size="1MB", compute_times=durations([[1, 3], [2, 1]]))
    assert rows(summary) == [(0, 0.0, 3.0, 3.0, 2, 2, 2, 0),
                             (1, 3.0, 5.5, 2.5, 2, 2, 2, 0)]


def test_unicast_sends_the_copies_one_after_the_other() -> None:
    # Worker i receives at S + (i + 1)·0.5: worker 0 at 3.5 (done at 5.5), worker 1 at 4.0
    # (done at 5.0); T1 = 5.5, as under broadcast, but the decode time delays S1 by 0.25.
    summary = pssim.run("GC", 2, 1, iterations=2, reps=1, downlink="unicast",
                        downlink_bandwidth="2MB/s", model_size="1MB", decode_time=0.25,
                        compute_times=durations([[1, 3], [2, 1]]))
    assert rows(summary)[1] == (1, 3.25, 5.75, 2.5, 2, 2, 2, 0)


@pytest.mark.parametrize(("policy", "second"), [
    # cancel: worker 1 abandons its computation of iteration 0 (due at 4) when the model
    # arrives at 1.5; iteration 1 ends at 1.5 + 1 = 2.5 (worker 1). Nothing is late.
    ("cancel", (1, 1.0, 2.5, 1.5, 1, 1, 1, 0)),
    # drain: worker 1 finishes iteration 0 at 4 and sends it (late for iteration 0, whose
    # T was 1), then begins iteration 1 at 4 and ends at 5; worker 0 began at 1.5 and
    # ends at 4.5 = T1. Iteration 0's late message (at 4 <= 4.5) is counted.
    ("drain", (1, 1.0, 4.5, 3.5, 1, 1, 1, 0)),
])
def test_cancel_and_drain(policy: str, second: tuple) -> None:
    # UC-MMC-PG with tau = 0.5 at N = 2, r = 1 needs one partition. Iteration 0 ends at 1
    # (worker 0); the model reaches everyone at 1 + 0.5.
    summary = pssim.run("UC-MMC-PG", 2, 1, pg_tolerance=0.5, iterations=2, reps=1,
                        late_policy=policy, downlink_bandwidth="2MB/s", model_size="1MB",
                        compute_times=durations([[1, 4], [3, 1]]))
    late = 0 if policy == "cancel" else 1
    assert rows(summary) == [(0, 0.0, 1.0, 1.0, 1, 1, 1, late), second]


def test_a_computation_that_ends_as_the_model_arrives_still_completes() -> None:
    # Worker 1's computation of iteration 0 ends at 1.5, the instant the model arrives
    # (T0 = 1, plus 0.5): under cancel it completes and is sent first, late for iteration
    # 0, and received at 1.5 <= T1 = 2.5.
    summary = pssim.run("UC-MMC-PG", 2, 1, pg_tolerance=0.5, iterations=2, reps=1,
                        downlink_bandwidth="2MB/s", model_size="1MB",
                        compute_times=durations([[1, 1.5], [1, 1]]))
    assert rows(summary) == [(0, 0.0, 1.0, 1.0, 1, 1, 1, 1),
                             (1, 1.5 - 0.5, 2.5, 1.5, 2, 2, 2, 0)]


@pytest.mark.parametrize("policy", ["cancel", "drain"])
def test_a_late_message_delays_the_next_iteration_under_fifo(policy: str) -> None:
    # 1-byte messages over a 1 B/s master link: 1 s each. Iteration 0: worker 0's message
    # is ready at 1 and leaves the link at 2 = T0; worker 1's, ready at 1.5, began its
    # transmission before the model (at 2) and holds the link from 2 to 3 (late). The
    # model is free and instant: both begin again at 2. Worker 0's next message is ready
    # at 2.5 but waits for the link until 3 and leaves at 4 = T1: the late message cost
    # 0.5 s. Worker 1's next computation ends at 4 = T1 and its message begins then: both
    # count for iteration 1. Cancel cannot stop a transmission begun: the policies agree.
    summary = pssim.run("UC-MMC-PG", 2, 1, pg_tolerance=0.5, iterations=2, reps=1,
                        late_policy=policy, network="fifo", message_size=1,
                        master_bandwidth=1, compute_times=durations([[1, 1.5], [0.5, 2]]))
    assert rows(summary) == [(0, 0.0, 2.0, 2.0, 1, 2, 2, 1),
                             (1, 2.0, 4.0, 2.0, 1, 2, 2, 0)]


@pytest.mark.parametrize("network", ["none", "fifo", "fair"])
def test_a_single_iteration_is_the_papers_model_whatever_the_options(network: str) -> None:
    base = {"scheme": "all", "workers": 8, "load": 4, "reps": 40, "seed": 2,
            "network": network, "message_size": "1MB",
            **({"master_bandwidth": "1GB/s"} if network != "none" else {})}
    plain = pssim.run(**base, engine="des")
    same = pssim.run(**base, iterations=1, late_policy="drain", downlink="unicast",
                     downlink_bandwidth="1GB/s", decode_time=1.0, engine="des")
    result = ["completion_time", "messages", "messages_sent", "computations", "bytes"]
    pd.testing.assert_frame_equal(same[result], plain[result], check_exact=True)
    assert (plain["iteration"] == 0).all() and (plain["late_messages"] == 0).all()
    assert (plain["end"] == plain["completion_time"]).all() and (plain["start"] == 0).all()


def test_iterations_follow_each_other_and_the_first_is_the_single_iteration() -> None:
    base = {"scheme": "LCC,UC-MMC", "workers": 10, "load": 2, "reps": 30, "seed": 4}
    three = pssim.run(**base, iterations=3, downlink_bandwidth="1GB/s", model_size="4MB",
                      decode_time="1ms", engine="des")
    for _, run in three.groupby(["scheme", "rep"]):
        starts, ends = run["start"].to_numpy(), run["end"].to_numpy()
        assert (starts[1:] >= ends[:-1]).all()
        assert starts[1:] == pytest.approx(ends[:-1] + 1e-3, rel=1e-12)
    first = three[three["iteration"] == 0].reset_index(drop=True)
    single = pssim.run(**base, engine="des")
    pd.testing.assert_series_equal(first["completion_time"], single["completion_time"],
                                   check_exact=True)
    # The first two iterations do not depend on how many follow.
    two = pssim.run(**base, iterations=2, downlink_bandwidth="1GB/s", model_size="4MB",
                    decode_time="1ms", engine="des")
    shared = three[three["iteration"] < 2].reset_index(drop=True)
    pd.testing.assert_series_equal(shared["end"], two["end"], check_exact=True)


def test_which_engine_runs_a_training_run() -> None:
    tcp = {"network": "tcp", "message_size": 1e5, "master_bandwidth": 1e9}
    with pytest.raises(ConfigError, match="training runs only where messages never wait"):
        pssim.run("LCC", 4, 2, reps=1, iterations=2, engine="vectorized", **tcp)
    assert len(pssim.run("LCC", 4, 2, reps=2, iterations=3, **tcp)) == 6  # auto: des
    pd.testing.assert_frame_equal(pssim.run("LCC", 4, 2, reps=2, iterations=3),
                                  pssim.run("LCC", 4, 2, reps=2, iterations=3, engine="des"),
                                  check_exact=False, rtol=1e-9)


@pytest.mark.parametrize(("options", "parameter"), [
    ({"iterations": 0}, "iterations"), ({"iterations": 2.5}, "iterations"),
    ({"late_policy": "keep"}, "late_policy"), ({"downlink": "multicast"}, "downlink"),
    ({"downlink_bandwidth": 0}, "downlink_bandwidth"), ({"model_size": -1}, "model_size"),
    ({"decode_time": math.inf}, "decode_time"), ({"decode_time": -1}, "decode_time"),
    ({"downlink_bandwidth": "1GB/s"}, "model_size"),
])
def test_bad_training_options(options: dict, parameter: str) -> None:
    with pytest.raises(ConfigError) as err:
        pssim.run("LCC", 4, 2, **{"reps": 1, "iterations": 2, **options})
    assert err.value.parameter == parameter


def test_a_trace_of_iterations_needs_them_all() -> None:
    with pytest.raises(ConfigError, match="iteration 2"):
        pssim.run("GC", 2, 1, iterations=3, reps=1, compute_times=durations([[1, 2], [1, 2]]))


def test_late_flows_share_the_link_under_fair() -> None:
    # 1-byte messages, master link 1 B/s shared max-min fairly. Iteration 0: worker 0's
    # flow starts at 1, worker 1's at 1.5; from then each gets 0.5 B/s, so worker 0's ends
    # at 2.5 = T0 and worker 1's (late) has 0.5 B left. Both begin again at 2.5; worker 1's
    # late flow, alone until 2.75, has 0.25 B left when worker 0's new flow joins; sharing,
    # it ends at 3.25 (late, counted), and worker 0's ends at 3.25 + 0.75 = 4 = T1, a
    # quarter of a second later than on a link free of late messages.
    summary = pssim.run("UC-MMC-PG", 2, 1, pg_tolerance=0.5, iterations=2, reps=1,
                        network="fair", message_size=1, master_bandwidth=1,
                        compute_times=durations([[1, 1.5], [0.25, 2]]))
    assert rows(summary) == [(0, 0.0, 2.5, 2.5, 1, 2, 2, 1),
                             (1, 2.5, 4.0, 1.5, 1, 1, 1, 0)]


@settings(max_examples=40, deadline=None)
@given(st.integers(2, 8), st.integers(1, 3), st.integers(2, 4), st.integers(0, 2**20),
       st.sampled_from(["GC", "LCC", "UC-MMC", "UC-MMC-PG"]))
def test_cancel_never_slower_than_drain_and_bandwidth_never_hurts(
        workers: int, load: int, iterations: int, seed: int, scheme: str) -> None:
    load = min(load, workers)
    if not feasible(scheme, workers, load):
        return
    base = {"scheme": scheme, "workers": workers, "load": load, "reps": 3, "seed": seed,
            "iterations": iterations, "engine": "des"}

    def total(**options: object) -> pd.Series:
        summary = pssim.run(**base, **options)
        return summary[summary["iteration"] == iterations - 1]["end"].reset_index(drop=True)

    cancel, drain = total(late_policy="cancel"), total(late_policy="drain")
    assert (cancel <= drain * (1 + 1e-12)).all()
    slow = total(downlink_bandwidth="1MB/s", model_size="1MB")
    fast = total(downlink_bandwidth="10MB/s", model_size="1MB")
    assert (fast <= slow * (1 + 1e-12)).all()


def test_the_table_of_a_training_run_gives_the_total_time_and_late_messages() -> None:
    from typer.testing import CliRunner

    from pssim.cli import app

    result = CliRunner().invoke(app, ["run", "--scheme", "LCC", "--workers", "6", "--load",
                                      "2", "--reps", "5", "--iterations", "3", "--seed", "1"])
    assert result.exit_code == 0, result.output
    header, row = result.output.splitlines()[:2]
    assert header.split()[:3] == ["scheme", "reps", "training"] and "late" in header
    summary = pssim.run("LCC", 6, 2, reps=5, iterations=3, seed=1)
    total = summary[summary["iteration"] == 2]["end"].mean()
    assert row.split()[:3] == ["LCC", "5", f"{total:.6f}"]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.integers(2, 9), st.integers(1, 4), st.integers(2, 5), st.integers(0, 2**20),
       st.sampled_from(["GC", "LCC", "LCC-MMC", "UC-MMC", "UC-MMC-PG"]),
       st.sampled_from(["cancel", "drain"]), st.sampled_from(["broadcast", "unicast"]),
       st.sampled_from([None, "100MB/s", "1GB/s"]), st.sampled_from([0.0, 0.002]),
       st.booleans())
def test_the_vectorized_engine_is_the_simpy_engine_for_training_runs(
        workers: int, load: int, iterations: int, seed: int, scheme: str, policy: str,
        downlink: str, bandwidth: str | None, decode: float, tied: bool) -> None:
    load = min(load, workers)
    if not feasible(scheme, workers, load):
        return
    options: dict = {"scheme": scheme, "workers": workers, "load": load, "reps": 4,
                     "seed": seed, "iterations": iterations, "late_policy": policy,
                     "downlink": downlink, "decode_time": decode}
    if bandwidth is not None:
        options.update(downlink_bandwidth=bandwidth, model_size="1MB")
    if tied:  # durations on a coarse grid, so that instants tie across iterations
        grid = [0.5, 1.0, 2.0]
        options["compute_times"] = pd.DataFrame(
            [{"rep": k, "iteration": t, "worker": w, "duration": grid[(k + t + w) % 3]}
             for k in range(4) for t in range(iterations) for w in range(workers)])
    des = pssim.run(**options, engine="des")
    vec = pssim.run(**options, engine="vectorized")
    pd.testing.assert_frame_equal(vec, des, check_exact=False, rtol=1e-9, atol=0)
    exact = ["messages", "messages_sent", "computations", "late_messages"]
    pd.testing.assert_frame_equal(vec[exact], des[exact], check_exact=True)


def test_training_analysis_totals_progress_and_figure() -> None:
    import doctest

    from matplotlib.figure import Figure

    from pssim.analysis import (
        iteration_times,
        plot_training_progress,
        training,
        training_progress,
        training_totals,
    )

    assert doctest.testmod(training).failed == 0
    summary = pssim.run("LCC,UC-MMC", 6, 2, reps=8, iterations=4, seed=3,
                        downlink_bandwidth="100MB/s", model_size="1MB")
    totals = training_totals(summary)
    assert len(totals) == 2 * 8 and (totals["iterations"] == 4).all()
    last = summary[summary["iteration"] == 3].set_index(["scheme", "rep"])["end"]
    assert (totals.set_index(["scheme", "rep"])["training_time"] == last).all()
    # LCC needs 2⌈6/2⌉ − 1 = 5 of its 6 messages (group 2): computations by T beyond those
    # whose messages were received are waste, and never negative.
    assert (totals["wasted_computations"] >= 0).all()
    progress = training_progress(summary)
    assert progress["completed"].tolist()[:4] == [1, 2, 3, 4]
    assert (progress["low"] <= progress["time"]).all() and (progress["time"] <= progress["high"]
                                                          ).all()
    times = iteration_times(summary)
    assert list(times.columns) == ["scheme", "mean", "q0.1", "q0.5", "q0.9", "q0.99"]
    fig = plot_training_progress(summary, title="progress")
    assert isinstance(fig, Figure)
    assert [t.get_text() for t in fig.axes[0].get_legend().get_texts()] == ["LCC", "UC-MMC"]


@pytest.mark.parametrize(("args", "parameter"), [
    (["--iterations", "0"], "iterations"), (["--late-policy", "keep"], "late_policy"),
    (["--downlink", "multicast"], "downlink"), (["--downlink-bandwidth", "0"],
                                                "downlink_bandwidth"),
    (["--model-size", "-1MB"], "model_size"), (["--decode-time", "inf"], "decode_time"),
])
def test_bad_training_options_on_the_command_line(args: list[str], parameter: str) -> None:
    from typer.testing import CliRunner

    from pssim.cli import app

    result = CliRunner().invoke(app, ["run", "--reps", "1", "--iterations", "2", *args])
    assert result.exit_code == 2, result.output
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith(f"Error: invalid {parameter}=")
    assert "Traceback" not in result.output


def test_trace_utilities_and_the_timeline_read_iterations() -> None:
    from pssim.analysis import computations, plot_timeline, transmissions

    # The drain case above: worker 1 drains iteration 0 until 4, then computes iteration 1
    # from 4 to 5; worker 0 begins iteration 1 when the model arrives, at 1.5.
    res = pssim.simulate("UC-MMC-PG", 2, 1, pg_tolerance=0.5, iterations=2, reps=1,
                         late_policy="drain", downlink_bandwidth="2MB/s", model_size="1MB",
                         compute_times=durations([[1, 4], [3, 1]]), trace=True)
    trace = res.trace
    assert trace is not None
    spans = computations(trace).set_index(["worker", "iteration"])[["start", "end"]]
    assert spans.loc[(0, 0)].tolist() == [0.0, 1.0]
    assert spans.loc[(0, 1)].tolist() == [1.5, 4.5]
    assert spans.loc[(1, 0)].tolist() == [0.0, 4.0]
    assert (1, 1) not in spans.index  # it would end at 5, after the run's end at 4.5
    sends = transmissions(trace)
    assert len(sends) == len(trace[trace["event"] == "send_start"])
    fig = plot_timeline(trace, "UC-MMC-PG", 0, workers=2)
    styles = [line.get_linestyle() for line in fig.axes[0].get_lines()]
    assert styles.count(":") == 1 and styles.count("--") == 1  # T0, then T1
