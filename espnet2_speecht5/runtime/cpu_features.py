"""What the CPU offers for low-precision arithmetic (read from ``/proc/cpuinfo`` on Linux)."""

from __future__ import annotations

import logging
from functools import lru_cache
from typing import FrozenSet

BF16_FLAGS = ("amx_bf16", "avx512_bf16")


@lru_cache(maxsize=1)
def cpu_flags() -> FrozenSet[str]:
    """The ``flags`` of the first processor in ``/proc/cpuinfo``; empty where it cannot be read."""
    try:
        with open("/proc/cpuinfo", encoding="ascii", errors="replace") as f:
            for line in f:
                if line.startswith("flags"):
                    return frozenset(line.split(":", 1)[1].split())
    except OSError:
        pass
    return frozenset()


def has_bf16_units() -> bool:
    """Whether the CPU computes bf16 natively (AMX-BF16 or AVX-512 BF16); without them bf16 runs
    emulated, slower than fp32."""
    return any(flag in cpu_flags() for flag in BF16_FLAGS)



def warn_if_bf16_emulated(what: str) -> None:
    """One warning line, naming ``what``, when this CPU computes bf16 only by emulation."""
    if not has_bf16_units():
        logging.getLogger(__name__).warning(
            "%s: this CPU has neither AMX-BF16 nor AVX-512 BF16, so bf16 runs emulated and is likely slower than fp32",
            what,
        )
