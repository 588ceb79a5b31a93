"""Chapter 10's texture bar: Gram-matrix synthesis from noise with the offline extractor makes
crops a brick judge calls brick, while the judge rejects three fakes that share some of brick's
statistics (a file of its own: a judge and a synthesis)."""

import keras
import numpy as np
import pytest

from aigc_keras import data, judges
from aigc_keras.models import style

SIZE, IMAGES, STEPS, LEARNING_RATE = 64, 16, 200, 0.05
# Measured with one TensorFlow thread (as the test workers run) on the 2-core AMD EPYC, 2026-12-04,
# the style a 256x256 crop of brick's training rows, seeds 0 / 1 (the crop, the random filters and
# the starting noise): the Gram loss fell 99.1% / 99.2% (28.6 s of synthesis); the judge called 16
# of 16 crops brick at both seeds, and every control "not brick" (flat, pixel-shuffled and
# phase-randomised held-out brick: 0% judged brick each); KID to held-out brick 7.43 / 7.64 against
# the bar 68.0 (half the flat crops' 136: the lowest control).  Bars: the loss must fall by the
# issue's 90% (the measured fall minus 10% would be lower); at most one crop of the 16 may be
# missed (15 / 16 = 0.94; the binomial standard error there is 0.06); the judge's controls and the
# KID bar are judges.domain_verdict's own (each control rejected at least 90% of the time, KID
# below half the best control's).
# VGG19 with random weights rescaled the same way (the first choice) failed at this budget:
# 8 images, 300 steps at the same learning rate took 73.6 s (245 ms a step, 3.5x the multiscale
# network's), the Gram loss fell 93.0%, and the judge called 0 of 8 crops brick (KID 681): the
# reason the offline default is the multiscale network.
# On a 2-core AMD EPYC with AVX2 only (no AVX-512, so float32 where the first EPYC trained the judge
# in bfloat16; 2026-12-07), that judge called 53% / 37% of the held-out phase-randomised brick
# "brick" at seeds 0 / 1 (53% also at 10 epochs), so this test's judge also trains on
# phase-randomised training brick (judges.train_texture_judge(phase_randomised=True)); in float32
# there it rejected all three controls at both seeds, 100% each, and accuracy stayed 1.000.  This
# test there (seed 0): Gram loss fell 99.1%, 16 of 16 crops judged brick, KID 3.20 against the bar
# 18.72 (half the flat crops' 37.4).
LOSS_FALL_BAR = 0.90
JUDGED_BAR = 0.9


@pytest.mark.slow
@pytest.mark.extended  # skipped on a slow machine: tests/file_schedule.py
def test_synthesised_brick_passes_a_judge_that_rejects_three_fakes():
    crops = {
        (name, split): data.load_arrays(name, split, image_size=SIZE, source="offline").images
        for name in ("grass", "gravel", "brick")
        for split in ("train", "test")
    }
    judge = judges.train_texture_judge(
        np.concatenate([crops["grass", "train"], crops["gravel", "train"]]),
        crops["brick", "train"],
        np.concatenate([crops["grass", "test"], crops["gravel", "test"]]),
        crops["brick", "test"],
        epochs=5,
        phase_randomised=True,
    )
    example = data.load_arrays(
        "brick", "train", image_size=256, source="offline", num_crops=1, seed=0
    ).images[0]
    example = (example + 1.0) / 2.0  # [0, 1]
    keras.utils.set_random_seed(0)
    extractor = style.load_extractor("multiscale", calibration=example, seed=0)
    synthesis = style.ImageOptimisation(extractor, example, style.noise_images(IMAGES, SIZE))
    synthesis.compile(optimizer=keras.optimizers.Adam(LEARNING_RATE))
    start = float(synthesis.losses_of(synthesis.image)["style"])
    end = synthesis.optimise(STEPS, epochs=10).history["style"][-1]
    textures = synthesis.result().mean(axis=-1, keepdims=True) * 2.0 - 1.0  # grey, [-1, 1]
    real = crops["brick", "test"]
    controls = {
        **judges.texture_controls(real, seed=0),
        "phase-randomised": style.phase_randomise(real, seed=0, value_range=(-1, 1)),
    }
    verdict = judges.domain_verdict(judge, textures, real, controls)
    print(
        f"\ntexture synthesis ({extractor.description}; {IMAGES} images of {SIZE}x{SIZE}, "
        f"{STEPS} steps): Gram loss {start:.4f} -> {end:.4f} ({1 - end / start:.1%} fall); judge "
        f"accuracy {judge.accuracy:.3f}, synthesised judged brick {verdict['judged']:.3f}; KID "
        f"{verdict['kid']:.2f} (bar {verdict['kid_bar']:.2f}); controls "
        + ", ".join(
            f"{name} rejected {f['rejected']:.2f} (KID {f['kid']:.1f})"
            for name, f in verdict["controls"].items()
        )
    )
    assert 1.0 - end / start >= LOSS_FALL_BAR
    assert verdict["judge_rejects_controls"], verdict["controls"]
    assert verdict["kid_below_bar"] and verdict["pass_rate"] >= JUDGED_BAR, verdict
