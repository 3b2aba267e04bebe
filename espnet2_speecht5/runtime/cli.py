"""Shared entry-point wrapper for the command-line tools in ``utils/``.

Every tool turns bad input into one line on stderr, ``ERROR: <message>``, and exit status 1,
so that the recipe log shows the file, line and utterance at fault instead of a traceback.
"""

from __future__ import annotations

import argparse
import sys
from typing import Callable, List, Optional

from espnet2_speecht5.runtime.errors import DataError


def run_cli(main: Callable[[Optional[List[str]]], int], argv: Optional[List[str]] = None) -> int:
    """Call ``main(argv)`` and map :class:`DataError` to ``ERROR: ...`` on stderr and status 1."""
    try:
        return int(main(argv) or 0)
    except DataError as err:
        print(f"ERROR: {err}", file=sys.stderr)
        return 1
    except BrokenPipeError:
        # The reader of our stdout went away (e.g. ``| head``); that is not an error of ours.
        return 0
    except OSError as err:
        # A file the tool had to read or write (not the data inside it): permission, disk full, ...
        where = f": {err.filename}" if getattr(err, "filename", None) else ""
        print(f"ERROR: {err.strerror or err}{where}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("ERROR: interrupted", file=sys.stderr)
        return 130


def str2bool(value: str) -> bool:
    """Parse ``true``/``false`` (also ``yes``/``no``, ``1``/``0``) for argparse."""
    lowered = str(value).strip().lower()  # str(): a YAML config may give a real bool
    if lowered in ("true", "yes", "1"):
        return True
    if lowered in ("false", "no", "0"):
        return False
    raise argparse.ArgumentTypeError(f"expected true or false, got '{value}'")
