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

from aigc_keras import config  # noqa: E402

config.split_cpu(2)

import keras  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402


@pytest.fixture
def policy():
    """Set a dtype policy for one test and restore float32 afterwards."""
    def set_policy(name):
        config.set_precision(name)
        return name

    yield set_policy
    config.set_precision("float32")


@pytest.fixture(scope="session")
def digits8():
    """The offline digits at their native 8x8 size in [-1, 1] (train split)."""
    from aigc_keras import data

    return data.load_arrays("digits", "train", image_size=8, source="offline")


@pytest.fixture(scope="session")
def classifier():
    """The chapter-1 classifier at 28x28, trained once per test run (cached in AIGC_OUTPUT)."""
    from aigc_keras.models import cnn

    return cnn.load_classifier(28)


@pytest.fixture
def out_dir(tmp_path) -> pathlib.Path:
    return tmp_path


@pytest.fixture(autouse=True)
def _seed():
    keras.utils.set_random_seed(0)
    np.random.seed(0)
    yield
