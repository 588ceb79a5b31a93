"""Shared test set-up.

* The CPU is split into two logical devices before TensorFlow starts, so
  ``MirroredStrategy`` tests have two replicas on this machine.
* Each pytest-xdist worker runs TensorFlow on one thread (see below).
* ``AIGC_OUTPUT`` points at one folder per test run (the Makefile passes a fixed one so
  the notebooks reuse the classifier the tests trained).
* ``AIGC_PROJECT_TIME=1`` (``make test``): the run measures this machine's DCGAN ``fit``
  throughput first and ends with its wall time projected onto a slower machine (:class:`TestTime`).
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
def _seed():
    keras.utils.set_random_seed(0)
    np.random.seed(0)
    yield


# --- scheduling: the longest files first ----------------------------------------------------------
# `make test` runs two pytest-xdist workers that take whole files
# (`--dist loadfile --no-loadscope-reorder`) in collection order.  Sorted longest first, the quality
# trainings start at once and the short files fill in behind them; by default xdist sorted files by
# their number of tests, and the StyleGAN file (few tests, the longest training) came last and ran
# alone.  Seconds on one worker of a two-worker run (per-file sums of the fresh-clone `make test` of
# 0ed65a5 on 2026-12-05 on the 2-core AMD EPYC, one TensorFlow thread per worker, DCGAN probe about
# 900 images/s; files under 20 s left out; the same file moved by up to 40% between two runs an hour
# apart, and only the order matters).
FILE_SECONDS = {
    "tests/test_stylegan_quality.py": 201,
    "tests/test_gan_demo.py": 193,
    "tests/test_mnist_m_judges.py": 162,
    "tests/test_cyclegan_quality.py": 160,
    "tests/test_wgan_gp_quality.py": 150,
    "tests/test_cnn.py": 150,
    "tests/test_vae.py": 148,
    "tests/test_benchmarks.py": 138,
    "tests/test_diffusion_quality.py": 120,
    "tests/test_diffusion.py": 120,
    "tests/test_fast_style_quality.py": 118,
    "tests/test_cyclegan.py": 113,
    "notebooks/04_cyclegan.ipynb": 110,
    "tests/test_style_quality.py": 102,
    "tests/test_reliability.py": 99,
    "tests/test_editing_quality.py": 95,
    "tests/test_pix2pix_quality.py": 95,
    "tests/test_editing.py": 92,
    "tests/test_dcgan_quality.py": 88,
    "notebooks/08_evaluation.ipynb": 87,
    "tests/test_cli.py": 84,
    "notebooks/03_vae.ipynb": 82,
    "notebooks/07_image_editing.ipynb": 72,
    "tests/test_cyclegan_ablation.py": 71,
    "notebooks/09_diffusion.ipynb": 69,
    "notebooks/10_style_and_dreams.ipynb": 68,
    "tests/test_gan.py": 66,
    "notebooks/05_stylegan.ipynb": 53,
    "notebooks/01_cnn.ipynb": 53,
    "tests/test_stylegan.py": 52,
    "notebooks/06_pixelcnn.ipynb": 48,
    "notebooks/02_gan.ipynb": 44,
    "tests/test_fast_style.py": 33,
    "tests/test_pixelcnn.py": 30,
    "tests/test_data.py": 24,
    "tests/test_distribute.py": 22,
}


# Started first, in this order.  xdist gives each worker one file, then another whenever two or
# fewer of its queued tests are left: the demo's file holds two tests, so its worker takes the
# third file at once and runs the longest training (`make demo`'s), then the WGAN-GP's; the other
# worker runs the file whose judge test trains the chapter-1 classifier most quality tests read (the
# demo's tests ask for it after the demo's training, and find it cached: had they taken the session
# fixture `classifier`, pytest would have set it up before their module's training, and the demo's
# worker would have waited about two minutes for the other's) and, near its end, takes the MNIST-M
# judges' file, so that the judges train in their own file and before either CycleGAN quality file
# starts (AFTER_JUDGES).
FIRST = (
    "tests/test_gan_demo.py",
    "tests/test_cnn.py",
    "tests/test_wgan_gp_quality.py",
    "tests/test_mnist_m_judges.py",
)

# Files that read the MNIST-M judges: never among the first LATER_BY files after FIRST, whatever
# their seconds, so that the judges are cached when they start (had one started while the other
# worker still trained the judges, its worker would have waited on the judges' file lock).  With
# xdist taking files ahead of time, a file near the front of the queue can start on either worker.
AFTER_JUDGES = ("tests/test_cyclegan_quality.py", "tests/test_cyclegan_ablation.py")
LATER_BY = 6


def file_order(paths):
    """The order the test files start in: FIRST, then the longest first (FILE_SECONDS), with the
    AFTER_JUDGES files moved back to just after the first LATER_BY others if they came earlier."""
    rest = sorted((p for p in paths if p not in FIRST), key=lambda p: -FILE_SECONDS.get(p, 0))
    late = [p for p in rest[:LATER_BY] if p in AFTER_JUDGES]
    rest = [p for p in rest if p not in late]
    rest[LATER_BY:LATER_BY] = late
    return [p for p in FIRST if p in paths] + rest


def pytest_collection_modifyitems(config, items):
    paths = list(dict.fromkeys(item.nodeid.split("::")[0] for item in items))
    position = {path: i for i, path in enumerate(file_order(paths))}
    items.sort(key=lambda item: position[item.nodeid.split("::")[0]])  # stable inside a file


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
            "workers": getattr(terminalreporter.config.option, "numprocesses", None),
            "args": sys.argv[1:],
        }
        path = pathlib.Path(os.environ["AIGC_OUTPUT"]) / "test_time.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(record, indent=1, default=str), encoding="utf-8")
        terminalreporter.write_line(f"written to {path}")


def pytest_configure(config):
    if os.environ.get("AIGC_PROJECT_TIME", "").strip() == "1" and not hasattr(
        config, "workerinput"
    ):
        config.pluginmanager.register(TestTime(), "aigc_test_time")
