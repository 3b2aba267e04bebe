"""Packed models from elsewhere: planted attacks are refused with one line, and nothing is written.

Each attack is built here (a pickle that runs code, zip-slip member names, a truncated zip, a
damaged member, a member changed after packing) and must fail in ``verify_archive`` /
``unpack_verified`` / the weight loaders before any file is created; valid archives made by
``espnet2.bin.pack`` still unpack through plain espnet_model_zoo and through ``unpack_verified``.
"""

from __future__ import annotations

import builtins
import hashlib
import logging
import os
import shutil
import stat
import warnings
import zipfile
from pathlib import Path
from typing import Any, Callable, Dict, Tuple

import pytest
import torch
import yaml
from archive_helpers import (
    BPE,
    CONFIG,
    MODEL,
    RESULTS,
    files_under,
    pack_tiny_model,
    read_members,
    tiny_network,
    write_members,
)
from espnet_model_zoo.downloader import ModelDownloader

from espnet2_speecht5.checkpoint.archive import add_checksums, unpack_verified, verify_archive, verify_folder
from espnet2_speecht5.checkpoint.io import load_checkpoint
from espnet2_speecht5.checkpoint.weights import load_weights
from espnet2_speecht5.runtime.errors import DataError


class RunsCode:
    """Pickles as a call of ``function(argument)``: unpickling it runs that call."""

    def __init__(self, function: Callable, argument: str) -> None:
        self.function, self.argument = function, argument

    def __reduce__(self) -> Tuple[Callable, Tuple[str]]:
        return self.function, (self.argument,)


def payload(kind: str, marker: Path) -> RunsCode:
    """An object whose unpickling creates ``marker`` through ``os.system`` or ``builtins.exec``."""
    if kind == "os.system":
        return RunsCode(os.system, f"touch '{marker}'")
    return RunsCode(builtins.exec, f"open({str(marker)!r}, 'w').close()")


def assert_one_line(err: pytest.ExceptionInfo, *names: Any) -> str:
    """The refusal is one line and names every one of ``names`` (the file, the member)."""
    text = str(err.value)
    assert "\n" not in text and text
    for name in names:
        assert str(name) in text, text
    return text


@pytest.fixture(scope="module")
def packed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny ASR model packed by espnet2.bin.pack, without checksums (do not modify: copy it)."""
    return pack_tiny_model(tmp_path_factory.mktemp("packed"))


@pytest.fixture
def plain_zip(packed: Path, tmp_path: Path) -> Path:
    """A private copy of the packed model, without checksums."""
    return Path(shutil.copy(packed, tmp_path / "model.zip"))


@pytest.fixture
def checked_zip(plain_zip: Path) -> Path:
    """A private copy of the packed model, with checksums."""
    add_checksums(plain_zip)
    return plain_zip


# ---------------------------------------------------------------------------- pickles that run code
@pytest.mark.parametrize("legacy", [False, True], ids=["zip_format", "legacy_format"])
@pytest.mark.parametrize("kind", ["os.system", "builtins.exec"])
def test_code_running_pickle_is_refused_by_both_loaders(tmp_path: Path, kind: str, legacy: bool):
    marker = tmp_path / "marker"
    pth = tmp_path / "evil.pth"
    torch.save({"weight": payload(kind, marker)}, pth, _use_new_zipfile_serialization=not legacy)
    with pytest.raises(DataError) as err:
        load_checkpoint(pth)
    assert_one_line(err, pth)
    with pytest.raises(DataError) as err:
        load_weights(tiny_network(), pth)
    assert_one_line(err, pth)
    assert not marker.exists()
    # The payload is real: the pickle calls the code-running function (checked without unpickling it).
    function = kind.split(".")[1].encode()
    assert function in pth.read_bytes()


def test_code_running_pickle_inside_a_valid_archive_is_refused_on_load(tmp_path: Path):
    marker = tmp_path / "marker"
    zip_path = pack_tiny_model(tmp_path / "recipe", lambda path: torch.save({"weight": payload("os.system", marker)},
                                                                           path))
    add_checksums(zip_path)
    files = unpack_verified(zip_path, tmp_path / "cache")  # unpacking reads no pickle
    with pytest.raises(DataError) as err:
        load_weights(tiny_network(), files["asr_model_file"])
    assert_one_line(err, files["asr_model_file"], "posix.system")
    assert not marker.exists()


# ---------------------------------------------------------------------------- zip slip
@pytest.mark.parametrize(
    "member",
    ["../evil.txt", "{tmp}/abs.txt", "..\\evil.txt", "exp/..\\..\\evil.txt", "exp/../../evil.txt", "C:/evil.txt",
     "C:evil.txt", "\\\\server\\share\\evil.txt"],
)
def test_zip_slip_members_are_refused_before_anything_is_written(packed: Path, tmp_path: Path, member: str):
    member = member.format(tmp=tmp_path / "outside")
    zip_path = write_members(tmp_path / "work" / "slip.zip", {**read_members(packed), member: b"pwned\n"})
    before = files_under(tmp_path)
    cache = tmp_path / "work" / "cache"
    for check in (lambda: verify_archive(zip_path), lambda: unpack_verified(zip_path, cache)):
        with pytest.raises(DataError, match="unsafe member") as err:
            check()
        assert_one_line(err, zip_path, member)
    assert not cache.exists()
    assert files_under(tmp_path) == before


def test_config_path_that_climbs_out_is_refused(tmp_path: Path):
    """espnet_model_zoo writes a yaml_files config to <cachedir>/<md5>/<name> itself: '..' escapes."""
    meta = yaml.safe_dump({"files": {}, "yaml_files": {"asr_train_config": "../../escaped.yaml"}})
    zip_path = write_members(tmp_path / "evil.zip", {"meta.yaml": meta.encode(), "../../escaped.yaml": b"a: 1\n"})
    plain = tmp_path / "plain" / "cache"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ModelDownloader(cachedir=plain).download_and_unpack(str(zip_path))
    assert (tmp_path / "plain" / "escaped.yaml").is_file()  # the attack works on the plain downloader
    ours = tmp_path / "ours" / "cache"
    with pytest.raises(DataError) as err:
        unpack_verified(zip_path, ours)
    assert_one_line(err, zip_path, "../../escaped.yaml")
    assert not (tmp_path / "ours").exists()


def test_symlink_member_is_refused(packed: Path, tmp_path: Path):
    link = zipfile.ZipInfo("exp/asr_tiny/link")
    link.external_attr = (stat.S_IFLNK | 0o777) << 16
    zip_path = write_members(tmp_path / "link.zip", read_members(packed), extra=[link])
    with pytest.raises(DataError, match="symbolic link") as err:
        verify_archive(zip_path)
    assert_one_line(err, zip_path, "exp/asr_tiny/link")


# ---------------------------------------------------------------------------- zip bombs
def test_an_archive_that_unpacks_past_the_size_limit_is_refused_before_unpacking(packed: Path, tmp_path: Path,
                                                                                  monkeypatch):
    """200 MB of zeros deflate to about 200 KB; with the limit at 100 MB nothing is read or written."""
    zip_path = tmp_path / "bomb.zip"
    shutil.copy(packed, zip_path)
    with zipfile.ZipFile(zip_path, "a", compression=zipfile.ZIP_DEFLATED) as archive:
        with archive.open("exp/asr_tiny/zeros.bin", "w", force_zip64=True) as member:
            for _ in range(200):
                member.write(bytes(1 << 20))
    assert zip_path.stat().st_size < 2 << 20
    monkeypatch.setenv("SPEECHT5_MAX_ZIP_BYTES", str(100 << 20))
    cache = tmp_path / "cache"
    for check in (lambda: verify_archive(zip_path), lambda: unpack_verified(zip_path, cache)):
        with pytest.raises(DataError, match="would unpack to") as err:
            check()
        text = assert_one_line(err, zip_path, "a zip bomb?", "SPEECHT5_MAX_ZIP_BYTES")
        assert "more than the 104857600 allowed" in text
    assert not cache.exists()
    monkeypatch.setenv("SPEECHT5_MAX_ZIP_BYTES", str(1 << 30))  # under a higher limit the same archive passes
    assert "files" in verify_archive(zip_path)


def test_an_archive_with_too_many_members_is_refused(packed: Path, tmp_path: Path, monkeypatch):
    members = read_members(packed)
    many = {**members, **{f"exp/asr_tiny/f{i}.txt": b"" for i in range(50)}}
    zip_path = write_members(tmp_path / "many.zip", many)
    monkeypatch.setenv("SPEECHT5_MAX_ZIP_MEMBERS", "40")
    with pytest.raises(DataError, match=f"has {len(many)} members, more than the 40 allowed") as err:
        verify_archive(zip_path)
    assert_one_line(err, zip_path, "SPEECHT5_MAX_ZIP_MEMBERS")
    monkeypatch.setenv("SPEECHT5_MAX_ZIP_MEMBERS", "forty")
    with pytest.raises(DataError, match="must be a whole number, got 'forty'"):
        verify_archive(zip_path)


# ---------------------------------------------------------------------------- damaged archives
@pytest.mark.parametrize("keep", [0.5, 0.9, -1], ids=["half", "most", "all_but_one_byte"])
def test_truncated_zip_is_refused_in_one_line(checked_zip: Path, tmp_path: Path, keep: float):
    data = checked_zip.read_bytes()
    cut = tmp_path / "cut" / "truncated.zip"
    cut.parent.mkdir()
    cut.write_bytes(data[: int(len(data) * keep)] if keep > 0 else data[:-1])
    cache = tmp_path / "cache"
    for check in (lambda: verify_archive(cut), lambda: unpack_verified(cut, cache), lambda: add_checksums(cut)):
        with pytest.raises(DataError, match="truncated") as err:
            check()
        assert_one_line(err, cut)
    assert not cache.exists()
    assert files_under(cut.parent) == ["truncated.zip"]  # add_checksums left no temporary file


def _flip_stored_byte(zip_path: Path, name: str) -> None:
    """Change one byte of a stored member's payload in place, leaving its CRC as it was."""
    with zipfile.ZipFile(zip_path) as archive:
        info = archive.getinfo(name)
    assert info.compress_type == zipfile.ZIP_STORED and info.file_size > 0
    data = bytearray(zip_path.read_bytes())
    offset = info.header_offset + 30 + len(info.filename.encode()) + len(info.extra)
    data[offset] ^= 0xFF
    zip_path.write_bytes(bytes(data))


def test_member_with_a_crc_error_is_named(checked_zip: Path, tmp_path: Path):
    _flip_stored_byte(checked_zip, MODEL)
    with pytest.raises(DataError, match="damaged") as err:
        verify_archive(checked_zip)
    assert_one_line(err, checked_zip, MODEL)
    with pytest.raises(DataError):
        unpack_verified(checked_zip, tmp_path / "cache")
    assert not (tmp_path / "cache").exists()


def _changed(members: Dict[str, bytes]) -> Dict[str, bytes]:
    model = bytearray(members[MODEL])
    model[len(model) // 2] ^= 0xFF
    return {**members, MODEL: bytes(model)}


@pytest.mark.parametrize(
    "tamper, member, message",
    [
        (_changed, MODEL, "fails its checksum"),
        (lambda m: {k: v for k, v in m.items() if k != RESULTS}, RESULTS, "which is missing"),
        (lambda m: {**m, "exp/asr_tiny/extra.pth": b"new"}, "exp/asr_tiny/extra.pth", "has no checksum"),
    ],
    ids=["changed", "removed", "added"],
)
def test_member_changed_after_packing_is_refused(checked_zip: Path, tmp_path: Path, tamper, member, message):
    zip_path = write_members(tmp_path / "tampered.zip", tamper(read_members(checked_zip)))  # old meta.yaml kept
    for check in (lambda: verify_archive(zip_path), lambda: unpack_verified(zip_path, tmp_path / "cache")):
        with pytest.raises(DataError, match=message) as err:
            check()
        assert_one_line(err, zip_path, member)
    assert not (tmp_path / "cache").exists()


def _meta(members: Dict[str, bytes], **changes: Any) -> Dict[str, bytes]:
    meta = yaml.safe_load(members["meta.yaml"])
    meta.update(changes)
    return {**members, "meta.yaml": yaml.safe_dump({k: v for k, v in meta.items() if v is not None}).encode()}


@pytest.mark.parametrize(
    "tamper, names",
    [
        (lambda m: {k: v for k, v in m.items() if k != "meta.yaml"}, ["has no meta.yaml"]),
        (lambda m: {**m, "meta.yaml": b"- a list\n- not a mapping\n"}, ["not a mapping"]),
        (lambda m: {**m, "meta.yaml": b"files: [\n"}, ["not valid YAML"]),
        (lambda m: _meta(m, files=None), ["no 'files' mapping"]),
        (lambda m: _meta(m, yaml_files=["exp/asr_tiny/config.yaml"]), ["no 'yaml_files' mapping"]),
        (lambda m: _meta(m, files={"asr_model_file": "exp/asr_tiny/gone.pth"}), ["exp/asr_tiny/gone.pth", "lacks"]),
        (lambda m: _meta(m, files={"asr_model_file": "/etc/passwd"}), ["/etc/passwd"]),
        (lambda m: {"exp/meta.yaml": m["meta.yaml"], **m}, ["exp/meta.yaml", "before the top-level"]),
        (lambda m: {**m, "meta.yaml": b"x" * (2 << 20)}, ["meta.yaml", "bytes"]),
    ],
    ids=["no_meta", "list_meta", "bad_yaml", "no_files", "list_yaml_files", "listed_file_absent", "absolute_file",
         "nested_meta_first", "huge_meta"],
)
def test_malformed_meta_is_refused(packed: Path, tmp_path: Path, tamper, names):
    zip_path = write_members(tmp_path / "bad_meta.zip", tamper(read_members(packed)))
    with pytest.raises(DataError) as err:
        verify_archive(zip_path)
    assert_one_line(err, zip_path, *names)


def test_duplicate_member_and_missing_file_are_refused(packed: Path, tmp_path: Path):
    zip_path = write_members(tmp_path / "dup.zip", read_members(packed))
    with warnings.catch_warnings(), zipfile.ZipFile(zip_path, "a") as archive:
        warnings.simplefilter("ignore")  # zipfile's "Duplicate name"
        archive.writestr(MODEL, b"second copy")
    with pytest.raises(DataError, match="twice") as err:
        verify_archive(zip_path)
    assert_one_line(err, zip_path, MODEL)
    with pytest.raises(DataError, match="no such model archive") as err:
        verify_archive(tmp_path / "absent.zip")
    assert_one_line(err, tmp_path / "absent.zip")


# ---------------------------------------------------------------------------- valid archives
def test_checksums_cover_every_member_and_plain_espnet_still_unpacks(plain_zip: Path, tmp_path: Path):
    before = yaml.safe_load(read_members(plain_zip)["meta.yaml"])
    digests = add_checksums(plain_zip)
    members = read_members(plain_zip)
    meta = yaml.safe_load(members["meta.yaml"])
    assert {k: v for k, v in meta.items() if k != "sha256"} == before
    assert meta["sha256"] == digests
    assert digests == {name: hashlib.sha256(data).hexdigest() for name, data in members.items() if name != "meta.yaml"}
    assert set(digests) == {CONFIG, MODEL, BPE, RESULTS}
    assert files_under(plain_zip.parent) == ["model.zip"]  # the temporary zip was renamed into place
    assert verify_archive(plain_zip) == meta
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        unpacked = ModelDownloader(cachedir=tmp_path / "plain").download_and_unpack(str(plain_zip))
    config = yaml.safe_load(Path(unpacked["asr_train_config"]).read_text())
    assert Path(config["bpemodel"]).is_absolute() and Path(config["bpemodel"]).read_bytes() == members[BPE]
    assert Path(unpacked["asr_model_file"]).read_bytes() == members[MODEL]


def test_archive_without_checksums_passes_with_a_warning(plain_zip: Path, caplog: pytest.LogCaptureFixture):
    with caplog.at_level(logging.WARNING):
        meta = verify_archive(plain_zip)
    assert "sha256" not in meta and meta["files"] == {"asr_model_file": MODEL}
    assert f"{plain_zip}: no checksums to verify" in caplog.text


def test_unpack_verified_unpacks_each_content_once(checked_zip: Path, tmp_path: Path, monkeypatch):
    cache = tmp_path / "cache"
    files = unpack_verified(checked_zip, cache)
    key = hashlib.sha256(checked_zip.read_bytes()).hexdigest()[:16]
    assert sorted(p.name for p in cache.iterdir() if p.is_dir()) == [key]
    assert set(files) == {"asr_train_config", "asr_model_file"}
    for path in files.values():
        assert Path(path).is_absolute() and Path(path).is_file() and (cache / key) in Path(path).parents
    config = yaml.safe_load(Path(files["asr_train_config"]).read_text())
    assert (cache / key) in Path(config["bpemodel"]).parents and Path(config["bpemodel"]).is_file()
    network = torch.nn.Linear(3, 2)
    load_weights(network, files["asr_model_file"])
    assert torch.equal(network.weight, tiny_network().weight)

    def no_unpacking(*args, **kwargs):
        raise AssertionError("the second unpack must come from the cache")

    stamp = os.stat(files["asr_model_file"]).st_mtime_ns
    monkeypatch.setattr(ModelDownloader, "download_and_unpack", no_unpacking)
    assert unpack_verified(checked_zip, cache) == files
    assert os.stat(files["asr_model_file"]).st_mtime_ns == stamp
    monkeypatch.undo()

    members = read_members(checked_zip)  # a new model at the same path: unpacked afresh beside the old one
    write_members(checked_zip, {**members, RESULTS: b"# RESULTS of a retrained model\n"})
    add_checksums(checked_zip)
    again = unpack_verified(checked_zip, cache)
    assert again != files and Path(again["asr_model_file"]).is_file() and Path(files["asr_model_file"]).is_file()
    assert len([p for p in cache.iterdir() if p.is_dir()]) == 2


def test_damaged_cache_is_unpacked_afresh(checked_zip: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture):
    files = unpack_verified(checked_zip, tmp_path / "cache")
    model = Path(files["asr_model_file"])
    good = model.read_bytes()
    model.write_bytes(b"garbage")
    with caplog.at_level(logging.WARNING):
        assert unpack_verified(checked_zip, tmp_path / "cache") == files
    assert "unpacking afresh" in caplog.text
    assert model.read_bytes() == good


def test_downloader_errors_become_one_line(checked_zip: Path, tmp_path: Path, monkeypatch):
    def broken(*args, **kwargs):
        raise KeyError("yaml_files")

    monkeypatch.setattr(ModelDownloader, "download_and_unpack", broken)
    with pytest.raises(DataError, match="espnet_model_zoo cannot unpack it") as err:
        unpack_verified(checked_zip, tmp_path / "cache")
    assert_one_line(err, checked_zip, "KeyError")
    assert not [p for p in (tmp_path / "cache").iterdir() if p.is_dir()]  # the partial unpack was removed


# ---------------------------------------------------------------------------- unpacked folders
def _extract(zip_path: Path, folder: Path) -> Path:
    with zipfile.ZipFile(zip_path) as archive:
        archive.extractall(folder)
    return folder


def test_verify_folder_accepts_an_extracted_archive_and_names_a_changed_file(checked_zip: Path, tmp_path: Path):
    folder = _extract(checked_zip, tmp_path / "export")
    assert verify_folder(folder)["sha256"] == yaml.safe_load(read_members(checked_zip)["meta.yaml"])["sha256"]
    (folder / RESULTS).write_text("edited\n")
    with pytest.raises(DataError, match="fails its checksum") as err:
        verify_folder(folder)
    assert_one_line(err, folder / "meta.yaml", RESULTS)
    (folder / RESULTS).unlink()
    with pytest.raises(DataError, match="missing") as err:
        verify_folder(folder)
    assert_one_line(err, RESULTS)


def test_verify_folder_refuses_paths_that_leave_the_folder(checked_zip: Path, tmp_path: Path):
    outside = _extract(checked_zip, tmp_path / "outside")
    folder = tmp_path / "model"
    folder.mkdir()
    shutil.copy(outside / "meta.yaml", folder / "meta.yaml")
    (folder / "exp").symlink_to(outside / "exp", target_is_directory=True)
    with pytest.raises(DataError, match="outside the folder") as err:
        verify_folder(folder)
    assert_one_line(err, folder / "meta.yaml", CONFIG)
    meta = yaml.safe_load((folder / "meta.yaml").read_text())
    meta["files"]["asr_model_file"] = "../outside/" + MODEL
    (folder / "meta.yaml").write_text(yaml.safe_dump(meta))
    with pytest.raises(DataError) as err:
        verify_folder(folder)
    assert_one_line(err, "../outside/" + MODEL)


def test_verify_folder_of_an_espnet_unpack_needs_the_rewritten_configs_flag(checked_zip: Path, tmp_path: Path):
    files = unpack_verified(checked_zip, tmp_path / "cache")
    folder = Path(files["asr_model_file"]).parents[2]  # <cache>/<digest>/<md5>/exp/asr_tiny/model.pth
    assert (folder / "meta.yaml").is_file()
    assert verify_folder(folder, configs_rewritten=True)["files"] == {"asr_model_file": MODEL}
    with pytest.raises(DataError, match="fails its checksum") as err:  # the downloader rewrote bpemodel
        verify_folder(folder)
    assert_one_line(err, CONFIG)


def test_verify_folder_accepts_the_links_of_a_hugging_face_cache_snapshot(checked_zip: Path, tmp_path: Path):
    """huggingface_hub stores each file once in models--o--n/blobs and links snapshots/<commit>/<path> to it."""
    repo = tmp_path / "hub" / "models--owner--tiny"
    snapshot = repo / "snapshots" / "0123abcd"
    for name, data in read_members(checked_zip).items():
        blob = repo / "blobs" / hashlib.sha256(data).hexdigest()
        blob.parent.mkdir(parents=True, exist_ok=True)
        blob.write_bytes(data)
        link = snapshot / name
        link.parent.mkdir(parents=True, exist_ok=True)
        link.symlink_to(os.path.relpath(blob, link.parent))
    assert verify_folder(snapshot)["files"] == {"asr_model_file": MODEL}
    (tmp_path / "secret.txt").write_text("not part of the model\n")  # a link that leaves the repository
    (snapshot / RESULTS).unlink()
    (snapshot / RESULTS).symlink_to(tmp_path / "secret.txt")
    with pytest.raises(DataError, match="outside the folder") as err:
        verify_folder(snapshot)
    assert_one_line(err, RESULTS)
