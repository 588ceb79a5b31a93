"""The judges: networks that score images, and the cache of their statistics on real data.

* :func:`load_classifier`: the chapter-1 digit classifier, trained once on the offline digits and
  cached in the output folder (float32 on every machine, so scores do not depend on hardware).
* Feature extractors for :mod:`aigc_keras.metrics`: :class:`ClassifierExtractor` (the chapter-1
  classifier; offline, for digit-like data), :class:`DomainExtractor` (a two-domain judge for
  translation), :class:`InceptionExtractor` (Keras' InceptionV3 with ImageNet weights, downloaded
  on first use; not the 2015 graph behind published FID/IS values, so its numbers are labelled
  "not comparable with published values" wherever they are printed).
* :func:`real_features` caches real-data features; :func:`evaluate` compares generated with real
  images and returns a report for :func:`aigc_keras.metrics.format_report`.
"""

from __future__ import annotations

import hashlib
import warnings

import keras
import numpy as np

from . import config, data, hardware
from . import metrics as _metrics
from .models import cnn
from .models.base import save_atomically
from .validation import check_int


def load_classifier(
    image_size: int = 28, *, epochs: int = 20, verbose: int = 0
) -> cnn.CNNClassifier:
    """The chapter-1 digit classifier at ``image_size``, trained once and cached.

    Looks for ``<output>/cache/cnn_digits_<size>px_v<version>.keras``; if it is missing,
    trains on the offline digits' train split (about half a minute on a 2-core CPU at
    28x28) and saves it there. Loading uses Keras' safe mode.  Trained and loaded in float32
    on every machine (it judges the other models: its scores must not depend on the
    hardware's precision).

    Args:
        image_size: height and width of the classifier's input in pixels (the 8x8 digits
            are resized to it).
        epochs: training epochs when no cached classifier exists; part of the cache file's
            name, so each value has its own cache.
        verbose: Keras' ``verbose`` for that training (0 silent).

    Returns:
        The trained :class:`~aigc_keras.models.cnn.CNNClassifier`.
    """
    path = (
        config.output_dir("cache")
        / f"cnn_digits_{image_size}px_v{cnn.CLASSIFIER_VERSION}_e{epochs}.keras"
    )
    with hardware.precision_scope(
        "float32"
    ):  # the judge: its scores must not depend on the machine's precision
        if path.exists():
            return keras.saving.load_model(path, safe_mode=True)
        train = data.load_arrays("digits", "train", image_size=image_size, source="offline")
        test = data.load_arrays("digits", "test", image_size=image_size, source="offline")
        model, _ = cnn.train_classifier(
            (train.images, train.labels), (test.images, test.labels), epochs=epochs, verbose=verbose
        )
    save_atomically(model, path)
    return model


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
        raise ValueError(
            f"images must be in [{low}, {high}], got {images.min():.3g}..{images.max():.3g}; "
            "convert them with aigc_keras.data.scale."
        )
    return images


class ClassifierExtractor:
    """Features and class probabilities from the chapter-1 classifier (works offline).

    The classifier's 128-d penultimate ``features`` layer is the feature space; images in
    [-1, 1] at the classifier's size, run in batches through the classifier's compiled
    inference function.  Values are *domain* FID/KID, comparable only with other numbers
    from the same classifier.  ``resize=True`` accepts images of another size and resizes
    them (bilinear) to the classifier's first, e.g. 32x32 StyleGAN digits for the 28x28 judge;
    without it a size mismatch is an error.

    Args:
        classifier: a trained :class:`~aigc_keras.models.cnn.CNNClassifier`, e.g. from
            :func:`load_classifier`.
        resize: accept images of any size and resize them to the classifier's.
    """

    def __init__(self, classifier, *, resize: bool = False):
        self.classifier = classifier
        self.image_size = classifier.config["image_size"]
        self.resize = bool(resize)
        self.name = (
            f"chapter-1 classifier ({self.image_size}px, "
            f"{classifier.config['feature_dim']}-d features)"
        )
        if self.resize:
            self.name += f", inputs resized to {self.image_size}px"
        self.comparable_note = (
            "domain metric: comparable only with numbers from the same classifier"
        )
        self.weights_hash = _weights_hash(classifier)

    def _prepare(self, images) -> np.ndarray:
        images = _check_images(images)
        if self.resize and images.shape[1:3] != (self.image_size, self.image_size):
            import tensorflow as tf

            images = np.clip(
                tf.image.resize(images, (self.image_size, self.image_size)).numpy(), -1.0, 1.0
            )
        return images

    def features(self, images, batch_size: int = 256) -> np.ndarray:
        """The classifier's penultimate-layer features of ``images``.

        Args:
            images: ``N x H x W x C`` in [-1, 1], at the classifier's size unless ``resize``.
            batch_size: images per inference call.

        Returns:
            A float32 ``N x feature_dim`` array.

        Raises:
            ValueError: if ``images`` is not 4-D, holds NaN or infinite values, or lies
                outside [-1, 1].
        """
        return self.classifier.features(self._prepare(images), batch_size=batch_size)

    def probabilities(self, images, batch_size: int = 256) -> np.ndarray:
        """The classifier's class probabilities for ``images``.

        Args:
            images: ``N x H x W x C`` in [-1, 1], at the classifier's size unless ``resize``.
            batch_size: images per inference call.

        Returns:
            A float32 ``N x num_classes`` array whose rows sum to 1.

        Raises:
            ValueError: if ``images`` is not 4-D, holds NaN or infinite values, or lies
                outside [-1, 1].
        """
        return self.classifier.predict_proba(self._prepare(images), batch_size=batch_size)


def contrast_normalise(images, *, clip: float = 4.0) -> np.ndarray:
    """Standardise each image, then map ``±clip`` standard deviations to ±1.

    Each image is shifted to zero mean and scaled to unit variance (over all its pixels and
    channels), divided by ``clip`` and clipped to [-1, 1].  A brightness or contrast change
    leaves the result unchanged, so a judge trained on it must look at texture and shape.
    Flat images (variance 0) map to 0.

    Args:
        images: ``N x H x W x C``, in any value range.
        clip: how many standard deviations map to ±1, > 0.

    Returns:
        A float32 array of the same shape, in [-1, 1].

    Raises:
        ValueError: if ``images`` is not 4-D.
    """
    images = np.asarray(images, np.float32)
    if images.ndim != 4:
        raise ValueError(f"images must have shape (N, H, W, C), got {images.shape}.")
    mean = images.mean(axis=(1, 2, 3), keepdims=True)
    std = images.std(axis=(1, 2, 3), keepdims=True)
    return np.clip((images - mean) / np.maximum(std, 1e-6) / clip, -1.0, 1.0)


class DomainExtractor(ClassifierExtractor):
    """A two-domain judge for translation.

    A chapter-1-style classifier on contrast-normalised images (:func:`contrast_normalise`).
    ``probabilities(x)[:, 1]`` is the probability of domain B; ``features`` feed KID/FID
    between translated and real images.  Build one with :func:`train_domain_extractor`.

    Args:
        classifier: a two-class :class:`~aigc_keras.models.cnn.CNNClassifier` trained on
            contrast-normalised images (label 0 = A, 1 = B).
        accuracy: its accuracy on held-out images, in [0, 1], or ``None`` if unknown.
    """

    def __init__(self, classifier, accuracy: float | None = None):
        super().__init__(classifier)
        self.name = f"domain classifier ({self.image_size}px, contrast-normalised)"
        self.accuracy = accuracy

    def features(self, images, batch_size: int = 256) -> np.ndarray:
        """The judge's penultimate-layer features of contrast-normalised ``images``.

        Args:
            images: ``N x H x W x C`` in [-1, 1], at the judge's size.
            batch_size: images per inference call.

        Returns:
            A float32 ``N x feature_dim`` array.
        """
        return super().features(contrast_normalise(_check_images(images)), batch_size)

    def probabilities(self, images, batch_size: int = 256) -> np.ndarray:
        """Domain probabilities of ``images``: column 0 is A, column 1 is B.

        Args:
            images: ``N x H x W x C`` in [-1, 1], at the judge's size.
            batch_size: images per inference call.

        Returns:
            A float32 ``N x 2`` array whose rows sum to 1.
        """
        return super().probabilities(contrast_normalise(_check_images(images)), batch_size)

    def fraction_b(self, images) -> float:
        """Share of ``images`` the judge labels as domain B.

        Args:
            images: ``N x H x W x C`` in [-1, 1], at the judge's size.

        Returns:
            A float in [0, 1].
        """
        return float(np.mean(np.argmax(self.probabilities(images), axis=1) == 1))


def train_domain_extractor(
    train_a, train_b, test_a=None, test_b=None, *, epochs: int = 10, seed: int = 0
):
    """Train a :class:`DomainExtractor` (label 0 = A, 1 = B).

    Its ``accuracy`` is measured on the test images if both test sets are given, else it is
    ``None``.

    Args:
        train_a: training images of domain A, ``N x H x W x C`` in [-1, 1].
        train_b: training images of domain B, the same height, width and channels.
        test_a: held-out images of domain A, or ``None``.
        test_b: held-out images of domain B, or ``None``.
        epochs: training epochs.
        seed: seed of weight initialisation and shuffling.

    Returns:
        The trained :class:`DomainExtractor`.
    """

    def stack(a, b):
        x = contrast_normalise(np.concatenate([_check_images(a), _check_images(b)]))
        return x, np.concatenate([np.zeros(len(a), np.int32), np.ones(len(b), np.int32)])

    test = stack(test_a, test_b) if test_a is not None and test_b is not None else None
    model, _ = cnn.train_classifier(
        stack(train_a, train_b), test, epochs=epochs, seed=seed, verbose=0
    )
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

    Raises:
        RuntimeError: on construction, if the ImageNet weights cannot be downloaded (random
            weights are never used).
    """

    size = 299
    comparable_note = "Keras InceptionV3: not comparable with published FID/IS values"

    def __init__(self):
        try:
            model = keras.applications.InceptionV3(weights="imagenet", include_top=True)
        except Exception as error:
            reason = (
                "no network"
                if not data.network_available()
                else f"{type(error).__name__}: {str(error)[:200]}"
            )
            raise RuntimeError(
                f"InceptionV3's ImageNet weights could not be downloaded ({reason}). "
                "Random weights would give meaningless numbers, so none are used: "
                "for digits-like data use "
                "ClassifierExtractor(aigc_keras.judges.load_classifier(28)), which works offline."
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
        return np.concatenate(
            [
                self._run(images[i : i + batch_size])[index].numpy()
                for i in range(0, len(images), batch_size)
            ]
        )

    def features(self, images, batch_size: int = 64) -> np.ndarray:
        """InceptionV3's 2048-d global-average-pool features of ``images``.

        Args:
            images: ``N x H x W x C`` in [-1, 1], any size, 1 or 3 channels.
            batch_size: images per inference call.

        Returns:
            An ``N x 2048`` array.
        """
        return self._outputs(images, batch_size, 0)

    def probabilities(self, images, batch_size: int = 64) -> np.ndarray:
        """InceptionV3's ImageNet class probabilities for ``images``.

        Args:
            images: ``N x H x W x C`` in [-1, 1], any size, 1 or 3 channels.
            batch_size: images per inference call.

        Returns:
            An ``N x 1000`` array whose rows sum to 1.
        """
        return self._outputs(images, batch_size, 1)


# --- evaluation with cached real statistics -----------------------------------------------------


def real_features(extractor, images, *, key: str | None = None) -> np.ndarray:
    """Features of real images, cached in ``<output>/cache/stats`` under ``key``.

    ``key`` should name the dataset, split, image size and sample count (for example
    ``"digits-test-28px-n360"``); the extractor's weight hash is added to it, so a retrained
    extractor never reuses stale statistics.

    Args:
        extractor: an object with ``features(images)`` and ``weights_hash``, e.g. a
            :class:`ClassifierExtractor` or :class:`InceptionExtractor`.
        images: the real images, in the range the extractor expects ([-1, 1]).
        key: the cache key; ``None`` computes the features without caching.

    Returns:
        The features, ``N x D``.
    """
    if key is None:
        return extractor.features(images)
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


def evaluate(
    extractor,
    real_images,
    generated_images,
    *,
    metrics=("fid", "kid"),
    real_key: str | None = None,
    n: int | None = None,
    kid_subset_size: int = 1000,
    seed: int = 0,
) -> dict:
    """Compare generated with real images; returns a report dict.

    ``n`` caps both sets (default: all of them); the report says how many of each were
    used, which extractor, and whether its numbers are comparable with published ones.

    Args:
        extractor: the judge, e.g. a :class:`ClassifierExtractor` or
            :class:`InceptionExtractor`.
        real_images: real images ``N x H x W x C`` in [-1, 1].
        generated_images: generated images of the same kind, in [-1, 1].
        metrics: any of ``"fid"``, ``"kid"``, ``"is"`` (Inception-style score) and ``"pr"``
            (precision and recall).
        real_key: cache key of the real features (see :func:`real_features`); the sample
            count is appended to it.  ``None`` disables the cache.
        n: use at most this many images of each set, at least 2; ``None`` uses all.
        kid_subset_size: subset size of the kernel distance.
        seed: seed of the kernel distance's subset draws.

    Returns:
        A dict with ``extractor``, ``note``, ``n_real`` and ``n_generated``, plus ``fid``;
        ``kid`` and ``kid_std``; ``is`` and ``is_std``; ``precision`` and ``recall``, for
        the metrics asked for.  :func:`aigc_keras.metrics.format_report` prints it.

    Raises:
        ValueError: for an unknown metric name or an invalid ``n``.
    """
    unknown = [m for m in metrics if m not in _metrics.METRICS]
    if unknown:
        raise ValueError(f"unknown metrics {unknown}; choose from {', '.join(_metrics.METRICS)}.")
    real_images, generated_images = np.asarray(real_images), np.asarray(generated_images)
    if n is not None:
        check_int(n, "n", minimum=2)
        if n > len(real_images):
            warnings.warn(
                f"{n} samples requested but the real data holds {len(real_images)}; using "
                f"{len(real_images)}.",
                stacklevel=2,
            )
        real_images, generated_images = real_images[:n], generated_images[:n]
    report = {
        "extractor": extractor.name,
        "note": extractor.comparable_note,
        "n_real": len(real_images),
        "n_generated": len(generated_images),
    }
    if {"fid", "kid", "pr"} & set(metrics):
        real = real_features(
            extractor,
            real_images,
            key=None if real_key is None else f"{real_key}-n{len(real_images)}",
        )
        fake = extractor.features(generated_images)
        if "fid" in metrics:
            report["fid"] = _metrics.frechet_distance(real, fake)
        if "kid" in metrics:
            report["kid"], report["kid_std"] = _metrics.kernel_distance(
                real, fake, subset_size=kid_subset_size, seed=seed
            )
        if "pr" in metrics:
            report["precision"], report["recall"] = _metrics.precision_recall(real, fake)
    if "is" in metrics:
        report["is"], report["is_std"] = _metrics.inception_score(
            extractor.probabilities(generated_images), splits=1
        )
    return report
