"""Files between stages: a missing one names the stage that makes it; counting and splitting scp files."""

from __future__ import annotations

from pathlib import Path

from espnet2_speecht5.runtime.errors import DataError


class StageInputMissing(DataError):
    """A file an earlier stage makes is missing: the message says which stage to run."""

    def __init__(self, path: Path, stage: int) -> None:
        super().__init__(f"{path} does not exist: run stage {stage} first (--stage {stage})")


def require(path: Path, stage: int) -> Path:
    """``path`` if it exists, else :class:`StageInputMissing` naming the stage that makes it."""
    if not Path(path).exists():
        raise StageInputMissing(Path(path), stage)
    return Path(path)


def count_lines(path: Path) -> int:
    with open(path, "rb") as handle:
        return sum(1 for _ in handle)


def split_keys(scp: Path, n: int, pattern: Path) -> None:
    """``scp`` in ``n`` contiguous parts, written to ``pattern`` with JOB = 1..n."""
    from espnet2_speecht5.data.scp_tools import pattern_outputs, split_scp

    pattern.parent.mkdir(parents=True, exist_ok=True)
    split_scp(scp, pattern_outputs(str(pattern), n))
