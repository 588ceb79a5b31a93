"""Chapter 1: a convolutional classifier, reused later as judge and feature extractor.

LeCun, Bottou, Bengio, Haffner, "Gradient-based learning applied to document
recognition" (Proc. IEEE 1998) for the convolution/pooling/dense pattern.

Images are expected in [-1, 1] (the range the generators of later chapters produce).
Training uses Keras' own ``train_step``: for a classifier it is exactly
"cross-entropy, gradient, optimizer step", with mixed precision and
``tf.distribute`` handled, so writing it again would only add code to maintain.
"""

from __future__ import annotations

import importlib
import logging
import warnings

import keras
import numpy as np

from .. import hardware
from ..order import prefetched
from ..spec import ModelSpec
from ..validation import check_fraction, check_images, check_int

# save_atomically is re-exported for the notebooks
from .base import Checkpointable, save_atomically  # noqa: F401
from .networks import build_classifier

CLASSIFIER_VERSION = 3  # bump when the architecture or training recipe changes (invalidates caches)


@keras.saving.register_keras_serializable(package="aigc_keras")
class CNNClassifier(Checkpointable, keras.Model):
    """Convolutional classifier with class probabilities and penultimate features.

    ``model(images)`` returns logits; :meth:`predict_proba` softmax probabilities;
    :meth:`features` the ``feature_dim``-dimensional penultimate activations used as
    the domain feature space for FID/KID.  Keras' own ``train_step`` trains it (cross-entropy and a
    gradient step are all a classifier needs); the package's checkpoints (``save_checkpoint``, the
    ``Checkpoint`` callback) hold its weights, dropout seed state and optimizer state.

    Args:
        image_size: the side of the square input images, in pixels (at least 4).
        channels: the channels of the images (1 grayscale, 3 RGB).
        num_classes: the number of classes.
        width: the filters of the first convolution stage (the second has ``2 * width``).
        feature_dim: the size of the penultimate feature layer.
        dropout: the dropout rate before the logits, in [0, 1).
        **kwargs: passed on to ``keras.Model`` (``name``, ...).
    """

    def __init__(
        self,
        image_size=28,
        channels=1,
        num_classes=10,
        width=32,
        feature_dim=128,
        dropout=0.3,
        **kwargs,
    ):
        super().__init__(**kwargs)
        for key, value in (
            ("image_size", image_size),
            ("channels", channels),
            ("num_classes", num_classes),
            ("width", width),
            ("feature_dim", feature_dim),
        ):
            check_int(value, key)
        if image_size < 4:
            raise ValueError(f"image_size must be at least 4 (two 2x2 poolings), got {image_size}.")
        check_fraction(dropout, "dropout", "[0, 1)")
        self.config = dict(
            image_size=int(image_size),
            channels=int(channels),
            num_classes=int(num_classes),
            width=int(width),
            feature_dim=int(feature_dim),
            dropout=float(dropout),
        )
        self.network = build_classifier(**self.config)
        self(np.zeros((1, image_size, image_size, channels), np.float32))  # build now

    def call(self, images, training=False):
        logits, _ = self.network(images, training=training)
        return logits

    def _batched(self, images, batch_size, index):
        expected = (self.config["image_size"], self.config["image_size"], self.config["channels"])
        images = check_images(
            images, expected, hint="Rescale with aigc_keras.data.scale(x01, (-1, 1))."
        )
        batch_size = check_int(batch_size, "batch_size")  # 0 was a raw range() error
        if getattr(self, "_inference", None) is None:  # one compiled function for every batch
            import tensorflow as tf

            _quiet_per_model_tracing()
            self._inference = tf.function(
                lambda batch: self.network(batch, training=False), reduce_retracing=True
            )
        outputs = [
            keras.ops.convert_to_numpy(self._inference(images[i : i + batch_size])[index])
            for i in range(0, len(images), batch_size)
        ]
        return np.concatenate(outputs) if outputs else np.zeros((0,), np.float32)

    def predict_proba(self, images, batch_size: int = 256) -> np.ndarray:
        """Class probabilities ``softmax(logits)`` (N x num_classes).

        Args:
            images: images ``(N, image_size, image_size, channels)`` in [-1, 1].
            batch_size: the images per network call.

        Returns:
            Float32 probabilities ``(N, num_classes)``, each row summing to 1.
        """
        logits = self._batched(images, batch_size, 0).astype(np.float64)
        logits -= logits.max(axis=1, keepdims=True)
        probs = np.exp(logits)
        return (probs / probs.sum(axis=1, keepdims=True)).astype(np.float32)

    def features(self, images, batch_size: int = 256) -> np.ndarray:
        """Penultimate-layer features (N x feature_dim).

        Args:
            images: images ``(N, image_size, image_size, channels)`` in [-1, 1].
            batch_size: the images per network call.

        Returns:
            Float32 features ``(N, feature_dim)`` (non-negative: the layer ends in a ReLU).
        """
        return self._batched(images, batch_size, 1)

    def get_config(self):
        return dict(self.config)

    def _named_optimizers(self) -> dict:
        return {} if getattr(self, "optimizer", None) is None else {"model": self.optimizer}

    def _state_variables(self) -> dict:
        # Weights and seed-generator states (dropout); compiled metrics are left out: they are
        # built lazily, so a fresh model would not list them yet.  Keras builds the optimizer at the
        # first step; build it here so a fresh model can receive a checkpoint's optimizer state.
        if not self.optimizer.built:
            with (
                self.distribute_strategy.scope()
            ):  # slots mirrored like the weights under a strategy
                self.optimizer.build(self.trainable_variables)
        return {
            "model": list(self.trainable_variables) + list(self.non_trainable_variables),
            "optimizer/model": list(self.optimizer.variables),
        }

    def _steps_done(self) -> int:
        return int(self.optimizer.iterations.numpy())


class _PerModelTracing(logging.Filter):
    """TensorFlow counts traces by a function's code, so each new classifier's one trace of its
    inference function adds to a "frequent retracing" warning shared by all classifiers (a notebook
    that trains a few of them prints it).  One trace per model is the design: drop that warning,
    and only when it names this function."""

    def filter(self, record):
        message = record.getMessage()
        return not (
            "triggered tf.function retracing" in message and "CNNClassifier._batched" in message
        )


def _quiet_per_model_tracing():
    logger = logging.getLogger("tensorflow")
    if not any(isinstance(f, _PerModelTracing) for f in logger.filters):
        logger.addFilter(_PerModelTracing())


def train_classifier(
    train,
    test=None,
    *,
    epochs: int = 20,
    batch_size: int = 64,
    seed: int = 0,
    learning_rate: float = 1e-3,
    verbose="auto",
    augment=None,
    callbacks=None,
    **model_options,
):
    """Train a :class:`CNNClassifier` on ``(images, labels)`` arrays; returns ``(model, history)``.

    ``augment``: a Keras layer applied to every training batch inside the ``tf.data`` pipeline with
    ``training=True`` (``data.augmentation``); the validation data is never augmented.

    Args:
        train: ``(images, labels)``: images ``(N, H, H, C)`` in [-1, 1] and integer labels
            ``(N,)`` in ``0 .. num_classes - 1`` (the class count is ``labels.max() + 1``).
        test: validation ``(images, labels)`` in the same form, or ``None``.
        epochs: the number of epochs.
        batch_size: the batch size.
        seed: the seed of the weights, the shuffling and dropout (``keras.utils.set_random_seed``).
        learning_rate: Adam's learning rate.
        verbose: Keras' ``fit`` verbosity (``"auto"``, 0, 1 or 2).
        augment: a Keras augmentation layer, or ``None`` for none.
        callbacks: Keras callbacks passed to ``fit`` (such as
            :class:`aigc_keras.callbacks.LiveTraining`), or ``None``.
        **model_options: further :class:`CNNClassifier` arguments (``width``, ``feature_dim``,
            ``dropout``).

    Returns:
        ``(model, history)``: the trained :class:`CNNClassifier` and its
        ``keras.callbacks.History``.
    """
    images, labels = train
    keras.utils.set_random_seed(seed)
    model = CNNClassifier(
        image_size=images.shape[1],
        channels=images.shape[3],
        num_classes=int(labels.max()) + 1,
        **model_options,
    )
    compile_classifier(model, jit_compile="auto", learning_rate=learning_rate)  # Keras' own choice
    if augment is None:
        history = model.fit(
            images,
            labels,
            epochs=epochs,
            batch_size=batch_size,
            shuffle=True,
            validation_data=test,
            verbose=verbose,
            callbacks=callbacks,
        )
    else:
        import tensorflow as tf

        batches = (
            tf.data.Dataset.from_tensor_slices((images, labels))
            .shuffle(len(images), seed=seed)
            .batch(batch_size)
            .map(lambda x, y: (augment(x, training=True), y))
        )
        batches = prefetched(batches)  # without tf.data's autotuner, which delays each epoch
        history = model.fit(
            batches,
            epochs=epochs,
            validation_data=test,
            verbose=verbose,
            callbacks=callbacks,
        )
    return model, history


def compile_classifier(
    model,
    *,
    jit_compile=None,
    total_steps=None,  # noqa: ARG001 (hook)
    learning_rate: float = 1e-3,
):
    """Compile a :class:`CNNClassifier` with Adam and cross-entropy on logits, tracking accuracy.

    Args:
        model: the classifier.
        jit_compile: XLA (``None``: the package's hardware default for the classifier; ``"auto"``:
            Keras' own choice).
        total_steps: unused (the learning rate is constant).
        learning_rate: Adam's learning rate.
    """
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=[keras.metrics.SparseCategoricalAccuracy(name="accuracy")],
        jit_compile=hardware.jit_compile(model) if jit_compile is None else jit_compile,
    )


SPECS = (
    ModelSpec(
        "cnn",
        CNNClassifier,
        "classifier",
        "convolutional digit classifier, the course's judge (chapter 1)",
        epochs=20,
        sizes=(28, 32, 64),
        test_config=dict(image_size=8, width=4, feature_dim=8),
        make=lambda spec, s: CNNClassifier(
            image_size=s["image_size"], channels=s["channels"], num_classes=s["num_classes"] or 10
        ),
        compile=compile_classifier,
    ),
)


def __getattr__(name):
    if name == "load_classifier":  # moved to aigc_keras.judges before 0.1.0; works until 0.2
        warnings.warn(
            "aigc_keras.models.cnn.load_classifier moved to aigc_keras.judges.load_classifier; "
            "the old name goes away in the next release.",
            DeprecationWarning,
            stacklevel=2,
        )
        return importlib.import_module("aigc_keras.judges").load_classifier
    raise AttributeError(f"module 'aigc_keras.models.cnn' has no attribute {name!r}")
