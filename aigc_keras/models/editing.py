"""Chapter 7: image editing — inpainting (repair), super-resolution and denoising (enhancement).

* Inpainting with a reconstruction plus adversarial loss: Pathak et al., "Context Encoders"
  (CVPR 2016); dilated convolutions for context: Iizuka, Simo-Serra, Ishikawa (SIGGRAPH 2017);
  free-form (brush-stroke) masks: Yu et al., "Free-Form Image Inpainting with Gated Convolution"
  (ICCV 2019) — their masks, not their gated convolutions.
* Super-resolution: Shi et al., "Real-Time Single Image and Video Super-Resolution Using an
  Efficient Sub-Pixel Convolutional Neural Network" (CVPR 2016); residual blocks without batch
  norm: Lim et al., "EDSR" (CVPRW 2017).  The network predicts a correction to bicubic upsampling.
* Denoising: Zhang et al., "Beyond a Gaussian Denoiser: Residual Learning of Deep CNN for Image
  Denoising" (DnCNN, TIP 2017): the network predicts the noise, which is subtracted.

Images are in [0, 1] (``data.load(..., value_range=(0, 1))``), the range PSNR and SSIM are
computed in.
Masks are 1 in the hole and 0 where pixels are known, shape ``(N, H, W, 1)``.
"""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf
from keras import layers

from .. import losses
from ..layers import HoleComposite, SubPixelUpsampling
from ..spec import ModelSpec, Option
from ..validation import (
    check_fraction,
    check_images,
    check_int,
    check_non_negative,
    check_positive,
    check_seed,
    fraction_from_text,
    int_from_text,
    is_int,
)
from .base import GenerativeModel
from .networks import (  # noqa: F401 (editing.run_network)
    build_patch_discriminator,
    run_network,
    unet,
)

RECTANGLE_SIDES = (0.25, 0.5)  # rectangle height and width as fractions of the image side
# free-form masks cover this fraction of the image (+ at most one brush dab)
FREE_FORM_COVER = (0.1, 0.3)
SSIM_WINDOW = 11  # the Gaussian window of SSIM (Wang et al. 2004), tf.image.ssim's default
# The inpainting U-Net's dilated convolutions at its smallest map: after rates 1 and 2 (a 3x3
# window, then a 5x5 one) every unit of a 4x4 map depends on every other, and of a 7x7 map the
# centre's on every unit.
INPAINT_DILATIONS = (1, 2)


# --- masks ---------------------------------------------------------------------------------


def _rectangles(uniforms, size: int, sides=RECTANGLE_SIDES):
    """Masks ``(B, size, size, 1)`` from ``uniforms`` ``(B, 4)`` in [0, 1).

    The four uniforms of a row set the rectangle's height, width, top and left.
    """
    low, high = sides
    extent = tf.round(size * (low + uniforms[:, :2] * (high - low)))  # (B, 2) rows, columns
    corner = tf.floor(uniforms[:, 2:] * (size - extent + 1))  # (B, 2) top, left
    grid = tf.range(size, dtype=uniforms.dtype)
    # rows and cols: (B, size) each
    rows = (grid[None] >= corner[:, :1]) & (grid[None] < corner[:, :1] + extent[:, :1])
    cols = (grid[None] >= corner[:, 1:]) & (grid[None] < corner[:, 1:] + extent[:, 1:])
    return tf.cast(rows[:, :, None, None] & cols[:, None, :, None], tf.float32)


def rectangle_masks(n: int, size: int, *, seed: int = 0) -> np.ndarray:
    """``n`` random rectangles; each side is 25-50 % of the image side (so 6-25 % of its area).

    Args:
        n: the number of masks.
        size: the image side, in pixels (at least 4).
        seed: the seed of the draw (a non-negative int).

    Returns:
        Float32 masks ``(n, size, size, 1)``: 1 in the hole, 0 elsewhere.
    """
    uniforms = tf.random.stateless_uniform((check_int(n, "n"), 4), seed=[check_seed(seed), 7])
    return _rectangles(uniforms, check_int(size, "size", minimum=4)).numpy()


def brush_radius(size: int) -> int:
    """The radius of the brush that draws free-form masks: ``size / 16``, at least 1 pixel.

    Args:
        size: the image side, in pixels.

    Returns:
        The radius in pixels.
    """
    return max(1, round(check_int(size, "size") / 16))


def free_form_masks(n: int, size: int, *, seed: int = 0, cover=FREE_FORM_COVER) -> np.ndarray:
    """``n`` brush-stroke masks: strokes of straight segments, drawn until each mask is covered.

    Straight segments (each one starting a new stroke elsewhere with probability 0.3, else
    continuing from the last one's end) are drawn until each mask covers a fraction drawn uniformly
    from ``cover`` (it may exceed it by one brush dab, ``pi r^2`` pixels, ``r = size / 16``).

    Args:
        n: the number of masks.
        size: the image side, in pixels (at least 4).
        seed: the seed of the draw (a non-negative int).
        cover: ``(low, high)``, the range of the covered fraction of each mask.

    Returns:
        Float32 masks ``(n, size, size, 1)``: 1 in the hole, 0 elsewhere.
    """
    n, size = check_int(n, "n"), check_int(size, "size", minimum=4)
    rng = np.random.default_rng([check_seed(seed), 11])
    # a fraction above 1 would never be reached: the drawing loop would not end
    if not (isinstance(cover, (tuple, list)) and len(cover) == 2):
        raise ValueError(f"cover must be (low, high) with 0 < low <= high <= 1, got {cover!r}.")
    low, high = (check_fraction(v, "each end of cover", "(0, 1]") for v in cover)
    if low > high:
        raise ValueError(f"cover must be (low, high) with low <= high, got {cover!r}.")
    radius = brush_radius(size)
    yy, xx = np.mgrid[:size, :size]
    masks = np.zeros((n, size, size, 1), np.float32)
    for mask in masks[..., 0]:
        target = rng.uniform(low, high)
        y, x = rng.uniform(0, size, 2)
        while mask.mean() < target:
            if rng.random() < 0.3:  # start a new stroke somewhere else
                y, x = rng.uniform(0, size, 2)
            angle, length = rng.uniform(0, 2 * np.pi), rng.uniform(0.1, 0.4) * size
            for t in np.linspace(0, 1, max(2, int(length))):
                cy, cx = (
                    np.clip(y + t * length * np.sin(angle), 0, size - 1),
                    np.clip(x + t * length * np.cos(angle), 0, size - 1),
                )
                mask[(yy - cy) ** 2 + (xx - cx) ** 2 <= radius**2] = 1.0
                if mask.mean() >= target:
                    break
            y, x = cy, cx
    return masks


def check_masks(images, masks) -> tuple[np.ndarray, np.ndarray]:
    """Images ``(N, H, W, C)`` in [0, 1] and binary masks ``(N, H, W, 1)``, or a clear error.

    Args:
        images: images ``(N, H, W, C)`` in [0, 1].
        masks: binary masks ``(N, H, W, 1)`` or ``(N, H, W)``: 1 in the hole, 0 where pixels
            are known.

    Returns:
        ``(images, masks)`` as float32 arrays, the masks ``(N, H, W, 1)``.

    Raises:
        ValueError: images that are not 4-D or not in [0, 1], masks of another size, or masks
            that are not binary.
    """
    images = check_images(images, (None, None, None), value_range=(0, 1), empty=False)
    masks = np.asarray(masks, np.float32)
    if masks.ndim == 3:
        masks = masks[..., None]
    if masks.shape != (*images.shape[:3], 1):
        raise ValueError(
            f"the mask must match the image size: images {images.shape[1:3]}, "
            f"masks {masks.shape[1:3]} (shape {masks.shape}; expected (N, H, W) or "
            f"(N, H, W, 1) with the images' N, H, W)."
        )
    if not np.isin(masks, (0.0, 1.0)).all():
        raise ValueError(
            "masks must be binary: 1 (or white) in the hole, 0 (black) where pixels are known; got "
            f"{np.unique(masks).size} distinct values."
        )
    return images, masks


def _check_pair(restored, reference, what: str = "restored") -> tuple[np.ndarray, np.ndarray]:
    """A non-empty batch of [0, 1] reference images and finite ``restored`` images of the same
    shape (they may stray outside [0, 1]: a noisy image before clipping), or a clear error."""
    reference = check_images(
        reference, (None, None, None), "reference", value_range=(0, 1), empty=False
    )
    restored = np.asarray(restored, np.float32)
    if restored.shape != reference.shape:
        raise ValueError(
            f"{what} and reference images differ in shape: {restored.shape} vs {reference.shape}."
        )
    if not np.all(np.isfinite(restored)):
        raise ValueError(f"{what} images contain NaN or infinite values.")
    return restored, reference


def pooled_psnr(restored, reference) -> float:
    """PSNR in dB of the mean squared error over *all* pixels of all images.

    ``10 log10(1 / MSE)`` for [0, 1] images.  Averaging per-image PSNR (``tf.image.psnr``) breaks
    on flat patches, where bicubic upsampling or any method can be exact and the PSNR infinite;
    pooling the error first keeps every patch's weight equal.

    Args:
        restored: images ``(N, H, W, C)``, in [0, 1] or near it (a noisy image before clipping).
        reference: the true images ``(N, H, W, C)`` in [0, 1].

    Returns:
        The PSNR in dB (at most 120: the error is floored at 1e-12).

    Raises:
        ValueError: an empty batch, arrays of different shapes, values that are not finite, or
            reference images outside [0, 1] (the 1 of ``1 / MSE`` is that range's width).
    """
    restored, reference = (a.astype(np.float64) for a in _check_pair(restored, reference))
    return float(10.0 * np.log10(1.0 / max(np.mean((restored - reference) ** 2), 1e-12)))


def mean_ssim(restored, reference) -> float:
    """Mean structural similarity of [0, 1] images.

    ``tf.image.ssim`` with the standard 11x11 Gaussian window.

    Args:
        restored: images ``(N, H, W, C)`` in [0, 1].
        reference: the true images, the same shape.

    Returns:
        The SSIM averaged over the images (1: identical).

    Raises:
        ValueError: as :func:`pooled_psnr`, and images smaller than the 11x11 window.
    """
    restored, reference = _check_pair(restored, reference)
    if min(restored.shape[1:3]) < SSIM_WINDOW:
        raise ValueError(
            f"SSIM's window is {SSIM_WINDOW}x{SSIM_WINDOW} pixels; the images are "
            f"{restored.shape[1]}x{restored.shape[2]}."
        )
    return float(np.mean(tf.image.ssim(restored, reference, 1.0, filter_size=SSIM_WINDOW)))


def hole_mse(filled, reference, masks) -> float:
    """Mean squared error over the hole pixels only (mask 1), all channels.

    What an inpainter is judged on.

    Args:
        filled: inpainted images ``(N, H, W, C)`` in [0, 1].
        reference: the true images, the same shape.
        masks: masks ``(N, H, W, 1)``: 1 in the hole, 0 where pixels are known.

    Returns:
        The mean squared error per hole pixel and channel (0 when there is no hole).

    Raises:
        ValueError: as :func:`check_masks` and :func:`pooled_psnr`.
    """
    filled, reference = _check_pair(filled, reference, "filled")
    masks = check_masks(reference, masks)[1]
    filled, reference, masks = (a.astype(np.float64) for a in (filled, reference, masks))
    return float(
        ((filled - reference) ** 2 * masks).sum() / max(masks.sum() * reference.shape[-1], 1.0)
    )


# --- classical baselines (scikit-image) ---------------------------------------------------------


def biharmonic_inpaint(images, masks) -> np.ndarray:
    """scikit-image's biharmonic inpainting per image.

    The smoothest surface through the known pixels.

    Args:
        images: images ``(N, H, W, C)`` in [0, 1].
        masks: binary masks ``(N, H, W, 1)`` or ``(N, H, W)``: 1 in the hole.

    Returns:
        Float32 images ``(N, H, W, C)`` with their holes filled.
    """
    from skimage.restoration import inpaint_biharmonic

    images, masks = check_masks(images, masks)
    return np.stack(
        [
            inpaint_biharmonic(x, m[..., 0], channel_axis=-1)
            for x, m in zip(images, masks, strict=True)
        ]
    ).astype(np.float32)


def tv_denoise(images, weights=(0.03, 0.06, 0.1, 0.15), reference=None):
    """scikit-image's total-variation denoising (Chambolle).

    With ``reference`` (the clean images), every weight in ``weights`` is tried and the best by
    :func:`pooled_psnr` is kept — the baseline's best case.

    Args:
        images: noisy images ``(N, H, W, C)``, roughly in [0, 1].
        weights: the denoising weights to try; a single one when ``reference`` is ``None``.
        reference: the clean images, the same shape, or ``None``.

    Returns:
        ``(denoised, weight)``: float32 images clipped to [0, 1] and the weight used.

    Raises:
        ValueError: several weights but no ``reference``.
    """
    from skimage.restoration import denoise_tv_chambolle

    images = check_images(images, (None, None, None), "noisy images", value_range=(-np.inf, np.inf))
    if not isinstance(weights, (tuple, list)) or not weights:
        raise ValueError(f"weights must be a non-empty list of numbers > 0, got {weights!r}.")
    weights = [check_positive(w, "each TV weight") for w in weights]
    if reference is None and len(weights) != 1:
        raise ValueError(
            "pass the clean reference images to choose among several weights, or a single weight."
        )
    if reference is not None:
        reference = _check_pair(images, reference, "noisy")[1]
    best = None
    for weight in weights:
        out = np.stack(
            [denoise_tv_chambolle(x, weight=weight, channel_axis=-1) for x in images]
        ).astype(np.float32)
        score = pooled_psnr(out, reference) if reference is not None else 0.0
        if best is None or score > best[0]:
            best = (score, out, weight)
    return np.clip(best[1], 0.0, 1.0), best[2]


# --- networks -------------------------------------------------------------------------------


def build_inpainting_network(image_size=32, channels=1, width=32, name="inpainter"):
    """pix2pix's U-Net (:func:`~aigc_keras.models.networks.unet`) over ``[image * (1 - mask),
    mask]`` -> the image with its hole filled.

    The U-Net halves the image down to its smallest map (4x4 at 16 and 32 pixels, 7x7 at 28) and
    gets dilated convolutions there (rates :data:`INPAINT_DILATIONS`), which mix that whole map
    (the context a fill needs, beyond the instance norm's per-image statistics); a sigmoid
    output.  The output keeps every known pixel (``HoleComposite``):
    only the hole comes from the network.  ``image_size`` must be divisible by 4.

    Args:
        image_size: the image side, divisible by 4.
        channels: the channels of the images.
        width: the filters of the U-Net's first convolution.
        name: the model's name.

    Returns:
        A ``keras.Model`` from ``[images (B, H, W, C) in [0, 1], masks (B, H, W, 1)]`` to
        float32 images ``(B, H, W, C)`` in [0, 1].
    """
    image = keras.Input((image_size, image_size, channels), name="image")
    mask = keras.Input((image_size, image_size, 1), name="mask")
    known = HoleComposite(name="hide_hole")([image, mask])
    x = layers.Concatenate(name="image_and_mask")([known, mask])  # (H, W, C + 1)
    fill = unet(x, channels, width, dilations=INPAINT_DILATIONS, activation="sigmoid")
    image32 = layers.Activation("linear", dtype="float32", name="image_float32")(image)
    return keras.Model(
        [image, mask],
        HoleComposite(dtype="float32", name="composite")([image32, mask, fill]),
        name=name,
    )


def build_super_resolution_network(
    scale=2, channels=3, width=32, blocks=4, name="super_resolution"
):
    """Low-resolution image -> ``scale`` times larger: bicubic upsampling + a learned correction.

    The correction is zero at first.  Convolution, ``blocks`` residual blocks (conv-ReLU-conv +
    skip, no batch norm), a convolution to ``channels * scale**2`` maps and a sub-pixel
    rearrangement to the large grid.  Any input size.

    Args:
        scale: the upscaling factor (2 or 4 in the package).
        channels: the channels of the images.
        width: the filters of the convolutions.
        blocks: the number of residual blocks.
        name: the model's name.

    Returns:
        A ``keras.Model`` from images ``(B, h, w, C)`` in [0, 1] to float32 images
        ``(B, scale h, scale w, C)`` (about [0, 1]; not clipped).
    """
    low = keras.Input((None, None, channels), name="low_resolution")
    x = head = layers.Conv2D(width, 3, padding="same", name="head")(low)
    for b in range(blocks):
        h = layers.Conv2D(width, 3, padding="same", activation="relu", name=f"block{b + 1}_conv1")(
            x
        )
        h = layers.Conv2D(width, 3, padding="same", name=f"block{b + 1}_conv2")(h)
        x = layers.Add(name=f"block{b + 1}_skip")([x, h])
    x = layers.Add(name="global_skip")([x, head])
    # zero-initialised: the untrained network is exactly bicubic upsampling, and training only
    # adds to it
    x = layers.Conv2D(
        channels * scale**2, 3, padding="same", kernel_initializer="zeros", name="to_subpixels"
    )(x)  # (h, w, C r^2)
    correction = SubPixelUpsampling(scale, dtype="float32", name="subpixel")(x)  # (r h, r w, C)
    bicubic = layers.UpSampling2D(scale, interpolation="bicubic", dtype="float32", name="bicubic")(
        low
    )
    return keras.Model(
        low,
        layers.Add(dtype="float32", name="bicubic_plus_correction")([bicubic, correction]),
        name=name,
    )


def build_denoising_network(channels=3, width=32, depth=8, name="denoiser"):
    """DnCNN without batch norm: ``depth`` 3x3 convolutions predict the noise.

    The output is the noisy image minus the predicted noise.  Any input size.

    Args:
        channels: the channels of the images.
        width: the filters of the hidden convolutions.
        depth: the number of convolutions, the last one predicting the noise.
        name: the model's name.

    Returns:
        A ``keras.Model`` from noisy images ``(B, H, W, C)`` (roughly in [0, 1]) to float32
        denoised images of the same shape (not clipped).
    """
    noisy = keras.Input((None, None, channels), name="noisy")
    x = noisy
    for d in range(depth - 1):
        x = layers.Conv2D(width, 3, padding="same", activation="relu", name=f"conv{d + 1}")(x)
    noise = layers.Conv2D(channels, 3, padding="same", dtype="float32", name="noise")(x)
    noisy32 = layers.Activation("linear", dtype="float32", name="noisy_float32")(noisy)
    return keras.Model(
        noisy,
        layers.Subtract(dtype="float32", name="noisy_minus_noise")([noisy32, noise]),
        name=name,
    )


# --- models ---------------------------------------------------------------------------------


RECONSTRUCTIONS = ("l2", "l1")  # the Inpainter's losses on the hole


def _check_size(image_size, multiple=1):
    image_size = check_int(image_size, "image_size", minimum=4)
    if image_size % multiple:
        raise ValueError(f"image_size must be divisible by {multiple}, got {image_size}.")
    return image_size


class Inpainter(GenerativeModel):
    """Fill holes: a reconstruction loss on the hole plus a least-squares PatchGAN term.

    ``g_loss = hole + adversarial_weight * E[(D(x̂) - 1)^2]``, where ``x̂`` is the image with its
    hole filled and ``hole`` the mean squared error over hole pixels (``reconstruction="l2"``,
    the context encoder's choice, Pathak et al. 2016) or their mean absolute error (``"l1"``);
    ``d_loss`` is LSGAN's.  L2's best fill is the average of the plausible ones, L1's their
    per-pixel median: inside a hole in a sparse image (a digit's strokes cover a fifth of it) the
    median of an uncertain pixel is the background, L1 pushes every fill towards it at a constant
    rate, and the sigmoid output saturates where its gradient vanishes: on MNIST the L1 network's
    fills went to exactly 0 within 300 steps and stayed there, while L2's beat biharmonic
    inpainting.  Each batch gets fresh masks: half rectangles (:func:`rectangle_masks`' sizes),
    half free-form strokes from a bank of ``mask_bank`` masks drawn once from the seed.  Trains
    on batches of clean images in [0, 1] (labels, if present, are ignored).

    Args:
        image_size: the image side, divisible by 4.
        channels: the channels of the images.
        width: the base width of the inpainting network and the discriminator.
        adversarial_weight: the weight of the adversarial term (non-negative; 0: the
            reconstruction loss only).
        reconstruction: ``"l2"`` (squared error on the hole) or ``"l1"`` (absolute error).
        mask_bank: the number of free-form masks drawn once for training (a positive int).
        seed: the seed of the model's noise and of the mask bank (a non-negative int).
        **kwargs: passed on to :class:`~aigc_keras.models.base.GenerativeModel` (``name``, ...).
    """

    optimizer_names = ("generator", "discriminator")

    def __init__(
        self,
        image_size=32,
        channels=1,
        width=32,
        adversarial_weight=0.01,
        reconstruction="l2",
        mask_bank=512,
        seed=0,
        **kwargs,
    ):
        if reconstruction not in RECONSTRUCTIONS:
            raise ValueError(
                f"reconstruction must be one of {', '.join(map(repr, RECONSTRUCTIONS))} "
                f"(squared or absolute error on the hole), got {reconstruction!r}."
            )
        super().__init__(trackers=("g_loss", "d_loss", "hole", "adversarial"), seed=seed, **kwargs)
        self.reconstruction = reconstruction
        self.image_size, self.channels = _check_size(image_size, 4), check_int(channels, "channels")
        self.width, self.mask_bank = check_int(width, "width"), check_int(mask_bank, "mask_bank")
        self.adversarial_weight = check_non_negative(adversarial_weight, "adversarial_weight")
        self.value_range = (0, 1)
        self.network = build_inpainting_network(self.image_size, self.channels, self.width)
        self.discriminator = build_patch_discriminator(
            self.image_size, self.channels, width=self.width, norm=None
        )
        self.free_form = tf.constant(
            free_form_masks(self.mask_bank, self.image_size, seed=self.seed)
        )
        self.build_now(
            np.zeros((1, self.image_size, self.image_size, self.channels), np.float32),
            np.zeros((1, self.image_size, self.image_size, 1), np.float32),
        )

    def get_config(self):
        return {
            **super().get_config(),
            "image_size": self.image_size,
            "channels": self.channels,
            "width": self.width,
            "adversarial_weight": self.adversarial_weight,
            "reconstruction": self.reconstruction,
            "mask_bank": self.mask_bank,
        }

    def default_optimizers(self):
        """Adam(β1 = 0.5): 1e-3 for the inpainting network, 1e-4 for the discriminator.

        Returns:
            ``{"generator": Adam, "discriminator": Adam}``.
        """
        return {
            "generator": keras.optimizers.Adam(1e-3, beta_1=0.5),
            "discriminator": keras.optimizers.Adam(1e-4, beta_1=0.5),
        }

    def optimizer_variables(self, name):
        """The trainable variables of the network that optimizer ``name`` updates.

        Args:
            name: ``"generator"`` (the inpainting network) or ``"discriminator"``.

        Returns:
            That network's trainable variables.
        """
        return (self.network if name == "generator" else self.discriminator).trainable_variables

    def call(self, images, masks, training=False):
        return self.network([images, masks], training=training)

    def draw_masks(self, batch):
        """Fresh training masks ``(batch, H, W, 1)``: rectangles or bank strokes.

        A coin per sample chooses between them.

        Args:
            batch: the number of masks (an int or a scalar int tensor).

        Returns:
            Float32 masks ``(batch, H, W, 1)``: 1 in the hole, 0 elsewhere.
        """
        uniforms = self.noise((batch, 6), "uniform")
        rectangles = _rectangles(uniforms[:, :4], self.image_size)
        index = tf.cast(uniforms[:, 4] * self.mask_bank, tf.int32)
        strokes = tf.gather(self.free_form, tf.minimum(index, self.mask_bank - 1))
        return tf.where(uniforms[:, 5:6, None, None] < 0.5, rectangles, strokes)

    def _step_losses(self, images, masks, training):
        filled = self(images, masks, training=training)
        error = filled - tf.cast(images, "float32")  # 0 outside the hole (the composite)
        error = tf.square(error) if self.reconstruction == "l2" else tf.abs(error)
        hole = tf.reduce_sum(error) / tf.maximum(tf.reduce_sum(masks) * self.channels, 1.0)
        real_scores = self.discriminator(images, training=training)
        fake_scores = self.discriminator(tf.cast(filled, self.compute_dtype), training=training)
        adversarial = losses.least_squares_generator_loss(fake_scores)
        return {
            "g_loss": hole + self.adversarial_weight * adversarial,
            "hole": hole,
            "adversarial": adversarial,
            "d_loss": losses.least_squares_discriminator_loss(real_scores, fake_scores),
        }

    def train_step(self, data):
        images = self.as_compute(data[0] if isinstance(data, (tuple, list)) else data)
        masks = self.draw_masks(tf.shape(images)[0])
        with tf.GradientTape(persistent=True) as tape:
            values = self._step_losses(images, masks, training=True)
            scaled = {
                "generator": self.scale_loss("generator", values["g_loss"]),
                "discriminator": self.scale_loss("discriminator", values["d_loss"]),
            }
        for name in self.optimizer_names:
            self.descend(name, tape, scaled[name], self.optimizer_variables(name))
        del tape
        return self.record(**values)

    def test_step(self, data):
        images = self.as_compute(data[0] if isinstance(data, (tuple, list)) else data)
        return self.record(
            count_step=False,
            **self._step_losses(images, self.draw_masks(tf.shape(images)[0]), False),
        )

    def inpaint(self, images, masks, batch_size: int = 64) -> np.ndarray:
        """Fill the holes (mask 1) of images in [0, 1]; known pixels are returned unchanged.

        Args:
            images: images ``(N, image_size, image_size, channels)`` in [0, 1].
            masks: binary masks ``(N, H, W, 1)`` or ``(N, H, W)``: 1 in the hole.
            batch_size: the images per network call.

        Returns:
            Float32 images ``(N, H, W, C)`` in [0, 1].
        """
        images, masks = check_masks(images, masks)
        if images.shape[1:] != (self.image_size, self.image_size, self.channels):
            raise ValueError(
                f"images must be (N, {self.image_size}, {self.image_size}, {self.channels}), "
                f"got {images.shape}."
            )
        return run_network(self.network, [images, masks], batch_size)

    def examples(self, clean, seed: int = 0) -> list:
        """Rows for a before/after picture: masked inputs, their inpainting, the originals.

        Args:
            clean: held-out images in [0, 1].
            seed: the seed of the free-form masks.

        Returns:
            ``[masked inputs, inpainted, clean]``, three image arrays of ``clean``'s shape.
        """
        masks = free_form_masks(len(clean), self.image_size, seed=seed)
        return [clean * (1 - masks), self.inpaint(clean, masks), clean]


class _Restorer(GenerativeModel):
    """What SuperResolution and Denoiser share.

    Degrade clean patches in ``train_step``, learn to undo it by mean squared error (the loss PSNR
    measures), track the batch's PSNR (:func:`pooled_psnr`'s definition).
    """

    optimizer_names = ("restorer",)

    def __init__(self, channels, seed, **kwargs):
        super().__init__(trackers=("loss", "psnr"), seed=seed, **kwargs)
        self.channels = check_int(channels, "channels")
        self.value_range = (0, 1)

    def default_optimizers(self):
        """Adam(1e-3) for the network.

        Returns:
            ``{"restorer": Adam}``.
        """
        return {"restorer": keras.optimizers.Adam(1e-3)}

    def optimizer_variables(self, name):
        """The variables optimizer ``name`` updates: the network's.

        Args:
            name: ``"restorer"``.

        Returns:
            The network's trainable variables.
        """
        return self.network.trainable_variables

    def call(self, degraded, training=False):
        return self.network(degraded, training=training)

    def _step_losses(self, clean, training):
        restored = self(self.degrade(clean), training=training)
        clean = tf.cast(clean, "float32")
        loss = tf.reduce_mean(tf.square(restored - clean))
        clipped_mse = tf.reduce_mean(tf.square(tf.clip_by_value(restored, 0.0, 1.0) - clean))
        psnr = (
            -10.0 * tf.math.log(tf.maximum(clipped_mse, 1e-12)) / tf.math.log(10.0)
        )  # pooled over the batch
        return {"loss": loss, "psnr": psnr}

    def train_step(self, data):
        clean = self.as_compute(data[0] if isinstance(data, (tuple, list)) else data)
        with tf.GradientTape() as tape:
            values = self._step_losses(clean, training=True)
            scaled = self.scale_loss("restorer", values["loss"])
        self.descend("restorer", tape, scaled, self.network.trainable_variables)
        return self.record(**values)

    def test_step(self, data):
        clean = self.as_compute(data[0] if isinstance(data, (tuple, list)) else data)
        return self.record(count_step=False, **self._step_losses(clean, training=False))

    # the degraded images' range: [0, 1] (a downsampled image) or None (noisy, any finite values)
    input_range = (0, 1)

    def _restore(self, degraded, batch_size):
        degraded = check_images(
            degraded,
            (None, None, self.channels),
            value_range=self.input_range or (-np.inf, np.inf),
            empty=False,
            hint="Images in [0, 255]: divide them by 255.",
        )
        return np.clip(run_network(self.network, degraded, batch_size), 0.0, 1.0)


class SuperResolution(_Restorer):
    """x2 or x4 super-resolution.

    Training pairs: a clean patch and its area-averaged downsampling.  Trains on batches of clean
    patches in [0, 1] whose side is divisible by ``scale``.

    Args:
        scale: the upscaling factor, 2 or 4.
        channels: the channels of the images.
        width: the filters of the network's convolutions.
        blocks: the network's residual blocks (0 or more).
        seed: the seed of the model's noise (a non-negative int).
        **kwargs: passed on to :class:`~aigc_keras.models.base.GenerativeModel` (``name``, ...).
    """

    xla_unsupported = "bicubic upsampling (TensorFlow's ResizeBicubic) has no XLA kernel"

    def __init__(self, scale=2, channels=3, width=32, blocks=4, seed=0, **kwargs):
        if not is_int(scale) or scale not in (2, 4):
            raise ValueError(f"scale must be 2 or 4, got {scale!r}.")
        super().__init__(channels=channels, seed=seed, **kwargs)
        self.scale, self.width, self.blocks = (
            int(scale),
            check_int(width, "width"),
            check_int(blocks, "blocks", minimum=0),
        )
        self.network = build_super_resolution_network(
            self.scale, self.channels, self.width, self.blocks
        )
        self.build_now(np.zeros((1, 8, 8, self.channels), np.float32))

    def get_config(self):
        return {
            **super().get_config(),
            "scale": self.scale,
            "channels": self.channels,
            "width": self.width,
            "blocks": self.blocks,
        }

    def degrade(self, clean):
        """Area-averaged downsampling by ``scale``.

        Each low-resolution pixel is the mean of its ``scale`` x ``scale`` block (an average
        pooling; ``tf.image.resize(method="area")`` gives the same numbers but has no XLA kernel,
        and XLA is the default on GPUs).

        Args:
            clean: images ``(B, H, W, C)`` in [0, 1] (a remainder of ``H`` or ``W`` not
                divisible by ``scale`` is dropped).

        Returns:
            Images ``(B, H / scale, W / scale, C)`` in the compute dtype.
        """
        pooled = tf.nn.avg_pool2d(tf.cast(clean, "float32"), self.scale, self.scale, "VALID")
        return tf.cast(pooled, self.compute_dtype)

    def upscale(self, images, batch_size: int = 64) -> np.ndarray:
        """Low-resolution images in [0, 1] -> ``scale`` times larger, clipped to [0, 1].

        Args:
            images: images ``(N, h, w, channels)`` in [0, 1], any size.
            batch_size: the images per network call.

        Returns:
            Float32 images ``(N, scale h, scale w, channels)`` in [0, 1].
        """
        return self._restore(images, batch_size)

    def examples(self, clean, seed: int = 0) -> list:  # noqa: ARG002 (the degradation is fixed)
        """Rows for a before/after picture: the low-resolution inputs (blown up by pixel
        repetition), their upscaling, the originals.

        Args:
            clean: held-out images in [0, 1].
            seed: unused (the degradation has no randomness).

        Returns:
            ``[blown-up low-resolution inputs, upscaled, clean]``, three image arrays.
        """
        low = keras.ops.convert_to_numpy(self.degrade(clean))
        blocky = np.repeat(np.repeat(low, self.scale, 1), self.scale, 2)
        return [blocky, self.upscale(low), clean]


class Denoiser(_Restorer):
    """Removes additive Gaussian noise of standard deviation ``noise_std``.

    ``noise_std`` is in [0, 1] units (0.1 is 25.5/255).  Trains on batches of clean patches in
    [0, 1].

    Args:
        channels: the channels of the images.
        width: the filters of the network's hidden convolutions.
        depth: the network's convolutions (at least 2).
        noise_std: the standard deviation of the training noise, in (0, 1).
        seed: the seed of the model's noise (a non-negative int).
        **kwargs: passed on to :class:`~aigc_keras.models.base.GenerativeModel` (``name``, ...).
    """

    def __init__(self, channels=3, width=32, depth=8, noise_std=0.1, seed=0, **kwargs):
        check_fraction(noise_std, "noise_std", "(0, 1)")
        super().__init__(channels=channels, seed=seed, **kwargs)
        self.width, self.depth, self.noise_std = (
            check_int(width, "width"),
            check_int(depth, "depth", 2),
            float(noise_std),
        )
        self.network = build_denoising_network(self.channels, self.width, self.depth)
        self.build_now(np.zeros((1, 8, 8, self.channels), np.float32))

    def get_config(self):
        return {
            **super().get_config(),
            "channels": self.channels,
            "width": self.width,
            "depth": self.depth,
            "noise_std": self.noise_std,
        }

    input_range = None  # noisy images stray outside [0, 1]; they are not clipped first

    def degrade(self, clean):
        """Add Gaussian noise of standard deviation ``noise_std`` from the model's seeded noise.

        Args:
            clean: images ``(B, H, W, C)`` in [0, 1].

        Returns:
            The noisy images, same shape and dtype (not clipped).
        """
        return clean + tf.cast(self.noise_std * self.noise(tf.shape(clean)), clean.dtype)

    def denoise(self, images, batch_size: int = 64) -> np.ndarray:
        """Noisy images (roughly in [0, 1]) -> denoised, clipped to [0, 1].

        Args:
            images: noisy images ``(N, H, W, channels)``, any size.
            batch_size: the images per network call.

        Returns:
            Float32 images of the same shape in [0, 1].
        """
        return self._restore(images, batch_size)

    def examples(self, clean, seed: int = 0) -> list:  # noqa: ARG002 (the model's own noise)
        """Rows for a before/after picture: noisy inputs, their denoising, the originals.

        Args:
            clean: held-out images in [0, 1].
            seed: unused (the noise comes from the model's seed generator).

        Returns:
            ``[noisy inputs clipped to [0, 1], denoised, clean]``, three image arrays.
        """
        noisy = keras.ops.convert_to_numpy(self.degrade(clean))
        return [np.clip(noisy, 0, 1), self.denoise(noisy), clean]


def _width(settings) -> dict:
    return {} if settings["width"] is None else {"width": settings["width"]}


IMAGE = {"image": "an image in [0, 1]"}
SPECS = (
    ModelSpec(
        "inpainter",
        Inpainter,
        "restorer",
        "fills holes in images (chapter 7)",
        batch_size=32,
        value_range=(0, 1),
        width=32,
        sizes=(16, 28, 32, 64),
        test_config=dict(image_size=16, channels=1, width=8, mask_bank=16),
        make=lambda spec, s: Inpainter(s["image_size"], s["channels"], seed=s["seed"], **_width(s)),
        export=lambda model: {"inpainter.keras": model.network},
        inputs={**IMAGE, "mask": "1 where a pixel is missing, 0 where it is kept"},
    ),
    ModelSpec(
        "superres",
        SuperResolution,
        "restorer",
        "super-resolution by sub-pixel convolution (chapter 7)",
        dataset="photos",
        image_size=32,
        batch_size=16,
        epochs=20,
        value_range=(0, 1),
        width=32,
        sizes=(16, 32, 64),
        test_config=dict(scale=2, channels=1, width=8, blocks=1),
        options=(
            Option(
                "--scale", 2, "upscaling factor (default: 2)", parse=int_from_text, choices=(2, 4)
            ),
        ),
        make=lambda spec, s: SuperResolution(
            s["scale"], s["channels"], seed=s["seed"], **_width(s)
        ),
        export=lambda model: {f"superres_x{model.scale}.keras": model.network},
        inputs=IMAGE,
    ),
    ModelSpec(
        "denoiser",
        Denoiser,
        "restorer",
        "removes Gaussian noise (chapter 7)",
        dataset="photos",
        image_size=32,
        batch_size=16,
        epochs=20,
        value_range=(0, 1),
        width=32,
        sizes=(16, 32, 64),
        test_config=dict(channels=1, width=8, depth=3),
        options=(
            Option(
                "--noise-std",
                0.1,
                "standard deviation of the Gaussian noise in [0, 1] "
                "units, in (0, 1) (default: 0.1)",
                parse=lambda text: fraction_from_text(text, "(0, 1)"),
            ),
        ),
        make=lambda spec, s: Denoiser(
            s["channels"], noise_std=s["noise_std"], seed=s["seed"], **_width(s)
        ),
        export=lambda model: {"denoiser.keras": model.network},
        inputs=IMAGE,
    ),
)
