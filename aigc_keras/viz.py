"""Pictures: image grids, loss curves, interpolation strips (NumPy and matplotlib only)."""

from __future__ import annotations

import math
import os
import pathlib
import warnings

import numpy as np

from .validation import check_int, check_positive, to_unit


def _matplotlib():
    import matplotlib.pyplot as plt  # headless machines get the Agg backend automatically

    return plt


def to_uint8(images, value_range=(-1, 1)) -> np.ndarray:
    """Images in ``value_range`` ((-1, 1), (0, 1) or K levels) -> uint8 ``N x H x W x C``.

    Values outside the range are clipped; K levels map to the centres of their bins.

    Args:
        images: ``N x H x W x C`` or ``N x H x W`` (grey), in ``value_range``.
        value_range: ``(-1, 1)``, ``(0, 1)`` or an integer ``K >= 2`` of quantised levels.

    Returns:
        A uint8 ``N x H x W x C`` array in [0, 255].

    Raises:
        ValueError: if ``images`` is not 3-D or 4-D, or ``value_range`` is not supported.
    """
    images = np.asarray(images)
    if images.ndim == 3:
        images = images[..., None]
    if images.ndim != 4:
        raise ValueError(f"images must be N x H x W x C (or N x H x W), got shape {images.shape}.")
    unit = np.asarray(to_unit(images, value_range), np.float64)
    finite = np.isfinite(unit)
    if not finite.all():  # a warning, not an error: a grid drawn as a training diverges still shows
        warnings.warn(
            f"{np.size(unit) - finite.sum()} pixel values are NaN or infinite; they are drawn "
            "black (NaN, -inf) or white (inf).",
            stacklevel=2,
        )
        unit = np.nan_to_num(unit, nan=0.0, posinf=1.0, neginf=0.0)
    if finite.any() and (unit[finite].min() < -1.0 or unit[finite].max() > 2.0):
        low, high = images[finite].min(), images[finite].max()
        warnings.warn(
            f"the images lie in [{low:.4g}, {high:.4g}], far outside value_range {value_range!r}: "
            "drawn clipped; pass the value_range they are in (uint8 images: divide by 255 and "
            "use (0, 1)).",
            stacklevel=2,
        )
    return np.round(np.clip(unit, 0.0, 1.0) * 255).astype(np.uint8)


def image_grid(
    images, *, ncols: int | None = None, value_range=(-1, 1), pad: int = 1
) -> np.ndarray:
    """Tile images into one uint8 array (``H x W`` for grayscale, ``H x W x 3`` for colour).

    Tiles are laid out row by row, separated by white borders of ``pad`` pixels.

    Args:
        images: ``N x h x w x C`` or ``N x h x w``, ``N >= 1``, in ``value_range``.
        ncols: images per row; ``None`` for a square-ish grid (``ceil(sqrt(N))`` columns).
        value_range: ``(-1, 1)``, ``(0, 1)`` or an integer ``K >= 2`` of quantised levels.
        pad: border width in pixels, around and between the tiles.

    Returns:
        The grid as a uint8 array.

    Raises:
        ValueError: if there are no images.
    """
    tiles = _tiles(images, value_range)
    n, h, w, c = tiles.shape
    if n == 0:
        raise ValueError("image_grid needs at least one image.")
    pad = check_int(pad, "pad", minimum=0)
    ncols = int(math.ceil(math.sqrt(n))) if ncols is None else check_int(ncols, "ncols")
    nrows = int(math.ceil(n / ncols))
    grid = np.full((nrows * (h + pad) + pad, ncols * (w + pad) + pad, c), 255, np.uint8)
    for i in range(n):
        r, col = divmod(i, ncols)
        y, x = pad + r * (h + pad), pad + col * (w + pad)
        grid[y : y + h, x : x + w] = tiles[i]
    return grid[..., 0] if c == 1 else grid


def _tiles(images, value_range) -> np.ndarray:
    """:func:`to_uint8` of images to draw, refused unless grey (1 channel) or colour (3)."""
    tiles = to_uint8(images, value_range)
    if tiles.shape[-1] not in (1, 3):  # two channels made a grid no plot could show
        raise ValueError(
            f"images to draw must have 1 (grey) or 3 (colour) channels, got {tiles.shape[-1]} "
            f"(shape {tiles.shape})."
        )
    return tiles


def _check_picture(array, what: str) -> np.ndarray:
    """A uint8 ``H x W`` or ``H x W x 1/3/4`` array, or a ``ValueError``."""
    array = np.asarray(array)
    if (
        array.dtype != np.uint8
        or array.ndim not in (2, 3)
        or (array.ndim == 3 and array.shape[-1] not in (1, 3, 4))
    ):
        raise ValueError(
            f"{what} needs a uint8 H x W or H x W x 1/3/4 array (image_grid makes one), "
            f"got {array.dtype} {array.shape}."
        )
    return array


def _save_figure(fig, path) -> None:
    """Save ``fig`` as a PNG at ``path`` (100 dpi), its folder created if missing."""
    path = pathlib.Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)


def save_image(array: np.ndarray, path) -> pathlib.Path:
    """Write a uint8 array (``H x W`` grey or ``H x W x 3``) as PNG, exactly.

    Written atomically (a temporary name, then a rename), with Pillow, which stores the bytes
    as given; matplotlib's ``imsave`` passes grey images through its colour map and wrote
    some levels one lower (180 -> 179).  Missing parent folders are created.

    Args:
        array: a uint8 ``H x W``, ``H x W x 1``, ``H x W x 3`` (RGB) or ``H x W x 4`` (RGBA)
            array, e.g. from :func:`image_grid`.
        path: where to write the PNG (a string or path).

    Returns:
        The path written, as a ``pathlib.Path``.

    Raises:
        ValueError: if ``array`` is not uint8 or has another shape, or ``path`` is a folder or
            names another format than PNG.
    """
    from PIL import Image

    array = _check_picture(array, "save_image")
    path = pathlib.Path(path)
    if path.is_dir():
        raise ValueError(
            f"{str(path)!r} is a folder; give the PNG file's path (e.g. {path}/out.png)."
        )
    if path.suffix.lower() not in (".png", ""):  # a .jpg name would hold PNG bytes
        raise ValueError(f"save_image writes PNG files; name it .png, got {str(path)!r}.")
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp.png")
    Image.fromarray(array[..., 0] if array.ndim == 3 and array.shape[-1] == 1 else array).save(
        tmp, format="PNG"
    )
    os.replace(tmp, path)
    return path


def show_array(array: np.ndarray, *, title=None, size: float = 3.0):
    """Show one uint8 picture (e.g. a grid from :func:`image_grid`) and return the figure.

    Args:
        array: a uint8 ``H x W`` (grey) or ``H x W x 3`` array.
        title: a title above the picture, or ``None``.
        size: the figure's width in inches; the height follows the aspect ratio.

    Returns:
        The matplotlib figure.
    """
    array = _check_picture(array, "show_array")  # floats in [0, 1] drew near-black
    size = check_positive(size, "size")
    plt = _matplotlib()
    fig, ax = plt.subplots(figsize=(size, size * array.shape[0] / array.shape[1]))
    ax.imshow(
        array[..., 0] if array.ndim == 3 and array.shape[-1] == 1 else array,
        cmap="gray" if array.ndim == 2 or array.shape[-1] == 1 else None,
        vmin=0,
        vmax=255,
        interpolation="nearest",
    )
    ax.axis("off")
    if title:
        ax.set_title(title)
    plt.show()
    return fig


def show_images(
    images, *, title=None, ncols=None, value_range=(-1, 1), path=None, labels=None, scale=1.0
):
    """Show a grid of images in a figure (and save it as PNG when ``path`` is given).

    ``labels`` (one string per image) puts a caption under each image instead of a single
    tiled picture.

    Args:
        images: ``N x H x W x C`` or ``N x H x W``, in ``value_range``.
        title: a title above the figure, or ``None``.
        ncols: images per row; ``None`` for a square-ish grid.
        value_range: ``(-1, 1)``, ``(0, 1)`` or an integer ``K >= 2`` of quantised levels.
        path: where to save the figure as PNG (100 dpi), or ``None``.
        labels: one caption per image (anything ``str`` accepts), or ``None``.
        scale: a factor on the figure size, > 0.

    Returns:
        The matplotlib figure.

    Raises:
        ValueError: if ``labels`` does not have one entry per image.
    """
    scale = check_positive(scale, "scale")  # 0 gave "Singular matrix" from matplotlib
    if labels is not None and (isinstance(labels, str) or not hasattr(labels, "__len__")):
        raise ValueError(f"labels must be one caption per image (a list), got {labels!r}.")
    plt = _matplotlib()
    if labels is None:
        grid = image_grid(images, ncols=ncols, value_range=value_range)
        height, width = grid.shape[:2]
        size = max(4.0, min(12.0, width / 40.0)) * scale
        fig, ax = plt.subplots(figsize=(size, size * height / width + (0.4 if title else 0)))
        ax.imshow(
            grid, cmap="gray" if grid.ndim == 2 else None, vmin=0, vmax=255, interpolation="nearest"
        )
        ax.axis("off")
    else:
        tiles = _tiles(images, value_range)
        if len(labels) != len(tiles):
            raise ValueError(f"got {len(labels)} labels for {len(tiles)} images.")
        if len(tiles) == 0:
            raise ValueError("show_images needs at least one image.")
        ncols = (
            int(math.ceil(math.sqrt(len(tiles)))) if ncols is None else check_int(ncols, "ncols")
        )
        nrows = int(math.ceil(len(tiles) / ncols))
        fig, axes = plt.subplots(nrows, ncols, figsize=(1.3 * ncols * scale, 1.45 * nrows * scale))
        for ax in np.ravel(axes):
            ax.axis("off")
        # nrows * ncols axes can outnumber the images; the spare ones stay blank.
        for ax, tile, label in zip(np.ravel(axes), tiles, labels, strict=False):
            ax.imshow(tile[..., 0] if tile.shape[-1] == 1 else tile, cmap="gray", vmin=0, vmax=255)
            ax.set_title(str(label), fontsize=8)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    if path is not None:
        _save_figure(fig, path)
    return fig


def plot_history(history, *, keys=None, title="Training curves", path=None):
    """Plot the curves of a ``keras.callbacks.History`` (or its ``.history`` dict).

    One panel per curve, against the epoch; a ``val_<key>`` curve, if logged, is drawn in
    the same panel as ``held-out``.

    Args:
        history: a ``History`` object, or a dict from curve names to per-epoch values.
        keys: the curves to plot; ``None`` plots every curve not starting with ``val_``.
        title: the figure's title.
        path: where to save the figure as PNG (100 dpi), or ``None``.

    Returns:
        The matplotlib figure, or ``None`` (with a printed note) when no epoch ran.

    Raises:
        ValueError: if ``history`` is neither, or a key names no logged curve.
    """
    plt = _matplotlib()
    logs = getattr(history, "history", history)
    if not isinstance(logs, dict):
        raise ValueError("plot_history needs a History object or a dict of lists.")
    if not logs:  # e.g. a resumed fit whose checkpoint was already at the last epoch
        print(
            "no epochs ran in this fit, so there is no curve to plot "
            "(was training resumed at its end?)"
        )
        return None
    if isinstance(keys, str):  # its letters were read as curve names
        keys = [keys]
    keys = list(keys or [k for k in logs if not k.startswith("val_")])
    missing = [k for k in keys if k not in logs]
    if missing:
        raise ValueError(f"no curve named {missing}; available: {', '.join(logs)}.")
    fig, axes = plt.subplots(1, len(keys), figsize=(3.6 * len(keys), 3.0), squeeze=False)
    for ax, key in zip(axes[0], keys, strict=True):
        epochs = np.arange(1, len(logs[key]) + 1)
        ax.plot(epochs, logs[key], label="train")
        if f"val_{key}" in logs:
            ax.plot(*_held_out_curve(logs, key), label="held-out")
            ax.legend()
        ax.set_title(key)
        ax.set_xlabel("epoch")
    fig.suptitle(title)
    fig.tight_layout()
    if path is not None:
        _save_figure(fig, path)
    return fig


def _held_out_curve(logs: dict, key: str):
    """``(epochs, values)`` of ``val_<key>``: Keras' ``validation_freq=k`` logs it every k-th
    epoch, so it may be shorter than ``key``'s curve."""
    train, held = len(logs[key]), list(logs[f"val_{key}"])
    if held and train % len(held) == 0:
        every = train // len(held)
        return np.arange(1, len(held) + 1) * every, held
    raise ValueError(
        f"val_{key} has {len(held)} values for {train} epochs of {key}; a held-out curve "
        "measured every k-th epoch has epochs / k."
    )


def interpolate(start, end, steps: int = 8, *, spherical: bool = False) -> np.ndarray:
    """Points from ``start`` to ``end`` (inclusive): linear, or spherical for Gaussian latents.

    Spherical interpolation (slerp) follows the great circle between the two vectors, which
    keeps the norm typical of Gaussian latents; it falls back to linear for (nearly)
    parallel vectors.

    Args:
        start: the first point, an array of any shape (e.g. one latent vector).
        end: the last point, the same shape.
        steps: the number of points, at least 2.
        spherical: interpolate spherically instead of linearly.

    Returns:
        A float32 array of shape ``(steps, *start.shape)``.

    Raises:
        ValueError: if the shapes differ or ``steps`` is below 2.
    """
    start, end = np.asarray(start, np.float64), np.asarray(end, np.float64)
    if start.shape != end.shape:
        raise ValueError(
            f"start and end must have the same shape, got {start.shape} and {end.shape}."
        )
    check_int(steps, "steps", minimum=2)
    t = np.linspace(0.0, 1.0, steps)[:, None]
    a, b = start.ravel()[None], end.ravel()[None]
    if spherical:
        cos = np.dot(a[0], b[0]) / (np.linalg.norm(a) * np.linalg.norm(b))
        omega = np.arccos(np.clip(cos, -1.0, 1.0))
        if omega > 1e-6:
            path = (np.sin((1 - t) * omega) * a + np.sin(t * omega) * b) / np.sin(omega)
            return path.reshape((steps, *start.shape)).astype(np.float32)
    path = (1 - t) * a + t * b
    return path.reshape((steps, *start.shape)).astype(np.float32)


def show_interpolation(images, *, value_range=(-1, 1), title="Latent interpolation", path=None):
    """One row of images (e.g. decoded :func:`interpolate` points).

    Args:
        images: ``N x H x W x C`` or ``N x H x W``, in ``value_range``.
        value_range: ``(-1, 1)``, ``(0, 1)`` or an integer ``K >= 2`` of quantised levels.
        title: the figure's title.
        path: where to save the figure as PNG, or ``None``.

    Returns:
        The matplotlib figure.
    """
    return show_images(images, ncols=len(images), value_range=value_range, title=title, path=path)


def confusion_matrix_plot(matrix, class_names, *, title="Confusion matrix", path=None):
    """Plot a confusion matrix with the count written in each cell.

    Args:
        matrix: a ``K x K`` array of counts, rows the true classes, columns the predicted.
        class_names: ``K`` tick labels, in class order.
        title: the figure's title.
        path: where to save the figure as PNG (100 dpi), or ``None``.

    Returns:
        The matplotlib figure.
    """
    matrix = np.asarray(matrix)
    if matrix.ndim != 2 or matrix.shape[0] != matrix.shape[1] or matrix.shape[0] == 0:
        raise ValueError(f"matrix must be K x K counts, got shape {matrix.shape}.")
    if isinstance(class_names, str) or len(class_names or ()) != len(matrix):
        raise ValueError(
            f"class_names must be {len(matrix)} labels, one per class, got {class_names!r}."
        )
    plt = _matplotlib()
    fig, ax = plt.subplots(figsize=(4.5, 4.0))
    ax.imshow(matrix, cmap="Blues")
    ax.set_xticks(range(len(class_names)), class_names)
    ax.set_yticks(range(len(class_names)), class_names)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    for (i, j), value in np.ndenumerate(matrix):
        ax.text(
            j,
            i,
            str(value),
            ha="center",
            va="center",
            fontsize=7,
            color="white" if value > matrix.max() / 2 else "black",
        )
    ax.set_title(title)
    fig.tight_layout()
    if path is not None:
        _save_figure(fig, path)
    return fig


def in_notebook() -> bool:
    """True inside a Jupyter kernel (where displays show inline and can be updated in place)."""
    try:
        from IPython import get_ipython
    except ImportError:
        return False
    shell = get_ipython()
    return shell is not None and getattr(shell, "kernel", None) is not None


def _resolve(target: str):
    """The object a dotted name such as ``aigc_keras.models.gan.DCGAN.train_step`` names."""
    import importlib

    parts = target.split(".")
    obj, index = None, 0
    for index in range(len(parts), 0, -1):  # the longest importable module prefix
        name = ".".join(parts[:index])
        try:
            obj = importlib.import_module(name)
            break
        except ModuleNotFoundError as error:
            if error.name is not None and not name.startswith(error.name):
                raise  # the module exists but needs one that is missing: say so
            continue
    if obj is None:
        raise ValueError(f"show_code: no module to import in {target!r}.")
    for depth, name in enumerate(parts[index:], start=index):
        if not hasattr(obj, name):
            public = sorted(n for n in dir(obj) if not n.startswith("_"))
            raise ValueError(
                f"show_code: {'.'.join(parts[:depth])} has no {name!r}; it has: "
                f"{', '.join(public[:40])}{' ...' if len(public) > 40 else ''}."
            )
        obj = getattr(obj, name)
    return obj


def code_of(target, *, docstring: bool = False) -> str:
    """The source of a function, method or class, as the package defines it.

    Args:
        target: the object, or its dotted name (``"aigc_keras.models.gan.DCGAN.train_step"``).
        docstring: keep the docstring (``False`` drops it: the notebook's text explains instead).

    Returns:
        The source, dedented, headed by a comment naming the file and lines it comes from.

    Raises:
        ValueError: if a dotted name does not resolve (the message lists what does exist there),
            or the object has no Python source (a built-in, a C extension).
    """
    import ast
    import inspect
    import textwrap

    obj = _resolve(target) if isinstance(target, str) else target
    obj = inspect.unwrap(getattr(obj, "python_function", obj))  # a tf.function's Python code
    try:
        lines, first = inspect.getsourcelines(obj)
        path = pathlib.Path(inspect.getsourcefile(obj))
    except (TypeError, OSError) as error:
        raise ValueError(f"show_code: {target!r} has no Python source to show ({error}).") from None
    source = textwrap.dedent("".join(lines))
    if not docstring:
        node = ast.parse(source).body[0]
        body = getattr(node, "body", [])
        if (
            body
            and isinstance(body[0], ast.Expr)
            and isinstance(body[0].value, ast.Constant)
            and isinstance(body[0].value.value, str)
        ):
            kept = source.splitlines(keepends=True)
            source = "".join(kept[: body[0].lineno - 1] + kept[body[0].end_lineno :])
    package = pathlib.Path(__file__).resolve().parent  # aigc_keras/
    try:
        shown = path.resolve().relative_to(package.parent).as_posix()
    except ValueError:  # code from outside the package
        shown = path.name
    header = f"# {shown}, lines {first}-{first + len(lines) - 1}\n"
    return header + source


def show_code(target, *, docstring: bool = False) -> None:
    """Show the package's code for ``target`` in the notebook (syntax-highlighted), so the lesson's
    code is on the page and is the code that runs.  Outside a notebook it prints it.

    Args:
        target: the object, or its dotted name (``"aigc_keras.models.gan.DCGAN.train_step"``).
        docstring: keep the docstring.

    Returns ``None`` (a notebook cell ending in it shows the code once); :func:`code_of` returns the
    text.
    """
    source = code_of(target, docstring=docstring)
    if in_notebook():
        from IPython.display import Code, display

        display(Code(source, language="python"))
    else:
        print(source)
