"""Stage 1 of egs2/cmu_arctic (local/data.sh, voice conversion) and the recipe's scripts and config.

Most tests build a small fake CMU ARCTIC here: the release's layout,
``cmu_us_<spk>_arctic/{wav/<prompt>.wav,etc/txt.done.data}``, for bdl, clb, rms and slt, ten
prompts (``arctic_a0001`` ... ``arctic_a0005``, ``arctic_b0001`` ... ``arctic_b0005``, listed out
of order), 0.05-s wavs.  With ``--num_dev 2 --num_test 2`` the split is: test b0004 b0005, dev
b0002 b0003, train the other six.  One test arranges the real ARCTIC clips of
``../shared/data/arctic_parallel`` (with the matching ``cathy_arctic`` recordings) into the same
layout.  The network is never used: the download test reads archives through file:// URLs.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tarfile
from pathlib import Path
from typing import Dict, List, Optional, Sequence

import numpy as np
import pytest
import soundfile as sf
import yaml

from espnet2_speecht5.data.kaldi_dir import iter_lines, read_map, utt2spk_to_spk2utt
from espnet2_speecht5.nets.compositions import network_parts
from espnet2_speecht5.nets.config import SpeechT5Config

from repo_testing import REPO_ROOT, SHARED_DATA, copy_recipe, error_lines
from repo_testing import run_data_sh as repo_run_data_sh

RECIPE_DIR = REPO_ROOT / "egs2" / "cmu_arctic"
SPEAKERS = ("bdl", "clb", "rms", "slt")
PROMPTS = tuple(f"arctic_{part}{i:04d}" for part in "ab" for i in range(1, 6))
TEXT = {prompt: f"Sentence number {n}, read aloud." for n, prompt in enumerate(PROMPTS, start=1)}
SPLIT = {"test": PROMPTS[-2:], "dev": PROMPTS[-4:-2], "train": PROMPTS[:-4]}
SMALL_SPLIT = ("--num_dev", "2", "--num_test", "2")
VC_FILES = ["spk2utt", "text", "utt2spk", "utt2spk_tgt", "wav.scp", "wav_tgt.scp"]


def speaker_dir(root: Path, spk: str) -> Path:
    return root / f"cmu_us_{spk}_arctic"


def txt_line(prompt: str, text: str) -> str:
    return f'( {prompt} "{text}" )\n'


def make_arctic(root: Path, speakers: Sequence[str] = SPEAKERS, prompts: Sequence[str] = PROMPTS) -> Path:
    """The fake corpus: every speaker, every prompt; txt.done.data lists the prompts in reverse."""
    rng = np.random.default_rng(0)
    for spk in speakers:
        folder = speaker_dir(root, spk)
        (folder / "wav").mkdir(parents=True)
        (folder / "etc").mkdir()
        for prompt in prompts:
            sf.write(folder / "wav" / f"{prompt}.wav", 0.1 * rng.standard_normal(800).astype(np.float32), 16000)
        (folder / "etc" / "txt.done.data").write_text("".join(txt_line(p, TEXT[p]) for p in reversed(prompts)))
    return root


@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    return make_arctic(tmp_path / "cmu_arctic")


@pytest.fixture
def recipe(tmp_path: Path) -> Path:
    return copy_recipe("cmu_arctic", "vc1", tmp_path / "work")


def run_data_sh(recipe: Path, env: Dict[str, str], *args: str) -> subprocess.CompletedProcess:
    """``bash local/data.sh`` in the recipe copy with no CMU_ARCTIC* variable but those in ``env``."""
    # a download that is not meant to happen fails at once
    return repo_run_data_sh(recipe, "CMU_ARCTIC", {"CMU_ARCTIC_URL": (recipe / "no_mirror").as_uri(), **env}, *args)



def keys(path: Path) -> List[str]:
    return [key for _, key, _ in iter_lines(path)]


def load_sets(data: Path) -> Dict[str, Dict[str, Dict[str, str]]]:
    return {name: {f: read_map(data / name / f) for f in VC_FILES} for name in ("train", "dev", "test")}


def check_consistent(data_dir: Path, corpus: Path, text: Optional[Dict[str, str]] = None) -> Dict[str, str]:
    """Same keys in every file, the right recordings on both sides; returns utt2spk_tgt."""
    text = TEXT if text is None else text
    files = {f: read_map(data_dir / f) for f in VC_FILES if f != "spk2utt"}
    utts = keys(data_dir / "wav.scp")
    assert utts == sorted(utts, key=str.encode)
    for name in files:
        assert keys(data_dir / name) == utts, name
    for utt in utts:
        src, tgt, prompt = utt.split("_", 2)
        assert files["utt2spk"][utt] == src and files["utt2spk_tgt"][utt] == tgt and src != tgt
        assert Path(files["wav.scp"][utt]) == speaker_dir(corpus, src).absolute() / "wav" / f"{prompt}.wav"
        assert Path(files["wav_tgt.scp"][utt]) == speaker_dir(corpus, tgt).absolute() / "wav" / f"{prompt}.wav"
        assert files["text"][utt] == text[prompt]
    spk2utt = read_map(data_dir / "spk2utt")
    assert spk2utt == {spk: " ".join(u) for spk, u in utt2spk_to_spk2utt(files["utt2spk"]).items()}
    return files["utt2spk_tgt"]


def pairs_and_prompts(utt2spk_tgt: Dict[str, str]):
    pairs, prompts = set(), set()
    for utt in utt2spk_tgt:
        src, tgt, prompt = utt.split("_", 2)
        pairs.add(f"{src}:{tgt}")
        prompts.add(prompt)
    return pairs, prompts


ALL_PAIRS = {f"{s}:{t}" for s in SPEAKERS for t in SPEAKERS if s != t}


def test_default_pairs_and_the_split_by_prompt(corpus: Path, recipe: Path):
    proc = run_data_sh(recipe, {"CMU_ARCTIC": str(corpus)}, "--task", "vc", *SMALL_SPLIT)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert error_lines(proc) == []
    assert "10 prompts of bdl clb rms slt: 6 train, 2 dev, 2 test" in proc.stdout
    expected_pairs = {"train": ALL_PAIRS, "dev": ALL_PAIRS, "test": {"bdl:slt", "clb:slt"}}
    seen_prompts = {}
    for name in ("train", "dev", "test"):
        data_dir = recipe / "data" / name
        count = len(expected_pairs[name]) * len(SPLIT[name])
        assert f"data/{name}: {count} utterances" in proc.stdout
        assert sorted(p.name for p in data_dir.iterdir()) == VC_FILES
        check = subprocess.run(
            [sys.executable, str(REPO_ROOT / "utils" / "validate_data_dir.py"), "--task", "vc", str(data_dir)],
            capture_output=True,
            text=True,
        )
        assert check.returncode == 0, check.stdout + check.stderr
        pairs, prompts = pairs_and_prompts(check_consistent(data_dir, corpus))
        assert pairs == expected_pairs[name]
        assert prompts == set(SPLIT[name])
        seen_prompts[name] = prompts
    assert not (seen_prompts["train"] & seen_prompts["dev"] or seen_prompts["train"] & seen_prompts["test"])
    assert not seen_prompts["dev"] & seen_prompts["test"]
    wav = read_map(recipe / "data" / "test" / "wav_tgt.scp")["bdl_slt_arctic_b0005"]
    assert wav == str(corpus.absolute() / "cmu_us_slt_arctic" / "wav" / "arctic_b0005.wav")


def test_pair_options_are_honoured(corpus: Path, recipe: Path):
    (speaker_dir(corpus, "rms") / "etc" / "txt.done.data").unlink()  # rms is in no pair: never read
    proc = run_data_sh(
        recipe,
        {"CMU_ARCTIC": str(corpus)},
        *("--train_pairs", "bdl:slt,clb:slt", "--dev_pairs", "slt:clb", "--test_pairs", "all"),
        *("--speakers", "bdl,slt", *SMALL_SPLIT),
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "10 prompts of bdl clb slt:" in proc.stdout
    assert "test pairs (source:target): bdl:slt slt:bdl" in proc.stdout
    got = {}
    for name in ("train", "dev", "test"):
        got[name] = pairs_and_prompts(check_consistent(recipe / "data" / name, corpus))[0]
    assert got == {"train": {"bdl:slt", "clb:slt"}, "dev": {"slt:clb"}, "test": {"bdl:slt", "slt:bdl"}}


def test_the_default_split_is_the_papers(tmp_path: Path, recipe: Path):
    """All 1,132 prompt ids (one speaker pair, 10-sample wavs): 932/100/100 at the documented ids."""
    prompts = [f"arctic_a{i:04d}" for i in range(1, 594)] + [f"arctic_b{i:04d}" for i in range(1, 540)]
    root = tmp_path / "full"
    for spk in ("bdl", "slt"):
        folder = speaker_dir(root, spk)
        (folder / "wav").mkdir(parents=True)
        (folder / "etc").mkdir()
        for prompt in prompts:
            sf.write(folder / "wav" / f"{prompt}.wav", np.zeros(10, dtype=np.float32), 16000)
        (folder / "etc" / "txt.done.data").write_text("".join(txt_line(p, "Some words.") for p in prompts))
    proc = run_data_sh(recipe, {"CMU_ARCTIC": str(root)}, "--train_pairs", "bdl:slt", "--test_pairs", "slt:bdl")
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "1132 prompts of bdl slt: 932 train, 100 dev, 100 test" in proc.stdout
    for name, first, last in (
        ("train", "arctic_a0001", "arctic_b0339"),
        ("dev", "arctic_b0340", "arctic_b0439"),
        ("test", "arctic_b0440", "arctic_b0539"),
    ):
        utts = keys(recipe / "data" / name / "utt2spk")
        assert [u.split("_", 2)[2] for u in (utts[0], utts[-1])] == [first, last]


def test_a_missing_recording_is_dropped_for_every_speaker(corpus: Path, recipe: Path):
    (speaker_dir(corpus, "clb") / "wav" / "arctic_a0003.wav").unlink()
    txt = speaker_dir(corpus, "slt") / "etc" / "txt.done.data"
    txt.write_text("".join(line for line in txt.read_text().splitlines(True) if "arctic_a0002" not in line))
    proc = run_data_sh(recipe, {"CMU_ARCTIC": str(corpus)}, *SMALL_SPLIT)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert error_lines(proc) == [
        f"WARNING: {speaker_dir(corpus, 'clb') / 'wav'}: 1 listed prompt(s) have no recording (first: "
        "arctic_a0003.wav); they are dropped for every speaker",
        f"WARNING: {txt}: 1 prompt(s) that other speakers have are not listed (first: arctic_a0002); "
        "they are dropped for every speaker",
    ]
    assert "8 prompts of bdl clb rms slt: 4 train, 2 dev, 2 test" in proc.stdout
    sets = load_sets(recipe / "data")
    prompts = {utt.split("_", 2)[2] for s in sets.values() for utt in s["wav.scp"]}
    assert prompts == set(PROMPTS) - {"arctic_a0002", "arctic_a0003"}


def test_a_missing_speaker_folder_gives_one_line(corpus: Path, recipe: Path):
    folder = speaker_dir(corpus, "rms")
    folder.rename(corpus / "rms")
    proc = run_data_sh(recipe, {"CMU_ARCTIC": str(corpus)})
    assert proc.returncode == 1
    assert error_lines(proc) == [
        f"ERROR: {folder}: no folder for speaker rms (expected cmu_us_rms_arctic/ holding wav/ and etc/)"
    ]
    assert not (recipe / "data").exists()


@pytest.mark.parametrize(
    "damage",
    ["no_quotes", "no_brackets", "empty_text", "repeated", "no_txt", "no_wav_dir", "no_recordings"],
)
def test_bad_input_gives_one_line_naming_the_file(corpus: Path, recipe: Path, damage: str):
    folder = speaker_dir(corpus, "clb")
    txt = folder / "etc" / "txt.done.data"
    lines = txt.read_text().splitlines(True)
    if damage == "no_quotes":
        lines[3] = "( arctic_b0002 Unquoted words. )\n"
        expected = f"{txt}:4: expected '( <prompt> \"<transcript>\" )', got '( arctic_b0002 Unquoted words. )'"
    elif damage == "no_brackets":
        lines[6] = 'arctic_a0004 "Words."\n'
        expected = f"{txt}:7: expected '( <prompt> \"<transcript>\" )', got 'arctic_a0004 \"Words.\"'"
    elif damage == "empty_text":
        lines[0] = '( arctic_b0005 "  " )\n'
        expected = f"{txt}:1: prompt arctic_b0005 has an empty transcript"
    elif damage == "repeated":
        lines.insert(2, lines[0])
        expected = f"{txt}:3: prompt arctic_b0005 is already on line 1"
    elif damage == "no_txt":
        lines = None
        txt.unlink()
        expected = f"{txt}: the transcript file does not exist (is this a cmu_us_<spk>_arctic release?)"
    elif damage == "no_wav_dir":
        (folder / "wav").rename(folder / "wav16")
        expected = f"{folder / 'wav'}: speaker clb has no wav/ folder"
    else:
        for wav in (folder / "wav").iterdir():
            wav.unlink()
        expected = f"{folder / 'wav'}: speaker clb has no .wav (or .flac) recordings"
    if lines is not None:
        txt.write_text("".join(lines))
    proc = run_data_sh(recipe, {"CMU_ARCTIC": str(corpus)}, *SMALL_SPLIT)
    assert proc.returncode == 1
    assert "Traceback" not in proc.stderr
    assert error_lines(proc) == [f"ERROR: {expected}"], proc.stderr
    assert not (recipe / "data").exists()


@pytest.mark.parametrize(
    "args, expected",
    [
        (
            ("--train_pairs", "bdl-slt"),
            "--train_pairs: 'bdl-slt' is not src:tgt with two different speaker names (e.g. bdl:slt)",
        ),
        (
            ("--test_pairs", "slt:slt"),
            "--test_pairs: 'slt:slt' is not src:tgt with two different speaker names (e.g. bdl:slt)",
        ),
        (("--dev_pairs", "bdl:slt,clb:slt,bdl:slt"), "--dev_pairs: the pair bdl:slt is listed twice"),
        (("--test_pairs", ","), "--test_pairs names no pair (give 'all' or src:tgt,src:tgt)"),
        (("--num_dev", "5", "--num_test", "5"), None),
        (("--task", "tts"), "local/data.sh: CMU ARCTIC supports only --task vc, not 'tts'"),
    ],
)
def test_bad_options_give_one_line(corpus: Path, recipe: Path, args, expected):
    proc = run_data_sh(recipe, {"CMU_ARCTIC": str(corpus)}, *args)
    assert proc.returncode == 1
    if expected is None:
        expected = (
            f"{corpus}: 10 prompt(s) that all of bdl clb rms slt have: cannot take 5 dev and 5 test keys out "
            "of 10 and keep a train set"
        )
    assert error_lines(proc) == [f"ERROR: {expected}"], proc.stderr
    assert not (recipe / "data").exists()


def make_mirror(corpus: Path, mirror: Path, speakers: Sequence[str]) -> None:
    """One release archive per speaker, as festvox.org names them."""
    mirror.mkdir()
    for spk in speakers:
        with tarfile.open(mirror / f"cmu_us_{spk}_arctic-0.95-release.tar.bz2", "w:bz2") as tar:
            tar.add(speaker_dir(corpus, spk), arcname=f"cmu_us_{spk}_arctic")


def test_an_empty_cmu_arctic_downloads_the_speakers_the_pairs_need(corpus: Path, recipe: Path, tmp_path: Path):
    if (SHARED_DATA / "cmu_arctic").is_dir():
        pytest.skip("db.sh defaults to ../shared/data/cmu_arctic, which exists")
    mirror = tmp_path / "mirror"
    make_mirror(corpus, mirror, ("bdl", "slt"))  # only these two: another speaker's download would fail
    args = ("--train_pairs", "bdl:slt,slt:bdl", "--test_pairs", "bdl:slt", *SMALL_SPLIT)
    proc = run_data_sh(recipe, {"CMU_ARCTIC": "", "CMU_ARCTIC_URL": mirror.as_uri()}, *args)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert error_lines(proc) == []
    downloaded = recipe / "downloads" / "cmu_arctic"
    assert sorted(p.name for p in downloaded.iterdir()) == ["cmu_us_bdl_arctic", "cmu_us_slt_arctic"]
    assert read_map(recipe / "data" / "test" / "wav_tgt.scp")["bdl_slt_arctic_b0005"] == str(
        downloaded / "cmu_us_slt_arctic" / "wav" / "arctic_b0005.wav"
    )
    # a second run finds the unpacked copies and downloads nothing
    (mirror / "cmu_us_bdl_arctic-0.95-release.tar.bz2").unlink()
    proc = run_data_sh(recipe, {"CMU_ARCTIC": "", "CMU_ARCTIC_URL": mirror.as_uri()}, *args)
    assert proc.returncode == 0, proc.stderr[-3000:]
    # a speaker the mirror lacks: one line naming the archive
    args = ("--train_pairs", "slt:rms", "--test_pairs", "slt:rms")
    proc = run_data_sh(recipe, {"CMU_ARCTIC": "", "CMU_ARCTIC_URL": mirror.as_uri()}, *args)
    assert proc.returncode == 1
    lines = error_lines(proc)
    url = f"{mirror.as_uri()}/cmu_us_rms_arctic-0.95-release.tar.bz2"
    assert len(lines) == 1 and lines[0].startswith(f"ERROR: could not download {url}"), proc.stderr
    assert lines[0].endswith(
        "download cmu_us_rms_arctic yourself, unpack it in one folder with the other speakers and set "
        "CMU_ARCTIC to that folder (see db.sh)"
    )


def test_a_cmu_arctic_that_is_not_a_folder_gives_one_line(tmp_path: Path, recipe: Path):
    proc = run_data_sh(recipe, {"CMU_ARCTIC": str(tmp_path / "nowhere")})
    assert proc.returncode == 1
    assert error_lines(proc) == [
        f"ERROR: CMU_ARCTIC={tmp_path / 'nowhere'} is not a folder: set CMU_ARCTIC to the folder that holds "
        "cmu_us_<spk>_arctic/ (see db.sh), or empty to download"
    ]


ARCTIC_PARALLEL = SHARED_DATA / "arctic_parallel"
CATHY = SHARED_DATA / "cathy_arctic"


def read_prompts(path: Path) -> Dict[str, str]:
    found = {}
    for line in path.read_text().splitlines():
        match = re.match(r'^\(\s*(\S+)\s+"(.*)"\s*\)$', line.strip())
        if match:
            found[match.group(1)] = match.group(2)
    return found


@pytest.mark.shared_data
@pytest.mark.skipif(not ARCTIC_PARALLEL.is_dir(), reason="no ../shared/data/arctic_parallel")
@pytest.mark.parametrize("speaker", ["aew", "axb"])
def test_real_arctic_clips_in_the_release_layout(tmp_path: Path, speaker: str):
    """aew and axb each read three prompts; cathy (cathy_arctic, FLAC) reads them all: real pairs."""
    if not (CATHY / "wav16k").is_dir():
        pytest.skip("no ../shared/data/cathy_arctic: the ARCTIC clips have no parallel partner")
    prompts = read_prompts(CATHY / "cmuarctic.data")
    clips = sorted(ARCTIC_PARALLEL.glob(f"cmu_arctic_us_{speaker}_a*.wav"))  # cmu_arctic_us_aew_a0001.wav
    ids = [f"arctic_{clip.stem.rsplit('_', 1)[1]}" for clip in clips]
    assert len(ids) == 3, clips
    root = tmp_path / "arctic"
    layout = {speaker: {p: ARCTIC_PARALLEL / clip.name for p, clip in zip(ids, clips)}}
    layout["cathy"] = {p: CATHY / "wav16k" / f"{p}.flac" for p in sorted(prompts)[:8]}  # a0001-a0008
    for spk, recordings in layout.items():
        folder = speaker_dir(root, spk)
        (folder / "wav").mkdir(parents=True)
        (folder / "etc").mkdir()
        for prompt, source in recordings.items():
            (folder / "wav" / f"{prompt}{source.suffix}").symlink_to(source)
        (folder / "etc" / "txt.done.data").write_text("".join(txt_line(p, prompts[p]) for p in recordings))
    sys.path.insert(0, str(RECIPE_DIR / "local"))
    try:
        import prepare_cmu_arctic as prepare
    finally:
        sys.path.pop(0)
    out = tmp_path / "data"
    argv = ["--corpus", str(root), "--out", str(out), "--num_dev", "1", "--num_test", "1"]
    argv += ["--train_pairs", f"{speaker}:cathy,cathy:{speaker}", "--test_pairs", f"{speaker}:cathy"]
    assert prepare.main(argv) == 0
    expected = {"train": ids[0], "dev": ids[1], "test": ids[2]}
    for name, prompt in expected.items():
        wav = read_map(out / name / "wav.scp")
        wav_tgt = read_map(out / name / "wav_tgt.scp")
        text = read_map(out / name / "text")
        utt = f"{speaker}_cathy_{prompt}"
        assert utt in wav and set(wav) == set(wav_tgt) == set(text)
        assert Path(wav[utt]).resolve() == layout[speaker][prompt].resolve()
        assert Path(wav_tgt[utt]).resolve() == layout["cathy"][prompt].resolve()
        assert text[utt] == prompts[prompt]
        for path in (wav[utt], wav_tgt[utt]):
            info = sf.info(path)
            assert info.samplerate == 16000 and info.channels == 1 and info.duration > 1.0, path
        if name != "test":
            assert read_map(out / name / "utt2spk")[f"cathy_{speaker}_{prompt}"] == "cathy"


def test_the_scripts_parse_and_the_layout_is_complete():
    vc1 = RECIPE_DIR / "vc1"
    links = {
        "cmd.sh": "../../TEMPLATE/cmd.sh",
        "db.sh": "../db.sh",
        "local": "../local",
        "path.sh": "../../TEMPLATE/path.sh",
        "speecht5.sh": "../../TEMPLATE/speecht5.sh",
        "utils": "../../../utils",
    }
    for name, target in links.items():
        assert (vc1 / name).is_symlink() and os.readlink(vc1 / name) == target and (vc1 / name).exists(), name
    for script in (vc1 / "run.sh", RECIPE_DIR / "local" / "data.sh", RECIPE_DIR / "db.sh"):
        check = subprocess.run(["bash", "-n", str(script)], capture_output=True, text=True)
        assert check.returncode == 0, check.stderr
    for script in (vc1 / "run.sh", RECIPE_DIR / "local" / "data.sh", RECIPE_DIR / "local" / "prepare_cmu_arctic.py"):
        assert os.access(script, os.X_OK), script


def test_train_config_is_the_papers_vc_setup():
    config = yaml.safe_load((RECIPE_DIR / "vc1" / "conf" / "train.yaml").read_text())
    net = dict(config["net_conf"])
    assert net.pop("size") == "base"
    cfg = SpeechT5Config.base(**net)  # every field is a real SpeechT5Config field
    assert (cfg.d_model, cfg.encoder_layers, cfg.decoder_layers) == (768, 12, 6)
    assert cfg.dropout == cfg.attention_dropout == cfg.activation_dropout == 0.2
    assert (cfg.encoder_layerdrop, cfg.decoder_layerdrop) == (0.05, 0.0)
    assert (cfg.mask_time_prob, cfg.mask_channel_prob) == (0.0, 0.0)
    assert config["model_conf"] == {
        "l1_weight": 1.0,
        "bce_weight": 1.0,
        "bce_pos_weight": 5.0,
        "guided_attn_weight": 10.0,
        "guided_attn_sigma": 0.4,
        "guided_attn_heads": 2,
        "use_speaker_embedding": True,
    }
    assert config["optim"] == "adam"
    assert config["optim_conf"]["lr"] == pytest.approx(1e-4)
    assert config["optim_conf"]["betas"] == [0.9, 0.98]
    assert config["scheduler"] == "warmuplr" and config["scheduler_conf"] == {"warmup_steps": 6000}
    updates = config["num_iters_per_epoch"] * config["max_epoch"] / config.get("accum_grad", 1)
    assert updates == 60000
    assert config["grad_clip"] == 1.0
    assert config["best_model_criterion"] == [["valid", "loss", "min"]]

    decode = yaml.safe_load((RECIPE_DIR / "vc1" / "conf" / "decode.yaml").read_text())
    assert decode == {
        "batch_size": 8,
        "threshold": 0.5,
        "minlenratio": 0.0,
        "maxlenratio": 10.0,
        "vocoder": "griffin_lim",
        "num_plots": 3,
    }


def test_run_sh_fine_tunes_the_converted_base_without_the_text_parts():
    run_sh = (RECIPE_DIR / "vc1" / "run.sh").read_text()
    for option in ("--task vc", "--train_set train", "--valid_set dev", '--test_sets "dev test"'):
        assert option in run_sh
    assert "--flavour pretrain --net s2s" in run_sh
    match = re.search(r'--init_param "\$\{base_checkpoint\}::net:([^"]+)"', run_sh)
    assert match, "run.sh loads the converted checkpoint into the network (attribute net)"
    excluded = [p for p in match.group(1).split(",") if p]
    text_parts = {p for kind in ("s2t", "t2s") for p in network_parts(kind) if p.startswith("text_")}
    assert {p.rstrip(".") for p in excluded} == text_parts
    assert all(p.endswith(".") for p in excluded)
    assert not text_parts & set(network_parts("s2s"))  # nothing the VC network needs is left out
