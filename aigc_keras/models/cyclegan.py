"""Chapter 4: CycleGAN, unpaired image-to-image translation.

Zhu, Park, Isola, Efros, "Unpaired Image-to-Image Translation using Cycle-Consistent
Adversarial Networks" (ICCV 2017).  Generator: the residual network of Johnson, Alahi,
Fei-Fei (ECCV 2016) with instance normalisation and reflection padding; discriminator:
the PatchGAN of Isola et al. (CVPR 2017); adversarial loss: least squares (Mao et al.
2017); a history pool of generated images for each discriminator (Shrivastava et al. 2017).

Two generators, ``G: A -> B`` (``generator_ab``) and ``F: B -> A`` (``generator_ba``), and two
discriminators, ``D_B`` and ``D_A``.  The full objective the generators minimise is

    L = L_GAN(G, D_B) + L_GAN(F, D_A) + λ (E|F(G(a)) - a| + E|G(F(b)) - b|)
        + 0.5 λ (E|G(b) - b| + E|F(a) - a|)

with ``λ = 10``; each discriminator minimises its own least-squares loss on real images and
on images from its pool.  Images are expected in [-1, 1] (the generators end in tanh), the
same channel count in both domains (the identity term feeds B images to G).
"""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf
from keras import layers

from .. import losses
from ..layers import ImagePool, ReflectionPadding2D, instance_norm
from ..spec import ModelSpec, Option
from ..validation import (
    check_fraction,
    check_images,
    check_int,
    check_non_negative,
    check_positive,
)
from .base import GenerativeModel
from .networks import build_patch_discriminator, patch_layers, patch_receptive_field, residual_block

DIRECTIONS = ("a2b", "b2a")


def residual_blocks_for(image_size: int) -> int:
    """The paper's 6 residual blocks at 128x128 and 9 at 256x256 and above; 3 below 128x128.

    Below 128 the bottleneck map is at most 16x16 (8x8 at 32x32); three blocks (six 3x3
    convolutions) already let each bottleneck unit see 13x13 of its neighbours, and they halve the
    generator's cost, which is what a CPU run feels.

    Args:
        image_size: the image side, in pixels.

    Returns:
        The number of residual blocks: 3, 6 or 9.
    """
    return 9 if image_size >= 256 else 6 if image_size >= 128 else 3


def build_resnet_generator(image_size=64, channels=3, ngf=64, n_blocks=None, name="generator"):
    """c7s1-ngf, d2ngf, d4ngf, R4ngf x n_blocks, u2ngf, ungf, c7s1-channels (tanh).

    The output shape is the input shape.

    Args:
        image_size: the image side: a multiple of 4, at least 16.
        channels: the channels of the images.
        ngf: the filters of the first convolution (64 in the paper).
        n_blocks: the number of residual blocks (non-negative); ``None`` takes
            :func:`residual_blocks_for` of ``image_size``.
        name: the model's name.

    Returns:
        A ``keras.Model`` from images ``(B, H, W, C)`` in [-1, 1] to float32 images of the same
        shape in [-1, 1].

    Raises:
        ValueError: an unsupported ``image_size``.
    """
    image_size = check_int(image_size, "image_size")
    if image_size % 4 or image_size < 16:
        raise ValueError(
            f"image_size {image_size} is not supported by the ResNet generator: "
            "use a multiple of 4 of at least 16 (it downsamples twice by 2)."
        )
    n_blocks = (
        residual_blocks_for(image_size)
        if n_blocks is None
        else check_int(n_blocks, "n_blocks", minimum=0)
    )
    images = keras.Input((image_size, image_size, channels), name="images")
    x = ReflectionPadding2D(3, name="stem_pad")(images)  # H + 6
    x = layers.Conv2D(ngf, 7, name="stem_conv")(x)  # (H, W, ngf)
    x = instance_norm("stem_norm")(x)
    x = layers.ReLU(name="stem_relu")(x)
    for i, filters in enumerate((2 * ngf, 4 * ngf)):
        x = layers.Conv2D(filters, 3, strides=2, padding="same", name=f"down{i + 1}")(x)  # /2
        x = instance_norm(f"down{i + 1}_norm")(x)
        x = layers.ReLU(name=f"down{i + 1}_relu")(x)
    for i in range(n_blocks):
        x = residual_block(x, 4 * ngf, name=f"res{i + 1}")  # (H/4, W/4, 4 ngf)
    for i, filters in enumerate((2 * ngf, ngf)):
        x = layers.Conv2DTranspose(filters, 3, strides=2, padding="same", name=f"up{i + 1}")(
            x
        )  # 2x
        x = instance_norm(f"up{i + 1}_norm")(x)
        x = layers.ReLU(name=f"up{i + 1}_relu")(x)
    x = ReflectionPadding2D(3, name="head_pad")(x)
    outputs = layers.Conv2D(channels, 7, activation="tanh", dtype="float32", name="to_image")(
        x
    )  # (H, W, C)
    return keras.Model(images, outputs, name=name)


@keras.saving.register_keras_serializable(package="aigc_keras")
class ConstantThenLinearDecay(keras.optimizers.schedules.LearningRateSchedule):
    """The paper's schedule: ``learning_rate`` for ``constant_steps``, then linear to 0.

    The rate reaches 0 at ``total_steps`` and stays there.

    Args:
        learning_rate: the initial learning rate.
        total_steps: the step at which the rate reaches 0 (a positive int).
        constant_steps: the steps at the full rate, below ``total_steps``.
    """

    def __init__(self, learning_rate: float, total_steps: int, constant_steps: int):
        self.learning_rate = float(learning_rate)
        self.total_steps = check_int(total_steps, "total_steps")
        self.constant_steps = check_int(constant_steps, "constant_steps", minimum=0)
        if self.constant_steps >= self.total_steps:
            raise ValueError(
                f"constant_steps ({constant_steps}) must be below total_steps ({total_steps})."
            )

    def __call__(self, step):
        step = tf.cast(step, "float32")
        decay = (step - self.constant_steps) / float(self.total_steps - self.constant_steps)
        return self.learning_rate * tf.clip_by_value(1.0 - decay, 0.0, 1.0)

    def get_config(self):
        return {
            "learning_rate": self.learning_rate,
            "total_steps": self.total_steps,
            "constant_steps": self.constant_steps,
        }


def make_optimizers(total_steps=None, learning_rate=2e-4, constant_fraction=0.5):
    """Four Adam(β1 = 0.5) optimizers, one per CycleGAN network.

    With ``total_steps`` the rate is constant for ``constant_fraction`` of them and then decays
    linearly to zero (100 + 100 epochs in the paper).

    Args:
        total_steps: the training steps of the whole run, or ``None`` for a constant rate.
        learning_rate: the initial learning rate.
        constant_fraction: the fraction of ``total_steps`` at the full rate, in [0, 1).

    Returns:
        A dict from each of :attr:`CycleGAN.optimizer_names` to a new Adam optimizer.
    """
    check_fraction(constant_fraction, "constant_fraction", "[0, 1)")
    rate = learning_rate = check_positive(learning_rate, "learning_rate")
    if total_steps is not None:
        total_steps = check_int(total_steps, "total_steps")
        rate = ConstantThenLinearDecay(
            learning_rate, total_steps, int(constant_fraction * total_steps)
        )
    return {name: keras.optimizers.Adam(rate, beta_1=0.5) for name in CycleGAN.optimizer_names}


class CycleGAN(GenerativeModel):
    """Unpaired translation between domains A and B.

    Trains on ``(a, b)`` batches of images in [-1, 1] (see ``data.load_unpaired``).
    ``translate(images, "a2b")`` applies G, ``translate(images, "b2a")`` applies F.  The PatchGAN's
    depth follows :func:`~aigc_keras.models.networks.patch_layers` (16x16 patches at 32x32, 34x34
    at 64x64, the paper's 70x70 at 128x128 and above); ``n_blocks`` follows
    :func:`residual_blocks_for`.  ``identity_weight`` is relative to ``cycle_weight``: the identity
    term weighs ``identity_weight * cycle_weight`` (0.5 λ by default), and ``cycle_weight=0``
    removes both.

    Args:
        image_size: the image side of both domains: a multiple of 4, at least 16.
        channels: the channels of both domains' images.
        ngf: the generators' base width (64 in the paper).
        ndf: the discriminators' base width (64 in the paper).
        n_blocks: the generators' residual blocks; ``None`` takes :func:`residual_blocks_for`.
        cycle_weight: λ, the weight of the cycle-consistency term (non-negative).
        identity_weight: the identity term's weight relative to ``cycle_weight``
            (non-negative).
        pool_size: the generated images each discriminator's history pool keeps (0: no pool).
        seed: the seed of the model's noise (a non-negative int).
        **kwargs: passed on to :class:`~aigc_keras.models.base.GenerativeModel` (``name``, ...).
    """

    optimizer_names = ("generator_ab", "generator_ba", "discriminator_a", "discriminator_b")
    trackers_used = ("g_loss", "adv_ab", "adv_ba", "cycle", "identity", "d_a_loss", "d_b_loss")

    def __init__(
        self,
        image_size=64,
        channels=3,
        ngf=64,
        ndf=64,
        n_blocks=None,
        cycle_weight=10.0,
        identity_weight=0.5,
        pool_size=50,
        seed=0,
        **kwargs,
    ):
        super().__init__(trackers=self.trackers_used, seed=seed, **kwargs)
        self.image_size, self.channels = (
            check_int(image_size, "image_size"),
            check_int(channels, "channels"),
        )
        self.ngf, self.ndf = check_int(ngf, "ngf"), check_int(ndf, "ndf")
        self.n_blocks = (
            residual_blocks_for(self.image_size)
            if n_blocks is None
            else check_int(n_blocks, "n_blocks", 0)
        )
        self.cycle_weight = check_non_negative(cycle_weight, "cycle_weight")
        self.identity_weight = check_non_negative(identity_weight, "identity_weight")
        self.pool_size = check_int(pool_size, "pool_size", minimum=0)
        shape = (self.image_size, self.image_size, self.channels)

        def make_g(name):
            return build_resnet_generator(
                self.image_size, self.channels, self.ngf, self.n_blocks, name
            )

        def make_d(name):
            return build_patch_discriminator(self.image_size, self.channels, self.ndf, name=name)

        self.generator_ab, self.generator_ba = make_g("generator_ab"), make_g("generator_ba")
        self.discriminator_a, self.discriminator_b = (
            make_d("discriminator_a"),
            make_d("discriminator_b"),
        )
        self.pool_a = ImagePool(self.pool_size, shape, name="pool_a")
        self.pool_b = ImagePool(self.pool_size, shape, name="pool_b")
        self.build_now(np.zeros((1, *shape), np.float32))

    @property
    def patch_size(self) -> int:
        """Receptive field of one discriminator score, in pixels."""
        return patch_receptive_field(patch_layers(self.image_size))

    def call(self, images_a, training=False):
        return self.generator_ab(images_a, training=training)

    def get_config(self):
        return {
            **super().get_config(),
            "image_size": self.image_size,
            "channels": self.channels,
            "ngf": self.ngf,
            "ndf": self.ndf,
            "n_blocks": self.n_blocks,
            "cycle_weight": self.cycle_weight,
            "identity_weight": self.identity_weight,
            "pool_size": self.pool_size,
        }

    def default_optimizers(self):
        """Four Adam(2e-4, β1 = 0.5) optimizers at a constant rate (:func:`make_optimizers`).

        Returns:
            A dict from each of ``optimizer_names`` to an Adam optimizer.
        """
        return make_optimizers()

    def optimizer_variables(self, name):
        """The trainable variables of the network that optimizer ``name`` updates.

        Args:
            name: one of ``optimizer_names`` (``"generator_ab"``, ``"generator_ba"``,
                ``"discriminator_a"``, ``"discriminator_b"``).

        Returns:
            That network's trainable variables.
        """
        return getattr(self, name).trainable_variables

    # --- training ---------------------------------------------------------------------

    def _split(self, data):
        if not isinstance(data, (tuple, list)) or len(data) != 2:
            raise ValueError(
                "CycleGAN trains on (images_a, images_b) batches: "
                "use aigc_keras.data.load_unpaired."
            )
        return self.as_compute(data[0]), self.as_compute(data[1])

    def _cycle_losses(self, a, b, training: bool, pooled=None):
        """Every loss of one step; ``pooled`` maps the fakes to what the discriminators see.

        Instance norm treats each image on its own, so stacking images into one call changes no
        result: G runs once on ``[a; b]`` (translation and identity image) and once on ``F(b)``,
        F likewise, and each discriminator once on ``[real; fake]`` for its own loss.  Four
        generator calls instead of six trace and run faster.
        """
        n_a, n_b = tf.shape(a)[0], tf.shape(b)[0]
        with_identity = bool(self.identity_weight)
        g_out = self.generator_ab(
            tf.concat([a, b], 0) if with_identity else a, training=training
        )  # [G(a); G(b)]
        f_out = self.generator_ba(
            tf.concat([b, a], 0) if with_identity else b, training=training
        )  # [F(b); F(a)]
        fake_b, fake_a = g_out[:n_a], f_out[:n_b]
        cycle = losses.l1(self.generator_ba(fake_b, training=training), a) + losses.l1(
            self.generator_ab(fake_a, training=training), b
        )  # |F(G(a)) - a| + |G(F(b)) - b|
        identity = tf.constant(0.0)
        if with_identity:
            identity = losses.l1(g_out[n_a:], b) + losses.l1(
                f_out[n_b:], a
            )  # |G(b) - b| + |F(a) - a|
        adv_ab = losses.least_squares_generator_loss(
            self.discriminator_b(fake_b, training=training)
        )
        adv_ba = losses.least_squares_generator_loss(
            self.discriminator_a(fake_a, training=training)
        )
        g_loss = adv_ab + adv_ba + self.cycle_weight * (cycle + self.identity_weight * identity)
        seen_b, seen_a = (fake_b, fake_a) if pooled is None else pooled(fake_b, fake_a)
        scores_b = self.discriminator_b(
            tf.concat([b, tf.cast(tf.stop_gradient(seen_b), b.dtype)], 0), training=training
        )
        scores_a = self.discriminator_a(
            tf.concat([a, tf.cast(tf.stop_gradient(seen_a), a.dtype)], 0), training=training
        )
        d_b = losses.least_squares_discriminator_loss(scores_b[:n_b], scores_b[n_b:])
        d_a = losses.least_squares_discriminator_loss(scores_a[:n_a], scores_a[n_a:])
        return {
            "g_loss": g_loss,
            "adv_ab": adv_ab,
            "adv_ba": adv_ba,
            "cycle": cycle,
            "identity": identity,
            "d_a_loss": d_a,
            "d_b_loss": d_b,
        }

    def _through_pools(self, fake_b, fake_a):
        batch = tf.shape(fake_b)[0]
        draws = self.noise((4, batch), "uniform")
        return self.pool_b(fake_b, draws[0], draws[1]), self.pool_a(fake_a, draws[2], draws[3])

    def train_step(self, data):
        a, b = self._split(data)
        with tf.GradientTape(persistent=True) as tape:
            values = self._cycle_losses(a, b, training=True, pooled=self._through_pools)
            scaled = {
                name: self.scale_loss(name, values["g_loss"])
                for name in ("generator_ab", "generator_ba")
            }
            scaled["discriminator_a"] = self.scale_loss("discriminator_a", values["d_a_loss"])
            scaled["discriminator_b"] = self.scale_loss("discriminator_b", values["d_b_loss"])
        self.descend_jointly(("generator_ab", "generator_ba"), tape, scaled)  # both minimise g_loss
        for name in ("discriminator_a", "discriminator_b"):
            self.descend(name, tape, scaled[name], self.optimizer_variables(name))
        del tape
        return self.record(**values)

    def test_step(self, data):
        a, b = self._split(data)
        return self.record(count_step=False, **self._cycle_losses(a, b, training=False))

    # --- translation --------------------------------------------------------------------

    def translate(self, images, direction: str = "a2b", batch_size: int = 64) -> np.ndarray:
        """Translate images in [-1, 1], ``(N, H, W, C)`` with the model's size and channels.

        Args:
            images: images ``(N, image_size, image_size, channels)`` in [-1, 1] of the source
                domain.
            direction: ``"a2b"`` (G: A -> B) or ``"b2a"`` (F: B -> A).
            batch_size: the images per network call.

        Returns:
            Float32 images of the same shape in [-1, 1], in the target domain.

        Raises:
            ValueError: an unknown ``direction``, or images of another shape or range.
        """
        if direction not in DIRECTIONS:
            raise ValueError(
                f"direction must be 'a2b' (G: A -> B) or 'b2a' (F: B -> A), got {direction!r}."
            )
        expected = (self.image_size, self.image_size, self.channels)
        images = check_images(images, expected)
        network = self.generator_ab if direction == "a2b" else self.generator_ba
        batch_size = check_int(batch_size, "batch_size")
        outputs = [
            keras.ops.convert_to_numpy(
                keras.ops.cast(network(images[i : i + batch_size], training=False), "float32")
            )
            for i in range(0, len(images), batch_size)
        ]
        return np.concatenate(outputs) if outputs else np.zeros((0, *expected), np.float32)

    def generate(self, *args, **kwargs):
        """Not available: CycleGAN translates images rather than sampling them.

        Args:
            *args: ignored.
            **kwargs: ignored.

        Raises:
            TypeError: always; use :meth:`translate`.
        """
        raise TypeError(
            "CycleGAN translates images rather than sampling them: "
            "use translate(images, direction)."
        )


# The command line's recipe follows chapter 4's tested one (tests/cyclegan_bars.py): generators of
# width 16, discriminators of twice that, Adam at 5e-4, two passes over the 2,000 digit pairs
# (500 steps of 8).  The paper's 2e-4 is for 200 epochs at 256x256.  Measured on MNIST -> MNIST-M
# at 32x32 (2-core CPU, 2026-12-02, seed 0, 500 held-out digits): 500 steps (this default, XLA)
# kept the digit in 94.8% and passed as MNIST-M 77.6%; 250 steps 94.0% and 52.2%; the earlier
# default (width 8, discriminators 4x, 2e-4, 2,000 steps) 72.8% and 96.6%.
LEARNING_RATE = 5e-4


def _make(spec, settings):
    width = settings["width"]
    return CycleGAN(
        image_size=settings["image_size"],
        channels=settings["channels"],
        ngf=width,
        ndf=2 * width,
        seed=settings["seed"],
    )


def _compile(model, *, jit_compile, total_steps):
    model.compile(
        optimizers=make_optimizers(total_steps=total_steps, learning_rate=LEARNING_RATE),
        jit_compile=jit_compile,
    )


# The command line's default pair (chapter 4's main pair): grey MNIST digits <-> MNIST-M, the
# same digits blended over colour photographs (each side its own half of the digits).
DOMAINS = ("mnist", "mnist_m")

SPECS = (
    ModelSpec(
        "cyclegan",
        CycleGAN,
        "translator",
        "unpaired image-to-image translation (chapter 4)",
        dataset=DOMAINS[0],
        image_size=32,
        batch_size=8,
        epochs=2,
        width=16,
        sizes=(16, 32, 64, 128),
        test_config=dict(image_size=16, channels=1, ngf=4, ndf=4, n_blocks=1, pool_size=4),
        options=(
            Option(
                "--domain-a",
                DOMAINS[0],
                "domain A: a dataset name or folder; a TFDS pair such as "
                f"cycle_gan/horse2zebra gives both domains (default: {DOMAINS[0]})",
            ),
            Option(
                "--domain-b",
                None,
                f"domain B: a dataset name or folder (default: {DOMAINS[1]}, or the pair's B)",
            ),
        ),
        make=_make,
        compile=_compile,
        export=lambda model: {
            "generator_ab.keras": model.generator_ab,
            "generator_ba.keras": model.generator_ba,
        },
        inputs={"image": "an image in [-1, 1] of the source domain"},
    ),
)
