"""All 13 stages of the main job, egs2/mini_speecht5/asr1, with a very small training config.

The recipe's own conf/train.yaml needs several minutes; here a two-epoch network of a few
thousand parameters checks that every stage runs on the real mini corpus and that stage 11
writes sclite's CER table into the recipe's RESULTS.md.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import List, Tuple

import pytest

from repo_testing import copy_recipe, run_recipe

pytestmark = pytest.mark.recipe_run  # a full recipe run: make test-recipes and CI run it, make test does not

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


@pytest.fixture(scope="module")
def mini_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The mini recipe run through stages 1-13 with the small configs (once for this module)."""
    tmp_path = tmp_path_factory.mktemp("mini_asr")
    env = {"MINI_SPEECHT5": str(tmp_path / "corpus" / "mini_speecht5")}
    recipe = copy_recipe("mini_speecht5", "asr1", tmp_path)
    (tmp_path / "train_small.yaml").write_text(SMALL_TRAIN)
    (tmp_path / "decode_small.yaml").write_text(SMALL_DECODE)
    proc = run_recipe(
        recipe,
        *("--stage", "1", "--stop_stage", "13", "--nj", "2", "--inference_nj", "2", "--test_sets", "test"),
        *("--train_config", str(tmp_path / "train_small.yaml")),
        *("--inference_config", str(tmp_path / "decode_small.yaml")),
        env=env,
        timeout=1200,
    )
    assert proc.returncode == 0, proc.stderr[-4000:]
    return recipe


def test_mini_asr_stages_1_to_13(mini_run: Path):
    recipe = mini_run
    results = (recipe / "RESULTS.md").read_text()
    cer = results[results.index("### CER") :]
    assert "|dataset|Snt|Wrd|Corr|Sub|Del|Ins|Err|S.Err|" in cer
    rows = [line for line in cer.splitlines() if line.startswith("|decode") and "/test|" in line]
    assert rows and rows[0].split("|")[2] == "100", rows  # every test utterance was scored
    exp = recipe / "exp" / "asr_train_small_char"
    assert list(exp.glob("*.zip")), "stage 12 wrote no model-zoo zip"
    assert (exp / "images" / "loss.png").is_file()
    assert list((exp / "att_ws").rglob("*.png")), "no attention plots"


def _stage9(recipe: Path, count: int) -> List[Tuple[str, str, str]]:
    """(utterance, audio file, stage-9 hypothesis) of the first ``count`` test utterances."""
    exp = recipe / "exp" / "asr_train_small_char"
    (hyp_file,) = exp.glob("decode_*/test/text")
    hyps = dict((line.split(maxsplit=1) + [""])[:2] for line in hyp_file.read_text().splitlines())
    wavs = [line.split(maxsplit=1) for line in (recipe / "dump/raw/test/wav.scp").read_text().splitlines()]
    return [(utt, str(recipe / path) if not Path(path).is_absolute() else path, hyps[utt].strip())
            for utt, path in wavs[:count]]


def test_the_packed_model_decodes_like_stage_9(mini_run: Path, tmp_path: Path):
    """Speech2Text.from_pretrained(zip) and espnet_model_zoo's ModelDownloader give stage 9's text."""
    (zip_path,) = (mini_run / "exp" / "asr_train_small_char").glob("*.zip")
    expected = _stage9(mini_run, 6)
    assert any(hyp for _, _, hyp in expected), "stage 9 decoded nothing: the comparison would be empty"
    code = textwrap.dedent(
        f"""
        import json, sys
        from espnet_model_zoo.downloader import ModelDownloader
        from espnet2_speecht5 import Speech2Text
        from espnet2_speecht5.hub.resolve import resolve
        wavs = json.loads(sys.argv[1])
        s2t = Speech2Text.from_pretrained({str(zip_path)!r}, cache_dir={str(tmp_path / "cache")!r})
        files = ModelDownloader({str(tmp_path / "zoo")!r}).download_and_unpack({str(zip_path)!r})
        # ESPnet's unpack knows nothing of the packed inference config: pass stage 9's options.
        options = resolve({str(zip_path)!r}, {str(tmp_path / "cache")!r}).inference_options(["beam_size",
                          "ctc_weight", "maxlenratio", "minlenratio", "penalty", "lm_weight", "nbest"])
        zoo = Speech2Text(**files, **options)
        print(json.dumps([[s2t.transcribe(w), zoo.transcribe(w)] for w in wavs]))
        """
    )
    proc = subprocess.run([sys.executable, "-c", code, json.dumps([w for _, w, _ in expected])],
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    decoded = json.loads(proc.stdout.strip().splitlines()[-1])
    for (utt, _, hyp), (ours, zoo) in zip(expected, decoded):
        assert ours.strip() == hyp, utt
        assert zoo.strip() == hyp, utt


def test_speecht5_transcribe_prints_the_stage_9_hypothesis(mini_run: Path, tmp_path: Path):
    (zip_path,) = (mini_run / "exp" / "asr_train_small_char").glob("*.zip")
    expected = _stage9(mini_run, 3)
    cli = Path(sys.executable).parent / "speecht5"
    proc = subprocess.run([str(cli), "transcribe", "--model", str(zip_path), "--cache_dir", str(tmp_path / "c"),
                           *(w for _, w, _ in expected)], capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    printed = [line.split("\t", 1) for line in proc.stdout.splitlines()]
    assert [(w, hyp.strip()) for w, hyp in printed] == [(w, hyp) for _, w, hyp in expected]
    assert "transcribe: 100%" in proc.stderr  # a progress bar for several files


def _digests(recipe: Path, patterns: List[str]) -> dict:
    import hashlib

    out = {}
    for pattern in patterns:
        files = sorted(recipe.glob(pattern))
        assert files, f"nothing matches {pattern}"
        for path in files:
            out[str(path.relative_to(recipe))] = hashlib.sha256(path.read_bytes()).hexdigest()
    return out


@pytest.mark.slow  # about 100 s: in the longer suite (make test-all)
def test_a_second_run_of_all_stages_keeps_every_finished_result(mini_run: Path):
    """Rerunning stages 1-13 on a finished recipe: data, dumps, token list and trained epochs are kept
    byte for byte, training resumes past its last epoch without training again, decoding is redone
    cleanly to the same hypotheses, and no temporary file is left anywhere. (Runs last in this module.)"""
    kept = ["data/*/text", "data/*/wav.scp", "dump/raw/*/wav.scp", "dump/raw/*/text", "data/token_list/*/tokens.txt",
            "exp/asr_train_small_char/*epoch.pth", "exp/asr_train_small_char/decode_*/test/text"]
    before = _digests(mini_run, kept)
    root = mini_run.parents[2]  # the fixture's folder: egs2/mini_speecht5/asr1 lies below it
    proc = run_recipe(
        mini_run,
        *("--stage", "1", "--stop_stage", "13", "--nj", "2", "--inference_nj", "2", "--test_sets", "test"),
        *("--train_config", str(root / "train_small.yaml")),
        *("--inference_config", str(root / "decode_small.yaml")),
        env={"MINI_SPEECHT5": str(root / "corpus" / "mini_speecht5")},
        timeout=1200,
    )
    assert proc.returncode == 0, proc.stderr[-4000:]
    assert _digests(mini_run, kept) == before
    train_log = (mini_run / "exp" / "asr_train_small_char" / "train.log").read_text()
    assert "The training was resumed using" in train_log and "already reached" in train_log
    assert not [p for p in mini_run.rglob("*.tmp")], "temporary files left behind"
