#!/usr/bin/env python3
"""Give x-vectors named by LibriTTS id the utterance ids of our data directories.

Speaker embeddings extracted for LibriTTS (as for the SpeechT5 release, one 512-dim x-vector
per utterance) usually come as ``<LibriTTS id>.npy`` files, e.g. ``19_198_000000_000000.npy``,
in one folder or in subfolders.  Our utterance ids carry the speaker in front
(``19-19_198_000000_000000``, see ``prepare_libritts.py``).  This script makes a folder of
symbolic links ``<our id>.npy`` -> the original file for every utterance of the given data
directories, which stage 6 then reads with ``--spk_source files --spk_files <that folder>``.

An utterance without its ``.npy`` file stops the script with one line that counts them and
names the first.  The vectors themselves are checked by stage 6.

Example::

    python local/link_xvectors.py --src /data/libritts_xvectors --out data/xvector_npy \\
        data/train_460 data/dev_clean data/test_clean
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Dict, List, Optional, Sequence

from espnet2_speecht5.data.kaldi_dir import read_map
from espnet2_speecht5.runtime.errors import DataError


def index_npy(src: Path) -> Dict[str, Path]:
    """``{stem: absolute path}`` of every ``*.npy`` under ``src``; a stem found twice is an error."""
    if not src.is_dir():
        raise DataError("x-vector folder does not exist", src)
    found: Dict[str, Path] = {}
    for root, _dirs, files in sorted(os.walk(src)):
        for name in sorted(files):
            if not name.endswith(".npy"):
                continue
            path = (Path(root) / name).resolve()
            stem = name[: -len(".npy")]
            if stem in found:
                raise DataError(f"two files for one utterance: {found[stem]} and {path}", src)
            found[stem] = path
    if not found:
        raise DataError("no .npy files found", src)
    return found


def link_xvectors(src: Path, out: Path, data_dirs: Sequence[Path]) -> int:
    """Link ``out/<utt>.npy`` to ``src/**/<LibriTTS id>.npy`` for every utterance; return the count."""
    vectors = index_npy(src)
    links: Dict[str, Path] = {}
    for data_dir in data_dirs:
        missing: List[str] = []
        for utt in read_map(data_dir / "utt2spk"):
            original = utt.split("-", 1)[-1]
            if original in vectors:
                links[utt] = vectors[original]
            else:
                missing.append(original)
        if missing:
            raise DataError(
                f"{len(missing)} utterance(s) have no <LibriTTS id>.npy in {src}, the first: {missing[0]}.npy",
                data_dir / "utt2spk",
            )
    out.mkdir(parents=True, exist_ok=True)
    for utt, target in links.items():
        link = out / f"{utt}.npy"
        if link.is_symlink() or link.exists():
            link.unlink()
        link.symlink_to(target)
    return len(links)


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Command line: ``--src <npy folder> --out <link folder> <data dir>...``."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--src", type=Path, required=True, help="folder of <LibriTTS id>.npy files (searched deeply)")
    parser.add_argument("--out", type=Path, required=True, help="folder for the <utterance id>.npy links")
    parser.add_argument("data_dirs", type=Path, nargs="+", help="data directories whose utterances need a vector")
    args = parser.parse_args(argv)
    try:
        count = link_xvectors(args.src, args.out, args.data_dirs)
    except DataError as err:
        print(f"ERROR: {err}", file=sys.stderr)
        return 1
    print(f"{args.out}: {count} x-vector links into {args.src}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
