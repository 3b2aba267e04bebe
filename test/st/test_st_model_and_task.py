"""SpeechT5STModel and STTask on a tiny random network: the translation loss, the optional source
CTC, the task's two tokenisers and a training run of st_train."""

from __future__ import annotations

from pathlib import Path
from typing import Dict, List

import numpy as np
import pytest
import soundfile as sf
import torch
import yaml

from espnet2_speecht5.bin import st_train
from espnet2_speecht5.models.st import SpeechT5STModel
from espnet2_speecht5.nets.compositions import SpeechToText
from espnet2_speecht5.tasks.common import ConfigError, net_config_from_conf
from espnet2_speecht5.tasks.st import STTask

TGT_TOKENS: List[str] = ["<blank>", "<unk>", "<space>", "h", "a", "l", "o", "<sos/eos>"]
SRC_TOKENS: List[str] = ["<blank>", "<unk>", "<space>", "h", "e", "l", "o", "w", "r", "d", "<sos/eos>"]
NET_CONF = dict(size="tiny", d_model=32, encoder_layers=1, encoder_heads=2, encoder_ffn_dim=48, decoder_layers=1,
                decoder_heads=2, decoder_ffn_dim=48, conv_channels=[8, 8, 8], pos_conv_kernel=8, pos_conv_groups=2)


def make_model(**conf) -> SpeechT5STModel:
    torch.manual_seed(0)
    return SpeechT5STModel(len(TGT_TOKENS), TGT_TOKENS, net_config_from_conf(NET_CONF), **conf)


def batch() -> Dict[str, torch.Tensor]:
    torch.manual_seed(1)
    return dict(
        speech=0.1 * torch.randn(2, 8000), speech_lengths=torch.tensor([8000, 6400]),
        text=torch.tensor([[3, 4, 5, 5, 6], [3, 4, -1, -1, -1]]), text_lengths=torch.tensor([5, 2]),
        src_text=torch.tensor([[3, 4, 5, 5, 6], [7, 6, 8, 5, 9]]), src_text_lengths=torch.tensor([5, 5]),
    )  # fmt: skip


def test_the_translation_loss_is_the_label_smoothed_cross_entropy_of_the_target_tokens():
    model = make_model(lsm_weight=0.0)
    assert isinstance(model.net, SpeechToText) and model.net.cfg.vocab_size == len(TGT_TOKENS)
    assert not any(name.startswith(("ctc.", "src_ctc.")) for name in model.state_dict())
    model.eval()
    b = batch()
    loss, stats, weight = model(**b)
    assert int(weight) == 2 and "loss_ctc_src" not in stats
    # The same loss by hand: sum over tokens of -log p(y_t | y_<t, speech), divided by the batch.
    enc, _ = model.encode(b["speech"], b["speech_lengths"])
    ys_in, ys_out = model.decoder_io(b["text"], b["text_lengths"])
    logits, _ = model.decoder_logits(enc, ys_in)
    logp = torch.log_softmax(logits, dim=-1)
    mask = ys_out != -1
    nll = -logp.gather(-1, ys_out.clamp(min=0).unsqueeze(-1)).squeeze(-1)[mask].sum() / 2
    assert torch.allclose(loss, nll, rtol=1e-5, atol=1e-6)
    loss.backward()
    assert model.net.decoder.layers[0].self_attn.q_proj.weight.grad is not None  # type: ignore[union-attr]


def test_the_source_ctc_mixes_in_and_needs_the_source_transcript():
    model = make_model(src_vocab_size=len(SRC_TOKENS), src_ctc_weight=0.3)
    assert model.src_ctc is not None and model.src_ctc.ctc_lo.out_features == len(SRC_TOKENS)
    model.eval()
    b = batch()
    loss, stats, _ = model(**b)
    expected = 0.3 * stats["loss_ctc_src"] + 0.7 * stats["loss_att"]
    assert torch.allclose(loss, expected, rtol=1e-5)
    other = dict(b, src_text=torch.tensor([[9, 9, 9, 9, 9], [8, 8, 8, 8, 8]]))
    assert not torch.allclose(model(**other)[0], loss)
    with pytest.raises(ValueError, match="needs src_text in the batch"):
        model(**{k: v for k, v in b.items() if not k.startswith("src_")})


@pytest.mark.parametrize("conf, message", [
    (dict(src_ctc_weight=0.3), "needs the source token list"),
    (dict(src_vocab_size=11, src_ctc_weight=1.0), r"src_ctc_weight must be in \[0, 1\)"),
])  # fmt: skip
def test_bad_source_ctc_settings_are_refused(conf, message):
    with pytest.raises(ValueError, match=message):
        make_model(**conf)


def test_the_task_refuses_a_source_ctc_without_a_source_list_and_unknown_keys():
    with pytest.raises(ConfigError, match="unknown key 'ctc_weight'"):
        STTask.check_model_conf({"ctc_weight": 0.3})
    args = STTask.get_parser().parse_args(["--token_list", "x", "--output_dir", "o"])
    args.model_conf = {"src_ctc_weight": 0.3}
    with pytest.raises(ConfigError, match="src_ctc_weight > 0 needs --src_token_list"):
        STTask.task_model_kwargs(args)


@pytest.fixture
def st_data(tmp_path: Path) -> Dict[str, Path]:
    rng = np.random.default_rng(0)
    wav, text, src = [], [], []
    for i, (en, tgt) in enumerate([("hello world", "hallo"), ("low", "lo"), ("held", "hal"), ("word", "ola")]):
        path = tmp_path / f"u{i}.wav"
        sf.write(path, (0.1 * rng.standard_normal(6400 + 800 * i)).astype(np.float32), 16000)
        wav.append(f"u{i} {path}\n")
        text.append(f"u{i} {tgt}\n")
        src.append(f"u{i} {en}\n")
    (tmp_path / "wav.scp").write_text("".join(wav))
    (tmp_path / "text.tgt").write_text("".join(text))
    (tmp_path / "text").write_text("".join(src))
    (tmp_path / "tgt_tokens.txt").write_text("\n".join(TGT_TOKENS) + "\n")
    (tmp_path / "src_tokens.txt").write_text("\n".join(SRC_TOKENS) + "\n")
    return {name: tmp_path / name for name in ("wav.scp", "text.tgt", "text", "tgt_tokens.txt", "src_tokens.txt")}


def test_st_train_runs_an_epoch_with_the_source_ctc_and_stores_both_token_lists(st_data, tmp_path: Path):
    config = tmp_path / "train.yaml"
    config.write_text(yaml.safe_dump(dict(
        net_conf=NET_CONF, model_conf=dict(src_ctc_weight=0.3), batch_type="unsorted", batch_size=2, max_epoch=1,
        num_workers=0, num_att_plot=0, optim="adam", optim_conf=dict(lr=0.001),
        best_model_criterion=[["valid", "loss", "min"]], keep_nbest_models=1,
    )))  # fmt: skip
    data = []
    for mode in ("train", "valid"):
        data += [f"--{mode}_data_path_and_name_and_type", f"{st_data['wav.scp']},speech,sound",
                 f"--{mode}_data_path_and_name_and_type", f"{st_data['text.tgt']},text,text",
                 f"--{mode}_data_path_and_name_and_type", f"{st_data['text']},src_text,text",
                 f"--{mode}_shape_file", str(st_data["wav.scp"])]  # fmt: skip
    out = tmp_path / "exp"
    st_train.main(["--config", str(config), "--token_list", str(st_data["tgt_tokens.txt"]),
                   "--src_token_list", str(st_data["src_tokens.txt"]), "--output_dir", str(out), "--ngpu", "0",
                   *data])  # fmt: skip
    saved = yaml.safe_load((out / "config.yaml").read_text())
    assert saved["token_list"] == TGT_TOKENS and saved["src_token_list"] == SRC_TOKENS
    assert "src_vocab_size" not in saved["model_conf"]
    state = torch.load(out / "1epoch.pth", weights_only=True)
    assert state["src_ctc.ctc_lo.weight"].shape == (len(SRC_TOKENS), 32)
    assert (out / "images" / "loss_ctc_src.png").is_file() and (out / "images" / "loss_att.png").is_file()


def test_the_encoder_of_a_trained_asr_model_initialises_the_st_model(tmp_path: Path):
    """conf/train_asr_init.yaml's init_param lines: the ASR model's speech pre-net and encoder, nothing else."""
    from espnet2_speecht5.models.asr import SpeechT5ASRModel
    from espnet2_speecht5.train.checks import load_init_param

    torch.manual_seed(5)
    asr = SpeechT5ASRModel(len(SRC_TOKENS), SRC_TOKENS, net_config_from_conf(NET_CONF))
    torch.save(asr.state_dict(), tmp_path / "asr.pth")
    st = make_model()
    decoder_before = {k: v.clone() for k, v in st.net.decoder.state_dict().items()}
    for part in ("speech_prenet", "encoder"):
        load_init_param(f"{tmp_path / 'asr.pth'}:net.{part}:net.{part}", st, ignore_init_mismatch=False)
    for part in ("speech_prenet", "encoder"):
        ours, theirs = getattr(st.net, part).state_dict(), getattr(asr.net, part).state_dict()
        assert all(torch.equal(ours[k], theirs[k]) for k in theirs)
    assert all(torch.equal(v, decoder_before[k]) for k, v in st.net.decoder.state_dict().items())


def train_st(st_data, tmp_path: Path, out: Path, **options) -> None:
    """Train the tiny ST network of NET_CONF with st_train.main on ``st_data`` (train = valid), into ``out``."""
    config = tmp_path / f"{out.name}.yaml"
    settings = dict(
        net_conf=NET_CONF, batch_type="unsorted", batch_size=2, num_workers=0, num_att_plot=0,
        optim="adam", optim_conf=dict(lr=0.001), best_model_criterion=[["valid", "loss", "min"]],
        keep_nbest_models=1,
    )  # fmt: skip
    config.write_text(yaml.safe_dump({**settings, **options}))
    data = []
    for mode in ("train", "valid"):
        data += [f"--{mode}_data_path_and_name_and_type", f"{st_data['wav.scp']},speech,sound",
                 f"--{mode}_data_path_and_name_and_type", f"{st_data['text.tgt']},text,text",
                 f"--{mode}_shape_file", str(st_data["wav.scp"])]  # fmt: skip
    st_train.main(["--config", str(config), "--token_list", str(st_data["tgt_tokens.txt"]),
                   "--output_dir", str(out), "--ngpu", "0", *data])  # fmt: skip


def test_keep_last_epochs_keeps_the_newest_models_and_writes_their_average(st_data, tmp_path: Path):
    from espnet2_speecht5.checkpoint.io import load_checkpoint

    out = tmp_path / "exp"
    train_st(st_data, tmp_path, out, max_epoch=3, keep_last_epochs=2)
    assert sorted(p.name for p in (out / "last_epochs").iterdir()) == ["2epoch.pth", "3epoch.pth"]
    two, three = (load_checkpoint(out / "last_epochs" / f"{n}epoch.pth") for n in (2, 3))
    average = load_checkpoint(out / "last2epochs.ave.pth")
    key = "net.text_decoder_prenet.embed_tokens.weight"
    assert not torch.equal(two[key], three[key])
    assert torch.allclose(average[key], (two[key] + three[key]) / 2, atol=1e-6)
    assert set(average) == set(three)


def test_plot_interval_draws_images_and_attention_only_in_due_epochs(st_data, tmp_path: Path, monkeypatch, capsys):
    from espnet2.train.reporter import Reporter

    drawn: List[int] = []
    original = Reporter.matplotlib_plot

    def recording_plot(self, output_dir):
        drawn.append(self.get_epoch())
        return original(self, output_dir)

    monkeypatch.setattr(Reporter, "matplotlib_plot", recording_plot)
    out = tmp_path / "exp"
    train_st(st_data, tmp_path, out, max_epoch=5, num_att_plot=1, plot_interval=2)
    assert drawn == [2, 4, 5]
    epochs = {int(p.name.rsplit(".", 2)[1].removesuffix("ep")) for p in (out / "att_ws").rglob("*ep.png")}
    assert epochs == {2, 4, 5}
    assert (out / "images" / "loss.png").is_file()
    with pytest.raises(SystemExit):
        train_st(st_data, tmp_path, tmp_path / "exp0", max_epoch=1, plot_interval=0)
    assert "plot_interval must be 1 or more, not 0" in capsys.readouterr().err
