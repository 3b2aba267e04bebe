"""Speed perturbation of a data directory (stage 2).

Each factor ``f`` other than 1 makes a copy of every utterance whose audio is played ``f``
times faster by ``sox ... speed f`` (pitch and tempo change together, the sample rate stays),
so it lasts ``1/f`` as long.  The copy's utterance and speaker ids get the prefix
``sp<f>-`` (``sp0.9-spk1_001``); as in ESPnet, factor 1 keeps the original ids and audio.
Perturbed speakers count as new speakers, so ``utt2spk`` and ``utt2spk_tgt`` values are
prefixed too.  The audio is not written here: ``wav.scp`` entries become ``sox`` pipes that
stage 3 runs.  In a segmented directory (``segments``), the recordings of ``wav.scp`` are
played faster, and each segment's times are divided by the factor.
"""

from __future__ import annotations

import logging
import shlex
import shutil
from pathlib import Path
from typing import Dict, List, Sequence, Tuple

from espnet2_speecht5.data.kaldi_dir import (
    AUDIO_FILES,
    UTTERANCE_FILES,
    present_utterance_files,
    read_map,
    write_map,
    write_spk2utt,
)
from espnet2_speecht5.data.segments import SEGMENTS, scale_segment_times, segmented
from espnet2_speecht5.runtime.errors import DataError
from espnet2_speecht5.runtime.types import PathLike

logger = logging.getLogger(__name__)

# Files whose values are speaker ids (prefixed like the utterance ids).
SPEAKER_FILES = ("utt2spk", "utt2spk_tgt")
# Lengths change with the speed; stage 3 measures them again.
LENGTH_FILES = ("utt2num_samples", "utt2num_samples_tgt", "utt2num_samples_clean")


def parse_factors(text: str) -> List[Tuple[str, float]]:
    """Parse ``"0.9 1.0 1.1"`` into ``[("0.9", 0.9), ("1.0", 1.0), ("1.1", 1.1)]``.

    The string form is kept for the id prefix.  Raises :class:`DataError` on a non-number,
    a factor that is not positive, a repeated factor, or an empty list.
    """
    factors: List[Tuple[str, float]] = []
    for token in text.replace(",", " ").split():
        try:
            value = float(token)
        except ValueError:
            raise DataError(f"speed factor '{token}' is not a number (--factors '{text}')") from None
        if not 0 < value < float("inf"):
            raise DataError(f"speed factor '{token}' must be a positive number (--factors '{text}')")
        if any(value == other for _, other in factors):
            raise DataError(f"speed factor '{token}' is given twice (--factors '{text}')")
        factors.append((token, value))
    if not factors:
        raise DataError("no speed factors given (--factors is empty)")
    return factors


def speed_prefix(token: str, value: float) -> str:
    """The id prefix for one factor: ``""`` for 1, else ``sp<token>-``."""
    return "" if value == 1.0 else f"sp{token}-"


def perturbed_entry(entry: str, token: str) -> str:
    """A ``wav.scp`` value that plays ``entry`` at speed ``token``.

    A path becomes ``sox <path> -t wav - speed <f> |``; a pipe ``<cmd> |`` becomes
    ``<cmd> | sox -t wav - -t wav - speed <f> |`` (the command must write a wav).
    """
    stripped = entry.strip()
    if stripped.endswith("|"):
        return f"{stripped} sox -t wav - -t wav - speed {token} |"
    return f"sox {shlex.quote(stripped)} -t wav - speed {token} |"


def speed_perturb_dir(src: PathLike, dst: PathLike, factors: Sequence[Tuple[str, float]]) -> Dict[str, int]:
    """Write ``dst``: the utterances of ``src`` once per factor, all files sorted.

    Args:
        src: data directory with at least ``wav.scp`` and ``utt2spk``.
        dst: output data directory (created; known per-utterance files not written are removed).
        factors: ``(string, value)`` pairs from :func:`parse_factors`.

    Returns:
        ``{file name: number of lines written}``.
    """
    src, dst = Path(src), Path(dst)
    if not src.is_dir():
        raise DataError("data directory does not exist", src)
    if src.resolve() == dst.resolve():
        raise DataError("the output directory must differ from the input directory", dst)
    for name in ("wav.scp", "utt2spk"):
        if not (src / name).is_file():
            raise DataError(f"{name} is missing; speed perturbation needs it", src)
    if any(value != 1.0 for _, value in factors) and shutil.which("sox") is None:
        raise DataError("sox is not on PATH; it is needed to play the perturbed audio (install sox)")

    names = [name for name in present_utterance_files(src) if name not in LENGTH_FILES]
    dropped = [name for name in present_utterance_files(src) if name in LENGTH_FILES]
    if dropped:
        logger.info("not copying %s: lengths change with the speed (stage 3 measures them)", " ".join(dropped))
    if segmented(src):
        # wav.scp lists recordings: each is played faster once, and its segments' times shrink.
        names.append(SEGMENTS)
    maps = {name: read_map(src / name) for name in names}
    utts = maps[SEGMENTS] if SEGMENTS in maps else maps["wav.scp"]
    for name, values in maps.items():
        missing = [u for u in utts if u not in values] if values is not utts and name != "wav.scp" else []
        if missing:
            message = f"utterance '{missing[0]}' of wav.scp has no line here ({len(missing)} missing)"
            raise DataError(message, src / name)
        extra = [u for u in values if u not in utts]
        if extra:
            logger.warning("%s: %d line(s) have no utterance in wav.scp and are left out (first: '%s')",
                           src / name, len(extra), extra[0])  # fmt: skip

    dst.mkdir(parents=True, exist_ok=True)
    counts: Dict[str, int] = {}
    for name in names:
        out: Dict[str, str] = {}
        for token, value in factors:
            prefix = speed_prefix(token, value)
            for utt, val in maps[name].items():
                if utt not in utts and not (name == "wav.scp" and SEGMENTS in maps):
                    continue
                if name in AUDIO_FILES and value != 1.0:
                    val = perturbed_entry(val, token)
                elif name in SPEAKER_FILES:
                    val = prefix + val
                elif name == SEGMENTS:
                    recording, start, end = scale_segment_times(val, value) if value != 1.0 else val.split()
                    val = f"{prefix}{recording} {start} {end}"
                out[prefix + utt] = val
        write_map(dst / name, out)
        counts[name] = len(out)
    write_spk2utt(dst)
    for name in (*UTTERANCE_FILES, SEGMENTS):
        if name not in names and (dst / name).exists():
            (dst / name).unlink()
    logger.info(
        "%s -> %s: %d utterances x %d factors (%s) = %d utterances",
        src,
        dst,
        len(utts),
        len(factors),
        " ".join(token for token, _ in factors),
        counts[SEGMENTS if SEGMENTS in counts else "wav.scp"],
    )
    return counts
