"""All 13 stages of the main job, egs2/mini_speecht5/asr1, with a very small training config.

The recipe's own conf/train.yaml needs several minutes; here a two-epoch network of a few
thousand parameters checks that every stage runs on the real mini corpus and that stage 11
writes sclite's CER table into the recipe's RESULTS.md.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

from repo_testing import copy_recipe, run_recipe

SMALL_TRAIN = textwrap.dedent(
    """\
    net_conf: {size: tiny, d_model: 32, encoder_layers: 1, decoder_layers: 1, encoder_heads: 2, decoder_heads: 2,
               encoder_ffn_dim: 64, decoder_ffn_dim: 64}
    model_conf: {ctc_weight: 0.3}
    batch_type: numel
    batch_bins: 600000
    max_epoch: 2
    num_workers: 0
    num_att_plot: 1
    best_model_criterion: [[valid, acc, max]]
    keep_nbest_models: 1
    optim: adam
    optim_conf: {lr: 0.004}
    """
)
SMALL_DECODE = "beam_size: 1\nctc_weight: 0.3\nmaxlenratio: 0.3\n"


def test_mini_asr_stages_1_to_13(tmp_path: Path, mini_corpus_env: dict):
    recipe = copy_recipe("mini_speecht5", "asr1", tmp_path)
    (tmp_path / "train_small.yaml").write_text(SMALL_TRAIN)
    (tmp_path / "decode_small.yaml").write_text(SMALL_DECODE)
    proc = run_recipe(
        recipe,
        *("--stage", "1", "--stop_stage", "13", "--nj", "2", "--inference_nj", "2", "--test_sets", "test"),
        *("--train_config", str(tmp_path / "train_small.yaml")),
        *("--inference_config", str(tmp_path / "decode_small.yaml")),
        env=mini_corpus_env,
        timeout=1200,
    )
    assert proc.returncode == 0, proc.stderr[-4000:]
    results = (recipe / "RESULTS.md").read_text()
    cer = results[results.index("### CER") :]
    assert "|dataset|Snt|Wrd|Corr|Sub|Del|Ins|Err|S.Err|" in cer
    rows = [line for line in cer.splitlines() if line.startswith("|decode") and "/test|" in line]
    assert rows and rows[0].split("|")[2] == "100", rows  # every test utterance was scored
    exp = recipe / "exp" / "asr_train_small_char"
    assert list(exp.glob("*.zip")), "stage 12 wrote no model-zoo zip"
    assert (exp / "images" / "loss.png").is_file()
    assert list((exp / "att_ws").rglob("*.png")), "no attention plots"
