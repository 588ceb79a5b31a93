"""Chapter 10: textures and styles from the statistics of a network's features.

* Texture synthesis and style transfer by optimising the pixels: Gatys, Ecker, Bethge, "Texture
  Synthesis Using Convolutional Neural Networks" (NeurIPS 2015) and "Image Style Transfer Using
  Convolutional Neural Networks" (CVPR 2016).
* Random networks as feature extractors: He, Wang, Hopcroft, "A Powerful Generative Model Using
  Random Weights for the Deep Image Representation" (NeurIPS 2016); Ustyuzhaninov, Brendel, Gatys,
  Bethge, "What does it take to generate natural textures?" (ICLR 2017).

A texture is summarised by **Gram matrices**: for a layer with feature maps ``F`` of shape
``(H, W, C)``, ``G = F^T F / (H W)``, the average over positions of the products of every pair of
channels.  Positions are averaged away, so the Gram matrix keeps which features occur together and
how strongly, and forgets where: two images with the same Gram matrices at every layer look like
the same texture.  Synthesis starts from noise and changes the pixels until their Gram matrices
match the example's; style transfer adds a term that keeps one layer's features (the arrangement)
of a content photograph.

Images are RGB in [0, 1] (grey images are repeated over three channels).

Extractors (:func:`load_extractor`):

* ``"auto"`` (the default): VGG19 with ImageNet weights when they can be downloaded, otherwise
  ``"multiscale"``; one line says which.
* ``"vgg19"``: Keras' VGG19.  With its ImageNet weights when they can be downloaded; otherwise
  (or with ``weights="random"``) the same layers with seeded random weights rescaled layer by
  layer so that each layer's pre-activations on a calibration image (the style) have unit
  variance.
* ``"multiscale"``: one layer of random filters on an image pyramid (the image at full size and
  2, 4 and 8 times smaller), after Ustyuzhaninov et al.'s finding that one random layer with
  filters of several sizes synthesises textures nearly as well as VGG, at a fraction of its
  arithmetic.

DeepDream (:func:`deep_dream`, Mordvintsev, Olah, Tyka 2015) lives here too: the same gradients
with respect to the pixels, ascending a layer's activation instead of matching statistics.
"""

from __future__ import annotations

import dataclasses
import functools
import os

import keras
import numpy as np
import tensorflow as tf
from keras import layers, ops

from ..spec import ModelSpec, Option
from ..validation import check_int, check_non_negative, check_seed
from .base import GenerativeModel
from .networks import pretrained, run_network

VGG_CONTENT_LAYER = "block4_conv2"
VGG_STYLE_LAYERS = ("block1_conv1", "block2_conv1", "block3_conv1", "block4_conv1", "block5_conv1")
MULTISCALE_FACTORS = (1, 2, 4, 8)
MULTISCALE_STYLE_LAYERS = tuple(f"scale{f}" for f in MULTISCALE_FACTORS)
EXTRACTORS = ("auto", "vgg19", "multiscale")


def gram_matrix(features):
    """Gram matrices ``(B, C, C)`` of feature maps ``(B, H, W, C)``: ``F^T F / (H W)``."""
    features = ops.convert_to_tensor(features)
    if len(features.shape) != 4:
        raise ValueError(f"feature maps must be (B, H, W, C), got shape {tuple(features.shape)}.")
    shape = ops.shape(features)
    flat = ops.reshape(features, (shape[0], shape[1] * shape[2], shape[3]))
    positions = ops.cast(shape[1] * shape[2], features.dtype)
    return ops.einsum("bnc,bnd->bcd", flat, flat) / positions


def as_rgb(images) -> np.ndarray:
    """``images`` as a float32 ``(N, H, W, 3)`` array in [0, 1]; one image ``(H, W, C)`` gets a
    batch axis, grey (``C`` = 1) is repeated over three channels.

    Raises:
        ValueError: for another shape, channel count or range.
    """
    images = np.asarray(images, dtype=np.float32)
    if images.ndim == 3:
        images = images[None]
    if images.ndim != 4 or images.shape[-1] not in (1, 3):
        raise ValueError(
            f"images must be (H, W, C) or (N, H, W, C) with C = 1 or 3, got shape {images.shape}."
        )
    if images.size == 0 or not np.all(np.isfinite(images)):
        raise ValueError("images must be non-empty and finite.")
    if images.min() < 0.0 or images.max() > 1.0:
        raise ValueError(
            f"images must be in [0, 1], got values from {images.min():.3g} to {images.max():.3g}."
        )
    if images.shape[-1] == 1:
        images = np.repeat(images, 3, axis=-1)
    return images


@dataclasses.dataclass
class Extractor:
    """A network mapping RGB images in [0, 1] to a dict of named feature maps.

    Attributes:
        model: the ``keras.Model`` (frozen); called on ``(N, H, W, 3)`` images.
        names: the layer names, in the order of ``model``'s outputs.
        description: one line saying which network and which weights.
        content_layer: the default layer for content (``None`` for an extractor without one).
        style_layers: the default layers for Gram matrices.
    """

    model: keras.Model
    names: tuple
    description: str
    content_layer: str | None
    style_layers: tuple

    def __call__(self, images) -> dict:
        def too_small(why):
            shape = tuple(getattr(images, "shape", ()))
            return ValueError(
                f"{self.description.split(' (')[0]} could not read images of shape {shape}: they "
                "may be smaller than its pooling allows (VGG19's style layers need at least 16 "
                f"pixels a side) ({why})"
            )

        try:
            outputs = self.model(images, training=False)
        except (tf.errors.OpError, ValueError) as error:
            # a pooling layer of an image too small for the network (VGG19 at 8 pixels) failed
            # deep inside TensorFlow (on a 2-core AMD EPYC with AVX-512)
            raise too_small(f"{type(error).__name__}: {str(error).splitlines()[0][:120]}") from None
        if len(self.names) == 1:
            outputs = [outputs]
        for name, output in zip(self.names, outputs, strict=True):
            # ... or gave an empty map without an error (on a 2-core AMD EPYC with AVX2 only)
            if 0 in tuple(output.shape)[1:3]:
                raise too_small(f"its layer {name!r} came out {tuple(output.shape)}")
        return dict(zip(self.names, outputs, strict=True))


def _he_normal_(kernel_shape, rng) -> np.ndarray:
    fan_in = int(np.prod(kernel_shape[:-1]))
    return rng.normal(0.0, np.sqrt(2.0 / fan_in), kernel_shape).astype(np.float32)


def _vgg_preprocess(images):
    """[0, 1] RGB to VGG's input: 0-255, BGR, ImageNet's channel means subtracted."""
    bgr = ops.flip(images, axis=-1) * 255.0
    return bgr - ops.convert_to_tensor(np.array([103.939, 116.779, 123.68], np.float32))


class _Preprocess(layers.Layer):
    """VGG's preprocessing as a layer (serialisable, no ``Lambda``)."""

    def call(self, images):
        return _vgg_preprocess(images)


class _Downsample(layers.Layer):
    """The image ``factor`` times smaller: bilinear resizing with antialiasing (a triangle filter
    ``2 * factor`` pixels wide), whose gradient spreads smoothly over the full-size pixels.  Block
    averaging (``AveragePooling2D``) gave the optimised images ``factor x factor`` blocks."""

    def __init__(self, factor: int, **kwargs):
        super().__init__(**kwargs)
        self.factor = check_int(factor, "factor", minimum=1)

    def call(self, images):
        shape = tf.shape(images)
        size = tf.maximum(shape[1:3] // self.factor, 1)
        # in float32: the antialiased resize's gradient has no bfloat16 or float16 kernel
        small = tf.image.resize(tf.cast(images, "float32"), size, method="bilinear", antialias=True)
        return tf.cast(small, images.dtype)

    def get_config(self):
        return {**super().get_config(), "factor": self.factor}


def _imagenet_vgg19():
    """Keras' VGG19 without its classifier, with ImageNet weights (downloaded on first use)."""
    return keras.applications.VGG19(include_top=False, weights="imagenet")


def _calibrate(network, calibration: np.ndarray, rng) -> None:
    """Seeded He-normal weights for every convolution of ``network`` (a chain of layers), each
    then divided by the standard deviation of its pre-activations on ``calibration``; biases 0."""
    h = ops.convert_to_tensor(calibration)
    for layer in network.layers:
        if isinstance(layer, layers.InputLayer):
            continue
        if isinstance(layer, layers.Conv2D):
            kernel = _he_normal_(tuple(layer.kernel.shape), rng)
            pre = ops.conv(h, kernel, strides=1, padding="same")
            kernel = kernel / max(float(ops.std(pre)), 1e-6)
            layer.kernel.assign(kernel)
            if layer.use_bias:
                layer.bias.assign(np.zeros(layer.bias.shape, np.float32))
        h = layer(h)


def _vgg19(style_layers, content_layer, weights, calibration, seed, announce, network=None):
    """VGG19's feature extractor; ``network``: VGG19 with ImageNet weights already loaded."""
    wanted = tuple(dict.fromkeys([*style_layers, *([content_layer] if content_layer else [])]))
    description = None if network is None else "VGG19 with ImageNet weights"
    if network is None and weights in ("auto", "imagenet"):
        network, reason = pretrained(
            _imagenet_vgg19,
            "VGG19",
            required=weights == "imagenet",
            offline="use weights='random' to work offline",
        )
        if network is not None:
            description = "VGG19 with ImageNet weights"
        else:
            description = (
                "VGG19 with seeded random weights rescaled on the calibration image (its ImageNet "
                f"weights could not be downloaded: {reason})"
            )
    if network is None:
        if calibration is None:
            raise ValueError(
                "random VGG19 weights need a calibration image (the style image): each layer is "
                "scaled to unit variance on it."
            )
        network = keras.applications.VGG19(include_top=False, weights=None)
        preprocessed = _vgg_preprocess(as_rgb(calibration))
        _calibrate(network, preprocessed, np.random.default_rng(seed))
        description = description or (
            "VGG19 with seeded random weights rescaled on the calibration image"
        )
    known = [layer.name for layer in network.layers]
    missing = [name for name in wanted if name not in known]
    if missing:
        convs = [n for n in known if "conv" in n]
        raise ValueError(f"VGG19 has no layer {missing}; its convolutions: {', '.join(convs)}.")
    network.trainable = False
    inputs = keras.Input((None, None, 3))
    body = keras.Model(network.input, [network.get_layer(n).output for n in wanted])
    model = keras.Model(inputs, body(_Preprocess()(inputs)), name="vgg19_features")
    model.trainable = False
    announce(f"style extractor: {description}.")
    return Extractor(model, wanted, description, content_layer, tuple(style_layers))


def _multiscale(
    style_layers, content_layer, filters: int, kernel_size: int, calibration, seed: int, announce
):
    if calibration is None:
        raise ValueError(
            "the multiscale extractor's random filters need a calibration image (the style "
            "image): each scale is scaled to unit variance on it."
        )
    wanted = tuple(dict.fromkeys([*style_layers, *([content_layer] if content_layer else [])]))
    unknown = [n for n in wanted if n not in MULTISCALE_STYLE_LAYERS]
    if unknown:
        raise ValueError(
            f"the multiscale extractor has no layer {unknown}; its layers: "
            f"{', '.join(MULTISCALE_STYLE_LAYERS)}."
        )
    rng = np.random.default_rng(seed)
    inputs = keras.Input((None, None, 3))
    centred = layers.Rescaling(2.0, offset=-1.0, name="centre")(inputs)
    sample = 2.0 * as_rgb(calibration) - 1.0
    outputs = []
    for factor, name in zip(MULTISCALE_FACTORS, MULTISCALE_STYLE_LAYERS, strict=True):
        if name not in wanted:
            continue
        x = centred
        if factor > 1:
            x = _Downsample(factor, name=f"down{factor}")(x)
        conv = layers.Conv2D(filters, kernel_size, padding="same", activation="relu", name=name)
        outputs.append(conv(x))
        kernel = _he_normal_(tuple(conv.kernel.shape), rng)
        pooled = sample if factor == 1 else _Downsample(factor, dtype="float32")(sample)
        kernel = kernel / max(float(ops.std(ops.conv(pooled, kernel, padding="same"))), 1e-6)
        conv.kernel.assign(kernel)
        conv.bias.assign(np.zeros(conv.bias.shape, np.float32))
    model = keras.Model(inputs, outputs, name="multiscale_features")
    model.trainable = False
    description = (
        f"one layer of {filters} seeded random {kernel_size}x{kernel_size} filters at "
        f"{len(outputs)} scales, rescaled on the calibration image"
    )
    names = tuple(n for n in MULTISCALE_STYLE_LAYERS if n in wanted)
    style_names = tuple(n for n in names if n in style_layers)
    return Extractor(model, names, description, content_layer, style_names)


def load_extractor(
    network: str = "auto",
    *,
    style_layers=None,
    content_layer: str | None = None,
    weights: str = "auto",
    calibration=None,
    seed: int = 0,
    filters: int = 128,
    kernel_size: int = 5,
    announce=print,
) -> Extractor:
    """A feature extractor for Gram-matrix textures and style transfer.

    ``network="auto"`` (the default) is VGG19 with its ImageNet weights when they can be
    downloaded (Colab), and otherwise the multiscale random network: VGG19 with random weights
    failed the texture test at the test's budget (``docs/design.md``, chapter 10).  The choice
    is announced in one line.

    Args:
        network: ``"auto"``, ``"vgg19"`` or ``"multiscale"`` (see the module's docstring).
        style_layers: layer names for the Gram matrices (default: Gatys et al.'s
            block1_conv1 ... block5_conv1 for VGG19, every scale for ``"multiscale"``).
        content_layer: the layer compared for content (default block4_conv2 for VGG19; none
            for ``"multiscale"`` unless one of its scales is named).
        weights: VGG19's weights: ``"auto"`` (ImageNet if they download, else random),
            ``"imagenet"`` (an error if they cannot be loaded) or ``"random"``.
        calibration: an image (``(H, W, C)`` or ``(N, H, W, C)`` in [0, 1]) random weights are
            rescaled on; the style image.  Needed for random weights.
        seed: seed of the random weights.
        filters: the multiscale extractor's random filters per scale.
        kernel_size: the side of the multiscale extractor's filters.
        announce: called with the one line that says which extractor and weights are used
            (``None``: silent).

    Raises:
        ValueError: for an unknown network, weights or layer name, or random weights without a
            calibration image.
        RuntimeError: for ``weights="imagenet"`` when they cannot be loaded.
    """
    if network not in EXTRACTORS:
        raise ValueError(f"network must be one of {', '.join(EXTRACTORS)}, got {network!r}.")
    if weights not in ("auto", "imagenet", "random"):
        raise ValueError(f"weights must be 'auto', 'imagenet' or 'random', got {weights!r}.")
    check_seed(seed)
    if isinstance(style_layers, str):  # its letters were read as layer names
        raise ValueError(
            f"style_layers must be a list of layer names, got the string {style_layers!r}."
        )
    if announce is not None and not callable(announce):
        raise ValueError(
            f"announce must be a function of one line (such as print), got {announce!r}."
        )
    announce = announce or (lambda line: None)
    reason = None
    if network == "auto":
        imagenet, reason = pretrained(_imagenet_vgg19, "VGG19", required=False, offline="")
        if imagenet is None:
            network = "multiscale"
        else:
            return _vgg19(
                tuple(style_layers or VGG_STYLE_LAYERS),
                content_layer or VGG_CONTENT_LAYER,
                "imagenet",
                calibration,
                seed,
                announce,
                network=imagenet,
            )
    if network == "vgg19":
        return _vgg19(
            tuple(style_layers or VGG_STYLE_LAYERS),
            content_layer or VGG_CONTENT_LAYER,
            weights,
            calibration,
            seed,
            announce,
        )
    extractor = _multiscale(
        tuple(style_layers or MULTISCALE_STYLE_LAYERS),
        content_layer,
        check_int(filters, "filters", minimum=1),
        check_int(kernel_size, "kernel_size", minimum=1),
        calibration,
        seed,
        announce,
    )
    if reason is None:
        announce(f"style extractor: {extractor.description}.")
    else:
        announce(
            f"style extractor: {extractor.description} (VGG19's ImageNet weights could not be "
            f"downloaded: {reason}; random VGG19 weights fail the texture test at this budget)."
        )
    return extractor


def _relative_error(value, target):
    """``mean((value - target)^2) / mean(target^2)``: a layer's loss that does not depend on the
    scale of that layer's features, so each layer weighs the same."""
    return ops.mean(ops.square(value - target)) / (ops.mean(ops.square(target)) + 1e-8)


def style_targets(extractor: Extractor, style) -> dict:
    """The Gram matrices ``(1, C, C)`` of ``style`` (``(H, W, C)`` in [0, 1]) at each of the
    extractor's style layers, by layer name: what a result's Gram matrices are compared with."""
    features = extractor(as_rgb(style))
    return {
        name: gram_matrix(ops.cast(features[name], "float32")) for name in extractor.style_layers
    }


def style_losses(
    extractor: Extractor,
    targets: dict,
    image,
    content_target=None,
    *,
    style_weight: float = 1.0,
    content_weight: float = 1.0,
    tv_weight: float = 0.0,
) -> dict:
    """The style-transfer loss of ``image`` and its parts (scalars, averaged over the batch).

    ``loss = style_weight * mean_l E_l + content_weight * C + tv_weight * TV``, with ``E_l`` the
    relative error of layer ``l``'s Gram matrix against ``targets[l]``, ``C`` the relative error
    of the content layer's features against ``content_target`` (0 when it is ``None``) and
    ``TV`` the total variation per pixel value (each pixel's absolute differences to its right and
    lower neighbours, summed, over height x width x channels).  One definition for the
    optimisation (:class:`ImageOptimisation`) and the feed-forward network
    (:class:`FastStyleTransfer`), so their figures compare.

    Args:
        extractor: the :class:`Extractor`.
        targets: :func:`style_targets` of the style image.
        image: ``(B, H, W, 3)`` float32 in [0, 1].
        content_target: the content layer's features ``(B, h, w, c)`` of the content images, or
            ``None``.
        style_weight: the weight of the mean Gram-matrix error.
        content_weight: the weight of the content error.
        tv_weight: the weight of the total variation.

    Returns:
        ``{"loss", "style", "content", "tv"}``.
    """
    if not targets:  # the mean of no Gram errors was NaN
        raise ValueError("targets is empty: give style_targets(extractor, style image).")
    features = extractor(image)
    style = ops.mean(
        ops.stack(
            [
                _relative_error(gram_matrix(ops.cast(features[name], "float32")), target)
                for name, target in targets.items()
            ]
        )
    )
    content = ops.zeros(())
    if content_target is not None:
        content = _relative_error(
            ops.cast(features[extractor.content_layer], "float32"),
            ops.cast(content_target, "float32"),
        )
    pixels = ops.cast(ops.prod(ops.shape(image)[1:3]), "float32")
    tv = ops.mean(tf.image.total_variation(ops.cast(image, "float32"))) / (3.0 * pixels)
    loss = style_weight * style + content_weight * content + tv_weight * tv
    return {"loss": loss, "style": style, "content": content, "tv": tv}


def loss_weights(style_weight, content_weight, tv_weight, *, content: bool = True) -> tuple:
    """The three weights of :func:`style_losses` as floats, each finite and >= 0, and not all of
    those that apply 0 (a loss of 0 leaves the image or network where it started).

    Args:
        style_weight: the weight of the mean Gram-matrix error.
        content_weight: the weight of the content error.
        tv_weight: the weight of the total variation.
        content: whether a content image is given (without one its weight does not apply).

    Returns:
        ``(style_weight, content_weight, tv_weight)``.
    """
    weights = (
        check_non_negative(style_weight, "style_weight"),
        check_non_negative(content_weight, "content_weight"),
        check_non_negative(tv_weight, "tv_weight"),
    )
    if weights[0] + (weights[1] if content else 0.0) + weights[2] == 0.0:
        applied = (
            "style_weight, content_weight and tv_weight"
            if content
            else ("style_weight and tv_weight (without a content image its weight does not apply)")
        )
        raise ValueError(
            f"{applied} are all 0: the loss would be 0; give one of them a weight > 0."
        )
    return weights


class ImageOptimisation(keras.Model):
    """Pixels optimised so that their features match a style (and optionally a content image).

    The only trainable weight is the image (a ``(N, H, W, 3)`` variable in [0, 1], clipped after
    each step); ``fit`` on any dataset of ``steps`` elements runs the optimisation, so the
    package's callbacks (progress display, checkpoints) work unchanged.  The loss is

    ``style_weight * mean_l E_l + content_weight * C + tv_weight * TV``,

    with ``E_l = |G_l(x) - G_l(s)|^2 / |G_l(s)|^2`` the relative error of layer ``l``'s Gram
    matrix (every layer weighs the same whatever its scale), ``C`` the same relative error of the
    content layer's features against the content image's, and ``TV`` the total variation per pixel
    value (:func:`tf.image.total_variation`, which sums each pixel's absolute differences to its
    right and lower neighbours, over height x width x channels).

    Args:
        extractor: an :class:`Extractor`.
        style: the style (or texture) image, ``(H, W, C)`` in [0, 1]; its size may differ from
            the result's (Gram matrices do not depend on it).
        init: the starting image(s) ``(N, H, W, C)`` in [0, 1]: noise for texture synthesis, the
            content photograph for style transfer.
        content: the content image ``(H, W, C)`` in [0, 1], or ``None`` (texture synthesis).
        style_weight, content_weight, tv_weight: the loss's weights (>= 0).
    """

    def __init__(
        self,
        extractor: Extractor,
        style,
        init,
        *,
        content=None,
        style_weight: float = 1.0,
        content_weight: float = 1.0,
        tv_weight: float = 0.0,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.extractor = extractor
        init = as_rgb(init)
        self.style_weight, self.content_weight, self.tv_weight = loss_weights(
            style_weight, content_weight, tv_weight, content=content is not None
        )
        if content is not None and extractor.content_layer is None:
            raise ValueError(
                "this extractor has no content layer: give load_extractor a content_layer."
            )
        self.style_targets = style_targets(extractor, style)
        self.content_target = None
        if content is not None:
            content = as_rgb(content)
            if content.shape[1:] != init.shape[1:]:
                raise ValueError(
                    f"content {content.shape[1:3]} and init {init.shape[1:3]} must have one size."
                )
            self.content_target = ops.convert_to_tensor(extractor(content)[extractor.content_layer])
        self.image = self.add_weight(
            shape=init.shape, initializer="zeros", name="image", trainable=True
        )
        self.image.assign(init)
        self.trackers = {
            name: keras.metrics.Mean(name=name) for name in ("loss", "style", "content", "tv")
        }

    @property
    def metrics(self):
        return list(self.trackers.values())

    def losses_of(self, image):
        """The loss and its parts for ``image``: a dict of scalars (:func:`style_losses`)."""
        return style_losses(
            self.extractor,
            self.style_targets,
            tf.convert_to_tensor(image),
            self.content_target,
            style_weight=self.style_weight,
            content_weight=self.content_weight,
            tv_weight=self.tv_weight,
        )

    def call(self, inputs=None, training=False):
        return ops.convert_to_tensor(self.image)

    def train_step(self, data):
        with tf.GradientTape() as tape:
            parts = self.losses_of(self.image.value)
        gradient = tape.gradient(parts["loss"], self.image.value)
        self.optimizer.apply_gradients([(gradient, self.image)])
        self.image.assign(ops.clip(self.image, 0.0, 1.0))
        for name, value in parts.items():
            self.trackers[name].update_state(value)
        return {name: tracker.result() for name, tracker in self.trackers.items()}

    def result(self) -> np.ndarray:
        """The current image(s), ``(N, H, W, 3)`` float32 in [0, 1]."""
        return ops.convert_to_numpy(self.image)

    def optimise(self, steps: int, *, epochs: int = 1, callbacks=None, verbose=0):
        """Run ``steps`` optimizer steps as ``epochs`` epochs of ``fit``; returns its history."""
        steps = check_int(steps, "steps", minimum=1)
        epochs = check_int(epochs, "epochs", minimum=1)
        if steps % epochs:
            raise ValueError(f"steps ({steps}) must be a multiple of epochs ({epochs}).")
        dummy = tf.data.Dataset.from_tensors(0.0).repeat()
        return self.fit(
            dummy,
            epochs=epochs,
            steps_per_epoch=steps // epochs,
            callbacks=callbacks,
            verbose=verbose,
            shuffle=False,
        )


def noise_images(n: int, size: int, *, seed: int = 0) -> np.ndarray:
    """``n`` images of uniform noise around mid-grey (0.5 +- 0.1), ``(n, size, size, 3)``."""
    rng = np.random.default_rng(check_seed(seed))
    n, size = check_int(n, "n", minimum=1), check_int(size, "size", minimum=1)
    return (0.5 + rng.uniform(-0.1, 0.1, (n, size, size, 3))).astype(np.float32)


def phase_randomise(images, *, seed: int = 0, value_range=None) -> np.ndarray:
    """Images with their Fourier phases randomised and their power spectra kept.

    Each channel's 2-D spectrum keeps its magnitudes and takes the phases of a white-noise
    image's spectrum (one noise image per input image, shared by its channels, so the channels'
    relative phases stay): the result has the same power spectrum (all second-order pixel
    statistics) and none of the arrangement, a control that a texture judge must reject.

    Args:
        images: ``(N, H, W, C)`` float images.
        seed: seed of the noise.
        value_range: ``(low, high)`` to clip the result to (the spectrum is then kept only where
            nothing was clipped), or ``None``.
    """
    images = np.asarray(images, dtype=np.float64)
    if images.ndim != 4:
        raise ValueError(f"images must be (N, H, W, C), got shape {images.shape}.")
    rng = np.random.default_rng(seed)
    noise = rng.normal(size=images.shape[:3])
    phase = np.angle(np.fft.fft2(noise, axes=(1, 2)))[..., None]
    phase[:, 0, 0] = 0.0  # keep the mean (the noise's own mean has phase 0 or pi)
    spectrum = np.fft.fft2(images, axes=(1, 2))
    mixed = np.abs(spectrum) * np.exp(1j * (np.angle(spectrum) + phase))
    out = np.real(np.fft.ifft2(mixed, axes=(1, 2)))
    if value_range is not None:
        out = np.clip(out, *value_range)
    return out.astype(np.float32)


# --- DeepDream -------------------------------------------------------------------------------


def _layer_model(network: keras.Model, layer: str) -> keras.Model:
    """A model from images of any size to ``layer``'s activations.

    A network whose input takes any size (Keras' InceptionV3 without its top) is cut at the
    layer; one with a fixed input size (the chapter-1 classifier) has its layers re-applied, in
    order, to an input of any size, which works for a chain of convolutions and poolings.

    Raises:
        ValueError: for a layer the network lacks, or one behind a layer that needs a fixed
            size (a dense layer: only convolutional layers can be dreamed on).
    """
    names = [item.name for item in network.layers]
    convolutional = [item.name for item in network.layers if isinstance(item, layers.Conv2D)]
    if all(side is None for side in network.input_shape[1:3]):  # any layer of a free-size network
        if layer not in names:
            mixed = [n for n in names if n.startswith("mixed")] or convolutional
            raise ValueError(
                f"{network.name} has no layer {layer!r}; for example: {', '.join(mixed[:12])}."
            )
        return keras.Model(network.input, network.get_layer(layer).output)
    if layer not in names or layer not in convolutional:
        raise ValueError(
            f"{network.name} has no convolutional layer {layer!r}; its convolutional layers: "
            f"{', '.join(convolutional)}."
        )
    inputs = keras.Input((None, None, network.input_shape[-1]))
    x = inputs
    for item in network.layers:
        if isinstance(item, layers.InputLayer):
            continue
        if not isinstance(item, layers.Conv2D | layers.MaxPooling2D | layers.AveragePooling2D):
            raise ValueError(
                f"{layer!r} comes after {item.name!r}, which needs a fixed image size; "
                "DeepDream here takes a layer of the network's convolutional part."
            )
        x = item(x)
        if item.name == layer:
            return keras.Model(inputs, x)
    raise AssertionError("unreachable: the layer was found above")


@functools.lru_cache(maxsize=8)
def _dream_functions(network: keras.Model, layer: str, step_size: float):
    """DeepDream's two compiled functions for one network, layer and step size, made once: a
    notebook dreaming image after image reuses them instead of tracing them again."""
    model = _layer_model(network, layer)
    signature = [tf.TensorSpec((1, None, None, network.input_shape[-1]), tf.float32)]

    @tf.function(input_signature=signature)
    def ascend(x):
        with tf.GradientTape() as tape:
            tape.watch(x)
            activation = tf.reduce_mean(tf.cast(model(x, training=False), tf.float32))
        gradient = tape.gradient(activation, x)
        gradient /= tf.reduce_mean(tf.abs(gradient)) + 1e-8
        return tf.clip_by_value(x + step_size * gradient, -1.0, 1.0), activation

    @tf.function(input_signature=signature)
    def excite(x):
        return tf.reduce_mean(tf.cast(model(x, training=False), tf.float32))

    return ascend, excite


def deep_dream(
    network: keras.Model,
    layer: str,
    image,
    *,
    steps: int = 40,
    step_size: float = 0.02,
    octaves: int = 3,
    octave_scale: float = 1.3,
):
    """DeepDream (Mordvintsev, Olah, Tyka 2015): change the image to excite a layer more.

    Gradient ascent on the mean activation of ``layer``: each step adds ``step_size`` times the
    gradient divided by its mean absolute value, and clips to [-1, 1].  Octaves: the image is
    dreamed first ``octave_scale ** (octaves - 1)`` times smaller, then at each larger size up
    to its own, the detail added so far carried up (Mordvintsev's scheme: the original at each
    size plus the upsampled difference), so patterns appear at several scales.

    Args:
        network: a ``keras.Model`` on [-1, 1] images (the chapter-1 classifier's ``network``,
            or Keras' InceptionV3 without its top: :func:`aigc_keras.judges.load_dream_network`).
        layer: the name of one of its layers (of the classifier: a convolutional one; any layer
            of a network that takes any image size, such as InceptionV3's ``mixed3``).
        image: ``(H, W, C)`` in [-1, 1].
        steps: gradient steps per octave.
        step_size: the size of each step, in pixel units.
        octaves: the number of sizes.
        octave_scale: the ratio of two consecutive sizes (at least 1).

    Returns:
        ``(dreamed, activations)``: the ``(H, W, C)`` image in [-1, 1], and per octave a NumPy
        array of ``steps + 1`` mean activations (before each step, and at the end).

    Raises:
        ValueError: for a layer the network lacks or cannot dream on, an image outside
            [-1, 1] or of the wrong channels, or a bad step count, size, octave count or scale.
    """
    steps = check_int(steps, "steps")
    octaves = check_int(octaves, "octaves")
    step_size = check_non_negative(step_size, "step_size")
    octave_scale = check_non_negative(octave_scale, "octave_scale")
    if octave_scale < 1.0:
        raise ValueError(f"octave_scale must be at least 1, got {octave_scale}.")
    image = np.asarray(image, np.float32)
    channels = network.input_shape[-1]
    if image.ndim != 3 or image.shape[-1] != channels:
        raise ValueError(f"image must be (H, W, {channels}), got shape {image.shape}.")
    if not np.all(np.isfinite(image)):  # NaN passed the range test and dreamt a NaN image
        raise ValueError("image contains NaN or infinite values; it must be in [-1, 1].")
    if image.min() < -1.0 or image.max() > 1.0:
        raise ValueError(
            f"image must be in [-1, 1], got values from {image.min():.3g} to {image.max():.3g}."
        )
    ascend, excite = _dream_functions(network, layer, step_size)
    height, width = image.shape[:2]
    original = tf.constant(image[None])
    detail = tf.zeros((1, 1, 1, channels))
    record = []
    for octave in range(octaves):
        factor = octave_scale ** (octave - octaves + 1)
        size = (max(1, round(height * factor)), max(1, round(width * factor)))
        base = tf.image.resize(original, size, method="bilinear", antialias=True)
        x = tf.clip_by_value(base + tf.image.resize(detail, size, method="bilinear"), -1.0, 1.0)
        activations = []
        for _ in range(steps):
            x, activation = ascend(x)
            activations.append(float(activation))
        activations.append(float(excite(x)))
        record.append(np.array(activations))
        detail = x - base
    return x.numpy()[0], record


# --- style images and the extractor for style transfer ---------------------------------------

STYLE_SIDE = 256  # a style image is used at most this many pixels on its longer side
# the offline pictures a style can be named by: scikit-image's photographs and textures, the ones
# aigc_keras.data crops (data.PHOTOS, data.TEXTURES; a test keeps the two lists equal)
STYLE_PICTURES = (
    "astronaut",
    "coffee",
    "chelsea",
    "rocket",
    "immunohistochemistry",
    "brick",
    "grass",
    "gravel",
)


def read_style(source, max_side: int = STYLE_SIDE) -> np.ndarray:
    """A style image as float32 ``(H, W, 3)`` in [0, 1], at most ``max_side`` on its longer side.

    Args:
        source: an image file, or the name of one of the offline pictures (scikit-image's
            ``astronaut``, ``coffee``, ``chelsea``, ``rocket``, ``immunohistochemistry``,
            ``brick``, ``grass``, ``gravel``).
        max_side: larger images are shrunk (antialiased, aspect ratio kept); Gram matrices do not
            depend on the size, only on the scale of the patterns.

    Raises:
        ValueError: a name that is neither a picture nor a readable image file.
    """
    if isinstance(source, os.PathLike):
        source = os.fspath(source)
    if not isinstance(source, str) or not source:
        raise ValueError(f"a style is an image file or a picture name, got {source!r}.")
    max_side = check_int(max_side, "max_side")  # 0, -5 and True each gave a 1x1 style
    if source in STYLE_PICTURES:
        from skimage import data as skdata

        image = getattr(skdata, source)().astype(np.float32)
        image = np.repeat(image[..., None], 3, axis=-1) if image.ndim == 2 else image
    else:
        if not os.path.exists(os.path.expanduser(source)):
            raise ValueError(
                f"style {source!r} is neither an image file nor one of the offline pictures: "
                f"{', '.join(STYLE_PICTURES)}."
            )
        from PIL import Image

        try:
            with Image.open(os.path.expanduser(source)) as opened:
                image = np.asarray(opened.convert("RGB"), dtype=np.float32)
        except Exception as error:
            raise ValueError(f"could not read {source!r} as an image: {error}") from error
    image = image / 255.0
    longer = max(image.shape[:2])
    if longer > max_side:
        shape = [max(1, round(side * max_side / longer)) for side in image.shape[:2]]
        image = tf.image.resize(image, shape, antialias=True).numpy()
    return np.clip(image, 0.0, 1.0).astype(np.float32)


def transfer_extractor(network: str = "auto", *, calibration, seed: int = 0, announce=print):
    """The extractor style transfer uses: :func:`load_extractor` with a content layer.

    VGG19 keeps content at Gatys et al.'s ``block4_conv2``; the multiscale network (the offline
    fallback of ``"auto"``) at its quarter-size scale ``scale4``, coarse enough that the style's
    finer scales can change the pixels.
    """
    content = "scale4" if network == "multiscale" else None
    extractor = load_extractor(
        network, content_layer=content, calibration=calibration, seed=seed, announce=announce
    )
    if extractor.content_layer is None:  # "auto" fell back to the multiscale network
        extractor = load_extractor(
            "multiscale", content_layer="scale4", calibration=calibration, seed=seed, announce=None
        )
    return extractor


# --- fast style transfer ---------------------------------------------------------------------

TRANSFORM_MULTIPLE = 4  # the transform network halves the image twice


def build_transform_network(width: int = 32, blocks: int = 5, name: str = "stylizer"):
    """Johnson et al.'s image transform network, for RGB images in [0, 1] of any size whose
    sides are multiples of 4 (:func:`stylize_images` pads other sizes).

    A 9x9 convolution, two stride-2 3x3 convolutions (``2w``, ``4w`` filters), ``blocks``
    residual blocks at a quarter of the size, two nearest-neighbour upsamplings each followed by
    a 3x3 convolution (instead of the paper's fractionally strided convolutions, which print a
    checkerboard: Odena, Dumoulin, Olah 2016), and a 9x9 convolution to RGB through a sigmoid.
    Every convolution pads by mirroring the border (zero padding draws frames).  Instance norm
    (Ulyanov, Vedaldi, Lempitsky 2016) and ReLU after every convolution but the last; the output
    is float32.

    Args:
        width: the filters of the first convolution (32 in the paper).
        blocks: residual blocks (5 in the paper).
        name: the model's name.
    """
    from ..layers import ReflectionPadding2D, instance_norm

    width, blocks = check_int(width, "width"), check_int(blocks, "blocks", minimum=0)
    inputs = keras.Input((None, None, 3), name="image")
    x = layers.Rescaling(2.0, offset=-1.0, name="centre")(inputs)

    def padded(x, filters, kernel, label, strides=1, **options):
        x = ReflectionPadding2D(kernel // 2, name=f"{label}_pad")(x)
        return layers.Conv2D(filters, kernel, strides=strides, name=label, **options)(x)

    def conv(x, filters, kernel, label, strides=1):
        x = padded(x, filters, kernel, label, strides)
        x = instance_norm(f"{label}_norm")(x)
        return layers.ReLU(name=f"{label}_relu")(x)

    x = conv(x, width, 9, "in")
    x = conv(x, 2 * width, 3, "down1", strides=2)
    x = conv(x, 4 * width, 3, "down2", strides=2)
    for i in range(blocks):
        y = conv(x, 4 * width, 3, f"res{i + 1}a")
        y = padded(y, 4 * width, 3, f"res{i + 1}b")
        y = instance_norm(f"res{i + 1}b_norm")(y)
        x = layers.Add(name=f"res{i + 1}")([x, y])
    for i, filters in enumerate((2 * width, width)):
        x = layers.UpSampling2D(2, name=f"up{i + 1}_resize")(x)
        x = conv(x, filters, 3, f"up{i + 1}")
    outputs = padded(x, 3, 9, "rgb", activation="sigmoid", dtype="float32")
    return keras.Model(inputs, outputs, name=name)


def stylize_images(network: keras.Model, images, batch_size: int = 16) -> np.ndarray:
    """Apply a transform network to RGB images in [0, 1] of any size.

    Sides that are not multiples of 4 are padded by mirroring and the result cropped back.

    Args:
        network: :func:`build_transform_network`'s model (or one loaded from a ``stylizer.keras``).
        images: ``(N, H, W, 3)`` or ``(H, W, 3)`` (grey is repeated over three channels) in
            [0, 1].
        batch_size: the images per network call.

    Returns:
        Float32 ``(N, H, W, 3)`` in [0, 1].
    """
    images = as_rgb(images)
    height, width = images.shape[1:3]
    if min(height, width) < 2 * TRANSFORM_MULTIPLE:
        raise ValueError(
            f"images must be at least {2 * TRANSFORM_MULTIPLE} pixels on each side, got "
            f"{height}x{width}."
        )
    pad = [(-side) % TRANSFORM_MULTIPLE for side in (height, width)]
    if any(pad):
        images = np.pad(images, ((0, 0), (0, pad[0]), (0, pad[1]), (0, 0)), mode="reflect")
    return run_network(network, images, batch_size)[:, :height, :width]


class FastStyleTransfer(GenerativeModel):
    """A feed-forward network trained to repaint any photograph in one style (Johnson, Alahi,
    Fei-Fei, "Perceptual Losses for Real-Time Style Transfer and Super-Resolution", ECCV 2016).

    Where :class:`ImageOptimisation` runs hundreds of gradient steps for every image, this trains
    a transform network ``T`` once, on many photographs ``x``, to minimise the same loss
    (:func:`style_losses`) of ``T(x)``: the style image's Gram matrices, ``x``'s own content-layer
    features, a total-variation term.  Afterwards a new photograph costs one forward pass.

    Trains on batches of RGB images in [0, 1] (patches of photographs: ``data.load("photos",
    value_range=(0, 1))`` offline; online any image set with a test split, e.g. TFDS's
    ``caltech101``).  The extractor is made from the style image and the seed
    (:func:`transfer_extractor`) and held in the model, so a checkpoint resumes exactly.

    Args:
        style: the style image: a file or an offline picture name (:func:`read_style`).
        image_size: the side of the training patches (a multiple of 4).
        width: the transform network's first width (:func:`build_transform_network`).
        blocks: its residual blocks.
        network: the extractor, ``"auto"``, ``"vgg19"`` or ``"multiscale"``.
        style_weight, content_weight, tv_weight: the loss's weights (>= 0).
        seed: the seed of the extractor's random filters and the model's noise.
        **kwargs: passed on to :class:`~aigc_keras.models.base.GenerativeModel`.
    """

    optimizer_names = ("stylizer",)
    value_range = (0, 1)
    channels = 3
    # the multiscale extractor (the offline one) shrinks images with an antialiased resize
    xla_unsupported = (
        "the multiscale extractor's antialiased resize (ScaleAndTranslate) has no XLA kernel"
    )

    def __init__(
        self,
        style="immunohistochemistry",
        image_size=64,
        width=16,
        blocks=3,
        network="auto",
        style_weight=1.0,
        content_weight=2.0,
        tv_weight=0.2,
        seed=0,
        **kwargs,
    ):
        super().__init__(trackers=("loss", "style", "content", "tv"), seed=seed, **kwargs)
        self.image_size = check_int(image_size, "image_size", minimum=TRANSFORM_MULTIPLE)
        if self.image_size % TRANSFORM_MULTIPLE:
            raise ValueError(
                f"image_size must be a multiple of {TRANSFORM_MULTIPLE} (the transform network "
                f"halves the patches twice), got {self.image_size}."
            )
        self.style_weight, self.content_weight, self.tv_weight = loss_weights(
            style_weight, content_weight, tv_weight
        )
        self.width, self.blocks = check_int(width, "width"), check_int(blocks, "blocks", 0)
        self.style, self.network_name = style, network
        example = read_style(style)
        self.extractor = transfer_extractor(network, calibration=example, seed=self.seed)
        self.feature_model = self.extractor.model  # tracked: its weights are in checkpoints
        self.targets = style_targets(self.extractor, example)
        self.stylizer = build_transform_network(self.width, self.blocks)
        self.build_now(np.zeros((1, self.image_size, self.image_size, 3), np.float32))

    def call(self, images, training=False):
        return self.stylizer(images, training=training)

    def get_config(self):
        return {
            **super().get_config(),
            "style": self.style,
            "image_size": self.image_size,
            "width": self.width,
            "blocks": self.blocks,
            "network": self.network_name,
            "style_weight": self.style_weight,
            "content_weight": self.content_weight,
            "tv_weight": self.tv_weight,
        }

    def default_optimizers(self):
        """Adam(1e-3) for the transform network (the paper's rate).

        Returns:
            ``{"stylizer": Adam}``.
        """
        return {"stylizer": keras.optimizers.Adam(1e-3)}

    def optimizer_variables(self, name):
        """The transform network's trainable variables (the extractor is frozen).

        Args:
            name: ``"stylizer"``.
        """
        return self.stylizer.trainable_variables

    def losses_of(self, photographs, stylised) -> dict:
        """:func:`style_losses` of ``stylised`` with ``photographs`` as the content."""
        content = None
        if self.content_weight > 0:
            content = ops.stop_gradient(self.extractor(photographs)[self.extractor.content_layer])
        return style_losses(
            self.extractor,
            self.targets,
            stylised,
            content,
            style_weight=self.style_weight,
            content_weight=self.content_weight,
            tv_weight=self.tv_weight,
        )

    def _images(self, data):
        images = data[0] if isinstance(data, (tuple, list)) else data
        return self.as_compute(images)

    def train_step(self, data):
        photographs = self._images(data)
        with tf.GradientTape() as tape:
            values = self.losses_of(photographs, self.stylizer(photographs, training=True))
            scaled = self.scale_loss("stylizer", values["loss"])
        self.descend("stylizer", tape, scaled, self.stylizer.trainable_variables)
        return self.record(**values)

    def test_step(self, data):
        photographs = self._images(data)
        values = self.losses_of(photographs, self.stylizer(photographs, training=False))
        return self.record(count_step=False, **values)

    def stylize(self, images, batch_size: int = 16) -> np.ndarray:
        """Repaint RGB images in [0, 1] of any size (:func:`stylize_images`)."""
        return stylize_images(self.stylizer, images, batch_size)

    def examples(self, photographs, seed: int = 0) -> list:  # noqa: ARG002 (deterministic)
        """Rows for a before/after picture: the photographs and their stylisations.

        Args:
            photographs: held-out images in [0, 1].
            seed: unused (the network is deterministic).
        """
        return [as_rgb(photographs), self.stylize(photographs)]

    def generate(self, *args, **kwargs):
        """Not available: the network repaints photographs rather than sampling images.

        Args:
            *args: ignored.
            **kwargs: ignored.

        Raises:
            TypeError: always; use :meth:`stylize`.
        """
        raise TypeError("FastStyleTransfer repaints photographs: use stylize(images).")


def _style_from_text(text: str) -> str:
    read_style(text, max_side=8)  # refuse a style that cannot be read at the command line
    return text


SPECS = (
    ModelSpec(
        "style",
        FastStyleTransfer,
        "stylizer",
        "fast style transfer: one network repaints photographs in one style (chapter 10)",
        dataset="photos",
        image_size=64,
        batch_size=8,
        epochs=10,
        value_range=(0, 1),
        channels=3,
        width=16,
        sizes=(32, 64),
        test_config=dict(image_size=16, width=4, blocks=1, network="multiscale"),
        options=(
            Option(
                "--style",
                "immunohistochemistry",
                "the style image: an image file or an offline picture name "
                f"({', '.join(STYLE_PICTURES)}) (default: immunohistochemistry)",
                parse=_style_from_text,
            ),
        ),
        make=lambda spec, s: FastStyleTransfer(
            s["style"], s["image_size"], width=s["width"], seed=s["seed"]
        ),
        export=lambda model: {"stylizer.keras": model.stylizer},
        inputs={"image": "a photograph in [0, 1], sides a multiple of 4"},
    ),
)
