"""Chapter 2's conditional GAN quality bars on ``make demo``'s own training: the demo grid shows
each column's digit, and 1,000 samples show the digit asked for, differ within a class and copy no
training digit.  A file of its own: the training is the longest of chapter 2's."""

import pathlib
import shlex

import numpy as np
import pytest
import sample_checks
from PIL import Image

from aigc_keras import cli, data, registry

pytestmark = pytest.mark.long  # skipped on a very slow machine: tests/file_schedule.py

# --- quality bars on MNIST at 28x28 (offline: the 4,000 training digits of mnist_5k) -----------


@pytest.fixture(scope="module")
def real_digits():
    return (
        data.load_arrays("mnist", "train", image_size=28),
        data.load_arrays("mnist", "test", image_size=28),
    )


def demo_arguments(makefile=pathlib.Path(__file__).parents[1] / "Makefile"):
    """The arguments ``make demo`` passes to ``aigc-keras`` (read from the Makefile)."""
    lines = [line for line in makefile.read_text().splitlines() if "aigc-keras train" in line]
    assert len(lines) == 1, "the Makefile's demo target should hold one aigc-keras train line"
    return shlex.split(lines[0].split("aigc-keras", 1)[1])


@pytest.fixture(scope="module")
def demo_cgan(tmp_path_factory):
    """``make demo``'s training, run as the Makefile runs it (its own output folder): the
    conditional GAN both tests below judge, trained once."""
    arguments = demo_arguments()
    out = arguments.index("--out") + 1
    arguments[out] = str(tmp_path_factory.mktemp("demo"))
    cli.main(arguments)
    folder = pathlib.Path(arguments[out]) / "cgan"
    network, record = registry.load_exported(folder / "generator.keras", "generator")
    return folder, network, record


# Measured with `make demo`'s training (20 epochs of the 4,000 offline digits, 1,240 steps of batch
# 64), samples from the generator's moving average, at data seeds 0 (the Makefile's) / 1.
# On the 2-core AMD EPYC (2026-12-02, mixed_bfloat16, then the default there): agreement over 1,000
# samples 0.972 / 0.958, demo grid 0.95 / 0.96, smallest per-class diversity ratio 0.56 / 0.59,
# closest sample to a training digit 3.78 / 4.48 against the held-out floor 3.29.
# On a 2-core Xeon with AMX (2026-12-02): mixed_bfloat16 0.883 / 0.930 (grids 0.88 / 0.91), below
# the floors; float32 0.982 / 0.945 (grids 0.96 / 0.95; smallest diversity ratio 0.48 / 0.62,
# closest sample 4.03 / 3.57).  So the conditional GAN's default is float32 on every CPU
# (cpu_bf16_fails_quality in aigc_keras/measured_defaults.json).  Bars: the
# lowest float32 agreement minus one binomial standard error (0.945 - 0.007), the lowest grid share
# minus one (0.95 - 0.022), above the floors of 92% and 90%; the smallest diversity ratio measured
# minus 10% (0.48 x 0.9; a collapse to one image per class gives 0).
# A narrower demo (`--width 32`, 20 epochs; Xeon with AMX, 2026-12-03) trained in about 40% of
# the time but missed the bars: agreement 0.840 / 0.613 at seeds 0 / 1 (grids 0.86 / 0.60).
# With one TensorFlow thread per test worker (tests/conftest.py; 2-core AMD EPYC, 2026-12-04,
# float32): agreement 0.961 / 0.905 at seeds 0 / 1, demo grid 0.94 at seed 0, smallest diversity
# ratio 0.428 / 0.653, closest sample 4.89 / 4.15 against the floor 3.29.  Seed 1's agreement is
# below the 92% floor: the demo's digits are right for the Makefile's seed, not for every seed, at
# this budget (an open problem, stated in docs/design.md).  The agreement and grid bars stay as
# above (seed 0 meets them); the diversity bar is the smallest ratio now measured minus 10% (0.428 x
# 0.9).
CGAN_AGREEMENT_BAR = 0.93
DEMO_GRID_BAR = 0.92
DIVERSITY_BAR = 0.38


@pytest.fixture(scope="module")
def judge(demo_cgan, request):
    """conftest's ``classifier``, set up after ``demo_cgan``: taken as a test argument
    (session-scoped, so pytest sets it up before the module's fixtures) the demo's training would
    wait for the judge another worker trains at the run's start (file_schedule.FIRST), about two
    minutes of an idle worker in a fresh ``make test``."""
    return request.getfixturevalue("classifier")


@pytest.mark.slow
def test_demo_grid_shows_the_digit_of_each_column(demo_cgan, judge):
    folder, _, _ = demo_cgan
    grid = np.asarray(Image.open(folder / "samples.png"), np.float32)
    assert grid.shape == (10 * 29 + 1, 10 * 29 + 1)  # 10 x 10 tiles of 28 px, 1-px borders
    tiles = np.stack(
        [
            grid[1 + r * 29 : 29 + r * 29, 1 + c * 29 : 29 + c * 29]
            for r in range(10)
            for c in range(10)
        ]
    )
    predicted = judge.predict_proba(tiles[..., None] / 127.5 - 1).argmax(1)
    columns = np.arange(100) % 10
    per_column = [float(np.mean(predicted[columns == c] == c)) for c in range(10)]
    agreement = float(np.mean(predicted == columns))
    print(f"\ndemo grid: judged the column's digit {agreement:.2f}; per column {per_column}")
    assert agreement >= DEMO_GRID_BAR


@pytest.mark.slow
def test_conditional_gan_draws_the_requested_digits(demo_cgan, judge, real_digits):
    _, network, record = demo_cgan
    train, test = real_digits
    labels = np.repeat(np.arange(10), 100)
    images = registry.sample(network, record, len(labels), seed=11, classes=labels)
    agreement = float(np.mean(judge.predict_proba(images).argmax(1) == labels))
    fake_features, real_features = judge.features(images), judge.features(train.images)
    ratios = sample_checks.diversity_ratios(fake_features, labels, real_features, train.labels)
    generated_nn = sample_checks.nearest_distance(images, train.images)
    held_out_nn = sample_checks.nearest_distance(test.images, train.images)
    floor = np.percentile(held_out_nn, 1)
    print(
        f"\ncGAN (make demo's training): agreement {agreement:.3f}; diversity ratio per class "
        f"min {min(ratios):.2f} mean {np.mean(ratios):.2f}; nearest-training distance: "
        f"generated min {generated_nn.min():.2f} median {np.median(generated_nn):.2f}, "
        f"held-out real 1st percentile {floor:.2f} "
        f"median {np.median(held_out_nn):.2f}"
    )
    assert agreement >= CGAN_AGREEMENT_BAR
    assert min(ratios) >= DIVERSITY_BAR
    assert generated_nn.min() >= floor
