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


def _f32(x):
    return ops.cast(x, "float32")


def softplus(x):
    """``log(1 + exp(x))`` computed stably; ``-log sigmoid(l) = softplus(-l)``."""
    return ops.softplus(x)


def discriminator_loss(real_logits, fake_logits, *, label_smoothing: float = 0.0):
    """``-E[log D(x)] - E[log(1 - D(G(z)))]`` from logits.

    ``label_smoothing`` (one-sided, Salimans et al. 2016) uses ``1 - label_smoothing``
    as the target for real images only.
    """
    if not 0.0 <= label_smoothing < 1.0:
        raise ValueError(f"label_smoothing must be in [0, 1), got {label_smoothing!r}.")
    real_logits, fake_logits = _f32(real_logits), _f32(fake_logits)
    target = 1.0 - label_smoothing
    # BCE(l, t) = t * softplus(-l) + (1 - t) * softplus(l)
    real = target * softplus(-real_logits) + (1.0 - target) * softplus(real_logits)
    fake = softplus(fake_logits)  # -log(1 - sigmoid(l)) = softplus(l)
    return ops.mean(real) + ops.mean(fake)


def generator_loss(fake_logits):
    """Non-saturating generator loss ``-E[log D(G(z))] = E[softplus(-l)]``."""
    return ops.mean(softplus(-_f32(fake_logits)))


def wasserstein_critic_loss(real_scores, fake_scores):
    """Critic loss ``E[D(G(z))] - E[D(x)]`` (Arjovsky et al. 2017): minimising it maximises the gap."""
    return ops.mean(_f32(fake_scores)) - ops.mean(_f32(real_scores))


def wasserstein_generator_loss(fake_scores):
    """Generator loss ``-E[D(G(z))]``."""
    return -ops.mean(_f32(fake_scores))


def gradient_penalty(critic, real, fake, epsilon):
    """WGAN-GP penalty ``E[(||∇_x̂ D(x̂)||_2 - 1)^2]`` with ``x̂ = ε x + (1 - ε) x̃`` (Gulrajani et al. 2017).

    ``epsilon`` holds one uniform draw per sample (shape ``(batch, 1, 1, 1)``); ``critic``
    maps images to one score each.  Uses TensorFlow's GradientTape (the package's backend).
    """
    import tensorflow as tf

    real, fake = tf.cast(real, tf.float32), tf.cast(fake, tf.float32)
    interpolates = epsilon * real + (1.0 - epsilon) * fake
    with tf.GradientTape() as tape:
        tape.watch(interpolates)
        scores = tf.cast(critic(interpolates), tf.float32)
    gradients = tape.gradient(scores, interpolates)
    norms = tf.sqrt(tf.reduce_sum(tf.square(gradients), axis=list(range(1, len(gradients.shape)))) + 1e-12)
    return tf.reduce_mean(tf.square(norms - 1.0))
