"""The online data path (what a Colab learner runs), exercised without the network.

* With the network reported as available, TFDS's own ``mock_data`` stands in for the downloads:
  ``data.load``, ``data.load_arrays`` and ``data.load_unpaired`` go through TFDS (not the offline
  fallback) and return the documented shapes, dtypes, value ranges and labels, and say so.
* The mock knows no split names or sizes in this TFDS version, so splits, sizes and the refusal of
  a missing split are checked on a ``data_dir`` this test prepares: each dataset stored under its
  registered name, version and features (``store_as_tfds_dataset``) and read back by the registered
  builder with the network off.
"""

import numpy as np
import pytest

from aigc_keras import data

# (TFDS name, image side the test asks for, channels, has class labels)
ONLINE = [
    ("mnist", 28, 1, True),
    ("fashion_mnist", 28, 1, True),
    ("cifar10", 32, 3, True),
    ("lfw", 64, 3, False),
]


@pytest.fixture
def mocked(monkeypatch):
    import tensorflow_datasets as tfds

    monkeypatch.setattr(data, "network_available", lambda: True)
    monkeypatch.setattr(data, "_ANNOUNCED", set())
    with tfds.testing.mock_data(num_examples=6):
        yield


@pytest.mark.parametrize("name, size, channels, labelled", ONLINE, ids=[n[0] for n in ONLINE])
def test_online_datasets_come_from_tfds_with_the_documented_shapes(
    name, size, channels, labelled, mocked, capsys
):
    arrays = data.load_arrays(name, "train", image_size=size)
    assert f"using {name!r} from TensorFlow Datasets (train split)." in capsys.readouterr().out
    assert arrays.source == "tfds" and arrays.name == name
    assert arrays.images.shape == (6, size, size, channels) and arrays.images.dtype == np.float32
    assert -1.0 <= arrays.images.min() and arrays.images.max() <= 1.0
    assert np.ptp(arrays.images) > 0.5  # the mock's random pixels, scaled, not a constant
    if labelled:
        assert arrays.labels.dtype == np.int32 and len(arrays.labels) == 6
        assert 0 <= arrays.labels.min() and arrays.labels.max() < len(arrays.class_names) == 10
    else:
        assert arrays.labels is None
    batches = data.load(name, "train", image_size=size, batch_size=4, labels=labelled)
    first = next(iter(batches))
    images = first[0] if labelled else first
    assert tuple(images.shape) == (4, size, size, channels) and images.dtype.name == "float32"
    if labelled:
        assert first[1].dtype.name == "int32" and tuple(first[1].shape) == (4,)
    unit = data.load_arrays(name, "train", image_size=size, value_range=(0, 1))
    np.testing.assert_allclose(unit.images * 2.0 - 1.0, arrays.images, atol=1e-6)


def test_cycle_gan_pairs_come_from_tfds_both_domains(mocked, capsys):
    pairs = data.load_unpaired("cycle_gan/horse2zebra", None, image_size=64, batch_size=3)
    a, b = next(iter(pairs))
    said = capsys.readouterr().out
    assert "using 'cycle_gan/horse2zebra' from TensorFlow Datasets (trainA split)." in said
    assert "using 'cycle_gan/horse2zebra' from TensorFlow Datasets (trainB split)." in said
    for images in (a, b):
        assert tuple(images.shape) == (3, 64, 64, 3) and images.dtype.name == "float32"
        assert -1.0 <= float(np.min(images)) and float(np.max(images)) <= 1.0


def test_mnist_m_is_built_over_tfds_mnist_online(mocked):
    arrays = data.load_arrays("mnist_m", "train", image_size=32)
    assert arrays.images.shape == (6, 32, 32, 3) and arrays.source == "tfds"
    assert 0 <= arrays.labels.min() and arrays.labels.max() <= 9


def _example(features, rng, side=None):
    """A random example of a TFDS feature dictionary (images at their fixed shape, or ``side``)."""
    import tensorflow_datasets as tfds

    example = {}
    for key, feature in features.items():
        if isinstance(feature, tfds.features.Image):
            shape = tuple(side if d is None else d for d in feature.shape)
            example[key] = rng.integers(0, 256, shape, dtype=np.uint8)
        elif isinstance(feature, tfds.features.ClassLabel):
            example[key] = int(rng.integers(0, feature.num_classes))
        elif isinstance(feature, tfds.features.Text):
            example[key] = f"example-{rng.integers(1_000_000)}"
        else:
            raise AssertionError(f"no example for the feature {key!r}: {feature}")
    return example


# (TFDS name, config, the splits stored with their sizes, the split asked for as "train")
PREPARED = [
    ("mnist", None, {"train": 7, "test": 3}),
    ("fashion_mnist", None, {"train": 5, "test": 2}),
    ("cifar10", None, {"train": 6, "test": 2}),
    ("lfw", None, {"train": 4}),
    ("cycle_gan", "horse2zebra", {"trainA": 4, "trainB": 3, "testA": 2, "testB": 2}),
]


@pytest.fixture(scope="module")
def prepared(tmp_path_factory):
    """A data_dir holding each dataset under its registered name, version and features."""
    import tensorflow_datasets as tfds

    data_dir = tmp_path_factory.mktemp("tfds")
    stored = {}
    for name, config, sizes in PREPARED:
        full = f"{name}/{config}" if config else name
        registered = tfds.builder(full, data_dir=str(tmp_path_factory.mktemp("empty")))
        rng = np.random.default_rng(len(stored))
        splits = {
            split: [_example(registered.info.features, rng, side=40) for _ in range(n)]
            for split, n in sizes.items()
        }
        tfds.dataset_builders.store_as_tfds_dataset(
            name=name,
            version=registered.info.version,
            features=registered.info.features,
            split_datasets={  # (key, example) pairs
                split: list(enumerate(examples)) for split, examples in splits.items()
            },
            config=config,
            data_dir=str(data_dir),
        )
        stored[full] = splits
    return data_dir, stored


@pytest.fixture
def offline(monkeypatch):
    monkeypatch.setattr(data, "network_available", lambda: False)
    monkeypatch.setattr(data, "_ANNOUNCED", set())


@pytest.mark.parametrize("name", ["mnist", "fashion_mnist", "cifar10"])
def test_a_prepared_data_dir_gives_its_splits_and_sizes_offline(name, prepared, offline, capsys):
    data_dir, stored = prepared
    sizes = dict(PREPARED[[p[0] for p in PREPARED].index(name)][2])
    for split, count in sizes.items():
        arrays = data.load_arrays(name, split, data_dir=data_dir, value_range=(0, 1))
        assert len(arrays) == count and arrays.source == "tfds"
        said = capsys.readouterr().out
        assert f"from TensorFlow Datasets ({count} images, {split} split)" in said
        # the stored examples, in TFDS's order: each image and label found among them
        images = {e["image"].tobytes(): e["label"] for e in stored[name][split]}
        side = arrays.images.shape[1]
        for image, label in zip(arrays.images, arrays.labels, strict=True):
            raw = np.round(image * 255.0).astype(np.uint8)
            if side == stored[name][split][0]["image"].shape[0]:
                assert images[raw.tobytes()] == label
    with pytest.raises(ValueError, match=r"split 'validation' does not exist for .*available"):
        data.load_arrays(name, "validation", data_dir=data_dir)


def test_prepared_faces_and_cycle_gan_pairs_offline(prepared, offline):
    data_dir, _ = prepared
    faces = data.load_arrays("lfw", "train", image_size=64, data_dir=data_dir)
    assert faces.images.shape == (4, 64, 64, 3) and faces.labels is None
    with pytest.raises(ValueError, match="split 'test' does not exist for 'lfw'"):
        data.load_arrays("lfw", "test", data_dir=data_dir)
    pairs = data.load_unpaired(
        "cycle_gan/horse2zebra", None, image_size=32, batch_size=2, data_dir=data_dir
    )
    a, b = next(iter(pairs))
    assert tuple(a.shape) == tuple(b.shape) == (2, 32, 32, 3)
    test = data.load_unpaired(
        "cycle_gan/horse2zebra", None, "test", image_size=32, batch_size=2, data_dir=data_dir
    )
    assert sum(1 for _ in test) == 1  # testA and testB hold 2 each: one batch of two pairs


def test_an_unprepared_data_dir_offline_falls_back_and_says_why(prepared, offline, capsys):
    empty = prepared[0] / "nothing-here"
    arrays = data.load_arrays("mnist", "train", data_dir=empty)
    assert arrays.source == "offline" and arrays.name == "mnist_5k"
    assert "TFDS has no prepared copy" in capsys.readouterr().out
    with pytest.raises(ValueError, match="no honest offline stand-in"):
        data.load_arrays("cifar10", "train", data_dir=empty)
