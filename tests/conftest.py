"""Shared test set-up.

* The CPU is split into two logical devices before TensorFlow starts, so
  ``MirroredStrategy`` tests have two replicas on this machine.
* ``AIGC_OUTPUT`` points at one folder per test run (the Makefile passes a fixed one so
  the notebooks reuse the classifier the tests trained).
"""

import os
import pathlib
import tempfile

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
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
# alone.  Seconds on one worker of a two-worker run (pytest --durations, 2026-11-24, graph mode;
# only the order matters).
FILE_SECONDS = {
    "tests/test_gan.py": 1750,
    "tests/test_stylegan.py": 1500,
    "tests/test_editing.py": 650,
    "tests/test_vae.py": 600,
    "tests/test_cyclegan.py": 450,
    "tests/test_benchmarks.py": 330,
    "tests/test_pixelcnn.py": 200,
    "notebooks/05_stylegan.ipynb": 172,
    "notebooks/02_gan.ipynb": 145,
    "tests/test_cli.py": 130,
    "notebooks/08_evaluation.ipynb": 98,
    "notebooks/04_cyclegan.ipynb": 88,
    "tests/test_reliability.py": 80,
    "notebooks/06_pixelcnn.ipynb": 64,
    "notebooks/07_image_editing.ipynb": 60,
    "notebooks/03_vae.ipynb": 57,
    "tests/test_distribute.py": 35,
    "notebooks/01_cnn.ipynb": 30,
}


def pytest_collection_modifyitems(config, items):
    items.sort(
        key=lambda item: -FILE_SECONDS.get(item.nodeid.split("::")[0], 0)
    )  # stable: file order kept inside


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
