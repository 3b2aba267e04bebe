"""``export_model folder`` (ESPnet + transformers layouts + model card) and ``export_model upload``
(uploads only with --hf_repo and a token; otherwise lists what it would upload)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Dict, List

import pytest
from transformers import SpeechT5ForSpeechToText, SpeechT5ForTextToSpeech
from transformers_export_helpers import write_zip

from espnet2_speecht5.bin import export_model
from espnet2_speecht5.export.transformers_export import TRANSFORMERS_FILES, espnet_files_from_meta
from espnet2_speecht5.export.upload import upload
from espnet2_speecht5.runtime.cli import run_cli

HF_CLASSES = {"asr": SpeechT5ForSpeechToText, "tts": SpeechT5ForTextToSpeech}
TOKEN_VARIABLES = ("HF_TOKEN", "HUGGING_FACE_HUB_TOKEN", "HF_TOKEN_PATH", "HF_OIDC_RESOURCE")


def make_folder(root: Path, task: str, *extra: str) -> Path:
    """Run ``export_model folder`` on a fresh zip, from the recipe folder (whose training set has 3 utterances)."""
    zip_path = write_zip(root, task)
    recipe = root / "recipe"
    (recipe / "dump" / "raw" / "train").mkdir(parents=True)
    (recipe / "dump" / "raw" / "train" / "wav.scp").write_text("u1 a.wav\nu2 b.wav\nu3 c.wav\n")
    out = root / "export"
    cwd = os.getcwd()
    os.chdir(recipe)
    try:
        export_model.main(["folder", "--zip", str(zip_path), "--results", str(zip_path.parent / "RESULTS.md"),
                           "--task", task, "--corpus", "toy", "--outdir", str(out), *extra])
    finally:
        os.chdir(cwd)
    return out


@pytest.fixture(scope="module")
def asr_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_folder(tmp_path_factory.mktemp("asr_folder"), "asr", "--hf_repo", "owner/name")


@pytest.mark.parametrize("task", ["asr", "tts"])
def test_folder_holds_both_layouts_that_both_libraries_read(tmp_path: Path, task: str):
    out = make_folder(tmp_path, task)
    with zipfile.ZipFile(next((tmp_path / "recipe").rglob("*.zip"))) as archive:
        for name in archive.namelist():  # the ESPnet layout, unchanged
            assert (out / name).read_bytes() == archive.read(name), name
    config, model = espnet_files_from_meta(out, task)
    assert config == out / f"exp/{task}_x/config.yaml" and model.is_file()
    assert all((out / name).is_file() for name in TRANSFORMERS_FILES)
    net = HF_CLASSES[task].from_pretrained(out)
    assert net.config.eos_token_id == net.config.vocab_size - 1
    card = (out / "README.md").read_text(encoding="utf-8")
    assert "|`train`|training|3|" in card  # counted from dump/raw/train/wav.scp of the recipe
    assert f'{HF_CLASSES[task].__name__}.from_pretrained("{out.resolve()}")' in card
    assert repr(str(out.resolve() / "tokens.txt")) in card  # a local folder: no Hub download in the example


def test_card_has_metadata_usage_reproduction_and_citations(asr_folder: Path):
    card = (asr_folder / "README.md").read_text(encoding="utf-8")
    front = card.split("---\n")[1]
    assert "library_name: espnet" in front and "pipeline_tag: automatic-speech-recognition" in front
    assert "- transformers" in front
    for text in ('Speech2Text.from_pretrained("owner/name")', "speecht5 transcribe --model owner/name",
                 'SpeechT5ForSpeechToText.from_pretrained("owner/name")', 'hf_hub_download("owner/name", "tokens.txt")',
                 "|dataset|Snt|", "cd egs2/toy/asr1", "./run.sh --stage 1 --stop_stage 13", "CTC head",
                 "@inproceedings{ao2022speecht5", "2110.07205", "@inproceedings{watanabe2018espnet"):
        assert text in card, text
    assert card.count("```") % 2 == 0


def run_upload(args: List[str], env: Dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "espnet2_speecht5.bin.export_model", "upload", *args],
                          capture_output=True, text=True, env=env, timeout=300)


def offline_env(tmp_path: Path, token: str = "") -> Dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in TOKEN_VARIABLES}
    env.update(HF_HOME=str(tmp_path / "hf_home"), HF_HUB_OFFLINE="1")
    if token:
        env["HF_TOKEN"] = token
    return env


def listed_files(stderr: str) -> List[str]:
    """The file names of the listing's "  <name> (<size>)" log lines."""
    return re.findall(r"^\S+ \(upload\)   (\S+) \(\d", stderr, flags=re.MULTILINE)


def test_upload_without_token_or_repo_only_lists(asr_folder: Path, tmp_path: Path):
    files = sorted(p.relative_to(asr_folder).as_posix() for p in asr_folder.rglob("*") if p.is_file())
    size = sum(p.stat().st_size for p in asr_folder.rglob("*") if p.is_file()) / 1e6
    for args, env, target, how in (
        (["--hf_repo", "owner/name"], offline_env(tmp_path), "owner/name", "set HF_TOKEN"),
        ([], offline_env(tmp_path), "owner/name", "pass --hf_repo owner/name"),
        (["--hf_repo", "owner/name", "--dry_run"], offline_env(tmp_path, "hf_not_a_real_token"), "owner/name",
         "--dry_run"),
    ):
        proc = run_upload(["--folder", str(asr_folder), *args], env)
        assert proc.returncode == 0, proc.stderr[-2000:]  # HF_HUB_OFFLINE=1: any Hub call would have failed
        assert f"would upload {len(files)} files ({size:.2f} MB) to {target}:" in proc.stderr
        assert sorted(listed_files(proc.stderr)) == files
        assert how in proc.stderr and "https://huggingface.co/" not in proc.stderr


def test_upload_with_token_creates_the_repo_and_uploads_the_folder(asr_folder: Path, monkeypatch):
    """Uses a fake: HfApi's methods are replaced in-process to record the calls instead of using the network."""
    import huggingface_hub

    calls = []
    monkeypatch.setattr(huggingface_hub.HfApi, "create_repo", lambda self, **kw: calls.append(("create", kw)))
    monkeypatch.setattr(huggingface_hub.HfApi, "upload_folder",
                        lambda self, **kw: calls.append(("upload", kw)) or "commit-url")
    monkeypatch.setenv("HF_TOKEN", "hf_not_a_real_token")
    monkeypatch.delenv("HF_OIDC_RESOURCE", raising=False)
    assert upload(asr_folder, "owner/name", private=False, dry_run=True) is False
    assert calls == []
    export_model.main(["upload", "--folder", str(asr_folder), "--hf_repo", "owner/name"])
    assert [name for name, _ in calls] == ["create", "upload"]
    assert calls[0][1]["repo_id"] == "owner/name" and calls[0][1]["private"] is False
    assert calls[1][1]["folder_path"] == str(asr_folder) and calls[1][1]["repo_id"] == "owner/name"


def test_upload_bad_input_is_one_line(asr_folder: Path, tmp_path: Path, capsys):
    assert run_cli(export_model.main, ["upload", "--folder", str(asr_folder), "--hf_repo", "no-slash"]) == 1
    assert run_cli(export_model.main, ["upload", "--folder", str(tmp_path), "--dry_run"]) == 1
    assert run_cli(export_model.main, ["folder", "--zip", str(tmp_path / "none.zip"), "--results", "R.md",
                                       "--task", "asr", "--corpus", "toy", "--outdir", str(tmp_path / "o")]) == 1
    lines = capsys.readouterr().err.strip().splitlines()
    assert lines == [
        "ERROR: --hf_repo must be owner/name, not 'no-slash'",
        f"ERROR: {tmp_path}: is not an export folder (no meta.yaml or README.md): run stage 13 "
        "(export_model folder) first",
        f"ERROR: {tmp_path / 'none.zip'}: does not exist: run stage 12 first (--stage 12)",
    ]
