"""The int8 option shared by every inference class.

``quantize_model=True`` (``--quantize_model true`` on every inference entry point and stage 9)
replaces the model's linear layers by int8 ones (:mod:`espnet2_speecht5.nets.int8_linear`) for CPU
inference. The convolutional waveform pre-net, the HiFi-GAN vocoder and the tied text output
projection stay in float.
"""

from __future__ import annotations

import logging

from torch import nn

from espnet2_speecht5.runtime.errors import DataError

logger = logging.getLogger(__name__)


def apply_quantization(model: nn.Module, quantize_model: bool, device: str) -> None:
    """Quantise ``model``'s linear layers to int8 in place when ``quantize_model`` is set.

    Raises:
        DataError: ``quantize_model`` on a device other than the CPU.
    """
    if not quantize_model:
        return
    if str(device) != "cpu":
        raise DataError(f"--quantize_model is int8 inference on the CPU; the device is {device} "
                        f"(on a GPU use --dtype float16 or bfloat16 instead)")
    from espnet2_speecht5.nets.int8_linear import quantize_linear_layers

    count = quantize_linear_layers(model.eval())
    logger.info("int8: %d linear layers quantised (weights per output channel, activations per row at run time)",
                count)
