"""SETask on a tiny random model: its data and losses, stage 9's entry point, Speech2Speech, `speecht5 enhance`."""

from __future__ import annotations

from pathlib import Path
from typing import Dict, List

import kaldiio
import numpy as np
import pytest
import soundfile as sf
import torch
import yaml

from espnet2_speecht5.bin import se_inference, se_train, speecht5_cli
from espnet2_speecht5.models.se import SpeechT5SEModel
from espnet2_speecht5.runtime.errors import DataError
from espnet2_speecht5.tasks.common import SPECIAL_TOKENS
from espnet2_speecht5.tasks.se import SETask

NET_CONF = dict(
    size="tiny", d_model=16, encoder_layers=1, decoder_layers=1, encoder_heads=2, decoder_heads=2,
    encoder_ffn_dim=32, decoder_ffn_dim=32, speech_prenet_units=16, postnet_units=16, postnet_layers=2,
    conv_channels=[8, 8, 8], pos_conv_kernel=8, pos_conv_groups=2, speaker_embedding_dim=8,
)  # fmt: skip
UTTS = ("spka_00", "spka_01", "spkb_02")


@pytest.fixture(scope="module")
def se_files(tmp_path_factory) -> Dict[str, Path]:
    """Noisy wavs and a random SE model's config.yaml + model.pth."""
    root = tmp_path_factory.mktemp("se")
    rng = np.random.default_rng(0)
    (root / "wav").mkdir()
    lines = []
    for i, utt in enumerate(UTTS):
        t = np.arange(int(16000 * (0.4 + 0.1 * i))) / 16000
        path = root / "wav" / f"{utt}.wav"
        sf.write(path, 0.3 * np.sin(2 * np.pi * 220 * t) + 0.05 * rng.standard_normal(t.size), 16000)
        lines.append(f"{utt} {path}\n")
    (root / "wav.scp").write_text("".join(lines))
    # as a training run writes it: the data names say SE
    config = dict(token_list=list(SPECIAL_TOKENS), net_conf=NET_CONF, model_conf={}, init=None,
                  train_data_path_and_name_and_type=[[str(root / "wav.scp"), "speech", "sound"],
                                                     [str(root / "wav.scp"), "speech_clean", "sound"]])
    (root / "config.yaml").write_text(yaml.safe_dump(config))
    torch.manual_seed(0)
    model, _ = SETask.build_model_from_file(root / "config.yaml", None, "cpu")
    torch.save(model.state_dict(), root / "model.pth")
    return {"root": root, "wav_scp": root / "wav.scp", "config": root / "config.yaml", "model": root / "model.pth"}


def test_the_task_reads_noisy_and_clean_speech_and_needs_no_token_list(capsys) -> None:
    se_train.main(["--print_config"])
    config = yaml.safe_load(capsys.readouterr().out)
    assert config["token_list"] is None
    assert config["model_conf"] == {"use_speaker_embedding": False}  # every SE config.yaml says so
    assert SETask.required_data_names(train=True, inference=False) == ("speech", "speech_clean")
    assert SETask.required_data_names(train=False, inference=True) == ("speech",)
    assert SETask.optional_data_names(train=True, inference=False) == ("spembs",)


def tiny_model(tmp_path: Path, **model_conf) -> SpeechT5SEModel:
    config = dict(token_list=list(SPECIAL_TOKENS), net_conf=NET_CONF, model_conf=model_conf, init=None)
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(config))
    torch.manual_seed(0)
    model, _ = SETask.build_model_from_file(tmp_path / "config.yaml", None, "cpu")
    assert isinstance(model, SpeechT5SEModel)
    return model


def test_the_loss_is_on_the_clean_mel_and_trains(tmp_path: Path) -> None:
    model = tiny_model(tmp_path)
    assert model.use_speaker_embedding is False  # SE's default: the output keeps the input's voice
    gen = torch.Generator().manual_seed(0)
    clean = 0.3 * torch.randn(2, 8000, generator=gen)
    noisy = clean + 0.3 * torch.randn(2, 8000, generator=gen)
    lengths = torch.tensor([8000, 6400])
    loss, stats, weight = model(noisy, lengths, clean, lengths)
    assert torch.isfinite(loss) and set(stats) >= {"l1_loss", "bce_loss", "attn_loss"} and int(weight) == 2
    loss.backward()
    assert all(p.grad is not None for p in model.net.encoder.parameters() if p.requires_grad)
    # the target is the clean speech: the same noisy input with another target gives another loss
    other, _, _ = model(noisy, lengths, noisy, lengths)
    assert float(other) != pytest.approx(float(loss))
    feats = model.collect_feats(noisy, lengths, clean, lengths)
    assert feats["feats"].shape[-1] == 80


def test_with_the_speaker_switch_on_an_x_vector_is_required(tmp_path: Path) -> None:
    model = tiny_model(tmp_path, use_speaker_embedding=True)
    speech = 0.1 * torch.randn(1, 4000)
    lengths = torch.tensor([4000])
    with pytest.raises(ValueError, match="uses speaker embeddings"):
        model(speech, lengths, speech, lengths)
    loss, _, _ = model(speech, lengths, speech, lengths, spembs=torch.randn(1, 8))
    assert torch.isfinite(loss)


def _args(files: Dict[str, Path], out: Path, wav_scp: Path) -> List[str]:
    return ["--data_path_and_name_and_type", f"{wav_scp},speech,sound",
            "--s2st_train_config", str(files["config"]), "--s2st_model_file", str(files["model"]),
            "--output_dir", str(out), "--maxlenratio", "1.0"]  # fmt: skip


def test_stage_9_enhances_without_x_vectors(se_files, tmp_path: Path) -> None:
    out = tmp_path / "out"
    se_inference.main(_args(se_files, out, se_files["wav_scp"]) + ["--num_plots", "1", "--ref_wav_scp",
                                                                   str(se_files["wav_scp"])])
    wavs = dict(line.split() for line in (out / "wav.scp").read_text().splitlines())
    assert sorted(wavs) == sorted(UTTS)
    mels = kaldiio.load_scp(str(out / "feats.scp"))
    for utt, path in wavs.items():
        audio, rate = sf.read(path)
        assert rate == 16000 and len(audio) == mels[utt].shape[0] * 256
    assert len(list((out / "plots").glob("*.mel.png"))) == 1


def test_stage_9_names_a_corrupt_noisy_wav(se_files, tmp_path: Path, capsys) -> None:
    bad = tmp_path / "bad.wav"
    bad.write_bytes(b"RIFF....not a wav")
    scp = tmp_path / "wav.scp"
    lines = se_files["wav_scp"].read_text().splitlines()
    scp.write_text("\n".join([lines[0], f"spka_01 {bad}", lines[2]]) + "\n")
    with pytest.raises(SystemExit) as exit_info:
        se_inference.main(_args(se_files, tmp_path / "out", scp))
    assert exit_info.value.code == 1
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert err.startswith(f"ERROR: {scp}:2: utterance 'spka_01': ") and str(bad) in err


def test_speech2speech_loads_an_se_run_and_needs_no_speaker(se_files) -> None:
    from espnet2_speecht5.inference.speech2speech import Speech2Speech

    se = Speech2Speech(s2st_train_config=se_files["config"], s2st_model_file=se_files["model"], maxlenratio=1.0)
    assert se.uses_speaker_embedding is False
    noisy = se_files["wav_scp"].read_text().split()[1]
    wav = se(noisy)
    assert wav.ndim == 1 and wav.size > 0 and np.isfinite(wav).all()
    # the weights were loaded, not left random: a second build gives the same mel
    again = Speech2Speech(s2st_train_config=se_files["config"], s2st_model_file=se_files["model"], maxlenratio=1.0)
    assert torch.equal(se.mel(noisy), again.mel(noisy))


def test_enhance_command_writes_one_wav_per_input(se_files, tmp_path: Path, monkeypatch) -> None:
    from espnet2_speecht5.inference import speech2speech

    def from_run(cls, model_tag, cache_dir=None, **kwargs):  # a training run stands in for a zip here
        return cls(s2st_train_config=se_files["config"], s2st_model_file=se_files["model"], maxlenratio=1.0, **kwargs)

    monkeypatch.setattr(speech2speech.Speech2Speech, "from_pretrained", classmethod(from_run))
    inputs = [line.split()[1] for line in se_files["wav_scp"].read_text().splitlines()]
    speecht5_cli.main(["enhance", "--model", "run", *inputs[:2], "--outdir", str(tmp_path / "enh")])
    assert sorted(p.name for p in (tmp_path / "enh").iterdir()) == sorted(Path(p).stem + ".wav" for p in inputs[:2])
    with pytest.raises(DataError, match="use --outdir"):
        speecht5_cli.enhance(speecht5_cli.get_parser().parse_args(
            ["enhance", "--model", "run", *inputs[:2], "--out", str(tmp_path / "x.wav")]))


def test_stage_9_with_the_noisy_phase_resynthesis_keeps_each_recording_s_length(se_files, tmp_path: Path) -> None:
    out = tmp_path / "out"
    se_inference.main(_args(se_files, out, se_files["wav_scp"]) + [
        "--vocoder", "noisy_phase", "--vocoder_conf", "gain_floor=0.2", "--num_plots", "0"])
    noisy = dict(line.split() for line in se_files["wav_scp"].read_text().splitlines())
    enhanced = dict(line.split() for line in (out / "wav.scp").read_text().splitlines())
    mels = kaldiio.load_scp(str(out / "feats.scp"))
    for utt, path in noisy.items():
        source, _ = sf.read(path, dtype="float32")
        audio, rate = sf.read(enhanced[utt], dtype="float32")
        # exactly the recording's frames (the stop token is not asked) and samples
        assert rate == 16000 and len(audio) == len(source) and mels[utt].shape[0] == 1 + len(source) // 256
        # a gain in [0.2, 1] per bin: never louder than the input, never below -14 dB of it
        assert np.sqrt(np.mean(audio**2)) <= np.sqrt(np.mean(source**2)) * 1.01
        assert np.sqrt(np.mean(audio**2)) >= np.sqrt(np.mean(source**2)) * 0.2 * 0.99


def test_speech2speech_with_noisy_phase_returns_the_input_length_in_a_batch_too(se_files) -> None:
    from espnet2_speecht5.inference.speech2speech import Speech2Speech

    se = Speech2Speech(s2st_train_config=se_files["config"], s2st_model_file=se_files["model"],
                       vocoder="noisy_phase")
    sources = [sf.read(line.split()[1], dtype="float32")[0] for line in se_files["wav_scp"].read_text().splitlines()]
    results = se.generate_batch(sources)
    assert [len(r.wav) for r in results] == [len(s) for s in sources]
    assert [r.mel.shape[0] for r in results] == [1 + len(s) // 256 for s in sources]


def test_the_epoch_samples_of_se_give_lengths_and_stop_steps(tmp_path: Path) -> None:
    from espnet2_speecht5.train.epoch_samples import describe_samples

    model = tiny_model(tmp_path).eval()
    gen = torch.Generator().manual_seed(1)
    clean = 0.3 * torch.randn(2, 8000, generator=gen)
    batch = {"speech": clean + 0.1 * torch.randn(2, 8000, generator=gen), "speech_lengths": torch.tensor([8000, 6400]),
             "speech_clean": clean, "speech_clean_lengths": torch.tensor([8000, 6400])}
    lines, warnings = describe_samples(model, ["n1", "n2"], batch)
    assert len(lines) == 2 and lines[0].startswith("n1: generated ") and lines[0].endswith("; target 32 frames")
    assert lines[1].endswith("; target 26 frames")  # 1 + 6400 // 256
    # a random model: the stop token fires at some frame, or the 3x limit stops it (then one warning line)
    for line in lines:
        assert "stop at frame" in line or "no stop (length limit)" in line
    assert len(warnings) == (1 if all("no stop" in line for line in lines) else 0)
