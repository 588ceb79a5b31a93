"""Chapter 5: a style-based generator (StyleGAN2-style) that trains on a CPU.

* Karras, Laine, Aila, "A Style-Based Generator Architecture for Generative Adversarial
  Networks" (CVPR 2019): mapping network, learned constant input, per-layer styles and noise,
  style-mixing regularisation, the truncation trick.
* Karras, Laine, Aittala, Hellsten, Lehtinen, Aila, "Analyzing and Improving the Image Quality
  of StyleGAN" (CVPR 2020): modulated and demodulated convolutions instead of AdaIN, skip
  generator (toRGB outputs summed across resolutions), residual discriminator, R1 penalty.
* Karras, Aila, Laine, Lehtinen, "Progressive Growing of GANs" (ICLR 2018): equalised learning
  rate, minibatch standard deviation.
* Mescheder, Geiger, Nowozin, "Which Training Methods for GANs do actually Converge?"
  (ICML 2018): R1.
* Zhao, Liu, Lin, Zhu, Han, "Differentiable Augmentation for Data-Efficient GAN Training"
  (NeurIPS 2020): translation, cutout and colour augmentations applied to everything D sees
  (``layers.diff_augment``).

The objective is adversarial, not a squared error: D minimises
``softplus(D(G(z))) + softplus(-D(x)) + γ/2 ||∇_x D(x)||²`` and G minimises the non-saturating
``softplus(-D(G(z)))``.  Both are updated from one forward pass per step (as the chapter-2
DCGAN), R1 is applied every step (the paper's lazy form, every 16 steps with weight 16γ, only
saves time), and path-length regularisation is left out.
Images are in [-1, 1]; the synthesis output is linear and ``generate`` clips it to that range.
"""

from __future__ import annotations

import math

import keras
import numpy as np
import tensorflow as tf
from keras import layers

from .. import losses
from ..layers import (
    AUGMENTS,
    ConstantInput,
    EqualizedConv2D,
    EqualizedDense,
    MinibatchStdDev,
    ModulatedConv2D,
    NoiseInjection,
    StyleAt,
    Truncation,
    diff_augment,
)
from ..spec import ModelSpec, Option
from ..validation import check_fraction, check_int, check_seed, is_int
from .base import GenerativeModel


def check_resolution(image_size) -> int:
    """Check that ``image_size`` is a StyleGAN resolution: a power of two, at least 8.

    Args:
        image_size: the image side, in pixels.

    Returns:
        ``image_size`` as an int.

    Raises:
        ValueError: not a power of two of at least 8 (or not a positive int).
    """
    image_size = check_int(image_size, "image_size")
    if image_size < 8 or image_size & (image_size - 1):
        raise ValueError(
            f"image_size {image_size} is not supported by StyleGAN: use a power of two from 8 "
            "(8, 16, 32, 64, 128, ...)."
        )
    return image_size


def resolutions(image_size: int) -> list[int]:
    """The synthesis blocks: 4, 8, ..., image_size.

    Args:
        image_size: the image side, a power of two of at least 8.

    Returns:
        The resolutions of the synthesis blocks, from 4 up to ``image_size``.
    """
    return [2**k for k in range(2, int(math.log2(check_resolution(image_size))) + 1)]


def num_styles(image_size: int) -> int:
    """One w per convolution plus one for the last toRGB: ``2 log2(size) - 2``.

    8 at 32x32, 10 at 64x64.

    Args:
        image_size: the image side, a power of two of at least 8.

    Returns:
        The number of styles the synthesis network takes.
    """
    return 2 * int(math.log2(check_resolution(image_size))) - 2


def channels_at(resolution: int, image_size: int, width: int, max_width: int) -> int:
    """Feature maps at ``resolution``: ``width`` at the image size, doubling per halving.

    Capped at ``max_width``.

    Args:
        resolution: the side of the feature map, a power of two up to ``image_size``.
        image_size: the image side.
        width: the channels at the image size.
        max_width: the most channels at any resolution.

    Returns:
        The number of channels at ``resolution``.
    """
    return min(max_width, width * image_size // resolution)


def build_mapping(latent_dim=128, w_dim=128, depth=4, lr_multiplier=0.01, name="mapping"):
    """z -> w: normalise z to unit root-mean-square, then ``depth`` equalised dense layers.

    The paper uses 8 layers of 512.

    Args:
        latent_dim: the size of z.
        w_dim: the size of w.
        depth: the number of dense layers (a positive int).
        lr_multiplier: the equalised learning rate's multiplier of the dense layers (0.01 in
            the paper: the mapping learns 100 times slower).
        name: the model's name.

    Returns:
        A ``keras.Model`` from latents ``(B, latent_dim)`` to w ``(B, w_dim)``.
    """
    z = keras.Input((latent_dim,), name="latent")
    x = layers.UnitNormalization(name="unit_norm")(z)  # z / ||z||
    x = layers.Rescaling(math.sqrt(latent_dim), name="pixel_norm")(x)  # z / rms(z)
    for i in range(check_int(depth, "mapping depth")):
        x = EqualizedDense(
            w_dim, lr_multiplier=lr_multiplier, activation="lrelu", name=f"fc{i + 1}"
        )(x)
    return keras.Model(z, x, name=name)


def noise_shapes(image_size: int) -> list[tuple]:
    """Shapes (without batch) of the per-layer noise maps: one per convolution, (r, r, 1).

    Args:
        image_size: the image side, a power of two of at least 8.

    Returns:
        One ``(r, r, 1)`` tuple per convolution of the synthesis network, in order.
    """
    return [(r, r, 1) for r in resolutions(image_size) for _ in range(1 if r == 4 else 2)]


def build_synthesis(
    image_size=32, channels=1, w_dim=128, width=32, max_width=128, name="synthesis"
):
    """``[ws, *noise] -> image``, the skip generator.

    A constant 4x4 input, two modulated 3x3 convolutions per resolution (the first upsamples),
    noise and bias after each, and a toRGB at every resolution whose outputs are upsampled and
    summed (the skip generator).  Style ``i`` feeds layer ``i``; each toRGB takes the style of the
    next block's first convolution.

    Args:
        image_size: the image side, a power of two of at least 8.
        channels: the channels of the images.
        w_dim: the size of w.
        width: the feature maps at the image size (see :func:`channels_at`).
        max_width: the most feature maps at any resolution.
        name: the model's name.

    Returns:
        A ``keras.Model`` from ``[ws (B, num_styles, w_dim), *noise maps (B, r, r, 1)]`` to
        float32 images ``(B, image_size, image_size, channels)``, linear (about [-1, 1] once
        trained; not clipped).
    """
    image_size = check_resolution(image_size)
    ws = keras.Input((num_styles(image_size), w_dim), name="ws")
    noises = [
        keras.Input(shape, name=f"noise_{i}") for i, shape in enumerate(noise_shapes(image_size))
    ]
    width_at = lambda r: channels_at(r, image_size, width, max_width)  # noqa: E731
    x = ConstantInput(width_at(4), name="const")(ws)  # (4, 4, C)
    rgb, style, noise = None, 0, iter(noises)
    for r in resolutions(image_size):
        for j in range(1 if r == 4 else 2):
            x = ModulatedConv2D(width_at(r), 3, upsample=r > 4 and j == 0, name=f"b{r}_conv{j}")(
                [x, StyleAt(style, name=f"b{r}_conv{j}_w")(ws)]
            )  # (r, r, C_r)
            x = NoiseInjection(name=f"b{r}_noise{j}")([x, next(noise)])
            style += 1
        y = ModulatedConv2D(channels, 1, demodulate=False, use_bias=True, name=f"b{r}_torgb")(
            [x, StyleAt(style, name=f"b{r}_torgb_w")(ws)]
        )  # (r, r, channels)
        rgb = (
            y
            if rgb is None
            else layers.Add(name=f"b{r}_skip")(
                [layers.UpSampling2D(2, interpolation="bilinear", name=f"b{r}_rgb_up")(rgb), y]
            )
        )
    image = layers.Activation("linear", dtype="float32", name="image")(rgb)
    return keras.Model([ws, *noises], image, name=name)


def build_discriminator(
    image_size=32, channels=1, width=32, max_width=128, group_size=4, name="discriminator"
):
    """Residual discriminator: fromRGB, residual blocks down to 4x4, then one logit.

    Per resolution two 3x3 convolutions and a 2x average pool with a pooled 1x1 skip, summed and
    scaled by 1/sqrt(2); at 4x4 minibatch stddev, a convolution and two dense layers to one
    logit.  (The paper blurs before strided convolutions; pooling is simpler.)

    Args:
        image_size: the image side, a power of two of at least 8.
        channels: the channels of the images.
        width: the feature maps at the image size (see :func:`channels_at`).
        max_width: the most feature maps at any resolution.
        group_size: the minibatch standard deviation's group size.
        name: the model's name.

    Returns:
        A ``keras.Model`` from images ``(B, H, W, C)`` in [-1, 1] to float32 logits ``(B, 1)``.
    """
    image_size = check_resolution(image_size)
    width_at = lambda r: channels_at(r, image_size, width, max_width)  # noqa: E731
    images = keras.Input((image_size, image_size, channels), name="images")
    x = EqualizedConv2D(width_at(image_size), 1, activation="lrelu", name="fromrgb")(images)
    for r in reversed(resolutions(image_size)[1:]):  # image_size ... 8
        skip = layers.AveragePooling2D(2, name=f"b{r}_skip_pool")(x)  # r/2
        skip = EqualizedConv2D(width_at(r // 2), 1, use_bias=False, name=f"b{r}_skip")(skip)
        x = EqualizedConv2D(width_at(r), 3, activation="lrelu", name=f"b{r}_conv0")(x)
        x = EqualizedConv2D(width_at(r // 2), 3, activation="lrelu", name=f"b{r}_conv1")(x)
        x = layers.AveragePooling2D(2, name=f"b{r}_pool")(x)  # r/2
        x = layers.Rescaling(1 / math.sqrt(2), name=f"b{r}_scale")(
            layers.Add(name=f"b{r}_add")([x, skip])
        )
    x = MinibatchStdDev(group_size, name="mbstd")(x)  # (4, 4, C + 1)
    x = EqualizedConv2D(width_at(4), 3, activation="lrelu", name="b4_conv")(x)
    x = layers.Flatten(name="flatten")(x)
    x = EqualizedDense(width_at(4), activation="lrelu", name="fc")(x)
    logit = EqualizedDense(1, dtype="float32", name="logit")(x)
    return keras.Model(images, logit, name=name)


class StyleGAN(GenerativeModel):
    """StyleGAN2-style GAN; trains on image batches in [-1, 1] (labels, if present, are ignored).

    Sampling uses the exponential moving average of the generator (``mapping_ema``,
    ``synthesis_ema``) and the truncation trick around ``w_avg``, the running mean of w seen in
    training.

    Args:
        image_size: the image side, a power of two of at least 8.
        channels: the channels of the images.
        latent_dim: the size of z and of w.
        mapping_layers: the dense layers of the mapping network.
        width: the feature maps at the image size, in both networks.
        max_width: the most feature maps at any resolution.
        r1_gamma: γ, the weight of the R1 penalty (``γ/2 · R1``), non-negative.
        mixing_prob: the probability of style mixing per sample in training, in [0, 1].
        ema_decay: the largest decay of the generator's moving average, in [0, 1]
            (see :meth:`ema_beta`).
        ema_rampup: the moving average's half-life as a fraction of the steps done, in [0, 1].
        w_avg_decay: the decay of ``w_avg``'s running mean, in [0, 1].
        augment: differentiable augmentations of everything D sees: ``None`` (none), a
            comma-separated string or a sequence of names from
            :data:`~aigc_keras.layers.AUGMENTS` (``translation``, ``cutout``, ``color``).
        seed: the seed of the model's noise (a non-negative int).
        **kwargs: passed on to :class:`~aigc_keras.models.base.GenerativeModel` (``name``, ...).
    """

    optimizer_names = ("generator", "discriminator")
    xla_cpu_bf16_unsupported = (
        "the gradient of the toRGB convolution mixes float32 and bfloat16 after XLA's CPU "
        'compiler widens the convolution ("floating point types of different precisions")'
    )
    trackers_used = ("d_loss", "g_loss", "r1", "d_real", "d_fake")

    def __init__(
        self,
        image_size=32,
        channels=1,
        latent_dim=128,
        mapping_layers=4,
        width=32,
        max_width=128,
        r1_gamma=1.0,
        mixing_prob=0.9,
        ema_decay=0.999,
        ema_rampup=0.05,
        w_avg_decay=0.995,
        augment=None,
        seed=0,
        **kwargs,
    ):
        super().__init__(trackers=self.trackers_used, seed=seed, **kwargs)
        self.image_size, self.channels = (
            check_resolution(image_size),
            check_int(channels, "channels"),
        )
        self.latent_dim, self.mapping_layers = (
            check_int(latent_dim, "latent_dim"),
            check_int(mapping_layers, "mapping_layers"),
        )
        self.width, self.max_width = check_int(width, "width"), check_int(max_width, "max_width")
        for what, value, low, high in (
            ("r1_gamma", r1_gamma, 0.0, math.inf),
            ("mixing_prob", mixing_prob, 0.0, 1.0),
            ("w_avg_decay", w_avg_decay, 0.0, 1.0),
        ):
            if (
                isinstance(value, bool)
                or not isinstance(value, (int, float))
                or not low <= value <= high
            ):
                raise ValueError(f"{what} must be a number in [{low}, {high}], got {value!r}.")
        self.r1_gamma, self.mixing_prob = float(r1_gamma), float(mixing_prob)
        self.w_avg_decay = float(w_avg_decay)
        self.set_moving_average(ema_decay, ema_rampup)
        augment = (
            ()
            if not augment
            else tuple(augment.split(",") if isinstance(augment, str) else augment)
        )
        if any(a not in AUGMENTS for a in augment):
            raise ValueError(
                f"augment must be a subset of {', '.join(AUGMENTS)} (or None), got {augment!r}."
            )
        self.augment = augment
        self.num_styles = num_styles(self.image_size)
        self.noise_shapes = noise_shapes(self.image_size)

        def make_mapping(name):
            return build_mapping(latent_dim, latent_dim, mapping_layers, name=name)

        def make_synthesis(name):
            return build_synthesis(image_size, channels, latent_dim, width, max_width, name)

        self.mapping, self.synthesis = make_mapping("mapping"), make_synthesis("synthesis")
        self.mapping_ema, self.synthesis_ema = (
            make_mapping("mapping_ema"),
            make_synthesis("synthesis_ema"),
        )
        for live, ema in ((self.mapping, self.mapping_ema), (self.synthesis, self.synthesis_ema)):
            ema.set_weights(live.get_weights())
            ema.trainable = False
        self.discriminator = build_discriminator(image_size, channels, width, max_width)
        self.w_avg = keras.Variable(
            np.zeros(latent_dim, np.float32), trainable=False, name="w_avg", aggregation="mean"
        )
        self.build_now(np.zeros((1, latent_dim), np.float32))

    def call(self, latents, training=False):
        """Images from latents with the live generator, no mixing, no truncation, zero noise."""
        ws = self._broadcast(self.mapping(latents, training=training))
        zeros = [tf.zeros((tf.shape(latents)[0], *s), ws.dtype) for s in self.noise_shapes]
        return self.synthesis([ws, *zeros], training=training)

    def get_config(self):
        return {
            **super().get_config(),
            "image_size": self.image_size,
            "channels": self.channels,
            "latent_dim": self.latent_dim,
            "mapping_layers": self.mapping_layers,
            "width": self.width,
            "max_width": self.max_width,
            "r1_gamma": self.r1_gamma,
            "mixing_prob": self.mixing_prob,
            "ema_decay": self.ema_decay,
            "ema_rampup": self.ema_rampup,
            "w_avg_decay": self.w_avg_decay,
            "augment": ",".join(self.augment),
        }

    @property
    def latent_shape(self):
        return (self.latent_dim,)

    def default_optimizers(self):
        """Adam(2e-3, β1 = 0, β2 = 0.99, ε = 1e-8) for both networks, as in StyleGAN2.

        Returns:
            ``{"generator": Adam, "discriminator": Adam}``.
        """

        def make():  # StyleGAN2's Adam
            return keras.optimizers.Adam(2e-3, beta_1=0.0, beta_2=0.99, epsilon=1e-8)

        return {"generator": make(), "discriminator": make()}

    def optimizer_variables(self, name):
        """The trainable variables that optimizer ``name`` updates.

        Args:
            name: ``"generator"`` (the mapping and synthesis networks) or ``"discriminator"``.

        Returns:
            A list of trainable variables (never the EMA copies).
        """
        if name == "generator":
            return self.mapping.trainable_variables + self.synthesis.trainable_variables
        return self.discriminator.trainable_variables

    # --- styles and noise ----------------------------------------------------------------------

    def _broadcast(self, w):
        return tf.repeat(w[:, None], self.num_styles, axis=1)  # (B, num_styles, w_dim)

    def mix(self, w_first, w_second, crossover):
        """Styles ``ws[:, i] = w_first`` for layers ``i < crossover``, ``w_second`` from there on.

        ``crossover`` is one int or one per sample; ``num_styles`` means no mixing.

        Args:
            w_first: w for the early (coarse) layers, ``(B, w_dim)``.
            w_second: w for the later (fine) layers, ``(B, w_dim)``.
            crossover: the first layer that takes ``w_second``: an int or an int tensor
                ``(B,)``, in ``0 .. num_styles``.

        Returns:
            The style stack ``(B, num_styles, w_dim)``.
        """
        if is_int(crossover) and not 0 <= crossover <= self.num_styles:
            raise ValueError(f"crossover must be in 0..{self.num_styles}, got {crossover}.")
        crossover = tf.cast(tf.broadcast_to(crossover, tf.shape(w_first)[:1]), tf.int32)
        later = tf.range(self.num_styles)[None, :] >= crossover[:, None]  # (B, num_styles)
        return tf.where(later[..., None], self._broadcast(w_second), self._broadcast(w_first))

    def _training_styles(self, batch, training):
        """w for each sample and the (possibly mixed) style stack.

        Mixing happens with probability ``mixing_prob``.
        """
        w = self.mapping(self.noise((batch, self.latent_dim)), training=training)
        if not self.mixing_prob:
            return w, self._broadcast(w)
        w_second = self.mapping(self.noise((batch, self.latent_dim)), training=training)
        draws = self.noise((2, batch), "uniform")
        crossover = 1 + tf.cast(
            tf.floor(draws[1] * (self.num_styles - 1)), tf.int32
        )  # 1 .. num_styles - 1
        crossover = tf.where(draws[0] < self.mixing_prob, crossover, self.num_styles)
        return w, self.mix(w, w_second, crossover)

    def _noise_maps(self, batch, seed=None, dtype="float32"):
        if seed is None:
            return [self.noise((batch, *s), dtype=dtype) for s in self.noise_shapes]
        return [
            tf.random.stateless_normal((batch, *s), seed=[int(seed), 1 + i], dtype=dtype)
            for i, s in enumerate(self.noise_shapes)
        ]

    def _augmented(self, images):
        if not self.augment:
            return images
        return diff_augment(images, self.noise((tf.shape(images)[0], 8), "uniform"), self.augment)

    # --- training ------------------------------------------------------------------------------

    def _step_losses(self, real, training):
        """Every loss of one step (shared by train_step and test_step); also returns w for w_avg."""
        batch = tf.shape(real)[0]
        w, ws = self._training_styles(batch, training)
        fake = self.synthesis([ws, *self._noise_maps(batch, dtype=ws.dtype)], training=training)
        critic = lambda x: self.discriminator(x, training=training)  # noqa: E731
        real_logits, r1 = losses.scores_and_r1(critic, self._augmented(real))
        fake_logits = critic(self._augmented(tf.cast(fake, real.dtype)))
        d_loss = losses.discriminator_loss(real_logits, fake_logits) + 0.5 * self.r1_gamma * r1
        values = {
            "d_loss": d_loss,
            "g_loss": losses.generator_loss(fake_logits),
            "r1": r1,
            "d_real": tf.reduce_mean(tf.sigmoid(tf.cast(real_logits, tf.float32))),
            "d_fake": tf.reduce_mean(tf.sigmoid(tf.cast(fake_logits, tf.float32))),
        }
        return values, w

    def _update_averages(self, w):
        """EMA of the generator's weights (:meth:`update_moving_average`) and the running mean
        of w."""
        self.update_moving_average(
            self.mapping_ema.weights + self.synthesis_ema.weights,
            self.mapping.weights + self.synthesis.weights,
        )
        batch_mean = tf.reduce_mean(tf.cast(w, tf.float32), axis=0)
        self.w_avg.assign(
            batch_mean + self.w_avg_decay * (self.w_avg - batch_mean)
        )  # mean over replicas

    def train_step(self, data):
        real, _ = self.unpack(data)
        with tf.GradientTape() as d_tape, tf.GradientTape() as g_tape:
            values, w = self._step_losses(real, training=True)
            d_scaled = self.scale_loss("discriminator", values["d_loss"])
            g_scaled = self.scale_loss("generator", values["g_loss"])
        self.descend("discriminator", d_tape, d_scaled, self.optimizer_variables("discriminator"))
        self.descend("generator", g_tape, g_scaled, self.optimizer_variables("generator"))
        self._update_averages(w)
        return self.record(**values)

    def test_step(self, data):
        real, _ = self.unpack(data)
        return self.record(count_step=False, **self._step_losses(real, training=False)[0])

    # --- sampling (the EMA generator) ----------------------------------------------------------

    def _check_psi(self, truncation_psi):
        return check_fraction(truncation_psi, "truncation_psi (1: no truncation)", "[0, 1]")

    def _check_latents(self, z, what: str) -> np.ndarray:
        z = np.asarray(z, np.float32)
        if z.ndim != 2 or z.shape[1] != self.latent_dim or len(z) == 0:
            raise ValueError(f"{what} must be (B, {self.latent_dim}) with B >= 1, got {z.shape}.")
        if not np.all(np.isfinite(z)):
            raise ValueError(f"{what} contain NaN or infinite values.")
        return z

    def _styles_for_sampling(self, latents, truncation_psi):
        w = self.mapping_ema(tf.convert_to_tensor(latents, tf.float32), training=False)
        return self.w_avg + truncation_psi * (w - self.w_avg)  # the truncation trick

    def _fixed_noise(self, noise, batch):
        """``noise``: None (random), ``"zero"``, or one array per noise map.

        Each array's leading dimension is 1 or ``batch``.
        """
        if isinstance(noise, str):
            if noise != "zero":
                raise ValueError(
                    f"noise must be None (random), 'zero' or a list of arrays, got {noise!r}."
                )
            return [tf.zeros((batch, *s)) for s in self.noise_shapes]
        if len(noise) != len(self.noise_shapes):
            raise ValueError(
                f"noise must hold {len(self.noise_shapes)} maps of shapes {self.noise_shapes}, "
                f"got {len(noise)}."
            )
        maps = []
        for given, shape in zip(noise, self.noise_shapes, strict=True):
            given = tf.convert_to_tensor(given, tf.float32)
            if tuple(given.shape[1:]) != shape or given.shape[0] not in (1, batch):
                raise ValueError(
                    f"a noise map must have shape (1 or {batch}, {', '.join(map(str, shape))}), "
                    f"got {tuple(given.shape)}."
                )
            maps.append(tf.broadcast_to(given, (batch, *shape)))
        return maps

    def synthesize(self, ws, noise=None, seed=None) -> np.ndarray:
        """Images from a style stack (B, num_styles, w_dim) with the EMA synthesis network.

        Args:
            ws: the style stack ``(B, num_styles, w_dim)``.
            noise: ``None`` (random maps, seeded by ``seed``), ``"zero"``, or one array per noise
                map (shapes :attr:`noise_shapes` with a leading dimension of 1 or B).
            seed: a non-negative int that fixes random noise maps, or ``None`` (the model's seed
                generator advances).

        Returns:
            Float32 images ``(B, H, W, C)`` clipped to [-1, 1].
        """
        ws = tf.convert_to_tensor(ws, tf.float32)
        if seed is not None:
            seed = check_seed(seed)
        batch = int(ws.shape[0])
        maps = self._noise_maps(batch, seed) if noise is None else self._fixed_noise(noise, batch)
        images = self.synthesis_ema([ws, *maps], training=False)
        return np.clip(keras.ops.convert_to_numpy(keras.ops.cast(images, "float32")), -1.0, 1.0)

    def generate(
        self,
        n=None,
        *,
        labels=None,
        seed=None,
        truncation_psi: float = 1.0,
        noise=None,
        batch_size: int = 256,
    ) -> np.ndarray:
        """``n`` images from the EMA generator.

        ``truncation_psi`` in [0, 1] pulls w towards ``w_avg`` (1: none, 0: the average image);
        ``noise``: None (random; seeded by ``seed``), ``"zero"``, or fixed maps.

        Args:
            n: the number of images (``None``: 16).
            labels: must be ``None`` (StyleGAN is unconditional).
            seed: a non-negative int for a reproducible draw (latents and noise), or ``None``.
            truncation_psi: the truncation psi, in [0, 1].
            noise: ``None``, ``"zero"``, or one array per noise map (shapes
                :attr:`noise_shapes` with a leading dimension of 1 or ``n``).
            batch_size: the most images per network call.

        Returns:
            Float32 images ``(n, H, W, C)`` in [-1, 1].
        """
        n, _ = self._check_labels(n, labels)
        n, psi = check_int(n, "n"), self._check_psi(truncation_psi)
        batch_size = check_int(batch_size, "batch_size")
        if seed is not None:
            check_seed(seed)
        latents = (
            self.noise((n, self.latent_dim))
            if seed is None
            else tf.random.stateless_normal((n, self.latent_dim), seed=[int(seed), 0])
        )
        maps = self._noise_maps(n, seed) if noise is None else self._fixed_noise(noise, n)
        out = [
            self.synthesize(
                self._broadcast(self._styles_for_sampling(latents[i : i + batch_size], psi)),
                [m[i : i + batch_size] for m in maps],
            )
            for i in range(0, n, batch_size)
        ]
        return np.concatenate(out)

    def style_mix(
        self,
        z_coarse,
        z_fine,
        crossover_layer: int,
        *,
        truncation_psi: float = 1.0,
        noise="zero",
        seed=None,
    ) -> np.ndarray:
        """Images whose layers ``< crossover_layer`` take w(z_coarse) and the rest w(z_fine).

        One pair of latents per row.

        Args:
            z_coarse: latents ``(B, latent_dim)`` for the coarse (early) layers.
            z_fine: latents ``(B, latent_dim)`` for the fine (later) layers.
            crossover_layer: the first layer that takes w(z_fine), in ``0 .. num_styles``
                (0: all from ``z_fine``; ``num_styles``: all from ``z_coarse``).
            truncation_psi: the truncation psi, in [0, 1].
            noise: ``"zero"`` (the default), ``None`` (random) or fixed maps, as for
                :meth:`synthesize`.
            seed: the seed of random noise maps, or ``None``.

        Returns:
            Float32 images ``(B, H, W, C)`` in [-1, 1].
        """
        crossover_layer = check_int(crossover_layer, "crossover_layer", minimum=0)
        if crossover_layer > self.num_styles:
            raise ValueError(
                f"crossover_layer must be in 0..{self.num_styles}, got {crossover_layer}."
            )
        psi = self._check_psi(truncation_psi)
        z_coarse = self._check_latents(z_coarse, "z_coarse")
        z_fine = self._check_latents(z_fine, "z_fine")
        if z_coarse.shape != z_fine.shape:  # one fine latent was broadcast over every row
            raise ValueError(
                f"z_coarse and z_fine must have the same shape (one pair per row), got "
                f"{z_coarse.shape} and {z_fine.shape}."
            )
        ws = self.mix(
            self._styles_for_sampling(z_coarse, psi),
            self._styles_for_sampling(z_fine, psi),
            crossover_layer,
        )
        return self.synthesize(ws, noise, seed)

    def noise_variation(
        self, z, n: int = 8, *, truncation_psi: float = 1.0, seed: int = 0
    ) -> np.ndarray:
        """``n`` images of one latent ``z`` under ``n`` noise draws.

        Args:
            z: one latent, shape ``(latent_dim,)`` or ``(1, latent_dim)``.
            n: the number of noise draws (images).
            truncation_psi: the truncation psi, in [0, 1].
            seed: the seed of the noise maps (a non-negative int).

        Returns:
            Float32 images ``(n, H, W, C)`` in [-1, 1].
        """
        n = check_int(n, "n")
        z = np.asarray(z, np.float32)
        if z.size != self.latent_dim:
            raise ValueError(
                f"z must be one latent, (latent_dim,) or (1, latent_dim) with latent_dim "
                f"{self.latent_dim}, got the shape {z.shape}."
            )
        z = self._check_latents(z.reshape(1, self.latent_dim), "z")
        w = self._styles_for_sampling(np.repeat(z, n, axis=0), self._check_psi(truncation_psi))
        return self.synthesize(self._broadcast(w), seed=seed)

    def export_generator(self, name="stylegan_generator") -> keras.Model:
        """A standalone Keras model ``[latent, truncation_psi, *noise] -> image``.

        It holds the EMA weights and ``w_avg``, for saving (``.keras``) and for
        ``aigc-keras sample --truncation``.

        Args:
            name: the model's name.

        Returns:
            A ``keras.Model`` from ``[latents (B, latent_dim), psi (B, 1), *noise maps
            (B, r, r, 1)]`` to float32 images ``(B, H, W, C)`` (linear, about [-1, 1]; not
            clipped).
        """
        z = keras.Input((self.latent_dim,), name="latent")
        psi = keras.Input((1,), name="truncation_psi")
        noises = [keras.Input(s, name=f"noise_{i}") for i, s in enumerate(self.noise_shapes)]
        truncate = Truncation(self.latent_dim, name="truncation")
        w = truncate([self.mapping_ema(z), psi])
        ws = layers.RepeatVector(self.num_styles, name="broadcast_w")(w)
        model = keras.Model([z, psi, *noises], self.synthesis_ema([ws, *noises]), name=name)
        truncate.w_avg.assign(self.w_avg.numpy())
        return model


def parse_augment(text: str) -> tuple:
    """``--augment``: ``none`` or a comma-separated subset of :data:`~aigc_keras.layers.AUGMENTS`.

    Args:
        text: the option's value, e.g. ``"translation,cutout"`` or ``"none"``.

    Returns:
        The augmentation names as a tuple (empty for ``none``).

    Raises:
        ValueError: an empty value or an unknown name.
    """
    names = tuple(part.strip() for part in text.split(",") if part.strip())
    if names == ("none",):
        return ()
    if not names or any(n not in AUGMENTS for n in names):
        raise ValueError(
            f"augment must be 'none' or a comma-separated subset of "
            f"{','.join(AUGMENTS)}, got {text!r}"
        )
    return names


def sample_exported(network, n: int, *, seed: int = 0, classes=None, truncation=None):
    """Draw ``n`` images from an exported generator ``[latent, truncation_psi, *noise] -> image``.

    Args:
        network: the network :meth:`StyleGAN.export_generator` made (loaded from ``.keras``).
        n: the number of images.
        seed: the seed of the latents and noise maps.
        classes: must be ``None`` (StyleGAN is unconditional).
        truncation: psi in [0, 1] (default 1: no truncation).

    Returns:
        Images in [-1, 1], float32.
    """
    if classes is not None:
        raise ValueError("--classes needs a class-conditional generator.")
    n, seed = check_int(n, "n"), check_seed(seed)
    truncation = check_fraction(1.0 if truncation is None else truncation, "truncation", "[0, 1]")
    rng = np.random.default_rng(seed)
    inputs = network.inputs
    latents = rng.standard_normal((n, inputs[0].shape[1])).astype(np.float32)
    psi = np.full((n, 1), truncation, np.float32)
    noise = [rng.standard_normal((n, *t.shape[1:])).astype(np.float32) for t in inputs[2:]]
    images = network([latents, psi, *noise], training=False)
    return np.clip(keras.ops.convert_to_numpy(images), -1.0, 1.0)


SPECS = (
    ModelSpec(
        "stylegan",
        StyleGAN,
        "sampler",
        "style-based generator, StyleGAN2-style (chapter 5)",
        # scikit-learn's digits: on real MNIST this StyleGAN still collapses to one or two digits
        # at the budgets tried (tests/test_stylegan_quality.py); on these it learns all ten
        dataset="digits",
        image_size=32,
        batch_size=32,
        epochs=40,
        sizes=(32, 64),
        test_config=dict(
            image_size=16, channels=1, latent_dim=16, mapping_layers=2, width=8, max_width=16
        ),
        options=(
            Option(
                "--augment",
                None,
                "differentiable augmentations for small datasets in long "
                "runs: a comma-separated subset of translation,cutout,color, or none "
                "(default: none)",
                parse=parse_augment,
            ),
        ),
        export=lambda model: {"generator.keras": model.export_generator()},
        inputs={
            "latent": "a standard normal vector, one per image",
            "truncation_psi": "truncation psi in [0, 1] (1: none)",
            "noise_*": "per-pixel noise maps, standard normal",
        },
        sampler=sample_exported,
    ),
)
