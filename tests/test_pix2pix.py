"""Paired translation (pix2pix): the outlines and their pairs, the U-Net, the losses of one step,
refusals and the standard matrix (its quality on outlines -> digits: test_pix2pix_quality.py)."""

import keras
import matrix
import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

from aigc_keras import cli, data, losses, registry
from aigc_keras.models import networks, pix2pix

make_small = matrix.small(registry.get("pix2pix"))  # the registered small test configuration


@pytest.fixture(scope="module")
def pairs():
    """24 outline -> digit pairs at 16x16 in batches of 8, in a fixed order."""
    return data.load_paired("mnist_outlines", "test", image_size=16, batch_size=8, limit=24)


def test_an_outline_is_the_background_next_to_the_strokes():
    digit = -np.ones((7, 7, 1), np.float32)
    digit[2:5, 3, 0] = 1.0  # a vertical stroke of three pixels
    drawn = data.outlines(digit).numpy()[..., 0]
    expected = np.zeros((7, 7), bool)
    expected[1:6, 2:5] = True  # its 3x3-dilated box ...
    expected[2:5, 3] = False  # ... without the stroke
    np.testing.assert_array_equal(drawn == 1.0, expected)
    assert set(np.unique(drawn)) == {-1.0, 1.0}
    np.testing.assert_array_equal(
        data.outlines((digit + 1) / 2, (0, 1)).numpy()[..., 0] == 1.0, expected
    )
    with pytest.raises(ValueError, match="1-channel"):
        data.outlines(np.zeros((2, 7, 7, 3), np.float32))
    with pytest.raises(ValueError, match="quantised"):
        data.outlines(digit, 4)


def test_paired_digits_come_with_their_own_outlines_and_labels():
    paired = data.load_paired(image_size=28, batch_size=10, labels=True, split="test", limit=10)
    (inputs, targets), labels = next(iter(paired))
    reference = data.load_arrays("mnist", "test", image_size=28, limit=10)
    np.testing.assert_array_equal(targets.numpy(), reference.images)
    np.testing.assert_array_equal(labels.numpy(), reference.labels)
    np.testing.assert_array_equal(inputs.numpy(), data.outlines(reference.images).numpy())
    with pytest.raises(ValueError, match="paired datasets: mnist_outlines, mnist_m_outlines"):
        data.load_paired("mnist")


def test_outlines_pair_with_their_digits_mnist_m_versions_in_both_splits(tmp_path):
    common = dict(image_size=16, labels=True, limit=12)
    (inputs, targets), labels = next(iter(data.load_paired("mnist_m_outlines", "test", **common)))
    digits = data.load_arrays("mnist", "test", image_size=16, limit=12)
    coloured = data.load_arrays("mnist_m", "test", image_size=16, limit=12)
    assert inputs.shape == (12, 16, 16, 1) and targets.shape == (12, 16, 16, 3)
    np.testing.assert_array_equal(inputs.numpy(), data.outlines(digits.images).numpy())
    np.testing.assert_array_equal(targets.numpy(), coloured.images)
    np.testing.assert_array_equal(labels.numpy(), digits.labels)
    # the training split is shuffled, each outline still with its own digit's MNIST-M image
    (inputs, targets), labels = next(iter(data.load_paired("mnist_m_outlines", **common)))
    digits = data.load_arrays("mnist", "train", image_size=16, limit=12)
    coloured = data.load_arrays("mnist_m", "train", image_size=16, limit=12)
    position = [
        int(np.argmin(np.abs(coloured.images - t).sum(axis=(1, 2, 3)))) for t in targets.numpy()
    ]
    assert sorted(position) == list(range(12)) and position != list(range(12))
    np.testing.assert_array_equal(inputs.numpy(), data.outlines(digits.images[position]).numpy())
    np.testing.assert_array_equal(labels.numpy(), digits.labels[position])
    # the command line builds a grey-to-colour pix2pix for it
    out = tmp_path / "run"
    arguments = ["train", "pix2pix", "--dataset", "mnist_m_outlines", "--quick", "--steps", "1"]
    arguments += ["--epochs", "1", "--image-size", "16", "--width", "4", "--out", str(out)]
    assert cli.main(arguments) == 0
    network, record = registry.load_exported(out / "pix2pix" / "generator.keras", "generator")
    assert network.input_shape == (None, 16, 16, 1) and record["channels"] == 3


@pytest.mark.parametrize("size, depth", [(16, 2), (28, 2), (32, 3), (64, 4)])
def test_the_unet_halves_to_a_small_map_and_returns_the_input_size(size, depth):
    assert networks.unet_depth(size) == depth
    network = networks.build_unet(size, 1, 3, width=4)
    x = np.random.default_rng(0).uniform(-1, 1, (2, size, size, 1)).astype(np.float32)
    y = network(x).numpy()
    assert y.shape == (2, size, size, 3) and np.abs(y).max() <= 1.0
    strided = [layer for layer in network.layers if layer.name.startswith("down")]
    assert len([layer for layer in strided if isinstance(layer, keras.layers.Conv2D)]) == depth


def test_bad_sizes_weights_and_inputs_are_refused():
    with pytest.raises(ValueError, match="even side of at least 8"):
        networks.unet_depth(27)
    with pytest.raises(ValueError, match="adversarial_weight"):
        pix2pix.Pix2Pix(image_size=16, width=4, adversarial_weight=-1)
    model = make_small()
    with pytest.raises(ValueError, match=r"inputs must have shape \(N, 16, 16, 1\)"):
        model.translate(np.zeros((2, 28, 28, 1), np.float32))
    with pytest.raises(ValueError, match=r"inputs must be in \[-1, 1\]"):
        model.translate(np.full((2, 16, 16, 1), 3.0, np.float32))
    with pytest.raises(ValueError, match="inputs contain NaN or infinite values"):
        model.translate(np.full((2, 16, 16, 1), np.nan, np.float32))
    with pytest.raises(TypeError, match="translate"):
        model.generate(4)


def test_one_step_s_losses_are_the_paper_s(pairs):
    model = matrix.fresh(make_small)
    inputs, targets = (x.numpy() for x in next(iter(pairs)))
    values = model.test_step((inputs, targets))
    fake = model.generator(inputs).numpy()
    l1 = np.mean(np.abs(fake - targets))
    real_scores = model.discriminator(np.concatenate([inputs, targets], -1))
    fake_scores = model.discriminator(np.concatenate([inputs, fake], -1))
    adversarial = float(losses.generator_loss(fake_scores))
    np.testing.assert_allclose(float(values["l1"]), l1, rtol=1e-5)
    np.testing.assert_allclose(float(values["adversarial"]), adversarial, rtol=1e-5)
    np.testing.assert_allclose(float(values["g_loss"]), adversarial + 100 * l1, rtol=1e-5)
    d_loss = 0.5 * float(losses.discriminator_loss(real_scores, fake_scores))
    np.testing.assert_allclose(float(values["d_loss"]), d_loss, rtol=1e-5)


def test_l1_only_has_no_discriminator_and_one_optimizer(pairs):
    model = matrix.fresh(lambda: make_small(adversarial_weight=0.0))
    assert model.discriminator is None and model.optimizer_names == ("generator",)
    before = [w.copy() for w in model.generator.get_weights()]
    logs = model.fit(pairs, epochs=1, verbose=0).history
    assert set(logs) == {"g_loss", "l1"} and np.isfinite(logs["l1"][-1])
    assert any(
        not np.array_equal(b, a) for b, a in zip(before, model.generator.get_weights(), strict=True)
    )


# --- the standard matrix ----------------------------------------------------------------------


def _translated(model):
    inputs = data.outlines(data.load_arrays("mnist", "test", image_size=16, limit=4).images)
    return model.translate(inputs.numpy())


def test_finite_losses_and_validation(pairs):
    matrix.check_finite_epoch(make_small, pairs, steps=3)


def test_checkpoint_resume_is_exact(pairs, tmp_path):
    matrix.check_resume_is_exact(make_small, pairs, tmp_path, {}, sample=_translated)


def test_mirrored_strategy_epoch(pairs):
    matrix.check_mirrored_epoch(make_small, pairs)


@pytest.mark.parametrize("policy_name", ["mixed_bfloat16", "mixed_float16"])
def test_mixed_precision_epoch(policy_name, pairs):
    matrix.check_mixed_epoch(make_small, pairs, policy_name)


def test_exported_generator_round_trips(pairs, tmp_path):
    model = matrix.fresh(make_small)
    model.fit(pairs.take(1), epochs=1, verbose=0)
    path = tmp_path / "generator.keras"
    model.generator.save(path)
    loaded = keras.saving.load_model(path, safe_mode=True)
    inputs = next(iter(pairs))[0].numpy()
    np.testing.assert_array_equal(model.translate(inputs), loaded(inputs).numpy())


def test_train_pix2pix_quick_then_translate_a_folder(tmp_path):
    from aigc_keras import viz

    common = ["--quick", "--width", "4", "--out", str(tmp_path)]
    assert cli.main(["train", "pix2pix", *common]) == 0
    generator = tmp_path / "pix2pix" / "generator.keras"
    network, record = registry.load_exported(generator, "generator")
    assert record["task"] == "paired translator" and record["class"] == "Pix2Pix"
    outline = data.outlines(data.load_arrays("mnist", "test", image_size=28, limit=1).images)
    folder = tmp_path / "outlines"
    viz.save_image(viz.to_uint8(outline.numpy(), (-1, 1))[0, ..., 0], folder / "one.png")
    out = tmp_path / "digits"
    arguments = ["translate", "--model", str(generator), "--input", str(folder), "--out", str(out)]
    assert cli.main(arguments) == 0
    written = np.asarray(Image.open(out / "one.png"), np.float32)
    expected = network(outline, training=False).numpy()[0, ..., 0]
    np.testing.assert_allclose(written / 127.5 - 1.0, expected, atol=2 / 255 + 1e-6)
    assert tf.reduce_all(tf.math.is_finite(expected))
