"""Chapter 4's judges, checked before any translation is judged by them: the MNIST-M digit judge
reads held-out MNIST-M, the domain judge rejects its controls.  A file of its own, started early
(tests/file_schedule.py): the judges train once per run, here, and the CycleGAN tests load them."""

import cyclegan_bars
import pytest

from aigc_keras import data, judges


@pytest.fixture(scope="module")
def mnist_m_judges():
    return judges.load_mnist_m_judges(32)


@pytest.fixture(scope="module")
def held_out_digits():
    return cyclegan_bars.held_out_digits()


@pytest.mark.slow
def test_mnist_m_judges_pass_their_checks(mnist_m_judges, held_out_digits):
    """The digit judge reads held-out MNIST-M; the domain judge rejects every control, passes
    real held-out MNIST-M (against the other half) at least as often as the floor asks of the
    translations, and never passes the MNIST digits themselves."""
    a, b, controls = held_out_digits
    other = data.load_arrays("mnist_m", "test", image_size=32, shard=(0, 2))
    real = judges.domain_verdict(mnist_m_judges.domain, other.images, b.images, controls)
    source = judges.domain_verdict(mnist_m_judges.domain, a.images, b.images, controls)
    print(
        {
            "digit judge accuracy": mnist_m_judges.digit_accuracy,
            "domain judge accuracy": mnist_m_judges.domain.accuracy,
            "controls (rejected, KID)": {
                name: (round(f["rejected"], 3), round(f["kid"], 1))
                for name, f in real["controls"].items()
            },
            "real MNIST-M judged MNIST-M": real["judged"],
            "KID(real MNIST-M halves)": round(real["kid"], 3),
            "KID(MNIST, MNIST-M)": round(source["kid"], 2),
        }
    )
    assert mnist_m_judges.digit_accuracy >= 0.95
    for name, figures in real["controls"].items():
        assert figures["rejected"] >= judges.CONTROL_REJECTION, (name, figures)
    assert real["judge_rejects_controls"]
    assert real["pass_rate"] >= cyclegan_bars.FLOOR  # real MNIST-M reaches the floor
    assert source["judged"] <= 1 - judges.CONTROL_REJECTION and source["pass_rate"] == 0.0
