"""Chapter 4's quality bars: MNIST -> MNIST-M judged by a digit judge and a domain judge (the
judges' own checks: test_mnist_m_judges.py; the ablation without the cycle term:
test_cyclegan_ablation.py; the bars and what they were set from: cyclegan_bars.py)."""

import cyclegan_bars
import pytest


@pytest.fixture(scope="module")
def translation():
    return cyclegan_bars.translation_figures(10.0)


@pytest.mark.slow
def test_mnist_to_mnist_m_keeps_the_digit(translation):
    figures = cyclegan_bars.short(translation)
    print(figures)
    assert translation["G(a)"]["class_kept"] >= cyclegan_bars.CLASS_KEPT_BAR, figures


@pytest.mark.slow
def test_mnist_to_mnist_m_passes_for_mnist_m(translation):
    g = translation["G(a)"]
    assert g["judge_rejects_controls"] and g["kid_below_bar"], cyclegan_bars.short(translation)
    assert g["pass_rate"] >= cyclegan_bars.DOMAIN_PASS_BAR, cyclegan_bars.short(translation)
