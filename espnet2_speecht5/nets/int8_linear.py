"""Int8 linear layers for CPU inference: int8 weights, activations quantised at run time.

``Int8DynamicLinear`` stores each weight row (output channel) as int8 with its own fp32 scale
(symmetric, ``scale = max|w| / 127``) and quantises its input at run time. Three kernels compute it:

* ``fbgemm_rows`` (the default where this torch has fbgemm): ``torch.ops.quantized.linear_dynamic``
  on weights packed once by ``torch.ops.quantized.linear_prepack``, with every input row first
  divided by its own largest magnitude and one sentinel row ``[-1, 1, 0, ...]`` appended, so that the
  range fbgemm picks for the call is always exactly [-1, 1]; the product is multiplied back by each
  row's magnitude and the bias added after. Each row's result is therefore the same whatever other
  rows share the call (other beam hypotheses, other utterances or sentences of a batch), bit for bit.
  Rows of small magnitude keep their resolution (on rows of mixed magnitude the error was half that
  of one scale per call; on a base feed-forward stack the two were equal, 0.0074 against 0.0069).
  Decoding with it gives the same hypotheses batched as one at a time.
* ``fbgemm``: the same operator on the raw input, which fbgemm quantises with one scale and zero
  point for the whole call (asymmetric, per tensor): one C++ call and nothing around it, the fastest
  at batch 1, where a decoding step calls ~60 small linear layers; but the rows of a call share a
  scale, so a row's result depends on its mates and a near-tie in a beam search can flip with them.
  It is the kernel behind torch's deprecated ``torch.ao.quantization.quantize_dynamic``; we call the
  operator directly, not that Python API.
* ``int_mm``: per-row symmetric quantisation of the input in Python, ``torch._int_mm`` (int8 x int8
  -> int32, the ATen kernel that torchao and inductor use), and the rescale
  ``y[n, o] = acc[n, o] * sx[n] * sw[o] + b[o]``. Slower at batch 1 (six small tensor operations
  around each product; without AVX-512 VNNI, ``torch._int_mm`` has no fast kernel at all: 0.8 s for
  160 x 768 -> 3072 on a 2-core AMD EPYC with AVX2 only, against 10 ms for fbgemm), and the path that
  survives if a torch release drops the quantized operators: :func:`quantize_linear_layers` falls
  back to it by itself. Its rows are quantised one by one, so they are independent too.

Why not the alternatives (measured on this 2-core CPU by ``bench/int8_backends.py``; see the
README's "Faster on the CPU"): torchao's ``Int8DynamicActivationInt8WeightConfig`` runs its tensor
subclass in eager mode at about the speed of fp32 at batch 1 here unless the model is compiled with
``torch.compile``, which an autoregressive decoder with a growing cache would recompile; onnxruntime
would need the decoder and its cache exported to ONNX.

:func:`quantize_linear_layers` swaps every ``nn.Linear`` of a model for one of these, in place.
"""

from __future__ import annotations

from typing import Optional

import torch
from torch import nn

INT8_MAX = 127.0


def quantize_rows(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Symmetric per-row int8 quantisation.

    Args:
        x: (N, K) float.

    Returns:
        (N, K) int8 values in [-127, 127], and (N, 1) float scales with ``x ~= q * scale``.
    """
    scale = x.abs().amax(dim=1, keepdim=True).clamp_min(1e-12) / INT8_MAX
    return torch.round(x / scale).clamp_(-INT8_MAX, INT8_MAX).to(torch.int8), scale


def fbgemm_available() -> bool:
    """Whether this torch has the quantized dynamic linear operators and the x86/fbgemm engine."""
    try:
        ops = torch.ops.quantized
        return hasattr(ops, "linear_dynamic") and hasattr(ops, "linear_prepack") and any(
            engine in torch.backends.quantized.supported_engines for engine in ("x86", "fbgemm"))
    except (AttributeError, RuntimeError):
        return False


KERNELS = ("fbgemm_rows", "fbgemm", "int_mm")
ROW_INDEPENDENT_KERNELS = ("fbgemm_rows", "int_mm")


class Int8DynamicLinear(nn.Module):
    """A linear layer with int8 weights (per output channel) and dynamically quantised int8 inputs.

    Buffers: ``weight_int8`` (in_features, out_features) int8, the transposed weight as ``_int_mm``
    takes it; ``weight_scale`` (out_features,) float32; ``bias`` (out_features,) float32 or None.
    With an fbgemm kernel the same weights are also packed for fbgemm (not a buffer; with
    ``fbgemm_rows`` packed without the bias, which is added after the per-row rescale).
    """

    def __init__(self, in_features: int, out_features: int, bias: bool = True, kernel: str = "int_mm") -> None:
        super().__init__()
        if kernel not in KERNELS:
            raise ValueError(f"kernel must be one of {KERNELS}, not {kernel!r}")
        self.in_features = in_features
        self.out_features = out_features
        self.kernel = kernel
        self.register_buffer("weight_int8", torch.zeros(in_features, out_features, dtype=torch.int8))
        self.register_buffer("weight_scale", torch.ones(out_features))
        self.register_buffer("bias", torch.zeros(out_features) if bias else None)
        self._packed = None
        self._sentinel: Optional[torch.Tensor] = None

    @classmethod
    def from_linear(cls, linear: nn.Linear, kernel: str = "int_mm") -> Int8DynamicLinear:
        """The int8 copy of a float ``linear`` (its weights are quantised once, here)."""
        if kernel == "fbgemm_rows" and linear.in_features < 2:
            kernel = "int_mm"  # the sentinel row needs two columns; int_mm is row-independent too
        layer = cls(linear.in_features, linear.out_features, bias=linear.bias is not None, kernel=kernel)
        with torch.no_grad():
            q, scale = quantize_rows(linear.weight.detach().float())
            layer.weight_int8.copy_(q.t().contiguous())
            layer.weight_scale.copy_(scale.view(-1))
            if linear.bias is not None:
                layer.bias.copy_(linear.bias.detach().float())
        layer = layer.to(linear.weight.device)
        if kernel != "int_mm":
            layer.pack()
        return layer

    def pack(self) -> None:
        """Pack the int8 weights for fbgemm (per output channel scales, zero points 0)."""
        import warnings

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # torch marks quantized tensor creation deprecated
            weight = torch.quantize_per_channel(
                self.weight_int8.t().float() * self.weight_scale[:, None], self.weight_scale.double(),
                torch.zeros(self.out_features, dtype=torch.long), 0, torch.qint8)
            bias = self.bias if self.kernel == "fbgemm" else None
            self._packed = torch.ops.quantized.linear_prepack(weight, bias)
        if self.kernel == "fbgemm_rows":  # the row that fixes every call's range at [-1, 1]
            sentinel = torch.zeros(1, self.in_features)
            sentinel[0, :2] = torch.tensor([-1.0, 1.0])
            self._sentinel = sentinel

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(..., in_features) float -> (..., out_features) float of the same dtype."""
        if self._packed is not None and self.kernel == "fbgemm":
            return torch.ops.quantized.linear_dynamic(x.float(), self._packed, True).to(x.dtype)
        rows = x.reshape(-1, self.in_features)
        if self._packed is not None:  # fbgemm_rows
            rows = rows.float()
            magnitude = rows.abs().amax(dim=1, keepdim=True).clamp_min(1e-12)  # (N, 1)
            scaled = torch.cat([rows / magnitude, self._sentinel])  # (N + 1, in): the call's range is [-1, 1]
            y = torch.ops.quantized.linear_dynamic(scaled, self._packed, True)[:-1] * magnitude
            if self.bias is not None:
                y = y + self.bias
            return y.to(x.dtype).reshape(*x.shape[:-1], self.out_features)
        q, scale = quantize_rows(rows.float())
        acc = torch._int_mm(q, self.weight_int8)  # (N, out) int32
        y = acc.float() * (scale * self.weight_scale)
        if self.bias is not None:
            y = y + self.bias
        return y.to(x.dtype).reshape(*x.shape[:-1], self.out_features)

    def extra_repr(self) -> str:
        return (f"in_features={self.in_features}, out_features={self.out_features}, bias={self.bias is not None}, "
                f"kernel={self.kernel}")


def quantize_linear_layers(model: nn.Module, skip: Optional[tuple[str, ...]] = None,
                           kernel: Optional[str] = None) -> int:
    """Replace every ``nn.Linear`` under ``model`` by an :class:`Int8DynamicLinear`, in place.

    Args:
        model: a float model on the CPU, in eval mode (int8 layers have no gradients).
        skip: module name prefixes to leave in float (``("speech_prenet",)``).
        kernel: one of :data:`KERNELS`; None: ``fbgemm_rows`` where this torch has fbgemm, else
            ``int_mm`` (both give each row a result independent of the other rows of a call).

    Returns:
        the number of layers replaced.
    """
    for p in model.parameters():
        if p.device.type != "cpu":
            raise ValueError(f"int8 quantisation is for CPU inference; the model is on {p.device}")
        break
    if kernel is None:
        kernel = "fbgemm_rows" if fbgemm_available() else "int_mm"
    elif kernel not in KERNELS:
        raise ValueError(f"kernel must be one of {KERNELS}, not {kernel!r}")
    elif kernel != "int_mm" and not fbgemm_available():
        raise ValueError(f"kernel {kernel!r} needs fbgemm's quantized operators, which this torch lacks")
    replaced = 0
    for name, module in list(model.named_modules()):
        for child_name, child in list(module.named_children()):
            full = f"{name}.{child_name}" if name else child_name
            if type(child) is nn.Linear and not (skip and full.startswith(skip)):
                setattr(module, child_name, Int8DynamicLinear.from_linear(child, kernel))
                replaced += 1
    return replaced
