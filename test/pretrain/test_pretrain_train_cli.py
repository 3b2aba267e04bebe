"""pretrain_train for one epoch on a tiny data set, then what the later stages do with the model:
held-out scores (pretrain_evaluate) and fine-tuning initialisation (pretrained_init)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Dict

import pytest
import torch
from pretrain_data import make_dataset, train_args, write_labels

from espnet2_speecht5.runtime.errors import DataError

TRAIN_TERMS = ("loss_mlm", "acc_mlm", "loss_mel_l1", "loss_stop_bce", "loss_feature_pen", "loss_diversity",
               "loss_text_ce", "acc_text", "code_perplexity", "codebook_temp", "mask_ratio", "loss")


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> Dict[str, Path]:
    root = tmp_path_factory.mktemp("pretrain_cli")
    files = make_dataset(root)
    out = root / "exp"
    proc = subprocess.run(
        [sys.executable, "-m", "espnet2_speecht5.bin.pretrain_train", *train_args(files, out, ratio=0.5)],
        capture_output=True, text=True, timeout=600, env={**os.environ, "OMP_NUM_THREADS": "1"},
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    files.update(exp=out, stderr=proc.stderr)  # type: ignore[dict-item]
    return files


def epoch_results(stderr: str) -> Dict[str, Dict[str, float]]:
    line = next(line for line in stderr.splitlines() if "1epoch results:" in line)
    parts = {}
    for phase in ("train", "valid"):
        chunk = line.split(f"[{phase}]")[1].split("[")[0]
        parts[phase] = {k: v for k, v in re.findall(r"(\w+)=([-0-9.e+na]+)", chunk)}
    return parts


def test_one_epoch_reports_every_loss_term(trained):
    results = epoch_results(trained["stderr"])
    for term in TRAIN_TERMS:
        assert term in results["train"], term
    for term in ("acc_mlm", "loss_mlm", "loss_mel_l1", "loss_text_ce", "acc_text", "loss"):
        assert term in results["valid"], term
    assert "an epoch: 3 speech and 1 text batches (--text_batch_ratio 0.5), interleaved by step" in trained["stderr"]
    line = next(line for line in trained["stderr"].splitlines() if "1epoch results:" in line)
    assert "total_count=4," in line.split("[valid]")[0]  # 3 speech + 1 text steps
    assert (trained["exp"] / "valid.acc_mlm.best.pth").is_file()


def test_held_out_scores_are_seeded_and_counted(trained, tmp_path: Path):
    from espnet2_speecht5.bin import pretrain_evaluate

    argv = ["evaluate", "--train_config", str(trained["exp"] / "config.yaml"),
            "--model_file", str(trained["exp"] / "valid.acc_mlm.best.pth"), "--wav_scp", str(trained["dev_wav"]),
            "--label", str(trained["dev_label"]), "--text", str(trained["dev_text"])]  # fmt: skip
    pretrain_evaluate.main(argv + ["--out", str(tmp_path / "a.yaml")])
    keys = tmp_path / "keys"
    keys.write_text("".join(line.split()[0] + "\n" for line in trained["dev_wav"].read_text().splitlines()[:2]))
    pretrain_evaluate.main(argv + ["--key_file", str(keys), "--out", str(tmp_path / "b1.yaml")])
    rest = tmp_path / "rest"
    rest.write_text("".join(line.split()[0] + "\n" for line in trained["dev_wav"].read_text().splitlines()[2:]))
    pretrain_evaluate.main(argv[:-2] + ["--key_file", str(rest), "--out", str(tmp_path / "b2.yaml")])
    pretrain_evaluate.main(["merge", "--inputs", str(tmp_path / "a.yaml"),
                            "--out", str(tmp_path / "ev" / "a" / "scores.yaml")])
    pretrain_evaluate.main(["merge", "--inputs", str(tmp_path / "b1.yaml"), str(tmp_path / "b2.yaml"),
                            "--out", str(tmp_path / "ev" / "b" / "scores.yaml")])
    import yaml

    whole = yaml.safe_load((tmp_path / "ev" / "a" / "scores.yaml").read_text())
    split = yaml.safe_load((tmp_path / "ev" / "b" / "scores.yaml").read_text())
    assert whole["utterances"] == 4 and whole["sentences"] == 6
    assert 0.0 <= whole["acc_mlm"] <= 1.0 and whole["loss_mlm"] > 0 and whole["loss_text_ce"] > 0
    # seeded per utterance: two jobs give the same speech scores as one
    for term in ("acc_mlm", "loss_mlm", "loss_mel_l1", "loss_stop_bce"):
        assert split[term] == pytest.approx(whole[term], rel=1e-5), term
    # stage 10 turns the merged sums into scores.json (accuracies in percent); the report table carries them
    from espnet2_speecht5.recipes import Context, get_recipe
    from espnet2_speecht5.recipes.steps import results_text

    recipe = get_recipe("pretrain")
    scores = recipe.score(Context(task_exp=str(tmp_path)), "a", tmp_path / "ev", "m.pth")
    assert scores["metrics"]["acc_mlm"] == pytest.approx(whole["acc_mlm"] * 100)
    assert scores["details"]["counts"]["utterances"] == 4
    table = results_text(tmp_path)
    row = next(line for line in table.splitlines() if line.startswith("|ev/a|"))
    assert row.split("|")[3] == f"{whole['acc_mlm'] * 100:.1f}"


def test_labels_that_do_not_fit_the_audio_name_the_utterance(trained, tmp_path: Path):
    from espnet2_speecht5.inference.pretrain_scores import evaluate_set, load_pretrain_model

    lengths = {line.split()[0]: 0 for line in trained["dev_wav"].read_text().splitlines()}
    import soundfile as sf

    for line in trained["dev_wav"].read_text().splitlines():
        utt, path = line.split()
        lengths[utt] = sf.info(path).frames
    bad = tmp_path / "label"
    write_labels(bad, lengths, offset={"devutt_02": 5})
    model, args = load_pretrain_model(trained["exp"] / "config.yaml", trained["exp"] / "valid.acc_mlm.best.pth")
    with pytest.raises(DataError, match=r"utterance 'devutt_02': \d+ cluster labels for \d+ samples"):
        evaluate_set(model, args, (str(trained["dev_wav"]), str(bad)))


def test_fine_tuning_takes_the_parts_of_the_asr_network(trained, tmp_path: Path):
    from pretrain_data import NET_CONF, token_list

    from espnet2_speecht5.bin import pretrained_init
    from espnet2_speecht5.checkpoint.io import load_checkpoint
    from espnet2_speecht5.models.asr import SpeechT5ASRModel
    from espnet2_speecht5.tasks.common import net_config_from_conf
    from espnet2_speecht5.train.checks import load_init_param

    pretrained = trained["exp"] / "valid.acc_mlm.best.pth"
    pretrained_init.main(["tokens", "--pretrained_model", str(pretrained), "--token_type", "char",
                          "--outdir", str(tmp_path / "tok"), "--cache_dir", str(tmp_path / "cache")])
    assert (tmp_path / "tok" / "tokens.txt").read_text().split() == token_list()
    pretrained_init.main(["params", "--pretrained_model", str(pretrained), "--task", "asr",
                          "--token_list", str(tmp_path / "tok" / "tokens.txt"), "--out", str(tmp_path / "init.pth"),
                          "--cache_dir", str(tmp_path / "cache")])
    init = load_checkpoint(tmp_path / "init.pth")
    assert {key.split(".")[1] for key in init} == {"speech_prenet", "encoder", "decoder", "text_decoder_prenet"}
    torch.manual_seed(0)
    asr = SpeechT5ASRModel(len(token_list()), token_list(), net_config_from_conf(NET_CONF))
    load_init_param(f"{tmp_path / 'init.pth'}:net:net", asr, ignore_init_mismatch=False)  # strict: every key fits
    state = load_checkpoint(pretrained)
    for key, value in asr.net.state_dict().items():
        assert torch.equal(value, state[f"net.{key}"]), key
    other = tmp_path / "other.txt"
    other.write_text("\n".join(token_list()[:-2] + ["z", "<sos/eos>"]) + "\n")
    # another token list: the shared tokens keep their rows, the new one ("z") starts at the mean row
    pretrained_init.main(["params", "--pretrained_model", str(pretrained), "--task", "asr", "--token_list",
                          str(other), "--out", str(tmp_path / "x.pth"), "--cache_dir", str(tmp_path / "cache")])
    moved = load_checkpoint(tmp_path / "x.pth")["net.text_decoder_prenet.embed_tokens.weight"]
    rows = state["net.text_decoder_prenet.embed_tokens.weight"]
    assert torch.equal(moved[:-2], rows[:-2]) and torch.equal(moved[-1], rows[-1])
    assert torch.allclose(moved[-2], rows.mean(dim=0))
    with pytest.raises(DataError, match="was trained with --token_type char, not bpe"):
        pretrained_init.main(["tokens", "--pretrained_model", str(pretrained), "--token_type", "bpe",
                              "--outdir", str(tmp_path / "tok2"), "--cache_dir", str(tmp_path / "cache")])


def test_fine_tuning_an_fbank_model_takes_all_but_the_speech_prenet_and_says_it_is_new(trained, tmp_path: Path, caplog):
    import yaml
    from pretrain_data import NET_CONF, token_list

    from espnet2_speecht5.bin import pretrained_init
    from espnet2_speecht5.checkpoint.io import load_checkpoint
    from espnet2_speecht5.nets.fbank_prenet import FbankSpeechPrenet
    from espnet2_speecht5.tasks.asr import ASRTask
    from espnet2_speecht5.train.checks import load_init_param

    pretrained = trained["exp"] / "valid.acc_mlm.best.pth"
    tokens = tmp_path / "tokens.txt"
    tokens.write_text("\n".join(token_list()) + "\n")
    config = tmp_path / "train_fbank.yaml"
    config.write_text(yaml.safe_dump({"speech_prenet": "fbank", "frontend": "default", "net_conf": NET_CONF}))
    with caplog.at_level("INFO"):
        pretrained_init.main(["params", "--pretrained_model", str(pretrained), "--task", "asr", "--token_list",
                              str(tokens), "--train_config", str(config), "--out", str(tmp_path / "init.pth"),
                              "--cache_dir", str(tmp_path / "cache")])
    assert "speech_prenet: fbank: the speech pre-net is new" in caplog.text
    init = load_checkpoint(tmp_path / "init.pth")
    assert {key.split(".")[1] for key in init} == {"encoder", "decoder", "text_decoder_prenet"}
    args = ASRTask.get_parser().parse_args(["--config", str(config), "--token_list", str(tokens)])
    torch.manual_seed(0)
    asr = ASRTask.build_model(args)
    assert isinstance(asr.net.speech_prenet, FbankSpeechPrenet)
    fresh_prenet = {k: v.clone() for k, v in asr.net.speech_prenet.state_dict().items()}
    load_init_param(f"{tmp_path / 'init.pth'}:net:net", asr, ignore_init_mismatch=False)  # strict: every key fits
    state = load_checkpoint(pretrained)
    for key, value in asr.net.state_dict().items():
        if key.startswith("speech_prenet."):
            assert torch.equal(value, fresh_prenet[key[len("speech_prenet."):]]), key  # new: its own initialisation
        else:
            assert torch.equal(value, state[f"net.{key}"]), key


def test_fine_tuning_takes_the_parts_of_the_tts_network(trained, tmp_path: Path):
    from pretrain_data import NET_CONF, token_list

    from espnet2_speecht5.bin import pretrained_init
    from espnet2_speecht5.checkpoint.io import load_checkpoint
    from espnet2_speecht5.models.tts import SpeechT5TTSModel
    from espnet2_speecht5.tasks.common import net_config_from_conf
    from espnet2_speecht5.train.checks import load_init_param

    pretrained = trained["exp"] / "valid.acc_mlm.best.pth"
    tokens = tmp_path / "tokens.txt"
    tokens.write_text("\n".join(token_list()) + "\n")
    pretrained_init.main(["params", "--pretrained_model", str(pretrained), "--task", "tts", "--token_list",
                          str(tokens), "--out", str(tmp_path / "init.pth"), "--cache_dir", str(tmp_path / "cache")])
    init = load_checkpoint(tmp_path / "init.pth")
    parts = {key.split(".")[1] for key in init}
    assert {"text_prenet", "encoder", "decoder", "speech_decoder_prenet", "speech_decoder_postnet"} <= parts
    assert not parts & {"speech_prenet", "text_decoder_prenet", "text_decoder_postnet"}
    torch.manual_seed(0)
    tts = SpeechT5TTSModel(len(token_list()), token_list(), net_config_from_conf(NET_CONF))
    fresh = {key: value.clone() for key, value in tts.net.state_dict().items()}
    load_init_param(f"{tmp_path / 'init.pth'}:net:net", tts, ignore_init_mismatch=False)
    state = load_checkpoint(pretrained)
    loaded = {key for key in tts.net.state_dict() if f"net.{key}" in init}
    assert loaded == {key[len("net."):] for key in init}  # every kept parameter has a place in the TTS network
    for key, value in tts.net.state_dict().items():
        expected = state[f"net.{key}"] if key in loaded else fresh[key]  # anything else keeps its initialisation
        assert torch.equal(value, expected), key


@pytest.mark.slow
def test_two_cpu_ranks_train_the_interleaved_batches(tmp_path: Path):
    """DDP over gloo: the ranks average every step's statistics, which only works when both run the
    same modality at the same step (about a minute)."""
    files = make_dataset(tmp_path)
    out = tmp_path / "exp"
    command = [sys.executable, "-m", "espnet2_speecht5.bin.ddp_launch", "--nproc_per_node", "2", "--device", "cpu",
               "--", sys.executable, "-m", "espnet2_speecht5.bin.pretrain_train", *train_args(files, out, ratio=1.0),
               "--max_epoch", "2", "--batch_size", "2", "--text_batch_size", "4", "--dist_backend", "gloo"]
    proc = subprocess.run(command, capture_output=True, text=True, timeout=600,
                          env={**os.environ, "OMP_NUM_THREADS": "1"})  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "an epoch: 4 speech and 4 text batches" in proc.stderr  # each rank holds half of every batch
    assert "2epoch results:" in proc.stderr
    assert (out / "2epoch.pth").is_file()


@pytest.mark.parametrize("head", ["decoder", "pooling"])
def test_fine_tuning_takes_the_parts_of_the_sid_network(trained, tmp_path: Path, head: str):
    from pretrain_data import NET_CONF

    from espnet2_speecht5.bin import pretrained_init
    from espnet2_speecht5.checkpoint.io import load_checkpoint
    from espnet2_speecht5.models.sid import SpeechT5SIDModel
    from espnet2_speecht5.tasks.common import net_config_from_conf
    from espnet2_speecht5.train.checks import load_init_param

    pretrained = trained["exp"] / "valid.acc_mlm.best.pth"
    speakers = ["<blank>", "<unk>", "anna", "bert", "<sos/eos>"]  # not the pre-training token list: allowed
    (tmp_path / "tokens.txt").write_text("\n".join(speakers) + "\n")
    (tmp_path / "train.yaml").write_text(f"model_conf:\n    head: {head}\n")
    pretrained_init.main(["params", "--pretrained_model", str(pretrained), "--task", "sid", "--token_list",
                          str(tmp_path / "tokens.txt"), "--train_config", str(tmp_path / "train.yaml"),
                          "--out", str(tmp_path / "init.pth"), "--cache_dir", str(tmp_path / "cache")])
    init = load_checkpoint(tmp_path / "init.pth")
    expected_parts = {"speech_prenet", "encoder"} | ({"decoder"} if head == "decoder" else set())
    assert {key.split(".")[1] for key in init} == expected_parts
    torch.manual_seed(0)
    sid = SpeechT5SIDModel(len(speakers), speakers, net_config_from_conf(NET_CONF), head=head)
    load_init_param(f"{tmp_path / 'init.pth'}:net:net", sid, ignore_init_mismatch=False)  # strict: every key fits
    state = load_checkpoint(pretrained)
    for key, value in sid.net.state_dict().items():  # the whole network comes from pre-training; the head is new
        assert torch.equal(value, state[f"net.{key}"]), key


@pytest.mark.parametrize("task", ["vc", "se"])
def test_fine_tuning_speech_to_speech_takes_the_speech_side_parts_without_a_token_list(
    trained, tmp_path: Path, task: str
):
    import yaml
    from pretrain_data import NET_CONF

    from espnet2_speecht5.bin import pretrained_init
    from espnet2_speecht5.checkpoint.io import load_checkpoint
    from espnet2_speecht5.models.se import SpeechT5SEModel
    from espnet2_speecht5.models.vc import SpeechT5VCModel
    from espnet2_speecht5.tasks.common import SPECIAL_TOKENS, net_config_from_conf
    from espnet2_speecht5.train.checks import load_init_param

    pretrained = trained["exp"] / "valid.acc_mlm.best.pth"
    # a fine-tuning config without masking (SE's): its network has no mask embedding, so that is left out
    config = tmp_path / "train.yaml"
    config.write_text(yaml.safe_dump({"net_conf": {**NET_CONF, "mask_time_prob": 0.0}}))
    pretrained_init.main(["params", "--pretrained_model", str(pretrained), "--task", task, "--train_config",
                          str(config), "--out", str(tmp_path / "init.pth"), "--cache_dir", str(tmp_path / "cache")])
    init = load_checkpoint(tmp_path / "init.pth")
    parts = {key.split(".")[1] for key in init}
    assert {"speech_prenet", "encoder", "decoder", "speech_decoder_prenet", "speech_decoder_postnet"} <= parts
    assert not parts & {"text_prenet", "text_decoder_prenet", "text_decoder_postnet"}
    torch.manual_seed(0)
    assert "net.speech_prenet.mask_emb" in load_checkpoint(pretrained)
    assert "net.speech_prenet.mask_emb" not in init
    model_class = {"vc": SpeechT5VCModel, "se": SpeechT5SEModel}[task]
    vc = model_class(len(SPECIAL_TOKENS), list(SPECIAL_TOKENS),
                     net_config_from_conf({**NET_CONF, "mask_time_prob": 0.0}))
    fresh = {key: value.clone() for key, value in vc.net.state_dict().items()}
    load_init_param(f"{tmp_path / 'init.pth'}:net:net", vc, ignore_init_mismatch=False)
    state = load_checkpoint(pretrained)
    loaded = {key for key in vc.net.state_dict() if f"net.{key}" in init}
    assert loaded == {key[len("net."):] for key in init}  # every kept parameter has a place in the VC network
    for key, value in vc.net.state_dict().items():
        expected = state[f"net.{key}"] if key in loaded else fresh[key]  # anything else keeps its initialisation
        assert torch.equal(value, expected), key


def test_fine_tuning_st_takes_encoder_and_decoder_with_a_new_target_embedding(trained, tmp_path: Path):
    from pretrain_data import NET_CONF

    from espnet2_speecht5.bin import pretrained_init
    from espnet2_speecht5.checkpoint.io import load_checkpoint
    from espnet2_speecht5.models.st import SpeechT5STModel
    from espnet2_speecht5.tasks.common import net_config_from_conf
    from espnet2_speecht5.train.checks import load_init_param

    pretrained = trained["exp"] / "valid.acc_mlm.best.pth"
    german = ["<blank>", "<unk>", "<space>", "d", "e", "r", "ü", "ß", "<sos/eos>"]  # not the pre-training list
    (tmp_path / "tgt.txt").write_text("\n".join(german) + "\n")
    pretrained_init.main(["params", "--pretrained_model", str(pretrained), "--task", "st", "--token_list",
                          str(tmp_path / "tgt.txt"), "--out", str(tmp_path / "init.pth"),
                          "--cache_dir", str(tmp_path / "cache")])
    init = load_checkpoint(tmp_path / "init.pth")
    assert {key.split(".")[1] for key in init} == {"speech_prenet", "encoder", "decoder"}
    torch.manual_seed(0)
    st = SpeechT5STModel(len(german), german, net_config_from_conf(NET_CONF))
    embedding = st.net.text_decoder_prenet.embed_tokens.weight.detach().clone()
    load_init_param(f"{tmp_path / 'init.pth'}:net:net", st, ignore_init_mismatch=False)
    state = load_checkpoint(pretrained)
    for key, value in st.net.state_dict().items():
        if key.startswith("text_decoder_prenet."):
            assert torch.equal(value, embedding)  # the target embedding is the new one
        else:
            assert torch.equal(value, state[f"net.{key}"]), key
