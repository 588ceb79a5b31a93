"""Sample-quality metrics and their feature extractors.

* Inception Score: Salimans et al., "Improved Techniques for Training GANs" (NeurIPS 2016).
* Fréchet distance (FID): Heusel et al., "GANs Trained by a Two Time-Scale Update Rule
  Converge to a Local Nash Equilibrium" (NeurIPS 2017).
* Kernel distance (KID): Bińkowski et al., "Demystifying MMD GANs" (ICLR 2018).
* Improved precision and recall: Kynkäänniemi et al., "Improved Precision and Recall
  Metric for Assessing Generative Models" (NeurIPS 2019).

Every metric works on features (or class probabilities) from a pluggable extractor:
:class:`ClassifierExtractor` wraps the chapter-1 classifier (offline, for digits-like
data; what tests and quick mode use), :class:`InceptionExtractor` wraps Keras'
InceptionV3 (ImageNet weights, downloaded on first use).  Statistics are float64
NumPy; numbers from different extractors are not comparable, and Keras' InceptionV3
is not the 2015 TensorFlow graph behind published FID/IS values, so its numbers are
labelled "not comparable with published values" wherever they are printed.
"""

from __future__ import annotations

import hashlib
import warnings

import numpy as np

from .config import check_int, is_int

# --- input checks -----------------------------------------------------------------------


def _features(array, what: str) -> np.ndarray:
    array = np.asarray(array, dtype=np.float64)
    if array.ndim != 2:
        raise ValueError(f"{what} must be a 2-D array (samples x features), got shape {array.shape}.")
    if len(array) < 2:
        raise ValueError(f"{what} needs at least 2 samples, got {len(array)}.")
    if not np.all(np.isfinite(array)):
        raise ValueError(f"{what} contains NaN or infinite values.")
    return array


def _pair(a, b, names=("real features", "generated features")):
    a, b = _features(a, names[0]), _features(b, names[1])
    if a.shape[1] != b.shape[1]:
        raise ValueError(f"feature sizes differ: {names[0]} have {a.shape[1]}, {names[1]} have {b.shape[1]}.")
    return a, b


# --- Fréchet distance ---------------------------------------------------------------------


def gaussian_statistics(features) -> tuple[np.ndarray, np.ndarray]:
    """Mean and covariance (float64, ``N - 1`` normalisation) of ``N x D`` features."""
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
    """
    root_a = _sqrt_psd(sigma_a)
    middle = root_a @ sigma_b @ root_a
    values = np.linalg.eigvalsh((middle + middle.T) / 2.0)
    return float(np.sum(np.sqrt(np.clip(values, 0.0, None))))


def frechet_distance_from_statistics(mu_a, sigma_a, mu_b, sigma_b) -> float:
    """``||μa - μb||² + tr(Σa) + tr(Σb) - 2 tr((Σa Σb)^{1/2})``, clamped at 0."""
    mu_a, mu_b = np.asarray(mu_a, np.float64), np.asarray(mu_b, np.float64)
    sigma_a, sigma_b = np.atleast_2d(np.asarray(sigma_a, np.float64)), np.atleast_2d(np.asarray(sigma_b, np.float64))
    if mu_a.shape != mu_b.shape or sigma_a.shape != sigma_b.shape or sigma_a.shape != (mu_a.size, mu_a.size):
        raise ValueError(f"statistics do not match: means {mu_a.shape} and {mu_b.shape}, "
                         f"covariances {sigma_a.shape} and {sigma_b.shape}.")
    for value in (mu_a, mu_b, sigma_a, sigma_b):
        if not np.all(np.isfinite(value)):
            raise ValueError("statistics contain NaN or infinite values.")
    diff = mu_a - mu_b
    distance = diff @ diff + np.trace(sigma_a) + np.trace(sigma_b) - 2.0 * trace_sqrt_product(sigma_a, sigma_b)
    return float(max(distance, 0.0))


def frechet_distance(features_a, features_b) -> float:
    """Fréchet distance between Gaussians fitted to two feature sets (FID with Inception features)."""
    features_a, features_b = _pair(features_a, features_b)
    return frechet_distance_from_statistics(*gaussian_statistics(features_a), *gaussian_statistics(features_b))


# --- Inception Score ------------------------------------------------------------------------


def _probabilities(probs) -> np.ndarray:
    probs = np.asarray(probs, dtype=np.float64)
    if probs.ndim != 2 or probs.shape[0] < 1 or probs.shape[1] < 2:
        raise ValueError(f"probabilities must be N x K with K >= 2 classes, got shape {probs.shape}.")
    if not np.all(np.isfinite(probs)):
        raise ValueError("probabilities contain NaN or infinite values.")
    if probs.min() < 0 or not np.allclose(probs.sum(axis=1), 1.0, atol=1e-3):
        raise ValueError("each row of probabilities must be non-negative and sum to 1 (pass softmax outputs, not logits).")
    return probs


def inception_score(probs, splits: int = 1) -> tuple[float, float]:
    """``exp(E_x KL(p(y|x) || p(y)))`` per split; returns (mean, standard deviation) over splits.

    ``p(y)`` is the mean prediction within each split, as in Salimans et al.; the
    standard deviation is 0 for one split.  ``0 log 0`` is taken as 0, so exact one-hot
    predictions stay finite.
    """
    probs = _probabilities(probs)
    if not is_int(splits) or not 1 <= splits <= len(probs):
        raise ValueError(f"splits must be an integer between 1 and the number of samples ({len(probs)}), got {splits!r}.")
    scores = []
    for part in np.array_split(probs, splits):
        marginal = part.mean(axis=0)
        with np.errstate(divide="ignore", invalid="ignore"):
            terms = np.where(part > 0, part * (np.log(part) - np.log(marginal)), 0.0)
        scores.append(float(np.exp(terms.sum(axis=1).mean())))
    return float(np.mean(scores)), float(np.std(scores))


# --- Kernel distance ------------------------------------------------------------------------


def polynomial_kernel(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``k(x, y) = (x·y / d + 1)^3``, the kernel of Bińkowski et al."""
    return (a @ b.T / a.shape[1] + 1.0) ** 3


def mmd2_unbiased(a: np.ndarray, b: np.ndarray) -> float:
    """Unbiased squared MMD: off-diagonal means of k(a, a) and k(b, b), minus twice the mean of k(a, b)."""
    m, n = len(a), len(b)
    k_aa, k_bb, k_ab = polynomial_kernel(a, a), polynomial_kernel(b, b), polynomial_kernel(a, b)
    return float((k_aa.sum() - np.trace(k_aa)) / (m * (m - 1))
                 + (k_bb.sum() - np.trace(k_bb)) / (n * (n - 1))
                 - 2.0 * k_ab.mean())


def kernel_distance(features_a, features_b, *, subsets: int = 100, subset_size: int = 1000, seed: int = 0):
    """KID: mean and standard deviation of the unbiased MMD² over random subsets.

    ``subset_size`` is capped at the smaller set's size.  Individual values can be
    negative (the estimator is unbiased, so it scatters around 0 for equal distributions).
    """
    features_a, features_b = _pair(features_a, features_b)
    check_int(subsets, "subsets")
    check_int(subset_size, "subset_size")
    size = min(subset_size, len(features_a), len(features_b))
    rng = np.random.default_rng(seed)
    values = [mmd2_unbiased(features_a[rng.choice(len(features_a), size, replace=False)],
                            features_b[rng.choice(len(features_b), size, replace=False)]) for _ in range(subsets)]
    return float(np.mean(values)), float(np.std(values))


# --- Precision and recall ---------------------------------------------------------------------


def _squared_distances(a: np.ndarray, b: np.ndarray, chunk: int = 1024) -> np.ndarray:
    out = np.empty((len(a), len(b)))
    b_norms = np.sum(b * b, axis=1)
    for start in range(0, len(a), chunk):
        part = a[start : start + chunk]
        out[start : start + chunk] = np.sum(part * part, axis=1)[:, None] + b_norms[None] - 2.0 * part @ b.T
    return np.maximum(out, 0.0)


def _kth_radius(features: np.ndarray, k: int) -> np.ndarray:
    """Squared distance from each point to its k-th nearest other point of the same set."""
    distances = _squared_distances(features, features)
    return np.sort(distances, axis=1)[:, k]  # column 0 is the point itself


def precision_recall(real, generated, *, k: int = 3) -> tuple[float, float]:
    """Improved precision and recall with k-nearest-neighbour manifolds.

    Precision: share of generated samples inside the real manifold (the union of balls
    around each real sample reaching its k-th nearest real neighbour); recall: share of
    real samples inside the generated manifold.
    """
    real, generated = _pair(real, generated)
    if not is_int(k) or not 1 <= k < min(len(real), len(generated)):
        raise ValueError(f"k must be an integer between 1 and the smaller set size minus 1, got {k!r}.")
    real_radius, fake_radius = _kth_radius(real, k), _kth_radius(generated, k)
    cross = _squared_distances(generated, real)  # generated x real
    precision = np.mean(np.any(cross <= real_radius[None, :], axis=1))
    recall = np.mean(np.any(cross.T <= fake_radius[None, :], axis=1))
    return float(precision), float(recall)


# --- extractors -------------------------------------------------------------------------------


def _weights_hash(model) -> str:
    digest = hashlib.sha256()
    for weight in model.get_weights():
        digest.update(np.ascontiguousarray(weight).tobytes())
    return digest.hexdigest()[:16]


def _check_images(images, value_range=(-1, 1)) -> np.ndarray:
    images = np.asarray(images, dtype=np.float32)
    if images.ndim != 4:
        raise ValueError(f"images must be N x H x W x C, got shape {images.shape}.")
    if not np.all(np.isfinite(images)):
        raise ValueError("images contain NaN or infinite values.")
    low, high = value_range
    if images.size and (images.min() < low - 1e-3 or images.max() > high + 1e-3):
        raise ValueError(f"images must be in [{low}, {high}], got {images.min():.3g}..{images.max():.3g}; "
                         "convert them with aigc_keras.data.scale.")
    return images


class ClassifierExtractor:
    """Features and class probabilities from the chapter-1 classifier (works offline).

    The classifier's 128-d penultimate ``features`` layer is the feature space; images in
    [-1, 1] at the classifier's size, run in batches through the classifier's compiled
    inference function.  Values are *domain* FID/KID, comparable only with other numbers
    from the same classifier.  ``resize=True`` accepts images of another size and resizes
    them (bilinear) to the classifier's first, e.g. 32x32 StyleGAN digits for the 28x28 judge;
    without it a size mismatch is an error.
    """

    def __init__(self, classifier, *, resize: bool = False):
        self.classifier = classifier
        self.image_size = classifier.config["image_size"]
        self.resize = bool(resize)
        self.name = f"chapter-1 classifier ({self.image_size}px, {classifier.config['feature_dim']}-d features)"
        if self.resize:
            self.name += f", inputs resized to {self.image_size}px"
        self.comparable_note = "domain metric: comparable only with numbers from the same classifier"
        self.weights_hash = _weights_hash(classifier)

    def _prepare(self, images) -> np.ndarray:
        images = _check_images(images)
        if self.resize and images.shape[1:3] != (self.image_size, self.image_size):
            import tensorflow as tf

            images = np.clip(tf.image.resize(images, (self.image_size, self.image_size)).numpy(), -1.0, 1.0)
        return images

    def features(self, images, batch_size: int = 256) -> np.ndarray:
        return self.classifier.features(self._prepare(images), batch_size=batch_size)

    def probabilities(self, images, batch_size: int = 256) -> np.ndarray:
        return self.classifier.predict_proba(self._prepare(images), batch_size=batch_size)


def contrast_normalise(images, *, clip: float = 4.0) -> np.ndarray:
    """Standardise each image to zero mean and unit variance, then map ``±clip`` standard deviations to ±1.

    A brightness or contrast change leaves the result unchanged, so a judge trained on it must look at
    texture and shape.  Flat images (variance 0) map to 0.
    """
    images = np.asarray(images, np.float32)
    if images.ndim != 4:
        raise ValueError(f"images must have shape (N, H, W, C), got {images.shape}.")
    mean = images.mean(axis=(1, 2, 3), keepdims=True)
    std = images.std(axis=(1, 2, 3), keepdims=True)
    return np.clip((images - mean) / np.maximum(std, 1e-6) / clip, -1.0, 1.0)


class DomainExtractor(ClassifierExtractor):
    """A two-domain judge for translation: a chapter-1-style classifier on contrast-normalised images.

    ``probabilities(x)[:, 1]`` is the probability of domain B; ``features`` feed KID/FID between
    translated and real images.  Build one with :func:`train_domain_extractor`.
    """

    def __init__(self, classifier, accuracy: float | None = None):
        super().__init__(classifier)
        self.name = f"domain classifier ({self.image_size}px, contrast-normalised)"
        self.accuracy = accuracy

    def features(self, images, batch_size: int = 256) -> np.ndarray:
        return super().features(contrast_normalise(_check_images(images)), batch_size)

    def probabilities(self, images, batch_size: int = 256) -> np.ndarray:
        return super().probabilities(contrast_normalise(_check_images(images)), batch_size)

    def fraction_b(self, images) -> float:
        """Share of ``images`` the judge labels as domain B."""
        return float(np.mean(np.argmax(self.probabilities(images), axis=1) == 1))


def train_domain_extractor(train_a, train_b, test_a=None, test_b=None, *, epochs: int = 10, seed: int = 0):
    """Train a :class:`DomainExtractor` (label 0 = A, 1 = B); its ``accuracy`` is on the test images if given."""
    from .models.cnn import train_classifier

    def stack(a, b):
        x = contrast_normalise(np.concatenate([_check_images(a), _check_images(b)]))
        return x, np.concatenate([np.zeros(len(a), np.int32), np.ones(len(b), np.int32)])

    test = stack(test_a, test_b) if test_a is not None and test_b is not None else None
    model, _ = train_classifier(stack(train_a, train_b), test, epochs=epochs, seed=seed, verbose=0)
    accuracy = None
    if test is not None:
        accuracy = float(np.mean(np.argmax(model.predict_proba(test[0]), axis=1) == test[1]))
    return DomainExtractor(model, accuracy)


class InceptionExtractor:
    """InceptionV3 from ``keras.applications`` with ImageNet weights (downloaded on first use).

    Resize and value scaling, in one place: images in [-1, 1] (grayscale tiled to RGB) are
    resized bilinearly to 299x299; Keras' InceptionV3 expects exactly [-1, 1] input (its
    ``preprocess_input`` maps [0, 255] there).  Features: the 2048-d global average pool;
    probabilities: the 1000-way softmax.  Not the 2015 TensorFlow Inception graph of the
    published FID/IS, so the numbers are not comparable with papers.
    """

    size = 299
    comparable_note = "Keras InceptionV3: not comparable with published FID/IS values"

    def __init__(self):
        import keras

        from .data import network_available

        try:
            model = keras.applications.InceptionV3(weights="imagenet", include_top=True)
        except Exception as error:
            reason = "no network" if not network_available() else f"{type(error).__name__}: {str(error)[:200]}"
            raise RuntimeError(
                f"InceptionV3's ImageNet weights could not be downloaded ({reason}). Random weights would give "
                "meaningless numbers, so none are used: for digits-like data use "
                "ClassifierExtractor(aigc_keras.models.cnn.load_classifier(28)), which works offline."
            ) from error
        pool = model.get_layer("avg_pool").output
        self.model = keras.Model(model.input, [pool, model.output], name="inception_features")
        self.name = "InceptionV3 (Keras, ImageNet)"
        self.weights_hash = _weights_hash(model)
        self._run = None

    def _outputs(self, images, batch_size, index):
        import tensorflow as tf

        images = _check_images(images)
        if images.shape[-1] == 1:
            images = np.repeat(images, 3, axis=-1)
        if self._run is None:
            @tf.function(reduce_retracing=True)
            def run(batch):
                batch = tf.image.resize(batch, (self.size, self.size), method="bilinear")
                return self.model(batch, training=False)

            self._run = run
        return np.concatenate([self._run(images[i : i + batch_size])[index].numpy()
                               for i in range(0, len(images), batch_size)])

    def features(self, images, batch_size: int = 64) -> np.ndarray:
        return self._outputs(images, batch_size, 0)

    def probabilities(self, images, batch_size: int = 64) -> np.ndarray:
        return self._outputs(images, batch_size, 1)


# --- evaluation with cached real statistics -----------------------------------------------------

METRICS = ("fid", "kid", "is", "pr")


def real_features(extractor, images, *, key: str | None = None) -> np.ndarray:
    """Features of real images, cached in ``<output>/cache/stats`` under ``key``.

    ``key`` should name the dataset, split, image size and sample count (for example
    ``"digits-test-28px-n360"``); the extractor's weight hash is added to it, so a retrained
    extractor never reuses stale statistics.
    """
    if key is None:
        return extractor.features(images)
    from . import config

    safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in key)
    path = config.output_dir("cache", "stats") / f"{safe}-{extractor.weights_hash}.npz"
    if path.exists():
        with np.load(path, allow_pickle=False) as stored:
            return stored["features"]
    features = extractor.features(images)
    tmp = path.with_name(path.name + ".tmp.npz")
    np.savez(tmp, features=features)
    tmp.replace(path)
    return features


def evaluate(extractor, real_images, generated_images, *, metrics=("fid", "kid"), real_key: str | None = None,
             n: int | None = None, kid_subset_size: int = 1000, seed: int = 0) -> dict:
    """Compare generated with real images; returns a report dict.

    ``n`` caps both sets (default: all of them); the report says how many of each were
    used, which extractor, and whether its numbers are comparable with published ones.
    """
    unknown = [m for m in metrics if m not in METRICS]
    if unknown:
        raise ValueError(f"unknown metrics {unknown}; choose from {', '.join(METRICS)}.")
    real_images, generated_images = np.asarray(real_images), np.asarray(generated_images)
    if n is not None:
        check_int(n, "n", minimum=2)
        if n > len(real_images):
            warnings.warn(f"{n} samples requested but the real data holds {len(real_images)}; using "
                          f"{len(real_images)}.", stacklevel=2)
        real_images, generated_images = real_images[:n], generated_images[:n]
    report = {"extractor": extractor.name, "note": extractor.comparable_note,
              "n_real": len(real_images), "n_generated": len(generated_images)}
    if {"fid", "kid", "pr"} & set(metrics):
        real = real_features(extractor, real_images, key=None if real_key is None else f"{real_key}-n{len(real_images)}")
        fake = extractor.features(generated_images)
        if "fid" in metrics:
            report["fid"] = frechet_distance(real, fake)
        if "kid" in metrics:
            report["kid"], report["kid_std"] = kernel_distance(real, fake, subset_size=kid_subset_size, seed=seed)
        if "pr" in metrics:
            report["precision"], report["recall"] = precision_recall(real, fake)
    if "is" in metrics:
        report["is"], report["is_std"] = inception_score(extractor.probabilities(generated_images), splits=1)
    return report


def format_report(report: dict) -> str:
    """One readable line per figure, naming the extractor and the sample counts."""
    lines = [f"extractor: {report['extractor']} ({report['note']})",
             f"samples: {report['n_generated']} generated, {report['n_real']} real"]
    if "fid" in report:
        lines.append(f"Fréchet distance: {report['fid']:.3f}")
    if "kid" in report:
        lines.append(f"kernel distance: {report['kid']:.4f} ± {report['kid_std']:.4f}")
    if "is" in report:
        lines.append(f"Inception-style score: {report['is']:.3f}")
    if "precision" in report:
        lines.append(f"precision: {report['precision']:.3f}, recall: {report['recall']:.3f}")
    return "\n".join(lines)
