"""Generate the offline mini_speecht5 corpus (espeak-ng voices reading template sentences).

    python -m espnet2_speecht5.bin.make_mini_corpus --outdir downloads/mini_speecht5 [--seed 0] [--nj 2]

Returns at once when ``--outdir`` already holds a finished corpus with the same settings.
"""

from __future__ import annotations

import argparse
import logging
import sys
from typing import List, Optional

from tqdm import tqdm

from espnet2_speecht5.bin.cli import fail, setup_logging
from espnet2_speecht5.corpus.mini import MiniConfig, build_corpus
from espnet2_speecht5.runtime.errors import DataError


def get_parser() -> argparse.ArgumentParser:
    defaults = MiniConfig()
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--outdir", required=True, help="corpus folder (created; empty or an earlier corpus)")
    parser.add_argument("--seed", type=int, default=defaults.seed, help="random seed")
    parser.add_argument("--nj", type=int, default=None, help="parallel jobs (default: CPU cores)")
    parser.add_argument("--n_train", type=int, default=defaults.n_train, help="train sentences")
    parser.add_argument("--n_dev", type=int, default=defaults.n_dev, help="dev sentences")
    parser.add_argument("--n_test", type=int, default=defaults.n_test, help="test sentences")
    parser.add_argument("--readers", type=int, default=defaults.readers, help="voices per sentence (even)")
    parser.add_argument("--n_text", type=int, default=defaults.n_text, help="extra text-only sentences")
    parser.add_argument("--no_progress", action="store_true", help="no progress bar")
    return parser


def main(argv: Optional[List[str]] = None) -> None:
    args = get_parser().parse_args(argv)
    config = MiniConfig(
        seed=args.seed,
        n_train=args.n_train,
        n_dev=args.n_dev,
        n_test=args.n_test,
        readers=args.readers,
        n_text=args.n_text,
    )
    bar: Optional[tqdm] = None

    def progress(done: int, total: int) -> None:
        nonlocal bar
        if args.no_progress:
            return
        if bar is None:
            bar = tqdm(total=total, desc="mini_speecht5 audio", unit="file", file=sys.stderr, mininterval=1.0)
        bar.update(done - bar.n)

    try:
        summary = build_corpus(args.outdir, config, nj=args.nj, on_progress=progress)
    finally:
        if bar is not None:
            bar.close()
    logging.info("%s", summary.line())


def cli(argv: Optional[List[str]] = None) -> None:
    """Entry point: one ``ERROR:`` line and exit status 1 on any failure to make the corpus."""
    setup_logging()
    try:
        main(argv)
    except (DataError, RuntimeError, ValueError) as err:
        fail(str(err).splitlines()[0] if str(err) else type(err).__name__)
    except OSError as err:
        fail(f"{err.strerror or err}: {err.filename}" if err.filename else str(err))
    except KeyboardInterrupt:
        fail("interrupted")


if __name__ == "__main__":
    cli()
