"""Chapter 2: DCGAN, ConditionalGAN and WGAN-GP — the standard matrix, the losses, the quality
bars."""

import pathlib
import shlex

import keras
import matrix
import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

from aigc_keras import cli, data, hardware, judges, losses, metrics, registry
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
    matrix.check_generator_round_trip(model, tmp_path, sample_kwargs, inputs)


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
    # a 1-Lipschitz linear critic (unit-norm w) pays no penalty
    unit = w / tf.norm(w)
    assert float(
        losses.gradient_penalty(
            lambda x: tf.reduce_sum(x * unit, axis=[1, 2, 3]), real, fake, epsilon
        )
    ) == pytest.approx(0.0, abs=1e-6)


# --- quality bars on MNIST at 28x28 (offline: the 4,000 training digits of mnist_5k) -----------

STEPS = {"dcgan": 1500, "wgan-gp": 400}
# Domain Fréchet distance bars as a fraction of the untrained generator's: the scale of the
# classifier's features (and so of every FID) changes from one trained classifier to the next, the
# ratio much less.  Measured on the 2-core CPU (2026-12-01) at data seeds 0 / 1, class entropy and
# FID ratio: DCGAN at 1,000 steps 2.031 / 1.993, below the 0.9 ln 10 = 2.072 bar on real MNIST, at
# 1,500 steps 2.152 / 2.167 and 0.170 / 0.172; WGAN-GP at 300 generator steps 2.028 / 2.021, at
# 400 steps 2.097 / 2.150 and 0.250 / 0.257.  Each FID bar: the highest measured ratio plus 10%.
FID_BAR = {"dcgan": 0.19, "wgan-gp": 0.28}


def _train(kind, steps):
    keras.utils.set_random_seed(0)
    model = {"dcgan": gan.DCGAN, "wgan-gp": gan.WGANGP}[kind]()
    model.compile(jit_compile=hardware.jit_compile(model, quick=False))  # as a standard run
    dataset = data.load(
        "mnist", image_size=28, batch_size=64, repeat=True, drop_remainder=True, seed=0
    )
    model.fit(dataset, epochs=1, steps_per_epoch=steps, verbose=0)
    return model


@pytest.fixture(scope="module")
def real_digits():
    return (
        data.load_arrays("mnist", "train", image_size=28),
        data.load_arrays("mnist", "test", image_size=28),
    )


def _mean_pairwise(features):
    d = np.sqrt(np.maximum(metrics._squared_distances(features, features), 0))
    return d[np.triu_indices(len(features), 1)].mean()


def _nearest_distance(images, pool):
    flat, pool_flat = images.reshape(len(images), -1), pool.reshape(len(pool), -1)
    return np.sqrt(
        metrics._squared_distances(flat.astype(np.float64), pool_flat.astype(np.float64)).min(
            axis=1
        )
    )


def demo_arguments(makefile=pathlib.Path(__file__).parents[1] / "Makefile"):
    """The arguments ``make demo`` passes to ``aigc-keras`` (read from the Makefile)."""
    lines = [line for line in makefile.read_text().splitlines() if "aigc-keras train" in line]
    assert len(lines) == 1, "the Makefile's demo target should hold one aigc-keras train line"
    return shlex.split(lines[0].split("aigc-keras", 1)[1])


@pytest.fixture(scope="module")
def demo_cgan(tmp_path_factory):
    """``make demo``'s training, run as the Makefile runs it (its own output folder): the
    conditional GAN both tests below judge, trained once."""
    arguments = demo_arguments()
    out = arguments.index("--out") + 1
    arguments[out] = str(tmp_path_factory.mktemp("demo"))
    cli.main(arguments)
    folder = pathlib.Path(arguments[out]) / "cgan"
    network, record = registry.load_exported(folder / "generator.keras", "generator")
    return folder, network, record


# Measured with `make demo`'s training (20 epochs of the 4,000 offline digits, 1,240 steps of batch
# 64) on the 2-core CPU (2026-12-01), data seed 0 (the Makefile's; the same figures in this test):
# agreement over 1,000 samples 0.923, demo grid 0.93, smallest per-class diversity ratio 0.62,
# closest sample to a training digit 4.08 against the held-out floor 3.29.  At data seed 1 the same
# training ends at an agreement of 0.648 (grid 0.63): after 1,240 steps the conditional GAN still
# swings between epochs (0.87, 0.80 and 0.91 at 1,240, 1,550 and 1,860 steps in graph mode), so
# the bars are the floors this configuration must keep at its own seed (92%, 90% of the grid),
# and its robustness across seeds is not claimed.
CGAN_AGREEMENT_BAR = 0.92
DEMO_GRID_BAR = 0.90


@pytest.mark.slow
def test_demo_grid_shows_the_digit_of_each_column(demo_cgan, classifier):
    folder, _, _ = demo_cgan
    grid = np.asarray(Image.open(folder / "samples.png"), np.float32)
    assert grid.shape == (10 * 29 + 1, 10 * 29 + 1)  # 10 x 10 tiles of 28 px, 1-px borders
    tiles = np.stack(
        [
            grid[1 + r * 29 : 29 + r * 29, 1 + c * 29 : 29 + c * 29]
            for r in range(10)
            for c in range(10)
        ]
    )
    predicted = classifier.predict_proba(tiles[..., None] / 127.5 - 1).argmax(1)
    columns = np.arange(100) % 10
    per_column = [float(np.mean(predicted[columns == c] == c)) for c in range(10)]
    agreement = float(np.mean(predicted == columns))
    print(f"\ndemo grid: judged the column's digit {agreement:.2f}; per column {per_column}")
    assert agreement >= DEMO_GRID_BAR


@pytest.mark.slow
def test_conditional_gan_draws_the_requested_digits(demo_cgan, classifier, real_digits):
    _, network, record = demo_cgan
    train, test = real_digits
    labels = np.repeat(np.arange(10), 100)
    images = registry.sample(network, record, len(labels), seed=11, classes=labels)
    agreement = float(np.mean(classifier.predict_proba(images).argmax(1) == labels))
    fake_features, real_features = classifier.features(images), classifier.features(train.images)
    ratios = [
        _mean_pairwise(fake_features[labels == c])
        / _mean_pairwise(real_features[train.labels == c])
        for c in range(10)
    ]
    generated_nn = _nearest_distance(images, train.images)
    held_out_nn = _nearest_distance(test.images, train.images)
    floor = np.percentile(held_out_nn, 1)
    print(
        f"\ncGAN (make demo's training): agreement {agreement:.3f}; diversity ratio per class "
        f"min {min(ratios):.2f} mean {np.mean(ratios):.2f}; nearest-training distance: "
        f"generated min {generated_nn.min():.2f} median {np.median(generated_nn):.2f}, "
        f"held-out real 1st percentile {floor:.2f} "
        f"median {np.median(held_out_nn):.2f}"
    )
    assert agreement >= CGAN_AGREEMENT_BAR
    assert min(ratios) >= 0.5
    assert generated_nn.min() >= floor


def _histogram_entropy_and_fid(model, classifier, test):
    images = model.generate(1000, seed=12)
    predicted = classifier.predict_proba(images).argmax(1)
    freq = np.bincount(predicted, minlength=10) / len(predicted)
    entropy = float(-np.sum(freq[freq > 0] * np.log(freq[freq > 0])))
    extractor = judges.ClassifierExtractor(classifier)
    fid = metrics.frechet_distance(
        extractor.features(test.images), extractor.features(images[: len(test)])
    )
    return entropy, fid


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["dcgan", "wgan-gp"])
def test_unconditional_gans_cover_the_digits(kind, classifier, real_digits):
    _, test = real_digits
    keras.utils.set_random_seed(0)
    untrained = {"dcgan": gan.DCGAN, "wgan-gp": gan.WGANGP}[kind]()
    _, fid_untrained = _histogram_entropy_and_fid(untrained, classifier, test)
    entropy, fid = _histogram_entropy_and_fid(_train(kind, STEPS[kind]), classifier, test)
    print(
        f"\n{kind} {STEPS[kind]} generator steps: class entropy {entropy:.3f} "
        f"(bar {0.9 * np.log(10):.3f}); domain FID {fid:.1f}, untrained {fid_untrained:.1f}: "
        f"ratio {fid / fid_untrained:.3f} (bar {FID_BAR[kind]})"
    )
    assert entropy >= 0.9 * np.log(10)
    assert fid <= FID_BAR[kind] * fid_untrained
