#!/usr/bin/env python3
"""Download a corpus archive (tar or zip) once, unpack it, and print the corpus folder.

Usage:
    download_and_unpack.py [--expect RELATIVE_PATH] [--keep_archive] URL DEST

``URL`` is http(s), file://, or a local archive path.  ``DEST`` receives the unpacked corpus
and a ``.done`` marker; a second run prints the folder at once without downloading.  With
``--expect``, the printed folder is the first one under the corpus that holds RELATIVE_PATH
(for example ``etc/an4_train.transcription``), and it is an error when none does.
A killed download or unpack leaves only ``*.part`` or ``.unpack.tmp`` behind and starts again.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path
from typing import List, Optional

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from espnet2_speecht5.data.download import download_and_unpack, find_file  # noqa: E402
from espnet2_speecht5.runtime.cli import run_cli  # noqa: E402
from espnet2_speecht5.runtime.errors import DataError  # noqa: E402


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--expect", help="a path relative to the corpus folder that must exist")
    parser.add_argument("--keep_archive", action="store_true", help="keep the downloaded archive after unpacking")
    parser.add_argument("url", help="archive URL (http, https, file) or local path")
    parser.add_argument("dest", help="folder to unpack into")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s (download_and_unpack) %(message)s", stream=sys.stderr)
    root = download_and_unpack(args.url, args.dest, keep_archive=args.keep_archive)
    if args.expect:
        found = find_file(root, args.expect)
        if found is None:
            raise DataError(f"no folder under {root} holds {args.expect}: is {args.url} the right archive?")
        root = found
    print(root)
    return 0


if __name__ == "__main__":
    sys.exit(run_cli(main))
