"""Keras callbacks: fixed-latent sample grids, TensorBoard images, full-state checkpoints."""

from __future__ import annotations

import json
import pathlib
import re
import time

import keras
import numpy as np

from . import config, viz
from .validation import check_images, check_int, check_non_negative, check_positive, check_seed


def _fixed_samples(model, n: int, seed: int, labels=None):
    """The same ``n`` samples every call; class-conditional models cycle through their classes."""
    if labels is None and getattr(model, "num_classes", None):
        labels = np.arange(n) % model.num_classes
    return model.generate(None if labels is not None else n, labels=labels, seed=seed)


def _samples_caption(model) -> str:
    """The caption of a grid of a model's samples from one fixed seed: a model that draws a
    latent vector per sample shows the same latents at every update."""
    fixed = "latents" if getattr(model, "latent_dim", None) else "seed"
    return f"samples (fixed {fixed})"


class SampleGrid(keras.callbacks.Callback):
    """Every ``every`` epochs, draw the same ``n`` samples (fixed seed) and save a grid PNG.

    The grids are kept in ``self.grids`` (epoch -> uint8 array) so a notebook can show
    how samples evolved; ``show=True`` also displays each one inline.  Class-conditional
    models get ``labels`` (default: each class in turn).

    Args:
        directory: the folder the PNGs go to (created if missing), as
            ``<directory>/<prefix>_epoch<epoch>.png`` with the epoch counted from 1.
        every: draw a grid every this many epochs, a positive integer.
        n: how many samples each grid holds, a positive integer.
        seed: the fixed sampling seed, so every grid shows the same latents.
        labels: for a class-conditional model, one integer class label per sample (their
            number then sets the grid's size); ``None`` cycles through the classes, one
            class per column.
        show: also display each grid inline (in a notebook).
        prefix: the start of each file name.
    """

    def __init__(
        self,
        directory,
        *,
        every: int = 1,
        n: int = 36,
        seed: int = 1234,
        labels=None,
        show: bool = False,
        prefix: str = "samples",
    ):
        super().__init__()
        self.directory = pathlib.Path(directory)
        self.every = check_int(every, "every")
        self.n = check_int(n, "n")
        self.seed = check_seed(seed)
        self.labels = labels  # checked against the model in on_train_begin
        if not isinstance(show, bool):
            raise ValueError(f"show must be True or False, got {show!r}.")
        self.show = show
        if not isinstance(prefix, str) or not prefix or "/" in prefix or "\\" in prefix:
            raise ValueError(f"prefix must be a file-name start without slashes, got {prefix!r}.")
        self.prefix = prefix
        self.grids: dict[int, np.ndarray] = {}
        self.paths: list[pathlib.Path] = []
        self._started = False

    def saved(self) -> dict[int, pathlib.Path]:
        """The grids already in ``directory`` from this prefix: epoch -> path."""
        found = {}
        if self.directory.is_dir():
            pattern = re.compile(rf"^{re.escape(self.prefix)}_epoch(\d+)\.png$")
            for path in self.directory.iterdir():
                match = pattern.match(path.name)
                if match:
                    found[int(match.group(1))] = path
        return dict(sorted(found.items()))

    def on_train_begin(self, logs=None):
        self._started = False
        if self.labels is not None and hasattr(self.model, "_check_labels"):
            self.model._check_labels(None, self.labels)  # before the first step, not after an epoch

    def on_epoch_begin(self, epoch, logs=None):
        """A run resumed at ``epoch`` keeps the grids saved up to it (read back from their PNGs),
        so a notebook re-run after a disconnect still shows the whole evolution."""
        if self._started:
            return
        self._started = True
        self._reload(up_to=epoch)

    def on_train_end(self, logs=None):
        if not self._started:  # nothing left to train: show what the finished run saved
            self._reload(up_to=None)

    def _reload(self, up_to):
        from PIL import Image

        self.grids, self.paths = {}, []
        for done, path in self.saved().items():
            if up_to is not None and done > up_to:
                continue
            self.grids[done] = np.asarray(Image.open(path))
            self.paths.append(path)

    def caption(self, model=None) -> str:
        """What :meth:`draw` shows, in words (:class:`LiveTraining` puts it above the picture)."""
        return _samples_caption(self.model if model is None else model)

    def draw(self, model=None) -> np.ndarray:
        """This callback's picture (uint8) for ``model`` (``None``: the model being trained);
        a :class:`LiveTraining` can show it with ``grid=grids.draw``."""
        model = self.model if model is None else model
        images = _fixed_samples(model, self.n, self.seed, self.labels)
        ncols = (
            model.num_classes
            if self.labels is None and getattr(model, "num_classes", None)
            else None
        )
        return viz.image_grid(images, ncols=ncols, value_range=model.value_range)

    def on_epoch_end(self, epoch, logs=None):
        done = epoch + 1
        if done % self.every:
            return
        grid = self.draw()
        self.grids[done] = grid
        self.paths.append(
            viz.save_image(grid, self.directory / f"{self.prefix}_epoch{done:04d}.png")
        )
        if self.show:
            viz.show_array(grid, title=f"epoch {done}")


class TranslationGrid(SampleGrid):
    """:class:`SampleGrid` for translation models, one column per held-out image pair.

    The rows are ``a``, ``G(a)``, ``F(G(a))``, ``b``, ``F(b)``, ``G(F(b))``: each domain's
    images, their translations and the translations back.

    Args:
        directory: the folder the PNGs go to (created if missing).
        images_a: the same few held-out images of domain A every time, ``N x H x W x C`` in
            the model's value range.
        images_b: as many images of domain B, the same shape.
        **kwargs: passed to :class:`SampleGrid` (``every``, ``seed``, ``show``; ``prefix``
            defaults to ``"translations"``).

    Raises:
        ValueError: if ``images_a`` and ``images_b`` differ in shape.
    """

    def __init__(self, directory, images_a, images_b, **kwargs):
        super().__init__(
            directory, n=len(images_a), prefix=kwargs.pop("prefix", "translations"), **kwargs
        )
        self.images_a, self.images_b = np.asarray(images_a), np.asarray(images_b)
        if self.images_a.shape != self.images_b.shape:
            raise ValueError(
                f"images_a and images_b must have the same shape, got {self.images_a.shape} "
                f"and {self.images_b.shape}."
            )

    def caption(self, model=None) -> str:
        return "rows: a, G(a), F(G(a)), b, F(b), G(F(b))"

    def draw(self, model=None) -> np.ndarray:
        model = self.model if model is None else model
        fake_b = model.translate(self.images_a, "a2b")
        fake_a = model.translate(self.images_b, "b2a")
        rows = [
            self.images_a,
            fake_b,
            model.translate(fake_b, "b2a"),
            self.images_b,
            fake_a,
            model.translate(fake_a, "a2b"),
        ]
        return viz.image_grid(
            np.concatenate(rows), ncols=len(self.images_a), value_range=model.value_range
        )


class PairGrid(SampleGrid):
    """:class:`SampleGrid` for paired translation (pix2pix): one column per held-out pair, rows
    ``x``, ``G(x)`` and the target ``y`` (grey rows drawn in colour beside colour ones).

    Args:
        directory: the folder the PNGs go to (created if missing).
        inputs: the same few held-out inputs every time, ``N x H x W x C`` in [-1, 1].
        targets: their targets, as many.
        **kwargs: passed to :class:`SampleGrid` (``every``, ``show``; ``prefix`` defaults to
            ``"translations"``).

    Raises:
        ValueError: if ``inputs`` and ``targets`` differ in number.
    """

    def __init__(self, directory, inputs, targets, **kwargs):
        super().__init__(
            directory, n=len(inputs), prefix=kwargs.pop("prefix", "translations"), **kwargs
        )
        self.inputs, self.targets = np.asarray(inputs), np.asarray(targets)
        if len(self.inputs) != len(self.targets):
            raise ValueError(
                f"inputs and targets must be as many, got {len(self.inputs)} and "
                f"{len(self.targets)}."
            )

    def caption(self, model=None) -> str:
        return "rows: input x, output G(x), target y"

    def draw(self, model=None) -> np.ndarray:
        model = self.model if model is None else model
        rows = [self.inputs, model.translate(self.inputs), self.targets]
        colours = max(row.shape[-1] for row in rows)  # grey outlines beside colour targets
        rows = [np.repeat(row, colours // row.shape[-1], axis=-1) for row in rows]
        return viz.image_grid(
            np.concatenate(rows), ncols=len(self.inputs), value_range=model.value_range
        )


class TensorBoardImages(keras.callbacks.TensorBoard):
    """Keras' TensorBoard callback that also logs a fixed-latent sample grid every epoch.

    The grid goes to ``<log_dir>/samples`` under the tag ``samples``, at step ``epoch + 1``.

    Args:
        log_dir: TensorBoard's log folder (a string or path).
        n: how many samples each grid holds, a positive integer.
        seed: the fixed sampling seed, so every grid shows the same latents.
        **kwargs: passed to ``keras.callbacks.TensorBoard``.
    """

    def __init__(self, log_dir, *, n: int = 16, seed: int = 1234, **kwargs):
        super().__init__(log_dir=str(log_dir), **kwargs)
        self.sample_n = check_int(n, "n")
        self.sample_seed = seed

    def on_epoch_end(self, epoch, logs=None):
        super().on_epoch_end(epoch, logs)
        import tensorflow as tf

        images = _fixed_samples(self.model, self.sample_n, self.sample_seed)
        grid = viz.image_grid(images, value_range=self.model.value_range)
        grid = grid[None, ..., None] if grid.ndim == 2 else grid[None]
        writer = tf.summary.create_file_writer(str(pathlib.Path(self.log_dir) / "samples"))
        with writer.as_default():
            tf.summary.image("samples", grid, step=epoch + 1)
        writer.close()


class Checkpoint(keras.callbacks.Callback):
    """Full-state checkpoints of a package model.

    Works with any :class:`~aigc_keras.models.base.Checkpointable`: each checkpoint holds
    the model's state variables, its optimizers' state, the epoch and, for one written in the
    middle of an epoch, the batches of that epoch already done.

    The data order of a resumed run is kept by the models' ``fit`` itself
    (:class:`~aigc_keras.order.DataOrderCallback`), not by this callback.

    Writes ``<directory>/ckpt-<epoch>.npz`` every ``every`` epochs and, with ``every_steps``,
    ``ckpt-<epoch>-<batch>.npz`` every ``every_steps`` batches in between (both atomically),
    and keeps the newest ``keep``.  To resume after a disconnect::

        ckpt = Checkpoint(folder)
        start = ckpt.restore(model)            # 0 when there is nothing to resume
        model.fit(data, epochs=EPOCHS, initial_epoch=start, callbacks=[ckpt])

    From a checkpoint written in the middle of epoch ``start``, the models' ``fit`` trains only
    that epoch's remaining batches, with the data continuing where they stopped.  Checkpoints in
    the middle of an epoch need a repeating pipeline of the package (``data.load(...,
    repeat=True)``, trained with ``steps_per_epoch``): it is a stream of passes whose position
    the run can set, so a resumed run reads the batches a run that never stopped read.

    Args:
        directory: the checkpoint folder (created on the first save).
        every: save every this many epochs, a positive integer.
        keep: how many of the newest checkpoints to keep, a positive integer.
        every_steps: also save every this many batches (counted from the run's start, so the
            same batches whether or not it was resumed); ``None``: only at epochs' ends.
        restore_from: the folder :meth:`restore` reads (default: ``directory``; a worker other
            than the chief of a multi-worker run writes into a temporary folder and resumes
            from the chief's).
    """

    pattern = re.compile(r"^ckpt-(\d+)(?:-(\d+))?\.npz$")

    def __init__(
        self,
        directory,
        *,
        every: int = 1,
        keep: int = 2,
        every_steps: int | None = None,
        restore_from=None,
    ):
        super().__init__()
        self.directory = pathlib.Path(directory)
        self.restore_from = pathlib.Path(restore_from or directory)
        self.every = check_int(every, "every")
        self.keep = check_int(keep, "keep")
        self.every_steps = None if every_steps is None else check_int(every_steps, "every_steps")
        self.last_saved: int | None = None
        # (epoch, batches done in it) of the checkpoint restore() loaded; fit reads it
        self.resume_point: tuple[int, int] | None = None
        self.steps_per_epoch: int | None = None  # the run's (the package models' fit sets it)
        self.offset = 0  # batches of the current epoch done before this fit call started
        self._epoch = 0

    def checkpoints(self, directory=None) -> list[tuple[tuple[int, int], pathlib.Path]]:
        """The checkpoints in ``directory`` (default: this callback's), oldest first.

        Returns:
            ``((epoch, batch), path)`` pairs sorted by position: ``epoch`` epochs done and
            ``batch`` batches of the next one (0 for a checkpoint at an epoch's end); empty when
            there are none.
        """
        directory = pathlib.Path(directory or self.directory)
        if not directory.is_dir():
            return []
        found = []
        for path in directory.iterdir():
            match = self.pattern.match(path.name)
            if match:
                found.append(((int(match.group(1)), int(match.group(2) or 0)), path))
        return sorted(found)

    def latest(self) -> pathlib.Path | None:
        """The newest checkpoint's path, or ``None`` when there is none."""
        found = self.checkpoints()
        return found[-1][1] if found else None

    def restore(self, model) -> int:
        """Load the newest checkpoint of ``restore_from`` into ``model``; returns the epoch to
        start from.

        Args:
            model: the compiled package model to restore (the same class and configuration
                as the one saved).

        Returns:
            The epoch the checkpoint was saved in (pass it as ``initial_epoch``): the epochs
            done, or 0 when there is nothing to resume.  A checkpoint written in the middle of
            an epoch also sets :attr:`resume_point`, from which the models' ``fit`` continues
            that epoch instead of repeating it.
        """
        found = self.checkpoints(self.restore_from)
        if not found:
            print(f"aigc_keras: no checkpoint in {self.restore_from}: training from the start.")
            return 0
        path = found[-1][1]
        meta = model.load_checkpoint(path)
        epoch, batch = int(meta["epoch"] or 0), int(meta["extra"].get("batch", 0))
        self.resume_point = (epoch, batch)
        where = f"epoch {epoch}" + (f" and {batch} batches of the next" if batch else "")
        print(f"aigc_keras: resumed from {path} ({where}, step {meta['steps']}).")
        return epoch

    def save(self, epoch: int, batch: int = 0) -> pathlib.Path:
        """Save the model's full state, then prune old checkpoints.

        Args:
            epoch: the number of epochs done, counted from 1; stored in the checkpoint.
            batch: batches of the next epoch done (0: at an epoch's end, ``ckpt-<epoch>.npz``;
                else ``ckpt-<epoch>-<batch>.npz``).

        Returns:
            The path written.
        """
        name = f"ckpt-{epoch:05d}" + (f"-{batch:07d}" if batch else "") + ".npz"
        path = self.model.save_checkpoint(
            self.directory / name, epoch=epoch, extra={"batch": batch} if batch else None
        )
        self.last_saved = epoch
        for _, old in self.checkpoints()[: -self.keep]:
            old.unlink(missing_ok=True)
        return path

    def place(self, steps_per_epoch: int | None, offset: int) -> None:
        """Set the run's steps per epoch and the batches of its first epoch already done (the
        package models' ``fit`` calls it, also when it splits a resumed epoch)."""
        self.steps_per_epoch, self.offset = steps_per_epoch, offset

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        if not self.every_steps:
            return
        steps = self.steps_per_epoch or self.params["steps"]
        done = self.offset + batch + 1  # batches of this epoch done
        if done < steps and (self._epoch * steps + done) % self.every_steps == 0:
            self.save(self._epoch, done)

    def on_epoch_end(self, epoch, logs=None):
        self.offset = 0  # only the first epoch of a resumed run starts part-way
        steps = self.steps_per_epoch or self.params.get("steps")
        at_step = bool(self.every_steps and steps and ((epoch + 1) * steps) % self.every_steps == 0)
        if (epoch + 1) % self.every == 0 or at_step:
            self.save(epoch + 1)


class QualityTracker(keras.callbacks.Callback):
    """Every ``every`` epochs, add Fréchet and kernel distances to the epoch's logs.

    The values land in the History (``history.history["fid"]``) and, because the logs
    dict is filled before Keras prints it, in the progress line.  ``elapsed`` (seconds
    since training began) is logged too, so quality can be plotted against time.

    Args:
        extractor: the judge that makes the features, e.g. a
            :class:`~aigc_keras.judges.ClassifierExtractor`.
        real_images: real images ``N x H x W x C`` in [-1, 1]; the first ``n`` are used.
        every: measure every this many epochs, a positive integer.
        n: how many generated and real images are compared (capped at the number of real
            images), a positive integer.
        seed: the fixed sampling seed of the generated images.
        real_key: cache key of the real features (see
            :func:`~aigc_keras.judges.real_features`); ``None`` disables the cache.
    """

    def __init__(
        self,
        extractor,
        real_images,
        *,
        every: int = 1,
        n: int = 500,
        seed: int = 4321,
        real_key: str | None = None,
    ):
        super().__init__()
        from . import judges, metrics

        if not callable(getattr(extractor, "features", None)):
            raise ValueError(
                "extractor must have a features(images) method, e.g. a "
                f"judges.ClassifierExtractor; got {type(extractor).__name__}."
            )
        real_images = check_images(real_images, (None, None, None), "real_images", empty=False)
        self.metrics = metrics
        self.extractor = extractor
        self.every = check_int(every, "every")
        self.n = min(check_int(n, "n"), len(real_images))
        self.seed = check_seed(seed)
        self.real = judges.real_features(
            extractor,
            real_images[: self.n],
            key=None if real_key is None else f"{real_key}-n{self.n}",
        )
        self.records: list[dict] = []

    def on_train_begin(self, logs=None):
        self._start = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        if (epoch + 1) % self.every or logs is None:
            return
        images = _fixed_samples(self.model, self.n, self.seed)
        fake = self.extractor.features(np.clip(images, -1.0, 1.0))
        logs["fid"] = self.metrics.frechet_distance(self.real, fake)
        logs["kid"] = self.metrics.kernel_distance(
            self.real, fake, subsets=20, subset_size=min(self.n, 500)
        )[0]
        logs["elapsed"] = time.perf_counter() - self._start
        self.records.append(
            {"epoch": epoch + 1, "fid": logs["fid"], "kid": logs["kid"], "elapsed": logs["elapsed"]}
        )


def _duration(seconds: float) -> str:
    seconds = max(0.0, float(seconds))
    if seconds < 60:
        return f"{seconds:.0f} s"
    if seconds < 3600:
        return f"{seconds // 60:.0f} min {seconds % 60:02.0f} s"
    return f"{seconds // 3600:.0f} h {seconds % 3600 // 60:02.0f} min"


def _scalars(logs) -> dict:
    out = {}
    for key, value in (logs or {}).items():
        try:
            out[key] = float(value)
        except (TypeError, ValueError):
            continue
    return out


# the live picture's header (the progress line) in points: at the picture's 80 dpi, 9 points drew
# letters about 7 pixels high; the line wraps at " · " to stay inside the figure
LIVE_HEADER_POINTS = 11


def _wrap_header(line: str, width_in: float, points: float = LIVE_HEADER_POINTS) -> str:
    """``line`` broken at its " · " separators into rows that fit 90% of ``width_in`` inches at
    ``points`` (a character taken as 0.6 of the size wide, a little more than a progress line's
    mean).  A single part longer than a row stays whole."""
    limit = max(20, int(0.9 * width_in * 72 / (0.6 * points)))
    rows, row = [], None
    for part in line.split(" · "):
        if row is None:
            row = part
        elif len(row) + 3 + len(part) > limit:
            rows.append(row)
            row = part
        else:
            row = f"{row} · {part}"
    return "\n".join([*rows, row])


# what an epoch record keeps besides the model's values: shown in no progress line and no curve
_BOOKKEEPING = ("elapsed", "train_seconds", "budget_steps", "budget_seconds")


class LiveTraining(keras.callbacks.Callback):
    """Training a learner can watch: a progress line, the latest samples and the loss curves, in
    one display that is updated in place at least every ``every_s`` seconds and at each epoch's
    end.

    In a notebook the display is one picture (the progress line as its title, a sample grid from
    a fixed seed beside the curves), replaced at each update, so the saved notebook keeps only
    the last one, and the progress line of each epoch's end and of the end is printed below it, a
    text record of the run. Elsewhere (a terminal, a test) each update prints the line. Pass
    ``verbose=0`` to ``fit`` beside it: Keras' own progress bar would print a line per update.

    The curves: every batch-level value whose name contains ``loss``, averaged over the batches
    between two updates, against the step, and in a second panel the values only logged at the end
    of an epoch (such as ``fid`` and ``kid`` from :class:`QualityTracker`, or ``val_`` values).
    ``records`` and ``epoch_records`` keep them for plotting after training.

    With ``folder``, the curves are also written to ``<folder>/live.json`` at each epoch's end
    (atomically), and a run that resumes from a checkpoint continues them: ``fit`` started at
    ``initial_epoch`` e keeps the saved points up to epoch e, and a ``fit`` with nothing left to
    train shows the finished run's curves. ``status`` says which happened: ``"trained"`` (from
    the start), ``"resumed at epoch e"`` or ``"already trained"``.  Each epoch record keeps the
    seconds of training up to its end (``train_seconds``: the ``fit`` calls' time, a resumed run's
    added to the saved epochs'), so :attr:`train_seconds` is the training's time whichever
    happened.

    With ``stop_after_s``, training gets that many seconds: the clock starts when the first batch
    of the ``fit`` call has finished (its tracing and compilation are not counted), stands still
    while this display updates (drawing a diffusion model's samples takes far longer than a
    GAN's, and would otherwise cost it training time) and training stops after the first batch
    that ends past the budget (the epoch ends there, so an epoch-end checkpoint keeps what was
    trained).  ``fit``'s ``steps_per_epoch`` is then only a cap, and the
    progress line counts the time left instead.  ``budget_steps`` and ``budget_seconds`` say how
    many batches ran and how long the timed ones took (also in ``epoch_records``, so a re-run
    that finds the training done still knows them).  Two models given the same budget on one
    machine are compared at equal training seconds.

    Args:
        every_s: the longest wait between two updates, in seconds, >= 0 (0 updates after every
            batch).
        grid: ``"auto"`` draws ``n`` samples of the model's ``generate`` from a fixed seed (none
            for a model without it), ``None`` draws no samples, or a callable taking the model and
            returning a picture (a uint8 array such as :func:`aigc_keras.viz.image_grid`'s).
        n: the samples in the automatic grid; a class-conditional model cycles through its
            classes, one per column.
        seed: the automatic grid's sampling seed: every update shows the same latents.
        title: a name shown at the start of the progress line, or ``None``.
        grid_title: the caption above the picture, or ``None``: for ``"auto"``, ``"samples
            (fixed latents)"`` (``"(fixed seed)"`` for a model without ``latent_dim``, such as
            PixelCNN or diffusion); for a grid callback's ``draw`` (``SampleGrid``,
            ``TranslationGrid``, ``PairGrid``), its ``caption``; for another callable, none
            (say what it shows, such as ``"held-out inputs, outputs, targets"``).
        show: ``None`` detects a notebook; ``True`` forces the in-place display, ``False`` the
            printed lines.
        folder: where the curves are kept between runs (created on the first save), or ``None``
            to keep them in memory only.
        clock: the function that tells the time in seconds (tests pass their own).
        stop_after_s: the training budget in seconds (a positive number), or ``None``: train
            the ``fit`` call's steps.
    """

    def __init__(
        self,
        *,
        every_s: float = 10.0,
        grid="auto",
        n: int = 36,
        seed: int = 1234,
        title: str | None = None,
        grid_title: str | None = None,
        show: bool | None = None,
        folder=None,
        clock=time.perf_counter,
        stop_after_s: float | None = None,
    ):
        super().__init__()
        every_s = check_non_negative(every_s, "every_s (seconds)")  # finite; NumPy numbers too
        self.stop_after_s = (
            None if stop_after_s is None else check_positive(stop_after_s, "stop_after_s (seconds)")
        )
        self.budget_steps, self.budget_seconds = 0, 0.0
        if not (grid is None or callable(grid) or (isinstance(grid, str) and grid == "auto")):
            raise ValueError(
                f"grid should be 'auto', None or a callable returning a picture, got {grid!r}."
            )
        self.every_s, self.grid, self.n, self.seed = float(every_s), grid, check_int(n, "n"), seed
        if not (show is None or isinstance(show, (bool, np.bool_))):
            raise ValueError(f"show must be True, False or None (auto), got {show!r}.")
        self.title, self.show, self.clock = title, show, clock
        self.grid_title = None if grid_title is None else str(grid_title)
        self.folder = None if folder is None else pathlib.Path(folder)
        self.records: list[dict] = []
        self.epoch_records: list[dict] = []
        self.lines: list[str] = []
        self.picture = None
        self.status: str | None = None

    @property
    def train_seconds(self) -> float:
        """Seconds of training up to the last epoch's end, from the start of the first ``fit``
        (the progress line's "done in" time): the whole training's, also when it was resumed (the
        saved epochs' seconds count) or found already trained; 0 before an epoch has ended."""
        if not self.epoch_records:
            return 0.0
        return float(self.epoch_records[-1].get("train_seconds", 0.0))

    @property
    def path(self) -> pathlib.Path | None:
        """The file the curves are kept in between runs (``None`` without ``folder``)."""
        return None if self.folder is None else self.folder / "live.json"

    def _load(self):
        if self.path is None or not self.path.exists():
            return [], []
        saved = json.loads(self.path.read_text())
        return saved["records"], saved["epoch_records"]

    def _save(self):
        if self.path is None:
            return
        self.folder.mkdir(parents=True, exist_ok=True)
        curves = {"records": self.records, "epoch_records": self.epoch_records}
        config.write_text_atomically(self.path, json.dumps(curves))

    # --- Keras hooks ---
    def on_train_begin(self, logs=None):
        self._start = self._last = self.clock()
        self._step, self._run_steps, self._epoch, self._first_epoch, self._batch = 0, 0, 0, None, 0
        self._latest = {}
        self._notebook = viz.in_notebook() if self.show is None else bool(self.show)
        self._handle = None
        self.records, self.epoch_records, self.lines = [], [], []
        self.status = None
        self._budget_start = None
        self.budget_steps, self.budget_seconds = 0, 0.0
        self._seconds_before = 0.0  # training seconds of the saved epochs a resumed run continues

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch, self._batch = epoch, 0
        self._mark = (0, {})  # (batches into the epoch, their running means) at the last record
        self._window_start, self._window = (0, {}), 0  # the last record's first mark and batches
        if self._first_epoch is None:
            self._first_epoch = epoch
            self._continue(epoch)

    def _continue(self, epoch: int):
        """At the first epoch of this ``fit``: a run resumed at ``epoch`` > 0 keeps the saved
        points up to it and counts its steps on from there."""
        self.status = "trained"
        if not epoch:
            return
        records, epoch_records = self._load()
        ends = [r for r in epoch_records if r["epoch"] == epoch]
        if ends:
            self._step = ends[0]["step"]
            self._seconds_before = ends[0].get("train_seconds", 0.0)
            self.records = [r for r in records if r["step"] <= self._step]
            self.epoch_records = [r for r in epoch_records if r["epoch"] <= epoch]
        else:  # no curves saved up to there: count on from the epoch, without the old points
            self._step = epoch * (self.params.get("steps") or 0)
        self.status = f"resumed at epoch {epoch}"

    def on_train_batch_end(self, batch, logs=None):
        self._step += 1
        self._run_steps += 1
        self._batch = batch + 1
        self._latest = _scalars(logs)
        if self.stop_after_s is not None:
            self._spend()
        if self._batch == self.params.get("steps") or self.model.stop_training:
            return  # the epoch's end, just after, updates
        if self.clock() - self._last >= self.every_s:
            self._record(self._latest)
            self._show(self._latest)

    def _spend(self):
        """One more batch of a budgeted run: the clock starts after the first; past the budget,
        training stops."""
        now = self.clock()
        self.budget_steps += 1
        if self._budget_start is None:
            self._budget_start = now
            return
        self.budget_seconds = now - self._budget_start
        if self.budget_seconds >= self.stop_after_s:
            self.model.stop_training = True

    def on_epoch_end(self, epoch, logs=None):
        values = _scalars(logs)
        if self.stop_after_s is not None:
            values.update(budget_steps=self.budget_steps, budget_seconds=self.budget_seconds)
        seconds = {"train_seconds": self._seconds_before + self.clock() - self._start}
        self.epoch_records.append({"epoch": epoch + 1, "step": self._step, **values, **seconds})
        self._record(self._latest, epoch_end=True)  # batch values, not those only an end logs
        self._save()
        self._show(values, epoch_end=True)

    def _show(self, values: dict, epoch_end: bool = False):
        """An update during training; a budget's clock stands still while it draws."""
        started = self.clock()
        self._update(values, epoch_end=epoch_end)
        if self._budget_start is not None:  # the display's own seconds are not training's
            self._budget_start += self.clock() - started

    def on_train_end(self, logs=None):
        if self._run_steps:
            self._update(self._closing_values(), done=True)
            return
        # nothing was left to train (fit started at its last epoch): show the finished run
        self.records, self.epoch_records = self._load()
        self.status = "already trained"
        if self.epoch_records:
            self._epoch = self.epoch_records[-1]["epoch"] - 1
            self._step = self.epoch_records[-1]["step"]
            self.budget_steps = self.epoch_records[-1].get("budget_steps", 0)
            self.budget_seconds = self.epoch_records[-1].get("budget_seconds", 0.0)
        self._update(self._closing_values(), done=True)

    def _closing_values(self) -> dict:
        """What the closing line shows: the last epoch's means, the values its own line and Keras'
        ``History`` hold (the curve's last point, a mean over the last few seconds' batches, would
        print other values for the same step); the last curve point if no epoch has ended."""
        if self.epoch_records:
            return {k: v for k, v in self.epoch_records[-1].items() if k != "epoch"}
        return self.records[-1] if self.records else {}

    def _record(self, running: dict, epoch_end: bool = False):
        """One point per curve: the mean over the batches since the last point.  Keras' batch logs
        are means over the epoch so far (m_k after k batches), so batches j+1..k averaged
        (k m_k - j m_j) / (k - j); plotting the running means instead would jump at every epoch's
        start, where they restart.

        At an epoch's end, batches fewer than half the last point's (a timed update fell just
        before the end) do not make a point of their own, whose mean over a few batches would
        zigzag: the last point is replaced by one over both stretches."""
        done, before = self._mark
        batches = self._batch - done
        if batches <= 0:
            return
        if epoch_end and done and batches < self._window / 2:  # done > 0: a point of this epoch
            self.records.pop()
            done, before = self._window_start
            batches = self._batch - done
        point = {"step": self._step}
        for key, mean in running.items():
            point[key] = (self._batch * mean - done * before.get(key, 0.0)) / batches
        self.records.append(point)
        self._window_start, self._window = (done, before), batches
        self._mark = (self._batch, running)

    # --- what is shown ---
    def progress_line(self, values: dict, done: bool = False) -> str:
        """The line shown at each update: where training is, how long it took and will take, the
        latest values."""
        elapsed = self.clock() - self._start
        epochs, steps = self.params.get("epochs"), self.params.get("steps")
        parts = [self.title] if self.title else []
        parts.append(f"epoch {self._epoch + 1}/{epochs}" if epochs else f"epoch {self._epoch + 1}")
        if self.status == "already trained":
            parts.append(f"already trained ({self._step} steps)")
        elif self.stop_after_s is not None:
            parts.append(f"step {self._batch}")
        elif steps:
            parts.append(f"step {self._batch}/{steps}")
        if self.status and self.status.startswith("resumed"):
            parts.append(self.status)
        if done and self.status != "already trained":
            parts.append(f"done in {_duration(elapsed)}")
        elif not done:
            parts.append(_duration(elapsed))
            first = self._first_epoch or 0
            if self.stop_after_s is not None:
                left = max(0.0, self.stop_after_s - self.budget_seconds)
                parts.append(f"about {_duration(left)} left")
            elif epochs and steps and self._run_steps:
                left = (epochs - first) * steps - self._run_steps
                parts.append(f"about {_duration(elapsed / self._run_steps * left)} left")
        shown = {k: v for k, v in values.items() if k not in ("step", *_BOOKKEEPING)}
        parts += [f"{key} {value:.4g}" for key, value in shown.items()]
        return " · ".join(parts)

    def draw_samples(self):
        """The current sample picture (uint8), or ``None`` when there is none to draw."""
        if self.grid is None:
            return None
        if callable(self.grid):
            return self.grid(self.model)
        if not hasattr(self.model, "generate"):
            return None
        try:
            images = _fixed_samples(self.model, self.n, self.seed)
        except NotImplementedError:  # a model that cannot sample on its own (e.g. a translator)
            self.grid = None
            return None
        ncols = getattr(self.model, "num_classes", None) or None
        return viz.image_grid(images, ncols=ncols, value_range=self.model.value_range)

    def caption(self) -> str:
        """The words above the picture: ``grid_title``, else what the grid draws (see Args)."""
        if self.grid_title is not None:
            return self.grid_title
        if isinstance(self.grid, str):  # "auto"
            return _samples_caption(self.model)
        owner = getattr(self.grid, "__self__", None)  # a grid callback's bound draw
        return owner.caption(self.model) if isinstance(owner, SampleGrid) else ""

    def panels(self) -> list[tuple[str, list[tuple[str, list, list]]]]:
        """What :meth:`figure` plots: ``(y label, [(key, steps, values), ...])`` per panel.

        The losses (the batch curves and their ``val_`` values at each epoch's end); the other
        batch values (accuracy, mean discriminator outputs, ...) with their ``val_`` values; then
        the values only an epoch's end logs (FID, KID, ...).
        """

        def series(key, records):
            points = [(r["step"], r[key]) for r in records if key in r]
            return (key, [p[0] for p in points], [p[1] for p in points])

        batch = list(dict.fromkeys(k for r in self.records for k in r if k != "step"))
        ends = [
            k
            for k in dict.fromkeys(k for r in self.epoch_records for k in r)
            if k not in batch and k not in ("epoch", "step", *_BOOKKEEPING)
        ]
        losses = [k for k in batch if "loss" in k]
        others = [k for k in batch if "loss" not in k]
        paired = {f"val_{k}" for k in batch}
        out = []
        for name, keys in (("loss", losses), ("value", others)):
            if keys:
                lines = [series(k, self.records) for k in keys]
                lines += [
                    series(f"val_{k}", self.epoch_records) for k in keys if f"val_{k}" in ends
                ]
                out.append((name, lines))
        rest = [k for k in ends if k not in paired]
        if rest:
            out.append(("value at the epoch's end", [series(k, self.epoch_records) for k in rest]))
        return out

    def figure(self, line: str | None = None, picture=None):
        """The display's picture as a matplotlib figure: the samples, then the curves of
        :meth:`panels` against the training step."""
        plt = viz._matplotlib()
        panels = self.panels()
        count = (picture is not None) + len(panels)
        fig, axes = plt.subplots(1, max(count, 1), figsize=(4.2 * max(count, 1), 4.0))
        axes = list(np.ravel(axes))
        if picture is not None:
            ax = axes.pop(0)
            cmap = "gray" if picture.ndim == 2 else None
            ax.imshow(picture, cmap=cmap, vmin=0, vmax=255, interpolation="nearest")
            ax.set_title(self.caption())
            ax.axis("off")
        for name, lines in panels:
            ax = axes.pop(0)
            for key, steps, values in lines:
                marker = "o" if key.startswith("val_") or len(steps) < 30 else None
                ax.plot(steps, values, marker=marker, markersize=3, label=key)
            magnitudes = [abs(v) for _, _, values in lines for v in values if v]
            if min(magnitudes, default=1) > 0 and all(v > 0 for _, _, vs in lines for v in vs):
                if max(magnitudes, default=1) > 30 * min(magnitudes, default=1):
                    ax.set_yscale("log")  # e.g. FID and KID in one panel
            ax.set_xlabel("training step")
            ax.set_ylabel(name)
            # above the panel, never over its curves (in a corner it hid the curves' ends)
            ax.legend(
                fontsize=8,
                loc="lower center",
                bbox_to_anchor=(0.5, 1.0),
                ncol=min(len(lines), 3),
                frameon=False,
            )
            ax.grid(alpha=0.3)
        for ax in axes:
            ax.axis("off")
        if line:
            fig.suptitle(_wrap_header(line, fig.get_figwidth()), fontsize=LIVE_HEADER_POINTS)
        fig.tight_layout()
        return fig

    def _update(self, values: dict, done: bool = False, epoch_end: bool = False):
        self._last = self.clock()
        line = self.progress_line(values, done)
        self.lines.append(line)
        if not self._notebook or done or epoch_end:
            # in a notebook, the epochs' ends and the end also stay as text under the picture
            print(line, flush=True)
        if not self._notebook:
            return
        import io

        from IPython import display

        plt = viz._matplotlib()
        self.picture = self.draw_samples()
        fig = self.figure(line, self.picture)
        buffer = io.BytesIO()
        fig.savefig(buffer, format="png", dpi=80)
        plt.close(fig)
        image = display.Image(data=buffer.getvalue(), format="png")
        if self._handle is None:
            self._handle = display.display(image, display_id=True)
        else:
            self._handle.update(image)
        self._last = self.clock()
