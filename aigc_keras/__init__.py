"""aigc_keras: learn image generation with Keras 3 (TensorFlow backend).

Chapters: CNN, GANs (DCGAN, conditional, WGAN-GP), VAEs, CycleGAN, StyleGAN, PixelCNN, image
editing and evaluation.  Heavy modules (TensorFlow) are imported by the submodules, so
``import aigc_keras`` stays cheap.
"""

__version__ = "0.1.0"

from . import config  # noqa: E402 (after __version__, which the submodules read)

__all__ = ["config", "__version__"]
