"""Networks shared by more than one chapter.

* :func:`build_classifier`: the small convolutional classifier of chapter 1 (LeCun et
  al. 1998 in spirit: convolution, ReLU, max pooling, dense layers).  Later chapters
  reuse it as the judge of conditional samples and as the domain feature extractor
  for FID/KID (its penultimate ``features`` layer).
* :func:`build_discriminator`: the DCGAN-style strided-convolution discriminator
  (Radford et al. 2016), optionally class-conditional by projection (Miyato and Koyama
  2018); chapter 2's GANs and chapter 3's VAE-GAN use it.
* :func:`upsampling_plan`: how many 2x steps lead from a 7x7 or 4x4 map to an image size.
"""

from __future__ import annotations

import keras
from keras import layers


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
    """
    inputs = keras.Input((image_size, image_size, channels), name="images")
    x = inputs
    for stage, filters in enumerate((width, 2 * width)):
        x = layers.Conv2D(filters, 3, padding="same", activation="relu", name=f"conv{stage + 1}a")(x)
        x = layers.Conv2D(filters, 3, padding="same", activation="relu", name=f"conv{stage + 1}b")(x)
        x = layers.MaxPooling2D(2, name=f"pool{stage + 1}")(x)  # H, W -> H/2, W/2
    x = layers.Flatten(name="flatten")(x)  # (H/4 * W/4 * 2 width)
    features = layers.Dense(feature_dim, activation="relu", name="features")(x)
    x = layers.Dropout(dropout, name="dropout")(features)
    logits = layers.Dense(num_classes, name="logits", dtype="float32")(x)
    return keras.Model(inputs, [logits, features], name=name)


def upsampling_plan(image_size: int) -> tuple[int, int]:
    """(start size, number of 2x upsamplings) for a square image: 28 = 7*2^2, 32 = 4*2^3, 64 = 4*2^4."""
    for start in (7, 4):
        ups = 0
        size = image_size
        while size > start and size % 2 == 0:
            size //= 2
            ups += 1
        if size == start and ups >= 2:
            return start, ups
    raise ValueError(f"image_size {image_size} is not supported; use 7 or 4 times a power of two, "
                     "at least 4x upsampling (28, 32, 56, 64, 128, ...).")


def label_input(num_classes: int):
    """An int32 class-label input and its one-hot encoding: the label path of every conditional network."""
    label = keras.Input((), dtype="int32", name="label")
    return label, layers.CategoryEncoding(num_classes, output_mode="one_hot", name="label_one_hot")(label)


def latent_input(latent_dim: int, num_classes=None):
    """Inputs of a generator/decoder: a latent vector, and a label when class-conditional.

    Returns ``(inputs, latent, one_hot)``; ``inputs`` is the latent alone or ``[latent, label]``,
    ``one_hot`` is ``None`` for unconditional networks.
    """
    z = keras.Input((latent_dim,), name="latent")
    if not num_classes:
        return z, z, None
    label, one_hot = label_input(num_classes)
    return [z, label], z, one_hot


def upsampling_filters(width: int, ups: int) -> list[int]:
    """Channels of the start map and after each 2x upsampling: halving, the last at ``width // 2``."""
    filters = [width * 2 ** (ups - 1)]
    for i in range(ups):
        exponent = ups - 2 - i
        filters.append(width * 2**exponent if exponent >= 0 else max(width // 2, 8))
    return filters


def build_discriminator(image_size=28, channels=1, width=64, num_classes=None, norm=None, dropout=0.3,
                        name="discriminator"):
    """Strided convolutions with LeakyReLU down to 7x7 or 4x4, then one logit (no sigmoid).

    ``norm``: ``None``, ``"batch"`` or ``"layer"`` after every convolution but the first (WGAN-GP's
    critic must not use batch norm, whose output mixes the samples of a batch).  With
    ``num_classes`` the logit gets a projection term ``<embed(y), φ(x)>``.
    """
    if norm not in (None, "batch", "layer"):
        raise ValueError(f"norm must be None, 'batch' or 'layer', got {norm!r}.")
    start, downs = upsampling_plan(image_size)
    images = keras.Input((image_size, image_size, channels), name="images")
    x = images
    for i in range(downs):
        x = layers.Conv2D(width * 2 ** min(i, 3), 4, strides=2, padding="same", name=f"down{i + 1}")(x)  # /2
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
    embedded = layers.Dense(features.shape[-1], use_bias=False, name="class_projection")(one_hot)  # e_y
    projection = layers.Dot(axes=1, dtype="float32", name="projection")([embedded, features])  # <e_y, φ(x)>
    return keras.Model([images, label], layers.Add(dtype="float32", name="logit_plus_projection")([logit, projection]),
                       name=name)
