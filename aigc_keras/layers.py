"""Reusable layers that Keras 3 does not ship.

* :func:`instance_norm`: instance normalisation (Ulyanov, Vedaldi, Lempitsky 2016) is
  Keras' ``GroupNormalization`` with one group per channel (``groups=-1``): each sample's
  each channel is normalised over its own height and width.
* :class:`ReflectionPadding2D`: pads by mirroring the border (no edge repeat), as
  CycleGAN's generator does to avoid dark borders from zero padding.
* :class:`ImagePool`: the history of generated images a CycleGAN discriminator sees
  (Shrivastava et al. 2017; Zhu et al. 2017), kept in model variables so checkpoints
  include it.
"""

from __future__ import annotations

import keras
from keras import layers, ops

from .config import check_int


def instance_norm(name: str, epsilon: float = 1e-5) -> layers.Layer:
    """``(x - mean_hw) / sqrt(var_hw + eps) * gamma + beta`` per sample and channel."""
    return layers.GroupNormalization(groups=-1, epsilon=epsilon, name=name)


@keras.saving.register_keras_serializable(package="aigc_keras")
class ReflectionPadding2D(layers.Layer):
    """Mirror-pad height and width by ``padding`` pixels (``NHWC``)."""

    def __init__(self, padding: int = 1, **kwargs):
        super().__init__(**kwargs)
        self.padding = check_int(padding, "padding")

    def call(self, inputs):
        p = self.padding
        if inputs.shape[1] is not None and (inputs.shape[1] <= p or inputs.shape[2] <= p):
            raise ValueError(f"reflection padding of {p} needs maps larger than {p} pixels, got {tuple(inputs.shape[1:3])}.")
        return ops.pad(inputs, [[0, 0], [p, p], [p, p], [0, 0]], mode="reflect")  # H, W -> H + 2p, W + 2p

    def compute_output_shape(self, input_shape):
        b, h, w, c = input_shape
        grow = lambda n: None if n is None else n + 2 * self.padding  # noqa: E731
        return (b, grow(h), grow(w), c)

    def get_config(self):
        return {**super().get_config(), "padding": self.padding}


class ImagePool(layers.Layer):
    """A buffer of up to ``size`` earlier generated images.

    While the pool is filling, each new image is stored and returned unchanged.  Once
    full, each new image is, with probability ``1/2``, swapped with a uniformly chosen
    stored image (the stored one is returned, the new one takes its slot), and otherwise
    returned unchanged.  A batch is handled at once: every image reads the pool as it was
    before the batch (the paper, with batch size 1, handles one image at a time).
    ``size=0`` turns the pool off.  Randomness comes in as arguments (the model's seeded
    noise), so the layer holds no random state of its own.
    """

    def __init__(self, size: int, image_shape, **kwargs):
        super().__init__(**kwargs)
        self.size = check_int(size, "pool size", minimum=0)
        self.image_shape = tuple(int(d) for d in image_shape)
        self.images = self.add_weight(shape=(max(self.size, 1), *self.image_shape), initializer="zeros",
                                      trainable=False, name="images", aggregation="only_first_replica")
        self.count = self.add_weight(shape=(), initializer="zeros", dtype="int32", trainable=False,
                                     name="count", aggregation="only_first_replica")
        self.built = True  # the state is made above; nothing depends on the first input

    def call(self, new, coins, slots):
        """``new``: (B, H, W, C); ``coins``: (B,) uniform in [0, 1); ``slots``: (B,) uniform in [0, 1)."""
        if self.size == 0:
            return new
        import tensorflow as tf

        batch = tf.shape(new)[0]
        new_f = tf.cast(new, self.images.dtype)
        position = self.count + tf.range(batch, dtype="int32")  # where a filling pool stores image i
        filling = position < self.size
        chosen = tf.minimum(tf.cast(slots * self.size, "int32"), self.size - 1)  # a stored image, uniformly
        swap = tf.logical_and(tf.logical_not(filling), coins < 0.5)
        old = tf.gather(self.images, chosen)
        out = tf.where(swap[:, None, None, None], old, new_f)
        target = tf.where(filling, position, chosen)
        write = tf.logical_or(filling, swap)
        indices = tf.boolean_mask(target, write)[:, None]
        self.images.assign(tf.tensor_scatter_nd_update(self.images, indices, tf.boolean_mask(new_f, write)))
        self.count.assign(tf.minimum(self.count + batch, self.size))
        return tf.cast(out, new.dtype)

    def get_config(self):
        return {**super().get_config(), "size": self.size, "image_shape": self.image_shape}
