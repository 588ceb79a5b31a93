"""Checks of user-given values, one per kind of value, shared by every module.

Each check returns the value in its normal form or raises ``ValueError`` naming the argument,
what was given and what is accepted.  This module imports nothing from TensorFlow or Keras.
"""

from __future__ import annotations

import math

import numpy as np

_INTERVALS = {
    "[0, 1]": (True, True),
    "[0, 1)": (True, False),
    "(0, 1)": (False, False),
    "(0, 1]": (False, True),
}


def is_int(value) -> bool:
    """Whether ``value`` is a Python or NumPy integer (``bool`` excluded).

    Args:
        value: any object.

    Returns:
        ``True`` for an integer that is not a ``bool``.
    """
    return isinstance(value, (int, np.integer)) and not isinstance(value, bool)


def check_int(value, what: str, minimum: int = 1) -> int:
    """An integer argument at least ``minimum``.

    Args:
        value: the value given.
        what: the argument's name, for the message.
        minimum: the smallest value accepted.

    Returns:
        ``value`` as a Python ``int``.

    Raises:
        ValueError: naming ``what`` and what is accepted.
    """
    if not is_int(value) or value < minimum:
        accepted = {1: "a positive integer", 0: "a non-negative integer"}.get(
            minimum, f"an integer >= {minimum}"
        )
        raise ValueError(f"{what} must be {accepted}, got {value!r}.")
    return int(value)


SEED_LIMIT = 2**63  # seeds go into int64 tensors (stateless random ops)


def check_seed(value, what: str = "seed") -> int:
    """A random seed: an integer in ``0 .. 2**63 - 1``.

    Args:
        value: the seed given.
        what: the argument's name, for the message.

    Returns:
        ``value`` as a Python ``int``.
    """
    if not is_int(value) or not 0 <= value < SEED_LIMIT:
        raise ValueError(f"{what} must be a non-negative integer below 2**63, got {value!r}.")
    return int(value)


def cycled_labels(classes, num_classes: int, n: int) -> np.ndarray:
    """``n`` int32 labels cycling through ``classes`` (``None``: every class in turn), each an
    integer class id in ``0..num_classes - 1``; a ``ValueError`` for anything else (an empty list
    was a raw error, ``[1.7]`` drew class 1).

    Args:
        classes: the classes asked for, a sequence of integers, or ``None``.
        num_classes: the model's number of classes.
        n: the number of labels.
    """
    if classes is None:
        classes = range(num_classes)
    elif isinstance(classes, (str, bytes)) or not hasattr(classes, "__iter__"):
        raise ValueError(f"classes must be a list of class ids, got {classes!r}.")
    classes = list(classes)
    if not classes or not all(is_int(c) and 0 <= c < num_classes for c in classes):
        raise ValueError(
            f"classes must be a non-empty list of integers in 0..{num_classes - 1} (the model's "
            f"classes), got {classes}."
        )
    return np.resize(np.array(classes, np.int32), check_int(n, "n"))


def check_image_size(value, what: str = "image_size", minimum: int = 1) -> int:
    """An image height and width in pixels, at least ``minimum``.

    Args:
        value: the size given.
        what: the argument's name, for the message.
        minimum: the smallest size the model can take.

    Returns:
        The size as an ``int``.
    """
    return check_int(value, what, minimum=minimum)


def check_fraction(value, what: str, interval: str = "[0, 1)") -> float:
    """A probability, weight or fraction inside ``interval``.

    Args:
        value: the number given.
        what: the argument's name, for the message.
        interval: one of ``"[0, 1]"``, ``"[0, 1)"``, ``"(0, 1)"``, ``"(0, 1]"``.

    Returns:
        The value as a ``float``.
    """
    if interval not in _INTERVALS:
        raise ValueError(f"interval must be one of {', '.join(_INTERVALS)}, got {interval!r}.")
    low_closed, high_closed = _INTERVALS[interval]
    number = _as_float(value)
    inside = number is not None and (number >= 0.0 if low_closed else number > 0.0)
    inside = inside and (number <= 1.0 if high_closed else number < 1.0)
    if not inside:
        raise ValueError(f"{what} must be in {interval}, got {value!r}.")
    return number


def check_non_negative(value, what: str) -> float:
    """A finite number at least 0 (a loss weight, a penalty), as a ``float``.

    Args:
        value: the number given (a Python or NumPy number, not a ``bool``).
        what: the argument's name, for the message.
    """
    return _at_least_zero(value, what, zero_allowed=True)


def check_positive(value, what: str) -> float:
    """A finite number above 0 (a learning rate, a scale), as a ``float``.

    Args:
        value: the number given (a Python or NumPy number, not a ``bool``).
        what: the argument's name, for the message.
    """
    return _at_least_zero(value, what, zero_allowed=False)


def _at_least_zero(value, what: str, zero_allowed: bool) -> float:
    number = _as_float(value)
    if number is None or number < 0.0 or (number == 0.0 and not zero_allowed):
        accepted = "a finite number >= 0" if zero_allowed else "a finite number > 0"
        raise ValueError(f"{what} must be {accepted}, got {value!r}.")
    return number


def _as_float(value):
    """``value`` as a finite float, or ``None`` when it is not a finite real number."""
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        return None
    number = float(value)
    return number if math.isfinite(number) else None


def check_images(
    images,
    shape: tuple,
    what: str = "images",
    hint: str = "",
    value_range=(-1, 1),
    *,
    empty: bool = True,
) -> np.ndarray:
    """``images`` as a float32 ``(N, *shape)`` array of finite values in ``value_range`` (a
    rounding tolerance of 1e-3), or a ``ValueError`` that says which of the three it is not.

    Args:
        images: the array to check.
        shape: one image's expected ``(H, W, C)``; ``None`` for a side or channel count that
            may be anything.
        what: the argument's name in the messages.
        hint: a sentence appended to the range message (how to rescale, say).
        value_range: ``(-1, 1)`` or ``(0, 1)``.
        empty: whether ``N = 0`` is accepted.
    """
    low, high = value_range
    images = np.asarray(images, dtype=np.float32)
    if images.ndim != 4 or any(
        want is not None and want != got for want, got in zip(shape, images.shape[1:], strict=True)
    ):
        names = [
            str(want) if want is not None else axis for want, axis in zip(shape, "HWC", strict=True)
        ]
        raise ValueError(f"{what} must have shape (N, {', '.join(names)}), got {images.shape}.")
    if not empty and len(images) == 0:
        raise ValueError(f"{what} must hold at least one image, got the shape {images.shape}.")
    if not np.all(np.isfinite(images)):
        where = f"; they must be in [{low}, {high}]" if np.isfinite([low, high]).all() else ""
        raise ValueError(f"{what} contain NaN or infinite values{where}.")
    if images.size and (images.min() < low - 1e-3 or images.max() > high + 1e-3):
        raise ValueError(
            f"{what} must be in [{low}, {high}], got values in "
            f"[{images.min():.3g}, {images.max():.3g}].{' ' + hint if hint else ''}"
        )
    return images


def check_value_range(value_range):
    """Normalise a value range: ``(-1, 1)``, ``(0, 1)`` or an integer number of levels.

    Args:
        value_range: a pair of bounds, or an integer K >= 2 for K quantised grey levels.

    Returns:
        ``(-1, 1)`` or ``(0, 1)`` as a tuple of ints, or the number of levels as an ``int``.
    """
    if is_int(value_range):
        if value_range < 2:
            raise ValueError(f"quantised value_range needs at least 2 levels, got {value_range}.")
        return int(value_range)
    if isinstance(value_range, (tuple, list)) and len(value_range) == 2:
        try:
            pair = (float(value_range[0]), float(value_range[1]))
        except (TypeError, ValueError):
            pair = None
        if pair in ((-1.0, 1.0), (0.0, 1.0)):
            return (int(pair[0]), int(pair[1]))
    raise ValueError(
        f"value_range {value_range!r} is not supported; use (-1, 1), (0, 1) "
        "or an integer K >= 2 for K quantised levels."
    )


def to_unit(images, value_range):
    """Map images back to [0, 1] floats (the inverse of ``data.scale``; levels map to bin centres).

    Args:
        images: an array in ``value_range``.
        value_range: as accepted by :func:`check_value_range`.

    Returns:
        A float32 array in [0, 1].
    """
    value_range = check_value_range(value_range)
    images = np.asarray(images, dtype=np.float32)
    if isinstance(value_range, int):
        return (images + 0.5) / value_range
    low, high = value_range
    return (images - low) / (high - low)


# --- values given as text (command-line flags) ----------------------------------------------


def int_from_text(text: str, minimum: int = 1) -> int:
    """An integer flag's value, at least ``minimum``.

    Args:
        text: the text given.
        minimum: the smallest value accepted.

    Returns:
        The integer.

    Raises:
        ValueError: ``"expected a positive integer, got ..."`` (or non-negative, or ``>= minimum``).
    """
    accepted = {1: "a positive integer", 0: "a non-negative integer"}.get(
        minimum, f"an integer >= {minimum}"
    )
    try:
        value = int(text)
    except (TypeError, ValueError):
        raise ValueError(f"expected {accepted}, got {text!r}") from None
    if value < minimum:
        raise ValueError(f"expected {accepted}, got {value}")
    return value


def fraction_from_text(text: str, interval: str = "[0, 1]") -> float:
    """A fraction flag's value inside ``interval`` (see :func:`check_fraction`).

    Args:
        text: the text given.
        interval: one of ``"[0, 1]"``, ``"[0, 1)"``, ``"(0, 1)"``, ``"(0, 1]"``.

    Returns:
        The number.
    """
    try:
        value = float(text)
    except (TypeError, ValueError):
        raise ValueError(f"expected a number in {interval}, got {text!r}") from None
    try:
        return check_fraction(value, "value", interval)
    except ValueError:
        raise ValueError(f"expected a number in {interval}, got {value}") from None
