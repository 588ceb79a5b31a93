"""Paired image-to-image translation: pix2pix, beside chapter 4's CycleGAN.

Isola, Zhu, Zhou, Efros, "Image-to-Image Translation with Conditional Adversarial Networks"
(CVPR 2017).  Where CycleGAN has two unpaired domains, pix2pix learns from pairs ``(x, y)``: an
input and the one image it should become.  A U-Net generator ``G(x)`` and a PatchGAN
discriminator ``D(x, y)`` that sees the input beside the image it judges (a conditional GAN).
The generator minimises

    L_G = E[-log D(x, G(x))] + λ E|G(x) - y|,     λ = 100,

the non-saturating adversarial term plus an L1 distance to the paired target; the
discriminator minimises ``0.5 (E[-log D(x, y)] + E[-log(1 - D(x, G(x)))])`` (the paper halves it
to slow D down).  L1 alone gives the per-pixel median of the plausible outputs, blurred where
they disagree; the adversarial term, judged patch by patch, asks for outputs a discriminator
cannot tell from real pairs.  ``adversarial_weight=0`` trains the L1-only U-Net the paper
compares against (no discriminator is built then).

The paper's generator draws its only noise from dropout and reports that it learns to ignore
it; the generator here has none: one input, one output.
"""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf
from keras import layers

from .. import losses
from ..layers import instance_norm
from ..spec import ModelSpec
from ..validation import check_int, check_non_negative
from .base import GenerativeModel
from .networks import build_patch_discriminator, patch_layers, patch_receptive_field

MAX_DOWNSAMPLINGS = 8  # the paper's 256x256 U-Net goes down to 1x1
# Adam's rate for both networks.  The paper's 2e-4 is for 200 epochs of 1 image; at the command
# line's 1,000 steps of 16 outlines -> digits (2026-12-04, 2-core CPU, width 32, seed 0) 2e-4 left
# 93.9% of the held-out outputs read as their digit by chapter 1's classifier, 5e-4 96.0%.
LEARNING_RATE = 5e-4


def unet_depth(image_size: int) -> int:
    """How many times the U-Net halves ``image_size``: while the side stays even and above 4.

    28 -> 14 -> 7 (2), 32 -> 16 -> 8 -> 4 (3), 256 -> ... -> 1 would be 8 (the paper's; capped).

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


def build_pix2pix_unet(
    image_size=28, in_channels=1, out_channels=1, width=64, name="generator"
) -> keras.Model:
    """The pix2pix U-Net: an encoder of stride-2 4x4 convolutions, a decoder of transposed ones,
    each decoder level concatenated with the encoder's map of its size (the skips carry the
    input's fine detail straight to the output).

    Encoder ``C(w)-C(2w)-C(4w)-C(8w)-...`` (filters capped at ``8w``), instance norm after every
    convolution but the first, LeakyReLU(0.2); decoder the mirror image with ReLU; the output a
    transposed convolution to ``out_channels`` with tanh.  Instance norm stands in for the
    paper's batch norm at batch size 1 (the same per-image statistics at any batch size).

    Args:
        image_size: the image side (see :func:`unet_depth`).
        in_channels: the channels of the input images.
        out_channels: the channels of the output images.
        width: the filters of the first convolution (64 in the paper).
        name: the model's name.

    Returns:
        A ``keras.Model`` from inputs ``(B, H, W, in_channels)`` in [-1, 1] to float32 outputs
        ``(B, H, W, out_channels)`` in [-1, 1].
    """
    depth = unet_depth(image_size)
    width = check_int(width, "width")
    inputs = keras.Input((image_size, image_size, check_int(in_channels, "in_channels")))
    x, skips = inputs, []
    for i in range(depth):
        x = layers.Conv2D(
            width * 2 ** min(i, 3), 4, strides=2, padding="same", name=f"down{i + 1}"
        )(x)  # /2
        if i > 0:
            x = instance_norm(f"down{i + 1}_norm")(x)
        x = layers.LeakyReLU(0.2, name=f"down{i + 1}_lrelu")(x)
        skips.append(x)
    for i in reversed(range(depth - 1)):  # up to the first encoder map's size, with its skip
        x = layers.Conv2DTranspose(
            width * 2 ** min(i, 3), 4, strides=2, padding="same", name=f"up{i + 1}"
        )(x)  # x2
        x = instance_norm(f"up{i + 1}_norm")(x)
        x = layers.ReLU(name=f"up{i + 1}_relu")(x)
        x = layers.Concatenate(name=f"skip{i + 1}")([x, skips[i]])
    outputs = layers.Conv2DTranspose(
        check_int(out_channels, "out_channels"),
        4,
        strides=2,
        padding="same",
        activation="tanh",
        dtype="float32",
        name="output",
    )(x)
    return keras.Model(inputs, outputs, name=name)


class Pix2Pix(GenerativeModel):
    """Paired translation ``x -> y`` with a U-Net and a conditional PatchGAN.

    Trains on ``(inputs, targets)`` batches in [-1, 1] (see ``data.load_paired``);
    :meth:`translate` applies the generator.  The discriminator sees ``[x, y]`` stacked along the
    channels, so it judges whether ``y`` fits ``x``, not only whether it looks real; its depth
    follows :func:`~aigc_keras.models.networks.patch_layers` (16x16 patches at 28x28 and 32x32).

    Args:
        image_size: the image side (see :func:`unet_depth`).
        in_channels: the channels of the inputs.
        out_channels: the channels of the targets.
        width: the base width of the generator and the discriminator (64 in the paper).
        l1_weight: λ, the weight of the L1 term (non-negative; 100 in the paper).
        adversarial_weight: the weight of the adversarial term (non-negative; 0: the L1-only
            U-Net, without a discriminator).
        seed: the seed of the model's noise (a non-negative int).
        **kwargs: passed on to :class:`~aigc_keras.models.base.GenerativeModel` (``name``, ...).
    """

    def __init__(
        self,
        image_size=28,
        in_channels=1,
        out_channels=1,
        width=64,
        l1_weight=100.0,
        adversarial_weight=1.0,
        seed=0,
        **kwargs,
    ):
        adversarial_weight = check_non_negative(adversarial_weight, "adversarial_weight")
        adversarial = adversarial_weight > 0
        trackers = ("g_loss", "l1", "adversarial", "d_loss") if adversarial else ("g_loss", "l1")
        super().__init__(trackers=trackers, seed=seed, **kwargs)
        self.optimizer_names = ("generator", "discriminator") if adversarial else ("generator",)
        self.image_size = check_int(image_size, "image_size")
        self.in_channels = check_int(in_channels, "in_channels")
        self.out_channels = check_int(out_channels, "out_channels")
        self.channels = self.out_channels
        self.width = check_int(width, "width")
        self.l1_weight = check_non_negative(l1_weight, "l1_weight")
        self.adversarial_weight = adversarial_weight
        self.generator = build_pix2pix_unet(
            self.image_size, self.in_channels, self.out_channels, self.width
        )
        self.discriminator = (
            build_patch_discriminator(
                self.image_size, self.in_channels + self.out_channels, self.width
            )
            if adversarial
            else None
        )
        self.build_now(
            np.zeros((1, self.image_size, self.image_size, self.in_channels), np.float32)
        )

    @property
    def patch_size(self) -> int:
        """Receptive field of one discriminator score, in pixels."""
        return patch_receptive_field(patch_layers(self.image_size))

    def call(self, inputs, training=False):
        return self.generator(inputs, training=training)

    def get_config(self):
        return {
            **super().get_config(),
            "image_size": self.image_size,
            "in_channels": self.in_channels,
            "out_channels": self.out_channels,
            "width": self.width,
            "l1_weight": self.l1_weight,
            "adversarial_weight": self.adversarial_weight,
        }

    def default_optimizers(self):
        """Adam(:data:`LEARNING_RATE`, β1 = 0.5) for each network (the paper's β1).

        Returns:
            A dict from each of ``optimizer_names`` to an Adam optimizer.
        """
        return {
            name: keras.optimizers.Adam(LEARNING_RATE, beta_1=0.5) for name in self.optimizer_names
        }

    def optimizer_variables(self, name):
        """The trainable variables of the network that optimizer ``name`` updates.

        Args:
            name: ``"generator"`` or ``"discriminator"``.

        Returns:
            That network's trainable variables.
        """
        return getattr(self, name).trainable_variables

    def _split(self, data):
        if not isinstance(data, (tuple, list)) or len(data) != 2:
            raise ValueError(
                "Pix2Pix trains on (inputs, targets) batches: use aigc_keras.data.load_paired."
            )
        return self.as_compute(data[0]), self.as_compute(data[1])

    def _step_losses(self, inputs, targets, training: bool) -> dict:
        fake = self.generator(inputs, training=training)
        l1 = losses.l1(fake, targets)
        if self.discriminator is None:
            return {"g_loss": self.l1_weight * l1, "l1": l1}
        # the discriminator judges [x, y]: real pairs and generated ones in one call
        pairs = tf.concat(
            [
                tf.concat([inputs, targets], axis=-1),
                tf.concat([inputs, tf.cast(fake, self.compute_dtype)], axis=-1),
            ],
            axis=0,
        )
        real_scores, fake_scores = tf.split(self.discriminator(pairs, training=training), 2)
        adversarial = losses.generator_loss(fake_scores)
        return {
            "g_loss": self.adversarial_weight * adversarial + self.l1_weight * l1,
            "l1": l1,
            "adversarial": adversarial,
            "d_loss": 0.5 * losses.discriminator_loss(real_scores, fake_scores),
        }

    def train_step(self, data):
        inputs, targets = self._split(data)
        with tf.GradientTape(persistent=True) as tape:
            values = self._step_losses(inputs, targets, training=True)
            own = {"generator": values["g_loss"], "discriminator": values.get("d_loss")}
            scaled = {name: self.scale_loss(name, own[name]) for name in self.optimizer_names}
        for name in self.optimizer_names:  # both from the same forward pass, as in the paper
            self.descend(name, tape, scaled[name], self.optimizer_variables(name))
        del tape
        return self.record(**values)

    def test_step(self, data):
        inputs, targets = self._split(data)
        return self.record(count_step=False, **self._step_losses(inputs, targets, False))

    def translate(self, inputs, batch_size: int = 64) -> np.ndarray:
        """Apply the generator to inputs in [-1, 1].

        Args:
            inputs: ``(N, image_size, image_size, in_channels)`` in [-1, 1].
            batch_size: the images per network call.

        Returns:
            Float32 images ``(N, image_size, image_size, out_channels)`` in [-1, 1].

        Raises:
            ValueError: inputs of another shape or range.
        """
        inputs = np.asarray(inputs, dtype=np.float32)
        expected = (self.image_size, self.image_size, self.in_channels)
        if inputs.ndim != 4 or inputs.shape[1:] != expected:
            raise ValueError(
                f"inputs must have shape (N, {', '.join(map(str, expected))}), got {inputs.shape}."
            )
        if inputs.size and (inputs.min() < -1.0 - 1e-3 or inputs.max() > 1.0 + 1e-3):
            raise ValueError(
                "inputs must be in [-1, 1], got values in "
                f"[{inputs.min():.3g}, {inputs.max():.3g}]."
            )
        batch_size = check_int(batch_size, "batch_size")
        outputs = [
            keras.ops.convert_to_numpy(
                keras.ops.cast(
                    self.generator(inputs[i : i + batch_size], training=False), "float32"
                )
            )
            for i in range(0, len(inputs), batch_size)
        ]
        shape = (0, self.image_size, self.image_size, self.out_channels)
        return np.concatenate(outputs) if outputs else np.zeros(shape, np.float32)

    def generate(self, *args, **kwargs):
        """Not available: pix2pix translates inputs rather than sampling images.

        Args:
            *args: ignored.
            **kwargs: ignored.

        Raises:
            TypeError: always; use :meth:`translate`.
        """
        raise TypeError("Pix2Pix translates inputs rather than sampling: use translate(inputs).")


def _make(spec, settings):
    return Pix2Pix(
        image_size=settings["image_size"],
        in_channels=settings["channels"],
        out_channels=settings.get("out_channels", settings["channels"]),  # MNIST-M targets: 3
        width=settings["width"],
        seed=settings["seed"],
    )


SPECS = (
    ModelSpec(
        "pix2pix",
        Pix2Pix,
        "paired translator",
        "paired image-to-image translation: outlines -> digits (chapter 10)",
        dataset="mnist_outlines",
        image_size=28,
        batch_size=16,
        epochs=5,
        width=32,
        sizes=(28, 32, 64),
        test_config=dict(image_size=16, width=4),
        make=_make,
        export=lambda model: {"generator.keras": model.generator},
        inputs={"image": "an input image in [-1, 1] (a digit's outline)"},
    ),
)
