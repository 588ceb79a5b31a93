"""The data module: offline datasets, pipelines, value ranges, folders, fallback and errors."""

import numpy as np
import pytest
import tensorflow as tf
from skimage import data as skdata

from aigc_keras import data


def test_digits_arrays_shapes_range_and_counts():
    train = data.load_arrays("digits", "train", image_size=28)
    test = data.load_arrays("digits", "test", image_size=28)
    assert train.images.shape == (1437, 28, 28, 1) and test.images.shape == (360, 28, 28, 1)
    assert len(train) + len(test) == 1797
    assert train.images.dtype == np.float32
    assert train.images.min() == pytest.approx(-1.0) and 0.9 < train.images.max() <= 1.0
    assert set(np.unique(train.labels)) == set(range(10)) == set(np.unique(test.labels))
    assert train.source == "offline" and train.class_names[3] == "3"


def test_pipeline_batches_labels_and_value_ranges():
    batch = next(iter(data.load("digits", image_size=16, batch_size=32)))
    assert batch.shape == (32, 16, 16, 1) and batch.dtype == tf.float32
    images, labels = next(
        iter(data.load("digits", "test", image_size=16, batch_size=8, labels=True))
    )
    assert images.shape == (8, 16, 16, 1) and labels.dtype == tf.int32
    unit = next(iter(data.load("digits", image_size=8, batch_size=500, value_range=(0, 1))))
    assert 0.0 <= float(tf.reduce_min(unit)) and float(tf.reduce_max(unit)) <= 1.0
    levels = next(iter(data.load("digits", image_size=8, batch_size=500, value_range=4)))
    assert levels.dtype == tf.int32 and set(np.unique(levels.numpy())) == {0, 1, 2, 3}
    total = sum(int(b.shape[0]) for b in data.load("digits", "test", image_size=8, batch_size=100))
    assert total == 360


def test_shuffle_is_seeded():
    first = next(iter(data.load("digits", image_size=8, batch_size=16, seed=5))).numpy()
    again = next(iter(data.load("digits", image_size=8, batch_size=16, seed=5))).numpy()
    other = next(iter(data.load("digits", image_size=8, batch_size=16, seed=6))).numpy()
    np.testing.assert_array_equal(first, again)
    assert not np.array_equal(first, other)


def test_channels_conversion_and_other_offline_sets():
    faces = data.load_arrays("lfw_subset", "train", image_size=32, channels=3)
    assert faces.images.shape == (160, 32, 32, 3) and set(faces.labels) == {0, 1}
    photos = data.load_arrays("photos", "test", image_size=32, num_crops=4)
    assert photos.images.shape == (20, 32, 32, 3) and photos.class_names[0] == "astronaut"
    textures = data.load_arrays("textures", "train", image_size=64, num_crops=10)
    assert textures.images.shape == (30, 64, 64, 1) and list(np.bincount(textures.labels)) == [
        10,
        10,
        10,
    ]


def _positions(crop, picture):
    """Top-left rows where ``crop`` occurs exactly in ``picture`` (brute force)."""
    size = crop.shape[0]
    windows = np.lib.stride_tricks.sliding_window_view(picture, (size, size))
    return np.argwhere((windows == crop).all(axis=(2, 3)))[:, 0]


def test_texture_train_and_test_crops_come_from_disjoint_regions():
    size = 8
    picture = skdata.brick()
    boundary = int(picture.shape[0] * data.TRAIN_REGION)
    for split in ("train", "test"):
        crops = data.load_arrays(
            "brick", split, image_size=size, num_crops=25, value_range=(0, 1)
        ).images
        for crop in crops[..., 0]:
            rows = _positions(np.round(crop * 255).astype(np.uint8), picture)
            assert len(rows) >= 1, "a crop was not found in the source picture"
            if split == "train":
                assert (rows + size <= boundary).all()
            else:
                assert (rows >= boundary).all()


def test_offline_fallback_announces_itself(monkeypatch, capsys):
    monkeypatch.setattr(data, "network_available", lambda: False)
    dataset = data.load("mnist", image_size=28, batch_size=10, data_dir="/nonexistent-tfds")
    line = capsys.readouterr().out
    assert "'mnist' is unavailable" in line and "'digits'" in line and "1437 real images" in line
    assert next(iter(dataset)).shape == (10, 28, 28, 1)


def test_dataset_without_stand_in_fails_offline(monkeypatch):
    monkeypatch.setattr(data, "network_available", lambda: False)
    for name in ("cifar10", "fashion_mnist"):
        with pytest.raises(ValueError, match="no honest offline stand-in.*digits, lfw_subset"):
            data.load(name, data_dir="/nonexistent-tfds")
    with pytest.raises(ValueError, match="no honest offline stand-in"):
        data.load("cifar10", source="offline")


def test_network_probe_answers_quickly():
    import time

    data.network_available.cache_clear()
    start = time.perf_counter()
    assert data.network_available() in (True, False)
    assert time.perf_counter() - start < 10


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(name="nonsense"), "unknown dataset 'nonsense'.*Offline datasets: digits"),
        (dict(image_size=0), "image_size must be a positive integer"),
        (dict(image_size=-3), "image_size must be a positive integer"),
        (dict(image_size=2.5), "image_size must be a positive integer"),
        (dict(image_size=True), "image_size must be a positive integer"),
        (dict(batch_size=0), "batch_size must be a positive integer"),
        (dict(value_range=(0, 255)), r"value_range \(0, 255\) is not supported"),
        (dict(value_range=1), "at least 2 levels"),
        (dict(value_range="tanh"), "value_range 'tanh' is not supported"),
        (dict(split="validation"), "split 'validation' does not exist.*'train' or 'test'"),
        (dict(source="internet"), "source 'internet' is not known"),
        (dict(channels=2), "channels must be 1, 3"),
        (dict(name="digits", source="tfds"), "offline dataset, not a TFDS one"),
        (dict(name="/no/such/folder"), "does not exist"),
    ],
)
def test_bad_input_raises_clear_error(kwargs, message):
    kwargs = {"name": "digits", **kwargs}
    with pytest.raises(ValueError, match=message):
        data.load(**kwargs)


def test_texture_crop_larger_than_region_is_refused():
    with pytest.raises(ValueError, match="too large for the test region"):
        data.load_arrays("brick", "test", image_size=200)


def _write_pngs(folder, count, value):
    import matplotlib.pyplot as plt

    folder.mkdir(parents=True, exist_ok=True)
    for i in range(count):
        plt.imsave(folder / f"{i}.png", np.full((12, 10, 3), value + i, np.uint8))


def test_user_folder_with_and_without_classes(tmp_path):
    _write_pngs(tmp_path / "classes" / "cats", 3, 10)
    _write_pngs(tmp_path / "classes" / "dogs", 2, 200)
    images, labels = next(
        iter(data.load(tmp_path / "classes", image_size=8, batch_size=10, labels=True))
    )
    assert images.shape == (5, 8, 8, 3) and sorted(labels.numpy().tolist()) == [0, 0, 0, 1, 1]
    arrays = data.load_arrays(tmp_path / "classes", image_size=8, value_range=(0, 1))
    assert arrays.class_names == ("cats", "dogs") and arrays.images.max() <= 1.0
    _write_pngs(tmp_path / "flat", 4, 50)
    images = next(iter(data.load(str(tmp_path / "flat"), image_size=8, batch_size=10, channels=1)))
    assert images.shape == (4, 8, 8, 1)
    with pytest.raises(ValueError, match="inside a class sub-folder"):
        data.load(tmp_path / "flat", labels=True)


def test_empty_folder(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="holds no images"):
        data.load(tmp_path / "empty")


def test_a_refused_download_is_explained(monkeypatch, tmp_path):
    """A host that refuses the download (CelebA's often does) gives a message with what to do, not a
    retry loop."""
    import tensorflow_datasets as tfds

    class RefusingBuilder:
        data_dir = str(tmp_path / "celeb_a")  # nothing prepared there

        def download_and_prepare(self):
            raise tfds.download.DownloadError("Failed to get url: 403 quota exceeded")

    monkeypatch.setattr(data, "network_available", lambda: True)
    monkeypatch.setattr(tfds, "builder", lambda name, data_dir=None: RefusingBuilder())
    with pytest.raises(ValueError) as error:
        data.load("celeb_a", image_size=32)
    message = str(error.value)
    assert (
        "TFDS could not download it (DownloadError: Failed to get url: 403 quota exceeded"
        in message
    )
    assert (
        "refuses automated downloads" in message
        and "'lfw'" in message
        and "no honest offline stand-in" in message
    )
