"""Networks shared by more than one chapter.

* :func:`build_classifier`: the small convolutional classifier of chapter 1 (LeCun et
  al. 1998 in spirit: convolution, ReLU, max pooling, dense layers).  Later chapters
  reuse it as the judge of conditional samples and as the domain feature extractor
  for FID/KID (its penultimate ``features`` layer).
* :func:`build_discriminator`: the DCGAN-style strided-convolution discriminator
  (Radford et al. 2016), optionally class-conditional by projection (Miyato and Koyama
  2018); chapter 2's GANs and chapter 3's VAE-GAN use it.
* :func:`upsampling_plan`: how many 2x steps lead from a 7x7 or 4x4 map to an image size.
* :func:`build_patch_discriminator`: the PatchGAN of pix2pix and CycleGAN (Isola et al.
  2017), which scores overlapping patches rather than the whole image; its depth is
  chosen from the image size (:func:`patch_layers`).
* :func:`residual_block`: two 3x3 convolutions with instance norm and an identity skip
  (He et al. 2016, in the form Johnson et al. 2016 use for image transformation).
* :func:`unet` and :func:`build_unet`: the U-Net encoder-decoder with skips (Ronneberger et al.
  2015, in pix2pix's form, Isola et al. 2017): pix2pix's generator and, with dilated
  convolutions at its bottom, chapter 7's inpainting network.
"""

from __future__ import annotations

import keras
import numpy as np
from keras import layers

from ..layers import ReflectionPadding2D, instance_norm
from ..validation import check_int


def build_classifier(
    image_size: int = 28,
    channels: int = 1,
    num_classes: int = 10,
    *,
    width: int = 32,
    feature_dim: int = 128,
    dropout: float = 0.3,
    name: str = "classifier",
) -> keras.Model:
    """Conv-conv-pool twice, then dense: outputs ``[logits, features]``.

    Two stacked 3x3 convolutions see a 5x5 window of their input; each 2x2 max pool
    halves the map, so a unit of the second stage sees 14x14 input pixels and a unit
    after the second pool 16x16 (its receptive field).

    Args:
        image_size: the side of the square input images, in pixels (at least 4).
        channels: the channels of the input images (1 grayscale, 3 RGB).
        num_classes: the number of classes (logits per image).
        width: the filters of the first stage (the second has ``2 * width``).
        feature_dim: the size of the penultimate ``features`` layer.
        dropout: the dropout rate before the logits, in [0, 1).
        name: the model's name.

    Returns:
        A ``keras.Model`` from images ``(B, image_size, image_size, channels)`` (the package
        feeds [-1, 1] images) to ``[logits (B, num_classes) float32, features (B, feature_dim)]``.
    """
    inputs = keras.Input((image_size, image_size, channels), name="images")
    x = inputs
    for stage, filters in enumerate((width, 2 * width)):
        x = layers.Conv2D(filters, 3, padding="same", activation="relu", name=f"conv{stage + 1}a")(
            x
        )
        x = layers.Conv2D(filters, 3, padding="same", activation="relu", name=f"conv{stage + 1}b")(
            x
        )
        x = layers.MaxPooling2D(2, name=f"pool{stage + 1}")(x)  # H, W -> H/2, W/2
    x = layers.Flatten(name="flatten")(x)  # (H/4 * W/4 * 2 width)
    features = layers.Dense(feature_dim, activation="relu", name="features")(x)
    x = layers.Dropout(dropout, name="dropout")(features)
    logits = layers.Dense(num_classes, name="logits", dtype="float32")(x)
    return keras.Model(inputs, [logits, features], name=name)


def upsampling_plan(image_size: int) -> tuple[int, int]:
    """(start size, number of 2x upsamplings) for a square image.

    28 = 7*2^2, 32 = 4*2^3, 64 = 4*2^4.

    Args:
        image_size: the image side: 7 or 4 times a power of two, with at least two doublings
            (28, 32, 56, 64, 128, ...).

    Returns:
        ``(start, ups)``: the start map's side (7 or 4) and the number of 2x upsamplings.

    Raises:
        ValueError: an unsupported ``image_size``.
    """
    for start in (7, 4):
        ups = 0
        size = image_size
        while size > start and size % 2 == 0:
            size //= 2
            ups += 1
        if size == start and ups >= 2:
            return start, ups
    raise ValueError(
        f"image_size {image_size} is not supported; use 7 or 4 times a power of two, "
        "at least 4x upsampling (28, 32, 56, 64, 128, ...)."
    )


def label_input(num_classes: int):
    """An int32 class-label input and its one-hot encoding.

    The label path of every conditional network.

    Args:
        num_classes: the number of classes.

    Returns:
        ``(label, one_hot)``: the ``keras.Input`` of int32 class ids ``(B,)`` named ``"label"``
        and its one-hot encoding ``(B, num_classes)``.
    """
    label = keras.Input((), dtype="int32", name="label")
    return label, layers.CategoryEncoding(num_classes, output_mode="one_hot", name="label_one_hot")(
        label
    )


def latent_input(latent_dim: int, num_classes=None):
    """Inputs of a generator/decoder: a latent vector, and a label when class-conditional.

    Args:
        latent_dim: the size of the latent vector.
        num_classes: the number of classes of a class-conditional network; ``None`` (or 0)
            for an unconditional one.

    Returns:
        ``(inputs, latent, one_hot)``; ``inputs`` is the latent alone or ``[latent, label]``,
        ``one_hot`` is ``None`` for unconditional networks.
    """
    z = keras.Input((latent_dim,), name="latent")
    if not num_classes:
        return z, z, None
    label, one_hot = label_input(num_classes)
    return [z, label], z, one_hot


def upsampling_filters(width: int, ups: int) -> list[int]:
    """Channels of the start map and after each 2x upsampling: halving, the last at ``width // 2``.

    Args:
        width: the base width; the start map has ``width * 2 ** (ups - 1)`` channels.
        ups: the number of 2x upsamplings (from :func:`upsampling_plan`).

    Returns:
        ``ups + 1`` channel counts, the last ``max(width // 2, 8)``.
    """
    filters = [width * 2 ** (ups - 1)]
    for i in range(ups):
        exponent = ups - 2 - i
        filters.append(width * 2**exponent if exponent >= 0 else max(width // 2, 8))
    return filters


def build_discriminator(
    image_size=28,
    channels=1,
    width=64,
    num_classes=None,
    norm=None,
    dropout=0.3,
    name="discriminator",
):
    """Strided convolutions with LeakyReLU down to 7x7 or 4x4, then one logit (no sigmoid).

    ``norm``: ``None``, ``"batch"`` or ``"layer"`` after every convolution but the first (WGAN-GP's
    critic must not use batch norm, whose output mixes the samples of a batch).  With
    ``num_classes`` the logit gets a projection term ``<embed(y), φ(x)>``.

    Args:
        image_size: the image side (see :func:`upsampling_plan`: 28, 32, 64, ...).
        channels: the channels of the images.
        width: the filters of the first convolution; they double per layer up to ``8 * width``.
        num_classes: the number of classes for a projection discriminator; ``None`` for an
            unconditional one.
        norm: ``None``, ``"batch"`` or ``"layer"``.
        dropout: the dropout rate before the logit (0 or ``None``: none).
        name: the model's name.

    Returns:
        A ``keras.Model`` from images ``(B, H, W, C)`` in [-1, 1] (and int32 labels ``(B,)``
        when conditional) to one float32 logit per image ``(B, 1)``.

    Raises:
        ValueError: an unknown ``norm`` or an unsupported ``image_size``.
    """
    if norm not in (None, "batch", "layer"):
        raise ValueError(f"norm must be None, 'batch' or 'layer', got {norm!r}.")
    start, downs = upsampling_plan(image_size)
    images = keras.Input((image_size, image_size, channels), name="images")
    x = images
    for i in range(downs):
        x = layers.Conv2D(
            width * 2 ** min(i, 3), 4, strides=2, padding="same", name=f"down{i + 1}"
        )(x)  # /2
        if i > 0 and norm == "batch":
            x = layers.BatchNormalization(name=f"down{i + 1}_bn")(x)
        elif i > 0 and norm == "layer":
            x = layers.LayerNormalization(axis=[1, 2, 3], name=f"down{i + 1}_ln")(x)
        x = layers.LeakyReLU(0.2, name=f"down{i + 1}_lrelu")(x)
    features = layers.Flatten(name="flatten")(x)  # (start * start * filters)
    if dropout:
        features = layers.Dropout(dropout, name="dropout")(features)
    logit = layers.Dense(1, dtype="float32", name="logit")(features)
    if not num_classes:
        return keras.Model(images, logit, name=name)
    label, one_hot = label_input(num_classes)
    embedded = layers.Dense(features.shape[-1], use_bias=False, name="class_projection")(
        one_hot
    )  # e_y
    projection = layers.Dot(axes=1, dtype="float32", name="projection")(
        [embedded, features]
    )  # <e_y, φ(x)>
    return keras.Model(
        [images, label],
        layers.Add(dtype="float32", name="logit_plus_projection")([logit, projection]),
        name=name,
    )


def patch_receptive_field(strided_layers: int) -> int:
    """Receptive field (pixels) of a PatchGAN output unit.

    The stack is ``strided_layers`` 4x4 stride-2 convolutions, one 4x4 stride-1 convolution
    and the 4x4 stride-1 output convolution; walking back from one output unit,
    ``r <- (r - 1) * stride + kernel`` gives 4, 7, then 16, 34, 70 for 1, 2, 3 strided layers.

    Args:
        strided_layers: the number of stride-2 convolutions.

    Returns:
        The side of the square input window one output unit sees, in pixels.
    """
    field = 1
    for stride in [1, 1] + [2] * strided_layers:  # from the output back to the input
        field = (field - 1) * stride + 4
    return field


def patch_layers(image_size: int) -> int:
    """Strided layers for a PatchGAN at ``image_size``.

    The deepest (at most 3, the paper's 70x70) whose receptive field is at most 0.6 of the image
    side, so it judges patches, not whole images (16x16 patches at 32, 34x34 at 64, 70x70 at 128
    and above).

    Args:
        image_size: the image side, in pixels.

    Returns:
        The number of stride-2 convolutions, 1 to 3.
    """
    depth = 1
    while depth < 3 and patch_receptive_field(depth + 1) <= 0.6 * image_size:
        depth += 1
    return depth


def build_patch_discriminator(
    image_size=64,
    channels=3,
    width=64,
    strided_layers=None,
    norm="instance",
    name="patch_discriminator",
):
    """PatchGAN: C64-C128-C256 (4x4, stride 2), C512 (stride 1), then a 1-channel 4x4 convolution.

    Instance norm after every convolution but the first (``norm=None`` leaves it out),
    LeakyReLU(0.2), no sigmoid (least-squares or logistic losses take the raw scores).  Output:
    one score per patch, ``(B, h, w, 1)``.  The convolutions see :func:`patch_receptive_field`
    pixels; instance norm's per-image mean and variance add a weak dependence on the whole image.

    Args:
        image_size: the image side, in pixels.
        channels: the channels of the images.
        width: the filters of the first convolution (64 in the paper); they double per layer up
            to ``8 * width``.
        strided_layers: the number of stride-2 convolutions; ``None`` takes
            :func:`patch_layers` of ``image_size``.
        norm: ``"instance"`` or ``None``.
        name: the model's name.

    Returns:
        A ``keras.Model`` from images ``(B, H, W, C)`` (in [-1, 1] or [0, 1], as the caller
        trains it) to float32 patch scores ``(B, h, w, 1)``.

    Raises:
        ValueError: an unknown ``norm``.
    """
    if norm not in ("instance", None):
        raise ValueError(f"norm must be 'instance' or None, got {norm!r}.")
    if strided_layers is None:
        strided_layers = patch_layers(image_size)
    strided_layers = check_int(strided_layers, "strided_layers")
    images = keras.Input((image_size, image_size, channels), name="images")
    x = images
    for i in range(strided_layers + 1):
        last = i == strided_layers
        x = layers.Conv2D(
            width * 2 ** min(i, 3), 4, strides=1 if last else 2, padding="same", name=f"conv{i + 1}"
        )(x)  # /2 except the last
        if i > 0 and norm:
            x = instance_norm(f"conv{i + 1}_norm")(x)
        x = layers.LeakyReLU(0.2, name=f"conv{i + 1}_lrelu")(x)
    scores = layers.Conv2D(1, 4, padding="same", dtype="float32", name="patch_scores")(
        x
    )  # (h, w, 1)
    return keras.Model(images, scores, name=name)


def residual_block(x, filters: int, name: str):
    """``x + IN(conv(pad(relu(IN(conv(pad(x)))))))`` with 3x3 reflection-padded convolutions.

    Args:
        x: a feature map ``(B, H, W, filters)`` (a Keras tensor of a functional model).
        filters: the channels of both convolutions; must equal ``x``'s channels.
        name: the prefix of the block's layer names.

    Returns:
        The block's output, the same shape as ``x``.
    """
    y = ReflectionPadding2D(1, name=f"{name}_pad1")(x)
    y = layers.Conv2D(filters, 3, name=f"{name}_conv1")(y)
    y = instance_norm(f"{name}_norm1")(y)
    y = layers.ReLU(name=f"{name}_relu")(y)
    y = ReflectionPadding2D(1, name=f"{name}_pad2")(y)
    y = layers.Conv2D(filters, 3, name=f"{name}_conv2")(y)
    y = instance_norm(f"{name}_norm2")(y)
    return layers.Add(name=f"{name}_skip")([x, y])


MAX_DOWNSAMPLINGS = 8  # pix2pix's 256x256 U-Net goes down to 1x1


def unet_depth(image_size: int) -> int:
    """How many times the U-Net halves ``image_size``: while the side stays even and above 4.

    16 -> 8 -> 4 (2), 28 -> 14 -> 7 (2), 32 -> 16 -> 8 -> 4 (3), 256 -> ... -> 1 would be 8
    (the paper's; capped).

    Args:
        image_size: the image side, in pixels.

    Returns:
        The number of stride-2 convolutions, at least 1.

    Raises:
        ValueError: an odd side or one below 8 (nothing to halve into a useful map).
    """
    image_size = check_int(image_size, "image_size")
    if image_size % 2 or image_size < 8:
        raise ValueError(
            f"image_size {image_size} is not supported by the U-Net: use an even side of at "
            "least 8 (it halves the image at least once)."
        )
    depth, side = 0, image_size
    while side % 2 == 0 and side > 4 and depth < MAX_DOWNSAMPLINGS:
        side //= 2
        depth += 1
    return depth


def unet(x, out_channels: int, width: int, *, dilations=(), activation="tanh"):
    """The U-Net's layers on a Keras tensor ``x`` ``(B, H, W, C)``: returns ``(B, H, W,
    out_channels)``, float32.

    Encoder ``C(w)-C(2w)-C(4w)-C(8w)-...`` of stride-2 4x4 convolutions (filters capped at
    ``8w``; :func:`unet_depth` of them), instance norm after every convolution but the first,
    LeakyReLU(0.2).  Optional dilated 3x3 convolutions at the bottom (``dilations``: their
    rates; each spans ``2 * rate + 1`` pixels of the smallest map, so a few of them mix that
    whole map through convolutions: the context filling a hole needs).  Decoder: the mirror
    image, transposed convolutions with ReLU, each level concatenated with the encoder's map of
    its size (the skips carry the input's fine detail straight to the output), then a
    transposed convolution to ``out_channels`` with ``activation``.  Instance norm stands in for
    the paper's batch norm at batch size 1 (the same per-image statistics at any batch size).

    Args:
        x: the input tensor of a functional model; its side must suit :func:`unet_depth`.
        out_channels: the channels of the output.
        width: the filters of the first convolution (64 in pix2pix).
        dilations: the dilation rates of the bottom's extra convolutions (none in pix2pix).
        activation: the output's activation (``"tanh"`` for [-1, 1], ``"sigmoid"`` for [0, 1]).

    Returns:
        The output tensor.
    """
    depth, width = unet_depth(x.shape[1]), check_int(width, "width")
    skips = []
    for i in range(depth):
        x = layers.Conv2D(
            width * 2 ** min(i, 3), 4, strides=2, padding="same", name=f"down{i + 1}"
        )(x)  # /2
        if i > 0:
            x = instance_norm(f"down{i + 1}_norm")(x)
        x = layers.LeakyReLU(0.2, name=f"down{i + 1}_lrelu")(x)
        skips.append(x)
    for rate in dilations:
        rate = check_int(rate, "rate")
        x = layers.Conv2D(
            x.shape[-1], 3, padding="same", dilation_rate=rate, name=f"dilated{rate}"
        )(x)
        x = instance_norm(f"dilated{rate}_norm")(x)
        x = layers.LeakyReLU(0.2, name=f"dilated{rate}_lrelu")(x)
    for i in reversed(range(depth - 1)):  # up to the first encoder map's size, with its skip
        x = layers.Conv2DTranspose(
            width * 2 ** min(i, 3), 4, strides=2, padding="same", name=f"up{i + 1}"
        )(x)  # x2
        x = instance_norm(f"up{i + 1}_norm")(x)
        x = layers.ReLU(name=f"up{i + 1}_relu")(x)
        x = layers.Concatenate(name=f"skip{i + 1}")([x, skips[i]])
    return layers.Conv2DTranspose(
        check_int(out_channels, "out_channels"),
        4,
        strides=2,
        padding="same",
        activation=activation,
        dtype="float32",
        name="output",
    )(x)


def build_unet(
    image_size=28, in_channels=1, out_channels=1, width=64, name="generator"
) -> keras.Model:
    """pix2pix's generator: :func:`unet` as a model, from ``(B, H, W, in_channels)`` in [-1, 1]
    to float32 ``(B, H, W, out_channels)`` in [-1, 1] (tanh).

    Args:
        image_size: the image side (see :func:`unet_depth`).
        in_channels: the channels of the input images.
        out_channels: the channels of the output images.
        width: the filters of the first convolution (64 in the paper).
        name: the model's name.

    Returns:
        The ``keras.Model``.
    """
    inputs = keras.Input((image_size, image_size, check_int(in_channels, "in_channels")))
    return keras.Model(inputs, unet(inputs, out_channels, width), name=name)


def run_network(network: keras.Model, inputs, batch_size: int = 64) -> np.ndarray:
    """``network(inputs, training=False)`` in batches, as float32 NumPy.

    Called eagerly: images of new sizes (super-resolution and denoising accept any size) and a
    smaller last batch cost no retracing, which ``predict_on_batch`` warned about.

    Args:
        network: a Keras model.
        inputs: an array, or a list or tuple of arrays (one per network input) with the same
            first dimension.
        batch_size: the most samples per call.

    Returns:
        The outputs of all batches, concatenated, as a float32 array.
    """
    batch_size = check_int(batch_size, "batch_size")
    parts = inputs if isinstance(inputs, (list, tuple)) else [inputs]
    outputs = []
    for start in range(0, len(parts[0]), batch_size):
        batch = [np.asarray(p[start : start + batch_size], np.float32) for p in parts]
        out = network(batch if isinstance(inputs, (list, tuple)) else batch[0], training=False)
        outputs.append(keras.ops.convert_to_numpy(out).astype(np.float32))
    return np.concatenate(outputs)


def pretrained(load, what: str, *, required: bool, offline: str):
    """A network with downloaded weights, or why it could not be had.

    Args:
        load: makes the network (Keras downloads its weights on first use).
        what: its name, for the messages (``"VGG19"``).
        required: a failure raises instead of returning the reason.
        offline: what to do instead, for the error (``"use weights='random' to work offline"``).

    Returns:
        ``(network, None)``, or ``(None, reason)``: the error's type and the first 120 characters
        of its first line (no network, a proxy, a truncated download: all the same here).

    Raises:
        RuntimeError: the weights could not be loaded and ``required`` is true.
    """
    try:
        return load(), None
    except Exception as error:
        if required:
            raise RuntimeError(
                f"{what}'s ImageNet weights could not be loaded ({type(error).__name__}: {error}); "
                f"{offline}."
            ) from error
        return None, f"{type(error).__name__}: {str(error).splitlines()[0][:120]}"
