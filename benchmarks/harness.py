"""What the benchmarks measure, one function per figure.

* :func:`throughput`: images (CycleGAN: image pairs) per second of ``fit()`` against the same
  model's ``train_step`` driven by a bare ``tf.function`` loop (no Keras trainer, no callbacks),
  interleaved, medians; the ratio is what the trainer and the package's callbacks cost.
* :func:`hand_written_dcgan`: a DCGAN step written with plain TensorFlow (tape, two Adams, no base
  class), the same networks: what the package's training core costs.
* :func:`pipeline`: ``fit()`` on ``aigc_keras.data.load`` against the same batches already in
  memory.
* :func:`time_to_quality`: training seconds until the conditional GAN / conditional VAE reach 90 %
  class agreement with the chapter-1 classifier, and the DCGAN's domain FID after 30, 60 and 120 s.
* :func:`sampling`: PixelCNN's compiled loop against per-pixel ``predict``; generators' images per
  second.
* :func:`peak_memory_mib`: the process's peak resident memory (each model runs in its own process).

Throughput and sampling exclude tracing (a few warm-up steps run first); time-to-quality includes
it, as a learner waits for it too.
"""

from __future__ import annotations

import os
import platform
import resource
import statistics
import time

import keras
import numpy as np
import tensorflow as tf

from aigc_keras import data, hardware, judges, metrics, registry, validation
from aigc_keras.models import cyclegan
from aigc_keras.models.pixelcnn import PixelCNN, sample_pixel_by_pixel
from aigc_keras.spec import TRANSLATORS

# name -> (image size, batch size, what one step consumes): the configurations `aigc-keras train`
# uses, and name -> the sizes the model supports (the full benchmark measures fit() at each,
# :func:`at_size`); both read from the model registry.
MODELS = {
    spec.name: (
        spec.image_size,
        spec.batch_size,
        "image pairs" if spec.task in TRANSLATORS else "images",
    )
    for spec in registry.specs()
}
SIZES = {spec.name: spec.sizes for spec in registry.specs()}
MODES = {  # name -> (jit_compile, precision)
    "graph/float32": (False, "float32"),
    "xla/float32": (True, "float32"),
    "graph/mixed_bfloat16": (False, "mixed_bfloat16"),
    "graph/mixed_float16": (False, "mixed_float16"),
}


def _digits(size, value_range, n, labels=False):
    arrays = data.load_arrays(
        "mnist", "train", image_size=size, value_range=value_range, source="offline"
    )
    return (arrays.images[:n], arrays.labels[:n]) if labels else arrays.images[:n]


def build(name: str, jit: bool, size: int | None = None, *, small: bool = False):
    """A compiled model and one batch for it (real offline images of the model's default dataset),
    as ``aigc-keras train`` makes them; ``size``: another of the model's :data:`SIZES` (default: its
    chapter size).  ``small``: the spec's test configuration (``spec.test_config``: a few filters,
    one block, its own image size) with a batch at that size: the same kinds of ops as the
    chapter's model, compiled in a fraction of the time (the XLA test)."""
    spec = registry.get(name)
    config = dict(spec.test_config) if small else {}
    size = size or config.get("image_size", spec.image_size)
    settings = registry.settings(spec, **{k: v for k, v in config.items() if spec.option(k)})
    if spec.task == "translator":
        pairs = data.load_unpaired(
            *cyclegan.DOMAINS,
            image_size=size,
            batch_size=spec.batch_size,
            source="offline",
            channels=config.get("channels", "match"),
        )
        element = tuple(t.numpy() for t in next(iter(pairs)))
        channels = element[0].shape[-1]
    elif spec.task == "paired translator":
        pairs = data.load_paired(
            spec.dataset, image_size=size, batch_size=spec.batch_size, source="offline"
        )
        element = tuple(t.numpy() for t in next(iter(pairs)))
        channels = element[0].shape[-1]
    else:
        labelled = spec.conditional or spec.task == "classifier"
        arrays = data.load_arrays(
            spec.dataset,
            "train",
            image_size=size,
            channels=config.get("channels", spec.channels),
            value_range=spec.data_value_range(settings),
            source="offline",
        )
        images = arrays.images[: spec.batch_size]
        element = (images, arrays.labels[: spec.batch_size]) if labelled else images
        channels = images.shape[-1]
    if small:
        model = spec.model_class(**config)
    else:
        model = registry.build(spec, image_size=size, channels=channels)
    spec.compile(model, jit_compile=jit, total_steps=10_000)
    if getattr(model, "autoencoder_steps", 0):  # latent diffusion: time its diffusion steps
        model.steps_done.assign(model.autoencoder_steps)
    return model, element


def _xla_refusal(name: str, jit: bool) -> bool:
    """Whether building ``name`` with ``jit`` failed because the model has an op XLA cannot compile
    (it then refuses ``jit_compile=True`` by name): a row to report, not an error."""
    return jit and bool(getattr(registry.get(name).model_class, "xla_unsupported", ""))


def _median_rate(seconds: list, steps: int, per_step: int) -> float:
    return per_step * steps / statistics.median(seconds)


def _best_ratio(seconds: list, baseline_seconds: list) -> float:
    """Speed against a baseline from each one's fastest run: a neighbour on a shared machine only
    ever adds time, so the fastest runs are the least disturbed (the reports give medians)."""
    return min(baseline_seconds) / min(seconds)


class _Clock(keras.callbacks.Callback):
    """Times the steps after the first ``skip`` of a fit() call (fit's start-up and wind-down left
    out)."""

    def __init__(self, skip: int):
        super().__init__()
        self.skip, self.start, self.end = skip, None, None

    def on_train_batch_end(self, batch, logs=None):
        if batch == self.skip - 1:
            self.start = time.perf_counter()
        self.end = time.perf_counter()


FIT_SKIP = (
    2  # steps of each timed fit() call left out: the first one waits for the iterator to fill
)


def _fit_timer(model, dataset, steps):
    """Seconds for ``steps`` steps inside one fit() call, steady state: the per-step cost of Keras'
    trainer, the package's callbacks (the NaN guard) and logs.  fit()'s own start-up (iterator,
    callback list) is a once-per-call cost that a real training run spreads over thousands of steps;
    it is timed separately (:func:`fit_startup`)."""

    def run():
        clock = _Clock(FIT_SKIP)
        model.fit(
            dataset,
            epochs=1,
            steps_per_epoch=steps + FIT_SKIP,
            verbose=0,
            shuffle=False,
            callbacks=[clock],
        )
        return clock.end - clock.start

    return run


def fit_startup(model, dataset, steps: int = 5) -> float:
    """fit()'s fixed cost per call: the wall clock of a fit() of ``steps`` steps minus its
    steady-state steps."""
    clock = _Clock(1)
    start = time.perf_counter()
    model.fit(dataset, epochs=1, steps_per_epoch=steps, verbose=0, shuffle=False, callbacks=[clock])
    total = time.perf_counter() - start
    return total - (clock.end - clock.start) * steps / (steps - 1)


def _bare_timer(step, dataset, steps):
    iterator = iter(dataset)

    def run():
        start = time.perf_counter()
        for _ in range(steps):
            logs = step(next(iterator))
        keras.ops.convert_to_numpy(next(iter(logs.values())))  # wait for the last step
        return time.perf_counter() - start

    return run


def _calibrate(run_once, seconds: float, least: int = 10) -> int:
    """Steps that take about ``seconds`` (from one timed run of 5 steps), at least ``least``."""
    return max(least, int(seconds / max(run_once(5), 1e-4) * 5))


def compare(timers: dict, repeats: int) -> dict:
    """Run each timer ``repeats`` times, interleaved (A, B, A, B, ...); lists of seconds per
    timer."""
    times = {name: [] for name in timers}
    for _ in range(repeats):
        for name, run in timers.items():
            times[name].append(run())
    return times


def throughput(
    name: str,
    mode: str = "graph/float32",
    *,
    seconds: float = 3.0,
    repeats: int = 3,
    bare: bool = True,
) -> dict:
    """``fit()`` against a bare ``tf.function(model.train_step)`` loop on one batch kept in
    memory.

    ``bare=False`` is the short probe (``make test`` scales its wall time by it): ``fit()`` alone,
    after the same warm-up, without the bare loop and fit()'s start-up; the row then has no
    ``bare_per_s``, ``ratio`` or ``fit_startup_s``."""
    jit, precision = MODES[mode]
    with hardware.precision_scope(precision):
        keras.utils.set_random_seed(0)
        try:
            model, element = build(name, jit)
        except ValueError as error:
            if not _xla_refusal(name, jit):
                raise
            return {
                "model": name,
                "mode": mode,
                "size": MODELS[name][0],
                "batch": MODELS[name][1],
                "unsupported": str(error),
            }
        per_step = MODELS[name][1]
        dataset = tf.data.Dataset.from_tensors(element).repeat()
        start = time.perf_counter()
        _fit_timer(model, dataset, 3)()  # traces (with XLA: compiles) Keras' train function
        first_fit = time.perf_counter() - start
        if bare:
            step = tf.function(model.train_step, jit_compile=jit)
            _bare_timer(step, dataset, 3)()  # traces the bare one
        steps = _calibrate(lambda n: _fit_timer(model, dataset, n)(), seconds)
        timers = {"fit": _fit_timer(model, dataset, steps)}
        if bare:
            timers["bare"] = _bare_timer(step, dataset, steps)
        times = compare(timers, repeats)
        startup = fit_startup(model, dataset) if bare else None
    fit_rate = _median_rate(times["fit"], steps, per_step)
    row = {
        "model": name,
        "mode": mode,
        "size": MODELS[name][0],
        "batch": per_step,
        "unit": MODELS[name][2],
        "steps": steps,
        "fit_per_s": fit_rate,
    }
    if bare:
        bare_rate = _median_rate(times["bare"], steps, per_step)
        row.update(
            bare_per_s=bare_rate,
            ratio=fit_rate / bare_rate,
            best_ratio=_best_ratio(times["fit"], times["bare"]),
            fit_startup_s=startup,
        )
    row["first_fit_s"] = first_fit
    return row


SIZE_MODES = {
    "graph/float32": "graph",
    "xla/float32": "xla",
    "graph/mixed_bfloat16": "bf16",
}  # mode -> row key


def _under_policy(run, precision: str):
    """``run`` with Keras' global dtype policy set to ``precision`` while it runs."""

    def go():
        with hardware.precision_scope(precision):
            return run()

    return go


def at_size(
    name: str,
    size: int,
    *,
    seconds: float = 1.5,
    repeats: int = 3,
    least: int = 3,
    modes=tuple(SIZE_MODES),
) -> dict:
    """fit() images per second at ``size`` in graph mode, with XLA and in ``mixed_bfloat16``
    (graph), interleaved, medians, and each mode's first fit() (trace, and XLA's compile): is the
    model's default the faster at every size?  ``mixed_float16`` (3-9x slower than float32 on a CPU
    at the chapter size) is measured there only.

    The bare loop is compared at the chapter size only (:func:`throughput`): what the trainer costs
    is a fixed time per step, so its share is largest there, where steps are shortest."""
    row = {"model": name, "size": size, "batch": MODELS[name][1], "unit": MODELS[name][2]}
    timers = {}
    for mode in modes:
        jit, precision = MODES[mode]
        keras.utils.set_random_seed(0)
        with hardware.precision_scope(precision):
            try:
                model, element = build(name, jit, size)
                dataset = tf.data.Dataset.from_tensors(element).repeat()
                start = time.perf_counter()
                _fit_timer(model, dataset, 3)()
                row[f"{SIZE_MODES[mode]}_first_fit_s"] = time.perf_counter() - start
                timers[mode] = (model, dataset, precision)
            except ValueError as error:
                if not _xla_refusal(name, jit):
                    raise
                row["xla_unsupported"] = str(error)
    steps = _calibrate(lambda n: _fit_timer(*timers["graph/float32"][:2], n)(), seconds, least)
    times = compare(
        {
            mode: _under_policy(_fit_timer(model, dataset, steps), precision)
            for mode, (model, dataset, precision) in timers.items()
        },
        repeats,
    )
    for mode, seconds_list in times.items():
        row[f"{SIZE_MODES[mode]}_per_s"] = _median_rate(seconds_list, steps, row["batch"])
    row["steps"] = steps
    return row


def hand_written_dcgan(*, seconds: float = 3.0, repeats: int = 3) -> dict:
    """The package's DCGAN ``fit()`` against a DCGAN step written with plain TensorFlow, same
    networks."""
    keras.utils.set_random_seed(0)
    model, images = build("dcgan", False)
    generator, discriminator = model.generator, model.discriminator
    g_opt, d_opt = keras.optimizers.Adam(2e-4, beta_1=0.5), keras.optimizers.Adam(2e-4, beta_1=0.5)
    g_opt.build(generator.trainable_variables)
    d_opt.build(discriminator.trainable_variables)
    bce = keras.losses.BinaryCrossentropy(from_logits=True)

    @tf.function
    def step(real):
        z = tf.random.normal((tf.shape(real)[0], model.latent_dim))
        with tf.GradientTape(persistent=True) as tape:
            fake = generator(z, training=True)
            real_logits, fake_logits = (
                discriminator(real, training=True),
                discriminator(fake, training=True),
            )
            d_loss = bce(tf.ones_like(real_logits), real_logits) + bce(
                tf.zeros_like(fake_logits), fake_logits
            )
            g_loss = bce(tf.ones_like(fake_logits), fake_logits)
        d_opt.apply(
            tape.gradient(d_loss, discriminator.trainable_variables),
            discriminator.trainable_variables,
        )
        g_opt.apply(
            tape.gradient(g_loss, generator.trainable_variables), generator.trainable_variables
        )
        return {"d_loss": d_loss, "g_loss": g_loss}

    dataset = tf.data.Dataset.from_tensors(images).repeat()
    _fit_timer(model, dataset, 3)()
    _bare_timer(step, dataset, 3)()
    steps = _calibrate(lambda n: _fit_timer(model, dataset, n)(), seconds)
    times = compare(
        {"fit": _fit_timer(model, dataset, steps), "hand": _bare_timer(step, dataset, steps)},
        repeats,
    )
    fit_rate, hand_rate = (_median_rate(times[k], steps, len(images)) for k in ("fit", "hand"))
    return {
        "fit_per_s": fit_rate,
        "hand_per_s": hand_rate,
        "ratio": fit_rate / hand_rate,
        "steps": steps,
    }


def pipeline(*, seconds: float = 3.0, repeats: int = 3) -> dict:
    """DCGAN ``fit()`` on ``data.load`` (decode, scale, cache, shuffle, batch, prefetch) against the
    same batches already in memory."""
    keras.utils.set_random_seed(0)
    model, _ = build("dcgan", False)
    loaded = data.load(
        "mnist", image_size=28, batch_size=64, drop_remainder=True, repeat=True, source="offline"
    )
    epoch = data.load("mnist", image_size=28, batch_size=64, drop_remainder=True, source="offline")
    in_memory = tf.data.Dataset.from_tensor_slices(tf.stack(list(epoch))).repeat()
    _fit_timer(model, loaded, 3)()
    _fit_timer(model, in_memory, 3)()
    steps = _calibrate(lambda n: _fit_timer(model, in_memory, n)(), seconds)
    times = compare(
        {
            "pipeline": _fit_timer(model, loaded, steps),
            "memory": _fit_timer(model, in_memory, steps),
        },
        repeats,
    )
    rates = {k: _median_rate(v, steps, 64) for k, v in times.items()}
    return {
        "pipeline_per_s": rates["pipeline"],
        "memory_per_s": rates["memory"],
        "ratio": rates["pipeline"] / rates["memory"],
        "best_ratio": _best_ratio(times["pipeline"], times["memory"]),
        "steps": steps,
    }


def _agreement(model, judge, n=500, seed=0) -> float:
    labels = np.arange(n) % 10
    images = model.generate(labels=labels, seed=seed)
    images = data.scale(validation.to_unit(images, model.value_range), (-1, 1))
    return float(np.mean(judge.predict_proba(images).argmax(1) == labels))


def time_to_quality(
    *, target: float = 0.9, chunk: int = 50, limit_s: float = 300.0, budgets=(30.0, 60.0, 120.0)
) -> dict:
    """Training seconds (evaluation excluded) to ``target`` class agreement for the conditional GAN
    and VAE, and the DCGAN's domain FID (classifier features, 1,000 samples vs the 1,000 held-out
    digits) after each budget of training seconds."""
    judge = judges.load_classifier(28)
    results = {}
    for spec in [s for s in registry.specs() if s.conditional]:  # the conditional samplers
        name = spec.name
        keras.utils.set_random_seed(0)
        model, _ = build(name, hardware.jit_compile())
        value_range = spec.value_range
        batches = data.load(
            "mnist",
            image_size=28,
            batch_size=64,
            labels=True,
            drop_remainder=True,
            repeat=True,
            value_range=value_range,
            source="offline",
        )
        trained, reached, history = 0.0, None, []
        while trained < limit_s:
            start = time.perf_counter()
            model.fit(batches, epochs=1, steps_per_epoch=chunk, verbose=0)
            trained += time.perf_counter() - start
            score = _agreement(model, judge)
            history.append((int(model.steps_done.numpy()), round(trained, 1), score))
            if score >= target:
                reached = trained
                break
        results[name] = {
            "seconds": reached,
            "steps": history[-1][0],
            "agreement": history[-1][2],
            "history": history,
        }
    extractor = judges.ClassifierExtractor(judge)
    real = extractor.features(
        data.load_arrays("mnist", "test", image_size=28, source="offline").images
    )
    keras.utils.set_random_seed(0)
    model, _ = build("dcgan", hardware.jit_compile())
    batches = data.load(
        "mnist", image_size=28, batch_size=64, drop_remainder=True, repeat=True, source="offline"
    )
    trained, fids = 0.0, {}
    for budget in budgets:
        while trained < budget:
            start = time.perf_counter()
            model.fit(batches, epochs=1, steps_per_epoch=chunk, verbose=0)
            trained += time.perf_counter() - start
        fake = extractor.features(model.generate(1000, seed=0))
        fids[f"{budget:g}"] = {
            "trained_s": round(trained, 1),
            "steps": int(model.steps_done.numpy()),
            "fid": metrics.frechet_distance(real, fake),
        }
    results["dcgan_fid"] = fids
    return results


def _images_per_second(draw, n: int, repeats: int = 3) -> float:
    draw()  # warm-up (traces)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        draw()
        times.append(time.perf_counter() - start)
    return n / statistics.median(times)


def sampling() -> dict:
    """Inference speed (untrained weights: speed does not depend on them)."""
    keras.utils.set_random_seed(0)
    model, _ = build("pixelcnn", False)
    result = {"pixelcnn": {}}
    for batch in (1, 16):
        compiled = _images_per_second(lambda batch=batch: model.generate(batch, seed=0), batch)
        loop = _images_per_second(
            lambda batch=batch: sample_pixel_by_pixel(model, batch, seed=0), batch, repeats=1
        )
        result["pixelcnn"][f"batch {batch}"] = {
            "compiled_per_s": compiled,
            "pixel_loop_per_s": loop,
        }
    others = [
        s for s in registry.specs() if s.task in registry.SAMPLERS and s.model_class is not PixelCNN
    ]
    for spec in others:  # the other samplers' generate(), one network call per batch
        name = spec.name
        model, _ = build(name, False)
        labels = {"labels": np.arange(512) % 10} if spec.conditional else {}
        result[name] = {
            "images_per_s": _images_per_second(
                lambda model=model, labels=labels: model.generate(512, seed=0, **labels), 512
            )
        }
        if hasattr(model, "network_ema") and hasattr(model, "_loop"):
            result[name].update(denoising_loop_overhead(model))
    return result


def denoising_loop_overhead(model, batch: int = 256, steps: int = 20) -> dict:
    """A diffusion-family model's sampling time at ``steps`` steps against ``steps`` compiled
    calls of its network alone: unguided at ``batch``, and guided (a class-conditional copy) against
    calls at twice the batch.  Ratios near 1 say the sampling loop adds nothing to the network."""
    conditional = type(model)(**{**model.get_config(), "num_classes": 10})
    labels = np.arange(batch) % 10

    def network_time(net, n, with_labels):
        inputs = [tf.zeros((n, *model.latent_shape)), tf.fill((n,), 0.5)]
        if with_labels:
            inputs.append(tf.zeros((n,), tf.int32))
        call = tf.function(lambda *xs: net(list(xs), training=False))

        def run():
            for _ in range(steps):
                out = call(*inputs)
            return out.numpy()

        return n / _images_per_second(run, n)  # seconds for the steps' calls

    def sampling_time(m, **kw):
        rate = _images_per_second(lambda: m.generate(batch, seed=0, steps=steps, **kw), batch)
        return batch / rate

    plain = sampling_time(model)
    guided = sampling_time(conditional, labels=labels, guidance=3.0)
    return {
        f"sample_{steps}_steps_batch_{batch}_per_s": batch / plain,
        "unguided_over_network": plain / network_time(model.network_ema, batch, False),
        "guided_over_network_2x": guided / network_time(conditional.network_ema, 2 * batch, True),
    }


def peak_memory_mib() -> float:
    """Peak resident memory of this process so far (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def hardware_report() -> dict:
    import subprocess

    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as info:
            cpu = next(
                line.split(":", 1)[1].strip() for line in info if line.startswith("model name")
            )
    except (OSError, StopIteration):
        pass
    gpus = []
    if hardware.gpus():
        try:
            gpus = subprocess.run(
                ["nvidia-smi", "--query-gpu=name", "--format=csv,noheader"],
                capture_output=True,
                text=True,
                timeout=10,
            ).stdout.split("\n")
        except OSError:
            gpus = [d.name for d in hardware.gpus()]
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "gpus": [g for g in gpus if g],
        "python": platform.python_version(),
        "tensorflow": tf.__version__,
        "keras": keras.__version__,
        "environment": hardware.environment_report(),
        "default_modes": {
            spec.name: f"{'xla' if hardware.jit_compile(spec.model_class) else 'graph'}/"
            f"{hardware.default_precision(spec.model_class)}"
            for spec in registry.specs()
        },
    }
