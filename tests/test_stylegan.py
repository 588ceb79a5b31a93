"""Chapter 5: StyleGAN — its layers, mixing, truncation, R1, augmentation, the standard matrix (the
quality bar: test_stylegan_quality.py)."""

import keras
import matrix
import numpy as np
import pytest
import tensorflow as tf

from aigc_keras import data, hardware, layers, losses, registry
from aigc_keras.models import stylegan

make_small = matrix.small(registry.get("stylegan"))  # the registered small test configuration


@pytest.fixture(scope="module")
def digits16():
    images = data.load_arrays("mnist", "train", image_size=16, limit=48).images
    return tf.data.Dataset.from_tensor_slices(images).batch(12)


@pytest.fixture(scope="module")
def trained(digits16):
    """A small model after one epoch (4 steps), shared by the tests that only read it."""
    model = matrix.fresh(make_small)
    model.fit(digits16, epochs=1, verbose=0)
    return model


# --- layers --------------------------------------------------------------------------------------


@pytest.mark.parametrize("demodulate", [True, False])
def test_modulated_convolution_keeps_unit_variance_only_when_demodulated(demodulate):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((6, 34, 34, 24)).astype(np.float32)
    w = 4.0 * rng.standard_normal((6, 12)).astype(np.float32)  # strong styles: s far from 1
    conv = layers.ModulatedConv2D(32, 3, demodulate=demodulate)
    y = conv([x, w]).numpy()[:, 1:-1, 1:-1]  # interior: no zero padding in the window
    per_map = y.var(axis=(1, 2))  # one variance per sample and output channel
    if demodulate:
        np.testing.assert_allclose(per_map.mean(), 1.0, atol=0.03)
        assert np.all(np.abs(per_map - 1.0) < 0.25)
    else:  # the negative control: without demodulation the styles' scale passes straight through
        s = conv.styles(w).numpy()
        assert per_map.mean() > 3.0 and abs(per_map.mean() / np.mean(s**2) - 1.0) < 0.2


def test_equalised_layers_scale_their_weights_at_run_time():
    rng = np.random.default_rng(1)
    x = rng.standard_normal((4, 20)).astype(np.float32)
    dense = layers.EqualizedDense(5, lr_multiplier=0.1, bias_init=1.0)
    y = dense(x).numpy()
    kernel, bias = dense.kernel.numpy(), dense.bias.numpy()
    assert 7.0 < kernel.std() < 13.0 and np.allclose(bias, 10.0)  # stored N(0, 1/lr^2), bias / lr
    np.testing.assert_allclose(
        y, x @ (kernel * 0.1 / np.sqrt(20)) + bias * 0.1, rtol=1e-5, atol=1e-5
    )
    images = rng.standard_normal((2, 5, 5, 3)).astype(np.float32)
    conv = layers.EqualizedConv2D(2, 3, use_bias=False)
    out = conv(images).numpy()
    k = conv.kernel.numpy() / np.sqrt(3 * 3 * 3)
    padded = np.pad(images, [(0, 0), (1, 1), (1, 1), (0, 0)])
    expected = np.zeros((2, 5, 5, 2), np.float32)
    for i in range(5):  # y[i, j] = sum_k sum_l x[i + k - 1, j + l - 1] w[k, l] (cross-correlation)
        for j in range(5):
            expected[:, i, j] = np.einsum("bklc,klco->bo", padded[:, i : i + 3, j : j + 3], k)
    np.testing.assert_allclose(out, expected, rtol=1e-4, atol=1e-5)


def test_minibatch_stddev_matches_numpy():
    x = np.random.default_rng(2).standard_normal((8, 3, 3, 5)).astype(np.float32)
    out = layers.MinibatchStdDev(4)(x).numpy()
    np.testing.assert_array_equal(out[..., :5], x)
    groups = x.reshape(4, 2, 3, 3, 5)  # sample i is in group i % 2
    stat = np.sqrt(groups.var(axis=0) + 1e-8).mean(axis=(1, 2, 3))
    np.testing.assert_allclose(out[:, 0, 0, 5], np.tile(stat, 4), rtol=1e-5)
    assert np.all(out[..., 5] == out[:, :1, :1, 5])  # one value per sample, over every pixel


def test_r1_is_the_squared_gradient_norm():
    x = tf.constant(np.random.default_rng(3).standard_normal((5, 2, 2, 3)).astype(np.float32))
    w = tf.constant(np.arange(1, 13, dtype=np.float32).reshape(1, 2, 2, 3) / 10.0)
    scores, r1 = losses.scores_and_r1(
        lambda v: tf.reduce_sum(v * w, axis=[1, 2, 3]), x
    )  # gradient w
    assert float(r1) == pytest.approx(float(tf.reduce_sum(w**2)), rel=1e-5)
    np.testing.assert_allclose(scores, tf.reduce_sum(x * w, axis=[1, 2, 3]), rtol=1e-5)
    _, r1 = losses.scores_and_r1(
        lambda v: 0.5 * tf.reduce_sum(v**2, axis=[1, 2, 3]), x
    )  # gradient x
    assert float(r1) == pytest.approx(
        float(np.mean(np.sum(x.numpy() ** 2, axis=(1, 2, 3)))), rel=1e-5
    )


def test_diff_augment_neutral_draws_shift_and_cutout():
    x = tf.constant(np.random.default_rng(4).uniform(-1, 1, (2, 16, 16, 3)).astype(np.float32))
    neutral = np.full(
        (2, 8), 0.5, np.float32
    )  # brightness +0, saturation x1, contrast x1, no shift
    np.testing.assert_allclose(
        layers.diff_augment(x, neutral, ("color", "translation")), x, atol=1e-6
    )
    shifted = neutral.copy()
    shifted[:, 3] = 0.99  # rows shift by +2 (the most at 16 px): output row i reads input row i + 2
    out = layers.diff_augment(x, shifted, ("translation",)).numpy()
    np.testing.assert_array_equal(out[:, :14], x.numpy()[:, 2:])
    assert np.all(out[:, 14:] == 0)
    cut = layers.diff_augment(x, neutral, ("cutout",)).numpy()
    assert np.mean(np.all(cut == 0, axis=-1)) == pytest.approx(0.25)  # an 8x8 square of 16x16
    with tf.GradientTape() as tape:
        tape.watch(x)
        total = tf.reduce_sum(layers.diff_augment(x, neutral * 0.7, layers.AUGMENTS))
    assert float(tf.reduce_sum(tf.abs(tape.gradient(total, x)))) > 0  # differentiable
    # a misspelt name was skipped (the batch came back unchanged); a wide batch was cropped
    for policy in (("colour",), "color"):
        with pytest.raises(ValueError, match="policy must be a sequence of names from translation"):
            layers.diff_augment(x, neutral, policy)
    with pytest.raises(ValueError, match=r"square images \(B, S, S, C\), got \(2, 8, 16, 3\)"):
        layers.diff_augment(x[:, :8], neutral, ("translation",))
    with pytest.raises(ValueError, match=r"draws must be \(B, 8\)"):
        layers.diff_augment(x, neutral[:, :4], ("color",))


# --- the model -----------------------------------------------------------------------------------


@pytest.mark.parametrize("size, channels", [(32, 1), (32, 3), (64, 1), (64, 3)])
def test_shapes_at_each_size(size, channels):
    model = stylegan.StyleGAN(
        image_size=size, channels=channels, latent_dim=16, mapping_layers=2, width=4, max_width=16
    )
    assert model.num_styles == 2 * int(np.log2(size)) - 2
    images = model.generate(2, seed=0)
    assert images.shape == (2, size, size, channels) and np.abs(images).max() <= 1.0
    assert model.discriminator(images).shape == (2, 1)


def test_refusals():
    with pytest.raises(ValueError, match="power of two from 8"):
        stylegan.StyleGAN(image_size=28)
    with pytest.raises(ValueError, match="augment must be a subset of translation, cutout, color"):
        make_small(augment="flip")
    model = make_small()
    with pytest.raises(
        ValueError, match=r"truncation_psi \(1: no truncation\) must be in \[0, 1\]"
    ):
        model.generate(2, truncation_psi=1.5)
    assert model.generate(1, seed=0, truncation_psi=np.float32(0.5)).shape[0] == 1  # NumPy psi
    with pytest.raises(ValueError, match="noise must hold 5 maps"):
        model.generate(2, noise=[np.zeros((1, 4, 4, 1))])
    with pytest.raises(ValueError, match="crossover_layer must be in 0..6"):
        model.style_mix(np.zeros((1, 16)), np.zeros((1, 16)), 7)
    z = np.zeros((2, 16), np.float32)
    cases = [
        # one fine latent was broadcast over both rows; out-of-range crossovers ran as "no mixing"
        (lambda: model.style_mix(z, z[:1], 3), "z_coarse and z_fine must have the same shape"),
        (lambda: model.style_mix(z * np.nan, z, 3), "z_coarse contain NaN"),
        (lambda: model.mix(z, z, -3), "crossover must be in 0..6, got -3"),
        (lambda: model.mix(z, z, 99), "crossover must be in 0..6, got 99"),
        (lambda: model.noise_variation(np.zeros(8)), r"z must be one latent.*got the shape \(8,\)"),
        (lambda: model.synthesize(model.mix(z, z, 6), seed=-1), "seed must be a non-negative"),
        (lambda: model.generate(2, batch_size=0), "batch_size must be a positive integer"),
        (
            lambda: stylegan.sample_exported(model.export_generator(), 1, truncation=2.0),
            "truncation",
        ),
    ]
    for call, message in cases:
        with pytest.raises(ValueError, match=message):
            call()


def test_mixing_replaces_only_the_styles_from_the_crossover_on():
    model = make_small()
    w1, w2 = tf.random.normal((3, 16), seed=1), tf.random.normal((3, 16), seed=2)
    for k in range(model.num_styles + 1):
        ws = model.mix(w1, w2, k).numpy()
        np.testing.assert_array_equal(ws[:, :k], np.repeat(w1.numpy()[:, None], k, axis=1))
        np.testing.assert_array_equal(
            ws[:, k:], np.repeat(w2.numpy()[:, None], model.num_styles - k, axis=1)
        )
    z1, z2 = np.random.default_rng(5).standard_normal((2, 3, 16)).astype(np.float32)
    np.testing.assert_allclose(
        model.style_mix(z1, z2, model.num_styles), model.style_mix(z1, z1, 2), atol=1e-6
    )
    np.testing.assert_allclose(model.style_mix(z1, z2, 0), model.style_mix(z2, z2, 3), atol=1e-6)
    mixed = model.style_mix(z1, z2, 3)
    assert mixed.shape == (3, 16, 16, 1) and not np.allclose(
        mixed, model.style_mix(z1, z1, 3), atol=1e-4
    )


def test_truncation_to_zero_gives_the_average_w_image(trained):
    model = trained
    assert float(np.abs(model.w_avg.numpy()).max()) > 0  # w_avg moved during training
    images = model.generate(5, seed=9, truncation_psi=0.0, noise="zero")
    average = model.synthesize(np.tile(model.w_avg.numpy(), (1, model.num_styles, 1)), noise="zero")
    np.testing.assert_allclose(images, np.repeat(average, 5, axis=0), atol=1e-6)
    untruncated = model.generate(5, seed=9, noise="zero")
    assert np.abs(untruncated - untruncated[:1]).max() > 1e-3


def test_noise_changes_details_not_the_image():
    model = matrix.fresh(make_small)
    for layer in model.synthesis_ema.layers:  # give the noise a visible strength
        if isinstance(layer, layers.NoiseInjection):
            layer.strength.assign(0.3)
    z = np.random.default_rng(6).standard_normal(16).astype(np.float32)
    varied = model.noise_variation(z, 6, seed=1)
    assert varied.shape == (6, 16, 16, 1) and varied.std(axis=0).mean() > 1e-3
    np.testing.assert_array_equal(model.noise_variation(z, 6, seed=1), varied)  # seeded


def test_finite_losses_and_validation(digits16):
    matrix.check_finite_epoch(
        lambda: make_small(augment="translation,cutout,color"), digits16, steps=4
    )


def test_ema_starts_equal_then_follows_behind(trained):
    fresh = matrix.fresh(make_small)  # the same initial weights as ``trained`` had
    for ema, live in zip(fresh.synthesis_ema.weights, fresh.synthesis.weights, strict=True):
        np.testing.assert_array_equal(ema.numpy(), live.numpy())
    pairs = list(
        zip(
            fresh.synthesis.weights,
            trained.synthesis.weights,
            trained.synthesis_ema.weights,
            strict=True,
        )
    )
    moved = max(np.abs(ema.numpy() - start.numpy()).max() for start, _, ema in pairs)
    lag = max(np.abs(ema.numpy() - live.numpy()).max() for _, live, ema in pairs)
    assert moved > 0 and lag > 0  # it follows the live weights, behind them
    assert not trained.synthesis_ema.trainable_weights and not trained.mapping_ema.trainable_weights
    # the decay ramps up: half-life 5 % of the steps so far, capped by ema_decay
    betas = [float(trained.ema_beta(t)) for t in (0, 200, 2_000, 100_000)]
    np.testing.assert_allclose(betas, [0.5, 0.5 ** (1 / 10), 0.5 ** (1 / 100), 0.999], rtol=1e-6)


@pytest.mark.skipif(bool(hardware.gpus()), reason="a CPU's XLA compiler")
def test_xla_with_bfloat16_on_a_cpu_is_refused_by_name(policy):
    """XLA's CPU compiler rejects StyleGAN's bfloat16 gradient with an internal error at the first
    step; the model says so at compile() instead, naming what to choose.  (Graph mode in bfloat16
    trains: test_mixed_precision_epoch; float32 under XLA trains: test_benchmarks' XLA test.)"""
    policy("mixed_bfloat16")
    model = make_small()
    with pytest.raises(
        ValueError,
        match="cannot be compiled with XLA under mixed_bfloat16 on a CPU.*"
        "--precision float32.*--xla off",
    ):
        model.compile(jit_compile=True)
    model.compile(jit_compile=False)  # graph mode in bfloat16: accepted


def test_exported_generator_round_trips(policy, tmp_path):
    # Identity to 1e-5 is a float32 property: a generator saved under mixed_bfloat16 reloads its
    # nested functional parts under the loader's policy (Keras), and its images then differ at
    # bfloat16's rounding.
    policy("float32")
    model = matrix.fresh(make_small)
    path = tmp_path / "generator.keras"
    model.export_generator().save(path)
    loaded = keras.saving.load_model(path, safe_mode=True)
    z = tf.random.stateless_normal((4, 16), seed=[3, 0])
    maps = [
        tf.random.stateless_normal((4, *s), seed=[3, 1 + i])
        for i, s in enumerate(model.noise_shapes)
    ]
    out = loaded([z, tf.fill((4, 1), 0.7), *maps], training=False).numpy()
    np.testing.assert_allclose(
        model.generate(4, seed=3, truncation_psi=0.7), np.clip(out, -1, 1), atol=1e-5
    )


def test_checkpoint_resume_is_exact(digits16, tmp_path):
    """Resume restores both networks, their EMA copies, w_avg and both optimizers (sampling uses all
    of them)."""
    matrix.check_resume_is_exact(
        make_small, digits16, tmp_path, {"n": 4, "seed": 3, "truncation_psi": 0.5}
    )


def test_mirrored_strategy_epoch(digits16):
    matrix.check_mirrored_epoch(lambda: make_small(augment="translation"), digits16)


@pytest.mark.parametrize("policy_name", ["mixed_bfloat16", "mixed_float16"])
def test_mixed_precision_epoch(policy_name, digits16):
    matrix.check_mixed_epoch(make_small, digits16, policy_name)
