"""LCC at roots of unity (docs/model.md, "Coded gradient descent", points circle): with
every point received the decoding system is a scaled DFT (condition number 1), and its
condition numbers stay below those of Chebyshev points on the real line."""

from __future__ import annotations

import numpy as np
import pytest

from pssim.errors import ConfigError
from pssim.learning import Problem, train
from pssim.schemes import make_scheme

PROBLEM = Problem.synthetic(480, 6, noise=0.5, seed=3)


def test_all_roots_of_unity_give_a_perfectly_conditioned_decode() -> None:
    # LCC(2) at N = 5, r = 2: K = 3, so the threshold 2K − 1 = 5 is every point, the
    # fifth roots of unity; V/√5 is unitary.
    scheme = make_scheme("LCC", 5, 2)
    code = scheme.code(*PROBLEM.partitions(5), points="circle", basis="laurent")
    received = np.random.default_rng(3).random((4, 5, 1))
    w = np.random.default_rng(4).standard_normal((4, PROBLEM.features))
    decoded, cond = code.decode(code.messages(w), received)
    assert np.allclose(cond, 1.0, rtol=0, atol=1e-12)
    exact = w @ (PROBLEM.x.T @ PROBLEM.x) - PROBLEM.x.T @ PROBLEM.y
    assert np.abs(decoded - exact).max() < 1e-12 * np.abs(exact).max()


@pytest.mark.parametrize("name", ["LCC", "LCC-MMC-2", "LCC-MMC"])
def test_roots_of_unity_condition_better_than_chebyshev_points(name: str) -> None:
    scheme = make_scheme(name, 40, 4)
    x, y = Problem.synthetic(400, 3, 0.5, 1).partitions(40)
    rng = np.random.default_rng(5)
    received = rng.random((30, 40, scheme.messages_per_worker))
    w = rng.standard_normal((30, 3))
    conds = {}
    for points, basis in (("circle", "laurent"), ("chebyshev", "chebyshev")):
        code = scheme.code(x, y, points=points, basis=basis)
        conds[points] = code.decode(code.messages(w), received)[1]
    # The same straggler patterns: on the real line the median is more than twice and
    # the worst case more than the circle's.
    assert np.median(conds["circle"]) * 2 < np.median(conds["chebyshev"])
    assert conds["circle"].max() < conds["chebyshev"].max()


@pytest.mark.parametrize(("points", "basis"), [("circle", "chebyshev"),
                                               ("chebyshev", "laurent")])
def test_the_circle_needs_its_own_basis(points: str, basis: str) -> None:
    scheme = make_scheme("LCC", 8, 4)
    with pytest.raises(ConfigError, match=f"^invalid basis='{basis}': must be laurent"):
        scheme.code(*PROBLEM.partitions(8), points=points, basis=basis)


def test_messages_at_roots_of_unity_are_complex_on_the_network() -> None:
    # d complex numbers where a real message carries d float64s: twice message_size on
    # the wire; the model sent keeps the real message's size.
    from pssim.api import simulate

    config = {"scheme": ["LCC"], "workers": 4, "load": 2, "reps": 2, "iterations": 3,
              "network": "fifo", "message_size": 800.0, "master_bandwidth": 8e4,
              "downlink_bandwidth": 1e5}
    summary = train(problem=Problem.synthetic(480, 6, noise=0.5, seed=3), points="circle",
                    basis="laurent", **config).summary
    assert (summary["bytes"] == summary["messages"] * 1600.0).all()
    timing = simulate(**{**config, "message_size": 1600.0, "model_size": 800.0}).summary
    assert summary["end"].tolist() == timing["end"].tolist()
