"""Speech/text interleaving of PretrainTask: the step schedule, the iterator factory on real ESPnet
iterators, and the preprocessor's label checks and aligned crops."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Dict, List, Tuple

import numpy as np
import pytest
from espnet2.train.distributed_utils import DistributedOption
from pretrain_data import NUM_CLUSTERS, make_dataset, train_args

from espnet2_speecht5.data.speech_labels import (
    check_label_count,
    conv_frames,
    crop_speech_and_labels,
    label_frames,
    labels_on_frames,
)
from espnet2_speecht5.runtime.errors import DataError
from espnet2_speecht5.tasks.common import ConfigError
from espnet2_speecht5.tasks.pretrain import PretrainPreprocessor, PretrainTask
from espnet2_speecht5.train.interleave import SPEECH, TEXT, InterleavedIterFactory, modality_schedule

# ---------------------------------------------------------------------------- the schedule


@pytest.mark.parametrize("ratio", [0.0, 0.25, 0.5, 1.0, 1.5, 2.0, 3.0])
def test_schedule_counts_and_spreads_text_evenly(ratio: float):
    for speech_steps in (1, 7, 40):
        schedule = modality_schedule(speech_steps, ratio)
        assert schedule.count(SPEECH) == speech_steps
        assert schedule.count(TEXT) == math.floor(speech_steps * ratio + 1e-9)
        assert schedule[0] == SPEECH
        # after the i-th speech batch, exactly floor(i * ratio) text batches have run
        seen_speech = seen_text = 0
        for modality in schedule + [SPEECH]:
            if modality == SPEECH:
                assert seen_text == math.floor(seen_speech * ratio + 1e-9)
                seen_speech += 1
            else:
                seen_text += 1


def test_schedule_examples_and_determinism():
    assert modality_schedule(4, 1.0) == [SPEECH, TEXT] * 4
    assert modality_schedule(4, 0.5) == [SPEECH, SPEECH, TEXT] * 2
    assert modality_schedule(2, 2.0) == [SPEECH, TEXT, TEXT] * 2
    assert modality_schedule(50, 0.37) == modality_schedule(50, 0.37)
    with pytest.raises(ValueError):
        modality_schedule(3, -1.0)


class ListFactory:
    """An iterator factory over fixed per-epoch lists of (ids, batch)."""

    def __init__(self, name: str, per_epoch: int):
        self.name, self.per_epoch = name, per_epoch

    def build_iter(self, epoch: int, shuffle=None):
        return [([f"{self.name}{epoch}_{i}"], {self.name: i}) for i in range(self.per_epoch)]


def test_factory_follows_the_schedule_and_checks_the_text_count():
    factory = InterleavedIterFactory(ListFactory("speech", 6), ListFactory("text", 4), 0.5)
    steps = list(factory.build_iter(3))
    assert len(factory.build_iter(3)) == len(steps) == 9
    kinds = [SPEECH if "speech" in batch else TEXT for _, batch in steps]
    assert kinds == modality_schedule(6, 0.5)
    assert [ids[0] for ids, _ in steps][:3] == ["speech3_0", "speech3_1", "text3_0"]
    sequential = list(InterleavedIterFactory(ListFactory("speech", 2), ListFactory("text", 3), 0.0, True).build_iter(1))
    assert [list(b)[0] for _, b in sequential] == ["speech", "speech", "text", "text", "text"]
    short = InterleavedIterFactory(ListFactory("speech", 6), ListFactory("text", 2), 1.0)
    with pytest.raises(RuntimeError, match="yields 2 batches, the schedule needs 6"):
        short.build_iter(1)


# ---------------------------------------------------------------------------- PretrainTask's factories


@pytest.fixture(scope="module")
def dataset(tmp_path_factory) -> Dict[str, Path]:
    return make_dataset(tmp_path_factory.mktemp("interleave"))


def build_factory(files: Dict[str, Path], ratio: float, mode: str = "train"):
    args = PretrainTask.get_parser().parse_args(train_args(files, files["tokens"].parent / "exp", ratio))
    PretrainTask.build_model(args)  # reads the token list into args, as main_worker does
    return PretrainTask.build_iter_factory(args, DistributedOption(distributed=False), mode)


def epoch_steps(factory, epoch: int) -> List[Tuple[str, Tuple[str, ...]]]:
    out = []
    for ids, batch in factory.build_iter(epoch):
        kind = "speech" if "speech" in batch else "text"
        assert set(batch) == ({"speech", "speech_lengths", "label", "label_lengths"} if kind == "speech"
                              else {"text", "text_lengths"})
        out.append((kind, tuple(ids)))
    return out


@pytest.mark.parametrize("ratio", [0.5, 1.0, 2.0])
def test_task_interleaves_both_corpora_deterministically(dataset: Dict[str, Path], ratio: float):
    factory = build_factory(dataset, ratio)
    first = epoch_steps(factory, 1)
    speech_steps = math.ceil(8 / 3)  # 8 utterances, batch_size 3
    assert len(first) == speech_steps + math.floor(speech_steps * ratio)  # the epoch length
    kinds = [SPEECH if kind == "speech" else TEXT for kind, _ in first]
    assert kinds == modality_schedule(speech_steps, ratio)
    speech_ids = sorted(u for kind, ids in first if kind == "speech" for u in ids)
    assert speech_ids == sorted(f"trainutt_{i:02d}" for i in range(8))  # one pass over the speech
    text_ids = [u for kind, ids in first if kind == "text" for u in ids]
    assert all(u.startswith("traintxt") for u in text_ids) and len(text_ids) == len(set(text_ids))
    # a second build (another rank, or a resumed run) gives the same batches in the same order
    assert epoch_steps(build_factory(dataset, ratio), 1) == first
    # the next epoch keeps the schedule but moves on through the text corpus
    second = epoch_steps(factory, 2)
    assert [k for k, _ in second] == [k for k, _ in first]
    later = [u for kind, ids in second if kind == "text" for u in ids]
    if ratio == 1.0:  # 3 of the 6 text batches per epoch: epoch 2 takes the other half of the corpus
        assert not set(later) & set(text_ids)
        assert sorted(later + text_ids) == [f"traintxt{i:03d}" for i in range(24)]


def test_validation_runs_all_speech_then_all_text(dataset: Dict[str, Path]):
    steps = epoch_steps(build_factory(dataset, 1.0, "valid"), 1)
    kinds = [kind for kind, _ in steps]
    assert kinds == ["speech"] * 2 + ["text"] * 2  # 4 dev utterances in 3s, 6 dev sentences in 4s
    assert sorted(u for k, ids in steps if k == "text" for u in ids) == [f"devtxt{i:03d}" for i in range(6)]


# ---------------------------------------------------------------------------- preprocessor


def test_crop_keeps_labels_at_the_same_offset():
    n = 16000
    speech = np.arange(n, dtype=np.float32)  # each sample holds its own index
    labels = np.arange(label_frames(n))  # each label holds its own frame index
    for seed in range(20):
        cut, cut_labels = crop_speech_and_labels(speech, labels, 5000, np.random.default_rng(seed))
        offset = int(cut[0])
        assert len(cut) == 5000 and offset % 320 == 0
        assert cut_labels[0] == offset // 320
        assert len(cut_labels) == label_frames(5000) and np.all(np.diff(cut_labels) == 1)
    assert crop_speech_and_labels(speech, labels, 0, np.random.default_rng(0))[0] is speech


def test_label_count_check_names_the_utterance():
    kernels, strides = (10, 8, 8), (5, 8, 8)
    frames = conv_frames(8000, kernels, strides)
    check_label_count("u1", 8000, frames + 2, kernels, strides, 2)
    with pytest.raises(DataError, match=r"utterance 'u1': \d+ cluster labels for 8000 samples"):
        check_label_count("u1", 8000, frames + 3, kernels, strides, 2)
    with pytest.raises(DataError, match="utterance 'u2': 100 samples are too short"):
        check_label_count("u2", 100, 1, kernels, strides, 2)


def test_preprocessor_checks_labels_and_crops_only_in_training():
    def make(train):
        return PretrainPreprocessor(train, None, (10, 8, 8), (5, 8, 8), NUM_CLUSTERS, 2, max_speech_samples=4000)

    speech = np.zeros(9000, dtype=np.float32)
    labels = np.zeros(label_frames(9000), dtype=np.int64)
    out = make(True)("u", {"speech": speech, "label": labels})
    assert len(out["speech"]) == 4000 and len(out["label"]) == label_frames(4000)
    out = make(False)("u", {"speech": speech, "label": labels})
    assert len(out["speech"]) == 9000
    with pytest.raises(DataError, match=f"utterance 'bad': cluster label {NUM_CLUSTERS} is outside"):
        make(False)("bad", {"speech": speech, "label": labels + NUM_CLUSTERS})
    with pytest.raises(DataError, match="utterance 'short'"):
        make(False)("short", {"speech": speech, "label": labels[:-5]})


# ---------------------------------------------------------------------------- labels at 100 Hz

BASE_CONV = ((10, 3, 3, 3, 3, 2, 2), (5, 2, 2, 2, 2, 2, 2))  # SpeechT5 base's feature extractor


def test_crop_at_100_hz_keeps_exactly_the_labels_of_the_cropped_audio():
    n = 16000 + 237
    speech = np.arange(n, dtype=np.float32)  # each sample holds its own index
    labels = 160 * np.arange(label_frames(n, 160))  # each 100 Hz label holds the sample where it starts
    for seed in range(30):
        for size in (5000, 5001, 16000):
            cut, cut_labels = crop_speech_and_labels(speech, labels, size, np.random.default_rng(seed), hop=160)
            offset = int(cut[0])
            # an encoder-frame boundary of the utterance, so label 2 t of the crop is on its encoder frame t
            assert len(cut) == size and offset % 320 == 0
            # the labels that stage 6 would make from the cropped audio start at samples 0, 160, ... of
            # the crop while a whole 400-sample window fits: the kept labels are exactly those
            made = label_frames(size, 160, 400)
            assert len(cut_labels) == made
            assert np.array_equal(cut_labels, cut[160 * np.arange(made)].astype(np.int64))
            assert 160 * (made - 1) + 400 <= size < 160 * made + 400
    with pytest.raises(ValueError, match="hop of 96 samples does not divide"):
        crop_speech_and_labels(speech, labels, 5000, np.random.default_rng(0), hop=96)


def test_label_count_at_100_hz_counts_the_labels_on_encoder_frames():
    for n in list(range(400, 1400, 7)) + [8000, 16000, 16001, 123457]:
        count = label_frames(n, 160)
        # every second 100 Hz label starts on an encoder frame: as many as the base conv stack's frames
        assert labels_on_frames(count, 2) == label_frames(n) == conv_frames(n, *BASE_CONV)
        check_label_count("u", n, count, *BASE_CONV, tolerance=0, hop=160)
    with pytest.raises(DataError, match=r"utterance 'u50': 49 cluster labels \(25 of them on encoder frames\) for "
                                        r"16000 samples, which give 49 encoder frames .* at 100 Hz, one every 160"):
        check_label_count("u50", 16000, label_frames(16000), *BASE_CONV, tolerance=2, hop=160)  # 50 Hz labels
    with pytest.raises(DataError, match="utterance 'u100': 98 cluster labels for 16000 samples.* at 50 Hz"):
        check_label_count("u100", 16000, label_frames(16000, 160), *BASE_CONV, tolerance=2)  # 100 Hz for 50 Hz
    with pytest.raises(DataError, match="utterance 'far'"):
        check_label_count("far", 16000, label_frames(16000, 160) + 6, *BASE_CONV, tolerance=2, hop=160)
    check_label_count("near", 16000, label_frames(16000, 160) + 4, *BASE_CONV, tolerance=2, hop=160)


def test_preprocessor_uses_the_model_label_rate(dataset: Dict[str, Path]):
    args = PretrainTask.get_parser().parse_args(train_args(dataset, dataset["tokens"].parent / "exp"))
    args.model_conf = dict(args.model_conf, label_rate=100)
    pre = PretrainTask.build_preprocess_fn(args, train=True)
    assert (pre.label_hop, pre.frame_hop) == (160, 320)
    speech = np.zeros(9000, dtype=np.float32)
    out = pre("u", {"speech": speech, "label": np.zeros(label_frames(9000, 160), dtype=np.int64)})
    assert len(out["speech"]) == 8000 and len(out["label"]) == label_frames(8000, 160)  # max_speech_samples 8000
    with pytest.raises(DataError, match="utterance 'slow'.* at 100 Hz"):
        pre("slow", {"speech": speech, "label": np.zeros(label_frames(9000), dtype=np.int64)})
    args.model_conf = dict(args.model_conf, label_rate=50)
    assert PretrainTask.build_preprocess_fn(args, train=True).label_hop == 320
    args.model_conf = dict(args.model_conf, label_rate=75)
    with pytest.raises(ConfigError, match="label_rate: labels at 75 Hz do not fit the encoder frame rate 50 Hz"):
        PretrainTask.build_preprocess_fn(args, train=True)
