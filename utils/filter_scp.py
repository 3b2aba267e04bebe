#!/usr/bin/env python3
"""Print the lines of an scp file whose id is (or, with --exclude, is not) in a list.

Usage:
    filter_scp.py [--exclude] [--field N] idlist in.scp > out.scp

The list is the first column of ``idlist``; ``--field N`` (1-based, default 1) picks the
field of ``in.scp`` that is compared.  ``-`` reads ``in.scp`` from stdin.  Lines are printed
unchanged and in their order.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import List, Optional

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from espnet2_speecht5.data.scp_tools import filter_scp, read_id_set  # noqa: E402
from espnet2_speecht5.runtime.cli import run_cli  # noqa: E402
from espnet2_speecht5.runtime.errors import DataError  # noqa: E402


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--exclude", action="store_true", help="keep the lines whose id is NOT in the list")
    parser.add_argument("--field", type=int, default=1, help="1-based field of in.scp to compare (default 1)")
    parser.add_argument("idlist", help="file whose first column lists the ids")
    parser.add_argument("scp", help="input scp file, or - for stdin")
    args = parser.parse_args(argv)
    if args.field < 1:
        raise DataError(f"filter_scp.py: --field must be >= 1, not {args.field}")
    ids = read_id_set(args.idlist)
    scp = "/dev/stdin" if args.scp == "-" else args.scp
    out = sys.stdout
    for line in filter_scp(ids, scp, args.field, args.exclude):
        out.write(line + "\n")
    out.flush()
    return 0


if __name__ == "__main__":
    sys.exit(run_cli(main))
