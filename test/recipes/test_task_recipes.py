"""The task recipes: one row per task, what the driver reads from them, and the driver's own shape."""

from __future__ import annotations

import importlib
import importlib.util
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from espnet2_speecht5.checkpoint.pack_keys import pack_keys
from espnet2_speecht5.nets.compositions import NETWORKS, network_parts
from espnet2_speecht5.nets.config import SpeechT5Config
from espnet2_speecht5.recipes import TASKS, Context, all_recipes, get_recipe
from espnet2_speecht5.runtime.errors import DataError
from espnet2_speecht5.tasks.common import SpeechT5AbsTask

from repo_testing import REPO_ROOT

DRIVER = REPO_ROOT / "egs2" / "TEMPLATE" / "speecht5.sh"
TASK_BRANCH = re.compile(r'"\$\{task\}" *(=|!=)|case "\$\{task\}"')

# task -> (network kind, stages 6-13 built, scores.json metrics: ../shared/DESIGN.md's names)
ROWS = {
    "asr": ("s2t", True, ("cer", "wer")),
    "tts": ("t2s", True, ("mcd", "cer", "wer", "spk_sim")),
    "pretrain": (None, True, ("acc_mlm", "loss_mlm", "loss_mel_l1", "loss_stop_bce", "loss_text_ce", "acc_text")),
    "st": ("s2t", True, ("bleu", "chrf")),
    "vc": ("s2s", True, ("mcd", "mcd_source", "cer", "spk_sim_target", "spk_sim_source")),
    "sid": ("s2c", True, ("accuracy", "top5")),
    "se": ("s2s", True, ("pesq", "stoi", "cer", "pesq_noisy", "stoi_noisy", "cer_noisy", "cer_clean")),
}


def test_every_task_has_one_row_and_a_recipe():
    assert set(ROWS) == set(TASKS)
    assert [r.name for r in all_recipes()] == list(TASKS)


@pytest.mark.parametrize("task", sorted(ROWS))
def test_recipe_facts(task: str):
    kind, trained, metrics = ROWS[task]
    recipe = get_recipe(task)
    assert (recipe.kind, recipe.trained, recipe.metrics) == (kind, trained, metrics)
    assert {"wav.scp", "utt2spk", "spk2utt"} <= set(recipe.required_files)
    assert set(recipe.text_files) <= set(recipe.required_files)
    if trained:
        assert recipe.train_module and recipe.inference_module and recipe.shape_keys and recipe.pack_kind
        assert recipe.transformers_class or recipe.no_export_reason
        module, name = recipe.espnet_task.split(":")
        assert issubclass(getattr(importlib.import_module(module), name), SpeechT5AbsTask)
        assert importlib.util.find_spec(recipe.train_module) and importlib.util.find_spec(recipe.inference_module)


@pytest.mark.parametrize("task", [t for t, row in ROWS.items() if row[0] is not None])
def test_network_parts_come_from_the_composition(task: str):
    recipe = get_recipe(task)
    parts = recipe.network_parts
    assert parts == network_parts(recipe.kind)
    assert "encoder" in parts and "decoder" in parts
    # the parts are the children of the real network, so a composition that gains a part gains it here
    built = NETWORKS[recipe.kind](SpeechT5Config.tiny())
    assert parts == tuple(name for name, _ in built.named_children())


def test_pretraining_has_no_fine_tuning_network():
    with pytest.raises(DataError, match="whole joint network"):
        _ = get_recipe("pretrain").network_parts


def test_meta_keys_are_espnet_pack_names():
    assert get_recipe("asr").meta_keys == ("asr_train_config", "asr_model_file") == pack_keys("asr")
    assert get_recipe("tts").meta_keys == ("train_config", "model_file")
    assert get_recipe("pretrain").meta_keys == ("ssl_train_config", "ssl_model_file")


def test_unknown_task_is_one_line():
    with pytest.raises(DataError, match=r"unknown --task 'nope' \(asr\|tts\|st\|vc\|sid\|se\|pretrain\)"):
        get_recipe("nope")


def test_env_is_shell_the_driver_can_eval():
    proc = subprocess.run(
        ["bash", "-c", 'eval "$(python -m espnet2_speecht5.recipes env --task tts)"; '
                       'echo "$shape_keys|$fold_lengths|$aux_targets|$model_prefix|$recipe_trained"'],
        capture_output=True, text=True, cwd=REPO_ROOT,
        env={**os.environ, "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"},
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "text speech|150 204800|speaker_embeddings||true"


def test_decode_dirs_follow_the_config_model_and_lm():
    asr, pretrain = get_recipe("asr"), get_recipe("pretrain")
    ctx = Context(task_exp="exp/asr_x", inference_config="conf/decode.yaml")
    assert asr.decode_dir(ctx, "valid.acc.best.pth") == Path("exp/asr_x/decode_valid.acc.best")
    ctx = Context(task_exp="exp/asr_x", inference_config="conf/beam5.yaml", use_lm="true",
                  lm_model_file="exp/lm_train_lm_char/valid.loss.ave.pth")
    assert asr.decode_dir(ctx, "valid.acc.ave.pth") == Path(
        "exp/asr_x/decode_beam5_valid.acc.ave_lm_train_lm_char_valid.loss.ave")
    assert pretrain.decode_dir(Context(task_exp="exp/p"), "latest.pth") == Path("exp/p/eval_latest")


def test_data_options_name_the_stage_that_makes_a_missing_input(tmp_path: Path):
    ctx = Context(xvector_dir=str(tmp_path / "xvector"))
    with pytest.raises(DataError, match=r"xvector/train/xvector.scp does not exist: run stage 6 first"):
        get_recipe("tts").data_options(ctx, "train", tmp_path / "dump" / "raw" / "train")
    assert get_recipe("asr").data_options(ctx, "valid", Path("d/dev")) == [
        "--valid_data_path_and_name_and_type", "d/dev/wav.scp,speech,sound",
        "--valid_data_path_and_name_and_type", "d/dev/text,text,text"]


def test_the_driver_asks_the_recipe_and_never_the_task_name():
    text = DRIVER.read_text(encoding="utf-8")
    branches = [line for line in text.splitlines() if TASK_BRANCH.search(line)]
    assert branches == []
    assert len(text.splitlines()) < 650


def test_recipes_and_the_transformers_bridge_agree():
    from espnet2_speecht5.checkpoint.transformers_targets import TARGETS

    for task, target in TARGETS.items():
        recipe = get_recipe(task)
        assert (target.kind, target.hf_class, target.pack_kind, target.task_class) == (
            recipe.kind, recipe.transformers_class, recipe.pack_kind, recipe.espnet_task)


def test_tts_copy_synthesis_ceiling_uses_the_griffin_lim_options_of_stage_9(tmp_path: Path, monkeypatch):
    import espnet2_speecht5.scoring.copy_synthesis as copy_synthesis
    from espnet2_speecht5.recipes.tts import RECIPE as TTS

    conf = tmp_path / "decode.yaml"
    conf.write_text("vocoder: griffin_lim\nvocoder_conf: {n_iter: 7, momentum: 0.5}\n", encoding="utf-8")
    seen = {}

    def fake_copy_synthesise(wav_scp, outdir, vocoder=None):
        seen.update(n_iter=vocoder.n_iter, momentum=vocoder.momentum)
        return Path(outdir) / "wav.scp"

    monkeypatch.setattr(copy_synthesis, "copy_synthesise", fake_copy_synthesise)
    ctx = Context(dumpdir=str(tmp_path / "dump"), inference_config=str(conf), asr_model_zip=str(conf))
    args = TTS.ceiling_args(ctx, "test", tmp_path / "decode")
    assert sorted(args) == ["copy_synthesis", "recordings"]
    assert seen == {"n_iter": 7, "momentum": 0.5}
    conf.write_text("vocoder: hifigan\n", encoding="utf-8")
    assert sorted(TTS.ceiling_args(ctx, "test", tmp_path / "decode")) == ["recordings"]
