"""The SID model (both heads), its task's configuration checks, and stage 9's classifier of a set."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

from espnet2_speecht5.models.sid import SpeechT5SIDModel, random_crop
from espnet2_speecht5.runtime.errors import DataError
from espnet2_speecht5.tasks.common import ConfigError, net_config_from_conf
from espnet2_speecht5.tasks.sid import SIDTask

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "hub"))
from hub_helpers import ASR_NET, SPEAKER_TOKENS, tone, write_sid_exp  # noqa: E402

HEADS = ["decoder", "pooling"]


def model(head: str, seed: int = 0) -> SpeechT5SIDModel:
    torch.manual_seed(seed)
    return SpeechT5SIDModel(len(SPEAKER_TOKENS), SPEAKER_TOKENS, net_config_from_conf(ASR_NET), head=head)


def test_random_crop_keeps_a_window_of_each_utterance():
    speech = torch.arange(30, dtype=torch.float32).repeat(3, 1)
    speech[2, 8:] = 0.0
    lengths = torch.tensor([30, 12, 8])
    cropped, kept = random_crop(speech, lengths, 10, torch.Generator().manual_seed(1))
    assert kept.tolist() == [10, 10, 8] and cropped.shape == (3, 10)
    for row in range(3):
        window = cropped[row, : int(kept[row])]
        start = int(window[0])
        assert torch.equal(window, torch.arange(start, start + int(kept[row]), dtype=torch.float32))
        assert start + int(kept[row]) <= int(lengths[row])
    assert cropped[2, 8:].abs().sum() == 0


@pytest.mark.parametrize("head", HEADS)
def test_pooling_ignores_padded_frames(head: str):
    from espnet2_speecht5.nets.compositions import EncoderOutput

    sid = model(head).eval()
    torch.manual_seed(3)
    hidden = torch.randn(2, 9, sid.net.cfg.d_model)
    valid = torch.arange(9)[None, :] < torch.tensor([9, 5])[:, None]
    garbage = hidden.clone()
    garbage[1, 5:] = 1e3  # whatever sits in the padded frames
    with torch.no_grad():
        together, _ = sid.net.pool(EncoderOutput(garbage, valid))
        alone, _ = sid.net.pool(EncoderOutput(hidden[1:, :5], None))
    torch.testing.assert_close(together[1], alone[0], atol=1e-5, rtol=1e-5)
    assert together.shape == (2, sid.net.pooled_size)


@pytest.mark.parametrize("head", HEADS)
def test_training_step_reaches_every_parameter_and_ignores_unknown_speakers(head: str):
    sid = model(head).train()
    assert hasattr(sid.net, "decoder") == (head == "decoder")
    speech = torch.from_numpy(np.stack([tone(0.3), tone(0.3, freq=330.0), tone(0.3, freq=440.0)]))
    text = torch.tensor([[2], [4], [1]])  # anna, carl, <unk>: a speaker outside the list
    loss, stats, weight = sid(speech, torch.tensor([4800] * 3), text, torch.ones(3, dtype=torch.long))
    loss.backward()
    assert [name for name, p in sid.named_parameters() if p.grad is None] == []
    logits, _ = sid.label_logits(speech, torch.tensor([4800] * 3))
    expected = torch.nn.functional.cross_entropy(logits[:2], torch.tensor([0, 2]))
    sid.eval()  # dropout off: recompute both sides the same way
    with torch.no_grad():
        logits, _ = sid.label_logits(speech, torch.tensor([4800] * 3))
        loss, stats, _ = sid(speech, torch.tensor([4800] * 3), text, torch.ones(3, dtype=torch.long))
    torch.testing.assert_close(loss.reshape(()), torch.nn.functional.cross_entropy(logits[:2], torch.tensor([0, 2])))
    right = (logits.argmax(-1)[:2] == torch.tensor([0, 2])).sum()
    assert float(stats["acc"]) == pytest.approx(float(right) / 3)  # the unknown speaker counts as an error
    assert int(weight) == 3 and torch.isfinite(expected)


def test_a_batch_of_unknown_speakers_has_a_zero_loss_not_nan():
    sid = model("pooling").eval()
    loss, stats, _ = sid(torch.from_numpy(tone(0.3))[None], torch.tensor([4800]), torch.tensor([[1]]),
                         torch.tensor([1]))
    assert float(loss.detach()) == 0.0 and float(stats["acc"]) == 0.0


def test_configuration_errors_are_one_line(tmp_path: Path):
    tokens = tmp_path / "tokens.txt"
    tokens.write_text("\n".join(SPEAKER_TOKENS) + "\n")
    base = ["--token_list", str(tokens), "--net_conf", "size=tiny"]
    with pytest.raises(ConfigError, match="model_conf: head must be one of decoder, pooling, not 'mean'"):
        SIDTask.build_model(SIDTask.get_parser().parse_args(base + ["--model_conf", "head=mean"]))
    with pytest.raises(ConfigError, match="model_conf: unknown key 'ctc_weight'"):
        SIDTask.build_model(SIDTask.get_parser().parse_args(base + ["--model_conf", "ctc_weight=0.3"]))
    tokens.write_text("<blank>\n<unk>\nanna\n<sos/eos>\n")
    with pytest.raises(ConfigError, match="needs at least two speakers; the token list has 1"):
        SIDTask.build_model(SIDTask.get_parser().parse_args(base))


def test_sid_inference_writes_labels_and_top5_that_match_speech2label(tmp_path: Path):
    from espnet2_speecht5.bin import sid_inference
    from espnet2_speecht5.inference.speech2label import Speech2Label

    exp = write_sid_exp(tmp_path / "recipe", seed=7)
    scp = []
    for n, freq in enumerate((200.0, 330.0, 470.0)):
        path = tmp_path / f"u{n}.wav"
        sf.write(path, tone(0.2 + 0.1 * n, freq=freq), 16000)
        scp.append(f"utt{n} {path}\n")
    (tmp_path / "wav.scp").write_text("".join(scp))
    sid_inference.main(["--output_dir", str(tmp_path / "out"), "--data_path_and_name_and_type",
                        f"{tmp_path / 'wav.scp'},speech,sound", "--classification_train_config", str(exp["config"]),
                        "--classification_model_file", str(exp["model"])])
    labels = dict(line.split() for line in (tmp_path / "out/label").read_text().splitlines())
    top5 = {line.split()[0]: line.split()[1:] for line in (tmp_path / "out/top5").read_text().splitlines()}
    sid = Speech2Label(exp["config"], exp["model"])
    for n in range(3):
        best = sid.top(str(tmp_path / f"u{n}.wav"), k=5)
        assert labels[f"utt{n}"] == best[0][0]
        assert [item.rsplit(":", 1)[0] for item in top5[f"utt{n}"]] == [label for label, _ in best]
        assert [float(item.rsplit(":", 1)[1]) for item in top5[f"utt{n}"]] == pytest.approx(
            [p for _, p in best], abs=1e-4)


def test_sid_inference_names_a_missing_wav_in_one_line(tmp_path: Path, capsys):
    from espnet2_speecht5.bin import sid_inference

    exp = write_sid_exp(tmp_path / "recipe")
    (tmp_path / "wav.scp").write_text(f"utt0 {tmp_path / 'gone.wav'}\n")
    with pytest.raises(SystemExit):
        sid_inference.main(["--output_dir", str(tmp_path / "out"), "--data_path_and_name_and_type",
                            f"{tmp_path / 'wav.scp'},speech,sound", "--classification_train_config",
                            str(exp["config"]), "--classification_model_file", str(exp["model"])])
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "gone.wav" in err[0] and "utt0" in err[0]
    assert not (tmp_path / "out/label").exists()


def test_speech2label_refuses_an_asr_configuration(tmp_path: Path):
    from espnet2_speecht5.inference.speech2label import Speech2Label

    from hub_helpers import write_asr_exp

    exp = write_asr_exp(tmp_path / "recipe")
    with pytest.raises(DataError, match="not a SpeechT5 speaker-identification configuration"):
        Speech2Label(exp["config"], exp["model"])


def test_voxceleb_run_sh_initialises_the_sid_network_from_a_converted_s2t_checkpoint(tmp_path: Path):
    """The --init_param of egs2/voxceleb1/sid1/run.sh on a checkpoint as convert_checkpoint writes it."""
    import re

    from espnet2_speecht5.models.common import espnet_net_config
    from espnet2_speecht5.nets.compositions import SpeechToText
    from espnet2_speecht5.train.checks import load_init_param

    from repo_testing import REPO_ROOT

    run_sh = (REPO_ROOT / "egs2/voxceleb1/sid1/run.sh").read_text()
    spec = re.search(r'--init_param "\$\{base_checkpoint\}(::[^"]+)"', run_sh).group(1)
    cfg = net_config_from_conf(ASR_NET)
    torch.manual_seed(11)
    s2t = SpeechToText(espnet_net_config(cfg, 40))  # a text vocabulary unlike the speaker list
    checkpoint = tmp_path / "speecht5_base_s2t.pth"
    torch.save(s2t.state_dict(), checkpoint)  # convert_checkpoint's format: the network's keys, no prefix
    for head in HEADS:
        sid = model(head)
        fresh = {key: value.clone() for key, value in sid.state_dict().items()}
        if head == "pooling":
            with pytest.raises(DataError, match="'decoder.layers.0.*is not a parameter of the model"):
                load_init_param(f"{checkpoint}{spec}", sid, ignore_init_mismatch=False)
            continue
        load_init_param(f"{checkpoint}{spec}", sid, ignore_init_mismatch=False)
        source = s2t.state_dict()
        for key, value in sid.net.state_dict().items():
            assert torch.equal(value, source[key]), key
        assert torch.equal(sid.classifier.weight, fresh["classifier.weight"])  # the head starts fresh
