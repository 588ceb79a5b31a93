"""Chapter 3: variational autoencoders.

* VAE: Kingma and Welling, "Auto-Encoding Variational Bayes" (ICLR 2014).
* beta-VAE: Higgins et al., "beta-VAE: Learning Basic Visual Concepts with a Constrained
  Variational Framework" (ICLR 2017).
* Conditional VAE: Sohn, Lee, Yan, "Learning Structured Output Representation using
  Deep Conditional Generative Models" (NeurIPS 2015).
* VAE-GAN: Larsen, Sønderby, Larochelle, Winther, "Autoencoding beyond pixels using a
  learned similarity metric" (ICML 2016), simplified: pixel reconstruction plus an
  adversarial term (the paper reconstructs in the discriminator's feature space).
* Importance-weighted bound: Burda, Grosse, Salakhutdinov, "Importance Weighted
  Autoencoders" (ICLR 2016), for evaluation (``VAE.likelihood_bounds``).

The loss is ``reconstruction + beta * KL`` with ``reconstruction = -log p(x|z)`` for one
sample ``z ~ q(z|x)`` and ``KL = KL(q(z|x) || N(0, I))``; at ``beta = 1`` it is the negative
ELBO, tracked separately as ``neg_elbo`` whatever ``beta`` is.  Likelihoods:
``"bernoulli"`` (images in [0, 1]; the decoder gives logits) or ``"gaussian"`` (images in
[-1, 1]; the decoder gives the mean, fixed ``sigma``).  ``generate`` and ``decode`` return
the decoder's mean image in the model's ``value_range``.  A Bernoulli likelihood is a
probability only for 0/1 pixels: the chapter trains the VAE and the conditional VAE on
dynamically binarised digits (``data.load(..., binarise=True)``), whose bounds are then in nats.
"""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf
from keras import layers

from .. import losses
from ..spec import ModelSpec
from ..validation import check_images, check_int, check_non_negative, check_seed
from .base import GenerativeModel
from .networks import (
    build_discriminator,
    label_input,
    latent_input,
    upsampling_filters,
    upsampling_plan,
)

LIKELIHOODS = ("bernoulli", "gaussian")


def _flat(latents):
    """Latents as one vector per image, ``(B, size)``: a spatial latent's map is flattened."""
    return tf.reshape(latents, (tf.shape(latents)[0], -1))


def build_encoder(
    image_size, channels, latent_dim, width, num_classes=None, name="encoder", latent_channels=None
):
    """Strided convolutions -> (mean, log-variance) of q(z|x) (and y).

    Args:
        image_size: the image side (see :func:`~aigc_keras.models.networks.upsampling_plan`:
            28, 32, 64, ...).
        channels: the channels of the images.
        latent_dim: the size of the latent vector z.
        width: the filters of the first convolution; they double per layer up to ``4 * width``.
        num_classes: the number of classes of a conditional encoder (which also takes int32
            labels); ``None`` for an unconditional one.
        name: the model's name.
        latent_channels: for a spatial latent, its channels: ``mean`` and ``log_var`` are then
            maps at the smallest resolution (7x7 for 28x28 images, 4x4 for 32 and 64) made by
            3x3 convolutions, and ``latent_dim`` is unused (unconditional only).

    Returns:
        A ``keras.Model`` from images ``(B, H, W, C)`` in the model's value range (and labels
        ``(B,)``) to ``[mean, log_var]``, both float32 ``(B, latent_dim)`` (or
        ``(B, s, s, latent_channels)``).
    """
    _, downs = upsampling_plan(image_size)
    images = keras.Input((image_size, image_size, channels), name="images")
    x = images
    for i in range(downs):
        x = layers.Conv2D(
            width * 2 ** min(i, 2),
            4,
            strides=2,
            padding="same",
            activation="relu",
            name=f"down{i + 1}",
        )(x)  # /2
    if latent_channels:
        mean = layers.Conv2D(latent_channels, 3, padding="same", dtype="float32", name="mean")(x)
        log_var = layers.Conv2D(
            latent_channels, 3, padding="same", dtype="float32", name="log_var"
        )(x)
        return keras.Model(images, [mean, log_var], name=name)
    x = layers.Flatten(name="flatten")(x)
    inputs = [images]
    if num_classes:
        label, one_hot = label_input(num_classes)
        inputs.append(label)
        x = layers.Concatenate(name="with_label")([x, one_hot])
    x = layers.Dense(256, activation="relu", name="hidden")(x)
    mean = layers.Dense(latent_dim, dtype="float32", name="mean")(x)
    log_var = layers.Dense(latent_dim, dtype="float32", name="log_var")(x)
    return keras.Model(inputs if num_classes else images, [mean, log_var], name=name)


def build_decoder(
    image_size, channels, latent_dim, width, num_classes=None, name="decoder", latent_channels=None
):
    """z (and y) -> transposed convolutions -> one value per pixel (logits or mean, see the model).

    Args:
        image_size: the image side (see :func:`~aigc_keras.models.networks.upsampling_plan`).
        channels: the channels of the images.
        latent_dim: the size of the latent vector z.
        width: the base width; the start map has ``width * 2 ** (ups - 1)`` channels.
        num_classes: the number of classes of a conditional decoder (which also takes int32
            labels); ``None`` for an unconditional one.
        name: the model's name.
        latent_channels: for a spatial latent (see :func:`build_encoder`), its channels; a 3x3
            convolution then replaces the dense projection.

    Returns:
        A ``keras.Model`` from latents ``(B, latent_dim)`` or ``(B, s, s, latent_channels)``
        (and labels ``(B,)``) to float32 ``(B, H, W, C)``: Bernoulli logits, or the Gaussian
        mean before its ``tanh``.
    """
    start, ups = upsampling_plan(image_size)
    filters = upsampling_filters(width, ups)
    if latent_channels:
        inputs = z = keras.Input((start, start, latent_channels), name="latent")
        x = layers.Conv2D(filters[0], 3, padding="same", activation="relu", name="project")(z)
    else:
        inputs, z, one_hot = latent_input(latent_dim, num_classes)
        x = z if one_hot is None else layers.Concatenate(name="with_label")([z, one_hot])
        x = layers.Dense(start * start * filters[0], activation="relu", name="project")(x)
        x = layers.Reshape((start, start, filters[0]), name="to_map")(x)  # (start, start, filters)
    for i in range(ups):
        x = layers.Conv2DTranspose(
            filters[i + 1], 4, strides=2, padding="same", activation="relu", name=f"up{i + 1}"
        )(x)  # 2x
    out = layers.Conv2D(channels, 3, padding="same", dtype="float32", name="pixels")(x)
    return keras.Model(inputs, out, name=name)


class VAE(GenerativeModel):
    """Convolutional VAE; ``beta != 1`` gives a beta-VAE.

    ``encode``, ``decode``, ``reconstruct``, ``generate``.

    Args:
        image_size: the image side (28, 32, 64, ...: 7 or 4 times a power of two).
        channels: the channels of the images.
        latent_dim: the size of the latent vector z.
        width: the base width of the encoder and decoder.
        beta: the weight of the KL term (non-negative; 1 is the plain VAE).
        likelihood: ``"bernoulli"`` (images in [0, 1]) or ``"gaussian"`` (images in [-1, 1]).
        sigma: the Gaussian likelihood's fixed standard deviation (positive; unused by the
            Bernoulli one).
        num_classes: the number of classes of a conditional VAE; ``None`` for an unconditional
            one.
        latent_channels: ``None`` for a latent vector of ``latent_dim`` values; a number for a
            spatial latent, a map of that many channels at the encoder's smallest resolution
            (7x7 for 28x28 images), as in the autoencoder of
            :class:`~aigc_keras.models.diffusion.LatentDiffusion` (unconditional only;
            ``latent_dim`` is then unused).
        seed: the seed of the model's noise (a non-negative int).
        **kwargs: passed on to :class:`~aigc_keras.models.base.GenerativeModel` (``name``, ...).
    """

    optimizer_names = ("vae",)
    tracker_list = ("loss", "reconstruction", "kl", "neg_elbo")
    # VAEGAN adds one (all sub-models must exist before the model is built)
    with_discriminator = False

    def __init__(
        self,
        image_size=28,
        channels=1,
        latent_dim=16,
        width=32,
        beta=1.0,
        likelihood="bernoulli",
        sigma=0.1,
        num_classes=None,
        latent_channels=None,
        seed=0,
        **kwargs,
    ):
        super().__init__(trackers=self.tracker_list, seed=seed, **kwargs)
        if likelihood not in LIKELIHOODS:
            raise ValueError(
                f"likelihood must be one of {', '.join(LIKELIHOODS)}, got {likelihood!r}."
            )
        check_non_negative(beta, "beta")
        if not check_non_negative(sigma, "sigma") > 0:
            raise ValueError(f"sigma must be > 0, got {sigma!r}.")
        self.image_size, self.channels = (
            check_int(image_size, "image_size"),
            check_int(channels, "channels"),
        )
        self.latent_dim, self.width = check_int(latent_dim, "latent_dim"), check_int(width, "width")
        self.beta, self.likelihood, self.sigma = float(beta), likelihood, float(sigma)
        self.num_classes = (
            None if num_classes is None else check_int(num_classes, "num_classes", minimum=2)
        )
        self.latent_channels = (
            None if latent_channels is None else check_int(latent_channels, "latent_channels")
        )
        if self.latent_channels and self.num_classes:
            raise ValueError(
                "a spatial latent (latent_channels) is for an unconditional VAE; pass "
                "num_classes=None, or leave latent_channels out for a conditional one."
            )
        self.value_range = (0, 1) if likelihood == "bernoulli" else (-1, 1)
        parts = (image_size, channels, latent_dim, width, self.num_classes)
        spatial = {"latent_channels": self.latent_channels}
        self.encoder = build_encoder(*parts, **spatial)
        self.decoder = build_decoder(*parts, **spatial)
        if self.with_discriminator:
            self.discriminator = build_discriminator(image_size, channels, width)
        example = [np.zeros((1, image_size, image_size, channels), np.float32)]
        if self.num_classes:
            example.append(np.zeros((1,), np.int32))
        self.build_now(*example)

    def get_config(self):
        return {
            **super().get_config(),
            "image_size": self.image_size,
            "channels": self.channels,
            "latent_dim": self.latent_dim,
            "width": self.width,
            "beta": self.beta,
            "likelihood": self.likelihood,
            "sigma": self.sigma,
            "num_classes": self.num_classes,
            "latent_channels": self.latent_channels,
        }

    # --- the pieces ---------------------------------------------------------------------

    def _with_label(self, x, labels):
        return [x, labels] if self.num_classes else x

    def _to_images(self, pixels):
        """Decoder output -> the mean image in ``value_range``."""
        pixels = tf.cast(pixels, tf.float32)
        return tf.sigmoid(pixels) if self.likelihood == "bernoulli" else tf.tanh(pixels)

    def reparameterise(self, mean, log_var):
        """``z = μ + σ ⊙ ε`` with ``ε ~ N(0, I)`` from the model's seeded, per-replica noise.

        Args:
            mean: μ, the posterior means ``(B, latent_dim)``.
            log_var: ``log σ²``, the posterior log-variances ``(B, latent_dim)``.

        Returns:
            One sample ``z ~ q(z|x)`` per row, ``(B, latent_dim)``.
        """
        epsilon = self.noise(tf.shape(mean))
        return mean + tf.exp(0.5 * log_var) * epsilon

    def call(self, images, labels=None, training=False):
        mean, _ = self.encoder(self._with_label(images, labels), training=training)
        return self._to_images(self.decoder(self._with_label(mean, labels), training=training))

    def _reconstruction_nll(self, images, pixels):
        if self.likelihood == "bernoulli":
            return losses.bernoulli_nll(images, pixels)
        return losses.gaussian_nll(images, tf.tanh(tf.cast(pixels, tf.float32)), self.sigma)

    def _vae_losses(self, images, labels, training):
        """The one loss computation shared by train_step and test_step (per-image means)."""
        mean, log_var = self.encoder(self._with_label(images, labels), training=training)
        z = self.reparameterise(mean, log_var)
        pixels = self.decoder(self._with_label(z, labels), training=training)
        reconstruction = tf.reduce_mean(self._reconstruction_nll(images, pixels))
        kl = tf.reduce_mean(losses.gaussian_kl(_flat(mean), _flat(log_var)))
        return {
            "loss": reconstruction + self.beta * kl,
            "reconstruction": reconstruction,
            "kl": kl,
            "neg_elbo": reconstruction + kl,
        }, pixels

    def train_step(self, data):
        images, labels = self.unpack(data)
        with tf.GradientTape() as tape:
            values, _ = self._vae_losses(images, labels, training=True)
            scaled = self.scale_loss("vae", values["loss"])
        self.descend("vae", tape, scaled, self.trainable_variables)
        return self.record(**values)

    def test_step(self, data):
        images, labels = self.unpack(data)
        values, _ = self._vae_losses(images, labels, training=False)
        return self.record(count_step=False, **values)

    def default_optimizers(self):
        """Adam(1e-3) for the encoder and decoder together.

        Returns:
            ``{"vae": Adam}``.
        """
        return {"vae": keras.optimizers.Adam(1e-3)}

    def optimizer_variables(self, name):
        """The variables optimizer ``name`` updates: all of the model's.

        Args:
            name: ``"vae"``.

        Returns:
            The model's trainable variables.
        """
        return self.trainable_variables

    # --- the public sampling API ------------------------------------------------------------

    @property
    def latent_shape(self):
        if self.latent_channels:
            return tuple(self.decoder.inputs[0].shape[1:])
        return (self.latent_dim,)

    def sample_from_latents(self, latents, labels=None):
        """The decoder's mean images for a batch of latents.

        Args:
            latents: latents ``(B, latent_dim)`` (standard normal for samples of the prior).
            labels: int32 class ids ``(B,)`` for a conditional VAE, else ``None``.

        Returns:
            Float32 images ``(B, H, W, C)`` in ``value_range``.
        """
        return self._to_images(self.decoder(self._with_label(latents, labels), training=False))

    def encode(self, images, labels=None):
        """(mean, log-variance) of q(z|x) as NumPy arrays.

        Args:
            images: images ``(N, H, W, C)`` in ``value_range`` ([0, 1] for the Bernoulli
                likelihood, [-1, 1] for the Gaussian one).
            labels: integer class ids ``(N,)`` for a conditional VAE, else ``None``.

        Returns:
            ``(mean, log_var)``, float32 arrays ``(N, latent_dim)``.
        """
        images = check_images(
            images,
            (self.image_size, self.image_size, self.channels),
            value_range=self.value_range,
        )
        _, labels = self._check_labels(len(images), labels)
        images = tf.convert_to_tensor(images)
        labels = None if labels is None else tf.constant(labels, tf.int32)
        mean, log_var = self.encoder(self._with_label(images, labels), training=False)
        return keras.ops.convert_to_numpy(mean), keras.ops.convert_to_numpy(log_var)

    def decode(self, latents, labels=None):
        """The decoder's mean images for latents, as a NumPy array.

        Args:
            latents: latents ``(N, latent_dim)`` (an array or nested sequence).
            labels: integer class ids ``(N,)`` for a conditional VAE, else ``None``.

        Returns:
            Float32 images ``(N, H, W, C)`` in ``value_range``.
        """
        latents = np.asarray(latents, np.float32)
        if latents.shape[1:] != tuple(self.latent_shape) or not np.all(np.isfinite(latents)):
            raise ValueError(
                f"latents must be finite, of shape (N, {', '.join(map(str, self.latent_shape))}); "
                f"got shape {latents.shape}."
            )
        _, labels = self._check_labels(len(latents), labels)
        labels = None if labels is None else tf.constant(labels, tf.int32)
        return keras.ops.convert_to_numpy(
            self.sample_from_latents(tf.convert_to_tensor(latents), labels)
        )

    def image_generator(self) -> keras.Model:
        """The decoder with its output mapped to images in [-1, 1], sharing its weights.

        ``2 sigmoid(l) - 1 = tanh(l / 2)`` for the Bernoulli decoder's logits, ``tanh`` for the
        Gaussian one; this is what the command line saves as ``generator.keras``.

        Returns:
            A ``keras.Model`` from latents ``(B, latent_dim)`` (and int32 labels ``(B,)`` for a
            conditional VAE) to float32 images in [-1, 1].
        """
        half = layers.Rescaling(0.5 if self.likelihood == "bernoulli" else 1.0, name="logit_scale")
        images = layers.Activation("tanh", dtype="float32", name="to_image")(
            half(self.decoder.output)
        )
        return keras.Model(
            self.decoder.inputs if self.num_classes else self.decoder.inputs[0],
            images,
            name="image_generator",
        )

    @property
    def _bounds_fn(self):
        """The traced computation of :meth:`likelihood_bounds`, made once per model (so calls
        with another ``samples`` or batch size reuse it instead of tracing a new function)."""
        if getattr(self, "_bounds_traced", None) is None:
            self._bounds_traced = tf.function(self._bounds, reduce_retracing=True)
        return self._bounds_traced

    def _bounds(self, x, y, epsilon):
        """Per-image negative ELBO and negative IWAE bound for draws
        ``epsilon (b, k, *latent_shape)``."""
        b, k = tf.shape(x)[0], tf.shape(epsilon)[1]
        mean, log_var = self.encoder(self._with_label(x, y), training=False)
        mean, log_var = _flat(mean), _flat(log_var)  # (b, latent size)
        z = mean[:, None] + tf.exp(0.5 * log_var)[:, None] * tf.reshape(epsilon, (b, k, -1))
        flat_y = None if y is None else tf.repeat(y, k)
        pixels = self.decoder(
            self._with_label(tf.reshape(z, (-1, *self.latent_shape)), flat_y), training=False
        )  # (b * k, H, W, C)
        log_px = -tf.reshape(self._reconstruction_nll(tf.repeat(x, k, axis=0), pixels), (b, k))
        log_w = (
            log_px
            + losses.gaussian_log_density(z, 0.0, 0.0)
            - losses.gaussian_log_density(z, mean[:, None], log_var[:, None])
        )
        neg_elbo = -tf.reduce_mean(log_px, axis=1) + losses.gaussian_kl(mean, log_var)
        return neg_elbo, -losses.log_mean_exp(log_w, axis=1)

    def likelihood_bounds(self, images, labels=None, *, samples=100, seed=0, batch_size=2000):
        """Per-image negative ELBO and negative importance-weighted bound, in nats.

        Burda, Grosse, Salakhutdinov, "Importance Weighted Autoencoders" (ICLR 2016).  For each
        image, ``k = samples`` seeded draws ``z_j ~ q(z|x)`` give the log weights
        ``log w_j = log p(x|z_j) + log p(z_j) - log q(z_j|x)``; the IWAE bound is
        ``log (1/k) Σ_j w_j`` (log-sum-exp, so no weight is exponentiated), the ELBO is the
        mean over the same draws of ``log p(x|z_j)`` minus the closed-form KL.  In expectation
        ``ELBO <= IWAE_k <= log p(x)``, and ``IWAE_k`` rises towards ``log p(x)`` as ``k``
        grows.  A nat figure is a likelihood only for the Bernoulli decoder on 0/1 images
        (``data.load_arrays(..., binarise=True)``).

        Args:
            images: images ``(N, H, W, C)`` in ``value_range``.
            labels: integer class ids ``(N,)`` for a conditional VAE, else ``None``.
            samples: ``k``, the draws of ``z`` per image (at least 1).
            seed: the seed of the draws (a non-negative int); with ``batch_size`` it fixes them.
            batch_size: the most decoder passes at once (``samples`` per image); memory grows
                with it.

        Returns:
            ``{"neg_elbo": ..., "neg_iwae": ...}``, float64 arrays ``(N,)``.

        Raises:
            ValueError: images of another shape, or bad labels, samples, seed or batch size.
        """
        images = np.asarray(images, np.float32)
        shape = (self.image_size, self.image_size, self.channels)
        if images.ndim != 4 or images.shape[1:] != shape:
            raise ValueError(
                f"images must have shape (N, {', '.join(map(str, shape))}), got {images.shape}."
            )
        _, labels = self._check_labels(len(images), labels)
        k = check_int(samples, "samples")
        seed = check_seed(seed)
        per_batch = max(1, check_int(batch_size, "batch_size") // k)

        results = {"neg_elbo": [], "neg_iwae": []}
        for first in range(0, len(images), per_batch):
            x = tf.constant(images[first : first + per_batch])
            y = None if labels is None else tf.constant(labels[first : first + per_batch])
            epsilon = tf.random.stateless_normal(
                (len(x), k, *self.latent_shape), seed=[seed, first]
            )  # a fixed draw per batch
            for key, value in zip(results, self._bounds_fn(x, y, epsilon), strict=True):
                results[key].append(value.numpy())
        return {key: np.concatenate(value).astype(np.float64) for key, value in results.items()}

    def reconstruct(self, images, labels=None):
        """Decode the posterior mean of each image.

        Args:
            images: images ``(N, H, W, C)`` in ``value_range``.
            labels: integer class ids ``(N,)`` for a conditional VAE, else ``None``.

        Returns:
            Float32 reconstructions ``(N, H, W, C)`` in ``value_range``.
        """
        return self.decode(self.encode(images, labels)[0], labels)


class ConditionalVAE(VAE):
    """VAE whose encoder and decoder both see the class label; ``generate(labels=[...])``.

    Args:
        image_size: the image side (28, 32, 64, ...: 7 or 4 times a power of two).
        channels: the channels of the images.
        num_classes: the number of classes (at least 2); training batches are
            ``(images, labels)`` with integer labels in ``0 .. num_classes - 1``.
        latent_dim: the size of the latent vector z.
        width: the base width of the encoder and decoder.
        beta: the weight of the KL term (non-negative).
        likelihood: ``"bernoulli"`` (images in [0, 1]) or ``"gaussian"`` (images in [-1, 1]).
        sigma: the Gaussian likelihood's fixed standard deviation (positive).
        seed: the seed of the model's noise (a non-negative int).
        **kwargs: passed on to :class:`~aigc_keras.models.base.GenerativeModel`.
    """

    def __init__(
        self,
        image_size=28,
        channels=1,
        num_classes=10,
        latent_dim=16,
        width=32,
        beta=1.0,
        likelihood="bernoulli",
        sigma=0.1,
        seed=0,
        **kwargs,
    ):
        super().__init__(
            image_size=image_size,
            channels=channels,
            latent_dim=latent_dim,
            width=width,
            beta=beta,
            likelihood=likelihood,
            sigma=sigma,
            num_classes=num_classes,
            seed=seed,
            **kwargs,
        )


class VAEGAN(VAE):
    """VAE whose decoder is also a GAN generator against a discriminator (three optimizers).

    * encoder: ``reconstruction + beta * KL``;
    * decoder: ``reconstruction + gamma * (non-saturating loss on decoded prior samples and
      on reconstructions)``;
    * discriminator: real images against reconstructions and decoded prior samples.

    Args:
        image_size: the image side (28, 32, 64, ...: 7 or 4 times a power of two).
        channels: the channels of the images.
        latent_dim: the size of the latent vector z.
        width: the base width of the encoder, decoder and discriminator.
        beta: the weight of the KL term (non-negative).
        gamma: the weight of the adversarial term in the decoder's loss (non-negative).
        likelihood: ``"bernoulli"`` (images in [0, 1]) or ``"gaussian"`` (images in [-1, 1]).
        sigma: the Gaussian likelihood's fixed standard deviation (positive).
        seed: the seed of the model's noise (a non-negative int).
        **kwargs: passed on to :class:`~aigc_keras.models.base.GenerativeModel`.
    """

    optimizer_names = ("encoder", "decoder", "discriminator")
    tracker_list = ("loss", "reconstruction", "kl", "neg_elbo", "d_loss", "g_loss")
    with_discriminator = True

    def __init__(
        self,
        image_size=28,
        channels=1,
        latent_dim=16,
        width=32,
        beta=1.0,
        gamma=0.05,
        likelihood="bernoulli",
        sigma=0.1,
        seed=0,
        **kwargs,
    ):
        self.gamma = check_non_negative(gamma, "gamma")
        super().__init__(
            image_size=image_size,
            channels=channels,
            latent_dim=latent_dim,
            width=width,
            beta=beta,
            likelihood=likelihood,
            sigma=sigma,
            num_classes=None,
            seed=seed,
            **kwargs,
        )

    def get_config(self):
        return {**super().get_config(), "gamma": self.gamma}

    def default_optimizers(self):
        """Adam(β1 = 0.5): 1e-3 for the encoder and decoder, 2e-4 for the discriminator.

        Returns:
            ``{"encoder": Adam, "decoder": Adam, "discriminator": Adam}``.
        """
        return {
            name: keras.optimizers.Adam(1e-3 if name != "discriminator" else 2e-4, beta_1=0.5)
            for name in self.optimizer_names
        }

    def optimizer_variables(self, name):
        """The trainable variables of the network that optimizer ``name`` updates.

        Args:
            name: ``"encoder"``, ``"decoder"`` or ``"discriminator"``.

        Returns:
            That network's trainable variables.
        """
        return getattr(self, name).trainable_variables

    def _critic_input(self, images):
        """The discriminator sees images in [-1, 1]."""
        images = tf.cast(images, tf.float32)
        return images * 2.0 - 1.0 if self.value_range == (0, 1) else images

    def _vaegan_losses(self, images, training):
        values, pixels = self._vae_losses(images, None, training)
        prior = self.noise((tf.shape(images)[0], *self.latent_shape))
        decoded = [self._to_images(pixels), self._to_images(self.decoder(prior, training=training))]
        real_logits = self.discriminator(self._critic_input(images), training=training)
        fake_logits = [
            self.discriminator(self._critic_input(x), training=training) for x in decoded
        ]
        values["d_loss"] = 0.5 * sum(losses.discriminator_loss(real_logits, f) for f in fake_logits)
        values["g_loss"] = 0.5 * sum(losses.generator_loss(f) for f in fake_logits)
        return values

    def train_step(self, data):
        images, _ = self.unpack(data)
        with tf.GradientTape() as e_tape, tf.GradientTape() as g_tape, tf.GradientTape() as d_tape:
            values = self._vaegan_losses(images, training=True)
            e_scaled = self.scale_loss("encoder", values["loss"])
            g_scaled = self.scale_loss(
                "decoder", values["reconstruction"] + self.gamma * values["g_loss"]
            )
            d_scaled = self.scale_loss("discriminator", values["d_loss"])
        self.descend("encoder", e_tape, e_scaled, self.encoder.trainable_variables)
        self.descend("decoder", g_tape, g_scaled, self.decoder.trainable_variables)
        self.descend("discriminator", d_tape, d_scaled, self.discriminator.trainable_variables)
        return self.record(**values)

    def test_step(self, data):
        images, _ = self.unpack(data)
        return self.record(count_step=False, **self._vaegan_losses(images, training=False))


def export_decoder(model) -> dict:
    """The network ``aigc-keras train`` saves: the decoder as latent (, label) -> image in [-1, 1].

    Args:
        model: a trained :class:`VAE`, :class:`ConditionalVAE` or :class:`VAEGAN`.

    Returns:
        ``{"generator.keras": model.image_generator()}``.
    """
    return {"generator.keras": model.image_generator()}


_SMALL = {"width": 8, "latent_dim": 4}
_COMMON = dict(
    value_range=(0, 1),
    sizes=(28, 32, 64),
    epochs=40,
    export=export_decoder,
    inputs={
        "latent": "a standard normal vector, one per image",
        "label": "the class of each image (an integer)",
    },
)
SPECS = (
    ModelSpec(
        "vae", VAE, "sampler", "variational autoencoder (chapter 3)", test_config=_SMALL, **_COMMON
    ),
    ModelSpec(
        "cvae",
        ConditionalVAE,
        "conditional sampler",
        "conditional VAE (chapter 3)",
        test_config=_SMALL,
        **_COMMON,
    ),
    ModelSpec(
        "vaegan",
        VAEGAN,
        "sampler",
        "VAE with a GAN critic on its samples (chapter 3)",
        test_config=_SMALL,
        **_COMMON,
    ),
)
