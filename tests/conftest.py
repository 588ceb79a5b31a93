"""Shared test set-up.

* The CPU is split into two logical devices before TensorFlow starts, so
  ``MirroredStrategy`` tests have two replicas on this machine.
* Each pytest-xdist worker runs TensorFlow on one thread (see below).
* ``AIGC_OUTPUT`` points at one folder per test run (the Makefile passes a fixed one so
  the notebooks reuse the classifier the tests trained).
* ``AIGC_PROJECT_TIME=1`` (``make test``): the run measures this machine's DCGAN ``fit``
  throughput first and ends with its wall time projected onto a slower machine (:class:`TestTime`);
  on a machine slower than the reference it skips the ``extended`` tests
  (``file_schedule.skip_extended``), and on a much slower one the ``long`` tests too
  (``file_schedule.skip_long``).
"""

import datetime
import json
import os
import pathlib
import sys
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
if os.environ.get("PYTEST_XDIST_WORKER"):
    # One TensorFlow thread per pytest-xdist worker (and per notebook kernel it starts: they inherit
    # the environment); the main process, which runs the DCGAN probe, keeps TensorFlow's default of
    # one per core.  Two workers on two cores each with a two-thread pool spent 12% more CPU time on
    # the same tests (a four-file sample: 356 s against 315 s of user time, 2026-12-04), and with
    # one thread a test's arithmetic no longer depends on the machine's core count (Eigen and oneDNN
    # split their sums by it; it still depends on the CPU's instruction set).
    os.environ.setdefault("TF_NUM_INTRAOP_THREADS", "1")
    os.environ.setdefault("TF_NUM_INTEROP_THREADS", "1")
if "AIGC_OUTPUT" not in os.environ:
    os.environ["AIGC_OUTPUT"] = tempfile.mkdtemp(prefix="aigc_test_outputs_")

from aigc_keras import hardware  # noqa: E402 (after AIGC_OUTPUT is set)

hardware.split_cpu(2)

import keras  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402


@pytest.fixture
def policy():
    """Set a dtype policy for one test and return to the hardware's defaults afterwards."""

    def set_policy(name):
        hardware.set_precision(name)
        return name

    yield set_policy
    hardware.set_precision("auto")


@pytest.fixture(scope="session")
def digits8():
    """The offline digits at their native 8x8 size in [-1, 1] (train split)."""
    from aigc_keras import data

    return data.load_arrays("digits", "train", image_size=8, source="offline")


@pytest.fixture(scope="session")
def classifier():
    """The chapter-1 classifier at 28x28, trained once per test run (cached in AIGC_OUTPUT)."""
    from aigc_keras import judges

    return judges.load_classifier(28)


@pytest.fixture
def out_dir(tmp_path) -> pathlib.Path:
    return tmp_path


@pytest.fixture(autouse=True)
def _hardware_choices():
    """A test's XLA and precision choices end with it: the command-line tests run ``aigc-keras
    train --xla off`` inside the test process, and a later test on the same worker read that as the
    user's choice (``XLA off`` instead of the hardware default)."""
    keys = ("jit_compile", "precision_chosen", "precision_set")  # not the session's strategy
    saved, policy = {k: hardware._state[k] for k in keys}, keras.config.dtype_policy()
    yield
    hardware._state.update(saved)
    keras.config.set_dtype_policy(policy)


@pytest.fixture(autouse=True)
def _seed():
    keras.utils.set_random_seed(0)
    np.random.seed(0)
    yield


# --- scheduling: the longest files first (tests/file_schedule.py) -------------------------------


def pytest_collection_modifyitems(config, items):
    import file_schedule  # tests/ is on sys.path: pytest put it there to import this file

    paths = list(dict.fromkeys(item.nodeid.split("::")[0] for item in items))
    position = {path: i for i, path in enumerate(file_schedule.file_order(paths))}
    items.sort(key=lambda item: position[item.nodeid.split("::")[0]])  # stable inside a file
    for marker, variable in (("extended", SKIP_EXTENDED), ("long", SKIP_LONG)):
        why = os.environ.get(variable)
        if why:
            skip = pytest.mark.skip(reason=f"{marker} test skipped: {why}")
            for item in items:
                if marker in item.keywords:
                    item.add_marker(skip)


# --- the extended tests (tests/file_schedule.py) -------------------------------------------------
# The controller decides (from AIGC_EXTENDED, then from its probe) before xdist starts the workers,
# and passes the decision on in this environment variable, which the workers inherit.
SKIP_EXTENDED = "AIGC_SKIP_EXTENDED"
SKIP_LONG = "AIGC_SKIP_LONG"  # the same for the long tests, on a very slow machine


def _decide_extended(images_per_s):
    import file_schedule

    setting = os.environ.get(file_schedule.EXTENDED_SETTING)
    for variable, why in (
        (SKIP_EXTENDED, file_schedule.skip_extended(images_per_s, REFERENCE_IMAGES_PER_S, setting)),
        (SKIP_LONG, file_schedule.skip_long(images_per_s, setting)),
    ):
        if why:
            os.environ[variable] = why
        else:
            os.environ.pop(variable, None)


# --- the quality figures, printed at the end of the run -------------------------------------------
# The quality tests print what they measured; pytest hides the output of passing tests, and these
# figures are the ones the README reports.
_FIGURES = []


def pytest_runtest_logreport(report):
    if (
        report.when == "call"
        and report.passed
        and "slow" in report.keywords
        and report.capstdout.strip()
    ):
        _FIGURES.append(f"{report.nodeid} ({report.duration:.0f} s): {report.capstdout.strip()}")


def pytest_terminal_summary(terminalreporter):
    if _FIGURES:
        terminalreporter.section("quality figures")
        for line in _FIGURES:
            terminalreporter.write_line(line)


# --- the run's wall time, projected onto a slower machine (make test) -----------------------------
# The suite's wall time depends on the machine: `make test` (AIGC_PROJECT_TIME=1) first measures
# this machine's DCGAN fit() throughput with the benchmark's own function (graph mode, float32, no
# XLA, whatever this hardware's defaults are), measures it again at the end, and ends with the wall
# time scaled by their mean to the slowest machine the project has seen.  Only the process that
# reports measures: xdist's controller, before its workers start and after they stop (so nothing
# shares the CPU with the probe), or a run without workers.
REFERENCE_IMAGES_PER_S = 461  # DCGAN fit() images/s, graph/float32, of the slowest machine seen
PROBE_SECONDS = 1.5  # each of the probe's three timed fit() calls (median): ~10 s in all here


def dcgan_images_per_s(seconds: float = PROBE_SECONDS) -> dict:
    """This machine's DCGAN ``fit()`` images per second in graph mode, float32, no XLA.

    The short form of the benchmark's throughput row (``benchmarks.harness.throughput`` without the
    bare loop): a warm-up fit() (the trace), then three interleaved timed fit() calls of about
    ``seconds`` each; the median.

    Args:
        seconds: the length of each timed call.

    Returns:
        The harness's row: ``fit_per_s``, ``steps``, ``batch``, ``mode``, ``first_fit_s``, ...
    """
    root = str(pathlib.Path(__file__).resolve().parents[1])
    if root not in sys.path:
        sys.path.insert(0, root)
    from benchmarks import harness

    return harness.throughput("dcgan", "graph/float32", seconds=seconds, bare=False)


def projected_seconds(wall_s: float, images_per_s: float) -> float:
    """``wall_s`` seconds on a machine of ``images_per_s`` as seconds on the reference machine."""
    return wall_s * images_per_s / REFERENCE_IMAGES_PER_S


class TestTime:
    """The probe at session start and at its end, and the ``test time`` section (a pytest
    plugin)."""

    __test__ = False  # not a test class

    def __init__(self):
        self.probe, self.probe_s, self.error, self.start = None, 0.0, None, time.perf_counter()
        self.end_probe = None

    @pytest.hookimpl(tryfirst=True)  # before xdist starts its workers
    def pytest_sessionstart(self, session):
        start = time.perf_counter()
        try:
            self.probe = dcgan_images_per_s()
        except Exception as error:  # the tests still run; the summary says what went wrong
            self.error = f"{type(error).__name__}: {error}"
        self.probe_s = time.perf_counter() - start
        _decide_extended(self.probe["fit_per_s"] if self.probe else None)
        self.start = time.perf_counter()  # the suite's wall time leaves the probe out

    def pytest_terminal_summary(self, terminalreporter, exitstatus):
        wall = time.perf_counter() - self.start
        terminalreporter.section("test time")
        if self.probe is None:
            terminalreporter.write_line(
                f"wall time {wall:,.0f} s on this machine; no projection: the DCGAN probe "
                f"failed ({self.error})"
            )
            return
        # The probe again, now that the workers are done: a shared virtual machine's speed drifts
        # (this probe read 309 and 413 images/s at the start of two runs of nearly the same wall
        # time), so the projection uses the mean of the start's and the end's.
        end_start = time.perf_counter()
        try:
            self.end_probe = dcgan_images_per_s()
        except Exception as error:
            self.end_probe, self.error = None, f"{type(error).__name__}: {error}"
        end_probe_s = time.perf_counter() - end_start
        rates = [self.probe["fit_per_s"]] + (
            [self.end_probe["fit_per_s"]] if self.end_probe else []
        )
        rate = sum(rates) / len(rates)
        projected = projected_seconds(wall, rate)
        terminalreporter.write_line(
            f"wall time {wall:,.0f} s on this machine (DCGAN fit {rate:,.0f} images/s); projected "
            f"on a {REFERENCE_IMAGES_PER_S}-images/s machine: {projected:,.0f} s "
            f"({projected / 60:.1f} min)"
        )
        terminalreporter.write_line(
            f"(the probe: {self.probe['mode']}, {self.probe['steps']} steps of batch "
            f"{self.probe['batch']} per timed fit(), median of 3, before the tests "
            f"({self.probe['fit_per_s']:,.0f} images/s, {self.probe_s:.1f} s) and after them "
            + (
                f"({self.end_probe['fit_per_s']:,.0f} images/s, {end_probe_s:.1f} s)"
                if self.end_probe
                else f"(failed: {self.error}; the first alone is used)"
            )
            + "; the mean is used; neither is in the wall time)"
        )
        stats = terminalreporter.stats
        skipped = [r for r in stats.get("skipped", []) if "extended" in r.keywords]
        why = os.environ.get(SKIP_EXTENDED)
        if why:
            terminalreporter.write_line(f"{len(skipped)} extended tests skipped: {why}")
        long_skipped = [r for r in stats.get("skipped", []) if "long" in r.keywords]
        long_why = os.environ.get(SKIP_LONG)
        if long_why:
            terminalreporter.write_line(f"{len(long_skipped)} long tests skipped: {long_why}")
        import file_schedule

        reports = [report for group in stats.values() for report in group]
        worker_s = file_schedule.worker_seconds(reports)
        again_s = file_schedule.worker_seconds(reports, file_schedule.SECOND_RUN)
        # their share of the projection: the workers were busy throughout (make test's two took
        # whole files until none was left), so a share of the worker-seconds is that share of
        # the wall time
        again_projected = projected * again_s / worker_s if worker_s else 0.0
        if again_s:
            terminalreporter.write_line(
                f"the notebooks' second runs: {again_s:,.0f} of the tests' {worker_s:,.0f} "
                f"worker-seconds, {again_projected / 60:.1f} of the projected minutes"
            )
        record = {
            "date": datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
            "wall_s": round(wall, 1),
            "images_per_s": round(rate, 1),
            "reference_images_per_s": REFERENCE_IMAGES_PER_S,
            "projected_s": round(projected, 1),
            "probe_s": round(self.probe_s, 1),
            "probe": self.probe,
            "end_probe_s": round(end_probe_s, 1),
            "end_probe": self.end_probe,
            "exit_status": int(exitstatus),
            "outcomes": {
                key: len(stats.get(key, []))
                for key in ("passed", "failed", "error", "skipped", "xfailed", "xpassed")
            },
            "extended_skipped": {"tests": len(skipped), "why": why} if why else None,
            "long_skipped": {"tests": len(long_skipped), "why": long_why} if long_why else None,
            "worker_s": round(worker_s, 1),
            "second_runs": {
                "worker_s": round(again_s, 1),
                "projected_s": round(again_projected, 1),
            },
            "workers": getattr(terminalreporter.config.option, "numprocesses", None),
            "args": sys.argv[1:],
        }
        path = pathlib.Path(os.environ["AIGC_OUTPUT"]) / "test_time.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(record, indent=1, default=str), encoding="utf-8")
        terminalreporter.write_line(f"written to {path}")


def pytest_configure(config):
    if hasattr(config, "workerinput"):
        return  # a worker: the controller decided, and the worker inherited its environment
    _decide_extended(None)  # AIGC_EXTENDED=0 or 1; unset: the probe below decides, if there is one
    if os.environ.get("AIGC_PROJECT_TIME", "").strip() == "1":
        config.pluginmanager.register(TestTime(), "aigc_test_time")
