"""Print one value of a YAML config, for the stage driver (e.g. the label rate of a training config).

Usage::

    python -m espnet2_speecht5.bin.config_value --config conf/train.yaml --key model_conf.label_rate --default 50

``--key`` walks nested mappings by dots. A missing or empty (null) key prints ``--default`` (without one it is an
error); a key whose value is a mapping or a list is an error. Booleans print as ``true``/``false``,
other scalars as written. Errors are one ``ERROR:`` line and exit status 1.
"""

from __future__ import annotations

import argparse
from typing import List, Optional

from espnet2_speecht5.bin.cli import run_main
from espnet2_speecht5.runtime.errors import DataError
from espnet2_speecht5.train.checks import config_value


def get_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", required=True, help="the YAML file")
    parser.add_argument("--key", required=True, help="dotted key, e.g. model_conf.label_rate")
    parser.add_argument("--default", help="printed when the key is missing (without it: an error)")
    return parser


def main(argv: Optional[List[str]] = None) -> None:
    args = get_parser().parse_args(argv)
    try:
        value = config_value(args.config, args.key)
    except KeyError as err:
        if args.default is None:
            raise DataError(f"has no key {err.args[0]} (and no --default was given)", args.config) from None
        value = args.default
    if isinstance(value, (dict, list)):
        raise DataError(f"{args.key} is a {type(value).__name__}, not one value", args.config)
    print(("true" if value else "false") if isinstance(value, bool) else value)


if __name__ == "__main__":
    run_main(main)
