"""Chapter 6: PixelCNN, an autoregressive model of images.

* van den Oord, Kalchbrenner, Kavukcuoglu, "Pixel Recurrent Neural Networks" (ICML 2016):
  the chain-rule factorisation, masked convolutions (mask A, then B), a softmax per pixel.
* van den Oord et al., "Conditional Image Generation with PixelCNN Decoders" (NeurIPS 2016):
  the class-conditional bias and the "blind spot" of stacked masked convolutions (which the
  gated PixelCNN's two stacks remove; this plain version keeps it and the chapter shows it).

An image of ``H x W`` pixels in raster order is modelled as

    p(x) = prod_i p(x_i | x_1, ..., x_{i-1}),

each factor a categorical distribution over ``levels`` intensity levels.  The network sees the
whole image at once in training (one pass gives every factor: masks make output ``i`` depend only
on inputs before ``i``); sampling draws one pixel at a time, ``H * W`` passes, all inside one
compiled ``tf.while_loop``.

Images are integer levels ``0 .. levels - 1`` (int32, ``data.load(..., value_range=levels)``);
grayscale only (a colour PixelCNN also orders R, G, B within a pixel, which needs channel masks).
With ``levels=2`` and binarised digits (``data.load(..., value_range=2, binarise=True)``) the
softmax is a Bernoulli and :meth:`PixelCNN.negative_log_likelihood` gives ``-log p(x)`` in nats
per image, the figure published for binarised MNIST.
"""

from __future__ import annotations

import math
import time

import keras
import numpy as np
import tensorflow as tf
from keras import layers

from ..layers import MaskedConv2D
from ..spec import ModelSpec, Option
from ..validation import check_int, check_non_negative, check_positive, check_seed, int_from_text
from .base import GenerativeModel
from .networks import label_input

PROGRESS_EVERY_S = 5.0  # the longest gap between two progress lines of a sampling loop, in seconds


class _Progress:
    """Lines while a sampling loop runs: at most one every :data:`PROGRESS_EVERY_S` seconds
    (a loop of a minute shows it is moving) and one at the end; silent when not enabled."""

    def __init__(self, what: str, enabled: bool):
        self.what, self.enabled = what, enabled
        self.started = self.last = time.perf_counter()

    def step(self, where: str):
        now = time.perf_counter()
        if self.enabled and now - self.last >= PROGRESS_EVERY_S:
            print(f"{self.what}: {where}, {now - self.started:.0f} s", flush=True)
            self.last = now

    def done(self):
        if self.enabled:
            print(f"{self.what}: done in {time.perf_counter() - self.started:.1f} s", flush=True)


def build_pixelcnn(
    image_size=16,
    levels=4,
    filters=64,
    blocks=5,
    num_classes=None,
    first_mask="A",
    first_kernel=7,
    name="pixelcnn",
):
    """Masked 7x7 convolution, masked 3x3 residual blocks, 1x1 layers -> per-pixel logits.

    Input: images scaled to [-1, 1] (``PixelCNN.to_input``), ``(B, H, W, 1)`` float; with
    ``num_classes`` also an int32 label, whose one-hot adds a learned bias to every block.
    Output: ``(B, H, W, levels)`` float32 logits; logits at pixel ``i`` are the model's
    ``p(x_i | x_<i)``.  ``first_mask="B"`` builds the *wrong* network (it sees the pixel it
    predicts): the tests' negative control.

    Args:
        image_size: the image side, in pixels.
        levels: the number of grey levels (logits per pixel).
        filters: the channels of the residual stream (the blocks work at ``filters // 2``).
        blocks: the number of residual blocks (0 or more).
        num_classes: the number of classes of a conditional network; ``None`` for an
            unconditional one.
        first_mask: ``"A"`` (causal) or ``"B"`` (the negative control).
        first_kernel: the side of the first masked convolution (7 in the paper).
        name: the model's name.

    Returns:
        A ``keras.Model`` from ``(B, H, W, 1)`` inputs in [-1, 1] (and int32 labels ``(B,)``)
        to float32 logits ``(B, H, W, levels)``.

    Raises:
        ValueError: an unknown ``first_mask``.
    """
    if first_mask not in ("A", "B"):
        raise ValueError(
            f"first_mask must be 'A' (a causal model) or 'B' (the negative control), "
            f"got {first_mask!r}."
        )
    images = keras.Input((image_size, image_size, 1), name="images")
    inputs = images
    condition = None
    if num_classes:
        label, one_hot = label_input(num_classes)
        inputs = [images, label]
        condition = one_hot
    x = MaskedConv2D(
        filters, first_kernel, mask_type=first_mask, name=f"masked_{first_mask.lower()}"
    )(images)
    for b in range(blocks):  # (B, H, W, filters) throughout
        h = layers.ReLU(name=f"block{b + 1}_relu1")(x)
        h = layers.Conv2D(filters // 2, 1, name=f"block{b + 1}_reduce")(
            h
        )  # 1x1: only pixel i's own features
        h = layers.ReLU(name=f"block{b + 1}_relu2")(h)
        h = MaskedConv2D(filters // 2, 3, mask_type="B", name=f"block{b + 1}_masked_b")(h)
        if condition is not None:  # h + V y, one bias per channel and class
            bias = layers.Dense(filters // 2, use_bias=False, name=f"block{b + 1}_label_bias")(
                condition
            )
            h = layers.Add(name=f"block{b + 1}_plus_label")(
                [h, layers.Reshape((1, 1, filters // 2))(bias)]
            )
        h = layers.ReLU(name=f"block{b + 1}_relu3")(h)
        h = layers.Conv2D(filters, 1, name=f"block{b + 1}_expand")(h)
        x = layers.Add(name=f"block{b + 1}_residual")([x, h])
    x = layers.ReLU(name="head_relu1")(x)
    x = layers.Conv2D(filters, 1, activation="relu", name="head_1x1")(x)
    logits = layers.Conv2D(levels, 1, dtype="float32", name="logits")(x)  # (B, H, W, levels)
    return keras.Model(inputs, logits, name=name)


class PixelCNN(GenerativeModel):
    """A PixelCNN over ``levels`` grey levels, trained by maximum likelihood.

    The loss is the cross-entropy per pixel.  Trackers: ``loss`` (mean negative log-likelihood
    per pixel, in nats) and ``bits_per_dim`` (the same in bits: ``loss / ln 2``); ``evaluate``
    gives them on held-out data.  The uniform model scores ``log2(levels)`` bits per dimension.
    Training batches are int32 levels ``(B, H, W, 1)`` in ``0 .. levels - 1`` (with labels
    ``(B,)`` for a conditional model).

    Args:
        image_size: the image side, in pixels (at least 2).
        levels: the number of grey levels (at least 2).
        filters: the channels of the network's residual stream (at least 2).
        blocks: the number of residual blocks (0 or more).
        num_classes: the number of classes of a conditional model; ``None`` for an
            unconditional one.
        learning_rate: Adam's learning rate (positive).
        seed: the seed of the model's sampling (a non-negative int).
        network: an already built network (``from_network``); ``None`` builds a new one.
        **kwargs: passed on to :class:`~aigc_keras.models.base.GenerativeModel` (``name``, ...).
    """

    optimizer_names = ("pixelcnn",)

    def __init__(
        self,
        image_size=16,
        levels=4,
        filters=64,
        blocks=5,
        num_classes=None,
        learning_rate=1e-3,
        seed=0,
        network=None,
        **kwargs,
    ):
        super().__init__(trackers=("loss", "bits_per_dim"), seed=seed, **kwargs)
        self.image_size = check_int(image_size, "image_size", minimum=2)
        self.levels = check_int(levels, "levels", minimum=2)
        self.filters = check_int(filters, "filters", minimum=2)
        self.blocks = check_int(blocks, "blocks", minimum=0)
        self.num_classes = (
            None if num_classes is None else check_int(num_classes, "num_classes", minimum=2)
        )
        self.learning_rate = check_positive(learning_rate, "learning_rate")
        self.value_range = self.levels  # images are integer levels
        # ``network``: an already built network (``from_network``); otherwise a new one
        self.network = network or build_pixelcnn(
            self.image_size, self.levels, self.filters, self.blocks, self.num_classes
        )
        self._compiled_samplers = {}
        example = [np.zeros((1, self.image_size, self.image_size, 1), np.int32)]
        if self.num_classes:
            example.append(np.zeros((1,), np.int32))
        self.build_now(*example)

    @classmethod
    def from_network(cls, network: keras.Model) -> PixelCNN:
        """A PixelCNN around a saved network, for sampling.

        Args:
            network: :func:`build_pixelcnn`'s model, e.g. loaded from ``.keras``.

        Returns:
            A :class:`PixelCNN` whose size, levels and classes are read from ``network``.

        Raises:
            ValueError: ``network`` does not map ``(H, H, 1)`` images to ``(H, H, levels)``
                logits.
        """
        shape = tuple(network.inputs[0].shape[1:]) if getattr(network, "inputs", None) else ()
        if (
            len(shape) != 3
            or shape[0] != shape[1]
            or shape[2] != 1
            or len(network.inputs) > 2
            or tuple(network.outputs[0].shape[1:3]) != shape[:2]
        ):
            raise ValueError(
                "not a PixelCNN network: it must map (H, H, 1) images (and a label) "
                "to (H, H, levels) logits."
            )
        num_classes = (
            network.get_layer("label_one_hot").num_tokens if len(network.inputs) == 2 else None
        )
        return cls(
            shape[0], int(network.outputs[0].shape[-1]), num_classes=num_classes, network=network
        )

    def get_config(self):
        return {
            **super().get_config(),
            "image_size": self.image_size,
            "levels": self.levels,
            "filters": self.filters,
            "blocks": self.blocks,
            "num_classes": self.num_classes,
            "learning_rate": self.learning_rate,
        }

    def default_optimizers(self):
        """Adam at the model's ``learning_rate``.

        Returns:
            ``{"pixelcnn": Adam}``.
        """
        return {"pixelcnn": keras.optimizers.Adam(self.learning_rate)}

    def optimizer_variables(self, name):
        """The variables optimizer ``name`` updates: the network's.

        Args:
            name: ``"pixelcnn"``.

        Returns:
            The network's trainable variables.
        """
        return self.network.trainable_variables

    # --- the model ------------------------------------------------------------------

    def to_input(self, levels):
        """Integer levels -> the network's input in [-1, 1], in the compute dtype.

        Args:
            levels: integer levels in ``0 .. levels - 1``, any shape (``(B, H, W, 1)`` for the
                network).

        Returns:
            A tensor of the same shape: level 0 -> -1, the top level -> 1.
        """
        x = tf.cast(levels, self.compute_dtype)
        return x * (2.0 / (self.levels - 1)) - 1.0

    def call(self, levels, labels=None, training=False):
        """Logits ``(B, H, W, levels)`` of ``p(x_i | x_<i)`` for every pixel of ``levels``."""
        x = self.to_input(levels)
        return self.network([x, labels] if self.num_classes else x, training=training)

    def _unpack(self, data):
        images, labels = data if isinstance(data, (tuple, list)) else (data, None)
        if self.num_classes and labels is None:
            raise ValueError(
                "a class-conditional PixelCNN trains on (images, labels) batches: "
                "load with labels=True."
            )
        if images.dtype not in (tf.int32, tf.int64, tf.uint8):
            raise TypeError(
                f"PixelCNN trains on integer levels (data.load(..., value_range={self.levels})), "
                f"got {images.dtype.name} images."
            )
        return tf.cast(images, tf.int32), (tf.cast(labels, tf.int32) if self.num_classes else None)

    def _pixel_nll(self, images, labels, training):
        """``-log p(x_i | x_<i)`` of every pixel, in nats ``(B, H, W)``.

        The cross-entropy of the per-pixel softmax.
        """
        logits = self(images, labels, training=training)
        targets = images[..., 0]  # (B, H, W)
        return keras.losses.sparse_categorical_crossentropy(targets, logits, from_logits=True)

    def _nll(self, images, labels, training):
        """Mean negative log-likelihood per pixel, in nats."""
        return tf.reduce_mean(self._pixel_nll(images, labels, training))

    def negative_log_likelihood(self, images, labels=None, *, batch_size: int = 250) -> np.ndarray:
        """``-log p(x)`` of each image, in nats: the sum over its pixels of ``-log p(x_i | x_<i)``.

        Exact, not a bound (the chain rule).  With ``levels=2`` and binary images
        (``data.load_arrays(..., value_range=2, binarise=True)``) it is the figure published for
        binarised MNIST; divided by ``H * W * ln 2`` it is the bits per dimension.

        Args:
            images: integer levels ``(N, H, W, 1)`` in ``0 .. levels - 1``.
            labels: class ids ``(N,)`` for a class-conditional model, else ``None``.
            batch_size: the most images per forward pass.

        Returns:
            A float64 array ``(N,)`` of nats.

        Raises:
            ValueError: images of another shape or outside the levels, or bad labels.
        """
        images = self._check_levels(images)
        _, labels = self._check_labels(len(images), labels)
        batch_size = check_int(batch_size, "batch_size")
        out = []
        for first in range(0, len(images), batch_size):
            x = tf.constant(images[first : first + batch_size], tf.int32)
            y = None if labels is None else tf.constant(labels[first : first + batch_size])
            out.append(tf.reduce_sum(self._pixel_nll(x, y, False), axis=(1, 2)).numpy())
        return np.concatenate(out).astype(np.float64)

    def train_step(self, data):
        images, labels = self._unpack(data)
        with tf.GradientTape() as tape:
            loss = self._nll(images, labels, training=True)
            scaled = self.scale_loss("pixelcnn", loss)
        self.descend("pixelcnn", tape, scaled, self.network.trainable_variables)
        return self.record(loss=loss, bits_per_dim=loss / math.log(2.0))

    def test_step(self, data):
        images, labels = self._unpack(data)
        loss = self._nll(images, labels, training=False)
        return self.record(count_step=False, loss=loss, bits_per_dim=loss / math.log(2.0))

    # --- sampling -------------------------------------------------------------------

    def _sampler(self, greedy: bool):
        """One compiled loop over pixels ``start .. stop - 1``.

        Traced once per batch shape and mode (``start`` and ``stop`` are tensors: sampling in
        blocks of rows reuses the trace).  Pixel ``i``'s draw uses the seed folded with ``i``, so
        one call over every pixel and several calls over blocks draw the same images.
        """
        if greedy in self._compiled_samplers:
            return self._compiled_samplers[greedy]
        size, levels = self.image_size, self.levels
        pixels = size * size

        def loop(canvas, labels, start, stop, temperature, seed):
            batch = tf.shape(canvas)[0]

            def body(i, canvas):
                logits = tf.gather(
                    tf.reshape(self(canvas, labels), (batch, pixels, levels)), i, axis=1
                )  # (B, L)
                if greedy:
                    draw = tf.argmax(logits, axis=-1, output_type=tf.int32)
                else:
                    step_seed = tf.random.experimental.stateless_fold_in(seed, tf.cast(i, tf.int64))
                    draw = tf.random.stateless_categorical(
                        logits / temperature, 1, step_seed, dtype=tf.int32
                    )[:, 0]
                here = tf.reshape(
                    tf.one_hot(i, pixels, dtype=tf.int32), (1, size, size, 1)
                )  # 1 at pixel i
                return i + 1, canvas * (1 - here) + draw[:, None, None, None] * here

            _, canvas = tf.while_loop(lambda i, _: i < stop, body, (start, canvas))
            return canvas

        compiled = tf.function(loop, reduce_retracing=True)
        self._compiled_samplers[greedy] = compiled
        return compiled

    def _run_sampler(
        self, canvas, labels, start: int, temperature, seed, batch_size: int, progress
    ) -> np.ndarray:
        temperature = check_non_negative(temperature, "temperature")  # 0: the most likely level
        if not isinstance(progress, bool):
            raise ValueError(f"progress must be True or False, got {progress!r}.")
        if seed is None:
            seed_pair = tf.cast(self.seed_generator.next(), tf.int64)
        else:
            seed_pair = tf.constant([check_seed(seed), 0], tf.int64)
        sampler = self._sampler(greedy=temperature == 0)
        temperature = tf.constant(max(float(temperature), 1e-6), tf.float32)
        size, pixels, n = self.image_size, self.image_size**2, len(canvas)
        # one call over every pixel, or (to report progress) one call per row
        ends = (
            list(range(start - start % size + size, pixels, size)) + [pixels]
            if progress
            else [pixels]
        )
        report = _Progress(f"sampling {n} images", progress)
        outputs = []
        for first in range(0, n, batch_size):
            batch_labels = (
                None
                if labels is None
                else tf.constant(labels[first : first + batch_size], tf.int32)
            )
            batch_seed = tf.random.experimental.stateless_fold_in(seed_pair, first)
            out, begin = tf.constant(canvas[first : first + batch_size], tf.int32), start
            for end in ends:
                out = sampler(
                    out,
                    batch_labels,
                    tf.constant(begin, tf.int32),
                    tf.constant(end, tf.int32),
                    temperature,
                    batch_seed,
                )
                begin = end
                report.step(f"images {first + 1}-{first + len(out)}, row {end // size} of {size}")
            outputs.append(out.numpy())
        report.done()
        return np.concatenate(outputs)

    def generate(
        self,
        n=None,
        *,
        labels=None,
        seed=None,
        temperature=1.0,
        batch_size: int = 64,
        progress: bool = False,
    ) -> np.ndarray:
        """Sample ``n`` images as int32 levels ``(n, H, W, 1)``, one pixel at a time.

        Pixels are drawn in raster order.  ``temperature`` divides the logits (1: the model's
        distribution; below 1: sharper; 0: always the most likely level).  ``seed`` makes the
        draw reproducible.

        Args:
            n: the number of images (``None``: 16, or one per label).
            labels: class ids in ``0 .. num_classes - 1``, one per image (a 1-D integer
                sequence); required by class-conditional models, refused by the others.
            seed: a non-negative int for a reproducible draw, or ``None`` (the model's seed
                generator advances).
            temperature: a non-negative number.
            batch_size: the most images per compiled sampling loop.
            progress: print where sampling is (the images, the row reached, the seconds so
                far) at most every :data:`PROGRESS_EVERY_S` seconds, and a line when done; the
                loop then runs one row per call, which draws the same images.

        Returns:
            Int32 levels ``(n, H, W, 1)`` in ``0 .. levels - 1``.
        """
        n, labels = self._check_labels(n, labels)
        n = check_int(n, "n")
        canvas = np.zeros((n, self.image_size, self.image_size, 1), np.int32)
        return self._run_sampler(
            canvas, labels, 0, temperature, seed, check_int(batch_size, "batch_size"), progress
        )

    def complete(
        self,
        images,
        known_rows: int,
        *,
        labels=None,
        seed=None,
        temperature=1.0,
        batch_size: int = 64,
        progress: bool = False,
    ) -> np.ndarray:
        """Keep the top ``known_rows`` rows of integer ``images`` and sample the rest.

        Raster order means the known pixels must come first: PixelCNN completes a bottom part,
        not an arbitrary hole (the model has no ``p(x_i | pixels after i)``).

        Args:
            images: integer levels ``(N, H, W, 1)`` in ``0 .. levels - 1``.
            known_rows: the rows kept from the top, ``0 .. H - 1``.
            labels: class ids ``(N,)`` for a class-conditional model, else ``None``.
            seed: a non-negative int for a reproducible draw, or ``None``.
            temperature: divides the logits, as for :meth:`generate` (0: the most likely level).
            batch_size: the most images per compiled sampling loop.
            progress: print lines while sampling, as for :meth:`generate`.

        Returns:
            Int32 levels ``(N, H, W, 1)``: the top ``known_rows`` rows of ``images``, the rest
            sampled.
        """
        images = self._check_levels(images)
        known_rows = check_int(known_rows, "known_rows", minimum=0)
        if known_rows >= self.image_size:
            raise ValueError(
                f"known_rows must be below the image height {self.image_size}, got {known_rows}."
            )
        n, labels = self._check_labels(len(images), labels)
        canvas = images.astype(np.int32).copy()
        # not read before it is drawn (causal), zeroed to make that plain
        canvas[:, known_rows:] = 0
        return self._run_sampler(
            canvas,
            labels,
            known_rows * self.image_size,
            temperature,
            seed,
            check_int(batch_size, "batch_size"),
            progress,
        )

    def _check_levels(self, images) -> np.ndarray:
        """``images`` as a NumPy array of this model's integer levels, or a ``ValueError``."""
        images = np.asarray(images)
        shape = (self.image_size, self.image_size, 1)
        if images.ndim != 4 or images.shape[1:] != shape:
            raise ValueError(
                f"images must have shape (N, {self.image_size}, {self.image_size}, 1), "
                f"got {images.shape}."
            )
        if len(images) == 0:
            raise ValueError(f"images must hold at least one image, got the shape {images.shape}.")
        if (
            not np.issubdtype(images.dtype, np.integer)
            or images.min() < 0
            or images.max() >= self.levels
        ):
            raise ValueError(
                f"images must be integer levels in 0..{self.levels - 1} (data.load(value_range="
                f"{self.levels}))."
            )
        return images

    def dequantise(self, levels) -> np.ndarray:
        """Integer levels -> float images in [-1, 1] (bin centres), for judges and FID.

        Args:
            levels: integer levels in ``0 .. levels - 1``, any shape.

        Returns:
            Float32 images of the same shape in (-1, 1): level ``k`` maps to
            ``(k + 0.5) / levels * 2 - 1``.
        """
        return (np.asarray(levels, np.float32) + 0.5) / self.levels * 2.0 - 1.0


# --- references and baselines (the tests and the chapter compare against these) ---------


def sample_pixel_by_pixel(
    model: PixelCNN,
    n: int,
    *,
    labels=None,
    seed: int = 0,
    greedy: bool = False,
    progress: bool = False,
) -> np.ndarray:
    """The slow way: a Python loop calling ``network.predict`` once per pixel (``H * W`` calls).

    The reference the compiled sampler is timed against; with ``greedy=True`` it must give the
    same images as ``model.generate(n, temperature=0)``.

    Args:
        model: a :class:`PixelCNN`.
        n: the number of images.
        labels: class ids ``(n,)`` for a class-conditional model, else ``None``.
        seed: the seed of NumPy's generator for the draws.
        greedy: take the most likely level at every pixel instead of sampling.
        progress: print the row reached at most every :data:`PROGRESS_EVERY_S` seconds, and a
            line when done.

    Returns:
        Int32 levels ``(n, H, W, 1)``.
    """
    if not isinstance(progress, bool):
        raise ValueError(f"progress must be True or False, got {progress!r}.")
    report = _Progress(f"{n} images, one predict call per pixel", progress)
    size = model.image_size
    rng = np.random.default_rng(seed)
    canvas = np.zeros((n, size, size, 1), np.int32)
    label_array = None if labels is None else np.asarray(labels, np.int32)
    for i in range(size * size):
        row, col = divmod(i, size)
        x = keras.ops.convert_to_numpy(model.to_input(canvas))
        logits = model.network.predict([x, label_array] if model.num_classes else x, verbose=0)[
            :, row, col
        ]
        if greedy:
            canvas[:, row, col, 0] = np.argmax(logits, axis=-1)
        else:
            probs = np.exp(logits - logits.max(axis=-1, keepdims=True))
            probs /= probs.sum(axis=-1, keepdims=True)
            canvas[:, row, col, 0] = [rng.choice(model.levels, p=p) for p in probs]
        if col == size - 1:
            report.step(f"row {row + 1} of {size}")
    report.done()
    return canvas


def dependency_map(
    network: keras.Model, image_size: int, row: int, col: int, *, trials: int = 4, seed: int = 0
) -> np.ndarray:
    """Which input pixels the logits at ``(row, col)`` depend on.

    ``sum |d logits / d input|`` per pixel, computed with gradients at ``trials`` random inputs
    (``(H, W)`` array).  A causal PixelCNN gives exactly 0 at ``(row, col)`` and after it in
    raster order; the nonzero pixels are its receptive field.

    Args:
        network: a :func:`build_pixelcnn` network (a conditional one gets label 0).
        image_size: the network's image side.
        row: the row of the output pixel.
        col: the column of the output pixel.
        trials: the number of random inputs in [-1, 1] the gradients are summed over.
        seed: the seed of the random inputs.

    Returns:
        A float ``(image_size, image_size)`` array of non-negative gradient magnitudes.
    """
    x = tf.random.stateless_uniform(
        (trials, image_size, image_size, 1), seed=[seed, 1], minval=-1.0, maxval=1.0
    )
    inputs = [x, tf.zeros((trials,), tf.int32)] if len(network.inputs) == 2 else x
    with tf.GradientTape() as tape:
        tape.watch(x)
        out = tf.reduce_sum(network(inputs, training=False)[:, row, col, :])
    return tf.reduce_sum(tf.abs(tape.gradient(out, x)), axis=(0, 3)).numpy()


def independent_pixel_bits(
    train_levels, test_levels, levels: int, *, pseudo_count: float = 1.0
) -> float:
    """Bits per dimension of the per-position independent model on ``test_levels``.

    A categorical distribution per pixel position, fitted to ``train_levels`` by counting (with
    ``pseudo_count`` added to every level so unseen levels keep a nonzero probability).  It knows
    how bright each position tends to be but nothing about the pixels' neighbours: the baseline a
    PixelCNN must beat by modelling dependencies.

    Args:
        train_levels: integer levels ``(N, H, W, 1)`` to fit on.
        test_levels: integer levels ``(M, H, W, 1)`` to score.
        levels: the number of grey levels.
        pseudo_count: the count added to every level at every position (positive keeps unseen
            levels possible).

    Returns:
        The mean negative log2-likelihood per pixel of ``test_levels``, in bits.

    Raises:
        ValueError: empty or non-integer arrays, levels outside ``0 .. levels - 1``, or train and
            test images of different sizes.
    """
    levels = check_int(levels, "levels", minimum=2)
    for array, what in ((train_levels, "train_levels"), (test_levels, "test_levels")):
        array = np.asarray(array)
        if array.ndim != 4 or array.shape[-1] != 1 or len(array) == 0:
            raise ValueError(
                f"{what} must be (N, H, W, 1) with N >= 1, got the shape {array.shape}."
            )
        if not np.issubdtype(array.dtype, np.integer) or array.min() < 0 or array.max() >= levels:
            raise ValueError(f"{what} must be integer levels in 0..{levels - 1}.")
    train, test = np.asarray(train_levels)[..., 0], np.asarray(test_levels)[..., 0]
    if train.shape[1:] != test.shape[1:]:
        raise ValueError(
            f"train and test images differ in size: {train.shape[1:]} vs {test.shape[1:]}."
        )
    counts = (
        np.stack([(train == k).sum(axis=0) for k in range(levels)], axis=-1) + pseudo_count
    )  # (H, W, L)
    probs = counts / counts.sum(axis=-1, keepdims=True)
    rows, cols = np.indices(test.shape[1:])
    log_p = np.log2(probs[rows[None], cols[None], test])  # (N, H, W)
    return float(-log_p.mean())


def uniform_bits(levels: int) -> float:
    """Bits per dimension of the uniform model: ``log2(levels)``.

    Args:
        levels: the number of grey levels (at least 2).

    Returns:
        ``log2(levels)``.
    """
    return math.log2(check_int(levels, "levels", minimum=2))


def _levels(text: str) -> int:
    value = int_from_text(text)
    if value < 2:
        raise ValueError(f"--levels must be at least 2, got {value}.")
    return value


def _make(spec, settings):
    width = {} if settings["width"] is None else {"filters": settings["width"]}
    return PixelCNN(
        image_size=settings["image_size"],
        levels=settings["levels"],
        seed=settings["seed"],
        num_classes=settings["num_classes"],
        **width,
    )


def sample_exported(network, n: int, *, seed: int = 0, classes=None, truncation=None):
    """Draw ``n`` images from an exported PixelCNN network with the compiled sampling loop.

    Args:
        network: the network ``build_pixelcnn`` made (loaded from ``.keras``).
        n: the number of images.
        seed: the sampling seed.
        classes: must be ``None`` (the command line samples unconditional PixelCNNs).
        truncation: must be ``None``.

    Returns:
        Images in [-1, 1] (bin centres), float32.
    """
    if truncation is not None or classes is not None:
        raise ValueError("--truncation and --classes do not apply to a PixelCNN.")
    model = PixelCNN.from_network(network)
    return model.dequantise(model.generate(n, seed=seed))


SPECS = (
    ModelSpec(
        "pixelcnn",
        PixelCNN,
        "sampler",
        "autoregressive PixelCNN with masked convolutions (chapter 6)",
        image_size=16,
        epochs=40,
        channels=1,
        sizes=(8, 16, 28),
        value_range=lambda settings: settings["levels"],
        test_config=dict(image_size=8, levels=4, filters=8, blocks=1),
        options=(
            Option("--levels", 4, "grey levels per pixel, at least 2 (default: 4)", parse=_levels),
        ),
        make=_make,
        export=lambda model: {"generator.keras": model.network},
        inputs={"images": "integer grey levels, one channel"},
        sampler=sample_exported,
    ),
)
