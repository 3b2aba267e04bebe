"""Copy synthesis: recordings analysed into SpeechT5's log-mel and turned back into speech by a vocoder.

A TTS model that predicted every mel frame exactly would still be heard through its vocoder, so the
copy synthesis of the test recordings is what the synthesised speech can reach at best: its CER under
an ASR scorer and its MCD against the recordings are the floor the vocoder leaves (stage 10 of TTS
reports both beside the synthesis).

``copy_synthesise(wav_scp, outdir)`` writes ``outdir/wav/<utt>.wav`` (16 kHz, 16-bit) and
``outdir/wav.scp``.  A wav that already exists is kept, so a killed run resumes where it stopped; each
file is written under a temporary name and renamed.
"""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path
from typing import Callable, Optional

import soundfile as sf
import torch

from espnet2_speecht5.data.kaldi_dir import write_map
from espnet2_speecht5.features.log_mel import SAMPLE_RATE, log_mel
from espnet2_speecht5.runtime.errors import DataError
from espnet2_speecht5.runtime.types import PathLike
from espnet2_speecht5.scoring.wav_pairs import load_mono, read_wav_scp
from espnet2_speecht5.vocoder.griffin_lim import GriffinLimVocoder

logger = logging.getLogger(__name__)
Vocoder = Callable[[torch.Tensor], torch.Tensor]  # mel (T, 80) -> waveform (T * 256,) at 16 kHz


def copy_synthesise(wav_scp: PathLike, outdir: PathLike, vocoder: Optional[Vocoder] = None) -> Path:
    """Resynthesise every recording of ``wav_scp`` from its log-mel; returns ``outdir/wav.scp``.

    Args:
        wav_scp: Kaldi ``wav.scp`` of the recordings (any rate: each is resampled to 16 kHz first).
        outdir: where ``wav/`` and ``wav.scp`` go.
        vocoder: ``mel (T, 80) -> waveform (T * 256,)``; default Griffin-Lim as stage 9 runs it.

    Raises:
        DataError: a recording is missing, unreadable or empty (names its scp line and utterance).
    """
    from tqdm import tqdm

    vocoder = vocoder or GriffinLimVocoder()
    sources = read_wav_scp(wav_scp)
    wav_dir = Path(outdir) / "wav"
    wav_dir.mkdir(parents=True, exist_ok=True)
    written = {}
    for utt in tqdm(sorted(sources), desc="copy synthesis", unit="utt", file=sys.stderr, disable=None):
        target = wav_dir / f"{utt}.wav"
        if not target.is_file():
            samples, _ = load_mono(sources[utt], SAMPLE_RATE)
            if samples.size == 0:
                raise DataError("is empty", sources[utt].scp, sources[utt].line, utt)
            wav = vocoder(log_mel(torch.from_numpy(samples).float())).clamp(-1.0, 1.0).numpy()
            partial = target.with_name(f".{target.name}.partial")
            sf.write(partial, wav, SAMPLE_RATE, subtype="PCM_16", format="WAV")
            os.replace(partial, target)
        written[utt] = str(target.resolve())
    scp = Path(outdir) / "wav.scp"
    write_map(scp, written)
    logger.info(f"copy synthesis of {len(written)} recordings of {wav_scp}: {scp}")
    return scp
