"""Chapter 2: DCGAN, conditional GAN and WGAN-GP on the shared training core.

* GAN: Goodfellow et al., "Generative Adversarial Nets" (NeurIPS 2014).
* DCGAN: Radford, Metz, Chintala, "Unsupervised Representation Learning with Deep
  Convolutional Generative Adversarial Networks" (ICLR 2016).
* Conditional GAN: Mirza and Osindero (2014); projection discriminator: Miyato and
  Koyama, "cGANs with Projection Discriminator" (ICLR 2018).
* WGAN: Arjovsky, Chintala, Bottou (ICML 2017); WGAN-GP: Gulrajani et al., "Improved
  Training of Wasserstein GANs" (NeurIPS 2017).

Images are expected in [-1, 1] (the generators end in tanh).  Batch normalisation in the
generators is per replica under ``MirroredStrategy`` (not synchronised).
"""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf
from keras import layers

from .. import losses
from ..spec import ModelSpec
from ..validation import check_fraction, check_int, check_non_negative
from .base import GenerativeModel
from .networks import build_discriminator, latent_input, upsampling_filters, upsampling_plan


def build_generator(
    image_size=28, channels=1, latent_dim=64, width=64, num_classes=None, name="generator"
):
    """Transposed-convolution generator with batch norm: z (and a label) -> image in [-1, 1].

    Args:
        image_size: the image side (see :func:`~aigc_keras.models.networks.upsampling_plan`:
            28, 32, 64, ...).
        channels: the channels of the images.
        latent_dim: the size of the latent vector z.
        width: the base width; the start map has ``width * 2 ** (ups - 1)`` channels.
        num_classes: the number of classes of a class-conditional generator; ``None`` for an
            unconditional one.
        name: the model's name.

    Returns:
        A ``keras.Model`` from latents ``(B, latent_dim)`` (and int32 labels ``(B,)`` when
        conditional) to float32 images ``(B, image_size, image_size, channels)`` in [-1, 1].
    """
    start, ups = upsampling_plan(image_size)
    inputs, z, one_hot = latent_input(latent_dim, num_classes)
    x = z
    if num_classes:
        embedded = layers.Dense(32, use_bias=False, name="label_embedding")(one_hot)  # (batch, 32)
        x = layers.Concatenate(name="latent_and_label")([z, embedded])
    filters = upsampling_filters(width, ups)
    x = layers.Dense(start * start * filters[0], use_bias=False, name="project")(x)
    x = layers.Reshape((start, start, filters[0]), name="to_map")(x)  # (start, start, filters)
    x = layers.BatchNormalization(name="project_bn")(x)
    x = layers.ReLU(name="project_relu")(x)
    for i in range(ups):
        x = layers.Conv2DTranspose(
            filters[i + 1], 4, strides=2, padding="same", use_bias=False, name=f"up{i + 1}"
        )(x)  # 2x
        x = layers.BatchNormalization(name=f"up{i + 1}_bn")(x)
        x = layers.ReLU(name=f"up{i + 1}_relu")(x)
    images = layers.Conv2D(
        channels, 3, padding="same", activation="tanh", dtype="float32", name="to_image"
    )(x)
    return keras.Model(inputs, images, name=name)


class _AdversarialModel(GenerativeModel):
    """What DCGAN, ConditionalGAN and WGANGP share: sub-models, optimizers, sampling, config.

    Sampling and export use ``generator_ema``, the exponential moving average of the generator's
    weights (Yazıcı et al., "The Unusual Effectiveness of Averaging in GAN Training", ICLR 2019),
    updated after every generator step with :meth:`~GenerativeModel.ema_beta`'s ramped-up decay
    (``ema_decay`` 0.999 at most, half-life ``ema_rampup`` = 5% of the steps done).  A GAN's
    generator keeps moving around the equilibrium; its average moves less: on MNIST the
    conditional GAN's class agreement at data seeds 0 / 1 read 0.927 / 0.874 from the live
    generator after 1,240 steps and 0.913 / 0.801 after 1,550, and 0.932 / 0.928 and
    0.968 / 0.949 from the average.  ``ema_decay=0`` samples the live generator.
    """

    optimizer_names = ("generator", "discriminator")
    trackers_used: tuple = ()
    critic_norm = None
    critic_dropout = 0.3
    default_learning_rate = 2e-4
    default_beta_1 = 0.5
    default_beta_2 = 0.999

    def __init__(
        self,
        image_size=28,
        channels=1,
        latent_dim=64,
        width=64,
        num_classes=None,
        ema_decay=0.999,
        ema_rampup=0.05,
        seed=0,
        **kwargs,
    ):
        super().__init__(trackers=self.trackers_used, seed=seed, **kwargs)
        self.set_moving_average(ema_decay, ema_rampup)
        self.image_size, self.channels = (
            check_int(image_size, "image_size"),
            check_int(channels, "channels"),
        )
        self.latent_dim, self.width = check_int(latent_dim, "latent_dim"), check_int(width, "width")
        self.num_classes = (
            None if num_classes is None else check_int(num_classes, "num_classes", minimum=2)
        )
        self.generator = build_generator(image_size, channels, latent_dim, width, self.num_classes)
        self.generator_ema = build_generator(
            image_size, channels, latent_dim, width, self.num_classes, name="generator_ema"
        )
        self.generator_ema.set_weights(self.generator.get_weights())
        self.generator_ema.trainable = False
        self.discriminator = build_discriminator(
            image_size,
            channels,
            width,
            self.num_classes,
            norm=self.critic_norm,
            dropout=self.critic_dropout,
        )
        example = [np.zeros((1, latent_dim), np.float32)]
        if self.num_classes:
            example.append(np.zeros((1,), np.int32))
        self.build_now(*example)

    def call(self, latents, labels=None, training=False):
        if self.num_classes:
            return self.generator([latents, labels], training=training)
        return self.generator(latents, training=training)

    def get_config(self):
        return {
            **super().get_config(),
            "image_size": self.image_size,
            "channels": self.channels,
            "latent_dim": self.latent_dim,
            "width": self.width,
            "num_classes": self.num_classes,
            "ema_decay": self.ema_decay,
            "ema_rampup": self.ema_rampup,
        }

    @property
    def latent_shape(self):
        return (self.latent_dim,)

    def sample_from_latents(self, latents, labels=None):
        """Images from latents with the averaged generator (``generator_ema``) in inference mode.

        Args:
            latents: standard normal latents ``(B, latent_dim)``.
            labels: int32 class ids ``(B,)`` for a conditional model, else ``None``.

        Returns:
            Float32 images ``(B, H, W, C)`` in [-1, 1].
        """
        if self.num_classes:
            return self.generator_ema([latents, labels], training=False)
        return self.generator_ema(latents, training=False)

    def _average_generator(self):
        """One step of the generator's moving average (after each generator update)."""
        self.update_moving_average(self.generator_ema.weights, self.generator.weights)

    def default_optimizers(self):
        """Adam for both networks with the model's learning rate and betas.

        Returns:
            ``{"generator": Adam, "discriminator": Adam}``.
        """

        def make():
            return keras.optimizers.Adam(
                self.default_learning_rate,
                beta_1=self.default_beta_1,
                beta_2=self.default_beta_2,
            )

        return {"generator": make(), "discriminator": make()}

    def optimizer_variables(self, name):
        """The trainable variables of the network that optimizer ``name`` updates.

        Args:
            name: ``"generator"`` or ``"discriminator"``.

        Returns:
            That network's trainable variables.
        """
        return getattr(self, name).trainable_variables

    def _score(self, images, labels, training):
        if self.num_classes:
            return self.discriminator([images, labels], training=training)
        return self.discriminator(images, training=training)


class DCGAN(_AdversarialModel):
    """Deep convolutional GAN with the non-saturating generator loss.

    Discriminator: maximise ``E[log D(x)] + E[log(1 - D(G(z)))]`` (binary cross-entropy,
    optionally with one-sided label smoothing).  Generator: minimise ``-E[log D(G(z))]``.
    Both networks are updated from the same forward pass each step.

    Args:
        image_size: the image side (28, 32, 64, ...: 7 or 4 times a power of two).
        channels: the channels of the images, which are expected in [-1, 1].
        latent_dim: the size of the latent vector z.
        width: the base width of both networks.
        label_smoothing: the discriminator's target for real images is ``1 - label_smoothing``,
            in [0, 1).
        seed: the seed of the model's noise (a non-negative int).
        **kwargs: ``ema_decay`` (0.999) and ``ema_rampup`` (0.05), the generator's moving
            average (see :meth:`~aigc_keras.models.base.GenerativeModel.ema_beta`), and what
            :class:`~aigc_keras.models.base.GenerativeModel` takes (``name``, ...);
            ``num_classes`` is :class:`ConditionalGAN`'s.
    """

    trackers_used = ("d_loss", "g_loss", "d_real", "d_fake")

    def __init__(
        self,
        image_size=28,
        channels=1,
        latent_dim=64,
        width=64,
        label_smoothing=0.0,
        seed=0,
        **kwargs,
    ):
        self.label_smoothing = check_fraction(label_smoothing, "label_smoothing", "[0, 1)")
        super().__init__(
            image_size=image_size,
            channels=channels,
            latent_dim=latent_dim,
            width=width,
            num_classes=kwargs.pop("num_classes", None),
            seed=seed,
            **kwargs,
        )

    def get_config(self):
        return {**super().get_config(), "label_smoothing": self.label_smoothing}

    def _gan_losses(self, real, labels, latents, training):
        """The one loss computation shared by train_step and test_step."""
        fake = self(latents, labels, training=training)
        real_logits = self._score(real, labels, training)
        fake_logits = self._score(fake, labels, training)
        return {
            "d_loss": losses.discriminator_loss(
                real_logits, fake_logits, label_smoothing=self.label_smoothing
            ),
            "g_loss": losses.generator_loss(fake_logits),
            "d_real": tf.reduce_mean(tf.sigmoid(tf.cast(real_logits, tf.float32))),
            "d_fake": tf.reduce_mean(tf.sigmoid(tf.cast(fake_logits, tf.float32))),
        }

    def train_step(self, data):
        real, labels = self.unpack(data)
        latents = self.noise((tf.shape(real)[0], self.latent_dim))
        with tf.GradientTape() as d_tape, tf.GradientTape() as g_tape:
            values = self._gan_losses(real, labels, latents, training=True)
            d_scaled = self.scale_loss("discriminator", values["d_loss"])
            g_scaled = self.scale_loss("generator", values["g_loss"])
        self.descend("discriminator", d_tape, d_scaled, self.discriminator.trainable_variables)
        self.descend("generator", g_tape, g_scaled, self.generator.trainable_variables)
        self._average_generator()
        return self.record(**values)

    def test_step(self, data):
        real, labels = self.unpack(data)
        latents = self.noise((tf.shape(real)[0], self.latent_dim))
        return self.record(
            count_step=False, **self._gan_losses(real, labels, latents, training=False)
        )


class ConditionalGAN(DCGAN):
    """Class-conditional DCGAN: label embedding into the generator, projection discriminator.

    ``generate(labels=[...])`` draws images of the requested classes.

    Args:
        image_size: the image side (28, 32, 64, ...: 7 or 4 times a power of two).
        channels: the channels of the images, which are expected in [-1, 1].
        num_classes: the number of classes (at least 2); training batches are
            ``(images, labels)`` with integer labels in ``0 .. num_classes - 1``.
        latent_dim: the size of the latent vector z.
        width: the base width of both networks.
        label_smoothing: the discriminator's target for real images is ``1 - label_smoothing``,
            in [0, 1).
        seed: the seed of the model's noise (a non-negative int).
        **kwargs: ``ema_decay`` and ``ema_rampup`` (the generator's moving average, as in
            :class:`DCGAN`) and what :class:`~aigc_keras.models.base.GenerativeModel` takes.
    """

    def __init__(
        self,
        image_size=28,
        channels=1,
        num_classes=10,
        latent_dim=64,
        width=64,
        label_smoothing=0.0,
        seed=0,
        **kwargs,
    ):
        super().__init__(
            image_size=image_size,
            channels=channels,
            latent_dim=latent_dim,
            width=width,
            label_smoothing=label_smoothing,
            seed=seed,
            num_classes=num_classes,
            **kwargs,
        )


class WGANGP(_AdversarialModel):
    """Wasserstein GAN with gradient penalty: ``n_critic`` critic updates per generator update.

    Critic (no sigmoid, layer norm instead of batch norm): minimise
    ``E[D(G(z))] - E[D(x)] + λ E[(||∇_x̂ D(x̂)||_2 - 1)^2]`` with ``x̂ = ε x + (1 - ε) G(z)``,
    ``ε ~ U[0, 1]`` per sample.  Generator: minimise ``-E[D(G(z))]``.  Each critic update
    uses the same real batch with fresh noise.  Adam(1e-4, β1 = 0, β2 = 0.9) as in the paper.

    Args:
        image_size: the image side (28, 32, 64, ...: 7 or 4 times a power of two).
        channels: the channels of the images, which are expected in [-1, 1].
        latent_dim: the size of the latent vector z.
        width: the base width of both networks.
        n_critic: the critic updates per generator update (a positive int).
        gp_weight: λ, the weight of the gradient penalty (non-negative).
        seed: the seed of the model's noise (a non-negative int).
        **kwargs: ``ema_decay`` and ``ema_rampup`` (the generator's moving average, as in
            :class:`DCGAN`) and what :class:`~aigc_keras.models.base.GenerativeModel` takes.
    """

    trackers_used = ("d_loss", "g_loss", "gp", "w_distance")
    critic_norm = "layer"
    critic_dropout = 0.0
    default_learning_rate = 1e-4
    default_beta_1 = 0.0
    default_beta_2 = 0.9

    def __init__(
        self,
        image_size=28,
        channels=1,
        latent_dim=64,
        width=64,
        n_critic=5,
        gp_weight=10.0,
        seed=0,
        num_classes=None,
        **kwargs,
    ):
        if num_classes is not None:
            raise ValueError(
                f"WGANGP is unconditional: num_classes must be None, got {num_classes!r} (the "
                "class-conditional GAN is ConditionalGAN)."
            )
        self.n_critic = check_int(n_critic, "n_critic")
        self.gp_weight = check_non_negative(gp_weight, "gp_weight")
        super().__init__(
            image_size=image_size,
            channels=channels,
            latent_dim=latent_dim,
            width=width,
            num_classes=None,
            seed=seed,
            **kwargs,
        )

    def get_config(self):
        return {**super().get_config(), "n_critic": self.n_critic, "gp_weight": self.gp_weight}

    def _critic_losses(self, real, latents, training):
        """Critic loss terms (shared by train_step and test_step)."""
        fake = self(latents, training=training)
        real_scores = self.discriminator(real, training=training)
        fake_scores = self.discriminator(fake, training=training)
        epsilon = self.noise((tf.shape(real)[0], 1, 1, 1), "uniform")
        gp = losses.gradient_penalty(
            lambda x: self.discriminator(x, training=training), real, fake, epsilon
        )
        w_loss = losses.wasserstein_critic_loss(real_scores, fake_scores)
        return {"d_loss": w_loss + self.gp_weight * gp, "gp": gp, "w_distance": -w_loss}

    def _generator_loss(self, latents, training):
        return losses.wasserstein_generator_loss(
            self.discriminator(self(latents, training=training), training=training)
        )

    def train_step(self, data):
        real, _ = self.unpack(data)
        batch = tf.shape(real)[0]
        values = {}
        for _ in range(self.n_critic):
            with tf.GradientTape() as tape:
                values = self._critic_losses(
                    real, self.noise((batch, self.latent_dim)), training=True
                )
                scaled = self.scale_loss("discriminator", values["d_loss"])
            self.descend("discriminator", tape, scaled, self.discriminator.trainable_variables)
        with tf.GradientTape() as tape:
            g_loss = self._generator_loss(self.noise((batch, self.latent_dim)), training=True)
            scaled = self.scale_loss("generator", g_loss)
        self.descend("generator", tape, scaled, self.generator.trainable_variables)
        self._average_generator()
        return self.record(g_loss=g_loss, **values)

    def test_step(self, data):
        real, _ = self.unpack(data)
        latents = self.noise((tf.shape(real)[0], self.latent_dim))
        values = self._critic_losses(real, latents, training=False)
        return self.record(
            count_step=False, g_loss=self._generator_loss(latents, training=False), **values
        )


def export_generator(model) -> dict:
    """The network ``aigc-keras train`` saves: the averaged generator (``generator_ema``), latent
    (, label) -> image in [-1, 1].

    Args:
        model: a trained :class:`DCGAN`, :class:`ConditionalGAN` or :class:`WGANGP`.

    Returns:
        ``{"generator.keras": model.generator_ema}``.
    """
    return {"generator.keras": model.generator_ema}


_SMALL = {"width": 8, "latent_dim": 8}
_COMMON = dict(
    sizes=(28, 32, 64),
    export=export_generator,
    inputs={
        "latent": "a standard normal vector, one per image",
        "label": "the class of each image (an integer)",
    },
)
SPECS = (
    ModelSpec(
        "dcgan",
        DCGAN,
        "sampler",
        "DCGAN, the non-saturating GAN (chapter 2)",
        epochs=40,
        test_config=_SMALL,
        **_COMMON,
    ),
    ModelSpec(
        "cgan",
        ConditionalGAN,
        "conditional sampler",
        "class-conditional GAN with a projection discriminator (chapter 2)",
        epochs=40,
        test_config=_SMALL,
        **_COMMON,
    ),
    ModelSpec(
        "wgan-gp",
        WGANGP,
        "sampler",
        "Wasserstein GAN with gradient penalty (chapter 2)",
        epochs=15,
        test_config={**_SMALL, "n_critic": 2},
        **_COMMON,
    ),
)
