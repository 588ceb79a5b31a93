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

from .. import losses
from ..spec import ModelSpec
from ..validation import check_images, check_int, check_non_negative
from .base import GenerativeModel
from .networks import build_patch_discriminator, build_unet, patch_layers, patch_receptive_field

# Adam's rate for both networks.  The paper's 2e-4 is for 200 epochs of 1 image; at the command
# line's 1,000 steps of 16 outlines -> digits (2026-12-04, 2-core CPU, width 32, seed 0) 2e-4 left
# 93.9% of the held-out outputs read as their digit by chapter 1's classifier, 5e-4 96.0%.
LEARNING_RATE = 5e-4


class Pix2Pix(GenerativeModel):
    """Paired translation ``x -> y`` with a U-Net and a conditional PatchGAN.

    Trains on ``(inputs, targets)`` batches in [-1, 1] (see ``data.load_paired``);
    :meth:`translate` applies the generator.  The discriminator sees ``[x, y]`` stacked along the
    channels, so it judges whether ``y`` fits ``x``, not only whether it looks real; its depth
    follows :func:`~aigc_keras.models.networks.patch_layers` (16x16 patches at 28x28 and 32x32).

    Args:
        image_size: the image side (see :func:`~aigc_keras.models.networks.unet_depth`).
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
        self.generator = build_unet(
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
        inputs = check_images(
            inputs, (self.image_size, self.image_size, self.in_channels), what="inputs"
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
