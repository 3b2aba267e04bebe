"""Fine-tuning to a new token list: a converted transformers checkpoint into an ASR model whose token
list adds accented characters, and a pre-training zip's rows moved by token (checkpoint/token_rows.py)."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest
import sentencepiece as spm
import torch

from espnet2_speecht5.bin.convert_checkpoint import main as convert
from espnet2_speecht5.checkpoint.pretrained_init import extended_char_list
from espnet2_speecht5.checkpoint.token_rows import describe, remap_token_rows
from espnet2_speecht5.models.asr import SpeechT5ASRModel
from espnet2_speecht5.runtime.errors import DataError
from espnet2_speecht5.tasks.common import net_config_from_conf
from espnet2_speecht5.train.checks import load_init_param

LETTERS = "abcdefghijklmnopqrstuvwxyz"
NEW_TOKENS = ["<blank>", "<unk>", "<space>", *LETTERS, "é", "è", "<sos/eos>"]
EMBED = "text_decoder_prenet.embed_tokens.weight"


@pytest.fixture(scope="module")
def converted(tmp_path_factory: pytest.TempPathFactory):
    """A random tiny transformers SpeechT5ForSpeechToText with a sentencepiece character model laid out
    as SpeechT5's (<s> 0, <pad> 1, </s> 2, <unk> 3, then the pieces), converted with hf2ours."""
    pytest.importorskip("transformers")
    from hf_oracle import build_pair, tiny_config

    root = tmp_path_factory.mktemp("hf_asr")
    corpus = root / "text.txt"
    corpus.write_text("\n".join(" ".join(LETTERS[i:] + LETTERS[:i]) for i in range(26)) + "\n")
    spm.SentencePieceTrainer.train(
        input=str(corpus), model_prefix=str(root / "spm_char"), model_type="char", vocab_size=31,
        bos_id=0, pad_id=1, eos_id=2, unk_id=3, character_coverage=1.0,
    )  # fmt: skip
    processor = spm.SentencePieceProcessor(model_file=str(root / "spm_char.model"))
    pieces = [processor.IdToPiece(i) for i in range(processor.GetPieceSize())]
    cfg = tiny_config(vocab_size=len(pieces))
    hf, _ = build_pair("s2t", cfg, seed=5)
    folder = root / "hf"
    hf.save_pretrained(folder)
    (folder / "spm_char.model").write_bytes((root / "spm_char.model").read_bytes())
    convert(["hf2ours", "--input", str(folder), "--output", str(root / "asr.pth")])
    rows = hf.speecht5.decoder.prenet.embed_tokens.weight.detach().clone()
    return {"pth": root / "asr.pth", "pieces": pieces, "rows": rows, "cfg": cfg}


def _asr_model(cfg) -> SpeechT5ASRModel:
    torch.manual_seed(0)
    conf = {k: v for k, v in cfg.to_dict().items() if k not in ("vocab_size", "bos_id", "pad_id", "eos_id",
                                                                 "unk_id", "decoder_start_id")}
    return SpeechT5ASRModel(len(NEW_TOKENS), NEW_TOKENS, net_config_from_conf({"size": "tiny", **conf}))


def test_the_sidecar_keeps_the_transformers_token_list(converted) -> None:
    meta = json.loads(converted["pth"].with_suffix(".json").read_text())
    assert meta["token_list"] == converted["pieces"]
    assert converted["pieces"][:5] == ["<s>", "<pad>", "</s>", "<unk>", "\u2581"]


def test_a_converted_checkpoint_fine_tunes_with_accented_characters_added(converted, caplog) -> None:
    model = _asr_model(converted["cfg"])
    with caplog.at_level(logging.INFO):
        load_init_param(f"{converted['pth']}::net", model, ignore_init_mismatch=False)
    rows, pieces = converted["rows"], converted["pieces"]
    embed = model.net.text_decoder_prenet.embed_tokens.weight.detach()
    assert embed.shape == (len(NEW_TOKENS), rows.shape[1])
    # shared tokens keep their rows, under sentencepiece's names for the special ones
    for ours, theirs in [("a", "a"), ("z", "z"), ("<space>", "\u2581"), ("<sos/eos>", "</s>"), ("<blank>", "<pad>"),
                         ("<unk>", "<unk>")]:
        assert torch.equal(embed[NEW_TOKENS.index(ours)], rows[pieces.index(theirs)]), ours
    # new tokens start at the mean row
    for new in ("é", "è"):
        assert torch.allclose(embed[NEW_TOKENS.index(new)], rows.mean(dim=0))
    line = next(r.getMessage() for r in caplog.records if "token list:" in r.getMessage())
    assert "30 tokens keep their rows, added 2 (é è)" in line and "dropped 1 (<s>)" in line
    # and the model trains on text with the new characters
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    text = torch.tensor([[NEW_TOKENS.index(c) for c in "café"], [NEW_TOKENS.index(c) for c in "mère"]])
    loss, _, _ = model(torch.randn(2, 8000), torch.tensor([8000, 7000]), text, torch.tensor([4, 4]))
    loss.backward()
    grad = model.net.text_decoder_prenet.embed_tokens.weight.grad
    assert torch.isfinite(loss) and grad[NEW_TOKENS.index("é")].abs().sum() > 0
    optimizer.step()


def test_without_a_token_list_in_the_sidecar_the_rows_must_fit(converted, tmp_path: Path) -> None:
    pth = tmp_path / "asr.pth"
    pth.write_bytes(converted["pth"].read_bytes())
    meta = json.loads(converted["pth"].with_suffix(".json").read_text())
    del meta["token_list"]
    pth.with_suffix(".json").write_text(json.dumps(meta))
    expected = f"parameter '{EMBED}' has shape \\(31, 64\\), the model's is \\(32, 64\\): 31 token rows for a"
    with pytest.raises(DataError, match=expected + " token list of 32, and no JSON sidecar"):
        load_init_param(f"{pth}::net", _asr_model(converted["cfg"]), ignore_init_mismatch=False)


def test_remap_rows_and_the_ctc_layer_by_token() -> None:
    source = ["<blank>", "<unk>", "a", "b", "<sos/eos>"]
    state = {"net.x.embed_tokens.weight": torch.arange(10.0).reshape(5, 2), "ctc.ctc_lo.bias": torch.arange(5.0),
             "net.encoder.w": torch.ones(3)}
    out, change = remap_token_rows(state, source, ["<blank>", "<unk>", "b", "c", "<sos/eos>"])
    assert out["net.x.embed_tokens.weight"].tolist() == [[0, 1], [2, 3], [6, 7], [4, 5], [8, 9]]
    assert out["ctc.ctc_lo.bias"].tolist() == [0, 1, 3, 2, 4] and out["net.encoder.w"] is state["net.encoder.w"]
    assert (change.added, change.dropped) == (["c"], ["a"])
    assert describe(change).startswith("token list: 4 tokens keep their rows, added 1 (c)")
    with pytest.raises(ValueError, match="has 4 rows, the checkpoint's token list 5 tokens"):
        remap_token_rows({"ctc.ctc_lo.bias": torch.zeros(4)}, source, source)


def test_stage_5_adds_the_new_characters_of_the_fine_tuning_text(tmp_path: Path) -> None:
    text = tmp_path / "text"
    text.write_text("u1 a café\nu2 une mère\n", encoding="utf-8")
    tokens = extended_char_list(["<blank>", "<unk>", "<space>", "a", "c", "<sos/eos>"], text, "pre.zip")
    assert tokens == ["<blank>", "<unk>", "<space>", "a", "c", "f", "é", "u", "n", "e", "m", "è", "r", "<sos/eos>"]
