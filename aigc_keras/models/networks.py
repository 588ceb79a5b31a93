"""Networks shared by more than one chapter.

* :func:`build_classifier`: the small convolutional classifier of chapter 1 (LeCun et
  al. 1998 in spirit: convolution, ReLU, max pooling, dense layers).  Later chapters
  reuse it as the judge of conditional samples and as the domain feature extractor
  for FID/KID (its penultimate ``features`` layer).
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
