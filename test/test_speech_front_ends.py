"""ESPnet's front ends in every task whose input is speech: ``speech_prenet: fbank`` with ``frontend:
default``, ``specaug: specaug`` and ``normalize: global_mvn`` builds through the task's own parser
and trains for a step; SpecAugment acts on the conv pre-net's features; wrong combinations stop in
one line."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Dict, List, Type

import numpy as np
import pytest
import torch
import yaml

from espnet2_speecht5.nets.fbank_prenet import FbankSpeechPrenet, subsampled_lengths
from espnet2_speecht5.nets.speech_encoder_prenet import SpeechEncoderPrenet
from espnet2_speecht5.runtime.errors import DataError
from espnet2_speecht5.tasks.asr import ASRTask
from espnet2_speecht5.tasks.common import SpeechT5AbsTask
from espnet2_speecht5.tasks.pretrain import PretrainTask
from espnet2_speecht5.tasks.se import SETask
from espnet2_speecht5.tasks.sid import SIDTask
from espnet2_speecht5.tasks.st import STTask
from espnet2_speecht5.tasks.tts import TTSTask
from espnet2_speecht5.tasks.vc import VCTask

NET_CONF = ("{size: tiny, d_model: 32, encoder_layers: 1, decoder_layers: 1, encoder_ffn_dim: 64, decoder_ffn_dim: 64,"
            " conv_channels: [8, 8, 8], speech_prenet_units: 16, postnet_units: 16, postnet_layers: 2}")
CHARS = ["<blank>", "<unk>", "<space>", "a", "b", "c", "d", "<mask>", "<sos/eos>"]
SPEAKERS = ["<blank>", "<unk>", "spk1", "spk2", "<sos/eos>"]
BATCH, SAMPLES = 2, 16000


def write_stats(path: Path, n_mels: int = 80) -> Path:
    """A feats_stats.npz as ESPnet's collect_stats writes it (count, sum, sum_square)."""
    rng = np.random.default_rng(0)
    count = 1000
    mean = rng.normal(-5.0, 1.0, n_mels)
    np.savez(path, count=count, sum=mean * count, sum_square=(mean**2 + 4.0) * count)
    return path


def token_file(tmp_path: Path, tokens: List[str]) -> Path:
    path = tmp_path / "tokens.txt"
    path.write_text("".join(t + "\n" for t in tokens))
    return path


def fbank_args(task: Type[SpeechT5AbsTask], tmp_path: Path, tokens: List[str], *extra: str):
    argv = ["--net_conf", NET_CONF, "--speech_prenet", "fbank", "--frontend", "default",
            "--specaug", "specaug", "--specaug_conf", "{time_mask_width_range: [0, 5], num_time_mask: 1}",
            "--normalize", "global_mvn", "--normalize_conf", f"stats_file={write_stats(tmp_path / 'stats.npz')}",
            "--token_list", str(token_file(tmp_path, tokens)), *extra]  # fmt: skip
    return task.get_parser().parse_args(argv)


def speech_batch(seed: int = 0) -> Dict[str, torch.Tensor]:
    gen = torch.Generator().manual_seed(seed)
    speech = 0.1 * torch.randn(BATCH, SAMPLES, generator=gen)
    lengths = torch.tensor([SAMPLES, SAMPLES * 3 // 4])
    speech[1, lengths[1]:] = 0.0
    return {"speech": speech, "speech_lengths": lengths}


def text_batch(low: int, high: int, length: int = 5) -> Dict[str, torch.Tensor]:
    text = torch.randint(low, high, (BATCH, length), generator=torch.Generator().manual_seed(1))
    return {"text": text, "text_lengths": torch.full((BATCH,), length)}


def task_case(name: str, tmp_path: Path):
    """(task, args, batch) of one step of ``name`` with the fbank pre-net."""
    speech = speech_batch()
    if name == "asr":
        return ASRTask, fbank_args(ASRTask, tmp_path, CHARS), {**speech, **text_batch(3, 7)}
    if name == "st":
        return STTask, fbank_args(STTask, tmp_path, CHARS), {**speech, **text_batch(3, 7)}
    if name == "sid":
        labels = {"text": torch.tensor([[2], [3]]), "text_lengths": torch.tensor([1, 1])}
        args = fbank_args(SIDTask, tmp_path, SPEAKERS, "--model_conf", "{crop_seconds: 0.5}")
        return SIDTask, args, {**speech, **labels}
    if name in ("vc", "se"):
        task = VCTask if name == "vc" else SETask
        target = speech_batch(seed=1)
        key = "speech_tgt" if name == "vc" else "speech_clean"
        batch = {**speech, key: target["speech"], f"{key}_lengths": target["speech_lengths"]}
        if name == "vc":
            batch["spembs"] = torch.randn(BATCH, 512)
        return task, fbank_args(task, tmp_path, CHARS[:2] + CHARS[-1:]), batch
    args = fbank_args(PretrainTask, tmp_path, CHARS, "--model_conf", "{num_clusters: 4, latent_vars: 4, final_dim: 8}")
    frames = int(subsampled_lengths(torch.tensor(SAMPLES // 160 + 1)))
    labels = torch.randint(0, 4, (BATCH, frames), generator=torch.Generator().manual_seed(2))
    return PretrainTask, args, {**speech, "label": labels, "label_lengths": torch.tensor([frames, frames * 3 // 4])}


@pytest.mark.parametrize("name", ["asr", "st", "sid", "vc", "se", "pretrain"])
def test_every_speech_task_trains_a_step_with_fbank_specaug_and_global_mvn(name: str, tmp_path: Path) -> None:
    task, args, batch = task_case(name, tmp_path)
    torch.manual_seed(0)
    model = task.build_model(args)
    prenet = model.net.speech_prenet
    assert isinstance(prenet, FbankSpeechPrenet)
    assert type(prenet.frontend).__name__ == "DefaultFrontend" and prenet.frontend.hop_length == 160
    assert type(prenet.specaug).__name__ == "SpecAug" and type(prenet.normalize).__name__ == "GlobalMVN"
    assert args.frontend_conf["n_mels"] == 80  # written back, so config.yaml records the front end used
    before = {k: v.detach().clone() for k, v in model.named_parameters()}
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    model.train()
    loss, stats, _ = model(**batch)
    assert torch.isfinite(loss), stats
    loss.backward()
    subsample_grad = prenet.subsample.conv[0].weight.grad
    assert subsample_grad is not None and float(subsample_grad.abs().sum()) > 0.0
    optimizer.step()
    changed = [k for k, v in model.named_parameters() if not torch.equal(v, before[k])]
    assert any(k.startswith("net.speech_prenet.subsample.") for k in changed)
    assert any(k.startswith("net.encoder.") for k in changed)
    # the features that stage 7 collects are the front end's (B, T, 80), not the waveform
    model.eval()
    feats = model.collect_feats(**batch)
    assert feats["feats"].shape[0] == BATCH and feats["feats"].shape[-1] == 80
    assert feats["feats_lengths"].tolist() == [SAMPLES // 160 + 1, (SAMPLES * 3 // 4) // 160 + 1]


def test_fbank_frames_are_20_ms_and_padding_does_not_change_the_output(tmp_path: Path) -> None:
    args = fbank_args(ASRTask, tmp_path, CHARS)
    model = ASRTask.build_model(args).eval()
    prenet = model.net.speech_prenet
    speech = speech_batch()
    x, valid, _ = prenet(speech["speech"], speech["speech_lengths"])
    assert valid.sum(dim=1).tolist() == prenet.frame_lengths(speech["speech_lengths"]).tolist()
    assert abs(int(valid[0].sum()) - SAMPLES // 320) <= 3  # 50 frames a second, as the conv pre-net
    alone, _, _ = prenet(speech["speech"][1:, : int(speech["speech_lengths"][1])], speech["speech_lengths"][1:])
    n = int(valid[1].sum())
    # the last frames see the STFT's reflection padding (alone) or zeros (batched); the rest must agree
    inner = n - 15
    assert torch.allclose(x[1, :inner], alone[0, :inner], atol=1e-4)
    assert alone.size(1) == n
    # samples_for_frames inverts frame_lengths: the fewest samples for n frames
    fewest = prenet.samples_for_frames(torch.tensor([n]))
    assert int(prenet.frame_lengths(fewest)) == n and int(prenet.frame_lengths(fewest - 1)) == n - 1


def test_specaug_masks_the_conv_features_in_training_only(tmp_path: Path) -> None:
    args = ASRTask.get_parser().parse_args([
        "--net_conf", NET_CONF, "--token_list", str(token_file(tmp_path, CHARS)), "--specaug", "specaug",
        "--specaug_conf", "{apply_time_warp: false, apply_freq_mask: false, time_mask_width_range: [4, 5], "
        "num_time_mask: 2}",
    ])  # fmt: skip
    model = ASRTask.build_model(args)
    prenet = model.net.speech_prenet
    assert isinstance(prenet, SpeechEncoderPrenet) and type(prenet.specaug).__name__ == "SpecAug"
    speech = speech_batch()
    model.train()
    masked, lengths, _ = prenet.extract_features(speech["speech"], speech["speech_lengths"])
    zero_frames = (masked[0].abs().sum(dim=-1) == 0).sum()
    assert 4 <= int(zero_frames) <= 10  # two time masks of 4 frames (they may overlap)
    model.eval()
    clean, _, _ = prenet.extract_features(speech["speech"], speech["speech_lengths"])
    assert int((clean[0].abs().sum(dim=-1) == 0).sum()) == 0


@pytest.mark.parametrize(
    "options, message",
    [
        (["--frontend", "default"], "frontend: default is used only with speech_prenet: fbank"),
        (["--normalize", "utterance_mvn"], "normalize: utterance_mvn is used only with speech_prenet: fbank"),
        (["--speech_prenet", "fbank", "--normalize", "global_mvn"], "normalize: global_mvn needs normalize_conf"),
        (["--speech_prenet", "fbank", "--normalize", "global_mvn", "--normalize_conf", "stats_file=/no/such.npz"],
         "normalize_conf:"),
        (["--speech_prenet", "fbank", "--frontend_conf", "{n_melz: 40}"], "frontend_conf:"),
        (["--speech_prenet", "fbank", "--frontend", "s3prl"], "frontend: s3prl needs the s3prl package"),
        # a stage 7 of the conv pre-net collected statistics of the 1-dimensional waveform
        (["--speech_prenet", "fbank", "--normalize", "global_mvn", "--normalize_conf", "stats_file=STATS1"],
         "stats1.npz: has statistics of 1-dimensional features, but the frontend makes 80"),
    ],
)
def test_wrong_front_end_options_stop_in_one_line(tmp_path: Path, options: List[str], message: str) -> None:
    stats1 = str(write_stats(tmp_path / "stats1.npz", n_mels=1))
    options = [option.replace("STATS1", stats1) for option in options]
    args = ASRTask.get_parser().parse_args(
        ["--net_conf", NET_CONF, "--token_list", str(token_file(tmp_path, CHARS)), *options]
    )
    with pytest.raises(DataError) as err:
        ASRTask.build_model(args)
    assert message in str(err.value) and "\n" not in str(err.value)


@pytest.mark.parametrize("task", [ASRTask, STTask, SIDTask, VCTask, SETask, PretrainTask])
def test_print_config_shows_the_front_end_choices(task: Type[SpeechT5AbsTask]) -> None:
    printed = io.StringIO()
    task.print_config(printed)
    config = yaml.safe_load(printed.getvalue())
    assert config["speech_prenet"] == "conv"
    for name in ("frontend", "specaug", "normalize"):
        assert config[name] is None and f"{name}_conf" in config


def test_tts_reads_no_speech_and_has_no_front_end_choices() -> None:
    printed = io.StringIO()
    TTSTask.print_config(printed)
    config = yaml.safe_load(printed.getvalue())
    assert not {"speech_prenet", "frontend", "specaug", "normalize"} & set(config)


def test_a_converted_conv_checkpoint_loads_into_an_fbank_model_but_its_prenet(tmp_path: Path, caplog) -> None:
    """``--init_param model.pth::net`` with a network state dict (what convert_checkpoint.py writes) of the
    conv pre-net: the encoder and decoder load, the checkpoint's pre-net is left out and reported."""
    from espnet2_speecht5.train.checks import load_init_param

    tokens = str(token_file(tmp_path, CHARS))
    conv = ASRTask.build_model(ASRTask.get_parser().parse_args(["--net_conf", NET_CONF, "--token_list", tokens]))
    checkpoint = tmp_path / "converted.pth"
    torch.save(conv.net.state_dict(), checkpoint)
    fbank = ASRTask.build_model(fbank_args(ASRTask, tmp_path, CHARS))
    with caplog.at_level("INFO"):
        load_init_param(f"{checkpoint}::net", fbank, ignore_init_mismatch=False)
    assert "the speech pre-net is new (speech_prenet: fbank)" in caplog.text
    for key, value in fbank.net.state_dict().items():
        if not key.startswith("speech_prenet."):
            assert torch.equal(value, conv.net.state_dict()[key]), key
    assert not torch.equal(fbank.net.speech_prenet.feature_proj.weight, conv.net.speech_prenet.feature_proj.weight)
