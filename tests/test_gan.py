"""Chapter 2: DCGAN, ConditionalGAN and WGAN-GP — the standard matrix and the losses (the quality
bars: test_gan_demo.py for the conditional GAN, test_dcgan_quality.py and test_wgan_gp_quality.py
with gan_bars.py for DCGAN and WGAN-GP)."""

import keras
import matrix
import numpy as np
import pytest
import tensorflow as tf

from aigc_keras import data, losses
from aigc_keras.models import gan

KINDS = matrix.kinds("gan")  # the registered models of aigc_keras.models.gan


@pytest.fixture(scope="module")
def small_digits():
    arrays = data.load_arrays("mnist", "train", image_size=28, limit=64)
    return {
        False: tf.data.Dataset.from_tensor_slices(arrays.images).batch(16),
        True: tf.data.Dataset.from_tensor_slices((arrays.images, arrays.labels)).batch(16),
    }


def _batches(kind, small_digits):
    return small_digits[kind == "cgan"]


@pytest.mark.parametrize("size, channels", [(28, 1), (32, 3), (64, 3)])
@pytest.mark.parametrize("kind", list(KINDS))
def test_shapes_at_each_size(kind, size, channels):
    model = KINDS[kind][0](image_size=size, channels=channels)
    labels = [1, 2] if kind == "cgan" else None
    images = model.generate(None if labels else 2, labels=labels, seed=0)
    assert images.shape == (2, size, size, channels) and np.abs(images).max() <= 1.0
    critic_in = [images, np.array([1, 2])] if kind == "cgan" else images
    assert model.discriminator(critic_in).shape == (2, 1)


def test_unsupported_size_is_refused():
    with pytest.raises(ValueError, match="image_size 30 is not supported"):
        gan.DCGAN(image_size=30)


def test_wgan_gp_refuses_classes_and_sampling_refuses_empty_batches():
    with pytest.raises(ValueError, match="WGANGP is unconditional: num_classes must be None"):
        gan.WGANGP(image_size=28, num_classes=10)
    model = gan.DCGAN(image_size=28, width=8)
    for size in (0, -1):
        with pytest.raises(ValueError, match=f"batch_size must be a positive integer, got {size}"):
            model.generate(2, batch_size=size)


@pytest.mark.parametrize("kind", list(KINDS))
def test_finite_losses_and_validation(kind, small_digits):
    matrix.check_finite_epoch(KINDS[kind][0], _batches(kind, small_digits), steps=4)


@pytest.mark.parametrize("kind", list(KINDS))
def test_generator_round_trip(kind, small_digits, tmp_path):
    model = matrix.fresh(KINDS[kind][0])
    model.fit(_batches(kind, small_digits), epochs=1, verbose=0)
    sample_kwargs = KINDS[kind][1]
    if kind == "cgan":
        inputs = lambda z: [z, tf.constant(sample_kwargs["labels"], tf.int32)]  # noqa: E731
    else:
        inputs = lambda z: z  # noqa: E731
    exported = gan.export_generator(model)["generator.keras"]
    matrix.check_generator_round_trip(model, exported, tmp_path, sample_kwargs, inputs)


@pytest.mark.parametrize("kind", list(KINDS))
def test_samples_come_from_the_moving_average_of_the_generator(kind, small_digits):
    """After each generator step, average <- β average + (1 - β) live with β = ema_beta(steps
    before this one): recomputed here from the live weights seen after each step."""
    model = matrix.fresh(lambda: KINDS[kind][0](ema_rampup=1.0))  # β: 0.5, 0.5, 0.707, ...
    expected = [w.numpy() for w in model.generator.weights]
    seen = []

    class Watch(keras.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            seen.append([w.numpy() for w in model.generator.weights])

    model.fit(_batches(kind, small_digits).take(3), epochs=1, verbose=0, callbacks=[Watch()])
    assert len(seen) == 3
    for step, live in enumerate(seen):
        beta = float(model.ema_beta(step))
        expected = [beta * e + (1 - beta) * w for e, w in zip(expected, live, strict=True)]
    averages = model.generator_ema.weights
    for average, e in zip(averages, expected, strict=True):
        np.testing.assert_allclose(average.numpy(), e, rtol=1e-5, atol=1e-6, err_msg=average.path)
    assert any(  # the average lags the live generator
        not np.allclose(a.numpy(), w) for a, w in zip(averages, seen[-1], strict=True)
    )
    sample_kwargs = KINDS[kind][1]
    n = len(sample_kwargs.get("labels", [])) or sample_kwargs["n"]
    latents = tf.random.stateless_normal((n, *model.latent_shape), seed=[sample_kwargs["seed"], 0])
    inputs = [latents, tf.constant(sample_kwargs["labels"])] if kind == "cgan" else latents
    samples = model.generate(**sample_kwargs)
    average_images = keras.ops.convert_to_numpy(model.generator_ema(inputs, training=False))
    np.testing.assert_array_equal(samples, average_images)
    assert not np.allclose(samples, keras.ops.convert_to_numpy(model.generator(inputs)))
    live_model = matrix.fresh(lambda: KINDS[kind][0](ema_decay=0.0))
    live_model.fit(_batches(kind, small_digits).take(2), epochs=1, verbose=0)
    for a, w in zip(live_model.generator_ema.weights, live_model.generator.weights, strict=True):
        np.testing.assert_array_equal(a.numpy(), w.numpy())  # ema_decay 0: the live generator
    with pytest.raises(ValueError, match=r"ema_decay must be a number in \[0, 1\], got 1.5"):
        KINDS[kind][0](ema_decay=1.5)


@pytest.mark.parametrize("kind", list(KINDS))
def test_checkpoint_resume_is_exact(kind, small_digits, tmp_path):
    matrix.check_resume_is_exact(
        KINDS[kind][0], _batches(kind, small_digits), tmp_path, KINDS[kind][1]
    )


@pytest.mark.parametrize("kind", list(KINDS))
def test_mirrored_strategy_epoch(kind, small_digits):
    matrix.check_mirrored_epoch(KINDS[kind][0], _batches(kind, small_digits))


@pytest.mark.parametrize("policy_name", ["mixed_bfloat16", "mixed_float16"])
@pytest.mark.parametrize("kind", list(KINDS))
def test_mixed_precision_epoch(kind, policy_name, small_digits):
    matrix.check_mixed_epoch(KINDS[kind][0], _batches(kind, small_digits), policy_name)


def test_conditional_model_needs_labels(small_digits):
    model = matrix.fresh(KINDS["cgan"][0])
    with pytest.raises(ValueError, match="class-conditional: pass labels"):
        model.generate(4)
    with pytest.raises(ValueError, match=r"labels must be in 0\.\.9"):
        model.generate(labels=[3, 10])
    with pytest.raises(ValueError, match="load the data with labels=True"):
        model.fit(small_digits[False], epochs=1, verbose=0)


def test_critic_has_no_batch_norm_and_no_sigmoid():
    critic = gan.WGANGP(width=8).discriminator
    kinds = {type(layer).__name__ for layer in critic.layers}
    assert "BatchNormalization" not in kinds and "LayerNormalization" in kinds
    assert critic.get_layer("logit").activation.__name__ == "linear"


def test_gan_losses_match_their_formulas():
    real, fake = np.array([2.0, -1.0, 0.5]), np.array([-3.0, 0.2, 1.0])
    sig = lambda x: 1 / (1 + np.exp(-x))  # noqa: E731
    expected = -np.mean(np.log(sig(real))) - np.mean(np.log(1 - sig(fake)))
    assert float(losses.discriminator_loss(real, fake)) == pytest.approx(expected, rel=1e-5)
    smooth = -np.mean(0.9 * np.log(sig(real)) + 0.1 * np.log(1 - sig(real))) - np.mean(
        np.log(1 - sig(fake))
    )
    assert float(losses.discriminator_loss(real, fake, label_smoothing=0.1)) == pytest.approx(
        smooth, rel=1e-5
    )
    assert float(losses.generator_loss(fake)) == pytest.approx(
        -np.mean(np.log(sig(fake))), rel=1e-5
    )
    assert float(losses.wasserstein_critic_loss(real, fake)) == pytest.approx(
        fake.mean() - real.mean()
    )


def test_gradient_penalty_of_a_linear_critic():
    w = tf.constant(np.arange(1, 13, dtype=np.float32).reshape(1, 2, 2, 3) / 10.0)

    def critic(x):  # D(x) = <w, x>: its gradient is w everywhere, so the penalty is (||w|| - 1)^2
        return tf.reduce_sum(x * w, axis=[1, 2, 3])

    real = tf.random.normal((5, 2, 2, 3), seed=1)
    fake = tf.random.normal((5, 2, 2, 3), seed=2)
    epsilon = tf.random.uniform((5, 1, 1, 1), seed=3)
    expected = (np.linalg.norm(w.numpy()) - 1.0) ** 2
    assert float(losses.gradient_penalty(critic, real, fake, epsilon)) == pytest.approx(
        expected, rel=1e-5
    )
    with pytest.raises(ValueError, match="the critic's scores do not depend on the images"):
        losses.gradient_penalty(
            lambda x: tf.ones((5,)), real, fake, epsilon
        )  # was a raw None error
    # a 1-Lipschitz linear critic (unit-norm w) pays no penalty
    unit = w / tf.norm(w)
    assert float(
        losses.gradient_penalty(
            lambda x: tf.reduce_sum(x * unit, axis=[1, 2, 3]), real, fake, epsilon
        )
    ) == pytest.approx(0.0, abs=1e-6)
