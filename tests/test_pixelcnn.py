"""Chapter 6: PixelCNN — causality by gradients (and the negative control), the compiled sampler
against a per-pixel ``predict`` loop, baselines, completion, the standard matrix and the likelihood
bar."""

import math
import time

import keras
import matrix
import numpy as np
import pytest
import tensorflow as tf

from aigc_keras import data, layers, metrics, registry
from aigc_keras.models import pixelcnn

LEVELS = 4
KINDS = matrix.kinds("pixelcnn", n=3, seed=2)
_PIXELCNN = registry.get("pixelcnn")
assert _PIXELCNN.test_config["levels"] == LEVELS
# the class-conditional variant: the same model with num_classes (the command line trains the
# unconditional one)
KINDS["conditional"] = (
    lambda **kw: matrix.small(_PIXELCNN)(num_classes=10, **kw),
    {"labels": [1, 5, 7], "seed": 2},
)


@pytest.fixture(scope="module")
def levels8():
    """64 offline digits at 8x8 as 4 integer levels, in a fixed order (with and without labels)."""
    arrays = data.load_arrays("digits", "train", image_size=8, value_range=LEVELS, limit=64)
    return {
        "pixelcnn": tf.data.Dataset.from_tensor_slices(arrays.images).batch(16),
        "conditional": tf.data.Dataset.from_tensor_slices((arrays.images, arrays.labels)).batch(16),
    }


def test_causal_masks_by_hand():
    np.testing.assert_array_equal(layers.causal_mask(3, "A"), [[1, 1, 1], [1, 0, 0], [0, 0, 0]])
    np.testing.assert_array_equal(layers.causal_mask(3, "B"), [[1, 1, 1], [1, 1, 0], [0, 0, 0]])
    for bad, message in [((4, "A"), "odd kernel_size"), ((3, "C"), "mask_type must be 'A'")]:
        with pytest.raises(ValueError, match=message):
            layers.causal_mask(*bad)
    with pytest.raises(ValueError, match="pads 'same'"):
        layers.MaskedConv2D(4, 3, padding="valid")


def _raster_after(size, row, col):
    after = np.zeros((size, size), bool)
    after.flat[row * size + col :] = True  # pixel i and every pixel after it
    return after


@pytest.mark.parametrize("row, col", [(0, 0), (0, 5), (3, 4), (7, 7)])
def test_mask_a_stack_never_sees_the_current_or_later_pixels(row, col):
    network = pixelcnn.build_pixelcnn(image_size=8, levels=LEVELS, filters=8, blocks=3)
    dependence = pixelcnn.dependency_map(network, 8, row, col)
    after = _raster_after(8, row, col)
    assert np.all(dependence[after] == 0.0), np.argwhere(dependence * after)
    if (row, col) != (0, 0):
        neighbours = ([(row, col - 1)] if col else []) + ([(row - 1, col)] if row else [])
        assert all(dependence[p] > 0 for p in neighbours)  # it sees its left and upper neighbours


def test_mask_b_only_stack_sees_the_pixel_it_predicts():
    """The negative control: without mask A the output at i reads input i (and the model would
    cheat)."""
    network = pixelcnn.build_pixelcnn(
        image_size=8, levels=LEVELS, filters=8, blocks=3, first_mask="B"
    )
    dependence = pixelcnn.dependency_map(network, 8, 3, 4)
    assert dependence[3, 4] > 0
    assert np.all(dependence[_raster_after(8, 3, 5)] == 0.0)  # still nothing strictly after i


def test_conditional_network_is_causal_too():
    network = pixelcnn.build_pixelcnn(
        image_size=8, levels=LEVELS, filters=8, blocks=2, num_classes=10
    )
    dependence = pixelcnn.dependency_map(network, 8, 4, 2)
    assert np.all(dependence[_raster_after(8, 4, 2)] == 0.0) and dependence.max() > 0


def test_independent_pixel_baseline_by_hand():
    train = np.array([[[0, 1], [0, 0]], [[0, 0], [0, 0]]])[..., None]  # two 2x2 images
    test = np.zeros((1, 2, 2, 1), int)
    # level-0 counts per position (+1 pseudo-count for each of the 2 levels): 2, 1, 2, 2 of 2 images
    # -> p(0) = 3/4, 2/4, 3/4, 3/4
    expected = -np.mean(np.log2([3 / 4, 2 / 4, 3 / 4, 3 / 4]))
    assert pixelcnn.independent_pixel_bits(train, test, 2) == pytest.approx(expected)
    assert pixelcnn.uniform_bits(16) == 4.0
    empty = np.zeros((0, 2, 2, 1), int)
    for args, message in (
        ((empty, test, 2), r"train_levels must be \(N, H, W, 1\) with N >= 1"),
        ((train, empty, 2), r"test_levels must be \(N, H, W, 1\) with N >= 1"),
        ((train, test + 2, 2), r"test_levels must be integer levels in 0\.\.1"),
        ((train * 0.5, test, 2), r"train_levels must be integer levels in 0\.\.1"),
        ((train, test, 1), "levels must be an integer >= 2"),
    ):
        with pytest.raises(ValueError, match=message):
            pixelcnn.independent_pixel_bits(*args)


def test_bad_settings_and_empty_images_are_refused():
    for rate in (True, float("inf"), 0, -1e-3, "1e-3"):
        with pytest.raises(ValueError, match="learning_rate must be a finite number > 0"):
            pixelcnn.PixelCNN(image_size=8, levels=2, filters=8, blocks=1, learning_rate=rate)
    model = pixelcnn.PixelCNN(image_size=8, levels=2, filters=8, blocks=1)
    with pytest.raises(ValueError, match=r"at least one image, got the shape \(0, 8, 8, 1\)"):
        model.negative_log_likelihood(np.zeros((0, 8, 8, 1), np.int32))


def test_bits_per_dim_is_the_tracked_nll_over_ln2(levels8, policy):
    policy("float32")  # a formula check to 1e-5: float32 arithmetic
    model = matrix.fresh(KINDS["pixelcnn"][0])
    logs = model.fit(levels8["pixelcnn"], epochs=1, verbose=0).history
    assert logs["bits_per_dim"][0] == pytest.approx(logs["loss"][0] / math.log(2), rel=1e-6)
    images = next(iter(levels8["pixelcnn"]))
    logits = model(images).numpy()  # the NLL from the logits, by hand with NumPy
    log_p = logits - np.log(np.exp(logits).sum(-1, keepdims=True))
    by_hand = -np.take_along_axis(log_p, images.numpy(), axis=-1).mean()
    assert model.evaluate(images, verbose=0, return_dict=True)["loss"] == pytest.approx(
        by_hand, rel=1e-5
    )


def test_negative_log_likelihood_per_image_sums_the_pixel_nlls(levels8, policy):
    policy("float32")
    model = matrix.fresh(KINDS["conditional"][0])
    images, labels = (t.numpy() for t in next(iter(levels8["conditional"])))
    logits = model(images, labels).numpy()
    log_p = logits - np.log(np.exp(logits).sum(-1, keepdims=True))
    by_hand = -np.take_along_axis(log_p, images, axis=-1).sum(axis=(1, 2, 3))
    nll = model.negative_log_likelihood(images, labels, batch_size=5)  # batches of 5, 5, 5, 1
    assert nll.shape == (16,)
    np.testing.assert_allclose(nll, by_hand, rtol=1e-5)
    for args, message in [
        ((images.astype(np.float32), labels), "integer levels"),
        ((images[..., 0], labels), "must have shape"),
        ((images,), "class-conditional: pass labels"),
    ]:
        with pytest.raises(ValueError, match=message):
            model.negative_log_likelihood(*args)


def test_compiled_greedy_sampler_matches_the_per_pixel_predict_loop(levels8):
    model = matrix.fresh(KINDS["conditional"][0])
    model.fit(levels8["conditional"], epochs=1, verbose=0)
    labels = [0, 3, 9]
    np.testing.assert_array_equal(
        model.generate(labels=labels, temperature=0),
        pixelcnn.sample_pixel_by_pixel(model, 3, labels=labels, greedy=True),
    )


def test_sampling_is_seeded_and_checks_its_arguments():
    model = KINDS["pixelcnn"][0]()
    a, b = model.generate(4, seed=3), model.generate(4, seed=3)
    np.testing.assert_array_equal(a, b)
    assert a.dtype == np.int32 and a.shape == (4, 8, 8, 1) and a.min() >= 0 and a.max() < LEVELS
    assert not np.array_equal(a, model.generate(4, seed=4))
    np.testing.assert_array_equal(model.generate(40, seed=3, batch_size=16)[:4].shape, (4, 8, 8, 1))
    for bad in (-1.0, float("nan"), "hot"):
        with pytest.raises(ValueError, match="temperature must be a finite number >= 0"):
            model.generate(2, temperature=bad)
    with pytest.raises(ValueError, match="not class-conditional"):
        model.generate(labels=[1])
    with pytest.raises(ValueError, match="class-conditional: pass labels"):
        KINDS["conditional"][0]().generate(3)


def test_completion_keeps_the_known_rows_and_samples_the_rest():
    model = KINDS["pixelcnn"][0]()
    images = data.load_arrays("digits", "test", image_size=8, value_range=LEVELS, limit=6).images
    done = model.complete(images, 4, seed=1)
    np.testing.assert_array_equal(done[:, :4], images[:, :4])
    assert not np.array_equal(
        done[:, 4:], images[:, 4:]
    )  # redrawn by an untrained model: not the originals
    np.testing.assert_array_equal(done, model.complete(images, 4, seed=1))
    for args, message in [
        ((images[..., 0], 4), "must have shape"),
        ((images, 8), "below the image height"),
        ((images + LEVELS, 4), "integer levels"),
        ((images * 0.5, 4), "integer levels"),
    ]:
        with pytest.raises(ValueError, match=message):
            model.complete(*args)


def test_sampling_with_progress_draws_the_same_images_and_reports_each_row(monkeypatch, capsys):
    model = KINDS["conditional"][0]()
    monkeypatch.setattr(pixelcnn, "PROGRESS_EVERY_S", 0.0)  # a line after every row
    labels = [2, 4, 6, 8, 1]
    quiet = model.generate(labels=labels, seed=3, batch_size=2)
    assert capsys.readouterr().out == ""
    shown = model.generate(labels=labels, seed=3, batch_size=2, progress=True)
    np.testing.assert_array_equal(shown, quiet)  # one call per row draws what one call for all does
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 3 * 8 + 1  # three batches of 8 rows, then the end
    assert lines[0].startswith("sampling 5 images: images 1-2, row 1 of 8, ")
    assert lines[23].startswith("sampling 5 images: images 5-5, row 8 of 8, ")
    assert lines[-1].startswith("sampling 5 images: done in ")
    images = data.load_arrays("digits", "test", image_size=8, value_range=LEVELS, limit=3).images
    done = model.complete(images, 5, labels=[1, 2, 3], seed=1, progress=True)
    np.testing.assert_array_equal(done, model.complete(images, 5, labels=[1, 2, 3], seed=1))
    rows = [
        line.split("row ")[1].split(",")[0] for line in capsys.readouterr().out.splitlines()[:-1]
    ]
    assert rows == ["6 of 8", "7 of 8", "8 of 8"]  # only the rows it draws
    pixelcnn.sample_pixel_by_pixel(model, 2, labels=[0, 1], greedy=True, progress=True)
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 9 and lines[7].startswith(
        "2 images, one predict call per pixel: row 8 of 8"
    )
    for call in (
        lambda: model.generate(labels=[1], progress="yes"),
        lambda: pixelcnn.sample_pixel_by_pixel(model, 1, labels=[1], progress=1),
    ):
        with pytest.raises(ValueError, match="progress must be True or False"):
            call()


def test_float_images_are_refused_with_the_loader_to_use():
    model = matrix.fresh(KINDS["pixelcnn"][0])
    floats = tf.data.Dataset.from_tensor_slices(np.zeros((4, 8, 8, 1), np.float32)).batch(2)
    with pytest.raises(TypeError, match="value_range=4"):
        model.fit(floats, epochs=1, verbose=0)


# --- the standard matrix ---------------------------------------------------------------------


@pytest.mark.parametrize("size", [8, 16, 28])
def test_shapes_at_each_size(size):
    model = pixelcnn.PixelCNN(image_size=size, levels=LEVELS, filters=8, blocks=1)
    assert model(np.zeros((2, size, size, 1), np.int32)).shape == (2, size, size, LEVELS)
    assert model.generate(2, seed=0).shape == (2, size, size, 1)


@pytest.mark.parametrize("kind", list(KINDS))
def test_finite_epoch(kind, levels8):
    matrix.check_finite_epoch(KINDS[kind][0], levels8[kind], steps=4)


@pytest.mark.parametrize("kind", list(KINDS))
def test_network_round_trip(kind, out_dir):
    model = KINDS[kind][0]()
    path = out_dir / "pixelcnn.keras"
    model.network.save(path)
    loaded = keras.saving.load_model(path, safe_mode=True)
    x = model.to_input(
        data.load_arrays("digits", "test", image_size=8, value_range=LEVELS, limit=3).images
    )
    inputs = [x, tf.constant([1, 2, 3])] if model.num_classes else x
    np.testing.assert_array_equal(model.network(inputs).numpy(), loaded(inputs).numpy())


@pytest.mark.parametrize("kind", list(KINDS))
def test_resume_is_exact(kind, levels8, out_dir):
    matrix.check_resume_is_exact(KINDS[kind][0], levels8[kind], out_dir, KINDS[kind][1])


def test_mirrored_epoch(levels8):
    matrix.check_mirrored_epoch(KINDS["conditional"][0], levels8["conditional"])


@pytest.mark.parametrize("policy_name", ["mixed_bfloat16", "mixed_float16"])
def test_mixed_precision_epoch(policy_name, levels8):
    matrix.check_mixed_epoch(KINDS["pixelcnn"][0], levels8["pixelcnn"], policy_name)


# --- quality and speed -----------------------------------------------------------------------

# Binarised MNIST at 28x28 (two levels: the softmax is a Bernoulli), 200 steps of batch 64, scored
# on one fixed binarisation (seed 0) of the 1,000 held-out digits.  Measured with training seeds 0,
# 1, 2 on the 2-core CPU: 102.02 / 101.60 / 101.71 nats per image against 208.75 for independent
# pixels (51.1% / 51.3% / 51.3% below).  The bar: the lowest share minus 10% of it (floor 40%).
PIXELCNN_STEPS = 200
FILTERS, BLOCKS = 32, 3
NLL_BELOW_BASELINE = 0.46  # 0.9 x 51.1%


@pytest.mark.slow
def test_held_out_nll_on_binarised_mnist_beats_the_independent_pixel_baseline():
    """Two levels at 28x28: -log p(x) in nats per held-out digit, exact by the chain rule, against
    independent per-pixel Bernoullis with the training digits' mean grey levels."""
    train = data.load(
        "mnist",
        "train",
        image_size=28,
        value_range=2,
        binarise=True,
        batch_size=64,
        repeat=True,
        drop_remainder=True,
        seed=0,
    )
    grey = data.load_arrays("mnist", "train", image_size=28, value_range=(0, 1)).images
    held_out = data.load_arrays(
        "mnist", "test", image_size=28, value_range=2, binarise=True, seed=0
    ).images
    keras.utils.set_random_seed(0)
    model = pixelcnn.PixelCNN(image_size=28, levels=2, filters=FILTERS, blocks=BLOCKS)
    model.compile()
    model.fit(train, steps_per_epoch=PIXELCNN_STEPS, epochs=1, verbose=0)
    nll = float(model.negative_log_likelihood(held_out).mean())
    baseline = metrics.independent_bernoulli_nll(grey, held_out)
    print(
        f"PixelCNN {FILTERS}x{BLOCKS}, {PIXELCNN_STEPS} steps: held-out NLL {nll:.1f} nats per "
        f"image ({nll / (28 * 28 * math.log(2)):.3f} bits/dim); independent pixels {baseline:.1f}; "
        f"{1 - nll / baseline:.1%} below"
    )
    assert nll <= (1 - NLL_BELOW_BASELINE) * baseline


@pytest.mark.slow
def test_compiled_sampling_is_at_least_10x_faster_than_a_per_pixel_predict_loop():
    """One 8x8 image (the network of the likelihood test; untrained: the work per pixel does not
    depend on the weights): one compiled loop against 64 ``predict`` calls.  Both costs grow with
    the pixels (at 16x16, 256 calls took 70 s of a shared CPU)."""
    model = pixelcnn.PixelCNN(image_size=8, levels=2, filters=FILTERS, blocks=BLOCKS)
    model.generate(1, seed=0)  # trace once
    start = time.perf_counter()
    model.generate(1, seed=1)
    compiled = time.perf_counter() - start
    start = time.perf_counter()
    pixelcnn.sample_pixel_by_pixel(model, 1, seed=1)
    loop = time.perf_counter() - start
    print(
        f"one 8x8 image: compiled loop {compiled:.2f} s, per-pixel predict {loop:.1f} s "
        f"({loop / compiled:.0f}x)"
    )
    assert loop / compiled >= 10
