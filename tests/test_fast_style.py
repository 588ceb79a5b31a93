"""Fast style transfer (Johnson et al. 2016): the transform network, the loss it shares with the
optimisation, refusals and the standard matrix (its quality against the optimisation:
test_fast_style_quality.py; the command line: test_cli.py)."""

import keras
import matrix
import numpy as np
import pytest

from aigc_keras import data, registry
from aigc_keras.models import style

make_small = matrix.small(registry.get("style"))  # the registered small test configuration


@pytest.fixture(scope="module")
def patches():
    """16 photograph patches at 16x16 in [0, 1], batches of 8, in a fixed order."""
    return data.load(
        "photos", "train", image_size=16, batch_size=8, value_range=(0, 1), limit=16, seed=0
    )


@pytest.fixture(scope="module")
def held_out():
    return data.load_arrays("photos", "test", image_size=16, value_range=(0, 1), limit=4).images


def _stylized(images):
    return lambda model: model.stylize(images)


@pytest.mark.parametrize("shape", [(16, 16), (30, 22), (9, 13)])
def test_any_size_comes_back_at_its_own_size_in_range(shape):
    keras.utils.set_random_seed(0)
    network = style.build_transform_network(width=4, blocks=1)
    images = np.random.default_rng(0).uniform(0, 1, (2, *shape, 3)).astype(np.float32)
    out = style.stylize_images(network, images)
    assert out.shape == images.shape and out.dtype == np.float32
    assert 0.0 <= out.min() and out.max() <= 1.0
    if shape[0] % 4 == 0 and shape[1] % 4 == 0:  # no padding: the network itself
        np.testing.assert_allclose(out, network(images).numpy(), atol=1e-6)
    grey = style.stylize_images(network, images[0, ..., :1])  # one grey image
    np.testing.assert_allclose(grey[0], style.stylize_images(network, images[:1, ..., :1])[0])
    with pytest.raises(ValueError, match="at least 8 pixels on each side, got 6x20"):
        style.stylize_images(network, np.zeros((1, 6, 20, 3), np.float32))


def test_the_network_is_johnson_s_shape():
    network = style.build_transform_network(width=4, blocks=2)
    names = [layer.name for layer in network.layers]
    convolutions = [layer for layer in network.layers if isinstance(layer, keras.layers.Conv2D)]
    assert [c.kernel_size for c in convolutions] == [(9, 9), (3, 3), (3, 3)] + [(3, 3)] * 4 + [
        (3, 3),
        (3, 3),
        (9, 9),
    ]
    assert [c.filters for c in convolutions] == [4, 8, 16, 16, 16, 16, 16, 8, 4, 3]
    assert all(c.padding == "valid" for c in convolutions)  # mirrored padding layers instead
    assert names.count("res1") == names.count("res2") == 1  # the residual additions
    assert network.output.dtype == "float32"


def test_a_step_s_losses_are_the_shared_style_losses(patches):
    model = matrix.fresh(make_small)
    images = next(iter(patches)).numpy()
    reported = model.evaluate(images, verbose=0, return_dict=True)
    output = model.stylizer(images, training=False)
    content = model.extractor(images)[model.extractor.content_layer]
    by_hand = style.style_losses(
        model.extractor,
        style.style_targets(model.extractor, style.read_style(model.style)),
        output,
        content,
        style_weight=1.0,
        content_weight=2.0,
        tv_weight=0.2,
    )
    for name, value in by_hand.items():
        np.testing.assert_allclose(reported[name], float(value), rtol=1e-4, err_msg=name)
    style_part = float(by_hand["style"])
    total = style_part + 2.0 * float(by_hand["content"]) + 0.2 * float(by_hand["tv"])
    np.testing.assert_allclose(reported["loss"], total, rtol=1e-4)
    # only the transform network learns; the extractor stays as it was made
    frozen = [v.numpy().copy() for v in model.feature_model.weights]
    model.fit(patches.take(1), epochs=1, verbose=0)
    for before, after in zip(frozen, model.feature_model.weights, strict=True):
        np.testing.assert_array_equal(before, after.numpy())
    assert model.optimizer_variables("stylizer") == model.stylizer.trainable_variables


def test_bad_styles_sizes_and_weights_are_refused(tmp_path):
    text = tmp_path / "notes.png"
    text.write_text("not an image")
    with pytest.raises(ValueError, match="could not read .*notes.png.* as an image"):
        style.read_style(str(text))
    with pytest.raises(ValueError, match="neither an image file nor one of the offline pictures"):
        style.read_style("monet")
    with pytest.raises(ValueError, match="multiple of 4"):
        make_small(image_size=18)
    with pytest.raises(ValueError, match="content_weight"):
        make_small(content_weight=-1.0)
    with pytest.raises(ValueError, match="tv_weight are all 0: the loss would be 0"):
        make_small(style_weight=0, content_weight=0.0, tv_weight=0)  # trained nothing before
    with pytest.raises(TypeError, match="use stylize"):
        make_small().generate(4)
    picture = style.read_style("chelsea")  # 451 x 300, shrunk to 256 on its longer side
    assert picture.shape == (170, 256, 3) and 0.0 <= picture.min() and picture.max() <= 1.0


def test_finite_losses_and_validation(patches):
    matrix.check_finite_epoch(make_small, patches, steps=2)


def test_checkpoint_resume_is_exact(patches, held_out, tmp_path):
    matrix.check_resume_is_exact(make_small, patches, tmp_path, {}, sample=_stylized(held_out))


def test_a_checkpoint_of_another_style_is_refused(patches, tmp_path):
    model = matrix.fresh(make_small)
    path = model.save_checkpoint(tmp_path / "ck.npz")
    other = matrix.fresh(lambda: make_small(style="coffee"))
    with pytest.raises(ValueError, match="style: checkpoint 'immunohistochemistry' vs model"):
        other.load_checkpoint(path)


def test_mirrored_strategy_epoch(patches):
    matrix.check_mirrored_epoch(make_small, patches)


@pytest.mark.parametrize("policy_name", ["mixed_bfloat16", "mixed_float16"])
def test_mixed_precision_epoch(policy_name, patches):
    matrix.check_mixed_epoch(make_small, patches, policy_name)


def test_exported_network_round_trips(patches, held_out, tmp_path):
    model = matrix.fresh(make_small)
    model.fit(patches.take(1), epochs=1, verbose=0)
    path = tmp_path / "stylizer.keras"
    registry.export(registry.get("style"), model, tmp_path)
    network, record = registry.load_exported(path, "style-transfer network")
    assert record["task"] == "stylizer" and record["config"]["style"] == "immunohistochemistry"
    np.testing.assert_array_equal(model.stylize(held_out), style.stylize_images(network, held_out))
