"""The parts of a Kaldi data directory that speaker embeddings need: audio entries and speakers."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Sequence

from espnet2_speecht5.data.audio import AudioSource
from espnet2_speecht5.data.kaldi_dir import iter_lines, read_map
from espnet2_speecht5.runtime.errors import DataError
from espnet2_speecht5.runtime.types import PathLike


@dataclass
class SpeakerSet:
    """One data directory.

    Attributes:
        name: the set's name, the basename of ``path`` (``train``, ``dev``, ...).
        path: the data directory.
        audio: utterance id -> where its audio is, in ``wav.scp`` order.
        utt2spk: utterance id -> speaker id, for every utterance of ``audio``.
    """

    name: str
    path: Path
    audio: Dict[str, AudioSource]
    utt2spk: Dict[str, str]

    @property
    def utterances(self) -> List[str]:
        return list(self.audio)

    def speakers(self) -> Dict[str, List[str]]:
        """Speaker id -> its utterances, speakers in order of first appearance."""
        result: Dict[str, List[str]] = {}
        for utt in self.audio:
            result.setdefault(self.utt2spk[utt], []).append(utt)
        return result


def load_set(data_dir: PathLike) -> SpeakerSet:
    """Read ``wav.scp`` and ``utt2spk`` of ``data_dir``.

    Raises:
        DataError: the directory or a file is missing, a line is malformed, or an utterance of
            ``wav.scp`` has no speaker in ``utt2spk``.
    """
    path = Path(data_dir)
    if not path.is_dir():
        raise DataError("data directory does not exist", path)
    wav_scp = path / "wav.scp"
    audio: Dict[str, AudioSource] = {}
    for number, utt, entry in iter_lines(wav_scp):
        if utt in audio:
            raise DataError("duplicate id", wav_scp, number, utt)
        if not entry:
            raise DataError("no audio path", wav_scp, number, utt)
        audio[utt] = AudioSource(utt=utt, entry=entry, scp=str(wav_scp), line=number)
    if not audio:
        raise DataError("no utterances", wav_scp)
    utt2spk = read_map(path / "utt2spk")
    for utt in audio:
        if utt not in utt2spk:
            raise DataError("no speaker in utt2spk", path / "utt2spk", None, utt)
    return SpeakerSet(name=path.name, path=path, audio=audio, utt2spk={u: utt2spk[u] for u in audio})


def load_sets(train_dir: PathLike, eval_dirs: Sequence[PathLike]) -> List[SpeakerSet]:
    """The training set first, then the evaluation sets; a directory named twice is read once.

    Raises:
        DataError: two different directories have the same basename (their outputs would collide).
    """
    sets: List[SpeakerSet] = []
    seen: Dict[str, Path] = {}
    for data_dir in [train_dir, *eval_dirs]:
        resolved = Path(data_dir).resolve()
        name = resolved.name
        if name in seen:
            if seen[name] == resolved:
                continue
            raise DataError(f"two data directories are named '{name}' ({seen[name]} and {resolved})", data_dir)
        seen[name] = resolved
        sets.append(load_set(data_dir))
    return sets
