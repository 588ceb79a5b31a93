"""Run the benchmarks and write a Markdown table and a JSON file.

    # the full benchmark (about an hour on this project's 2-core CPU)
    python -m benchmarks.run
    # DCGAN throughput and the input pipeline only (under a minute)
    python -m benchmarks.run --fast
    python -m benchmarks.run --models dcgan,vae --parts throughput,sizes

``throughput`` measures each model at its chapter size in every mode, against a bare loop; ``sizes``
measures ``fit()`` at the model's other supported sizes (``harness.SIZES``) in graph mode, with XLA
and in mixed_bfloat16.  Each model's throughput runs in its own process, so its peak resident memory
is its own and no dtype policy or traced function leaks from one model to the next.  Results go to
``--out`` (default ``benchmarks/results``): ``benchmark.json`` and ``benchmark.md``.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import pathlib
import subprocess
import sys
import time

PARTS = ("throughput", "sizes", "hand", "pipeline", "sampling", "quality")
ROOT = pathlib.Path(__file__).resolve().parents[1]
# The modes measured for every model; both mixed policies run on a CPU (slowly), bfloat16 is the
# TPU/CPU one.
FULL_MODES = ("graph/float32", "xla/float32", "graph/mixed_bfloat16", "graph/mixed_float16")
TARGET = 0.95  # the full benchmark's bar for fit()/bare and for the input pipeline


def _child(part: str, model: str | None, modes: list, seconds: float) -> dict:
    from . import harness

    if part == "throughput":
        rows = [harness.throughput(model, mode, seconds=seconds) for mode in modes]
        return {"rows": rows, "peak_mib": harness.peak_memory_mib()}
    if part == "sizes":  # the model's other sizes; its chapter size is in the throughput rows
        rows = [
            harness.at_size(
                model, size, seconds=seconds, modes=[m for m in modes if m in harness.SIZE_MODES]
            )
            for size in harness.SIZES[model]
            if size != harness.MODELS[model][0]
        ]
        return {"rows": rows, "peak_mib": harness.peak_memory_mib()}
    function = {
        "hand": harness.hand_written_dcgan,
        "pipeline": harness.pipeline,
        "sampling": harness.sampling,
        "quality": harness.time_to_quality,
    }[part]
    result = function(seconds=seconds) if part in ("hand", "pipeline") else function()
    return {"result": result, "peak_mib": harness.peak_memory_mib()}


def _in_subprocess(part: str, model: str | None, modes: list, seconds: float) -> dict:
    command = [
        sys.executable,
        "-m",
        "benchmarks.run",
        "--child",
        part,
        "--seconds",
        str(seconds),
        "--modes",
        ",".join(modes),
    ] + (["--models", model] if model else [])
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, env=env)
    if done.returncode != 0:
        raise RuntimeError(f"benchmark {part} {model or ''} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def run(
    parts=PARTS,
    models=None,
    modes=FULL_MODES,
    seconds: float = 3.0,
    isolate: bool = True,
    out=None,
    mixed_models=None,
) -> dict:
    """Every part asked for; with ``out``, the report is written again after each part (a long run
    stopped early keeps what it measured).  ``mixed_models``: the models measured in the
    mixed-precision modes too (default: all); the others in the float32 modes only."""
    from . import harness

    out_dir = out
    models = list(models or harness.MODELS)
    report = {
        "hardware": harness.hardware_report(),
        "started": time.strftime("%Y-%m-%d %H:%M:%S"),
        "seconds": seconds,
    }
    call = _in_subprocess if isolate else _child
    if "throughput" in parts:
        report["throughput"] = []
        for name in models:
            wanted = [
                m
                for m in modes
                if mixed_models is None or name in mixed_models or m.endswith("float32")
            ]
            out = call("throughput", name, wanted, seconds)
            for row in out["rows"]:
                row["peak_mib"] = out["peak_mib"]
            report["throughput"] += out["rows"]
            print(
                f"throughput {name}: "
                + ", ".join(
                    f"{r['mode']} {r['fit_per_s']:.0f}/s (x{r['ratio']:.3f})"
                    if "fit_per_s" in r
                    else f"{r['mode']} unsupported"
                    for r in out["rows"]
                ),
                flush=True,
            )
            if out_dir is not None:
                write(report, out_dir)
    if "sizes" in parts:
        report["sizes"] = []
        for name in models:
            wanted = [
                m
                for m in harness.SIZE_MODES
                if (m in modes or m == "graph/float32")
                and (mixed_models is None or name in mixed_models or m.endswith("float32"))
            ]
            out = call("sizes", name, wanted, seconds)
            for row in out["rows"]:
                row["peak_mib"] = out["peak_mib"]
            report["sizes"] += out["rows"]
            print(
                f"sizes {name}: "
                + ", ".join(
                    f"{r['size']}px "
                    + " ".join(
                        f"{key} {r[key + '_per_s']:.0f}/s"
                        for key in harness.SIZE_MODES.values()
                        if key + "_per_s" in r
                    )
                    for r in out["rows"]
                ),
                flush=True,
            )
            if out_dir is not None:
                write(report, out_dir)
    for part in ("hand", "pipeline", "sampling", "quality"):
        if part in parts:
            out = call(part, None, list(modes), seconds)
            report[part] = (
                {**out["result"], "peak_mib": out["peak_mib"]}
                if isinstance(out["result"], dict)
                else out["result"]
            )
            print(f"{part}: done", flush=True)
            if out_dir is not None:
                write(report, out_dir)
    report["finished"] = time.strftime("%Y-%m-%d %H:%M:%S")
    return report


def markdown(report: dict) -> str:
    hw = report["hardware"]
    lines = [
        f"Machine: {hw['cpu']}, {hw['cores']} cores"
        + (f", GPU {', '.join(hw['gpus'])}" if hw["gpus"] else ", no GPU"),
        f"`{hw['environment']}`; Python {hw['python']}; {report['started']}",
        "",
    ]
    if report.get("throughput"):
        lines += [
            "| model | size | batch | mode | fit() per s | bare loop per s | fit/bare | "
            "fit() start-up | "
            "first fit() (trace/compile) | peak memory |",
            "|---|---|---|---|---|---|---|---|---|---|",
        ]
        for r in report["throughput"]:
            if "fit_per_s" not in r:
                lines.append(
                    f"| {r['model']} | {r['size']} | {r['batch']} | {r['mode']} | not compiled: "
                    f"{r['unsupported'].split(': ', 1)[-1].split('. ')[0]} | | | | | |"
                )
                continue
            flag = "" if r["ratio"] >= TARGET else " (below 0.95)"
            lines.append(
                f"| {r['model']} | {r['size']} | {r['batch']} | {r['mode']} | {r['fit_per_s']:.0f} "
                f"{r['unit']} | {r['bare_per_s']:.0f} | {r['ratio']:.3f}{flag} | "
                f"{r['fit_startup_s']:.2f} s | "
                f"{_seconds(r.get('first_fit_s'))} | {r['peak_mib']:.0f} MiB |"
            )
        lines.append("")
        for label, rows in report.get(
            "reruns", {}
        ).items():  # rows measured again apart, e.g. with longer runs
            lines += [
                f"Re-run, {label}: `fit()` {r['fit_per_s']:.0f} {r['unit']}/s vs bare loop "
                f"{r['bare_per_s']:.0f}: ratio {r['ratio']:.3f}."
                for r in rows
            ]
        if hw.get("defaults_note"):
            lines.append(f"Note: {hw['defaults_note']}")
        lines += [""] + defaults(report["throughput"], hw.get("default_modes", {})) + [""]
    if report.get("sizes"):
        lines += sizes(
            report.get("throughput", []) + report["sizes"], hw.get("default_modes", {})
        ) + [""]
    if report.get("hand"):
        h = report["hand"]
        lines.append(
            f"DCGAN `fit()` {h['fit_per_s']:.0f} images/s vs a hand-written TensorFlow step "
            f"{h['hand_per_s']:.0f} images/s: ratio {h['ratio']:.3f}."
        )
    if report.get("pipeline"):
        p = report["pipeline"]
        lines.append(
            f"Input pipeline (DCGAN, batch 64): `data.load` {p['pipeline_per_s']:.0f} images/s "
            "vs the same "
            f"batches in memory {p['memory_per_s']:.0f} images/s: ratio {p['ratio']:.3f}"
            f"{'' if p['ratio'] >= TARGET else ' (below 0.95)'}."
        )
    if report.get("sampling"):
        s = report["sampling"]
        for batch, v in s["pixelcnn"].items():
            lines.append(
                f"PixelCNN 16x16, {batch}: compiled {v['compiled_per_s']:.2f} images/s "
                f"vs per-pixel predict {v['pixel_loop_per_s']:.3f} images/s "
                f"({v['compiled_per_s'] / v['pixel_loop_per_s']:.0f}x)."
            )
        lines.append(
            "Sampling, images/s (batch 512): "
            + ", ".join(
                f"{k} {v['images_per_s']:.0f}"
                for k, v in s.items()
                if k not in ("pixelcnn", "peak_mib")
            )
            + "."
        )
        for k, v in s.items():
            if isinstance(v, dict) and "unguided_over_network" in v:
                lines.append(
                    f"{k}: 20 sampling steps at batch 256, "
                    f"{v['sample_20_steps_batch_256_per_s']:.0f} images/s; the sampling time over "
                    f"20 calls of the network alone {v['unguided_over_network']:.2f} (unguided), "
                    f"{v['guided_over_network_2x']:.2f} (guided, against calls at batch 512)."
                )
    if report.get("quality"):
        q = report["quality"]
        if report.get("quality_run"):  # measured apart from the rest (``--parts quality``)
            run_ = report["quality_run"]
            lines.append(
                f"Time to quality, measured apart ({run_['started']}, {run_['hardware']['cpu']}) "
                f"on {run_['data']}:"
            )
        for name in ("cgan", "cvae"):
            v = q[name]
            reached = (
                f"{v['seconds']:.0f} s of training ({v['steps']} steps)"
                if v["seconds"]
                else f"not within the limit ({v['steps']} steps, agreement {v['agreement']:.1%})"
            )
            lines.append(f"Time to 90% class agreement, {name}: {reached}.")
        lines.append(
            "DCGAN domain FID after "
            + ", ".join(
                f"{b} s: {v['fid']:.1f} ({v['steps']} steps)" for b, v in q["dcgan_fid"].items()
            )
            + "."
        )
    return "\n".join(lines) + "\n"


def _is_faster(default: str, rates: dict, model: str = "") -> str:
    """Whether the default mode is the fastest correct one of the modes measured (``rates``: mode ->
    fit() per second): "yes"; "yes, within the bar (...)" where a faster mode gains less than the
    bar ``config`` asks of it before making it the default (XLA_MIN_GAIN, or BF16_MIN_GAIN between
    precisions), which is the run-to-run noise of a shared CPU; or "no (...)".  A model whose
    quality test fails in mixed_bfloat16 (``cpu_bf16_fails_quality`` in the package's measured
    defaults) is judged among its float32 modes, and the note says so."""
    from aigc_keras import hardware, registry

    if default not in rates:
        return "not measured"
    note = ""
    fails = hardware.measured_defaults()["cpu_bf16_fails_quality"]
    if (
        model
        and registry.get(model).model_class.__name__ in fails
        and not default.endswith("bfloat16")
    ):
        bf16 = {mode: rate for mode, rate in rates.items() if mode.endswith("mixed_bfloat16")}
        if bf16 and max(bf16.values()) > rates[default]:
            note = (
                f"; bfloat16 {max(bf16.values()) / rates[default]:.2f}x, "
                "but it fails the quality test"
            )
        rates = {mode: rate for mode, rate in rates.items() if mode not in bf16}
    best = max(rates, key=rates.get)
    if best == default:
        return f"yes{f' ({note[2:]})' if note else ''}"
    gain = rates[best] / rates[default]
    bar = (
        hardware.BF16_MIN_GAIN
        if best.split("/")[1] != default.split("/")[1]
        else hardware.XLA_MIN_GAIN
    )
    return (
        f"yes, within the bar ({best} {gain:.2f}x < {bar:.2f}x{note})"
        if gain < bar
        else f"no ({best} {gain:.2f}x{note})"
    )


def _seconds(value) -> str:
    return "" if value is None else f"{value:.1f} s"


def defaults(throughput: list, default_modes: dict) -> list:
    """Per model measured in both float32 modes (or refused by XLA): graph vs XLA in steady state,
    the extra first-fit() time XLA's compile costs, the steps after which XLA has repaid it, and
    whether the default of ``config`` is the fastest of graph, XLA and mixed_bfloat16."""
    from .harness import SIZE_MODES

    rows = {(r["model"], r["mode"]): r for r in throughput}
    measured = [r for r in throughput if "fit_per_s" in r]
    lines = [
        "| model | default here | XLA / graph, steady state | XLA's extra first-fit() time | "
        "XLA repaid after | default is the fastest of graph, XLA and bfloat16 |",
        "|---|---|---|---|---|---|",
    ]
    for model in dict.fromkeys(r["model"] for r in measured):
        graph, xla = rows.get((model, "graph/float32")), rows.get((model, "xla/float32"))
        default = default_modes.get(model, "")
        if graph is None or xla is None:  # not measured in both modes
            continue
        rates = {
            mode: rows[(model, mode)]["fit_per_s"]
            for mode in SIZE_MODES  # the modes a default is chosen among
            if "fit_per_s" in rows.get((model, mode), {})
        }
        if "fit_per_s" not in xla:  # refused: an op without an XLA kernel
            lines.append(
                f"| {model} | {default} | XLA cannot compile it | | | "
                f"{_is_faster(default, rates, model)} |"
            )
            continue
        gain = xla["fit_per_s"] / graph["fit_per_s"]
        extra = (
            xla["first_fit_s"] - graph["first_fit_s"]
            if "first_fit_s" in xla and "first_fit_s" in graph
            else None
        )
        saved = (
            graph["batch"] / graph["fit_per_s"] - xla["batch"] / xla["fit_per_s"]
        )  # seconds per step
        repaid = (
            "never"
            if saved <= 0
            else ("" if extra is None else f"{max(extra, 0) / saved:.0f} steps")
        )
        lines.append(
            f"| {model} | {default} | {gain:.2f}x | {_seconds(extra)} | {repaid} | "
            f"{_is_faster(default, rates, model)} |"
        )
    return lines


def _size_table(rows: list) -> dict:
    """(model, size) -> {"graph": rate, "xla": rate or "refused", "bf16": rate, "<key>_first":
    seconds, "batch", "unit"} from throughput rows (the chapter size, one mode each) and
    :func:`benchmarks.harness.at_size` rows."""
    from .harness import SIZE_MODES

    table = {}
    for r in rows:
        entry = table.setdefault(
            (r["model"], r["size"]), {"batch": r["batch"], "unit": r.get("unit", "")}
        )
        if "mode" in r:  # a throughput row: one mode
            if r["mode"] in SIZE_MODES:
                key = SIZE_MODES[r["mode"]]
                entry[key] = r.get("fit_per_s", "refused")
                entry[key + "_first"] = r.get("first_fit_s")
        else:
            for key in SIZE_MODES.values():
                if key + "_per_s" in r:
                    entry[key], entry[key + "_first"] = (
                        r[key + "_per_s"],
                        r.get(key + "_first_fit_s"),
                    )
            if "xla_unsupported" in r:
                entry["xla"] = "refused"
    return table


def bf16_gains(rows: list) -> dict:
    """Per model: fit() per second in mixed_bfloat16 over float32 (both graph mode), geometric mean
    over the sizes measured in both, rounded to 0.01 -- what the package's measured defaults hold
    (``cpu_bf16_gain``)."""
    gains = {}
    for (model, _), e in _size_table(rows).items():
        if "bf16" in e and "graph" in e:
            gains.setdefault(model, []).append(e["bf16"] / e["graph"])
    return {model: round(math.exp(sum(map(math.log, g)) / len(g)), 2) for model, g in gains.items()}


def sizes(rows: list, default_modes: dict) -> list:
    """fit() per second in graph mode, with XLA and in mixed_bfloat16 at each size measured
    (throughput rows at the chapter size, :func:`benchmarks.harness.at_size` rows at the others),
    whether the model's default mode is the fastest of the three there, and the bfloat16 gains the
    precision default is chosen from."""
    from .harness import SIZE_MODES

    table = _size_table(rows)
    lines = [
        "| model | size | batch | graph fit() per s | XLA fit() per s | XLA / graph | "
        "bfloat16 fit() per s | bfloat16 / graph | first fit() graph / XLA | default here | "
        "default is the fastest of the three |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    order = list(default_modes)
    for (model, size), e in sorted(
        table.items(),
        key=lambda item: (
            order.index(item[0][0]) if item[0][0] in order else len(order),
            item[0][0],
            item[0][1],
        ),
    ):
        if "graph" not in e or "xla" not in e:
            continue
        default = default_modes.get(model, "")
        bf16 = f"{e['bf16']:.0f} | {e['bf16'] / e['graph']:.2f}x" if "bf16" in e else " | "
        rates = {
            mode: e[key] for mode, key in SIZE_MODES.items() if key in e and e[key] != "refused"
        }
        if e["xla"] == "refused":
            lines.append(
                f"| {model} | {size} | {e['batch']} | {e['graph']:.0f} {e['unit']} | "
                "XLA cannot compile it | "
                f"| {bf16} | {_seconds(e['graph_first'])} / | {default} | "
                f"{_is_faster(default, rates, model)} |"
            )
            continue
        lines.append(
            f"| {model} | {size} | {e['batch']} | {e['graph']:.0f} {e['unit']} | {e['xla']:.0f} | "
            f"{e['xla'] / e['graph']:.2f}x | {bf16} | {_seconds(e['graph_first'])} / "
            f"{_seconds(e['xla_first'])} | {default} | {_is_faster(default, rates, model)} |"
        )
    gains = bf16_gains(rows)
    if gains:
        from aigc_keras import hardware

        lines += [
            "",
            "bfloat16 / float32 (graph mode), geometric mean over the sizes above "
            "(the precision default on a CPU with bfloat16 instructions takes it where at least "
            f"{hardware.BF16_MIN_GAIN:.2f}x and the "
            "model passes its quality test in it): "
            + ", ".join(f"{model} {gain:.2f}x" for model, gain in gains.items())
            + ".",
        ]
    return lines


def xla_gains(throughput: list) -> dict:
    """Per model: fit() per second with XLA over graph mode (float32, the chapter size), rounded to
    0.01; ``None`` where XLA refused the model -- what the package's measured defaults hold
    (``cpu_xla_gain``)."""
    rows = {(r["model"], r["mode"]): r for r in throughput}
    gains = {}
    for (model, mode), graph in rows.items():
        xla = rows.get((model, "xla/float32"))
        if mode != "graph/float32" or xla is None or "fit_per_s" not in graph:
            continue
        gains[model] = (
            round(xla["fit_per_s"] / graph["fit_per_s"], 2) if "fit_per_s" in xla else None
        )
    return gains


def measured_defaults(report: dict) -> dict:
    """The package's measured-defaults tables (keyed by model class name) from a benchmark
    report."""
    from aigc_keras import registry

    def by_class(gains):
        return {registry.get(name).model_class.__name__: gain for name, gain in gains.items()}

    throughput = report.get("throughput", [])
    return {
        "cpu_xla_gain": by_class(xla_gains(throughput)),
        "cpu_bf16_gain": by_class(bf16_gains(throughput + report.get("sizes", []))),
    }


def measured_dates(report: dict) -> str:
    """When a report's figures were measured: its run's date, or the span from it to the last run
    merged into it (``merged``, written by :func:`merge`)."""
    dates = sorted(
        {report.get("started", "")[:10]}
        | {run_["started"][:10] for run_ in report.get("merged", [])}
    )
    return dates[0] if len(dates) == 1 else f"{dates[0]} to {dates[-1]}"


def write_defaults(report: dict, path=None) -> pathlib.Path:
    """Write the gains a report measured into the package's measured defaults
    (``aigc_keras/measured_defaults.json``), with the report's machine and date; models the report
    did not measure keep their entries, and so do the quality exceptions
    (``cpu_bf16_fails_quality``, set by hand from a test)."""
    from aigc_keras import hardware

    path = pathlib.Path(path or hardware.DEFAULTS_FILE)
    stored = json.loads(path.read_text()) if path.is_file() else {}
    for key, gains in measured_defaults(report).items():
        table = stored.setdefault(key, {"what": "", "gains": {}})
        table["gains"].update(gains)
    cpu = report.get("hardware", {})
    stored["machine"] = (
        f"{cpu.get('cores', '?')}-core {cpu.get('cpu', '?')}, TensorFlow "
        f"{cpu.get('tensorflow', '?')}, Keras {cpu.get('keras', '?')}"
    )
    stored["measured"] = measured_dates(report)
    path.write_text(json.dumps(stored, indent=2) + "\n")
    hardware.measured_defaults.cache_clear()
    return path


QUALITY_DATA = "MNIST (offline: mnist_5k, the 4,000 training digits)"  # harness.time_to_quality's


def merge(report: dict, out, parts) -> dict:
    """``out``'s stored report with the ``parts`` of ``report`` in place of its own (the other parts
    kept; in the throughput and sizes parts only the rows of the models measured are replaced); a
    time-to-quality part measured apart is labelled with when, where and on what data, and every
    merge is listed under ``merged`` (when, which parts and models), so the report's dates stay
    true."""
    stored = json.loads((pathlib.Path(out) / "benchmark.json").read_text())
    for part in parts:
        rows = report[part]
        models = {r.get("model") for r in rows} if isinstance(rows, list) else set()
        if part in ("throughput", "sizes") and None not in models and stored.get(part):
            # a run of some models (--models) replaces their rows and keeps the others'
            kept = [r for r in stored[part] if r.get("model") not in models]
            stored[part] = kept + rows
        else:
            stored[part] = rows
    merged_models = {
        r["model"]
        for part in ("throughput", "sizes")
        if part in parts and isinstance(report[part], list)
        for r in report[part]
        if "model" in r
    }
    stored.setdefault("merged", []).append(
        {"started": report["started"], "parts": list(parts)}
        | ({"models": sorted(merged_models)} if merged_models else {})
    )
    if "quality" in parts:
        hw = report["hardware"]
        stored["quality_run"] = {
            "started": report["started"],
            "finished": report.get("finished"),
            "hardware": {k: hw[k] for k in ("cpu", "cores", "tensorflow", "keras") if k in hw},
            "data": QUALITY_DATA,
        }
    return stored


def write(report: dict, out) -> pathlib.Path:
    out = pathlib.Path(out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "benchmark.json").write_text(json.dumps(report, indent=1, default=float))
    (out / "benchmark.md").write_text(markdown(report))
    return out / "benchmark.md"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.run", description=__doc__.split("\n")[0]
    )
    parser.add_argument(
        "--fast", action="store_true", help="DCGAN throughput and the pipeline, in this process"
    )
    parser.add_argument(
        "--parts", default=",".join(PARTS), help=f"comma-separated subset of {','.join(PARTS)}"
    )
    parser.add_argument("--models", default=None, help="comma-separated model names (default: all)")
    parser.add_argument("--modes", default=",".join(FULL_MODES), help="comma-separated modes")
    parser.add_argument(
        "--mixed-models",
        default=None,
        help="models also measured in the mixed-precision modes (default: all)",
    )
    parser.add_argument(
        "--seconds", type=float, default=3.0, help="seconds per timed run (default 3)"
    )
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "results"), help="output folder")
    parser.add_argument(
        "--write-defaults",
        action="store_true",
        help="write the gains of --out's benchmark.json into the package's measured defaults "
        "(aigc_keras/measured_defaults.json) and stop",
    )
    parser.add_argument(
        "--merge",
        action="store_true",
        help="put the parts measured into --out's existing benchmark.json, keeping its other parts "
        "(e.g. --parts quality --merge)",
    )
    parser.add_argument("--child", choices=PARTS, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    from . import harness

    parts = args.parts.split(",")
    modes = args.modes.split(",")
    unknown = [p for p in parts if p not in PARTS] + [m for m in modes if m not in harness.MODES]
    if unknown or args.seconds <= 0:
        parser.error(
            f"unknown part or mode {unknown}, or --seconds not positive; "
            f"parts: {', '.join(PARTS)}; "
            f"modes: {', '.join(harness.MODES)}"
        )
    if args.write_defaults:
        report = json.loads((pathlib.Path(args.out) / "benchmark.json").read_text())
        print(f"wrote {write_defaults(report)}")
        return 0
    if args.child:
        print(json.dumps(_child(args.child, args.models, modes, args.seconds), default=float))
        return 0
    if args.fast:
        report = run(
            parts=("throughput", "pipeline"),
            models=["dcgan"],
            modes=["graph/float32"],
            seconds=min(args.seconds, 1.0),
            isolate=False,
        )
    else:
        models = args.models.split(",") if args.models else None
        report = run(
            parts=parts,
            models=models,
            modes=modes,
            seconds=args.seconds,
            out=None if args.merge else args.out,  # merged at the end: the stored parts survive
            mixed_models=args.mixed_models.split(",") if args.mixed_models else None,
        )
        if args.merge:
            report = merge(report, args.out, parts)
    path = write(report, args.out)
    print(path.read_text())
    return 0


if __name__ == "__main__":
    sys.exit(main())
