"""Chapter 4: CycleGAN — its layers, losses, pool and schedule, the unpaired data, the standard
matrix and the judges' controls (the quality of MNIST -> MNIST-M: test_cyclegan_quality.py)."""

import keras
import matrix
import numpy as np
import pytest
import tensorflow as tf

from aigc_keras import data, judges, layers, losses, registry
from aigc_keras.models import cyclegan, networks

make_small = matrix.small(registry.get("cyclegan"))  # the registered small test configuration


@pytest.fixture(scope="module")
def pairs():
    """24 brick and 24 grass crops at 16x16 (real texture photographs), in a fixed order."""
    a = data.load_arrays("brick", "train", image_size=16, num_crops=24, source="offline").images
    b = data.load_arrays("grass", "train", image_size=16, num_crops=24, source="offline").images
    return tf.data.Dataset.from_tensor_slices((a, b)).batch(6)


# --- layers and networks -------------------------------------------------------------------


def test_instance_norm_matches_numpy(policy):
    policy("float32")  # the reference is float32 arithmetic
    rng = np.random.default_rng(0)
    x = (rng.normal(size=(3, 5, 6, 4)) * [1.0, 3.0, 0.2, 7.0] + [0.0, -2.0, 5.0, 1.0]).astype(
        np.float32
    )
    out = layers.instance_norm("norm")(x)  # gamma = 1, beta = 0 at initialisation
    mean = x.mean(axis=(1, 2), keepdims=True)
    var = x.var(axis=(1, 2), keepdims=True)
    np.testing.assert_allclose(out, (x - mean) / np.sqrt(var + 1e-5), atol=1e-4)
    # Per sample: scaling one sample leaves the others' outputs alone.
    y = x.copy()
    y[0] *= 10.0
    np.testing.assert_allclose(layers.instance_norm("norm2")(y)[1:], out[1:], atol=1e-4)


def test_reflection_padding_matches_numpy_and_refuses_small_maps():
    x = np.arange(2 * 4 * 5 * 3, dtype=np.float32).reshape(2, 4, 5, 3)
    out = layers.ReflectionPadding2D(2)(x)
    np.testing.assert_array_equal(out, np.pad(x, [(0, 0), (2, 2), (2, 2), (0, 0)], mode="reflect"))
    with pytest.raises(ValueError, match="larger than 3 pixels"):
        layers.ReflectionPadding2D(3)(np.zeros((1, 3, 3, 1), np.float32))


@pytest.mark.parametrize("size, channels", [(16, 1), (32, 3), (64, 1), (128, 3)])
def test_generator_output_shape_equals_input(size, channels):
    generator = cyclegan.build_resnet_generator(size, channels, ngf=4, n_blocks=2)
    x = np.random.default_rng(0).uniform(-1, 1, (2, size, size, channels)).astype(np.float32)
    y = generator(x).numpy()
    assert y.shape == x.shape and np.abs(y).max() <= 1.0


@pytest.mark.parametrize("size", [30, 12])
def test_generator_refuses_unsupported_sizes(size):
    with pytest.raises(ValueError, match="multiple of 4 of at least 16"):
        cyclegan.build_resnet_generator(size, 1)


def test_residual_blocks_follow_the_paper():
    assert [cyclegan.residual_blocks_for(s) for s in (32, 64, 128, 256, 512)] == [3, 3, 6, 9, 9]
    model = cyclegan.CycleGAN(image_size=128, channels=1, ngf=4, ndf=4)
    assert model.n_blocks == 6 and model.patch_size == 70
    assert sum(layer.name.endswith("_skip") for layer in model.generator_ab.layers) == 6


def test_patch_receptive_fields_and_depths():
    assert [networks.patch_receptive_field(n) for n in (1, 2, 3)] == [16, 34, 70]
    assert {s: networks.patch_layers(s) for s in (16, 32, 64, 128, 256)} == {
        16: 1,
        32: 1,
        64: 2,
        128: 3,
        256: 3,
    }
    # The receptive field computed independently: the input pixels whose gradient reaches one output
    # unit (without instance norm, whose per-image statistics touch every pixel a little).
    disc = networks.build_patch_discriminator(64, 1, width=4, strided_layers=2, norm=None)
    x = tf.Variable(np.random.default_rng(0).normal(size=(1, 64, 64, 1)).astype(np.float32))
    with tf.GradientTape() as tape:
        score = disc(x)[0, 8, 8, 0]
    touched = np.argwhere(np.abs(tape.gradient(score, x).numpy()[0, :, :, 0]) > 0)
    extent = touched.max(axis=0) - touched.min(axis=0) + 1
    assert disc.output_shape == (None, 16, 16, 1) and tuple(extent) == (34, 34)


# --- losses, pool, schedule ----------------------------------------------------------------------


def test_least_squares_losses_and_l1_against_numpy():
    real, fake = np.array([0.5, 1.5, 1.0]), np.array([0.2, -0.4])
    assert np.isclose(
        losses.least_squares_discriminator_loss(real, fake),
        0.5 * (np.mean((real - 1) ** 2) + np.mean(fake**2)),
    )
    assert np.isclose(losses.least_squares_generator_loss(fake), np.mean((fake - 1) ** 2))
    assert np.isclose(losses.l1(real, [0.0, 0.0, 2.0]), np.mean([0.5, 1.5, 1.0]))


def test_image_pool_fills_then_swaps_as_documented():
    pool = layers.ImagePool(4, (1, 1, 1))
    first = np.arange(1, 4, dtype=np.float32).reshape(3, 1, 1, 1)
    zeros = np.zeros(3, np.float32)
    np.testing.assert_array_equal(pool(first, zeros, zeros), first)  # filling: returned unchanged
    second = np.arange(4, 7, dtype=np.float32).reshape(3, 1, 1, 1)
    # Image 4 fills the last slot; images 5 and 6 meet a full pool: coin 0.2 < 0.5 swaps with slot
    # int(0.3 * 4) = 1 (holding 2), coin 0.7 keeps image 6.
    out = pool(second, np.array([0.1, 0.2, 0.7], np.float32), np.array([0.9, 0.3, 0.0], np.float32))
    np.testing.assert_array_equal(out.numpy().ravel(), [4, 2, 6])
    np.testing.assert_array_equal(pool.images.numpy().ravel(), [1, 5, 3, 4])
    assert int(pool.count.numpy()) == 4


def test_image_pool_returns_stored_images_half_the_time():
    pool = layers.ImagePool(50, (1, 1, 1))
    stored = -1.0 - np.arange(50, dtype=np.float32).reshape(50, 1, 1, 1)
    np.testing.assert_array_equal(
        pool(stored, np.zeros(50, np.float32), np.zeros(50, np.float32)), stored
    )
    rng = np.random.default_rng(0)
    new = np.arange(1, 4001, dtype=np.float32).reshape(40, 100, 1, 1, 1)  # every image distinct
    returned_stored = 0
    for chunk in new:
        out = pool(
            chunk,
            rng.uniform(size=100).astype(np.float32),
            rng.uniform(size=100).astype(np.float32),
        ).numpy()
        returned_stored += int(np.sum(out != chunk))
        older = out[out != chunk]
        assert np.all(older < chunk.min())  # what came back was stored before this batch
    assert 0.46 < returned_stored / 4000 < 0.54, returned_stored / 4000
    assert (
        int(pool.count.numpy()) == 50 and pool.images.numpy().min() > 0
    )  # the originals have been swapped out


def test_schedule_is_constant_then_linear_to_zero():
    schedule = cyclegan.ConstantThenLinearDecay(2e-4, total_steps=100, constant_steps=40)
    values = [float(schedule(s)) for s in (0, 40, 70, 100, 130)]
    np.testing.assert_allclose(values, [2e-4, 2e-4, 1e-4, 0.0, 0.0], atol=1e-10)
    again = keras.optimizers.schedules.deserialize(keras.optimizers.schedules.serialize(schedule))
    assert float(again(70)) == pytest.approx(1e-4)
    with pytest.raises(ValueError, match="must be below total_steps"):
        cyclegan.ConstantThenLinearDecay(1e-3, 10, 10)
    optimizers = cyclegan.make_optimizers(total_steps=10)
    assert set(optimizers) == set(cyclegan.CycleGAN.optimizer_names)
    for rate in (0, -2e-4, float("nan"), True):
        with pytest.raises(ValueError, match="learning_rate must be a finite number > 0"):
            cyclegan.make_optimizers(total_steps=10, learning_rate=rate)


# --- unpaired data ----------------------------------------------------------------------------


def test_unpaired_domains_are_shuffled_independently():
    ds = data.load_unpaired(
        "brick", "grass", image_size=16, batch_size=None, num_crops=20, source="offline"
    )
    a_ref = data.load_arrays("brick", "train", image_size=16, num_crops=20, source="offline").images
    b_ref = data.load_arrays("grass", "train", image_size=16, num_crops=20, source="offline").images
    pairs = list(ds.as_numpy_iterator())

    def order(x, ref):
        return [int(np.argmin(np.abs(ref - img).sum(axis=(1, 2, 3)))) for img in x]

    order_a, order_b = order([p[0] for p in pairs], a_ref), order([p[1] for p in pairs], b_ref)
    assert sorted(order_a) == list(range(20)) and sorted(order_b) == list(range(20))
    assert order_a != order_b and order_a != list(range(20))


def test_unpaired_refusals():
    with pytest.raises(ValueError, match="domain_b is needed"):
        data.load_unpaired("brick", None)
    with pytest.raises(ValueError, match="'train' or 'test'"):
        data.load_unpaired("brick", "grass", split="validation")
    with pytest.raises(ValueError, match="or channels='match'"):
        data.load_unpaired("brick", "photos", image_size=16, source="offline")
    with pytest.raises(ValueError, match="channels must be 1, 3, None or 'match', got 'rgb'"):
        data.load_unpaired("brick", "photos", image_size=16, channels="rgb")


def test_unpaired_grey_against_colour_is_read_in_colour_when_asked(capsys):
    """channels="match": the grey domain's one channel repeated, said in one line; the colour
    domain as it is; a pair of one channel count untouched."""
    common = dict(image_size=16, batch_size=None, source="offline", limit=6)
    pairs = list(data.load_unpaired("mnist", "photos", "test", channels="match", **common))
    assert "mnist has 1 channel(s) and photos 3: both domains are read in 3 channels" in (
        capsys.readouterr().out
    )
    grey = data.load_arrays("mnist", "test", image_size=16, source="offline", limit=6).images
    colour = data.load_arrays("photos", "test", image_size=16, source="offline", limit=6).images
    a, b = (np.stack([p[i].numpy() for p in pairs]) for i in (0, 1))
    np.testing.assert_allclose(a, np.repeat(grey, 3, axis=-1))
    np.testing.assert_allclose(b, colour)
    same = next(iter(data.load_unpaired("brick", "grass", "test", channels="match", **common)))
    assert same[0].shape == (16, 16, 1) and "channels" not in capsys.readouterr().out


def test_unpaired_user_folders_and_tfds_pairs_offline(tmp_path, monkeypatch):
    from PIL import Image

    rng = np.random.default_rng(0)
    for domain, count in (("summer", 5), ("winter", 3)):
        (tmp_path / domain).mkdir()
        for i in range(count):  # mixed sizes: the loader resizes
            Image.fromarray(rng.integers(0, 255, (20 + i, 24, 3), dtype=np.uint8)).save(
                tmp_path / domain / f"{i}.png"
            )
    pairs = list(
        data.load_unpaired(
            tmp_path / "summer", tmp_path / "winter", image_size=16, batch_size=2
        ).as_numpy_iterator()
    )
    assert [p[0].shape for p in pairs] == [
        (2, 16, 16, 3),
        (1, 16, 16, 3),
    ]  # the smaller domain ends the epoch
    monkeypatch.setattr(data, "network_available", lambda: False)
    with pytest.raises(ValueError, match="no honest offline stand-in.*brick"):
        data.load_unpaired("cycle_gan/horse2zebra", None)


# --- the model -----------------------------------------------------------------------------------


def test_translate_and_its_refusals():
    model = make_small()
    x = np.zeros((3, 16, 16, 1), np.float32)
    assert model.translate(x, "a2b").shape == (3, 16, 16, 1) and model.translate(
        x, "b2a"
    ).shape == (3, 16, 16, 1)
    np.testing.assert_allclose(model.translate(x, "a2b"), model.generator_ab(x).numpy(), atol=1e-6)
    with pytest.raises(ValueError, match="'a2b'"):
        model.translate(x, "ab")
    with pytest.raises(ValueError, match=r"shape \(N, 16, 16, 1\)"):
        model.translate(np.zeros((3, 16, 16, 3)), "a2b")
    with pytest.raises(ValueError, match=r"in \[-1, 1\]"):
        model.translate(x + 255.0, "a2b")
    with pytest.raises(ValueError, match="images contain NaN or infinite values"):
        model.translate(x + np.nan, "b2a")
    with pytest.raises(TypeError, match="translate"):
        model.generate(4)


def test_bad_weights_are_refused():
    with pytest.raises(ValueError, match="cycle_weight must be a finite number >= 0"):
        make_small(cycle_weight=-1)


def test_finite_losses_and_validation(pairs):
    matrix.check_finite_epoch(make_small, pairs, steps=4)


def test_training_without_a_pool_or_identity_term(pairs):
    model = matrix.fresh(
        lambda: cyclegan.CycleGAN(
            image_size=16, channels=1, ngf=4, ndf=4, n_blocks=1, pool_size=0, identity_weight=0.0
        )
    )
    logs = model.fit(pairs, epochs=1, verbose=0).history
    assert logs["identity"][-1] == 0.0 and np.isfinite(logs["g_loss"][-1])


def test_both_generators_round_trip(pairs, tmp_path):
    model = matrix.fresh(make_small)
    model.fit(pairs, epochs=1, verbose=0)
    x = next(iter(pairs))[0].numpy()
    for direction, network in (("a2b", model.generator_ab), ("b2a", model.generator_ba)):
        path = tmp_path / f"{direction}.keras"
        network.save(path)
        loaded = keras.saving.load_model(path, safe_mode=True)
        np.testing.assert_array_equal(
            model.translate(x, direction), loaded(x, training=False).numpy()
        )


def test_checkpoint_resume_is_exact_and_keeps_the_pools(pairs, tmp_path):
    x = next(iter(pairs))[0].numpy()
    matrix.check_resume_is_exact(
        make_small, pairs, tmp_path, {}, sample=lambda m: m.translate(x, "a2b")
    )
    # The epoch-1 checkpoint holds both pools, filled with the first epoch's fakes (a fresh model's
    # are empty).
    restored = matrix.fresh(make_small)
    assert int(restored.pool_a.count.numpy()) == 0
    restored.load_checkpoint(tmp_path / "ckpt-00001.npz")
    for pool in (restored.pool_a, restored.pool_b):
        assert int(pool.count.numpy()) == 4 and np.all(
            np.abs(pool.images.numpy()).max(axis=(1, 2, 3)) > 0
        )
    with pytest.raises(ValueError, match="ngf: checkpoint 4 vs model 8"):
        matrix.fresh(
            lambda: cyclegan.CycleGAN(
                image_size=16, channels=1, ngf=8, ndf=4, n_blocks=1, pool_size=4
            )
        ).load_checkpoint(tmp_path / "ckpt-00001.npz")


def test_mirrored_strategy_epoch(pairs):
    matrix.check_mirrored_epoch(make_small, pairs)


@pytest.mark.parametrize("policy_name", ["mixed_bfloat16", "mixed_float16"])
def test_mixed_precision_epoch(policy_name, pairs):
    matrix.check_mixed_epoch(make_small, pairs, policy_name)


# --- the judges of a translation into MNIST-M, and their controls --------------------------------


def test_shuffled_pixels_keep_each_image_s_colours_only():
    images = np.random.default_rng(0).uniform(-1, 1, (3, 8, 8, 3)).astype(np.float32)
    shuffled = judges.shuffle_pixels(images, seed=1)
    for x, y in zip(images, shuffled, strict=True):
        same = sorted(map(tuple, x.reshape(-1, 3))) == sorted(map(tuple, y.reshape(-1, 3)))
        assert same and not np.array_equal(x, y)  # the same colours, in another place
    np.testing.assert_array_equal(shuffled, judges.shuffle_pixels(images, seed=1))


def test_mnist_m_controls_as_documented():
    rng = np.random.default_rng(0)
    digits = np.where(rng.uniform(size=(5, 16, 16, 1)) < 0.2, 1.0, -1.0).astype(np.float32)
    mnist_m = rng.uniform(-1, 1, (4, 16, 16, 3)).astype(np.float32)
    controls = judges.mnist_m_controls(digits, mnist_m, seed=0)
    assert {name: x.shape for name, x in controls.items()} == {
        "MNIST on a flat colour": (5, 16, 16, 3),
        "MNIST colour-jittered": (5, 16, 16, 3),
        "MNIST-M pixel-shuffled": (4, 16, 16, 3),
    }
    background = digits[..., 0] < 0
    for name in ("MNIST on a flat colour", "MNIST colour-jittered"):
        x = controls[name]
        assert x.min() >= -1 and x.max() <= 1
        for image, mask in zip(x, background, strict=True):  # one colour each, strokes and ground
            assert len(np.unique(image[mask], axis=0)) == 1
            assert len(np.unique(image[~mask], axis=0)) == 1
    for image, mask in zip((controls["MNIST on a flat colour"] + 1) / 2, background, strict=True):
        np.testing.assert_allclose(image[~mask][0], 1.0 - image[mask][0], atol=1e-6)  # |c - 1|
    for image, mask in zip(controls["MNIST colour-jittered"], background, strict=True):
        assert np.all(image[~mask][0] >= image[mask][0] + 0.8 - 1e-6)  # gain >= 0.4 in [0, 1]
    with pytest.raises(ValueError, match="one size"):
        judges.mnist_m_controls(digits, mnist_m[:, :8, :8])
    with pytest.raises(ValueError, match="mnist_m must be square images"):
        judges.mnist_m_controls(digits, mnist_m[..., :1])


def test_texture_controls_as_documented():
    images = np.random.default_rng(0).uniform(-1, 0.5, (4, 8, 8, 1)).astype(np.float32)
    controls = judges.texture_controls(images, seed=0)
    np.testing.assert_allclose(controls["flat at the mean grey"], images.mean(), atol=1e-6)
    np.testing.assert_allclose(
        np.sort(controls["pixel-shuffled"].reshape(4, -1)), np.sort(images.reshape(4, -1))
    )


class _BrightnessJudge:
    """A stand-in domain judge: domain B is "mean above 0"; features are the channel means."""

    def fraction_b(self, images):
        return float(np.mean(images.mean(axis=(1, 2, 3)) > 0))

    def features(self, images):
        return np.concatenate([images.mean(axis=(1, 2)), images.std(axis=(1, 2))], axis=1)


def test_domain_verdict_counts_candidates_only_when_the_judge_passes_its_controls():
    rng = np.random.default_rng(0)
    real = rng.uniform(0.2, 0.6, (300, 4, 4, 2)).astype(np.float32)
    candidates = rng.uniform(0.2, 0.6, (300, 4, 4, 2)).astype(np.float32)
    dark = rng.uniform(-0.6, -0.2, (300, 4, 4, 2)).astype(np.float32)
    judge = _BrightnessJudge()
    verdict = judges.domain_verdict(judge, candidates, real, {"dark": dark})
    assert verdict["judge_rejects_controls"] and verdict["kid_below_bar"]
    assert verdict["pass_rate"] == verdict["judged"] == 1.0
    assert verdict["controls"]["dark"]["rejected"] == 1.0
    assert verdict["kid_bar"] == pytest.approx(
        judges.CONTROL_KID_RATIO * verdict["controls"]["dark"]["kid"]
    )
    # A control the judge accepts: nothing counts, however good the candidates.
    bright_fake = np.concatenate([dark[:20], real[:280] + 0.3])
    failed = judges.domain_verdict(judge, candidates, real, {"dark": dark, "fake": bright_fake})
    assert not failed["judge_rejects_controls"] and failed["pass_rate"] == 0.0
    # Candidates the judge accepts but whose KID is no better than a control's: nothing counts.
    far = rng.uniform(0.9, 1.0, (300, 4, 4, 2)).astype(np.float32)
    too_far = judges.domain_verdict(judge, far, real, {"dark": dark})
    assert too_far["judged"] == 1.0 and not too_far["kid_below_bar"]
    assert too_far["pass_rate"] == 0.0
    with pytest.raises(ValueError, match="at least one"):
        judges.domain_verdict(judge, candidates, real, {})


def test_texture_judge_rejects_flat_and_shuffled_crops():
    crops = {
        (name, split): data.load_arrays(name, split, image_size=32, source="offline").images
        for name in ("grass", "brick")
        for split in ("train", "test")
    }
    judge = judges.train_texture_judge(
        crops["grass", "train"],
        crops["brick", "train"],
        crops["grass", "test"],
        crops["brick", "test"],
        epochs=3,
    )
    verdict = judges.domain_verdict(
        judge,
        crops["grass", "test"],
        crops["brick", "test"],
        judges.texture_controls(crops["brick", "test"], seed=0),
    )
    print(judge.accuracy, verdict["controls"])
    assert judge.accuracy >= 0.95 and verdict["judge_rejects_controls"], verdict["controls"]
    assert verdict["judged"] <= 0.1 and verdict["pass_rate"] == 0.0  # grass does not pass
    with pytest.raises(ValueError, match="share height, width and channels"):
        judges.train_texture_judge(crops["grass", "train"][:, :8], crops["brick", "train"])
    with pytest.raises(ValueError, match="phase_randomised should be True or False, got 1"):
        judges.train_texture_judge(
            crops["grass", "train"], crops["brick", "train"], phase_randomised=1
        )


def test_translation_grid_draws_the_round_trips_of_any_model(tmp_path):
    from aigc_keras import callbacks, viz

    rng = np.random.default_rng(0)
    a, b = (rng.uniform(-1, 1, (3, 16, 16, 3)).astype("float32") for _ in range(2))
    model = cyclegan.CycleGAN(image_size=16, channels=3, ngf=4, ndf=4)
    grids = callbacks.TranslationGrid(tmp_path, a, b)
    picture = grids.draw(model)
    g_a, f_b = model.translate(a, "a2b"), model.translate(b, "b2a")
    rows = [a, g_a, model.translate(g_a, "b2a"), b, f_b, model.translate(f_b, "a2b")]
    np.testing.assert_array_equal(picture, viz.image_grid(np.concatenate(rows), ncols=3))
    with pytest.raises(ValueError, match="images_a and images_b must have the same shape"):
        callbacks.TranslationGrid(tmp_path, a, b[:2])
