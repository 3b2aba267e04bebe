"""Why ``--quantize_model`` uses our ``Int8DynamicLinear``: the int8 implementations on this machine.

Times one base-size SpeechT5 feed-forward stack (6 x Linear 768->3072, GELU, Linear 3072->768) at
batch 1 (a decoding step) and at 250 rows (a 5 s utterance through an encoder layer), in fp32 and
with each int8 implementation that runs here, in one process with the same inputs::

    tools/venv/bin/python bench/int8_backends.py [--threads 2]

Implementations: ours (``espnet2_speecht5.nets.int8_linear``, both kernels); torch's
``torch.ao.quantization.quantize_dynamic`` (deprecated); torchao's
``Int8DynamicActivationInt8WeightConfig`` and ``Int8WeightOnlyConfig`` in eager mode, when torchao
is installed (it is not one of the project's requirements). Prints a markdown table of medians and
ratios to fp32, and the largest relative error of each against fp32.
"""

from __future__ import annotations

import argparse
import copy
import statistics
import time
import warnings
from typing import Callable, Dict, List, Optional

import torch
from torch import nn


def ffn_stack(seed: int = 0) -> nn.Module:
    torch.manual_seed(seed)
    blocks = [nn.Sequential(nn.Linear(768, 3072), nn.GELU(), nn.Linear(3072, 768)) for _ in range(6)]
    return nn.Sequential(*blocks).eval()


def median_ms(run: Callable[[], torch.Tensor], repeats: int) -> float:
    times: List[float] = []
    with torch.no_grad():
        for _ in range(3):
            run()
        for _ in range(repeats):
            start = time.perf_counter()
            run()
            times.append(time.perf_counter() - start)
    return 1e3 * statistics.median(times)


def builders() -> Dict[str, Callable[[nn.Module], Optional[nn.Module]]]:
    def ours(kernel: str) -> Callable[[nn.Module], Optional[nn.Module]]:
        def build(model: nn.Module) -> nn.Module:
            from espnet2_speecht5.nets.int8_linear import quantize_linear_layers

            quantize_linear_layers(model, kernel=kernel)
            return model

        return build

    def torch_ao(model: nn.Module) -> nn.Module:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return torch.ao.quantization.quantize_dynamic(model, {nn.Linear}, dtype=torch.qint8)

    def torchao(config_name: str) -> Callable[[nn.Module], Optional[nn.Module]]:
        def build(model: nn.Module) -> Optional[nn.Module]:
            try:
                import torchao.quantization as tq
            except ImportError:
                return None
            tq.quantize_(model, getattr(tq, config_name)())
            return model

        return build

    return {
        "ours, kernel fbgemm_rows (the default): linear_dynamic on rows scaled one by one": ours("fbgemm_rows"),
        "ours, kernel fbgemm: torch.ops.quantized.linear_dynamic, one scale per call": ours("fbgemm"),
        "ours, kernel int_mm (the fallback): torch._int_mm": ours("int_mm"),
        "torch.ao.quantization.quantize_dynamic": torch_ao,
        "torchao Int8DynamicActivationInt8Weight, eager": torchao("Int8DynamicActivationInt8WeightConfig"),
        "torchao Int8WeightOnly, eager": torchao("Int8WeightOnlyConfig"),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=30)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    base = ffn_stack()
    inputs = {1: torch.randn(1, 768), 250: torch.randn(250, 768)}
    rows = []
    fp32 = {n: median_ms(lambda x=x: base(x), args.repeats) for n, x in inputs.items()}
    rows.append(("fp32 (nn.Linear)", fp32[1], fp32[250], 0.0))
    with torch.no_grad():
        reference = base(inputs[250])
    for name, build in builders().items():
        model = build(copy.deepcopy(base))
        if model is None:
            rows.append((name + " (not installed)", None, None, None))
            continue
        times = {n: median_ms(lambda x=x, m=model: m(x), args.repeats) for n, x in inputs.items()}
        with torch.no_grad():
            error = float((model(inputs[250]) - reference).norm() / reference.norm())
        rows.append((name, times[1], times[250], error))
    print(f"{args.threads} threads, torch {torch.__version__}\n")
    print("| implementation | batch 1 ms | ratio to fp32 | 250 rows ms | ratio to fp32 | relative error |")
    print("|---|---|---|---|---|---|")
    for name, one, many, error in rows:
        if one is None:
            print(f"| {name} | – | – | – | – | – |")
            continue
        print(f"| {name} | {one:.2f} | {one / fp32[1]:.2f} | {many:.1f} | {many / fp32[250]:.2f} | {error:.4f} |")


if __name__ == "__main__":
    main()
