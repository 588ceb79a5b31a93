"""Metrics against their definitions, closed forms and independent algorithms."""

import numpy as np
import pytest
import scipy.linalg
import tensorflow as tf
from scipy import stats
from scipy.stats import ortho_group
from tiny_model import TinyGAN

from aigc_keras import callbacks, judges, metrics
from aigc_keras.models import cnn

# All feature sets below are synthetic, drawn from known distributions on purpose:
# the tests compare the code with closed forms that hold for those distributions.


def _gaussian(n, d, seed, shift=0.0, scale=1.0):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n, d)) * scale + shift


def test_fid_of_a_set_with_itself_is_zero():
    a = _gaussian(400, 8, 0)
    assert metrics.frechet_distance(a, a) == pytest.approx(0.0, abs=1e-9)


def test_fid_with_equal_covariances_is_squared_mean_difference():
    a = _gaussian(300, 6, 1)
    shift = np.arange(6) * 0.3
    assert metrics.frechet_distance(a, a + shift) == pytest.approx(float(shift @ shift), rel=1e-9)


def test_fid_for_commuting_covariances_matches_closed_form():
    d = 7
    rng = np.random.default_rng(2)
    q = ortho_group.rvs(d, random_state=3)
    eig_a, eig_b = rng.uniform(0.1, 3.0, d), rng.uniform(0.1, 3.0, d)
    mu_a, mu_b = rng.normal(size=d), rng.normal(size=d)
    sigma_a, sigma_b = q @ np.diag(eig_a) @ q.T, q @ np.diag(eig_b) @ q.T
    closed = np.sum((mu_a - mu_b) ** 2) + np.sum((np.sqrt(eig_a) - np.sqrt(eig_b)) ** 2)
    assert metrics.frechet_distance_from_statistics(mu_a, sigma_a, mu_b, sigma_b) == pytest.approx(
        closed, rel=1e-9
    )


def test_fid_agrees_with_scipy_sqrtm_on_random_features():
    a, b = (
        _gaussian(500, 10, 4),
        _gaussian(500, 10, 5, shift=0.2, scale=1.3) @ np.diag(np.linspace(0.5, 2, 10)),
    )
    mu_a, s_a = a.mean(0), np.cov(a, rowvar=False)
    mu_b, s_b = b.mean(0), np.cov(b, rowvar=False)
    reference = (
        np.sum((mu_a - mu_b) ** 2)
        + np.trace(s_a)
        + np.trace(s_b)
        - 2 * np.trace(scipy.linalg.sqrtm(s_a @ s_b)).real
    )
    assert metrics.frechet_distance(a, b) == pytest.approx(reference, rel=1e-6)


def test_fid_symmetry_and_invariances():
    a, b = _gaussian(300, 5, 6), _gaussian(250, 5, 7, shift=0.5, scale=0.8)
    fid = metrics.frechet_distance(a, b)
    assert metrics.frechet_distance(b, a) == pytest.approx(fid, rel=1e-9)
    rng = np.random.default_rng(8)
    assert metrics.frechet_distance(
        a[rng.permutation(300)], b[rng.permutation(250)]
    ) == pytest.approx(fid, rel=1e-9)
    rotation, translation = ortho_group.rvs(5, random_state=9), rng.normal(size=5)
    moved = metrics.frechet_distance(a @ rotation + translation, b @ rotation + translation)
    assert moved == pytest.approx(fid, rel=1e-8)
    assert metrics.frechet_distance(3.0 * a, 3.0 * b) == pytest.approx(9.0 * fid, rel=1e-9)


def test_fid_is_never_nan_and_warns_on_few_samples():
    few = _gaussian(5, 20, 10)
    with pytest.warns(UserWarning, match="only 5 samples for 20-dimensional"):
        value = metrics.frechet_distance(few, few)
    assert np.isfinite(value) and value >= 0.0 and value < 1e-6


@pytest.mark.parametrize(
    "a, b, message",
    [
        (np.zeros((10, 3)), np.zeros((10, 4)), "feature sizes differ"),
        (np.full((10, 3), np.nan), np.zeros((10, 3)), "NaN or infinite"),
        (np.zeros((10,)), np.zeros((10, 3)), "2-D array"),
        (np.zeros((1, 3)), np.zeros((10, 3)), "at least 2 samples"),
        (np.zeros((10, 0)), np.zeros((10, 0)), "no features"),
        # was 0.0 with a ComplexWarning: the imaginary parts dropped
        (np.ones((5, 3)) * (1 + 1j), np.ones((5, 3)), "real features must be real numbers"),
    ],
)
def test_fid_bad_inputs(a, b, message):
    with pytest.raises(ValueError, match=message):
        metrics.frechet_distance(a, b)


def test_inception_score_closed_forms():
    k = 10
    assert metrics.inception_score(np.tile(np.full(k, 1 / k), (50, 1)))[0] == pytest.approx(1.0)
    assert metrics.inception_score(np.tile(np.eye(4)[1], (50, 1)))[0] == pytest.approx(1.0)
    even = np.eye(k)[np.arange(100) % k]  # confident predictions spread evenly over K classes
    assert metrics.inception_score(even)[0] == pytest.approx(k)
    counts = np.array([50, 30, 15, 5])
    onehot = np.eye(4)[np.repeat(np.arange(4), counts)]
    pi = counts / counts.sum()
    assert metrics.inception_score(onehot)[0] == pytest.approx(np.exp(-np.sum(pi * np.log(pi))))


def test_inception_score_splits():
    first = np.tile(np.eye(2)[0], (10, 1))  # one class: score 1
    second = np.eye(2)[np.arange(10) % 2]  # two classes evenly: score 2
    mean, std = metrics.inception_score(np.concatenate([first, second]), splits=2)
    assert (mean, std) == (pytest.approx(1.5), pytest.approx(0.5))
    with pytest.raises(ValueError, match="splits must be an integer between 1"):
        metrics.inception_score(first, splits=11)
    with pytest.raises(ValueError, match="not logits"):
        metrics.inception_score(np.full((3, 2), 2.0))


def test_mmd_matches_brute_force_formula():
    a, b = _gaussian(7, 3, 11), _gaussian(9, 3, 12, shift=0.4)

    def k(x, y):
        return (np.dot(x, y) / 3 + 1) ** 3

    m, n = len(a), len(b)
    brute = (
        sum(k(a[i], a[j]) for i in range(m) for j in range(m) if i != j) / (m * (m - 1))
        + sum(k(b[i], b[j]) for i in range(n) for j in range(n) if i != j) / (n * (n - 1))
        - 2 * sum(k(a[i], b[j]) for i in range(m) for j in range(n)) / (m * n)
    )
    assert metrics.mmd2_unbiased(a, b) == pytest.approx(brute, rel=1e-10)


def test_kid_is_unbiased_near_zero_and_positive_when_shifted():
    draws = np.array(
        [
            metrics.mmd2_unbiased(_gaussian(60, 4, 2 * s), _gaussian(60, 4, 2 * s + 1))
            for s in range(300)
        ]
    )
    assert (draws < 0).any(), "an unbiased estimator must sometimes go below zero"
    assert abs(draws.mean()) < 3 * draws.std() / np.sqrt(len(draws))
    mean, std = metrics.kernel_distance(
        _gaussian(200, 4, 1), _gaussian(200, 4, 2, shift=1.0), subsets=20, subset_size=100
    )
    assert mean > 10 * draws.std() and 0.0 < std < mean


def _clusters(centres, per, seed):
    rng = np.random.default_rng(seed)
    return np.concatenate([rng.normal(size=(per, 2)) * 0.1 + c for c in centres])


def test_precision_recall_identical_and_half_the_modes():
    centres = [(0, 0), (10, 0), (0, 10), (10, 10)]
    real = _clusters(centres, 100, 13)
    assert metrics.precision_recall(real, real) == (1.0, 1.0)
    half = _clusters(centres[:2], 200, 14)
    precision, recall = metrics.precision_recall(real, half)
    assert precision > 0.95 and 0.4 <= recall <= 0.6
    assert metrics.precision_recall(half, real) == (pytest.approx(recall), pytest.approx(precision))
    with pytest.raises(ValueError, match="k must be an integer"):
        metrics.precision_recall(real, half, k=0)


def test_classifier_extractor_and_evaluate(tmp_path, monkeypatch):
    monkeypatch.setenv("AIGC_OUTPUT", str(tmp_path))
    extractor = judges.ClassifierExtractor(cnn.CNNClassifier(image_size=8, feature_dim=6))
    rng = np.random.default_rng(15)
    real, fake = rng.uniform(-1, 1, (40, 8, 8, 1)), rng.uniform(-1, 0, (30, 8, 8, 1))
    report = judges.evaluate(
        extractor, real, fake, metrics=("fid", "kid", "is", "pr"), real_key="test-8px"
    )
    assert report["n_real"] == 40 and report["n_generated"] == 30 and report["fid"] > 0
    assert "comparable only" in metrics.format_report(report)
    for key in ("note", "kid_std"):  # each was a raw KeyError
        partial = {k: v for k, v in report.items() if k != key}
        with pytest.raises(ValueError, match=f"this one lacks \\['{key}'\\]"):
            metrics.format_report(partial)
    cached = list((tmp_path / "cache" / "stats").glob("test-8px-n40-*.npz"))
    assert len(cached) == 1
    with pytest.raises(ValueError, match=r"must be in \[-1, 1\]"):
        judges.ClassifierExtractor(cnn.CNNClassifier(image_size=8)).features(real * 255)
    with pytest.raises(ValueError, match="unknown metrics"):
        judges.evaluate(extractor, real, fake, metrics=("fid", "sharpness"))
    with pytest.warns(UserWarning, match="real data holds 40"):
        assert judges.evaluate(extractor, real, real, metrics=("fid",), n=100)["n_real"] == 40
    monkeypatch.setattr(
        extractor, "features", lambda images: (_ for _ in ()).throw(AssertionError("recomputed"))
    )
    np.testing.assert_array_equal(
        judges.real_features(extractor, real, key="test-8px-n40"), np.load(cached[0])["features"]
    )


def test_weights_hash_follows_the_weights_not_the_object():
    a, b = (
        cnn.CNNClassifier(image_size=8, feature_dim=6),
        cnn.CNNClassifier(image_size=8, feature_dim=6),
    )
    b.set_weights(a.get_weights())
    assert judges.weights_hash(a) == judges.weights_hash(b) and len(judges.weights_hash(a)) == 16
    weights = b.get_weights()
    weights[0] = weights[0] + 1e-3  # one trained step moves some weight
    b.set_weights(weights)
    assert judges.weights_hash(a) != judges.weights_hash(b)
    assert judges.ClassifierExtractor(a).weights_hash == judges.weights_hash(a)


def test_inception_extractor_refuses_random_weights_offline(monkeypatch):
    from aigc_keras import data

    if data.network_available():
        pytest.skip("network present: the weights would download")
    with pytest.raises(RuntimeError, match="ClassifierExtractor"):
        judges.InceptionExtractor()


def test_quality_tracker_logs_into_history(digits8):
    model = TinyGAN()
    model.compile()
    extractor = judges.ClassifierExtractor(cnn.CNNClassifier(image_size=8, feature_dim=6))
    tracker = callbacks.QualityTracker(extractor, digits8.images, n=64)
    history = model.fit(
        tf.data.Dataset.from_tensor_slices(digits8.images[:64]).batch(32),
        epochs=2,
        verbose=0,
        callbacks=[tracker],
    )
    assert len(history.history["fid"]) == 2 and all(v > 0 for v in history.history["fid"])
    assert history.history["elapsed"][1] > history.history["elapsed"][0]
    bad = [  # each was a raw AttributeError or TypeError
        ((None, digits8.images), "extractor must have a features\\(images\\) method"),
        ((extractor, None), "real_images must have shape \\(N, H, W, C\\)"),
        ((extractor, digits8.images[:0]), "real_images must hold at least one image"),
        ((extractor, digits8.images * 255), r"real_images must be in \[-1, 1\]"),
    ]
    for arguments, message in bad:
        with pytest.raises(ValueError, match=message):
            callbacks.QualityTracker(*arguments)


def test_independent_bernoulli_nll_by_hand_and_against_scipy():
    # two 1x2 training images: position 0 is ink in both (p = 1, clipped to 1 - 1e-3), position 1
    # has grey levels 0.2 and 0.6 (p = 0.4)
    train = np.array([[[1.0, 0.2]], [[1.0, 0.6]]])
    scored = np.array([[[1.0, 0.0]], [[0.0, 1.0]]])
    by_hand = -np.mean([np.log(1 - 1e-3) + np.log(0.6), np.log(1e-3) + np.log(0.4)])
    assert metrics.independent_bernoulli_nll(train, scored) == pytest.approx(by_hand, rel=1e-12)
    rng = np.random.default_rng(0)
    train = rng.uniform(0, 1, (50, 4, 4, 1))
    scored = (rng.uniform(0, 1, (30, 4, 4, 1)) < 0.3).astype(np.float32)
    p = np.clip(train.mean(0), 0.05, 0.95)
    expected = -stats.bernoulli.logpmf(scored, p).reshape(30, -1).sum(1).mean()
    assert metrics.independent_bernoulli_nll(train, scored, clip=0.05) == pytest.approx(expected)


@pytest.mark.parametrize(
    "train, scored, kwargs, message",
    [
        (np.full((2, 3, 3), 0.5), np.full((2, 3, 3), 0.5), {}, "only 0 and 1"),
        (np.full((2, 3, 3), 1.5), np.ones((2, 3, 3)), {}, r"grey levels in \[0, 1\]"),
        (np.full((2, 3, 3), 0.5), np.ones((2, 4, 4)), {}, "differ in shape"),
        (np.full((0, 3, 3), 0.5), np.ones((2, 3, 3)), {}, "non-empty"),
        (np.full((2, 3, 3), 0.5), np.ones((2, 3, 3)), {"clip": 0.5}, r"clip must be .* \(0, 0.5\)"),
    ],
)
def test_independent_bernoulli_nll_bad_inputs(train, scored, kwargs, message):
    with pytest.raises(ValueError, match=message):
        metrics.independent_bernoulli_nll(train, scored, **kwargs)


def test_bootstrap_spread_shrinks_with_more_samples_and_is_reproducible():
    real = _gaussian(2000, 4, seed=0)
    few, many = _gaussian(100, 4, seed=1, shift=0.5), _gaussian(1600, 4, seed=2, shift=0.5)
    spread_few = metrics.bootstrap(metrics.frechet_distance, real, few, draws=20).std()
    spread_many = metrics.bootstrap(metrics.frechet_distance, real, many, draws=20).std()
    assert spread_many < spread_few / 2  # about 1/sqrt(16) of it
    again = metrics.bootstrap(metrics.frechet_distance, real, few, draws=20)
    np.testing.assert_array_equal(again, metrics.bootstrap(metrics.frechet_distance, real, few))
    # Each draw resamples with replacement: a mean over the draws near the full set's value.
    values = metrics.bootstrap(lambda r, g: g.mean(), real, many, draws=50, seed=3)
    assert len(values) == 50 and len(set(values)) == 50
    assert abs(values.mean() - many.mean()) < 3 * values.std() / np.sqrt(50) + 1e-12
    with pytest.raises(ValueError, match="draws"):
        metrics.bootstrap(metrics.frechet_distance, real, few, draws=1)


def test_resample_keeps_rows_paired():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(50, 3))
    y = x + 1.0  # paired: every resampled row of y is its x row plus 1
    gaps = metrics.resample(lambda a, b: np.mean(b - a), x, y, draws=10)
    np.testing.assert_allclose(gaps, 1.0)
    unpaired = metrics.resample(lambda a: a.mean(), x, draws=10)
    assert np.ptp(unpaired) > 0
    with pytest.raises(ValueError, match="same number of rows"):
        metrics.resample(lambda a, b: 0.0, x, y[:40])
    with pytest.raises(ValueError, match="at least one array"):
        metrics.resample(lambda: 0.0)


def test_compare_calls_a_win_only_beyond_twice_the_spread():
    # Gap 1.0; spread sqrt(0.1^2 + 0.1^2) = 0.141: a win for the lower distance.
    a, b = [9.9, 10.0, 10.1], [10.9, 11.0, 11.1]
    result = metrics.compare(a, b, names=("VAE", "VAE-GAN"))
    assert result["gap"] == pytest.approx(-1.0)
    assert result["spread"] == pytest.approx(np.sqrt(0.02))
    assert result["verdict"] == "VAE better"
    assert metrics.compare(b, a, names=("VAE", "VAE-GAN"))["verdict"] == "VAE-GAN better"
    # For a score, higher wins.
    assert metrics.compare(a, b, names=("x", "y"), lower_is_better=False)["verdict"] == "y better"
    # The same gap inside a wide spread (sd 1 each, 2 x 1.41 > 1) is a tie.
    assert metrics.compare([9, 10, 11], [10, 11, 12])["verdict"] == "tie"
    with pytest.raises(ValueError, match="at least 2 finite measurements per model; B has"):
        metrics.compare([1.0, 2.0], [3.0])
    # From figures: a seed spread of 0.5 on each side turns the same gap of 1.0 into a tie.
    assert metrics.compare_figures(10.0, 0.1, 11.0, 0.1)["verdict"] == "A better"
    assert metrics.compare_figures(10.0, 0.5, 11.0, 0.5)["verdict"] == "tie"
    with pytest.raises(ValueError, match="sd_a must be a number >= 0, got -0.1"):
        metrics.compare_figures(10.0, -0.1, 11.0, 0.1)
    # True was read as 1.0 and the verdict said "A better"; strings were parsed; a 2-D set flattened
    for call, message in (
        (lambda: metrics.compare_figures(True, 0.1, 2, 0.1), "mean_a must be a finite real number"),
        (lambda: metrics.compare_figures(1, 0.1, "2", 0.1), "mean_b must be a finite real number"),
        (lambda: metrics.compare(["1", "2"], b), "a 1-D sequence of numbers per model; A has <U1"),
        (lambda: metrics.compare([[1, 2], [3, 4]], b), r"A has int64 values of shape \(2, 2\)"),
        (lambda: metrics.compare(a, b, names=("A", "A")), "names must differ"),
    ):
        with pytest.raises(ValueError, match=message):
            call()
    # a truthy string is not a direction, and a verdict needs two names
    with pytest.raises(ValueError, match="lower_is_better must be True or False, got 'yes'"):
        metrics.compare(a, b, lower_is_better="yes")
    with pytest.raises(ValueError, match=r"names must be a pair of names, got \('A',\)"):
        metrics.compare(a, b, names=("A",))


def test_kid_and_resampling_refuse_what_they_cannot_use():
    a, b = _gaussian(20, 4, 1), _gaussian(20, 4, 2)
    # one row gave 0 / 0 = NaN; a covariance of -I gave a distance of 0
    with pytest.raises(ValueError, match="a needs at least 2 samples, got 1"):
        metrics.mmd2_unbiased(a[:1], b)
    with pytest.raises(ValueError, match="sigma_a is not a covariance matrix"):
        metrics.frechet_distance_from_statistics(np.zeros(4), -np.eye(4), np.zeros(4), np.eye(4))
    with pytest.raises(ValueError, match="sigma_b is not a covariance matrix"):
        metrics.frechet_distance_from_statistics(
            np.zeros(2), np.eye(2), np.zeros(2), [[1, 0.5], [0, 1]]
        )
    # a metric returning a pair, NaN or no function at all: one message saying what it returned
    with pytest.raises(ValueError, match="on draw 0 it returned .*a pair, like kernel_distance"):
        metrics.bootstrap(metrics.kernel_distance, a, b)
    with pytest.raises(ValueError, match="on draw 0 it returned nan"):
        metrics.resample(lambda x: float("nan"), a)
    with pytest.raises(ValueError, match="metric must be a function of the arrays, got 3"):
        metrics.resample(3, a)
    with pytest.raises(ValueError, match="subset_size must be an integer >= 2, got 1"):
        metrics.kernel_distance(a, b, subsets=5, subset_size=1)
    for call in (
        lambda: metrics.kernel_distance(a, b, subsets=5, subset_size=10, seed=-1),
        lambda: metrics.bootstrap(metrics.frechet_distance, a, b, seed=-1),
    ):
        with pytest.raises(
            ValueError, match=r"seed must be a non-negative integer below 2\*\*63, got -1"
        ):
            call()


def test_verdicts_are_recorded_per_chapter_replaced_on_rerun_and_tabulated(monkeypatch, tmp_path):
    from aigc_keras import verdicts

    monkeypatch.setenv("AIGC_OUTPUT", str(tmp_path))
    win = metrics.compare([9.9, 10.0, 10.1], [10.9, 11.0, 11.1], names=("VAE", "VAE-GAN"))
    tie = metrics.compare([9, 10, 11], [10, 11, 12], names=("StyleGAN", "DCGAN"))
    verdicts.record(5, "StyleGAN vs DCGAN (FID)", tie, mode="standard")
    verdicts.record(3, "VAE vs VAE-GAN (FID)", win, mode="standard")
    verdicts.record(3, "VAE vs VAE-GAN (FID)", win, mode="standard")  # a re-run replaces its row
    verdicts.record(3, "quick check", win, mode="quick")
    rows = verdicts.recorded(mode="standard")
    assert [(r["chapter"], r["comparison"]) for r in rows] == [
        (3, "VAE vs VAE-GAN (FID)"),
        (5, "StyleGAN vs DCGAN (FID)"),
    ]
    assert rows[0]["a_name"] == "VAE" and rows[0]["verdict"] == "VAE better"
    assert rows[1]["verdict"] == "tie" and rows[1]["gap"] == pytest.approx(-1.0)
    assert len(verdicts.recorded(mode="any")) == 3
    lines = verdicts.table(rows).splitlines()
    assert len(lines) == 3 and lines[1].split()[0] == "3" and lines[1].endswith("VAE better")
    assert lines[2].endswith("tie") and "StyleGAN 10" in lines[2] and "DCGAN 11" in lines[2]
    assert not list(tmp_path.glob("verdicts/*.tmp"))  # written atomically, nothing left behind
    with pytest.raises(ValueError, match="chapter should be an int from 0 to 99"):
        verdicts.record(100, "x", win)
    with pytest.raises(ValueError, match="lacks names"):
        verdicts.record(3, "x", {k: v for k, v in win.items() if k != "names"})
