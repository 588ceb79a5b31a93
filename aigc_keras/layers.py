"""Reusable layers that Keras 3 does not ship.

* :func:`instance_norm`: instance normalisation (Ulyanov, Vedaldi, Lempitsky 2016) is
  Keras' ``GroupNormalization`` with one group per channel (``groups=-1``): each sample's
  each channel is normalised over its own height and width.
* :class:`ReflectionPadding2D`: pads by mirroring the border (no edge repeat), as
  CycleGAN's generator does to avoid dark borders from zero padding.
* :class:`ImagePool`: the history of generated images a CycleGAN discriminator sees
  (Shrivastava et al. 2017; Zhu et al. 2017), kept in model variables so checkpoints
  include it.
* StyleGAN's layers (Karras et al. 2019, 2020): :class:`EqualizedDense` and
  :class:`EqualizedConv2D` (the equalised learning rate of Karras et al. 2018),
  :class:`ModulatedConv2D` (style modulation and weight demodulation),
  :class:`NoiseInjection` (per-pixel noise with a learned strength),
  :class:`MinibatchStdDev` (Karras et al. 2018), the small plumbing layers of the synthesis
  network, and :func:`diff_augment` (Zhao et al. 2020).
* :class:`MaskedConv2D`: PixelCNN's causal convolution (van den Oord et al. 2016): mask
  ``A`` hides the centre pixel and everything after it in raster order, mask ``B`` only
  what comes after it.
* :class:`SinusoidalEmbedding`: a diffusion model's time or noise level as sines and cosines at
  geometric frequencies (the transformer's position code, Vaswani et al. 2017; Ho et al. 2020).
* Image editing (chapter 7): :class:`HoleComposite` (known pixels from the image, the hole from a
  fill) and :class:`SubPixelUpsampling` (the sub-pixel convolution's rearrangement, Shi et al.
  2016).
"""

from __future__ import annotations

import math

import keras
import numpy as np
from keras import layers, ops

from .validation import check_int, check_positive


def instance_norm(name: str, epsilon: float = 1e-5) -> layers.Layer:
    """``(x - mean_hw) / sqrt(var_hw + eps) * gamma + beta`` per sample and channel.

    Args:
        name: the layer's name.
        epsilon: added to the variance for stability, > 0.

    Returns:
        A ``keras.layers.GroupNormalization`` layer with one group per channel, for
        ``NHWC`` inputs.
    """
    epsilon = check_positive(epsilon, "epsilon")  # -1 gave NaN outputs
    return layers.GroupNormalization(groups=-1, epsilon=epsilon, name=name)


@keras.saving.register_keras_serializable(package="aigc_keras")
class ReflectionPadding2D(layers.Layer):
    """Mirror-pad height and width by ``padding`` pixels (``NHWC``).

    ``(B, H, W, C)`` becomes ``(B, H + 2 padding, W + 2 padding, C)``; the border pixel itself
    is not repeated, so ``H`` and ``W`` must exceed ``padding``.

    Args:
        padding: pixels added on each side, a positive integer.
        **kwargs: passed to ``keras.layers.Layer`` (``name``, ``dtype``, ...).
    """

    def __init__(self, padding: int = 1, **kwargs):
        super().__init__(**kwargs)
        self.padding = check_int(padding, "padding")

    def call(self, inputs):
        p = self.padding
        if inputs.shape[1] is not None and (inputs.shape[1] <= p or inputs.shape[2] <= p):
            raise ValueError(
                f"reflection padding of {p} needs maps larger than {p} pixels, "
                f"got {tuple(inputs.shape[1:3])}."
            )
        return ops.pad(
            inputs, [[0, 0], [p, p], [p, p], [0, 0]], mode="reflect"
        )  # H, W -> H + 2p, W + 2p

    def compute_output_shape(self, input_shape):
        b, h, w, c = input_shape

        def grow(n):
            return None if n is None else n + 2 * self.padding

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

    Args:
        size: how many images the pool holds, a non-negative integer; 0 turns it off.
        image_shape: the shape of one image, ``(H, W, C)``.
        **kwargs: passed to ``keras.layers.Layer`` (``name``, ``dtype``, ...).
    """

    def __init__(self, size: int, image_shape, **kwargs):
        super().__init__(**kwargs)
        self.size = check_int(size, "pool size", minimum=0)
        self.image_shape = tuple(int(d) for d in image_shape)
        self.images = self.add_weight(
            shape=(max(self.size, 1), *self.image_shape),
            initializer="zeros",
            trainable=False,
            name="images",
            aggregation="only_first_replica",
        )
        self.count = self.add_weight(
            shape=(),
            initializer="zeros",
            dtype="int32",
            trainable=False,
            name="count",
            aggregation="only_first_replica",
        )
        self.built = True  # the state is made above; nothing depends on the first input

    def call(self, new, coins, slots):
        """Swap some of ``new`` with stored images, and store ``new`` in the pool.

        Args:
            new: the batch of newly generated images, ``(B, H, W, C)``.
            coins: ``(B,)`` uniform in [0, 1): below 0.5 swaps (once the pool is full).
            slots: ``(B,)`` uniform in [0, 1): picks the stored image to swap with.

        Returns:
            The images for the discriminator, ``(B, H, W, C)``, in ``new``'s dtype.
        """
        if self.size == 0:
            return new
        import tensorflow as tf

        batch = tf.shape(new)[0]
        new_f = tf.cast(new, self.images.dtype)
        position = self.count + tf.range(
            batch, dtype="int32"
        )  # where a filling pool stores image i
        filling = position < self.size
        chosen = tf.minimum(
            tf.cast(slots * self.size, "int32"), self.size - 1
        )  # a stored image, uniformly
        swap = tf.logical_and(tf.logical_not(filling), coins < 0.5)
        old = tf.gather(self.images, chosen)
        out = tf.where(swap[:, None, None, None], old, new_f)
        target = tf.where(filling, position, chosen)
        write = tf.logical_or(filling, swap)
        indices = tf.boolean_mask(target, write)[:, None]
        self.images.assign(
            tf.tensor_scatter_nd_update(self.images, indices, tf.boolean_mask(new_f, write))
        )
        self.count.assign(tf.minimum(self.count + batch, self.size))
        return tf.cast(out, new.dtype)

    def get_config(self):
        return {**super().get_config(), "size": self.size, "image_shape": self.image_shape}


# --- StyleGAN ---------------------------------------------------------------------------------


def leaky_relu_gain(x):
    """``sqrt(2) * leaky_relu(x, 0.2)``.

    The gain keeps the signal's second moment with equalised layers.

    Args:
        x: a tensor of any shape.

    Returns:
        A tensor of the same shape and dtype.
    """
    return ops.leaky_relu(x, 0.2) * math.sqrt(2.0)


@keras.saving.register_keras_serializable(package="aigc_keras")
class EqualizedDense(layers.Layer):
    """Dense layer with the equalised learning rate.

    The stored weight is drawn from ``N(0, 1 / lr_multiplier^2)`` and multiplied at run time by
    ``lr_multiplier / sqrt(fan_in)``; the stored bias by ``lr_multiplier``.  The effective
    weight has He's variance ``1 / fan_in`` either way, but Adam's step (about the learning
    rate in stored units) now changes every layer's effective weights at the same relative
    speed, whatever its fan-in.  ``lr_multiplier = 0.01`` slows the mapping network as
    StyleGAN does.

    Args:
        units: output features, a positive integer.
        lr_multiplier: the relative learning rate of this layer, > 0.
        bias_init: the initial effective bias (every unit the same).
        activation: ``None`` (linear) or ``"lrelu"`` (:func:`leaky_relu_gain`).
        **kwargs: passed to ``keras.layers.Layer`` (``name``, ``dtype``, ...).
    """

    def __init__(
        self,
        units: int,
        *,
        lr_multiplier: float = 1.0,
        bias_init: float = 0.0,
        activation=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.units = check_int(units, "units")
        if not lr_multiplier > 0:
            raise ValueError(f"lr_multiplier must be > 0, got {lr_multiplier!r}.")
        if activation not in (None, "lrelu"):
            raise ValueError(f"activation must be None or 'lrelu', got {activation!r}.")
        self.lr_multiplier, self.bias_init, self.activation = (
            float(lr_multiplier),
            float(bias_init),
            activation,
        )

    def build(self, input_shape):
        fan_in = int(input_shape[-1])
        self.kernel = self.add_weight(
            shape=(fan_in, self.units),
            name="kernel",
            initializer=keras.initializers.RandomNormal(0.0, 1.0 / self.lr_multiplier),
        )
        self.bias = self.add_weight(
            shape=(self.units,),
            name="bias",
            initializer=keras.initializers.Constant(self.bias_init / self.lr_multiplier),
        )
        self.weight_gain = self.lr_multiplier / math.sqrt(fan_in)

    def call(self, x):
        y = ops.matmul(x, ops.cast(self.kernel * self.weight_gain, x.dtype)) + ops.cast(
            self.bias * self.lr_multiplier, x.dtype
        )
        return leaky_relu_gain(y) if self.activation == "lrelu" else y

    def compute_output_shape(self, input_shape):
        return (*input_shape[:-1], self.units)

    def get_config(self):
        return {
            **super().get_config(),
            "units": self.units,
            "lr_multiplier": self.lr_multiplier,
            "bias_init": self.bias_init,
            "activation": self.activation,
        }


@keras.saving.register_keras_serializable(package="aigc_keras")
class EqualizedConv2D(layers.Layer):
    """``same``-padded convolution with the equalised learning rate.

    Weights are drawn from ``N(0, 1)`` and scaled by ``1 / sqrt(k * k * in_channels)`` at
    run time; optional bias and gained leaky ReLU.  Stride 1: ``(B, H, W, C_in)`` becomes
    ``(B, H, W, filters)``.

    Args:
        filters: output channels, a positive integer.
        kernel_size: the square kernel's side ``k``, a positive integer.
        use_bias: add a learned bias per output channel (initially 0).
        activation: ``None`` (linear) or ``"lrelu"`` (:func:`leaky_relu_gain`).
        **kwargs: passed to ``keras.layers.Layer`` (``name``, ``dtype``, ...).
    """

    def __init__(
        self,
        filters: int,
        kernel_size: int = 3,
        *,
        use_bias: bool = True,
        activation=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.filters, self.kernel_size = (
            check_int(filters, "filters"),
            check_int(kernel_size, "kernel_size"),
        )
        if activation not in (None, "lrelu"):
            raise ValueError(f"activation must be None or 'lrelu', got {activation!r}.")
        self.use_bias, self.activation = bool(use_bias), activation

    def build(self, input_shape):
        fan_in = self.kernel_size * self.kernel_size * int(input_shape[-1])
        self.kernel = self.add_weight(
            shape=(self.kernel_size, self.kernel_size, int(input_shape[-1]), self.filters),
            name="kernel",
            initializer=keras.initializers.RandomNormal(0.0, 1.0),
        )
        self.bias = (
            self.add_weight(shape=(self.filters,), name="bias", initializer="zeros")
            if self.use_bias
            else None
        )
        self.weight_gain = 1.0 / math.sqrt(fan_in)

    def call(self, x):
        y = ops.conv(x, ops.cast(self.kernel * self.weight_gain, x.dtype), padding="same")
        if self.bias is not None:
            y = y + ops.cast(self.bias, x.dtype)
        return leaky_relu_gain(y) if self.activation == "lrelu" else y

    def compute_output_shape(self, input_shape):
        return (*input_shape[:-1], self.filters)

    def get_config(self):
        return {
            **super().get_config(),
            "filters": self.filters,
            "kernel_size": self.kernel_size,
            "use_bias": self.use_bias,
            "activation": self.activation,
        }


@keras.saving.register_keras_serializable(package="aigc_keras")
class ModulatedConv2D(layers.Layer):
    """StyleGAN2's modulated convolution: ``call([x, w])``.

    ``x`` is ``(B, H, W, C_in)`` and ``w`` is ``(B, w_dim)``.  An equalised affine layer
    ``A`` turns ``w`` into one scale per input channel, ``s = A(w)`` (bias 1, so styles start
    near identity).  The weights are modulated per sample, ``w'_{ijk} = s_i w_{ijk}``, and,
    with ``demodulate``, divided by their norm per output channel,
    ``w''_{ijk} = w'_{ijk} / sqrt(sum_{i,k} w'_{ijk}^2 + eps)``, so unit-variance inputs give
    unit-variance outputs: what AdaIN's explicit normalisation did, without the droplet
    artefacts it caused.  Computed in the equivalent non-fused form (scale the input
    channels by ``s``, convolve with the shared weights, multiply each output channel by its
    demodulation factor), which needs no per-sample grouped convolution.  ``upsample=True``
    doubles the map (bilinear) before the convolution; toRGB layers use
    ``kernel_size=1, demodulate=False, use_bias=True``.

    Args:
        filters: output channels ``C_out``, a positive integer.
        kernel_size: the square kernel's side, a positive integer (``same`` padding).
        demodulate: divide by the modulated weights' norm per output channel.
        upsample: double height and width (bilinear) before the convolution.
        use_bias: add a learned bias per output channel (initially 0).
        **kwargs: passed to ``keras.layers.Layer`` (``name``, ``dtype``, ...).
    """

    def __init__(
        self,
        filters: int,
        kernel_size: int = 3,
        *,
        demodulate: bool = True,
        upsample: bool = False,
        use_bias: bool = False,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.filters, self.kernel_size = (
            check_int(filters, "filters"),
            check_int(kernel_size, "kernel_size"),
        )
        self.demodulate, self.upsample, self.use_bias = (
            bool(demodulate),
            bool(upsample),
            bool(use_bias),
        )

    def build(self, input_shape):
        x_shape, w_shape = input_shape
        self.in_channels = int(x_shape[-1])
        self.affine = EqualizedDense(self.in_channels, bias_init=1.0, name="affine")
        self.affine.build(w_shape)
        self.kernel = self.add_weight(
            shape=(self.kernel_size, self.kernel_size, self.in_channels, self.filters),
            name="kernel",
            initializer=keras.initializers.RandomNormal(0.0, 1.0),
        )
        self.bias = (
            self.add_weight(shape=(self.filters,), name="bias", initializer="zeros")
            if self.use_bias
            else None
        )
        self.weight_gain = 1.0 / math.sqrt(self.kernel_size * self.kernel_size * self.in_channels)

    def styles(self, w):
        """The per-sample input-channel scales ``s = A(w)``.

        Args:
            w: the style vectors, ``(B, w_dim)``.

        Returns:
            The scales, ``(B, C_in)``.
        """
        return self.affine(w)

    def call(self, inputs):
        x, w = inputs
        s = ops.cast(self.styles(w), x.dtype)  # (B, C_in)
        kernel = ops.cast(self.kernel * self.weight_gain, x.dtype)  # (k, k, C_in, C_out)
        if self.upsample:
            x = ops.image.resize(
                x, (2 * x.shape[1], 2 * x.shape[2]), interpolation="bilinear"
            )  # (B, 2H, 2W, C_in)
        y = ops.conv(x * s[:, None, None, :], kernel, padding="same")  # (B, H, W, C_out)
        if self.demodulate:
            # sum over i, k of (s_i w_ijk)^2 = sum_i s_i^2 (sum_k w_ijk^2):
            # (B, C_in) @ (C_in, C_out)
            energy = ops.matmul(
                ops.square(ops.cast(s, "float32")),
                ops.sum(ops.square(ops.cast(kernel, "float32")), axis=(0, 1)),
            )
            y = y * ops.cast(ops.rsqrt(energy + 1e-8), y.dtype)[:, None, None, :]
        if self.bias is not None:
            y = y + ops.cast(self.bias, y.dtype)
        return y

    def compute_output_shape(self, input_shape):
        b, h, w, _ = input_shape[0]
        grow = (lambda n: None if n is None else 2 * n) if self.upsample else (lambda n: n)
        return (b, grow(h), grow(w), self.filters)

    def get_config(self):
        return {
            **super().get_config(),
            "filters": self.filters,
            "kernel_size": self.kernel_size,
            "demodulate": self.demodulate,
            "upsample": self.upsample,
            "use_bias": self.use_bias,
        }


@keras.saving.register_keras_serializable(package="aigc_keras")
class NoiseInjection(layers.Layer):
    """``call([x, noise])``: ``x + strength * noise`` plus a bias and the gained leaky ReLU.

    ``x`` is ``(B, H, W, C)``; ``noise`` is one map per image, ``(B, H, W, 1)``, broadcast
    over the channels; ``strength`` is one learned scalar per layer, starting at 0
    (StyleGAN2), so the network decides how much stochastic detail to use.  The bias is one
    learned value per channel, starting at 0.  The noise is an input, not drawn here: the
    model draws it from its seeded, per-replica generator, and a caller can fix it to see
    what it alone changes.
    """

    def build(self, input_shape):
        self.strength = self.add_weight(shape=(), name="strength", initializer="zeros")
        self.bias = self.add_weight(
            shape=(int(input_shape[0][-1]),), name="bias", initializer="zeros"
        )

    def call(self, inputs):
        x, noise = inputs
        x = (
            x
            + ops.cast(self.strength, x.dtype) * ops.cast(noise, x.dtype)
            + ops.cast(self.bias, x.dtype)
        )
        return leaky_relu_gain(x)

    def compute_output_shape(self, input_shape):
        return input_shape[0]


@keras.saving.register_keras_serializable(package="aigc_keras")
class MinibatchStdDev(layers.Layer):
    """Appends one feature map: the minibatch standard deviation (Karras et al. 2018).

    The map holds the standard deviation of each feature across a group of samples,
    averaged over features and pixels.  A discriminator that sees how varied a group is can
    punish a generator that collapses to few images.  Groups of ``group_size`` samples (the
    batch must divide into them; smaller batches form one group).  ``(B, H, W, C)`` becomes
    ``(B, H, W, C + 1)``.

    Args:
        group_size: samples per group, a positive integer.  A larger batch that it does not
            divide falls back to groups of one sample, whose map is a constant (about 1e-4).
        **kwargs: passed to ``keras.layers.Layer`` (``name``, ``dtype``, ...).
    """

    def __init__(self, group_size: int = 4, **kwargs):
        super().__init__(**kwargs)
        self.group_size = check_int(group_size, "group_size")

    def call(self, x):
        import tensorflow as tf

        batch, h, w, c = tf.shape(x)[0], x.shape[1], x.shape[2], x.shape[3]
        group = tf.minimum(self.group_size, batch)
        group = tf.where(
            batch % group == 0, group, 1
        )  # a batch that does not divide: per-sample groups
        y = tf.reshape(tf.cast(x, "float32"), (group, -1, h, w, c))  # (G, B/G, H, W, C)
        y = tf.sqrt(
            tf.reduce_mean(tf.square(y - tf.reduce_mean(y, axis=0)), axis=0) + 1e-8
        )  # (B/G, H, W, C)
        y = tf.reduce_mean(y, axis=[1, 2, 3])  # (B/G,)
        y = tf.tile(y, [group])[:, None, None, None] * tf.ones(
            (1, h, w, 1)
        )  # sample i belongs to group i % (B/G)
        return tf.concat([x, tf.cast(y, x.dtype)], axis=-1)  # (B, H, W, C + 1)

    def compute_output_shape(self, input_shape):
        return (*input_shape[:-1], input_shape[-1] + 1)

    def get_config(self):
        return {**super().get_config(), "group_size": self.group_size}


@keras.saving.register_keras_serializable(package="aigc_keras")
class ConstantInput(layers.Layer):
    """The synthesis network's learned 4x4 starting map, repeated for every sample of the batch.

    ``call(ws)`` only reads the batch size of ``ws``; the output is
    ``(B, size, size, channels)``.

    Args:
        channels: the map's channels, a positive integer.
        size: its height and width in pixels, a positive integer.
        **kwargs: passed to ``keras.layers.Layer`` (``name``, ``dtype``, ...).
    """

    def __init__(self, channels: int, size: int = 4, **kwargs):
        super().__init__(**kwargs)
        self.channels, self.size = check_int(channels, "channels"), check_int(size, "size")

    def build(self, input_shape):
        self.const = self.add_weight(
            shape=(1, self.size, self.size, self.channels),
            name="const",
            initializer=keras.initializers.RandomNormal(0.0, 1.0),
        )

    def call(self, ws):
        return ops.cast(ops.repeat(self.const, ops.shape(ws)[0], axis=0), self.compute_dtype)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.size, self.size, self.channels)

    def get_config(self):
        return {**super().get_config(), "channels": self.channels, "size": self.size}


@keras.saving.register_keras_serializable(package="aigc_keras")
class StyleAt(layers.Layer):
    """``ws[:, index]``: the style vector one layer receives from the style stack.

    ``(B, num_styles, w_dim)`` becomes ``(B, w_dim)``.

    Args:
        index: which style to take, from 0 to ``num_styles - 1``.
        **kwargs: passed to ``keras.layers.Layer`` (``name``, ``dtype``, ...).
    """

    def __init__(self, index: int, **kwargs):
        super().__init__(**kwargs)
        self.index = check_int(index, "index", minimum=0)

    def call(self, ws):
        return ws[:, self.index]

    def compute_output_shape(self, input_shape):
        return (input_shape[0], input_shape[2])

    def get_config(self):
        return {**super().get_config(), "index": self.index}


@keras.saving.register_keras_serializable(package="aigc_keras")
class Truncation(layers.Layer):
    """The truncation trick: ``w_avg + psi (w - w_avg)`` for ``call([w, psi])``.

    ``w_avg`` is a copy of the model's average w, held in a non-trainable weight (zeros until
    assigned); ``psi`` 1 leaves ``w`` unchanged, 0 gives the average.

    Args:
        w_dim: the size of w, a positive integer.
        **kwargs: passed to ``keras.layers.Layer`` (``name``, ``dtype``, ...).
    """

    def __init__(self, w_dim: int, **kwargs):
        super().__init__(**kwargs)
        self.w_dim = check_int(w_dim, "w_dim")
        self.w_avg = self.add_weight(
            shape=(self.w_dim,), initializer="zeros", trainable=False, name="w_avg"
        )

    def call(self, inputs):
        w, psi = inputs
        return self.w_avg + ops.cast(psi, w.dtype) * (w - self.w_avg)

    def compute_output_shape(self, input_shape):
        return input_shape[0]

    def get_config(self):
        return {**super().get_config(), "w_dim": self.w_dim}


AUGMENTS = ("translation", "cutout", "color")


def diff_augment(images, draws, policy=AUGMENTS):
    """DiffAugment on a batch in [-1, 1]: differentiable, so the generator learns through it.

    ``draws`` (B, 8) uniform in [0, 1) drive everything: brightness ±0.5, saturation
    x[0, 2] (colour images), contrast x[0.5, 1.5]; a shift of up to 1/8 of the side (zero
    fill); a cutout square of half the side at a random place.  Applied to real and fake
    images alike, so D cannot tell them apart by the augmentation, and G is not rewarded for
    producing augmented-looking images.

    Args:
        images: a batch of square images ``(B, S, S, C)`` in [-1, 1], with static ``S`` and
            ``C``.
        draws: ``(B, 8)`` uniform in [0, 1); columns 0-2 drive colour, 3-4 the shift, 5-6
            the cutout's centre (column 7 is unused).
        policy: which augmentations to apply, any of :data:`AUGMENTS`
            (``"translation"``, ``"cutout"``, ``"color"``); they run in the order colour,
            translation, cutout.

    Returns:
        The augmented batch, the same shape and dtype as ``images``.
    """
    import tensorflow as tf

    if isinstance(policy, str) or any(name not in AUGMENTS for name in policy):
        raise ValueError(  # an unknown name was skipped, and the batch came back unchanged
            f"policy must be a sequence of names from {', '.join(AUGMENTS)}, got {policy!r}."
        )
    x, draws = tf.convert_to_tensor(images), tf.convert_to_tensor(draws)
    if x.shape.rank != 4 or x.shape[1] is None or x.shape[1] != x.shape[2]:
        raise ValueError(f"diff_augment needs square images (B, S, S, C), got {tuple(x.shape)}.")
    if draws.shape.rank != 2 or draws.shape[-1] != 8:
        raise ValueError(f"draws must be (B, 8) uniforms in [0, 1), got {tuple(draws.shape)}.")
    size, channels = x.shape[1], x.shape[3]

    def u(i):
        return tf.cast(draws[:, i], x.dtype)[:, None, None, None]

    if "color" in policy:
        x = x + (u(0) - 0.5)
        if channels > 1:
            grey = tf.reduce_mean(x, axis=3, keepdims=True)
            x = grey + (x - grey) * (2.0 * u(1))
        mean = tf.reduce_mean(x, axis=[1, 2, 3], keepdims=True)
        x = mean + (x - mean) * (u(2) + 0.5)
    if "translation" in policy:
        pad = max(1, size // 8)
        shift = tf.cast(tf.floor(draws[:, 3:5] * (2 * pad + 1)), tf.int32)  # (B, 2) in 0..2 pad
        padded = tf.pad(x, [[0, 0], [pad, pad], [pad, pad], [0, 0]])  # (B, H + 2 pad, W + 2 pad, C)
        rows = tf.range(size)[None, :] + shift[:, :1]  # (B, H)
        cols = tf.range(size)[None, :] + shift[:, 1:]
        x = tf.gather(
            tf.gather(padded, rows, axis=1, batch_dims=1), cols, axis=2, batch_dims=1
        )  # (B, H, W, C)
    if "cutout" in policy:
        half = size // 4  # the square is size / 2 wide
        centre = tf.cast(tf.floor(draws[:, 5:7] * size), tf.int32)  # (B, 2)
        grid = tf.range(size)
        offset_r, offset_c = (
            grid[None, :] - centre[:, :1],
            grid[None, :] - centre[:, 1:],
        )  # (B, H), (B, W)
        outside_r = tf.logical_or(
            offset_r < -half, offset_r >= half
        )  # rows centre - half .. centre + half - 1 cut
        outside_c = tf.logical_or(offset_c < -half, offset_c >= half)
        keep = tf.logical_or(outside_r[:, :, None], outside_c[:, None, :])  # (B, H, W)
        x = x * tf.cast(keep, x.dtype)[..., None]
    return x


def causal_mask(kernel_size: int, mask_type: str) -> np.ndarray:
    """The (k, k) 0/1 mask of a raster-order causal convolution.

    Rows above the centre are kept; in the centre row the columns left of the centre are kept;
    mask ``B`` also keeps the centre itself (a pixel may see its own *features*, computed from
    earlier pixels), mask ``A`` does not (the first layer must not see the pixel it predicts).

    Args:
        kernel_size: the kernel's side ``k``, an odd positive integer.
        mask_type: ``"A"`` (first layer) or ``"B"`` (later layers).

    Returns:
        A float32 ``(k, k)`` array of 0s and 1s.

    Raises:
        ValueError: for another ``mask_type`` or an even ``kernel_size``.
    """
    if mask_type not in ("A", "B"):
        raise ValueError(
            f"mask_type must be 'A' (first layer) or 'B' (later layers), got {mask_type!r}."
        )
    kernel_size = check_int(kernel_size, "kernel_size")
    if kernel_size % 2 == 0:
        raise ValueError(
            f"a masked convolution needs an odd kernel_size (a centre pixel), got {kernel_size}."
        )
    centre = kernel_size // 2
    mask = np.zeros((kernel_size, kernel_size), np.float32)
    mask[:centre, :] = 1.0
    mask[centre, :centre] = 1.0
    if mask_type == "B":
        mask[centre, centre] = 1.0
    return mask


@keras.saving.register_keras_serializable(package="aigc_keras")
class MaskedConv2D(layers.Conv2D):
    """A ``same``-padded ``Conv2D`` whose kernel is multiplied by :func:`causal_mask` on every call.

    The kernel's masked entries still exist (and get zero gradient); multiplying at call time keeps
    them out of the output whatever the optimizer does to them.  One image channel only: colour
    PixelCNNs also mask between the R, G and B groups of feature maps, which this layer does not do.

    Args:
        filters: output channels, a positive integer.
        kernel_size: the square kernel's side, an odd positive integer (a ``(k, k)`` pair
            is accepted too, as ``from_config`` passes it).
        mask_type: ``"A"`` (first layer: the centre pixel hidden) or ``"B"`` (later layers).
        **kwargs: passed to ``keras.layers.Conv2D``; ``padding`` must be ``"same"`` and
            ``strides`` and ``dilation_rate`` 1.

    Raises:
        ValueError: for other padding, strides or dilation, or a non-square kernel.
    """

    def __init__(self, filters: int, kernel_size: int, *, mask_type: str = "B", **kwargs):
        padding = kwargs.pop("padding", "same")
        if padding != "same":
            raise ValueError(
                "MaskedConv2D pads 'same' (output pixel i sits over input pixel i), "
                f"got {padding!r}."
            )
        for option in ("strides", "dilation_rate"):
            value = kwargs.get(option, 1)
            if value not in (1, (1, 1), [1, 1]):
                raise ValueError(f"MaskedConv2D supports {option}=1 only, got {value!r}.")
        if isinstance(kernel_size, (tuple, list)):  # from_config gives Conv2D's (k, k)
            if len(kernel_size) != 2 or kernel_size[0] != kernel_size[1]:
                raise ValueError(
                    f"MaskedConv2D needs a square kernel, got kernel_size={kernel_size!r}."
                )
            kernel_size = kernel_size[0]
        self.mask_type = mask_type
        self.mask = causal_mask(kernel_size, mask_type)[
            :, :, None, None
        ]  # (k, k, 1, 1), broadcast over channels
        super().__init__(filters, kernel_size, padding="same", **kwargs)

    def convolution_op(self, inputs, kernel):
        """``Conv2D``'s convolution with the masked kernel."""
        return super().convolution_op(inputs, kernel * ops.cast(self.mask, kernel.dtype))

    def get_config(self):
        return {**super().get_config(), "mask_type": self.mask_type}


@keras.saving.register_keras_serializable(package="aigc_keras")
class HoleComposite(layers.Layer):
    """Blanks or fills the hole of an image.

    ``call([image, mask])`` -> ``image * (1 - mask)``;
    ``call([image, mask, fill])`` -> ``image * (1 - mask) + fill * mask``.

    ``mask`` is 1 in the hole and 0 where pixels are known, ``(B, H, W, 1)``, broadcast over
    channels; ``image`` and ``fill`` are ``(B, H, W, C)``.  The first form hides the hole
    from a network's input; the second keeps every known pixel exactly.
    """

    def call(self, inputs):
        image, mask = inputs[0], ops.cast(inputs[1], inputs[0].dtype)
        known = image * (1.0 - mask)
        return known if len(inputs) == 2 else known + ops.cast(inputs[2], image.dtype) * mask

    def compute_output_shape(self, input_shape):
        return input_shape[0]


@keras.saving.register_keras_serializable(package="aigc_keras")
class SubPixelUpsampling(layers.Layer):
    """``(B, H, W, C * r * r)`` -> ``(B, r H, r W, C)``.

    Each pixel's ``r * r`` channel groups become an ``r x r`` block.  The same arrangement as
    ``tf.nn.depth_to_space`` (channel ``(i * r + j) * C + c`` goes to offset ``(i, j)``,
    channel ``c``); written with ``reshape``/``transpose`` so the layer is plain Keras.

    Args:
        factor: the upsampling factor ``r``, at least 2; the input's channels must be a
            multiple of ``r * r``.
        **kwargs: passed to ``keras.layers.Layer`` (``name``, ``dtype``, ...).
    """

    def __init__(self, factor: int, **kwargs):
        super().__init__(**kwargs)
        self.factor = check_int(factor, "factor", minimum=2)

    def call(self, x):
        r = self.factor
        shape = ops.shape(x)
        batch, height, width, channels = shape[0], shape[1], shape[2], x.shape[-1] // (r * r)
        x = ops.reshape(x, (batch, height, width, r, r, channels))
        x = ops.transpose(x, (0, 1, 3, 2, 4, 5))  # (B, H, r, W, r, C)
        return ops.reshape(x, (batch, height * r, width * r, channels))

    def compute_output_shape(self, input_shape):
        b, h, w, c = input_shape
        r = self.factor
        return (b, None if h is None else h * r, None if w is None else w * r, c // (r * r))

    def get_config(self):
        return {**super().get_config(), "factor": self.factor}


@keras.saving.register_keras_serializable(package="aigc_keras")
class SinusoidalEmbedding(layers.Layer):
    """A time ``t`` in [0, 1] per sample -> ``(B, dim)`` sines and cosines of ``scale * t``.

    The frequencies fall geometrically from 1 to ``1 / 10000`` over ``dim / 2`` values, so nearby
    times differ in the fast components and distant ones in the slow ones; with ``scale`` 1000 a
    diffusion model's step ``t / T`` is embedded as the step number itself.

    Args:
        dim: the embedding's size, an even number at least 2.
        scale: what ``t`` is multiplied by before the sines, a positive number.
        **kwargs: passed to ``keras.layers.Layer`` (``name``, ``dtype``, ...).
    """

    def __init__(self, dim: int, scale: float = 1000.0, **kwargs):
        super().__init__(**kwargs)
        self.dim = check_int(dim, "dim", minimum=2)
        if self.dim % 2:
            raise ValueError(f"dim must be even (half sines, half cosines), got {dim}.")
        self.scale = check_positive(scale, "scale")  # infinity gave NaN embeddings

    def call(self, t):
        t = ops.reshape(ops.cast(t, "float32"), (-1, 1)) * self.scale
        half = self.dim // 2
        frequencies = ops.exp(-math.log(10000.0) * ops.arange(half, dtype="float32") / half)
        angles = t * frequencies[None, :]  # (B, dim / 2)
        return ops.cast(
            ops.concatenate([ops.sin(angles), ops.cos(angles)], axis=-1), self.compute_dtype
        )

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.dim)

    def get_config(self):
        return {**super().get_config(), "dim": self.dim, "scale": self.scale}
