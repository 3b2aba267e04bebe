"""VCTask's entry points on a tiny random model: options, conversion outputs, and bad input on one line."""

from __future__ import annotations

from pathlib import Path
from typing import Dict, List

import kaldiio
import numpy as np
import pytest
import soundfile as sf
import torch
import yaml

from espnet2_speecht5.bin import vc_inference, vc_train
from espnet2_speecht5.tasks.common import SPECIAL_TOKENS
from espnet2_speecht5.tasks.vc import VCTask

NET_CONF = dict(
    size="tiny", d_model=16, encoder_layers=1, decoder_layers=1, encoder_heads=2, decoder_heads=2,
    encoder_ffn_dim=32, decoder_ffn_dim=32, speech_prenet_units=16, postnet_units=16, postnet_layers=2,
    conv_channels=[8, 8, 8], pos_conv_kernel=8, pos_conv_groups=2, speaker_embedding_dim=8,
)  # fmt: skip
UTTS = ("spka_spkb_00", "spka_spkb_01", "spkb_spka_02")


@pytest.fixture(scope="module")
def vc_files(tmp_path_factory) -> Dict[str, Path]:
    """Source wavs, target x-vectors and a random model's config.yaml + model.pth."""
    root = tmp_path_factory.mktemp("vc")
    rng = np.random.default_rng(0)
    (root / "wav").mkdir()
    lines = []
    for i, utt in enumerate(UTTS):
        t = np.arange(int(16000 * (0.4 + 0.1 * i))) / 16000
        path = root / "wav" / f"{utt}.wav"
        sf.write(path, 0.3 * np.sin(2 * np.pi * 220 * t) + 0.01 * rng.standard_normal(t.size), 16000)
        lines.append(f"{utt} {path}\n")
    (root / "wav.scp").write_text("".join(lines))
    with kaldiio.WriteHelper(f"ark,scp:{root / 'xvector.ark'},{root / 'xvector.scp'}") as writer:
        for utt in UTTS:
            writer(utt, rng.standard_normal(8).astype(np.float32))
    config = dict(token_list=list(SPECIAL_TOKENS), net_conf=NET_CONF, model_conf={}, init=None)
    (root / "config.yaml").write_text(yaml.safe_dump(config))
    torch.manual_seed(0)
    model, _ = VCTask.build_model_from_file(root / "config.yaml", None, "cpu")
    torch.save(model.state_dict(), root / "model.pth")
    return {"root": root, "wav_scp": root / "wav.scp", "xvector": root / "xvector.scp",
            "config": root / "config.yaml", "model": root / "model.pth"}


def _args(files: Dict[str, Path], out: Path, wav_scp: Path, xvector: Path) -> List[str]:
    return ["--data_path_and_name_and_type", f"{wav_scp},speech,sound",
            "--data_path_and_name_and_type", f"{xvector},spembs,kaldi_ark",
            "--s2st_train_config", str(files["config"]), "--s2st_model_file", str(files["model"]),
            "--output_dir", str(out), "--maxlenratio", "1.0"]  # fmt: skip


def test_training_needs_no_token_list(capsys: pytest.CaptureFixture) -> None:
    vc_train.main(["--print_config"])
    config = yaml.safe_load(capsys.readouterr().out)
    assert config["token_list"] is None and config["net_conf"] == {"size": "base"}


@pytest.mark.parametrize("batch_size", [1, 2])
def test_conversion_writes_wavs_mels_shapes_and_plots(vc_files, tmp_path: Path, batch_size: int) -> None:
    out = tmp_path / "out"
    extra = ["--batch_size", str(batch_size), "--num_plots", "1", "--ref_wav_scp", str(vc_files["wav_scp"])]
    vc_inference.main(_args(vc_files, out, vc_files["wav_scp"], vc_files["xvector"]) + extra)
    wavs = dict(line.split() for line in (out / "wav.scp").read_text().splitlines())
    assert sorted(wavs) == sorted(UTTS)
    mels = kaldiio.load_scp(str(out / "feats.scp"))
    shapes = dict(line.split() for line in (out / "speech_shape").read_text().splitlines())
    for utt, path in wavs.items():
        audio, rate = sf.read(path)
        assert rate == 16000
        assert len(audio) == mels[utt].shape[0] * 256  # Griffin-Lim: hop 256 per mel frame
        assert shapes[utt] == f"{mels[utt].shape[0]},80"
    assert len(list((out / "plots").glob("*.mel.png"))) == 1 and len(list((out / "plots").glob("*.att.png"))) == 1


def test_a_corrupt_source_wav_is_one_line_naming_the_utterance(vc_files, tmp_path: Path, capsys) -> None:
    bad = tmp_path / "bad.wav"
    bad.write_bytes(b"RIFF....not a wav")
    scp = tmp_path / "wav.scp"
    lines = vc_files["wav_scp"].read_text().splitlines()
    scp.write_text("\n".join([lines[0], f"spka_spkb_01 {bad}", lines[2]]) + "\n")
    with pytest.raises(SystemExit) as exit_info:
        vc_inference.main(_args(vc_files, tmp_path / "out", scp, vc_files["xvector"]))
    assert exit_info.value.code == 1
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert err.startswith(f"ERROR: {scp}:2: utterance 'spka_spkb_01': ") and str(bad) in err


def test_a_pair_without_a_target_x_vector_is_one_line(vc_files, tmp_path: Path, capsys) -> None:
    scp = tmp_path / "xvector.scp"
    scp.write_text("".join(line + "\n" for line in vc_files["xvector"].read_text().splitlines()[:2]))
    with pytest.raises(SystemExit) as exit_info:
        vc_inference.main(_args(vc_files, tmp_path / "out", vc_files["wav_scp"], scp))
    assert exit_info.value.code == 1
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert err == f"ERROR: {scp}: utterance 'spkb_spka_02': no speaker embedding for this utterance"
