"""TTS scoring (stage 10 of --task tts): MCD, ASR intelligibility, speaker similarity and the entry point."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Dict, List

import numpy as np
import pytest
import soundfile as sf
import torch
import yaml

from espnet2_speecht5.bin.score_tts import main
from espnet2_speecht5.runtime.errors import DataError
from espnet2_speecht5.runtime.quiet_imports import quiet_espnet
from espnet2_speecht5.scoring.model_zip import unpack_model_zip
from espnet2_speecht5.scoring.sclite import find_sclite, read_text, score
from espnet2_speecht5.scoring.speaker_similarity import SpeakerEmbedder, cosine_similarity
from espnet2_speecht5.scoring.tts_summary import read_summary

from repo_testing import REPO_ROOT

RATE = 16000
UTTS = {"s1_u1": ("s1", 0.35, 120.0, "abc de"), "s1_u2": ("s1", 0.3, 150.0, "bad"), "s2_u1": ("s2", 0.4, 210.0, "ca e")}
ASR_TOKENS = ["<blank>", "<unk>", "<space>", "a", "b", "c", "d", "e", "<sos/eos>"]


def harmonic(seconds: float, f0: float, seed: int) -> np.ndarray:
    """(num_samples,) harmonic tone with a little noise, peak 0.3."""
    t = np.arange(int(seconds * RATE)) / RATE
    x = sum(np.sin(2 * np.pi * f0 * k * t) / k for k in range(1, 20))
    x = x + 0.01 * np.random.default_rng(seed).standard_normal(len(t))
    return 0.3 * x / np.max(np.abs(x))


def write_dir(folder: Path, wavs: Dict[str, np.ndarray], text: bool = True) -> Path:
    """A data folder with wav.scp (and text, utt2spk) for ``wavs``; returns the folder."""
    (folder / "wav").mkdir(parents=True)
    scp = []
    for utt, wav in wavs.items():
        path = folder / "wav" / f"{utt}.wav"
        sf.write(path, wav, RATE, subtype="PCM_16")
        scp.append(f"{utt} {path}\n")
    (folder / "wav.scp").write_text("".join(scp), encoding="utf-8")
    if text:
        (folder / "text").write_text("".join(f"{u} {UTTS[u][3]}\n" for u in wavs), encoding="utf-8")
        (folder / "utt2spk").write_text("".join(f"{u} {UTTS[u][0]}\n" for u in wavs), encoding="utf-8")
    return folder


@pytest.fixture
def tts_dirs(tmp_path: Path) -> Dict[str, Path]:
    """Recordings of three utterances and "synthesised" versions: two exact copies, one with a tilted spectrum."""
    refs = {utt: harmonic(sec, f0, i) for i, (utt, (_, sec, f0, _)) in enumerate(UTTS.items())}
    hyps = dict(refs)
    hyps["s2_u1"] = np.convolve(refs["s2_u1"], [1.0, -0.9])[: len(refs["s2_u1"])] * 0.5
    return {"ref": write_dir(tmp_path / "ref", refs), "hyp": write_dir(tmp_path / "hyp", hyps, text=False),
            "out": tmp_path / "out"}


def per_utt(path: Path) -> Dict[str, float]:
    return {utt: float(value) for utt, value in read_text(path).items()}


def test_mcd_per_utterance_and_summary(tts_dirs: Dict[str, Path]):
    ref, hyp, out = tts_dirs["ref"], tts_dirs["hyp"], tts_dirs["out"]
    main(["--ref_scp", str(ref / "wav.scp"), "--hyp_scp", str(hyp / "wav.scp"), "--outdir", str(out)])
    mcd = per_utt(out / "mcd")
    assert sorted(mcd) == sorted(UTTS)
    assert mcd["s1_u1"] == 0.0 and mcd["s1_u2"] == 0.0 and mcd["s2_u1"] > 1.0
    summary = read_summary(out / "summary.yaml")
    assert summary["utterances"] == 3
    assert summary["mcd_mean"] == pytest.approx(np.mean(list(mcd.values())), abs=1e-3)
    assert summary["mcd_std"] == pytest.approx(np.std(list(mcd.values())), abs=1e-3)
    assert summary["cer"] is None and summary["wer"] is None and summary["speaker_similarity"] is None
    assert not (out / "asr_text").exists() and not (out / "spk_similarity").exists()


def test_hyp_utterance_missing_from_refs_is_one_error_line(tts_dirs: Dict[str, Path]):
    ref, hyp = tts_dirs["ref"], tts_dirs["hyp"]
    with (hyp / "wav.scp").open("a", encoding="utf-8") as f:
        f.write(f"s9_extra {hyp / 'wav' / 's1_u1.wav'}\n")
    proc = subprocess.run(
        [sys.executable, "-m", "espnet2_speecht5.bin.score_tts", "--ref_scp", str(ref / "wav.scp"),
         "--hyp_scp", str(hyp / "wav.scp"), "--outdir", str(tts_dirs["out"])],
        capture_output=True, text=True, cwd=REPO_ROOT,
    )
    assert proc.returncode == 1
    errors = [line for line in proc.stderr.splitlines() if line.startswith("ERROR:")]
    assert len(errors) == 1 and "s9_extra" in errors[0] and str(hyp / "wav.scp") in errors[0]
    assert "Traceback" not in proc.stderr


def test_reference_without_synthesised_counterpart_is_named(tts_dirs: Dict[str, Path]):
    ref, hyp = tts_dirs["ref"], tts_dirs["hyp"]
    lines = (hyp / "wav.scp").read_text(encoding="utf-8").splitlines()
    (hyp / "wav.scp").write_text("\n".join(line for line in lines if not line.startswith("s1_u2")) + "\n")
    with pytest.raises(DataError, match="s1_u2") as err:
        main(["--ref_scp", str(ref / "wav.scp"), "--hyp_scp", str(hyp / "wav.scp"), "--outdir", str(tts_dirs["out"])])
    assert err.value.path == str(ref / "wav.scp")


def test_unreadable_wav_is_named(tts_dirs: Dict[str, Path]):
    ref, hyp = tts_dirs["ref"], tts_dirs["hyp"]
    broken = hyp / "wav" / "s1_u2.wav"
    broken.write_bytes(b"RIFF not really a wav file")
    with pytest.raises(DataError) as err:
        main(["--ref_scp", str(ref / "wav.scp"), "--hyp_scp", str(hyp / "wav.scp"), "--outdir", str(tts_dirs["out"])])
    assert err.value.utt == "s1_u2" and str(broken) in str(err.value)
    assert "\n" not in str(err.value)


@pytest.mark.parametrize(
    "extra, message",
    [
        ([], "nothing to score"),
        (["--asr_train_config", "c.yaml"], "go together"),
        (["--spk_train_config", "c.yaml", "--spk_model_file", "m.pth"], "--ref_scp"),
        (["--asr_model_zip", "m.zip", "--asr_model_file", "m.pth"], "not both"),
        (["--asr_model_zip", "m.zip"], "--ref_text"),
    ],
)
def test_arguments_that_do_not_fit_together(tts_dirs: Dict[str, Path], extra: List[str], message: str):
    with pytest.raises(DataError, match=message):
        main(["--hyp_scp", str(tts_dirs["hyp"] / "wav.scp"), "--outdir", str(tts_dirs["out"]), *extra])


# --------------------------------------------------------------------------- speaker similarity
def spk_args(output_size: int):
    with quiet_espnet():  # g2p_en, imported by ESPnet's task module, tries nltk downloads
        from espnet2.tasks.spk import SpeakerTask

    return SpeakerTask.get_parser().parse_args([
        "--output_dir", "unused",
        "--frontend", "melspec_torch", "--frontend_conf", "n_mels=16", "--frontend_conf", "n_fft=256",
        "--frontend_conf", "win_length=256",
        "--encoder", "xvector", "--encoder_conf", "ndim=16", "--encoder_conf", "output_size=24",
        "--pooling", "stats", "--projector", "xvector", "--projector_conf", f"output_size={output_size}",
        "--loss", "softmax", "--spk_num", "3",
    ])


@pytest.fixture(scope="module")
def spk_model(tmp_path_factory: pytest.TempPathFactory) -> Dict[str, object]:
    """A randomly initialised ESPnet speaker model: config.yaml and two weight files of other seeds,
    plus the weights of a network with another embedding size."""
    from espnet2.tasks.spk import SpeakerTask

    root = tmp_path_factory.mktemp("spk")
    args = spk_args(8)
    (root / "config.yaml").write_text(yaml.safe_dump(vars(args)), encoding="utf-8")
    networks = {}
    for seed in (0, 1):
        torch.manual_seed(seed)
        networks[seed] = SpeakerTask.build_model(args).eval()
        torch.save(networks[seed].state_dict(), root / f"seed{seed}.pth")
    torch.save(SpeakerTask.build_model(spk_args(12)).state_dict(), root / "other_size.pth")
    return {"root": root, "config": root / "config.yaml", "network": networks[0], "model": root / "seed0.pth"}


def embed_directly(network: torch.nn.Module, wav: np.ndarray) -> np.ndarray:
    with torch.no_grad():
        return network(torch.tensor(wav, dtype=torch.float32)[None], extract_embd=True).numpy().reshape(-1)


def test_speaker_similarity_per_utterance_and_mean(tts_dirs: Dict[str, Path], spk_model: Dict[str, object]):
    ref, hyp, out = tts_dirs["ref"], tts_dirs["hyp"], tts_dirs["out"]
    main(["--ref_scp", str(ref / "wav.scp"), "--hyp_scp", str(hyp / "wav.scp"), "--outdir", str(out),
          "--mcd", "false", "--spk_train_config", str(spk_model["config"]),
          "--spk_model_file", str(spk_model["model"])])
    sims = per_utt(out / "spk_similarity")
    assert sims["s1_u1"] == pytest.approx(1.0, abs=1e-4) and sims["s1_u2"] == pytest.approx(1.0, abs=1e-4)
    ref_wav, _ = sf.read(ref / "wav" / "s2_u1.wav")
    hyp_wav, _ = sf.read(hyp / "wav" / "s2_u1.wav")
    network = spk_model["network"]
    expected = cosine_similarity(embed_directly(network, ref_wav), embed_directly(network, hyp_wav))
    assert sims["s2_u1"] == pytest.approx(expected, abs=1e-4)
    summary = read_summary(out / "summary.yaml")
    assert summary["speaker_similarity"] == pytest.approx(np.mean(list(sims.values())), abs=1e-3)
    assert summary["mcd_mean"] is None and not (out / "mcd").exists()


def test_speaker_weights_are_loaded_safely_and_checked(spk_model: Dict[str, object]):
    wav = harmonic(0.3, 140.0, 7)
    loaded = SpeakerEmbedder(spk_model["config"], spk_model["model"])
    assert np.allclose(loaded(wav), embed_directly(spk_model["network"], wav), atol=1e-5)
    other = SpeakerEmbedder(spk_model["config"], spk_model["root"] / "seed1.pth")
    assert not np.allclose(other(wav), loaded(wav), atol=1e-3)
    with pytest.raises(DataError, match="other_size.pth"):
        SpeakerEmbedder(spk_model["config"], spk_model["root"] / "other_size.pth")
    assert cosine_similarity(np.array([1.0, 0.0]), np.array([-2.0, 0.0])) == pytest.approx(-1.0)


# --------------------------------------------------------------------------- intelligibility (ASR)
@pytest.fixture(scope="module")
def asr_model(tmp_path_factory: pytest.TempPathFactory) -> Dict[str, Path]:
    """A randomly initialised tiny SpeechT5 ASR experiment (config.yaml, model.pth, decode.yaml) and its zip."""
    from espnet2_speecht5.models.asr import SpeechT5ASRModel
    from espnet2_speecht5.tasks.common import net_config_from_conf

    root = tmp_path_factory.mktemp("asr")
    exp = root / "exp" / "asr_tiny"
    exp.mkdir(parents=True)
    net_conf = dict(size="tiny", d_model=32, encoder_layers=1, decoder_layers=1, encoder_ffn_dim=32,
                    decoder_ffn_dim=32, conv_channels=[8, 8, 8], pos_conv_kernel=4, pos_conv_groups=2)
    config = dict(token_list=ASR_TOKENS, token_type="char", bpemodel=None, use_preprocessor=True,
                  non_linguistic_symbols=None, cleaner=None, g2p=None, net_conf=net_conf,
                  model_conf=dict(ctc_weight=0.3), init=None)
    (exp / "config.yaml").write_text(yaml.safe_dump(config), encoding="utf-8")
    torch.manual_seed(3)
    network = SpeechT5ASRModel(len(ASR_TOKENS), ASR_TOKENS, net_config_from_conf(net_conf))
    torch.save(network.state_dict(), exp / "model.pth")
    (root / "decode.yaml").write_text("beam_size: 2\nctc_weight: 0.3\nnbest: 1\n", encoding="utf-8")
    zip_path = root / "asr_model.zip"
    meta = {"files": {"asr_model_file": "exp/asr_tiny/model.pth"},
            "yaml_files": {"asr_train_config": "exp/asr_tiny/config.yaml"}}
    with zipfile.ZipFile(zip_path, "w") as archive:
        archive.writestr("meta.yaml", yaml.safe_dump(meta))
        archive.write(exp / "config.yaml", "exp/asr_tiny/config.yaml")
        archive.write(exp / "model.pth", "exp/asr_tiny/model.pth")
    return {"config": exp / "config.yaml", "model": exp / "model.pth", "decode": root / "decode.yaml", "zip": zip_path}


def test_cer_and_wer_of_recognised_speech_from_files_and_zip(tts_dirs: Dict[str, Path], asr_model: Dict[str, Path]):
    find_sclite()  # installed by tools/install.sh; fails, not skips, when it is missing
    ref, hyp, out = tts_dirs["ref"], tts_dirs["hyp"], tts_dirs["out"]
    common = ["--hyp_scp", str(hyp / "wav.scp"), "--ref_text", str(ref / "text"), "--utt2spk", str(ref / "utt2spk"),
              "--mcd", "false", "--asr_decode_config", str(asr_model["decode"])]
    main([*common, "--outdir", str(out), "--asr_train_config", str(asr_model["config"]),
          "--asr_model_file", str(asr_model["model"])])
    asr_text = read_text(out / "asr_text")
    assert sorted(asr_text) == sorted(UTTS)
    refs = read_text(ref / "text")
    summary = read_summary(out / "summary.yaml")
    for metric in ("cer", "wer"):
        assert (out / f"score_{metric}" / "result.txt").is_file()
        again = score(refs, asr_text, out / "check" / metric, metric)
        assert summary[metric] == pytest.approx(again.percent.err, abs=0.01)
    assert "s2-s2_u1" in (out / "score_cer" / "hyp.trn").read_text()  # speakers from --utt2spk

    zipped = tts_dirs["out"].parent / "out_zip"
    main([*common, "--outdir", str(zipped), "--asr_model_zip", str(asr_model["zip"])])
    assert read_text(zipped / "asr_text") == asr_text
    assert (zipped / "asr_model").is_dir()


@pytest.mark.parametrize("member", ["../escape.yaml", "/abs/escape.yaml", "exp/..\\..\\escape.yaml"])
def test_unsafe_zip_members_are_refused(tmp_path: Path, member: str):
    zip_path = tmp_path / "bad.zip"
    with zipfile.ZipFile(zip_path, "w") as archive:
        archive.writestr("meta.yaml", "files: {}\nyaml_files: {}\n")
        archive.writestr(member, "x: 1\n")
    with pytest.raises(DataError, match="unsafe member") as err:
        unpack_model_zip(zip_path, tmp_path / "cache")
    assert err.value.path == str(zip_path)
    assert not (tmp_path / "escape.yaml").exists() and not (tmp_path / "cache").exists()


def test_unknown_decoding_option_is_named(tts_dirs: Dict[str, Path], asr_model: Dict[str, Path], tmp_path: Path):
    decode = tmp_path / "decode.yaml"
    decode.write_text("beam_size: 2\nbeem: 3\n", encoding="utf-8")
    with pytest.raises(DataError, match="beem"):
        main(["--hyp_scp", str(tts_dirs["hyp"] / "wav.scp"), "--ref_text", str(tts_dirs["ref"] / "text"),
              "--outdir", str(tts_dirs["out"]), "--asr_train_config", str(asr_model["config"]),
              "--asr_model_file", str(asr_model["model"]), "--asr_decode_config", str(decode)])


@pytest.mark.parametrize("config", sorted((REPO_ROOT / "egs2").glob("*/asr1/conf/decode*.yaml")), ids=lambda p: p.name)
def test_every_asr_recipe_decode_config_is_a_valid_scorer_config(config: Path):
    """The TTS, VC and SE scorers take the ASR recipe's decode config beside them (stage 10 of
    mini se1 once stopped on asr1's `batch_size`, which stage 9 had gained): every one must load."""
    from espnet2_speecht5.scoring.intelligibility import read_decode_config

    options = read_decode_config(config)
    assert "batch_size" not in options and "nbest" not in options  # the scorer decodes one best at a time
    assert set(options) <= set(yaml.safe_load(config.read_text(encoding="utf-8")))
