"""Helpers of the bad-input catalogue (test_bad_input_catalogue.py).

The catalogue reuses the data-directory and CLI helpers of ``test/bin/bin_helpers.py``, the
tiny experiments of ``test/hub/hub_helpers.py`` and the tiny pre-training data set of
``test/pretrain/pretrain_data.py``; their folders are put on ``sys.path`` here, as pytest does when it
collects those folders.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Callable, List, Optional, Sequence, Tuple

import numpy as np
import soundfile as sf

from repo_testing import REPO_ROOT

for _folder in ("bin", "hub", "pretrain"):
    _path = str(REPO_ROOT / "test" / _folder)
    if _path not in sys.path:
        sys.path.append(_path)

import pretrain_data  # noqa: E402
from bin_helpers import assert_one_line_error, make_data_dir, read_kaldi, run_cli, tone  # noqa: E402

from hub_helpers import ASR_NET, CHAR_TOKENS, TTS_NET, pack, write_asr_exp, write_tts_exp  # noqa: E402

__all__ = [
    "ASR_NET",
    "CHAR_TOKENS",
    "TTS_NET",
    "assert_one_line_error",
    "call_main",
    "error_lines",
    "make_data_dir",
    "noise",
    "one_error_line",
    "pack",
    "pretrain_data",
    "read_kaldi",
    "run_cli",
    "run_entry",
    "run_python_module",
    "tone",
    "write_asr_exp",
    "write_tts_exp",
    "write_wav_scp",
]


def error_lines(stderr: str) -> List[str]:
    """The ``ERROR: `` lines of ``stderr``."""
    return [line for line in stderr.splitlines() if line.startswith("ERROR: ")]


def one_error_line(stderr: str, *needles: str) -> str:
    """Exactly one ``ERROR:`` line, no traceback, every needle in that line; returns the line."""
    assert "Traceback" not in stderr, stderr
    errors = error_lines(stderr)
    assert len(errors) == 1, stderr
    for needle in needles:
        assert needle in errors[0], (needle, errors[0])
    return errors[0]


def call_main(main: Callable[[Optional[List[str]]], object], argv: Sequence[str], capsys) -> Tuple[int, str, str]:
    """Run an entry point's ``main(argv)`` in this process, as ``python -m`` would.

    Returns ``(exit status, stdout, stderr)``; an exception other than ``SystemExit`` (a traceback
    on the command line) propagates and fails the test.
    """
    capsys.readouterr()
    try:
        status = main(list(argv))
        code = int(status or 0) if isinstance(status, int) else 0
    except SystemExit as exit_info:
        code = exit_info.code if isinstance(exit_info.code, int) else 1
    out, err = capsys.readouterr()
    return code, out, err


def run_entry(capsys, module: str, *args: str) -> subprocess.CompletedProcess:
    """``python -m espnet2_speecht5.bin.<module> args...`` run in this process (its ``main`` under the
    same ``run_cli`` wrapper as on the command line), to spare the interpreter start of each call.

    Log lines go to the logging system (see ``caplog``), not to the returned stderr.
    """
    import importlib

    from espnet2_speecht5.runtime.cli import run_cli as wrap

    main = importlib.import_module(f"espnet2_speecht5.bin.{module}").main
    code, out, err = call_main(lambda argv: wrap(main, argv), args, capsys)
    return subprocess.CompletedProcess([module, *args], code, out, err)


def noise(seconds: float, rate: int = 16000, seed: int = 0) -> np.ndarray:
    """(n,) float32 noise at 0.1 amplitude."""
    return (0.1 * np.random.default_rng(seed).standard_normal(int(seconds * rate))).astype(np.float32)


def write_wav_scp(
    folder: Path, name: str, wavs: Sequence[Tuple[str, np.ndarray, int]], subtype: str = "PCM_16"
) -> Path:
    """``folder/name`` listing ``folder/<utt>.wav`` for each ``(utt, samples, rate)``, written with ``subtype``."""
    folder.mkdir(parents=True, exist_ok=True)
    lines = []
    for utt, samples, rate in wavs:
        path = folder / f"{utt}.wav"
        sf.write(path, samples, rate, subtype=subtype)
        lines.append(f"{utt} {path}\n")
    scp = folder / name
    scp.write_text("".join(lines), encoding="utf-8")
    return scp


def run_python_module(module: str, *args: str, preexec_fn: Optional[Callable[[], None]] = None,
                      cwd: Optional[Path] = None) -> subprocess.CompletedProcess:
    """``python -m <module> args...`` with the repository on the path (text mode), optionally with limits."""
    import os

    env = dict(os.environ)
    env["PYTHONPATH"] = str(REPO_ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    return subprocess.run([sys.executable, "-m", module, *args], cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=120, preexec_fn=preexec_fn)
