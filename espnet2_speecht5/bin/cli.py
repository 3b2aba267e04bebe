"""Shared plumbing for the command-line entry points in ``espnet2_speecht5.bin``.

:func:`run_main` sets up logging and turns bad input (:class:`DataError`, or an ``OSError``
such as a missing file) into one ``ERROR: <message>`` line on stderr and exit status 1,
without a traceback.  Programming errors still raise normally.
"""

from __future__ import annotations

import argparse
import dataclasses
import logging
import sys
from typing import Any, Callable, List, NoReturn, Optional

from espnet2.utils.nested_dict_action import NestedDictAction

from espnet2_speecht5.runtime.cli import run_cli, str2bool  # noqa: F401 (str2bool: for the entry points)

LOG_FORMAT = "%(asctime)s (%(module)s) %(message)s"
DATE_FORMAT = "%Y-%m-%dT%H:%M:%S"


def setup_logging(level: int = logging.INFO) -> None:
    """Log to stderr as ``2026-11-25T10:00:00 (module) message``."""
    root = logging.getLogger()
    for handler in list(root.handlers):
        root.removeHandler(handler)
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter(LOG_FORMAT, DATE_FORMAT))
    root.addHandler(handler)
    root.setLevel(level)


def fail(message: str) -> NoReturn:
    """Print ``ERROR: message`` to stderr and exit with status 1."""
    sys.stderr.flush()
    print(f"ERROR: {message}", file=sys.stderr, flush=True)
    sys.exit(1)


def run_main(main: Callable[[Optional[List[str]]], None], argv: Optional[List[str]] = None) -> None:
    """Run ``main(argv)`` with logging set up; exit 1 with a one-line message on bad input.

    The error handling is :func:`espnet2_speecht5.runtime.cli.run_cli`, shared with ``utils/``.
    """
    setup_logging()
    sys.exit(run_cli(main, argv))


def run_request(body: Callable[[Any], Any], request_class: type, args: argparse.Namespace) -> None:
    """Call ``body(request_class(...))`` with the parsed options that are fields of the request.

    Bad input (:class:`DataError`, ``OSError``) becomes one ``ERROR:`` line and exit status 1.
    """
    from espnet2_speecht5.runtime.errors import DataError

    logging.basicConfig(level=args.log_level, format="%(asctime)s (%(module)s:%(lineno)d) %(levelname)s: %(message)s")
    fields = {field.name for field in dataclasses.fields(request_class)}
    try:
        body(request_class(**{name: value for name, value in vars(args).items() if name in fields}))
    except DataError as err:
        fail(str(err))
    except OSError as err:
        fail(f"{err.strerror or err}: {err.filename}" if err.filename else str(err))


def add_quantization_argument(parser: argparse.ArgumentParser) -> None:
    """``--quantize_model``: int8 linear layers for CPU inference (ESPnet's ``--quantize_asr_model``)."""
    parser.add_argument("--quantize_model", type=str2bool, default=False,
                        help="int8 weights and activations in the linear layers (CPU only)")


def add_bf16_encoder_argument(parser: argparse.ArgumentParser) -> None:
    """``--bf16_encoder``: the speech encoder under bf16 autocast (encoder-heavy inference: ASR, SID)."""
    parser.add_argument("--bf16_encoder", type=str2bool, default=False,
                        help="run the speech encoder under bf16 autocast (fast where the CPU has AMX or "
                             "AVX-512 BF16, or on a GPU); combines with --quantize_model")


def add_speech_generation_arguments(group: argparse._ArgumentGroup, length_unit: str) -> None:
    """The options of every mel-generating entry point (TTS, VC): stop rule, pre-net dropout, vocoder, plots.

    Args:
        length_unit: what the length ratios count (``input token``, ``encoder frame``).
    """
    group.add_argument("--threshold", type=float, default=0.5, help="stop when a step's stop probabilities sum to this")
    group.add_argument("--minlenratio", type=float, default=0.0, help=f"minimum steps per {length_unit}, times r")
    group.add_argument("--maxlenratio", type=float, default=10.0, help=f"maximum steps per {length_unit}, times r")
    group.add_argument("--prenet_dropout", type=str2bool, default=None,
                       help="pre-net dropout on (default: the model's)")
    group.add_argument("--vocoder", default="griffin_lim", choices=["griffin_lim", "hifigan", "noisy_phase", "none"],
                       help="noisy_phase (enhancement only): the predicted clean mel as a gain on the noisy "
                            "recording's STFT, keeping its phase; the output has the recording's length")
    group.add_argument("--vocoder_conf", action=NestedDictAction, default={},
                       help="vocoder options, e.g. gain_floor=0.1 (noisy_phase) or n_iter=32 (griffin_lim)")
    group.add_argument("--vocoder_file", default=None, type=lambda v: None if v.lower() in ("none", "null") else v,
                       help="HiFi-GAN weights (folder or file)")
    group.add_argument("--num_plots", type=int, default=3, help="utterances to draw (mel and attention)")
