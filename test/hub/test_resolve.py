"""Model tags -> files: zips, folders, URLs and Hugging Face ids, with the cache and offline rules."""

from __future__ import annotations

import functools
import http.server
import os
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import pytest
import yaml

from espnet2_speecht5.checkpoint.io import load_checkpoint, save_safetensors
from espnet2_speecht5.export.package import extract
from espnet2_speecht5.hub.cache import default_cache_dir
from espnet2_speecht5.hub.resolve import resolve
from espnet2_speecht5.runtime.errors import DataError

from hub_helpers import pack, write_asr_exp


@pytest.fixture(scope="module")
def packed(tmp_path_factory: pytest.TempPathFactory):
    """A recipe folder with a tiny ASR experiment, its safetensors copy and a fake bpe model, packed."""
    recipe = tmp_path_factory.mktemp("recipe")
    exp = write_asr_exp(recipe)
    save_safetensors(load_checkpoint(exp["model"]), exp["exp"] / "model.safetensors")
    bpe = recipe / "data" / "token_list" / "bpe.model"
    bpe.parent.mkdir(parents=True)
    bpe.write_bytes(b"not really a sentencepiece model")
    config = yaml.safe_load(exp["config"].read_text())
    config["bpemodel"] = "data/token_list/bpe.model"
    exp["config"].write_text(yaml.safe_dump(config))
    zip_path = pack(recipe, recipe / "model.zip", "asr", exp["config"], exp["model"],
                    options=[exp["exp"] / "model.safetensors", bpe])
    return recipe, zip_path


def test_a_zip_unpacks_into_the_cache_and_the_safetensors_copy_is_preferred(packed, tmp_path: Path):
    _, zip_path = packed
    cache = tmp_path / "cache"
    model = resolve(str(zip_path), cache)
    assert model.layout == "espnet"
    assert model.files["asr_model_file"].endswith("exp/asr_tiny/model.safetensors")
    for path in model.files.values():
        assert Path(path).is_file() and Path(path).is_relative_to(cache.resolve())
    config = yaml.safe_load(Path(model.files["asr_train_config"]).read_text())
    assert Path(config["bpemodel"]).is_file() and Path(config["bpemodel"]).is_relative_to(cache.resolve())


def test_an_unpacked_folder_gets_absolute_paths_in_a_cached_copy_of_its_config(packed, tmp_path: Path):
    _, zip_path = packed
    folder = tmp_path / "export"
    extract(zip_path, folder)
    original = (folder / "exp/asr_tiny/config.yaml").read_text()
    model = resolve(folder, tmp_path / "cache")
    assert model.layout == "espnet" and model.root == folder.resolve()
    config = yaml.safe_load(Path(model.files["asr_train_config"]).read_text())
    assert config["bpemodel"] == str(folder.resolve() / "data/token_list/bpe.model")
    assert (folder / "exp/asr_tiny/config.yaml").read_text() == original  # the user's folder is not touched
    assert model.files["asr_model_file"] == str(folder.resolve() / "exp/asr_tiny/model.safetensors")


def test_a_folder_with_a_changed_file_fails_its_checksum(packed, tmp_path: Path):
    _, zip_path = packed
    folder = tmp_path / "export"
    extract(zip_path, folder)
    (folder / "data/token_list/bpe.model").write_bytes(b"tampered")
    with pytest.raises(DataError, match="bpe.model") as err:
        resolve(folder, tmp_path / "cache")
    assert "\n" not in str(err.value)


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args) -> None:  # keep the test output clean
        pass


def test_a_url_is_downloaded_once_and_then_loads_offline(packed, tmp_path: Path, monkeypatch):
    recipe, zip_path = packed
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_QuietHandler, directory=str(recipe)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{server.server_address[1]}/{zip_path.name}"
    try:
        first = resolve(url, tmp_path / "cache")
    finally:
        server.shutdown()
        server.server_close()
    assert first.files["asr_model_file"].endswith("model.safetensors")
    monkeypatch.setenv("SPEECHT5_OFFLINE", "1")  # and the server is gone: only the cache can answer
    again = resolve(url, tmp_path / "cache")
    assert again.files == first.files


def test_an_uncached_url_while_offline_is_one_line(tmp_path: Path, monkeypatch):
    monkeypatch.setenv("SPEECHT5_OFFLINE", "1")
    with pytest.raises(DataError, match="not in the cache and the network is off") as err:
        resolve("https://example.invalid/model.zip", tmp_path / "cache")
    assert "\n" not in str(err.value)


HUB_SCRIPT = textwrap.dedent(
    """
    import sys
    from espnet2_speecht5.hub.resolve import resolve
    from espnet2_speecht5.runtime.errors import DataError
    try:
        model = resolve(sys.argv[1], sys.argv[2])
    except DataError as err:
        print("ERROR", err)
        sys.exit(3)
    print("LAYOUT", model.layout)
    print("MODEL", model.files.get("asr_model_file", ""))
    """
)


def _hub_env(tmp_path: Path) -> dict:
    env = dict(os.environ)
    env.update(HF_HOME=str(tmp_path / "hf"), HF_HUB_CACHE=str(tmp_path / "hf" / "hub"), HF_HUB_OFFLINE="1",
               HF_HUB_DISABLE_TELEMETRY="1")
    return env


def test_a_hub_id_in_the_huggingface_cache_loads_without_the_network(packed, tmp_path: Path):
    """huggingface_hub's cache layout (models--owner--name/refs/main + snapshots/<commit>) filled by hand."""
    _, zip_path = packed
    repo = tmp_path / "hf" / "hub" / "models--someone--speecht5-tiny"
    commit = "0123456789abcdef0123456789abcdef01234567"
    extract(zip_path, repo / "snapshots" / commit)
    (repo / "refs").mkdir(parents=True)
    (repo / "refs" / "main").write_text(commit)
    proc = subprocess.run([sys.executable, "-c", HUB_SCRIPT, "someone/speecht5-tiny", str(tmp_path / "cache")],
                          env=_hub_env(tmp_path), capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:] + proc.stdout
    assert "LAYOUT espnet" in proc.stdout
    assert f"snapshots/{commit}/exp/asr_tiny/model.safetensors" in proc.stdout


def test_a_hub_id_that_is_not_cached_while_offline_is_one_line(tmp_path: Path):
    proc = subprocess.run([sys.executable, "-c", HUB_SCRIPT, "someone/not-there", str(tmp_path / "cache")],
                          env=_hub_env(tmp_path), capture_output=True, text=True, timeout=120)
    assert proc.returncode == 3, proc.stderr[-2000:]
    lines = [line for line in proc.stdout.splitlines() if line.startswith("ERROR")]
    assert lines == ["ERROR someone/not-there: is not in the Hugging Face cache and the network is off "
                     "(HF_HUB_OFFLINE)"]


@pytest.mark.parametrize("tag", ["no/such/model/here", "./missing.zip", "missing"])
def test_an_unknown_tag_is_one_line(tag: str, tmp_path: Path):
    with pytest.raises(DataError, match="no such model") as err:
        resolve(tag, tmp_path / "cache")
    assert "\n" not in str(err.value)


def test_a_file_that_is_not_a_zip_is_refused(tmp_path: Path):
    bogus = tmp_path / "model.pth"
    bogus.write_bytes(b"\x80\x04K\x01.")
    with pytest.raises(DataError, match="not a zip archive, or a truncated one"):
        resolve(bogus, tmp_path / "cache")


def test_the_cache_is_under_the_users_cache_folder(monkeypatch, tmp_path: Path):
    monkeypatch.delenv("SPEECHT5_CACHE", raising=False)
    monkeypatch.delenv("XDG_CACHE_HOME", raising=False)
    assert default_cache_dir() == Path.home() / ".cache" / "espnet2_speecht5"
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert default_cache_dir() == tmp_path / "xdg" / "espnet2_speecht5"
    monkeypatch.setenv("SPEECHT5_CACHE", str(tmp_path / "mine"))
    assert default_cache_dir() == tmp_path / "mine"
