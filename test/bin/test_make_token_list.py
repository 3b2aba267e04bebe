"""Stage 5: ``espnet2_speecht5.bin.make_token_list``, checked against espnet2's tokenizers."""

from __future__ import annotations

from pathlib import Path

import pytest
from bin_helpers import assert_one_line_error, run_cli

SENTENCES = [
    "the cat sat on the mat",
    "a dog ran in the park",
    "hello world this is a test",
    "speech and text share one model",
    "the quick brown fox jumps over the lazy dog",
]


def write_text(path: Path) -> Path:
    path.write_text("".join(f"utt{i:02d} {s}\n" for i, s in enumerate(SENTENCES * 4)) + "utt99\n")
    return path


def test_char_list_order(tmp_path: Path):
    text = write_text(tmp_path / "text")
    proc = run_cli("make_token_list", "--token_type", "char", "--nbpe", "30", "--text_file", str(text),
                   "--outdir", str(tmp_path / "char"))  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    tokens = (tmp_path / "char" / "tokens.txt").read_text().splitlines()
    assert tokens[:3] == ["<blank>", "<unk>", "<space>"]  # space is the most frequent character
    assert tokens[-1] == "<sos/eos>"
    assert sorted(tokens[2:-1]) == sorted(set("".join(SENTENCES).replace(" ", "")) | {"<space>"})
    assert tokens.index("e") < tokens.index("z")


def test_word_list(tmp_path: Path):
    text = write_text(tmp_path / "text")
    proc = run_cli("make_token_list", "--token_type", "word", "--text_file", str(text), "--outdir", str(tmp_path / "w"))
    assert proc.returncode == 0, proc.stderr
    tokens = (tmp_path / "w" / "tokens.txt").read_text().splitlines()
    assert tokens[:3] == ["<blank>", "<unk>", "the"] and tokens[-1] == "<sos/eos>"


@pytest.mark.parametrize("token_type", ["unigram", "bpe"])
def test_sentencepiece_round_trip_with_espnet2(tmp_path: Path, token_type: str):
    from espnet2.text.build_tokenizer import build_tokenizer
    from espnet2.text.token_id_converter import TokenIDConverter

    text = write_text(tmp_path / "text")
    outdir = tmp_path / token_type
    args = ["--token_type", token_type, "--nbpe", "40", "--text_file", str(text), "--outdir", str(outdir)]
    proc = run_cli("make_token_list", *args)
    assert proc.returncode == 0, proc.stderr
    tokens = (outdir / "tokens.txt").read_text().splitlines()
    assert tokens[:2] == ["<blank>", "<unk>"] and tokens[-1] == "<sos/eos>"
    assert len(tokens) == len(set(tokens)) == 40
    assert "<s>" not in tokens and "</s>" not in tokens
    tokenizer = build_tokenizer(token_type="bpe", bpemodel=str(outdir / "bpe.model"))
    converter = TokenIDConverter(token_list=str(outdir / "tokens.txt"))
    sentence = "the dog sat in the park"
    ids = converter.tokens2ids(tokenizer.text2tokens(sentence))
    assert converter.unk_id not in ids
    assert tokenizer.tokens2text(converter.ids2tokens(ids)) == sentence
    # Deterministic: a second run gives the same list.
    assert run_cli("make_token_list", *args[:-1], str(tmp_path / "again")).returncode == 0
    assert (tmp_path / "again" / "tokens.txt").read_text() == (outdir / "tokens.txt").read_text()


def test_char_round_trip_with_espnet2(tmp_path: Path):
    from espnet2.text.build_tokenizer import build_tokenizer
    from espnet2.text.token_id_converter import TokenIDConverter

    text = write_text(tmp_path / "text")
    assert run_cli("make_token_list", "--token_type", "char", "--text_file", str(text),
                   "--outdir", str(tmp_path / "c")).returncode == 0  # fmt: skip
    tokenizer = build_tokenizer(token_type="char")
    converter = TokenIDConverter(token_list=str(tmp_path / "c" / "tokens.txt"))
    ids = converter.tokens2ids(tokenizer.text2tokens("the lazy cat"))
    assert converter.unk_id not in ids
    assert tokenizer.tokens2text(converter.ids2tokens(ids)) == "the lazy cat"


def test_too_large_vocabulary_is_a_clear_error(tmp_path: Path):
    text = write_text(tmp_path / "text")
    proc = run_cli("make_token_list", "--token_type", "unigram", "--nbpe", "5000", "--text_file", str(text),
                   "--outdir", str(tmp_path / "u"))  # fmt: skip
    assert_one_line_error(proc, str(text), "5000", "--nbpe")


def test_speaker_list(tmp_path: Path):
    utt2spk = tmp_path / "utt2spk"
    utt2spk.write_text("spkb_1 spkb\nspka_1 spka\nspkc_2 spkc\nspka_2 spka\n")
    proc = run_cli("make_token_list", "--token_type", "spk", "--utt2spk", str(utt2spk), "--outdir", str(tmp_path / "s"))
    assert proc.returncode == 0, proc.stderr
    # ESPnet's layout, so that its preprocessor maps a speaker (one word) to its id
    assert (tmp_path / "s" / "tokens.txt").read_text() == "<blank>\n<unk>\nspka\nspkb\nspkc\n<sos/eos>\n"


def test_empty_text_file_is_an_error(tmp_path: Path):
    text = tmp_path / "text"
    text.write_text("")
    proc = run_cli("make_token_list", "--token_type", "char", "--text_file", str(text), "--outdir", str(tmp_path / "c"))
    assert_one_line_error(proc, str(text), "empty")
