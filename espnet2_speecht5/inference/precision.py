"""The precision options shared by the inference classes.

``quantize_model=True`` (``--quantize_model true`` on every inference entry point and stage 9)
replaces the model's linear layers by int8 ones (:mod:`espnet2_speecht5.nets.int8_linear`) for CPU
inference. The convolutional waveform pre-net, the HiFi-GAN vocoder and the tied text output
projection stay in float.

``bf16_encoder=True`` (``--bf16_encoder true`` in ASR and SID inference) runs the speech encoder,
the waveform pre-net included, under ``torch.autocast(device, bfloat16)``; its output goes back to
float32 before decoding or classification. It pays where the CPU has AMX or AVX-512 BF16 (or on
a GPU); elsewhere it warns. It combines with ``quantize_model``.
"""

from __future__ import annotations

import logging

import torch
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


def check_bf16_encoder(bf16_encoder: bool, device: str) -> None:
    """Log what ``bf16_encoder`` does here; warn on a CPU that computes bf16 only by emulation."""
    if not bf16_encoder:
        return
    if str(device) == "cpu":
        from espnet2_speecht5.runtime.cpu_features import warn_if_bf16_emulated

        warn_if_bf16_emulated("bf16_encoder")
    logger.info("bf16_encoder: the speech encoder runs under torch.autocast(%s, bfloat16)", device)


def encoder_autocast(enabled: bool, device: str) -> torch.autocast:
    """``torch.autocast(<device type>, bfloat16)``, switched on only when ``enabled``."""
    return torch.autocast(device_type=torch.device(device).type, dtype=torch.bfloat16, enabled=enabled)
