"""The architecture (docs/architecture.md): one configuration, one namespace, plugins that
are one module each, and a command line that imports nothing heavy."""

from __future__ import annotations

import math
import os
import shutil
import subprocess
import sys
from collections.abc import Generator
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pandas as pd
import pytest
import typer
from typer.testing import CliRunner

import pssim
from pssim.cli import app
from pssim.compute import ComputeModel
from pssim.config import Config
from pssim.fields import SPECS, grouped
from pssim.network import Cluster, Discipline, Send, register
from pssim.schemes import Scheme
from pssim.schemes import register as register_scheme
from pssim.sweep import PARAMETERS

ROOT = Path(__file__).resolve().parents[1]
EXACT = ["messages", "messages_sent", "computations"]


def same_on_both_engines(**options: Any) -> pd.DataFrame:
    des = pssim.run(**options, engine="des")
    vec = pssim.run(**options, engine="vectorized")
    np.testing.assert_allclose(vec["completion_time"], des["completion_time"], rtol=1e-9,
                               atol=0)
    pd.testing.assert_frame_equal(des[EXACT], vec[EXACT])
    return des


# -- a toy scheme, defined here and run by both engines ------------------------------------


@register_scheme
class NMessages(Scheme):
    """Toy: a message after every computation; the master needs N of them."""

    name = "TOY-N-MESSAGES"

    @property
    def group(self) -> int:
        return 1

    @property
    def threshold(self) -> int:
        return self.workers


def test_a_scheme_defined_outside_the_package_runs_on_both_engines() -> None:
    summary = same_on_both_engines(scheme="TOY-N-MESSAGES,LCC-MMC", workers=6, load=3,
                                   reps=50, seed=4)
    toy = summary[summary["scheme"] == "TOY-N-MESSAGES"]
    # A count rule of N messages: exactly N received by T, and T is the N-th smallest of
    # the N·r ready times; with explicit durations that is checkable by hand below.
    assert (toy["messages"] == 6).all()
    times = pd.DataFrame({"worker": range(3), "duration": [1.0, 2.0, 4.0]})
    t = pssim.run("TOY-N-MESSAGES", 3, 2, reps=1, compute_times=times)["completion_time"]
    assert t.tolist() == [2.0]  # ready at 1, 2, 2, 4, 4, 8: the third is at 2


# -- a toy compute model with three parameters ----------------------------------------------


class UniformSteps(ComputeModel):
    """Toy: computation c takes low + (high − low)·U + c·step, U uniform per computation."""

    name = "uniform_steps"

    def __init__(self, low: float, high: float, step: float) -> None:
        self.low, self.high, self.step = low, high, step

    def finish_times(self, seed: int, start: int, stop: int, workers: int,
                     load: int) -> np.ndarray:
        out = np.empty((stop - start, workers, load))
        for k in range(start, stop):
            u = np.random.default_rng([seed, k]).random((workers, load))
            durations = self.low + (self.high - self.low) * u + self.step * np.arange(load)
            out[k - start] = np.cumsum(durations, axis=1)
        return out

    def parameters(self) -> dict[str, Any]:
        return {"model": self.name, "low": self.low, "high": self.high, "step": self.step}


def test_a_compute_model_defined_outside_the_package_runs_on_both_engines() -> None:
    model = UniformSteps(0.1, 0.3, 0.05)
    summary = same_on_both_engines(scheme="all", workers=8, load=4, reps=40, seed=2,
                                   compute_times=model, network="fifo", message_size="1MB",
                                   master_bandwidth="100MB/s")
    assert (summary["model"] == "uniform_steps").all()
    assert (summary["step"] == 0.05).all()
    # Each computation takes at least low: GC's N − r + 1 workers need r of them.
    gc = summary[summary["scheme"] == "GC"]
    assert (gc["completion_time"] >= 4 * 0.1).all()


# -- a toy network discipline -----------------------------------------------------------


@register
class ConstantDelay(Discipline):
    """Toy: every message is received ``latency`` after it is ready, whatever the load."""

    name = "toy_delay"
    engines: ClassVar[frozenset[str]] = frozenset({"des", "vectorized"})
    needs_size = False

    def des(self, cluster: Cluster, workers: int) -> Send:
        env = cluster.env

        def deliver(worker: int, message: int) -> Generator[Any, Any, None]:
            yield env.at(env.now + self.latency)
            cluster.receive(worker, message)

        def send(worker: int, message: int) -> None:
            cluster.started(worker, message)
            env.process(deliver(worker, message))

        return send

    def arrays(self, ready: np.ndarray, identify: bool) -> tuple[np.ndarray, np.ndarray]:
        return ready, ready + self.latency


@register
class SimPyOnly(ConstantDelay):
    """The same discipline, declared for the SimPy engine only."""

    name = "toy_delay_des_only"
    engines: ClassVar[frozenset[str]] = frozenset({"des"})


def test_a_network_discipline_defined_outside_the_package_runs_on_both_engines() -> None:
    base = {"scheme": "all", "workers": 8, "load": 4, "reps": 60, "seed": 9}
    delayed = same_on_both_engines(**base, network="toy_delay", latency=0.25)
    plain = pssim.run(**base)
    # A constant delay shifts every reception, so T by exactly the delay.
    np.testing.assert_allclose(delayed["completion_time"], plain["completion_time"] + 0.25,
                               rtol=1e-12)
    assert (delayed["network"] == "toy_delay").all()


def test_auto_takes_what_the_discipline_declares() -> None:
    base = {"scheme": "LCC", "workers": 6, "load": 2, "reps": 5, "latency": 0.1}
    with pytest.raises(pssim.ConfigError, match="toy_delay_des_only"):
        pssim.run(**base, network="toy_delay_des_only", engine="vectorized")
    pd.testing.assert_frame_equal(pssim.run(**base, network="toy_delay_des_only"),
                                  pssim.run(**base, network="toy_delay_des_only",
                                            engine="des"))


# -- one configuration ------------------------------------------------------------------


def test_the_configuration_is_frozen_and_names_unknown_fields() -> None:
    config = Config(workers=10, load=2, message_size="4MB", latency="50us")
    assert config.message_size == 4e6 and config.latency == pytest.approx(50e-6)
    with pytest.raises(Exception, match="frozen"):
        config.workers = 3  # type: ignore[misc]
    with pytest.raises(pssim.ConfigError, match="wrokers"):
        Config(wrokers=10)
    with pytest.raises(pssim.ConfigError, match="wrokers"):
        pssim.run(wrokers=10)


def test_simulate_takes_a_configuration_or_its_options() -> None:
    config = Config(scheme=("LCC", "UC-MMC"), workers=8, load=2, reps=20, seed=3)
    pd.testing.assert_frame_equal(pssim.run(config), pssim.run("LCC,UC-MMC", 8, 2, reps=20,
                                                                 seed=3))
    pd.testing.assert_frame_equal(pssim.run(config, reps=5), pssim.run(config)[lambda d:
                                  d["rep"] < 5].reset_index(drop=True))


def test_every_field_has_a_help_text_and_reaches_the_cli_and_sweep_files() -> None:
    result = CliRunner().invoke(app, ["run", "--help"], terminal_width=200)
    for name, info in Config.model_fields.items():
        assert info.description, name
        assert f"--{name.replace('_', '-')}" in result.output
        if name not in ("scheme", "reps", "seed"):  # the [sweep] section sets those
            assert name in PARAMETERS
    assert set(PARAMETERS) == set(Config.model_fields) - {"scheme", "reps", "seed"}


def test_help_texts_give_units() -> None:
    for name in ("mu", "alpha", "uplink_bandwidth", "master_bandwidth", "latency",
                 "message_size"):
        text = Config.model_fields[name].description or ""
        assert any(u in text for u in ("seconds", "bytes", "Bytes")), name


# -- one namespace --------------------------------------------------------------------------


def test_an_install_claims_only_the_pssim_name(tmp_path: Path) -> None:
    # Built from a copy, so that the build leaves nothing in the working tree.
    source = tmp_path / "source"
    source.mkdir()
    for name in ("pyproject.toml", "README.md", "simulator", "schemes", "analysis",
                 "scenarios"):
        copy = shutil.copytree if (ROOT / name).is_dir() else shutil.copy
        copy(ROOT / name, source / name)
    target = tmp_path / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps",
                    "--target", str(target), str(source)], check=True, timeout=600)
    top = {p.name for p in target.iterdir() if not p.name.endswith((".dist-info", "bin"))}
    assert top == {"pssim"}, top
    for sub in ("schemes", "analysis", "scenarios", "engines", "network"):
        assert (target / "pssim" / sub / "__init__.py").is_file()
    # A researcher's own analysis/ folder beside a notebook does not shadow pssim.
    work = tmp_path / "notebook"
    (work / "analysis").mkdir(parents=True)
    (work / "schemes").mkdir()
    env = {**os.environ, "PYTHONPATH": str(target)}
    code = ("import pssim, pssim.analysis, pssim.schemes; print(pssim.analysis.__file__); "
            "print(len(pssim.run('LCC', 4, 2, reps=3)))")
    done = subprocess.run([sys.executable, "-c", code], cwd=work, env=env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == [str(target / "pssim" / "analysis" / "__init__.py"), "3"]
    done = subprocess.run([sys.executable, "-m", "pssim", "--help"], cwd=work, env=env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0 and "Usage" in done.stdout, done.stderr


# -- a fast command line ------------------------------------------------------------------

HEAVY = ("pandas", "scipy", "seaborn", "matplotlib", "simpy", "dask", "distributed", "numba",
         "llvmlite", "numpy", "pyarrow", "pydantic", "pydantic_core")
COMMANDS = sorted(typer.main.get_command(app).commands)  # type: ignore[attr-defined]


@pytest.mark.parametrize("args", [[], ["--help"], ["--version"],
                                  *([name, "--help"] for name in COMMANDS)])
def test_help_imports_nothing_heavy(args: list[str]) -> None:
    # The options are built from pssim.fields, plain data, without the Config and pydantic
    # (docs/performance.md, "Start-up").
    done = subprocess.run([sys.executable, "-X", "importtime", "-m", "pssim", *args],
                          capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert done.returncode == 0, done.stderr
    modules = {line.split("|")[-1].strip()
               for line in done.stderr.splitlines() if line.startswith("import time:")}
    imported = {name.split(".")[0] for name in modules}
    assert imported.isdisjoint(HEAVY), sorted(imported & set(HEAVY))
    assert "pssim.config" not in modules
    assert {"pssim", "pssim.cli", "pssim.fields"} <= modules


def test_the_config_declares_the_fields_of_pssim_fields_in_their_order() -> None:
    # The command line's options come from SPECS, a run's values from the Config: a field
    # in one and not the other, or in another order, would be an option missing from the
    # help or shown in the wrong place.
    assert list(Config.model_fields) == list(SPECS)
    for name, info in Config.model_fields.items():
        assert (info.default, info.description) == (SPECS[name].default, SPECS[name].help)
    assert grouped("stragglers") == ("mu", "alpha", "family", "shape", "rate", "mu_log",
                                     "sigma_log", "scale", "granularity", "speeds",
                                     "persistent", "markov", "shared", "groups")


def test_only_compiled_networks_load_the_compiler() -> None:
    # numba (about half a second to load, and to compile once) serves the vectorized
    # engine's fifo queues and fair link only: a run without them never imports it.
    code = ("import sys, pssim; pssim.run('LCC-MMC', 6, 2, reps=3, {}); "
            "print('numba' in sys.modules)")
    loaded = []
    for options in ("", "network='fifo', message_size=1, master_bandwidth=2",
                    "network='fifo', message_size=1, master_bandwidth=2, engine='des'"):
        done = subprocess.run([sys.executable, "-c", code.format(options)],
                              capture_output=True, text=True, timeout=120, cwd=ROOT)
        assert done.returncode == 0, done.stderr
        loaded.append(done.stdout.split()[-1])
    assert loaded == ["False", "True", "False"]


def test_python_dash_m_pssim_is_the_pssim_command() -> None:
    done = subprocess.run([sys.executable, "-m", "pssim", "run", "--scheme", "LCC",
                           "--reps", "2", "--workers", "4", "--load", "2"],
                          capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[1].split()[:2] == ["LCC", "2"]
    assert math.isfinite(float(done.stdout.splitlines()[1].split()[2]))
