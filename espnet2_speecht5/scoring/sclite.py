"""Stage 10: error rates from NIST sclite, the way ESPnet recipes report them.

The reference and hypothesis transcripts are turned into sclite ``trn`` files, one
utterance a line::

    t o k e n s (spk-utt)

sclite takes the part of the id before the first ``-`` as the speaker, so every id is
written as ``<speaker>-<utterance>`` with the speaker from ``utt2spk`` (a ``-`` inside a
speaker name becomes ``_`` so that the grouping stays right).  What a "token" is depends
on the metric:

* ``wer``: whitespace-separated words;
* ``cer``: characters, a space written as ``<space>`` (ESPnet's char tokenizer does the same);
* ``ter``: the model's own units: sentencepiece pieces for ``bpe``, characters for ``char``,
  words for ``word``.

:func:`run_sclite` runs ``sclite -r ref.trn trn -h hyp.trn trn -i rm -o all stdout`` and keeps
its report in ``result.txt``; :func:`parse_sclite_report` reads the ``Sum/Avg`` row (percentages,
what RESULTS.md shows) and the ``Sum`` row (raw counts) from that report.  The error rates are
sclite's own: nothing here counts errors by hand.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Dict, Iterable, List, Mapping, Optional, Tuple, Union

from espnet2_speecht5.runtime.errors import DataError
from espnet2_speecht5.runtime.types import PathLike

METRICS = ("wer", "cer", "ter")
SPACE_SYMBOL = "<space>"
# Debian's sctk keeps sclite out of PATH; path.sh adds this folder, and we look there too.
SCLITE_FALLBACK_DIRS = ("/usr/lib/sctk/bin", "/usr/local/bin", "/usr/bin")
SUMMARY_FIELDS = ("Snt", "Wrd", "Corr", "Sub", "Del", "Ins", "Err", "S.Err")


@dataclass
class ScliteSummary:
    """One row of sclite's system summary: sentence and word counts, then the six scores."""

    snt: int
    wrd: int
    corr: Union[int, float]
    sub: Union[int, float]
    dele: Union[int, float]
    ins: Union[int, float]
    err: Union[int, float]
    s_err: Union[int, float]

    def values(self) -> Tuple[Union[int, float], ...]:
        """The fields in the order of :data:`SUMMARY_FIELDS`."""
        return (self.snt, self.wrd, self.corr, self.sub, self.dele, self.ins, self.err, self.s_err)

    def as_dict(self) -> Dict[str, Union[int, float]]:
        """The fields keyed by sclite's column names."""
        return dict(zip(SUMMARY_FIELDS, self.values()))


@dataclass
class ScliteResult:
    """The two summary rows of one sclite report: percentages and raw counts."""

    percent: ScliteSummary
    counts: ScliteSummary

    def as_dict(self) -> Dict[str, Dict[str, Union[int, float]]]:
        return {"percent": self.percent.as_dict(), "counts": self.counts.as_dict()}


# ------------------------------------------------------------------------ tokenisation
def words(text: str) -> List[str]:
    """Whitespace-separated words."""
    return text.split()


def characters(text: str) -> List[str]:
    """Characters, each run of whitespace becoming one ``<space>`` token."""
    out: List[str] = []
    for index, word in enumerate(text.split()):
        if index:
            out.append(SPACE_SYMBOL)
        out.extend(word)
    return out


def sentencepiece_splitter(bpemodel: PathLike) -> Callable[[str], List[str]]:
    """A function that splits text into the pieces of the sentencepiece model ``bpemodel``."""
    import sentencepiece as spm

    if not Path(bpemodel).is_file():
        raise DataError("sentencepiece model does not exist", bpemodel)
    processor = spm.SentencePieceProcessor()
    processor.load(str(bpemodel))

    def split(text: str) -> List[str]:
        return list(processor.encode_as_pieces(text))

    return split


def tokenizer_for(metric: str, token_type: str = "char", bpemodel: Optional[PathLike] = None) -> Callable:
    """The splitter that turns a transcript into sclite tokens for ``metric``.

    Raises:
        DataError: an unknown metric or token type, or ``ter`` on ``bpe`` without a model.
    """
    if metric == "wer":
        return words
    if metric == "cer":
        return characters
    if metric != "ter":
        raise DataError(f"unknown metric '{metric}' (choose from {', '.join(METRICS)})")
    if token_type == "bpe":
        if bpemodel is None:
            raise DataError("the token error rate of a bpe model needs --bpemodel")
        return sentencepiece_splitter(bpemodel)
    if token_type == "char":
        return characters
    if token_type == "word":
        return words
    raise DataError(f"unknown token type '{token_type}' (char, bpe or word)")


# ------------------------------------------------------------------------ trn files
def read_text(path: PathLike) -> Dict[str, str]:
    """A Kaldi ``text`` file as ``{utt: transcript}``; a line with only an id maps to ``""``.

    Raises:
        DataError: the file is missing or an id repeats.
    """
    path = Path(path)
    if not path.is_file():
        raise DataError("does not exist", path)
    out: Dict[str, str] = {}
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        parts = line.strip().split(maxsplit=1)
        utt = parts[0]
        if utt in out:
            raise DataError(f"utterance '{utt}' appears twice", path, number)
        out[utt] = parts[1] if len(parts) > 1 else ""
    return out


def trn_id(utt: str, utt2spk: Optional[Mapping[str, str]]) -> str:
    """The ``speaker-utterance`` id that makes sclite group the utterance under its speaker."""
    speaker = utt2spk.get(utt, utt) if utt2spk is not None else utt.split("-")[0].split("_")[0]
    return f"{speaker.replace('-', '_')}-{utt}"


def trn_lines(
    texts: Mapping[str, str], split: Callable[[str], List[str]], utt2spk: Optional[Mapping[str, str]] = None
) -> List[str]:
    """``tokens (spk-utt)`` lines for every utterance of ``texts``, in sorted id order."""
    lines = []
    for utt in sorted(texts):
        tokens = split(texts[utt])
        lines.append(" ".join([*tokens, f"({trn_id(utt, utt2spk)})"]))
    return lines


def write_trn_pair(
    ref: Mapping[str, str],
    hyp: Mapping[str, str],
    outdir: PathLike,
    split: Callable[[str], List[str]],
    utt2spk: Optional[Mapping[str, str]] = None,
) -> Tuple[Path, Path]:
    """Write ``ref.trn`` and ``hyp.trn`` for the utterances of ``ref`` into ``outdir``.

    An utterance that the hypotheses lack is scored as an empty hypothesis (all deletions),
    so that a failed decode cannot make the error rate look better.

    Raises:
        DataError: the hypotheses hold an utterance that the reference does not.
    """
    extra = sorted(set(hyp) - set(ref))
    if extra:
        raise DataError(f"{len(extra)} hypotheses have no reference, e.g. '{extra[0]}'")
    outdir = Path(outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    ref_trn, hyp_trn = outdir / "ref.trn", outdir / "hyp.trn"
    ref_trn.write_text("".join(line + "\n" for line in trn_lines(ref, split, utt2spk)), encoding="utf-8")
    full_hyp = {utt: hyp.get(utt, "") for utt in ref}
    hyp_trn.write_text("".join(line + "\n" for line in trn_lines(full_hyp, split, utt2spk)), encoding="utf-8")
    return ref_trn, hyp_trn


# ------------------------------------------------------------------------ sclite
def find_sclite() -> str:
    """The sclite executable: ``$SCLITE``, then PATH, then Debian's sctk folder.

    Raises:
        DataError: sclite is not installed.
    """
    explicit = os.environ.get("SCLITE")
    if explicit:
        return explicit
    found = shutil.which("sclite")
    if found:
        return found
    for folder in SCLITE_FALLBACK_DIRS:
        candidate = Path(folder) / "sclite"
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return str(candidate)
    raise DataError("sclite is not installed (apt-get install sctk, or set SCLITE=/path/to/sclite)")


def _summary_row(cells: List[str], path: str, counts: bool) -> ScliteSummary:
    numbers = " ".join(cells[1:]).split()
    if len(numbers) != 8:
        raise DataError(f"cannot read sclite's summary row '{' | '.join(cells)}'", path)
    try:
        snt, wrd = (int(float(x)) for x in numbers[:2])
        rest = [int(float(x)) if counts else float(x) for x in numbers[2:]]
    except ValueError:
        raise DataError(f"cannot read sclite's summary row '{' | '.join(cells)}'", path) from None
    return ScliteSummary(snt, wrd, *rest)


def parse_sclite_report(report: str, path: str = "result.txt") -> ScliteResult:
    """Read the ``Sum/Avg`` (percent) and ``Sum`` (counts) rows of ``sclite -o all`` output.

    Raises:
        DataError: one of the two rows is missing.
    """
    percent = counts = None
    for line in report.splitlines():
        stripped = line.strip()
        if not stripped.startswith("|"):
            continue
        cells = [cell.strip() for cell in stripped.strip("|").split("|")]
        if not cells:
            continue
        if cells[0] == "Sum/Avg" and percent is None:
            percent = _summary_row(cells, path, counts=False)
        elif cells[0] == "Sum" and counts is None:
            counts = _summary_row(cells, path, counts=True)
    if percent is None or counts is None:
        raise DataError("no 'Sum/Avg' and 'Sum' rows: is this sclite's '-o all' report?", path)
    return ScliteResult(percent=percent, counts=counts)


def run_sclite(ref_trn: PathLike, hyp_trn: PathLike, result_txt: PathLike) -> ScliteResult:
    """Score ``hyp_trn`` against ``ref_trn`` with sclite; keep the full report in ``result_txt``.

    Raises:
        DataError: sclite is missing or fails.
    """
    command = [find_sclite(), "-r", str(ref_trn), "trn", "-h", str(hyp_trn), "trn", "-i", "rm", "-o", "all", "stdout"]
    proc = subprocess.run(command, capture_output=True, text=True)
    if proc.returncode != 0:
        tail = (proc.stderr or proc.stdout).strip().splitlines()
        raise DataError(f"sclite failed (exit {proc.returncode}): {tail[-1] if tail else 'no output'}")
    Path(result_txt).write_text(proc.stdout, encoding="utf-8")
    return parse_sclite_report(proc.stdout, str(result_txt))


def score(
    ref: Mapping[str, str],
    hyp: Mapping[str, str],
    outdir: PathLike,
    metric: str,
    token_type: str = "char",
    bpemodel: Optional[PathLike] = None,
    utt2spk: Optional[Mapping[str, str]] = None,
) -> ScliteResult:
    """Write the trn files for ``metric`` into ``outdir``, run sclite, and return its summary."""
    split = tokenizer_for(metric, token_type, bpemodel)
    ref_trn, hyp_trn = write_trn_pair(ref, hyp, outdir, split, utt2spk)
    return run_sclite(ref_trn, hyp_trn, Path(outdir) / "result.txt")


def summary_line(metric: str, result: ScliteResult) -> str:
    """A one-line human summary, e.g. ``CER 4.2% (Snt 30, Wrd 512, Sub 1.0 Del 2.0 Ins 1.2)``."""
    p = result.percent
    return (
        f"{metric.upper()} {p.err:.1f}% (Snt {p.snt}, Wrd {p.wrd}, Corr {p.corr:.1f} Sub {p.sub:.1f} "
        f"Del {p.dele:.1f} Ins {p.ins:.1f}, S.Err {p.s_err:.1f})"
    )


def summaries_as_dict(results: Iterable[Tuple[str, ScliteResult]]) -> Dict[str, Dict]:
    """``{metric: {"percent": {...}, "counts": {...}}}`` for a JSON summary file."""
    return {metric: result.as_dict() for metric, result in results}


__all__ = [
    "METRICS",
    "SUMMARY_FIELDS",
    "ScliteResult",
    "ScliteSummary",
    "characters",
    "parse_sclite_report",
    "read_text",
    "run_sclite",
    "score",
    "summary_line",
    "tokenizer_for",
    "trn_id",
    "trn_lines",
    "words",
    "write_trn_pair",
]
