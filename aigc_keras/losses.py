"""Loss functions as pure functions on tensors (computed in float32).

GAN losses follow Goodfellow et al., "Generative Adversarial Nets" (NeurIPS 2014).
The discriminator D maximises ``E[log D(x)] + E[log(1 - D(G(z)))]``; written as a
loss to minimise, with logits ``l`` and ``D = sigmoid(l)``, that is the binary
cross-entropy of real images against 1 and generated images against 0.  The
generator's minimax loss ``E[log(1 - D(G(z)))]`` saturates early in training, so the
non-saturating loss ``-E[log D(G(z))]`` is used in practice: the same fixed point,
much stronger gradients when D confidently rejects the samples.
"""

from __future__ import annotations

from keras import ops

from .validation import check_fraction, check_positive


def _f32(x):
    return ops.cast(x, "float32")


def _check_same_shape(x, y, what: str, like: str) -> None:
    """A ``ValueError`` when the static shapes of ``x`` and ``y`` (the batch axis aside) are both
    known and differ: a loss summed over pixels would otherwise broadcast into a wrong number."""
    given = (tuple(x.shape[1:]), tuple(y.shape[1:]))
    if None not in given[0] + given[1] and given[0] != given[1]:
        raise ValueError(
            f"{what} must have the {like}' shape, got {tuple(y.shape)} for {like} {tuple(x.shape)}."
        )


def softplus(x):
    """``log(1 + exp(x))`` computed stably; ``-log sigmoid(l) = softplus(-l)``.

    Args:
        x: a tensor of any shape.

    Returns:
        A tensor of the same shape and dtype, elementwise ``log(1 + exp(x))``.
    """
    return ops.softplus(x)


def discriminator_loss(real_logits, fake_logits, *, label_smoothing: float = 0.0):
    """``-E[log D(x)] - E[log(1 - D(G(z)))]`` from logits.

    ``label_smoothing`` (one-sided, Salimans et al. 2016) uses ``1 - label_smoothing``
    as the target for real images only.

    Args:
        real_logits: the discriminator's logits on real images, any shape (one per image,
            typically ``(B,)`` or ``(B, 1)``); the mean is taken over all entries.
        fake_logits: the discriminator's logits on generated images, any shape.
        label_smoothing: how much to lower the real target, in ``[0, 1)``; 0 means no
            smoothing.

    Returns:
        A float32 scalar tensor: the real images' mean binary cross-entropy plus the
        generated images'.

    Raises:
        ValueError: if ``label_smoothing`` is not in ``[0, 1)``.
    """
    check_fraction(label_smoothing, "label_smoothing", "[0, 1)")
    real_logits, fake_logits = _f32(real_logits), _f32(fake_logits)
    target = 1.0 - label_smoothing
    # BCE(l, t) = t * softplus(-l) + (1 - t) * softplus(l)
    real = target * softplus(-real_logits) + (1.0 - target) * softplus(real_logits)
    fake = softplus(fake_logits)  # -log(1 - sigmoid(l)) = softplus(l)
    return ops.mean(real) + ops.mean(fake)


def generator_loss(fake_logits):
    """Non-saturating generator loss ``-E[log D(G(z))] = E[softplus(-l)]``.

    Args:
        fake_logits: the discriminator's logits on generated images, any shape.

    Returns:
        A float32 scalar tensor.
    """
    return ops.mean(softplus(-_f32(fake_logits)))


def wasserstein_critic_loss(real_scores, fake_scores):
    """Critic loss ``E[D(G(z))] - E[D(x)]`` (Arjovsky et al. 2017).

    Minimising it maximises the gap between the critic's scores on real and generated
    images.

    Args:
        real_scores: the critic's unbounded scores on real images, any shape.
        fake_scores: the critic's scores on generated images, any shape.

    Returns:
        A float32 scalar tensor (negative when real images score higher).
    """
    return ops.mean(_f32(fake_scores)) - ops.mean(_f32(real_scores))


def wasserstein_generator_loss(fake_scores):
    """Generator loss ``-E[D(G(z))]``.

    Args:
        fake_scores: the critic's unbounded scores on generated images, any shape.

    Returns:
        A float32 scalar tensor.
    """
    return -ops.mean(_f32(fake_scores))


def gradient_penalty(critic, real, fake, epsilon):
    """WGAN-GP penalty ``E[(||∇_x̂ D(x̂)||_2 - 1)^2]`` (Gulrajani et al. 2017).

    The gradient is taken at ``x̂ = ε x + (1 - ε) x̃``, random points between real images
    ``x`` and generated images ``x̃``.  Uses TensorFlow's GradientTape (the package's
    backend).

    Args:
        critic: a callable (e.g. a Keras model) mapping a batch of images to one score each.
        real: real images, ``(B, H, W, C)``.
        fake: generated images, the same shape as ``real``.
        epsilon: one uniform draw in [0, 1] per sample, shape ``(B, 1, 1, 1)``, float32.

    Returns:
        A float32 scalar tensor.
    """
    import tensorflow as tf

    real, fake = tf.cast(real, tf.float32), tf.cast(fake, tf.float32)
    interpolates = epsilon * real + (1.0 - epsilon) * fake
    with tf.GradientTape() as tape:
        tape.watch(interpolates)
        scores = tf.cast(critic(interpolates), tf.float32)
    gradients = tape.gradient(scores, interpolates)
    if gradients is None:
        raise ValueError(
            "gradient_penalty: the critic's scores do not depend on the images it is given; "
            "it must be a differentiable function of its input (a Keras model, say)."
        )
    norms = tf.sqrt(
        tf.reduce_sum(tf.square(gradients), axis=list(range(1, len(gradients.shape)))) + 1e-12
    )
    return tf.reduce_mean(tf.square(norms - 1.0))


def gaussian_kl(mean, log_var):
    """``KL(N(mean, exp(log_var)) || N(0, I))`` per sample, summed over latent dimensions.

    Closed form for diagonal Gaussians: ``0.5 * Σ_j (μ_j² + σ_j² - 1 - log σ_j²)``.

    Args:
        mean: the encoder's means, ``(B, latent_dim)``.
        log_var: the encoder's log-variances (natural log of σ²), the same shape.

    Returns:
        A float32 tensor of shape ``(B,)``, in nats.
    """
    mean, log_var = _f32(mean), _f32(log_var)
    return 0.5 * ops.sum(ops.square(mean) + ops.exp(log_var) - 1.0 - log_var, axis=-1)


def bernoulli_nll(images01, logits):
    """``-log p(x|z)`` per sample for a Bernoulli decoder.

    The binary cross-entropy summed over pixels; with logits ``l``:
    ``Σ x softplus(-l) + (1 - x) softplus(l)``.  For grey levels in [0, 1] (not just 0/1)
    this is the usual practice; it is not a normalised density.

    Args:
        images01: the target images in [0, 1], ``(B, H, W, C)`` (any shape with the batch
            first).
        logits: the decoder's logits, the same shape.

    Returns:
        A float32 tensor of shape ``(B,)``, in nats.
    """
    x, logits = _f32(images01), _f32(logits)
    _check_same_shape(x, logits, "logits", "images")
    per_pixel = x * softplus(-logits) + (1.0 - x) * softplus(logits)
    return ops.sum(ops.reshape(per_pixel, (ops.shape(per_pixel)[0], -1)), axis=-1)


def gaussian_nll(images, mean, sigma: float):
    """``-log N(x; mean, sigma² I)`` per sample, summed over pixels (with its constant).

    Args:
        images: the target images, ``(B, H, W, C)`` (any shape with the batch first).
        mean: the decoder's means, the same shape and value range as ``images``.
        sigma: the fixed standard deviation, > 0, in the images' units.

    Returns:
        A float32 tensor of shape ``(B,)``, in nats.
    """
    import math

    sigma = check_positive(sigma, "sigma")  # 0 and -1 gave "math domain error"
    x, mean = _f32(images), _f32(mean)
    _check_same_shape(x, mean, "mean", "images")
    squared = ops.reshape(ops.square(x - mean), (ops.shape(x)[0], -1))
    pixels = math.prod(x.shape[1:])  # static even when the batch is not
    return ops.sum(squared, axis=-1) / (2.0 * sigma**2) + pixels * (
        math.log(sigma) + 0.5 * math.log(2 * math.pi)
    )


def gaussian_log_density(z, mean, log_var):
    """``log N(z; mean, diag(exp(log_var)))``, summed over the last axis.

    With ``mean = 0`` and ``log_var = 0`` it is the standard normal prior ``log p(z)``.

    Args:
        z: the points, ``(..., latent_dim)``.
        mean: the means, a shape that broadcasts against ``z``.
        log_var: the log-variances (natural log of σ²), a shape that broadcasts against ``z``.

    Returns:
        A float32 tensor of ``z``'s shape without its last axis, in nats.
    """
    import math

    z, mean, log_var = _f32(z), _f32(mean), _f32(log_var)
    per_dim = ops.square(z - mean) * ops.exp(-log_var) + log_var + math.log(2 * math.pi)
    return -0.5 * ops.sum(per_dim, axis=-1)


def log_mean_exp(values, axis: int = -1):
    """``log(mean(exp(values)))`` along ``axis``, computed stably (log-sum-exp minus ``log n``).

    Args:
        values: a tensor, e.g. log importance weights ``(B, k)``.
        axis: the axis averaged over.

    Returns:
        A float32 tensor without ``axis``.
    """
    values = _f32(values)
    if values.shape[axis] == 0:  # log(0 / 0): NaN
        raise ValueError(
            f"log_mean_exp needs at least one value along axis {axis}, got shape "
            f"{tuple(values.shape)}."
        )
    count = ops.cast(ops.shape(values)[axis], "float32")
    return ops.logsumexp(values, axis=axis) - ops.log(count)


def least_squares_discriminator_loss(real_scores, fake_scores):
    """LSGAN (Mao et al. 2017) as CycleGAN uses it: ``E[(D(x) - 1)^2] + E[D(G(z))^2]``, halved.

    Halving slows the discriminator relative to the generator (Zhu et al. 2017, sec. 7.1).

    Args:
        real_scores: the discriminator's scores on real images, any shape (e.g. a PatchGAN
            map ``(B, h, w, 1)``).
        fake_scores: its scores on generated images, any shape.

    Returns:
        A float32 scalar tensor.
    """
    real_scores, fake_scores = _f32(real_scores), _f32(fake_scores)
    return 0.5 * (ops.mean(ops.square(real_scores - 1.0)) + ops.mean(ops.square(fake_scores)))


def least_squares_generator_loss(fake_scores):
    """``E[(D(G(z)) - 1)^2]``: LSGAN's generator loss.

    The generator pushes the scores of its images towards the real target 1.

    Args:
        fake_scores: the discriminator's scores on generated images, any shape.

    Returns:
        A float32 scalar tensor.
    """
    return ops.mean(ops.square(_f32(fake_scores) - 1.0))


def l1(x, y):
    """Mean absolute difference: the cycle-consistency ``E|F(G(a)) - a|`` and identity losses.

    Args:
        x: a tensor.
        y: a tensor of the same shape (or one that broadcasts against ``x``).

    Returns:
        A float32 scalar tensor.
    """
    return ops.mean(ops.abs(_f32(x) - _f32(y)))


def scores_and_r1(critic, images):
    """``(D(x), R1)`` with ``R1 = E_x[||∇_x D(x)||^2]`` on real images.

    The R1 penalty of Mescheder, Geiger, Nowozin (2018).  StyleGAN2 adds ``γ/2 · R1`` to
    the discriminator's logistic loss: penalising the gradient on real data keeps the
    discriminator from growing steep around the data, which is what makes training
    converge.  The scores come back too, so the discriminator runs once on the real batch.

    Args:
        critic: a callable (e.g. a Keras model) mapping a batch of images to one score each.
        images: real images, ``(B, H, W, C)``.

    Returns:
        A pair ``(scores, penalty)``: the critic's scores as it returned them (its own
        dtype) and the penalty as a float32 scalar tensor.
    """
    import tensorflow as tf

    images = tf.convert_to_tensor(images)
    with tf.GradientTape() as tape:
        tape.watch(images)
        scores = critic(images)
        total = tf.reduce_sum(tf.cast(scores, tf.float32))
    gradients = tf.cast(tape.gradient(total, images), tf.float32)
    penalty = tf.reduce_mean(
        tf.reduce_sum(tf.square(gradients), axis=list(range(1, len(gradients.shape))))
    )
    return scores, penalty
