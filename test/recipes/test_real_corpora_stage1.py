"""Stage 1 (local/data.sh) of the recipes on the real corpora, and its download and error paths.

The first group runs each recipe's ``local/data.sh`` on ``../shared/data`` (skipped when a
corpus folder is missing) and checks the data directories it writes.  The others build small
synthetic corpora in a temporary folder: as tarballs served through ``file://`` URLs (the
download path, with a repository copy that has no ``../shared/data`` beside it) and as
broken corpora (one-line errors naming the file and line).
"""

from __future__ import annotations

import io
import os
import re
import shutil
import subprocess
import tarfile
import zipfile
from pathlib import Path
from typing import Callable, Dict, List, Optional, Sequence

import numpy as np
import pytest
import soundfile as sf

from espnet2_speecht5.data.kaldi_dir import iter_lines, read_map, utt2spk_to_spk2utt
from espnet2_speecht5.recipes import get_recipe

from repo_testing import REPO_ROOT, SHARED_DATA, copy_recipe

CORPUS_VARS = ("CATHY_ARCTIC", "VCC2016", "FSDD", "AN4")
SETS = ("train", "dev", "test")


def clean_env(**extra: str) -> Dict[str, str]:
    """The environment without any corpus variables (db.sh decides), plus ``extra``."""
    env = {k: v for k, v in os.environ.items() if k not in CORPUS_VARS and not k.endswith("_URL")}
    env.update(extra)
    return env


def run_data_sh(recipe: Path, *args: str, env: Optional[Dict[str, str]] = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["local/data.sh", *args],
        cwd=recipe,
        env=env if env is not None else clean_env(),
        capture_output=True,
        text=True,
        timeout=120,
    )


def keys(path: Path) -> List[str]:
    return [key for _, key, _ in iter_lines(path)]


def check_data_dir(data_dir: Path, task: str) -> Dict[str, Dict[str, str]]:
    """Check one data directory against docs/data_format.md and return its files as maps."""
    files = {}
    for name in get_recipe(task).required_files:
        assert (data_dir / name).is_file(), f"{data_dir / name} is missing"
    for name in ("wav.scp", "text", "utt2spk", "wav_tgt.scp", "utt2spk_tgt", "spk2utt"):
        path = data_dir / name
        if not path.is_file():
            continue
        ids = keys(path)
        assert ids == sorted(ids, key=lambda k: k.encode("utf-8")), f"{path} is not sorted"
        files[name] = read_map(path)
    utts = list(files["wav.scp"])
    for name in ("text", "utt2spk", "wav_tgt.scp", "utt2spk_tgt"):
        if name in files:
            assert list(files[name]) == utts, f"{data_dir / name} has other ids than wav.scp"
    expected = {spk: " ".join(u) for spk, u in utt2spk_to_spk2utt(files["utt2spk"]).items()}
    assert files["spk2utt"] == expected
    for utt, spk in files["utt2spk"].items():
        assert utt.startswith(spk + "_") or utt.startswith(spk + "-"), f"{utt} does not start with {spk}"
    for name in ("wav.scp", "wav_tgt.scp"):
        for utt, entry in files.get(name, {}).items():
            if entry.endswith("|"):
                continue
            assert os.path.isabs(entry) and os.path.isfile(entry), f"{data_dir / name}: {utt}: {entry}"
    if task in ("vc", "sid"):
        assert "text" not in files
    return files


# ----------------------------------------------------------------------- the real corpora

# (corpus, recipe, task, folder under ../shared/data, utterances per set, the sentence of an utterance)
REAL_CASES = [
    ("cathy", "asr1", "asr", "cathy_arctic", (982, 50, 100), lambda utt: utt),
    ("cathy", "tts1", "tts", "cathy_arctic", (982, 50, 100), lambda utt: utt),
    ("vcc2016", "vc1", "vc", "vcc2016", (1040, 128, 128), lambda utt: utt.rsplit("_", 1)[1]),
    ("vcc2016", "sid1", "sid", "vcc2016", (780, 96, 96), lambda utt: utt.rsplit("_", 1)[1]),
    ("fsdd", "sid1", "sid", "fsdd", (2400, 300, 300), lambda utt: utt.rsplit("_", 1)[1]),
    ("fsdd", "asr1", "asr", "fsdd", (2400, 300, 300), lambda utt: utt.rsplit("_", 1)[1]),
    ("an4", "asr1", "asr", "mini_an4", (3, 2, 2), lambda utt: utt),
]


def check_corpus_specifics(corpus: str, task: str, sets: Dict[str, Dict[str, Dict[str, str]]]) -> None:
    all_speakers = [set(files["utt2spk"].values()) for files in sets.values()]
    if corpus == "cathy":
        assert all(s == {"cathy"} for s in all_speakers)
        texts = [t for files in sets.values() for t in files["text"].values()]
        if task == "asr":
            assert all(re.fullmatch(r"[a-z0-9']+( [a-z0-9']+)*", t) for t in texts)
            assert sets["test"]["text"]["cathy_arctic_b0539"] == "you were making them talk shop ruth charged him"
        else:
            assert sets["test"]["text"]["cathy_arctic_b0539"] == "You were making them talk shop, Ruth charged him."
        assert min(sets["test"]["wav.scp"]) == "cathy_arctic_b0440"
    elif corpus == "vcc2016" and task == "vc":
        for files in sets.values():
            assert set(files["utt2spk"].values()) == {"SF1", "SF2", "SM1", "SM2"}
            assert set(files["utt2spk_tgt"].values()) == {"TF1", "TM1"}
            for utt, src_path in files["wav.scp"].items():
                src, tgt, sentence = utt.split("_")
                assert Path(src_path).parent.name == src and Path(src_path).stem == sentence
                tgt_path = Path(files["wav_tgt.scp"][utt])
                assert tgt_path.parent.name == tgt == files["utt2spk_tgt"][utt] and tgt_path.stem == sentence
    elif corpus == "vcc2016":
        assert all(s == {"SF1", "SF2", "SM1", "SM2", "TF1", "TM1"} for s in all_speakers)
    elif corpus == "fsdd":
        assert all(len(s) == 6 for s in all_speakers) and len(set.union(*all_speakers)) == 6
        assert sf.info(next(iter(sets["test"]["wav.scp"].values()))).samplerate == 8000  # not resampled here
        for name, files in sets.items():
            for utt, path in files["wav.scp"].items():
                spk, digit, index = utt.split("_")
                assert Path(path).stem == f"{digit}_{spk}_{index}"
                assert int(index) in {"test": range(0, 5), "dev": range(5, 10), "train": range(10, 50)}[name]
                if task == "asr":
                    words = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]
                    assert files["text"][utt] == words[int(digit)]
    elif corpus == "an4":
        assert not all_speakers[0] & all_speakers[1], "dev speakers must not be in train"
        assert sets["test"]["text"] == {
            "fcaw-cen8-b": "ELEVEN TWENTY SEVEN FIFTY SEVEN",
            "mmxg-cen8-b": "OCTOBER TWENTY FOUR NINETEEN SEVENTY",
        }
        assert all("<s>" not in t and "</s>" not in t for f in sets.values() for t in f["text"].values())


@pytest.mark.shared_data
@pytest.mark.parametrize(
    "corpus,task_dir,task,folder,counts,sentence_of", REAL_CASES, ids=[f"{c[0]}-{c[1]}" for c in REAL_CASES]
)
def test_stage1_on_shared_corpus(
    tmp_path: Path,
    corpus: str,
    task_dir: str,
    task: str,
    folder: str,
    counts: Sequence[int],
    sentence_of: Callable[[str], str],
):
    if not (SHARED_DATA / folder).is_dir():
        pytest.skip(f"the shared corpus {SHARED_DATA / folder} is missing")
    recipe = copy_recipe(corpus, task_dir, tmp_path)
    proc = run_data_sh(recipe, "--task", task)
    assert proc.returncode == 0, proc.stderr[-3000:]
    sets = {name: check_data_dir(recipe / "data" / name, task) for name in SETS}
    assert tuple(len(sets[name]["wav.scp"]) for name in SETS) == tuple(counts)
    for name, n in zip(SETS, counts):
        assert f"data/{name}: {n} utterances" in proc.stdout
    # No sentence (prompt, sentence number, recording index) is in two sets.
    sentences = {name: {sentence_of(u) for u in sets[name]["wav.scp"]} for name in SETS}
    assert not sentences["train"] & sentences["dev"]
    assert not sentences["train"] & sentences["test"]
    assert not sentences["dev"] & sentences["test"]
    check_corpus_specifics(corpus, task, sets)
    # Audio paths point into the shared folder (or, for AN4, into the recipe's downloads/).
    first = next(iter(sets["train"]["wav.scp"].values()))
    expected_root = recipe / "downloads" if corpus == "an4" else (SHARED_DATA / folder).resolve()
    assert first.startswith(str(expected_root)), first


@pytest.mark.shared_data
def test_stage1_rerun_gives_the_same_files(tmp_path: Path):
    if not (SHARED_DATA / "mini_an4").is_dir():
        pytest.skip(f"the shared corpus {SHARED_DATA / 'mini_an4'} is missing")
    recipe = copy_recipe("an4", "asr1", tmp_path)
    assert run_data_sh(recipe).returncode == 0
    before = {p: p.read_bytes() for p in sorted((recipe / "data").rglob("*")) if p.is_file()}
    second = run_data_sh(recipe)
    assert second.returncode == 0, second.stderr
    assert "unpacking" not in second.stderr  # the unpacked corpus is reused
    assert {p: p.read_bytes() for p in sorted((recipe / "data").rglob("*")) if p.is_file()} == before


@pytest.mark.shared_data
def test_db_sh_defaults_to_shared_data_and_honours_the_environment(tmp_path: Path):
    if not SHARED_DATA.is_dir():
        pytest.skip(f"the shared corpora folder {SHARED_DATA} is missing")
    for corpus, var, folder in (
        ("cathy", "CATHY_ARCTIC", "cathy_arctic"),
        ("vcc2016", "VCC2016", "vcc2016"),
        ("fsdd", "FSDD", "fsdd"),
        ("an4", "AN4", "mini_an4"),
    ):
        db = REPO_ROOT / "egs2" / corpus / "db.sh"
        out = subprocess.run(
            ["bash", "-c", f'. "{db}"; echo "${{{var}}}"'], env=clean_env(), capture_output=True, text=True
        )
        assert out.stdout.strip() == str((SHARED_DATA / folder).resolve())
        out = subprocess.run(
            ["bash", "-c", f'. "{db}"; echo "${{{var}}}"'], env=clean_env(**{var: "/x"}), capture_output=True, text=True
        )
        assert out.stdout.strip() == "/x"


# ------------------------------------------------- synthetic corpora and the download path


def tone(seconds: float = 0.2, rate: int = 16000) -> np.ndarray:
    t = np.arange(int(seconds * rate)) / rate
    return (0.2 * np.sin(2 * np.pi * 300 * t)).astype(np.float32)


def write_audio(path: Path, rate: int = 16000, fmt: Optional[str] = None) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    if fmt == "NIST":
        sf.write(path, tone(rate=rate), rate, format="NIST", subtype="PCM_16")
    else:
        sf.write(path, tone(rate=rate), rate)


def recipe_without_shared_data(tmp_path: Path, corpus: str, task_dir: str) -> Path:
    """Copy ``egs2/<corpus>/<task_dir>`` into ``tmp_path/repo`` with its relative links intact.

    db.sh is a real copy there, so it computes the repository root as ``tmp_path/repo`` and
    finds no ``../shared/data`` beside it: its corpus variable defaults to empty.
    """
    src = REPO_ROOT / "egs2"
    egs = tmp_path / "repo" / "egs2"
    (egs / corpus).mkdir(parents=True)
    (egs / "TEMPLATE").symlink_to(src / "TEMPLATE")
    (tmp_path / "repo" / "utils").symlink_to(REPO_ROOT / "utils")
    shutil.copy2(src / corpus / "db.sh", egs / corpus / "db.sh")
    (egs / corpus / "local").symlink_to(src / corpus / "local")
    shutil.copytree(
        src / corpus / task_dir,
        egs / corpus / task_dir,
        symlinks=True,
        ignore=shutil.ignore_patterns("data", "dump", "exp", "downloads"),
    )
    return egs / corpus / task_dir


def make_tarball(path: Path, files: Dict[str, bytes]) -> str:
    with tarfile.open(path, "w:gz") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return path.as_uri()


def audio_bytes(rate: int = 16000, fmt: str = "WAV") -> bytes:
    buf = io.BytesIO()
    sf.write(buf, tone(rate=rate), rate, format=fmt, subtype="PCM_16")
    return buf.getvalue()


def test_download_failure_is_one_line_naming_the_variable(tmp_path: Path):
    for corpus, task_dir, var in (
        ("cathy", "asr1", "CATHY_ARCTIC"),
        ("vcc2016", "vc1", "VCC2016"),
        ("fsdd", "sid1", "FSDD"),
        ("an4", "asr1", "AN4"),
    ):
        recipe = recipe_without_shared_data(tmp_path / corpus, corpus, task_dir)
        url = (tmp_path / "no_such_file.tar.gz").as_uri()
        proc = run_data_sh(recipe, env=clean_env(**{f"{var}_URL": url}))
        assert proc.returncode == 1, (corpus, proc.stderr)
        last = proc.stderr.strip().splitlines()[-1]
        assert last.startswith("ERROR: ") and f"set {var}" in last and url in last, last
        assert not list((recipe / "downloads").glob("*.part"))


def test_cathy_download_of_the_upstream_layout(tmp_path: Path):
    recipe = recipe_without_shared_data(tmp_path, "cathy", "tts1")
    top = "dataset-voice-cathy-master/data"
    files = {
        # Two takes of a0001: the later one (200) wins, with its own transcript.
        f"{top}/arctic_a0001_100.wav": audio_bytes(48000),
        f"{top}/arctic_a0001_100.txt": b"Old take.\n",
        f"{top}/arctic_a0001_200.wav": audio_bytes(48000),
        f"{top}/arctic_a0001_200.txt": b"Author of the danger trail, Philip Steels, etc.\n",
        # a0002's take has no .txt of its own: the prompt's other transcript is used.
        f"{top}/arctic_a0002_300.wav": audio_bytes(48000),
        f"{top}/arctic_a0002_250.txt": b"Not at this particular case, Tom.\n",
        f"{top}/arctic_b0001_400.wav": audio_bytes(48000),
        f"{top}/arctic_b0001_400.txt": b"Will we ever forget it.\n",
        "dataset-voice-cathy-master/README.md": b"readme\n",
    }
    url = make_tarball(tmp_path / "cathy.tar.gz", files)
    proc = run_data_sh(recipe, "--task", "tts", "--n_dev", "1", "--n_test", "1", env=clean_env(CATHY_ARCTIC_URL=url))
    assert proc.returncode == 0, proc.stderr
    assert "downloading" in proc.stderr
    sets = {name: check_data_dir(recipe / "data" / name, "tts") for name in SETS}
    assert sets["train"]["text"] == {"cathy_arctic_a0001": "Author of the danger trail, Philip Steels, etc."}
    assert sets["train"]["wav.scp"]["cathy_arctic_a0001"].endswith("/data/arctic_a0001_200.wav")
    assert sets["dev"]["text"] == {"cathy_arctic_a0002": "Not at this particular case, Tom."}
    assert list(sets["test"]["text"]) == ["cathy_arctic_b0001"]
    # A second run uses the downloaded copy.
    again = run_data_sh(recipe, "--task", "tts", "--n_dev", "1", "--n_test", "1", env=clean_env(CATHY_ARCTIC_URL="x"))
    assert again.returncode == 0 and "downloading" not in again.stderr, again.stderr


def test_fsdd_download(tmp_path: Path):
    recipe = recipe_without_shared_data(tmp_path, "fsdd", "asr1")
    top = "free-spoken-digit-dataset-master/recordings"
    files = {f"{top}/{d}_{spk}_{i}.wav": audio_bytes(8000) for d in (3, 7) for spk in ("ann", "bob") for i in range(11)}
    url = make_tarball(tmp_path / "fsdd.tar.gz", files)
    proc = run_data_sh(recipe, "--task", "asr", env=clean_env(FSDD_URL=url))
    assert proc.returncode == 0, proc.stderr
    sets = {name: check_data_dir(recipe / "data" / name, "asr") for name in SETS}
    assert [len(sets[name]["wav.scp"]) for name in SETS] == [4, 20, 20]
    assert sets["train"]["text"] == {"ann_3_10": "three", "ann_7_10": "seven", "bob_3_10": "three", "bob_7_10": "seven"}


def test_vcc2016_download(tmp_path: Path):
    recipe = recipe_without_shared_data(tmp_path, "vcc2016", "vc1")
    archive = tmp_path / "vcc2016_training.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for spk in ("SF1", "SM1", "TM1"):
            for sentence in range(100001, 100011):
                zf.writestr(f"vcc2016_training/{spk}/{sentence}.wav", audio_bytes())
    proc = run_data_sh(recipe, "--task", "vc", env=clean_env(VCC2016_URL=archive.as_uri()))
    assert proc.returncode == 0, proc.stderr
    sets = {name: check_data_dir(recipe / "data" / name, "vc") for name in SETS}
    # 2 pairs (SF1:TM1, SM1:TM1) x sentences 8 / 1 / 1.
    assert [len(sets[name]["wav.scp"]) for name in SETS] == [16, 2, 2]
    assert sets["test"]["utt2spk_tgt"] == {"SF1_TM1_100010": "TM1", "SM1_TM1_100010": "TM1"}


def test_an4_download_with_a_leading_downloads_folder(tmp_path: Path):
    recipe = recipe_without_shared_data(tmp_path, "an4", "asr1")
    root = "downloads/an4"
    sph = audio_bytes(fmt="NIST")
    files = {
        f"{root}/etc/an4_train.transcription": b"<s> YES </s> (an1-aaa-b)\n<s> NO </s> (an2-bbb-b)\n",
        f"{root}/etc/an4_test.transcription": b"ONE TWO (cen1-ccc-b)\n",
        f"{root}/wav/an4_clstk/aaa/an1-aaa-b.sph": sph,
        f"{root}/wav/an4_clstk/bbb/an2-bbb-b.sph": sph,
        f"{root}/wav/an4test_clstk/ccc/cen1-ccc-b.sph": sph,
    }
    url = make_tarball(tmp_path / "an4.tar.gz", files)
    proc = run_data_sh(recipe, env=clean_env(AN4_URL=url))
    assert proc.returncode == 0, proc.stderr
    sets = {name: check_data_dir(recipe / "data" / name, "asr") for name in SETS}
    assert sets["train"]["text"] == {"aaa-an1-b": "YES"}
    assert sets["dev"]["text"] == {"bbb-an2-b": "NO"}
    assert sets["test"]["text"] == {"ccc-cen1-b": "ONE TWO"}
    wav = Path(sets["test"]["wav.scp"]["ccc-cen1-b"])
    assert wav.is_file() and wav.is_relative_to(recipe / "downloads")
    assert wav.parts[-4:] == ("wav", "an4test_clstk", "ccc", "cen1-ccc-b.sph")


# ------------------------------------------------------------------ bad corpus content


def one_error_line(proc: subprocess.CompletedProcess) -> str:
    assert proc.returncode == 1
    assert "Traceback" not in proc.stderr, proc.stderr
    errors = [line for line in proc.stderr.splitlines() if line.startswith("ERROR")]
    assert len(errors) == 1, proc.stderr
    return errors[0]


def make_cathy(root: Path, lines: Sequence[str], audio: Sequence[str]) -> Path:
    root.mkdir(parents=True)
    (root / "text").write_text("".join(f"{line}\n" for line in lines))
    for name in audio:
        write_audio(root / "wav16k" / f"{name}.flac")
    return root


def test_cathy_errors_name_the_file_and_line(tmp_path: Path):
    recipe = recipe_without_shared_data(tmp_path, "cathy", "asr1")
    ids = ["arctic_a0001", "arctic_a0002", "arctic_a0003"]
    corpus = make_cathy(tmp_path / "no_text", [f"{ids[0]} Hello.", ids[1], f"{ids[2]} Bye."], ids)
    line = one_error_line(run_data_sh(recipe, env=clean_env(CATHY_ARCTIC=str(corpus))))
    assert f"{corpus / 'text'}:2: utterance 'arctic_a0002': no transcript" in line
    corpus = make_cathy(tmp_path / "no_audio", [f"{i} Hello." for i in ids], ids[:2])
    line = one_error_line(run_data_sh(recipe, env=clean_env(CATHY_ARCTIC=str(corpus))))
    assert f"{corpus / 'text'}:3: utterance 'arctic_a0003': audio file" in line and "does not exist" in line
    line = one_error_line(run_data_sh(recipe, env=clean_env(CATHY_ARCTIC=str(tmp_path / "nowhere"))))
    assert "CATHY_ARCTIC" in line


def make_an4(root: Path, train_lines: Sequence[str]) -> Path:
    (root / "etc").mkdir(parents=True)
    (root / "etc" / "an4_train.transcription").write_text("".join(f"{line}\n" for line in train_lines))
    (root / "etc" / "an4_test.transcription").write_text("ONE (cen1-ccc-b)\n")
    write_audio(root / "wav" / "an4test_clstk" / "ccc" / "cen1-ccc-b.sph", fmt="NIST")
    write_audio(root / "wav" / "an4_clstk" / "aaa" / "an1-aaa-b.sph", fmt="NIST")
    return root


def test_an4_errors_name_the_file_and_line(tmp_path: Path):
    recipe = recipe_without_shared_data(tmp_path, "an4", "asr1")
    corpus = make_an4(tmp_path / "no_id", ["<s> YES </s> (an1-aaa-b)", "<s> NO </s>"])
    line = one_error_line(run_data_sh(recipe, env=clean_env(AN4=str(corpus))))
    assert f"{corpus / 'etc' / 'an4_train.transcription'}:2: no utterance id" in line
    corpus = make_an4(tmp_path / "no_audio", ["<s> YES </s> (an1-aaa-b)", "<s> NO </s> (an2-bbb-b)"])
    line = one_error_line(run_data_sh(recipe, env=clean_env(AN4=str(corpus))))
    assert "an4_train.transcription:2: utterance 'bbb-an2-b': audio file" in line
    assert "an2-bbb-b.sph does not exist" in line


def test_vcc2016_and_fsdd_errors_name_the_file(tmp_path: Path):
    recipe = recipe_without_shared_data(tmp_path, "vcc2016", "sid1")
    corpus = tmp_path / "vcc"
    for spk, sentences in (("SF1", range(1, 11)), ("TM1", range(1, 10))):
        for s in sentences:
            write_audio(corpus / "vcc2016_training" / spk / f"{100000 + s}.wav")
    line = one_error_line(run_data_sh(recipe, "--task", "sid", env=clean_env(VCC2016=str(corpus))))
    assert f"{corpus / 'vcc2016_training' / 'TM1'}: sentence 100010 is missing" in line

    recipe = recipe_without_shared_data(tmp_path / "f", "fsdd", "sid1")
    corpus = tmp_path / "fsdd"
    write_audio(corpus / "recordings" / "3_ann_0.wav", rate=8000)
    write_audio(corpus / "recordings" / "three_ann_1.wav", rate=8000)
    line = one_error_line(run_data_sh(recipe, env=clean_env(FSDD=str(corpus))))
    assert f"{corpus / 'recordings' / 'three_ann_1.wav'}: file name is not" in line
