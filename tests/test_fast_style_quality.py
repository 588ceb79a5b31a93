"""Fast style transfer against the optimisation it replaces (chapter 10): on held-out photograph
patches, the trained network's style loss is about the optimisation's, its content loss at most
half the style image's, and one image costs a small fraction of the optimisation's time."""

import time

import keras
import numpy as np
import pytest

from aigc_keras import data, hardware
from aigc_keras.models import style

pytestmark = pytest.mark.long  # skipped on a very slow machine: tests/file_schedule.py

SIZE, STEPS, BATCH, HELD_OUT = 64, 300, 8, 8
OPTIMISATION_STEPS, OPTIMISATION_RATE = 300, 0.005  # `aigc-keras stylize`'s defaults

# Measured (2026-12-04, 2-core AMD EPYC, one TensorFlow thread per run, float32; the offline
# multiscale extractor; style immunohistochemistry; the model's weights: style 1, content 2, TV 0.2;
# 300 Adam steps (1e-3) on batches of 8 photograph patches at 64x64; 8 held-out patches, each
# optimised from itself for 300 Adam steps at 0.005 with the same loss and extractor, its loss
# changing 0.18% / 0.22% over the last tenth), at seeds 0 / 1 (`measure(seed)`, 129 s each):
#   network:        style loss 0.594 / 0.523, content loss 0.470 / 0.499
#   optimisation:   style loss 0.596 / 0.559, content loss 0.317 / 0.416
#   style image crops (64x64) as the output: content loss 1.032 / 1.006
#   the photographs themselves: style loss 6.57 / 18.2
#   network / optimisation style loss 0.997 / 0.935; network content / style crops' 0.456 / 0.496;
#   network style / photographs' 0.090 / 0.029; the network 452 / 425 times faster per image (the
#   optimisation's time includes its tracing).
# With content weight 1 (16 patches) the network beat the optimisation's style loss (0.93 / 0.68
# of it) and kept less content than the bar asks (0.506 / 0.577 of the style crops'): the weights
# set where on the trade-off both land.
STYLE_RATIO_BAR = min(2.0, round(0.997 * 1.1, 2))  # highest ratio measured + 10%; the floor is 2
CONTENT_BAR = 0.5  # of the style image's content loss
SPEEDUP_BAR = 50.0
STYLE_REDUCTION_BAR = 0.1  # network style loss / the photographs' (measured 0.090 / 0.029)


def measure(seed: int = 0) -> dict:
    """Train the network at ``seed`` (the model's and the data order's), optimise the held-out
    patches, and return every figure the tests judge."""
    with hardware.precision_scope("float32"):  # as measured
        keras.utils.set_random_seed(seed)
        model = style.FastStyleTransfer(image_size=SIZE, network="multiscale", seed=seed)
        model.compile()
        patches = data.load(
            "photos",
            "train",
            image_size=SIZE,
            batch_size=BATCH,
            value_range=(0, 1),
            channels=3,
            repeat=True,
            drop_remainder=True,
            seed=seed,
        )
        model.fit(patches, steps_per_epoch=STEPS, epochs=1, verbose=0)
        held_out = data.load_arrays(
            "photos", "test", image_size=SIZE, value_range=(0, 1), channels=3, limit=HELD_OUT
        ).images
        model.stylize(held_out[:1])  # the first call builds the eager functions
        start = time.perf_counter()
        stylised = model.stylize(held_out)
        network_s = (time.perf_counter() - start) / HELD_OUT
        example = style.read_style(model.style)
        optimisation = style.ImageOptimisation(
            model.extractor,
            example,
            held_out,
            content=None,
            content_weight=model.content_weight,
            tv_weight=model.tv_weight,
        )
        optimisation.content_target = model.extractor(held_out)[model.extractor.content_layer]
        optimisation.compile(optimizer=keras.optimizers.Adam(OPTIMISATION_RATE))
        start = time.perf_counter()
        history = optimisation.optimise(OPTIMISATION_STEPS, epochs=10).history["loss"]
        optimisation_s = (time.perf_counter() - start) / HELD_OUT
        rng = np.random.default_rng(0)
        corners = zip(
            rng.integers(0, example.shape[0] - SIZE, HELD_OUT),
            rng.integers(0, example.shape[1] - SIZE, HELD_OUT),
            strict=True,
        )
        crops = np.stack([example[y : y + SIZE, x : x + SIZE] for y, x in corners])
        losses = {
            name: {k: float(v) for k, v in model.losses_of(held_out, images).items()}
            for name, images in (
                ("network", stylised),
                ("optimisation", optimisation.result()),
                ("style crops", crops),
                ("photographs", held_out),
            )
        }
    return {
        **losses,
        "plateau": abs(history[-1] - history[-2]) / history[-2],
        "speedup": optimisation_s / network_s,
    }


@pytest.fixture(scope="module")
def figures():
    return measure(0)


@pytest.mark.slow
def test_the_network_s_style_is_the_optimisation_s_and_it_keeps_the_content(figures):
    network, optimisation = figures["network"], figures["optimisation"]
    ratio = network["style"] / optimisation["style"]
    kept = network["content"] / figures["style crops"]["content"]
    print(
        {
            "network": {k: round(v, 3) for k, v in network.items()},
            "optimisation": {k: round(v, 3) for k, v in optimisation.items()},
            "style crops' content": round(figures["style crops"]["content"], 3),
            "photographs' style": round(figures["photographs"]["style"], 2),
            "style ratio": round(ratio, 3),
            "content / style crops'": round(kept, 3),
            "optimisation's last tenth": f"{figures['plateau']:.2%}",
            "speed-up per image": round(figures["speedup"]),
        }
    )
    assert figures["plateau"] < 0.01  # the optimisation is at its plateau
    assert ratio <= STYLE_RATIO_BAR
    assert kept <= CONTENT_BAR
    assert network["style"] <= STYLE_REDUCTION_BAR * figures["photographs"]["style"]


@pytest.mark.slow
def test_one_image_costs_a_small_fraction_of_the_optimisation(figures):
    assert figures["speedup"] >= SPEEDUP_BAR, figures["speedup"]
