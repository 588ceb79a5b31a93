"""Chapter 4's ablation: the quality training of test_cyclegan_quality.py without the cycle term
(cycle_weight 0, which also drops the identity term) for ABLATION_STEPS, a budget at which the
full model keeps the digit (cyclegan_bars has the figures); G no longer keeps it."""

import cyclegan_bars
import pytest


@pytest.mark.slow
@pytest.mark.extended  # skipped on a slow machine: tests/file_schedule.py
def test_without_the_cycle_term_the_digit_is_lost():
    figures = cyclegan_bars.translation_figures(0.0, steps=cyclegan_bars.ABLATION_STEPS)
    steps = cyclegan_bars.ABLATION_STEPS
    print({f"without the cycle term, {steps} steps": cyclegan_bars.short(figures)})
    assert figures["G(a)"]["class_kept"] <= cyclegan_bars.ABLATION_CLASS_KEPT_BAR
