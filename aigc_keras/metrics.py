"""Sample-quality metrics and their feature extractors.

* Inception Score: Salimans et al., "Improved Techniques for Training GANs" (NeurIPS 2016).
* Fréchet distance (FID): Heusel et al., "GANs Trained by a Two Time-Scale Update Rule
  Converge to a Local Nash Equilibrium" (NeurIPS 2017).
* Kernel distance (KID): Bińkowski et al., "Demystifying MMD GANs" (ICLR 2018).
* Improved precision and recall: Kynkäänniemi et al., "Improved Precision and Recall
  Metric for Assessing Generative Models" (NeurIPS 2019).

Mathematics only: every function takes features (or class probabilities) as NumPy arrays and
returns float64 statistics.  The networks that make the features (the chapter-1 classifier,
InceptionV3), the cache of real statistics and :func:`~aigc_keras.judges.evaluate` live in
:mod:`aigc_keras.judges`; numbers from different extractors are not comparable.
"""

from __future__ import annotations

import importlib
import math
import warnings

import numpy as np

from .validation import check_int, check_seed, is_int

# --- input checks -----------------------------------------------------------------------


def _features(array, what: str) -> np.ndarray:
    if np.iscomplexobj(array):  # np.asarray(..., float64) would drop the imaginary parts
        raise ValueError(f"{what} must be real numbers, got complex values.")
    array = np.asarray(array, dtype=np.float64)
    if array.ndim != 2:
        raise ValueError(
            f"{what} must be a 2-D array (samples x features), got shape {array.shape}."
        )
    if len(array) < 2:
        raise ValueError(f"{what} needs at least 2 samples, got {len(array)}.")
    if array.shape[1] < 1:
        raise ValueError(f"{what} have no features (shape {array.shape}).")
    if not np.all(np.isfinite(array)):
        raise ValueError(f"{what} contains NaN or infinite values.")
    return array


def _pair(a, b, names=("real features", "generated features")):
    a, b = _features(a, names[0]), _features(b, names[1])
    if a.shape[1] != b.shape[1]:
        raise ValueError(
            f"feature sizes differ: {names[0]} have {a.shape[1]}, {names[1]} have {b.shape[1]}."
        )
    return a, b


# --- Fréchet distance ---------------------------------------------------------------------


def gaussian_statistics(features) -> tuple[np.ndarray, np.ndarray]:
    """Mean and covariance (float64, ``N - 1`` normalisation) of ``N x D`` features.

    Warns when ``N < D``: the covariance is then singular.

    Args:
        features: an ``N x D`` array-like of finite numbers, ``N >= 2``.

    Returns:
        ``(mean, covariance)``: float64 arrays of shapes ``(D,)`` and ``(D, D)``.

    Raises:
        ValueError: if ``features`` is not 2-D, has fewer than 2 rows, or holds NaN or
            infinite values.
    """
    features = _features(features, "features")
    n, d = features.shape
    if n < d:
        warnings.warn(
            f"only {n} samples for {d}-dimensional features: the covariance is singular and the "
            "Fréchet distance is biased upwards; use more samples or a smaller feature space.",
            stacklevel=2,
        )
    return features.mean(axis=0), np.cov(features, rowvar=False, ddof=1)


def _sqrt_psd(matrix: np.ndarray) -> np.ndarray:
    """Square root of a symmetric positive semi-definite matrix (eigenvalues clamped at 0)."""
    values, vectors = np.linalg.eigh((matrix + matrix.T) / 2.0)
    return (vectors * np.sqrt(np.clip(values, 0.0, None))) @ vectors.T


def trace_sqrt_product(sigma_a: np.ndarray, sigma_b: np.ndarray) -> float:
    """``tr((Σa Σb)^{1/2})`` computed stably.

    ``Σa Σb`` is not symmetric, but it is similar to the symmetric PSD matrix
    ``M = Σa^{1/2} Σb Σa^{1/2}`` (same eigenvalues), so the trace of its square root is
    ``Σ sqrt(λ_i(M))``.  Both square roots come from symmetric eigendecompositions with
    eigenvalues clamped at zero: no complex numbers, no NaN from tiny negative round-off.

    Args:
        sigma_a: a symmetric positive semi-definite ``D x D`` matrix (a covariance).
        sigma_b: another one of the same shape.

    Returns:
        The trace, a non-negative float.
    """
    root_a = _sqrt_psd(sigma_a)
    middle = root_a @ sigma_b @ root_a
    values = np.linalg.eigvalsh((middle + middle.T) / 2.0)
    return float(np.sum(np.sqrt(np.clip(values, 0.0, None))))


def frechet_distance_from_statistics(mu_a, sigma_a, mu_b, sigma_b) -> float:
    """``||μa - μb||² + tr(Σa) + tr(Σb) - 2 tr((Σa Σb)^{1/2})``, clamped at 0.

    Args:
        mu_a: the mean of the first Gaussian, shape ``(D,)``.
        sigma_a: its covariance, ``(D, D)``.
        mu_b: the mean of the second Gaussian, ``(D,)``.
        sigma_b: its covariance, ``(D, D)``.

    Returns:
        The squared Fréchet distance, a float ``>= 0``.

    Raises:
        ValueError: if the shapes do not match or a value is NaN or infinite.
    """
    mu_a, mu_b = np.asarray(mu_a, np.float64), np.asarray(mu_b, np.float64)
    sigma_a, sigma_b = (
        np.atleast_2d(np.asarray(sigma_a, np.float64)),
        np.atleast_2d(np.asarray(sigma_b, np.float64)),
    )
    if (
        mu_a.shape != mu_b.shape
        or sigma_a.shape != sigma_b.shape
        or sigma_a.shape != (mu_a.size, mu_a.size)
    ):
        raise ValueError(
            f"statistics do not match: means {mu_a.shape} and {mu_b.shape}, "
            f"covariances {sigma_a.shape} and {sigma_b.shape}."
        )
    for value in (mu_a, mu_b, sigma_a, sigma_b):
        if not np.all(np.isfinite(value)):
            raise ValueError("statistics contain NaN or infinite values.")
    for sigma, what in ((sigma_a, "sigma_a"), (sigma_b, "sigma_b")):
        # a covariance is symmetric with variances >= 0 (-I gave a distance of 0)
        scale = max(float(np.abs(sigma).max()), 1e-300)
        if not np.allclose(sigma, sigma.T, rtol=0.0, atol=1e-6 * scale) or np.diag(sigma).min() < 0:
            raise ValueError(
                f"{what} is not a covariance matrix: it must be symmetric with variances >= 0 on "
                "its diagonal."
            )
    diff = mu_a - mu_b
    distance = (
        diff @ diff
        + np.trace(sigma_a)
        + np.trace(sigma_b)
        - 2.0 * trace_sqrt_product(sigma_a, sigma_b)
    )
    return float(max(distance, 0.0))


def frechet_distance(features_a, features_b) -> float:
    """Fréchet distance between Gaussians fitted to two feature sets.

    With Inception features this is the FID; with any other extractor it is comparable only
    with numbers from the same extractor.

    Args:
        features_a: an ``N x D`` array of features (e.g. of real images), ``N >= 2``.
        features_b: an ``M x D`` array of features (e.g. of generated images), ``M >= 2``.

    Returns:
        The squared Fréchet distance, a float ``>= 0``.

    Raises:
        ValueError: if either set is not 2-D, has fewer than 2 samples or non-finite
            values, or the feature sizes differ.
    """
    features_a, features_b = _pair(features_a, features_b)
    return frechet_distance_from_statistics(
        *gaussian_statistics(features_a), *gaussian_statistics(features_b)
    )


# --- Inception Score ------------------------------------------------------------------------


def _probabilities(probs) -> np.ndarray:
    probs = np.asarray(probs, dtype=np.float64)
    if probs.ndim != 2 or probs.shape[0] < 1 or probs.shape[1] < 2:
        raise ValueError(
            f"probabilities must be N x K with K >= 2 classes, got shape {probs.shape}."
        )
    if not np.all(np.isfinite(probs)):
        raise ValueError("probabilities contain NaN or infinite values.")
    if probs.min() < 0 or not np.allclose(probs.sum(axis=1), 1.0, atol=1e-3):
        raise ValueError(
            "each row of probabilities must be non-negative and sum to 1 "
            "(pass softmax outputs, not logits)."
        )
    return probs


def inception_score(probs, splits: int = 1) -> tuple[float, float]:
    """``exp(E_x KL(p(y|x) || p(y)))`` per split; returns (mean, standard deviation) over splits.

    ``p(y)`` is the mean prediction within each split, as in Salimans et al.; the
    standard deviation is 0 for one split.  ``0 log 0`` is taken as 0, so exact one-hot
    predictions stay finite.

    Args:
        probs: class probabilities, ``N x K`` with ``K >= 2``; each row non-negative and
            summing to 1 (softmax outputs, not logits).
        splits: how many equal parts to split the ``N`` samples into, between 1 and ``N``.

    Returns:
        ``(mean, std)`` of the score over the splits; the score lies in ``[1, K]``.

    Raises:
        ValueError: if ``probs`` is not a valid probability matrix or ``splits`` is out of
            range.
    """
    probs = _probabilities(probs)
    if not is_int(splits) or not 1 <= splits <= len(probs):
        raise ValueError(
            f"splits must be an integer between 1 and the number of samples ({len(probs)}), "
            f"got {splits!r}."
        )
    scores = []
    for part in np.array_split(probs, splits):
        marginal = part.mean(axis=0)
        with np.errstate(divide="ignore", invalid="ignore"):
            terms = np.where(part > 0, part * (np.log(part) - np.log(marginal)), 0.0)
        scores.append(float(np.exp(terms.sum(axis=1).mean())))
    return float(np.mean(scores)), float(np.std(scores))


# --- Kernel distance ------------------------------------------------------------------------


def polynomial_kernel(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``k(x, y) = (x·y / d + 1)^3``, the kernel of Bińkowski et al.

    Args:
        a: an ``M x D`` array.
        b: an ``N x D`` array.

    Returns:
        The ``M x N`` kernel matrix.
    """
    return (a @ b.T / a.shape[1] + 1.0) ** 3


def mmd2_unbiased(a: np.ndarray, b: np.ndarray) -> float:
    """Unbiased squared MMD with :func:`polynomial_kernel`.

    The off-diagonal means of ``k(a, a)`` and ``k(b, b)``, minus twice the mean of
    ``k(a, b)``.

    Args:
        a: an ``M x D`` array, ``M >= 2``.
        b: an ``N x D`` array, ``N >= 2``.

    Returns:
        The estimate, a float (may be negative).

    Raises:
        ValueError: arrays that are not ``N x D`` with N >= 2 finite rows, or of different D.
    """
    a, b = _pair(a, b, ("a", "b"))  # one row gave 0 / 0
    m, n = len(a), len(b)
    k_aa, k_bb, k_ab = polynomial_kernel(a, a), polynomial_kernel(b, b), polynomial_kernel(a, b)
    return float(
        (k_aa.sum() - np.trace(k_aa)) / (m * (m - 1))
        + (k_bb.sum() - np.trace(k_bb)) / (n * (n - 1))
        - 2.0 * k_ab.mean()
    )


def kernel_distance(
    features_a, features_b, *, subsets: int = 100, subset_size: int = 1000, seed: int = 0
):
    """KID: mean and standard deviation of the unbiased MMD² over random subsets.

    ``subset_size`` is capped at the smaller set's size.  Individual values can be
    negative (the estimator is unbiased, so it scatters around 0 for equal distributions).

    Args:
        features_a: an ``N x D`` array of features, ``N >= 2``.
        features_b: an ``M x D`` array of features, ``M >= 2``.
        subsets: how many random subsets to average over, a positive integer.
        subset_size: samples per subset from each set (drawn without replacement), a
            positive integer.
        seed: seed of the subset draws.

    Returns:
        ``(mean, std)`` of the unbiased MMD² over the subsets, as floats.

    Raises:
        ValueError: if the feature sets are invalid or ``subsets``/``subset_size`` are not
            positive integers.
    """
    features_a, features_b = _pair(features_a, features_b)
    check_int(subsets, "subsets")
    check_int(subset_size, "subset_size", minimum=2)  # the unbiased estimate needs pairs
    size = min(subset_size, len(features_a), len(features_b))
    rng = np.random.default_rng(check_seed(seed))
    values = [
        mmd2_unbiased(
            features_a[rng.choice(len(features_a), size, replace=False)],
            features_b[rng.choice(len(features_b), size, replace=False)],
        )
        for _ in range(subsets)
    ]
    return float(np.mean(values)), float(np.std(values))


# --- Precision and recall ---------------------------------------------------------------------


def _squared_distances(a: np.ndarray, b: np.ndarray, chunk: int = 1024) -> np.ndarray:
    out = np.empty((len(a), len(b)))
    b_norms = np.sum(b * b, axis=1)
    for start in range(0, len(a), chunk):
        part = a[start : start + chunk]
        out[start : start + chunk] = (
            np.sum(part * part, axis=1)[:, None] + b_norms[None] - 2.0 * part @ b.T
        )
    return np.maximum(out, 0.0)


def _kth_radius(features: np.ndarray, k: int) -> np.ndarray:
    """Squared distance from each point to its k-th nearest other point of the same set."""
    distances = _squared_distances(features, features)
    return np.sort(distances, axis=1)[:, k]  # column 0 is the point itself


PR_NEIGHBOURS = 3  # precision and recall's default k (Kynkäänniemi et al. 2019)


def precision_recall(real, generated, *, k: int = PR_NEIGHBOURS) -> tuple[float, float]:
    """Improved precision and recall with k-nearest-neighbour manifolds.

    Precision: share of generated samples inside the real manifold (the union of balls
    around each real sample reaching its k-th nearest real neighbour); recall: share of
    real samples inside the generated manifold.

    Args:
        real: an ``N x D`` array of features of real images.
        generated: an ``M x D`` array of features of generated images.
        k: which nearest neighbour sets each ball's radius, between 1 and
            ``min(N, M) - 1``.

    Returns:
        ``(precision, recall)``, each a float in [0, 1].

    Raises:
        ValueError: if the feature sets are invalid or ``k`` is out of range.
    """
    real, generated = _pair(real, generated)
    if not is_int(k) or not 1 <= k < min(len(real), len(generated)):
        raise ValueError(
            f"k must be an integer between 1 and the smaller set size minus 1, got {k!r}."
        )
    real_radius, fake_radius = _kth_radius(real, k), _kth_radius(generated, k)
    cross = _squared_distances(generated, real)  # generated x real
    precision = np.mean(np.any(cross <= real_radius[None, :], axis=1))
    recall = np.mean(np.any(cross.T <= fake_radius[None, :], axis=1))
    return float(precision), float(recall)


# --- Likelihood baseline ----------------------------------------------------------------------


def independent_bernoulli_nll(train_images, binary_images, *, clip: float = 1e-3) -> float:
    """Negative log-likelihood of binary images under independent per-pixel Bernoullis.

    Each pixel position ``i`` is 1 with probability ``p_i``, the mean grey level of the
    training images there, clipped to ``[clip, 1 - clip]`` so that no pixel is impossible.
    The model knows how often each position is ink, nothing about neighbours: the baseline a
    VAE or a PixelCNN must beat, in the same unit (nats per image).  Under dynamic binarisation
    ``p_i`` is the share of 1s a model sees at position ``i`` in the long run.

    Args:
        train_images: grey-level training images in [0, 1], ``(N, ...)``.
        binary_images: the images scored, 0 or 1 in every pixel, ``(M, ...)`` with the same
            per-image shape.
        clip: the distance of the probabilities from 0 and 1, in (0, 0.5).

    Returns:
        The mean over ``binary_images`` of ``-Σ_i [x_i log p_i + (1 - x_i) log(1 - p_i)]``, in
        nats per image.

    Raises:
        ValueError: empty sets, images of different shapes, grey levels outside [0, 1], values
            other than 0 and 1 in ``binary_images``, or ``clip`` outside (0, 0.5).
    """
    train = np.asarray(train_images, dtype=np.float64)
    test = np.asarray(binary_images, dtype=np.float64)
    if not (isinstance(clip, (int, float)) and 0 < clip < 0.5):
        raise ValueError(f"clip must be a number in (0, 0.5), got {clip!r}.")
    if train.ndim < 2 or test.ndim < 2 or not len(train) or not len(test):
        raise ValueError(
            "train_images and binary_images must be non-empty batches of images, got shapes "
            f"{train.shape} and {test.shape}."
        )
    if train.shape[1:] != test.shape[1:]:
        raise ValueError(
            f"train and scored images differ in shape: {train.shape[1:]} vs {test.shape[1:]}."
        )
    if not np.all((train >= 0) & (train <= 1)):
        raise ValueError("train_images must be grey levels in [0, 1] (value_range=(0, 1)).")
    if not np.all((test == 0) | (test == 1)):
        raise ValueError(
            "binary_images must hold only 0 and 1 (data.load_arrays(..., binarise=True)); "
            "a Bernoulli likelihood of grey levels is not a likelihood."
        )
    p = np.clip(train.mean(axis=0), clip, 1.0 - clip)
    log_p = test * np.log(p) + (1.0 - test) * np.log1p(-p)
    return float(-log_p.reshape(len(test), -1).sum(axis=1).mean())


# --- spread and verdicts -----------------------------------------------------------------


def resample(metric, *arrays, draws: int = 20, seed: int = 0) -> np.ndarray:
    """A statistic recomputed on bootstrap resamplings of its data: its spread from the finite
    sample alone (a new training run can add more).

    Each draw picks ``N`` row indices with replacement and passes the same rows of every array
    to ``metric``, so paired data (restored images and their originals, with their masks) stay
    paired.

    Args:
        metric: a function of the arrays returning a float (such as
            ``aigc_keras.models.editing.pooled_psnr``).
        *arrays: one or more arrays with the same number of rows ``N >= 2``.
        draws: how many resamplings (an int >= 2).
        seed: the resampling seed.

    Returns:
        The ``draws`` values, float64.
    """
    draws = check_int(draws, "draws", minimum=2)
    if not callable(metric):
        raise ValueError(f"metric must be a function of the arrays, got {metric!r}.")
    if not arrays:
        raise ValueError("resample needs at least one array to resample.")
    rows = {len(a) for a in arrays}
    if len(rows) != 1 or min(rows) < 2:
        raise ValueError(
            f"resample needs arrays with the same number of rows, at least 2; got "
            f"{[len(a) for a in arrays]}."
        )
    n = rows.pop()
    rng = np.random.default_rng(check_seed(seed))
    values = []
    for draw in range(draws):
        pick = rng.integers(0, n, n)
        value = metric(*(np.asarray(a)[pick] for a in arrays))
        try:
            values.append(_figure(value, "metric's value"))
        except ValueError:
            raise ValueError(
                f"metric must return one finite number; on draw {draw} it returned {value!r}"
                + (
                    " (a pair, like kernel_distance's mean and spread: return one of them)"
                    if isinstance(value, tuple)
                    else ""
                )
                + "."
            ) from None
    return np.array(values)


def bootstrap(metric, real, generated, *, draws: int = 20, seed: int = 0) -> np.ndarray:
    """A sample-quality metric recomputed on resamplings of the generated features
    (:func:`resample`), the real ones kept fixed.

    Args:
        metric: a function of ``(real, generated)`` features returning a float, such as
            :func:`frechet_distance` or :func:`kernel_distance` (with its mean taken).
        real: the real features, kept fixed.
        generated: an ``N x D`` array of generated features; each draw resamples its N rows
            with replacement.
        draws: how many resamplings (an int >= 2).
        seed: the resampling seed.

    Returns:
        The ``draws`` values, float64.
    """
    generated = _features(generated, "generated features")
    return resample(lambda g: metric(real, g), generated, draws=draws, seed=seed)


def _figure(value, what: str) -> float:
    """One finite number: a Python or NumPy number, a 0-d array or a scalar tensor (not a bool,
    a string or a sequence), as a float."""
    if not isinstance(value, (bool, np.bool_, str, bytes, tuple, list, dict)):
        try:
            number = float(value)
        except (TypeError, ValueError):
            number = math.nan
        if math.isfinite(number):
            return number
    raise ValueError(f"{what} must be a finite real number, got {value!r}.")


def _check_verdict_options(names, lower_is_better) -> None:
    if not isinstance(lower_is_better, (bool, np.bool_)):
        raise ValueError(f"lower_is_better must be True or False, got {lower_is_better!r}.")
    if not isinstance(names, (tuple, list)) or len(names) != 2:
        raise ValueError(f"names must be a pair of names, got {names!r}.")
    if str(names[0]) == str(names[1]):
        raise ValueError(
            f"names must differ, or the verdict cannot say which is better: {names!r}."
        )


def compare(a, b, *, names=("A", "B"), lower_is_better: bool = True) -> dict:
    """Whether two sets of measurements of one metric differ by more than their spread.

    The gap is the difference of the means; the spread is the standard error of that difference
    from the two sets' standard deviations, ``sqrt(sd_a**2 + sd_b**2)`` (each value in a set is
    one measurement, such as one bootstrap draw or one training seed). A gap larger than twice
    the spread is a win for the better one; anything smaller is a tie.

    Args:
        a: the measurements of the first model (at least 2).
        b: the measurements of the second model (at least 2).
        names: what to call them in the verdict.
        lower_is_better: True for distances (FID, KID, negative log-likelihood), False for
            scores (accuracy, Inception Score).

    Returns:
        ``{"names", "a", "b", "gap", "spread", "verdict"}``: the two names, the two means,
        ``a - b``, the spread, and ``"<name> better"`` or ``"tie"``.
    """
    _check_verdict_options(names, lower_is_better)
    given = (np.asarray(a), np.asarray(b))
    for values, name in zip(given, names, strict=True):
        if values.ndim != 1 or values.dtype == bool or not np.issubdtype(values.dtype, np.number):
            raise ValueError(
                f"compare needs a 1-D sequence of numbers per model; {name} has "
                f"{values.dtype} values of shape {values.shape}."
            )
    a, b = (values.astype(np.float64) for values in given)
    for values, name in ((a, names[0]), (b, names[1])):
        if len(values) < 2 or not np.all(np.isfinite(values)):
            raise ValueError(
                f"compare needs at least 2 finite measurements per model; {name} has "
                f"{values.tolist()!r}."
            )
    return compare_figures(
        a.mean(),
        a.std(ddof=1),
        b.mean(),
        b.std(ddof=1),
        names=names,
        lower_is_better=lower_is_better,
    )


def compare_figures(
    mean_a, sd_a, mean_b, sd_b, *, names=("A", "B"), lower_is_better: bool = True
) -> dict:
    """:func:`compare` from two figures and their standard deviations, when those come from
    several sources (bootstrap draws and training seeds, combined as ``sqrt(sd1**2 + sd2**2)``).

    Args:
        mean_a: the first model's figure.
        sd_a: its standard deviation (>= 0).
        mean_b: the second model's figure.
        sd_b: its standard deviation (>= 0).
        names: what to call them in the verdict.
        lower_is_better: True for distances, False for scores.

    Returns:
        The same dict as :func:`compare`.
    """
    _check_verdict_options(names, lower_is_better)
    values = [
        _figure(mean_a, "mean_a"),
        _figure(sd_a, "sd_a"),
        _figure(mean_b, "mean_b"),
        _figure(sd_b, "sd_b"),
    ]
    for value, what in ((values[1], "sd_a"), (values[3], "sd_b")):
        if value < 0:
            raise ValueError(f"{what} must be a number >= 0, got {value!r}.")
    gap = values[0] - values[2]
    spread = float(np.hypot(values[1], values[3]))
    if abs(gap) <= 2 * spread:
        verdict = "tie"
    else:
        verdict = f"{names[0] if (gap < 0) == lower_is_better else names[1]} better"
    return {
        "names": (str(names[0]), str(names[1])),
        "a": values[0],
        "b": values[2],
        "gap": gap,
        "spread": spread,
        "verdict": verdict,
    }


def format_report(report: dict) -> str:
    """One readable line per figure, naming the extractor and the sample counts.

    Args:
        report: a dict from :func:`aigc_keras.judges.evaluate`: it needs ``extractor``,
            ``note``, ``n_generated`` and ``n_real``; ``fid``, ``kid`` (with ``kid_std``),
            ``is`` and ``precision`` (with ``recall``) are printed when present.

    Returns:
        The lines joined with newlines.
    """
    needed = ["extractor", "note", "n_generated", "n_real"]
    needed += [pair for key, pair in (("kid", "kid_std"), ("precision", "recall")) if key in report]
    missing = [key for key in needed if key not in report]
    if missing:
        raise ValueError(
            f"format_report reads a report from judges.evaluate; this one lacks {missing} "
            f"(it has {sorted(report)})."
        )
    lines = [
        f"extractor: {report['extractor']} ({report['note']})",
        f"samples: {report['n_generated']} generated, {report['n_real']} real",
    ]
    if "fid" in report:
        lines.append(f"Fréchet distance: {report['fid']:.3f}")
    if "kid" in report:
        lines.append(f"kernel distance: {report['kid']:.4f} ± {report['kid_std']:.4f}")
    if "is" in report:
        lines.append(f"Inception-style score: {report['is']:.3f}")
    if "precision" in report:
        lines.append(f"precision: {report['precision']:.3f}, recall: {report['recall']:.3f}")
    return "\n".join(lines)


METRICS = ("fid", "kid", "is", "pr")

# Names that moved to aigc_keras.judges while 0.1.0 was being written: they keep working until 0.2.
_MOVED = (
    "ClassifierExtractor",
    "DomainExtractor",
    "InceptionExtractor",
    "train_domain_extractor",
    "contrast_normalise",
    "real_features",
    "evaluate",
)


def __getattr__(name):
    if name in _MOVED:
        warnings.warn(
            f"aigc_keras.metrics.{name} moved to aigc_keras.judges.{name}; the old name "
            "goes away in the next release.",
            DeprecationWarning,
            stacklevel=2,
        )
        return getattr(importlib.import_module("aigc_keras.judges"), name)
    raise AttributeError(f"module 'aigc_keras.metrics' has no attribute {name!r}")
