"""The fast benchmark (issue 9): the package's trainer and input pipeline may cost at most
20 % here.

Two shared cores make a tighter bound flaky in a short test; the full benchmark (``make benchmark``)
reports the real ratios against 0.95.  ``make test`` runs this file alone, after the parallel tests.
The bars compare each side's fastest of three interleaved runs: on the idle 2-core AMD EPYC the
pipeline's median ratio ranged 0.94-1.02 over ten calls (2026-12-06), yet one fresh-clone run on a
busy shared Xeon measured 0.771 and passed when rerun; a neighbour only adds time, so the fastest
runs are the least disturbed.
"""

import json
import pathlib
import sys

import numpy as np
import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks import harness, run  # noqa: E402


@pytest.mark.benchmark
def test_fast_benchmark_ratios_and_report(tmp_path):
    report = run.run(
        parts=("throughput", "pipeline"),
        models=["dcgan"],
        modes=["graph/float32"],
        seconds=1.0,
        isolate=False,
    )
    (row,) = report["throughput"]
    assert row["fit_per_s"] > 0 and row["bare_per_s"] > 0
    assert row["best_ratio"] >= 0.8, (
        f"fit() ran at {row['best_ratio']:.3f} of the bare loop's speed: {row}"
    )
    assert report["pipeline"]["best_ratio"] >= 0.8, (
        f"the input pipeline is the bottleneck: {report['pipeline']}"
    )
    table = run.write(report, tmp_path).read_text()
    assert "| dcgan | 28 | 64 | graph/float32 |" in table and "Input pipeline" in table
    stored = json.loads((tmp_path / "benchmark.json").read_text())
    assert stored["hardware"]["tensorflow"] and stored["throughput"][0]["model"] == "dcgan"


def test_bad_options_are_refused(capsys):
    with pytest.raises(SystemExit):
        run.main(["--parts", "speed"])
    assert "unknown part or mode ['speed']" in capsys.readouterr().err


@pytest.mark.slow
@pytest.mark.parametrize("name", list(harness.MODELS))
def test_every_model_trains_under_xla_or_refuses_it_by_name(name):
    """XLA is the default on GPUs: each model's fit() compiles with jit_compile=True, or (an op
    without an XLA kernel) the model refuses it with the reason, and its default stays graph mode
    even where XLA is on.  Compiled at the model's small test configuration (the same kinds of ops
    as the chapter's: an XLA compile of the chapter-size StyleGAN took 39 s here, most of this
    file's time).  Also keeps the harness's model table in step with the package: every registered
    model builds at its chapter size, with a batch of its default data that its train step takes
    (one eager step)."""
    import tensorflow as tf

    from aigc_keras import hardware, registry

    model, element = harness.build(name, False)  # the benchmark's row, graph mode
    logs = model.train_step(tf.nest.map_structure(tf.convert_to_tensor, element))
    assert all(np.isfinite(float(v)) for v in logs.values()), logs
    spec = registry.get(name)
    refusal = {"superres": "ResizeBicubic", "style": "ScaleAndTranslate"}.get(name)
    assert bool(refusal) == bool(getattr(spec.model_class, "xla_unsupported", ""))
    if refusal:
        with pytest.raises(ValueError, match=f"cannot be compiled with XLA.*{refusal}"):
            harness.build(name, True)
        hardware.set_jit_compile(True)  # as on a GPU
        try:
            model = spec.model_class(**spec.test_config)
            model.compile()
            assert model.jit_compile is False
        finally:
            hardware.set_jit_compile("auto")
        return
    hardware.set_jit_compile(
        True
    )  # as on a GPU; on a CPU a model under XLA keeps float32 (hardware.default_precision)
    try:
        model, element = harness.build(name, True, small=True)
    finally:
        hardware.set_jit_compile("auto")
    assert model.jit_compile is True and model.dtype_policy.name == "float32"
    logs = model.fit(
        tf.data.Dataset.from_tensors(element).repeat(), epochs=1, steps_per_epoch=2, verbose=0
    ).history
    assert all(np.isfinite(v[-1]) for v in logs.values()), logs


def test_defaults_table_compares_the_modes_measured_and_names_a_refusal():
    def row(model, mode, rate, first):
        return {
            "model": model,
            "mode": mode,
            "batch": 64,
            "fit_per_s": rate,
            "first_fit_s": first,
        }

    throughput = [
        row("dcgan", "graph/float32", 320.0, 3.0),
        row("dcgan", "xla/float32", 640.0, 8.0),
        row("cnn", "graph/float32", 800.0, 1.0),  # XLA not measured: no row
        row("superres", "graph/float32", 600.0, 1.0),
        row("superres", "graph/mixed_bfloat16", 630.0, 1.0),
        {"model": "superres", "mode": "xla/float32", "unsupported": "no XLA kernel"},
    ]
    lines = run.defaults(throughput, {"dcgan": "graph/float32", "superres": "graph/float32"})
    assert len(lines) == 4 and not any("| cnn |" in line for line in lines)
    # XLA saves 0.1 s of a 0.2 s step and costs 5 s more to compile: repaid after 50 steps; graph is
    # the slower.
    assert (
        lines[2] == "| dcgan | graph/float32 | 2.00x | 5.0 s | 50 steps | no (xla/float32 2.00x) |"
    )
    # bfloat16 5% faster: under the bar config asks before making it the default
    assert lines[3] == (
        "| superres | graph/float32 | XLA cannot compile it | | | "
        "yes, within the bar (graph/mixed_bfloat16 1.05x < 1.10x) |"
    )
    # a model whose quality test fails in bfloat16 is judged among its float32 modes
    # (cpu_bf16_fails_quality in the measured defaults)
    rates = {"graph/float32": 100.0, "xla/float32": 80.0, "graph/mixed_bfloat16": 135.0}
    assert run._is_faster("graph/float32", rates, "vae") == "no (graph/mixed_bfloat16 1.35x)"
    assert (
        run._is_faster("graph/float32", rates, "vaegan")
        == "yes (bfloat16 1.35x, but it fails the quality test)"
    )
    assert (
        run._is_faster("graph/float32", {**rates, "xla/float32": 200.0}, "vaegan")
        == "no (xla/float32 2.00x; bfloat16 1.35x, but it fails the quality test)"
    )


def test_sizes_table_merges_the_chapter_size_and_says_where_the_default_is_slower():
    def row(mode, rate, first):
        return {
            "model": "dcgan",
            "mode": mode,
            "size": 28,
            "batch": 64,
            "unit": "images",
            "fit_per_s": rate,
            "first_fit_s": first,
        }

    throughput = [
        row("graph/float32", 300.0, 3.0),
        row("xla/float32", 360.0, 6.0),
        row("graph/mixed_bfloat16", 450.0, 3.5),
        row("graph/mixed_float16", 50.0, 4.0),
    ]
    other = [
        {
            "model": "dcgan",
            "size": 64,
            "batch": 64,
            "unit": "images",
            "graph_per_s": 100.0,
            "xla_per_s": 80.0,
            "graph_first_fit_s": 4.0,
            "xla_first_fit_s": 9.0,
        },  # bfloat16 not measured at this size
        {
            "model": "superres",
            "size": 64,
            "batch": 16,
            "unit": "images",
            "graph_per_s": 200.0,
            "graph_first_fit_s": 2.0,
            "bf16_per_s": 100.0,
            "xla_unsupported": "no XLA kernel",
        },
        {
            "model": "superres",
            "size": 32,
            "batch": 16,
            "unit": "images",
            "graph_per_s": 100.0,
            "graph_first_fit_s": 2.0,
            "bf16_per_s": 200.0,
            "xla_unsupported": "no XLA kernel",
        },
    ]
    lines = run.sizes(throughput + other, {"dcgan": "xla/float32", "superres": "graph/float32"})
    assert lines[2] == (
        "| dcgan | 28 | 64 | 300 images | 360 | 1.20x | 450 | 1.50x | 3.0 s / 6.0 s | "
        "xla/float32 | "
        "no (graph/mixed_bfloat16 1.25x) |"
    )
    assert (
        lines[3]
        == "| dcgan | 64 | 64 | 100 images | 80 | 0.80x |  |  | 4.0 s / 9.0 s | xla/float32 | no "
        "(graph/float32 1.25x) |"
    )
    assert lines[4] == (
        "| superres | 32 | 16 | 100 images | XLA cannot compile it | | 200 | 2.00x | 2.0 s / | "
        "graph/float32 | no (graph/mixed_bfloat16 2.00x) |"
    )
    assert lines[5] == (
        "| superres | 64 | 16 | 200 images | XLA cannot compile it | | 100 | 0.50x | 2.0 s / | "
        "graph/float32 | yes |"
    )
    # the gains the precision default is chosen from: geometric means (superres: 2.0 and 0.5 -> 1.0)
    assert (
        lines[7].endswith("quality test in it): dcgan 1.50x, superres 1.00x.") and len(lines) == 8
    )
    assert run.bf16_gains(throughput + other) == {"dcgan": 1.5, "superres": 1.0}


def test_the_measured_defaults_file_is_the_committed_benchmark_s(tmp_path):
    """The package's measured defaults (the XLA and bfloat16 gains, package data) are what the
    committed benchmark measured, model by model, and ``--write-defaults`` writes exactly them (one
    source of figures)."""
    from aigc_keras import hardware

    report = json.loads((ROOT / "benchmarks" / "results" / "benchmark.json").read_text())
    shipped = hardware.measured_defaults()
    measured = run.measured_defaults(report)
    assert len(measured["cpu_bf16_gain"]) == len(harness.MODELS) == len(shipped["cpu_bf16_gain"])
    assert measured["cpu_bf16_gain"] == shipped["cpu_bf16_gain"]
    assert measured["cpu_xla_gain"] == shipped["cpu_xla_gain"]
    written = tmp_path / "defaults.json"
    written.write_text(json.dumps({"cpu_bf16_fails_quality": {"VAEGAN": "kept"}}))
    try:
        run.write_defaults(report, written)
    finally:
        hardware.measured_defaults.cache_clear()
    stored = json.loads(written.read_text())
    assert stored["cpu_xla_gain"]["gains"] == shipped["cpu_xla_gain"]
    assert stored["cpu_bf16_fails_quality"] == {"VAEGAN": "kept"}
    # the dates: the committed report's run and the last run merged into it, as shipped
    assert stored["measured"] == shipped["measured"] == run.measured_dates(report)
    assert "EPYC" in stored["machine"]


def test_the_benchmarks_page_shows_the_committed_report():
    """docs/benchmarks.md, the page a reader opens, holds the committed report as it stands (it
    once lagged a merge by two chapters' models): re-measuring means copying the report there."""
    report = (ROOT / "benchmarks" / "results" / "benchmark.md").read_text(encoding="utf-8")
    page = (ROOT / "docs" / "benchmarks.md").read_text(encoding="utf-8")
    assert report.strip() in page, "copy benchmarks/results/benchmark.md into docs/benchmarks.md"


@pytest.mark.slow
def test_at_size_measures_every_mode_at_another_size():
    from aigc_keras import hardware

    before = hardware.precision()
    row = harness.at_size("vae", 32, seconds=0.2, repeats=1)
    assert row["size"] == 32 and row["steps"] >= 3
    assert all(
        row[f"{key}_per_s"] > 0 and row[f"{key}_first_fit_s"] > 0
        for key in ("graph", "xla", "bf16")
    )
    refused = harness.at_size(
        "superres", 16, seconds=0.2, repeats=1, modes=("graph/float32", "xla/float32")
    )
    assert "xla_per_s" not in refused and "bf16_per_s" not in refused
    assert "ResizeBicubic" in refused["xla_unsupported"]
    assert hardware.precision() == before  # the global policy is restored


def test_a_quality_part_measured_apart_says_when_where_and_on_what():
    hardware = {"cpu": "Some CPU", "cores": 2, "gpus": [], "environment": "env", "python": "3.11"}
    quality = {
        "cgan": {"seconds": 88.0, "steps": 1150, "agreement": 0.91},
        "cvae": {"seconds": None, "steps": 600, "agreement": 0.5},
        "dcgan_fid": {"30": {"fid": 464.7, "steps": 400}},
    }
    report = {"hardware": hardware, "started": "2026-11-25", "quality": quality}
    plain = run.markdown(report)
    assert "cgan: 88 s of training (1150 steps)" in plain and "measured apart" not in plain
    assert "cvae: not within the limit (600 steps, agreement 50.0%)" in plain
    report["quality_run"] = {
        "started": "2026-12-02 00:07",
        "hardware": {"cpu": "Other CPU"},
        "data": "MNIST",
    }
    assert "Time to quality, measured apart (2026-12-02 00:07, Other CPU) on MNIST:" in (
        run.markdown(report)
    )


def test_merge_replaces_only_the_parts_measured_and_labels_a_quality_run(tmp_path):
    stored = {"started": "2026-11-25", "throughput": [{"model": "dcgan"}], "quality": {"old": 1}}
    (tmp_path / "benchmark.json").write_text(json.dumps(stored))
    report = {
        "started": "2026-12-02 00:07",
        "finished": "2026-12-02 00:14",
        "hardware": {"cpu": "Other CPU", "cores": 2, "gpus": []},
        "throughput": [],  # not measured in this run: must not replace the stored rows
        "quality": {"new": 2},
    }
    merged = run.merge(report, tmp_path, ["quality"])
    assert merged["throughput"] == [{"model": "dcgan"}] and merged["quality"] == {"new": 2}
    assert merged["started"] == "2026-11-25"
    assert merged["merged"] == [{"started": "2026-12-02 00:07", "parts": ["quality"]}]
    assert run.measured_dates(merged) == "2026-11-25 to 2026-12-02"
    assert run.measured_dates(report) == "2026-12-02"
    assert merged["quality_run"] == {
        "started": "2026-12-02 00:07",
        "finished": "2026-12-02 00:14",
        "hardware": {"cpu": "Other CPU", "cores": 2},
        "data": run.QUALITY_DATA,
    }
