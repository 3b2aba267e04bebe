"""The VC recipe's own steps: target-side views for stage 6, and the three scoring comparisons."""

from __future__ import annotations

from pathlib import Path

import yaml

from espnet2_speecht5.recipes import Context, get_recipe


def make_sets(root: Path) -> Context:
    for name in ("train", "dev", "test"):
        raw = root / "dump" / "raw" / name
        raw.mkdir(parents=True)
        (raw / "wav.scp").write_text(f"a_b_1 /src/{name}/a1.wav\nc_b_1 /src/{name}/c1.wav\n")
        (raw / "wav_tgt.scp").write_text(f"a_b_1 /tgt/{name}/b1.wav\nc_b_1 /tgt/{name}/b1.wav\n")
        (raw / "utt2spk").write_text("a_b_1 a\nc_b_1 c\n")
        (raw / "utt2spk_tgt").write_text("a_b_1 b\nc_b_1 b\n")
    xvectors = root / "dump" / "xvector"
    xvectors.mkdir()
    (xvectors / "spk_model.yaml").write_text(yaml.safe_dump({"train_config": "/spk/config.yaml",
                                                             "model_file": "/spk/stage6.pth"}))
    return Context(task="vc", dumpdir=str(root / "dump"), data_train_set="train", valid_set="dev",
                   test_sets="dev test", xvector_dir=str(xvectors), task_exp=str(root / "exp" / "vc_train"))


def test_stage_6_embeds_the_target_side_of_every_set(tmp_path: Path):
    ctx = make_sets(tmp_path)
    views = get_recipe("vc").speaker_dirs(ctx)
    assert [v.name for v in views] == ["train", "dev", "test"]
    for view in views:
        assert (view / "wav.scp").read_text() == f"a_b_1 /tgt/{view.name}/b1.wav\nc_b_1 /tgt/{view.name}/b1.wav\n"
        assert (view / "utt2spk").read_text() == "a_b_1 b\nc_b_1 b\n"
        assert (view / "spk2utt").read_text() == "b a_b_1 c_b_1\n"


def test_scoring_compares_three_ways_with_the_stage_6_or_an_independent_speaker_model(tmp_path: Path):
    ctx = make_sets(tmp_path)
    decode = tmp_path / "exp" / "vc_train" / "decode_x"
    (decode / "test").mkdir(parents=True)
    (decode / "test" / "wav.scp").write_text("a_b_1 /out/a_b_1.wav\nc_b_1 /out/c_b_1.wav\n")
    raw = tmp_path / "dump" / "raw" / "test"
    args = get_recipe("vc").comparison_args(ctx, "test", decode)
    assert list(args) == ["target", "source", "baseline"]

    def value(name: str, option: str) -> str:
        return args[name][args[name].index(option) + 1]

    assert (value("target", "--hyp_scp"), value("target", "--ref_scp")) == (str(decode / "test" / "wav.scp"),
                                                                           str(raw / "wav_tgt.scp"))
    assert "--ref_text" not in args["target"]  # no transcripts: no ASR model needed, no CER
    assert value("source", "--ref_scp") == str(raw / "wav.scp") and value("source", "--mcd") == "false"
    assert (value("baseline", "--hyp_scp"), value("baseline", "--ref_scp")) == (str(raw / "wav.scp"),
                                                                               str(raw / "wav_tgt.scp"))
    assert value("target", "--spk_model_file") == "/spk/stage6.pth"
    assert "--spk_model_file" not in args["baseline"]
    ctx.score_args = "--spk_train_config /indep/config.yaml --spk_model_file /indep/model.pth"
    args = get_recipe("vc").comparison_args(ctx, "test", decode)
    assert args["target"].count("--spk_model_file") == 1 and value("target", "--spk_model_file") == "/indep/model.pth"
    assert value("source", "--spk_model_file") == "/indep/model.pth"
