"""The TTS text normaliser (text/normalize.py) and its use by Text2Speech: any English text in, no <unk> out."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Dict, List

import pytest
import torch
import yaml

from espnet2_speecht5.bin import tts_train
from espnet2_speecht5.corpus.sentences import generate_sentences
from espnet2_speecht5.inference.text2speech import Text2Speech
from espnet2_speecht5.models.tts import SpeechT5TTSModel
from espnet2_speecht5.runtime.errors import DataError
from espnet2_speecht5.tasks.common import net_config_from_conf
from espnet2_speecht5.text.normalize import EnglishNormalizer, build_text_normalizer

from tts_helpers import NET_CONF

DR_SMITH = "Dr. Smith paid $42.50 on 3 May 2025, the 2nd time."


def mini_token_list() -> List[str]:
    """The character token list of the mini recipes: the letters of the mini corpus's English sentences."""
    chars = sorted({c for s in generate_sentences(3000, seed=0) for c in s.texts()["en"]} - {" "})
    return ["<blank>", "<unk>", "<space>", *chars, "<sos/eos>"]


@pytest.fixture(scope="module")
def mini() -> EnglishNormalizer:
    return EnglishNormalizer(mini_token_list())


def paragraph(min_chars: int = 3000) -> str:
    """Prose of at least ``min_chars`` with numbers, money, dates, ordinals, abbreviations and symbols."""
    sentences = [s.texts()["en"] for s in generate_sentences(200, seed=1)]
    parts, i = [], 0
    while len(" ".join(parts)) < min_chars:
        parts.append(f"Dr. Smith paid ${40 + i}.{10 + i % 80} on {1 + i % 28} May {1990 + i}, the {i + 1}th time.")
        parts.append(sentences[i % len(sentences)].capitalize() + "!")
        parts.append(f"Mr. Brown & {3 + i} others saw {i + 5}% of it at {1 + i % 12}:{15 + i % 40} (really).")
        i += 1
    return " ".join(parts)


def test_the_issue_sentence_in_words(mini: EnglishNormalizer) -> None:
    assert mini(DR_SMITH) == ("doctor smith paid forty two dollars fifty cents on three may twenty twenty five "
                              "the second time")


@pytest.mark.parametrize(
    "text, expected",
    [
        ("3.14 and 1,200", "three point one four and one thousand two hundred"),
        ("the 21st and 103rd", "the twenty first and one hundred and third"),
        ("in 1999, 1905, 2007 and the 1980s", "in nineteen ninety nine nineteen oh five two thousand seven and the "
                                              "nineteen eighties"),
        ("£5 or €7.05 or $1", "five pounds or seven euros five cents or one dollar"),
        ("Mr. Brown vs. Mrs. Green, e.g. No. 4", "mister brown versus missus green for example number four"),
        ("50% & 2+2=4 @ 10:30, #9, 7:00", "fifty percent and two plus two equals four at ten thirty number nine "
                                          "seven oclock"),
        ("CAFÉ “Déjà” — OK?!", "cafe deja ok"),
    ],
)
def test_numbers_money_abbreviations_symbols_case_and_punctuation(text: str, expected: str) -> None:
    # a token list of letters only: case folded, punctuation it lacks removed or turned into spaces
    letters = ["<blank>", "<unk>", "<space>", *"abcdefghijklmnopqrstuvwxyz", "<sos/eos>"]
    normalizer = EnglishNormalizer(letters)
    assert normalizer(text) == expected
    assert normalizer.unsayable(normalizer(text)) == set()


def test_punctuation_and_letters_the_token_list_has_are_kept() -> None:
    tokens = ["<blank>", "<unk>", "<space>", *"ABCDEFGHIJKLMNOPQRSTUVWXYZÉ", ",", ".", "'", "<sos/eos>"]
    normalizer = EnglishNormalizer(tokens)
    # upper case only; '?' and ';' become the '.' and ',' it has; É stays, è (not in it) becomes E
    assert normalizer("Café crème? Yes; it's 2.") == "CAFÉ CREME. YES, IT'S TWO."


def test_sentences_split_long_text_into_pieces_of_at_most_max_chars() -> None:
    normalizer = EnglishNormalizer(mini_token_list(), max_chars=60)
    text = "Dr. Smith left. " + ", ".join(["the red pen"] * 20) + ". Then he came back!"
    pieces = normalizer.sentences(text)
    # normalised pieces; "Dr." does not end a sentence
    assert pieces[0] == "doctor smith left" and pieces[-1] == "then he came back"
    assert all(len(p) <= 60 for p in pieces) and len(pieces) >= 5
    assert " ".join(pieces) == normalizer(text)  # nothing lost
    # max_chars counts the spelled-out text: 50 raw characters become two pieces of at most 60
    spelled = normalizer.sentences("Dr. Smith paid $42.50 on 3 May 2025, the 2nd time.")
    assert len(spelled) == 2 and " ".join(spelled) == normalizer("Dr. Smith paid $42.50 on 3 May 2025, the 2nd time.")
    with pytest.raises(ValueError, match="max_chars"):
        EnglishNormalizer(mini_token_list(), max_chars=5)
    assert build_text_normalizer("none", mini_token_list()) is None
    with pytest.raises(ValueError, match="unknown text_normalizer 'french'"):
        build_text_normalizer("french", mini_token_list())


# ---------------------------------------------------------------- Text2Speech with the mini token list
@pytest.fixture(scope="module")
def mini_tts(tmp_path_factory: pytest.TempPathFactory) -> Dict[str, Path]:
    """A random tiny TTS model on the mini recipes' token list, without speaker input."""
    root = tmp_path_factory.mktemp("mini_tts")
    tokens = mini_token_list()
    torch.manual_seed(3)
    model = SpeechT5TTSModel(len(tokens), tokens, net_config_from_conf(NET_CONF), use_speaker_embedding=False)
    torch.save(model.state_dict(), root / "model.pth")
    config = dict(token_list=tokens, token_type="char", bpemodel=None, use_preprocessor=True,
                  non_linguistic_symbols=None, cleaner=None, g2p=None, net_conf=dict(NET_CONF),
                  model_conf={"use_speaker_embedding": False}, init=None, text_normalizer="english",
                  text_normalizer_conf={"max_chars": 120})
    (root / "config.yaml").write_text(yaml.safe_dump(config), encoding="utf-8")
    return {"config": root / "config.yaml", "model": root / "model.pth"}


def _tts(files: Dict[str, Path], **kwargs) -> Text2Speech:
    # fixed length: 2 frames per input token (a random model never asks to stop), so lengths are predictable
    return Text2Speech(files["config"], files["model"], minlenratio=2.0, maxlenratio=2.0, **kwargs)


def _spy_on_token_ids(tts: Text2Speech) -> List[List[List[int]]]:
    """Record the token ids of every batch that reaches the network."""
    calls: List[List[List[int]]] = []
    original = tts.model.synthesize

    def synthesize(text, lengths, *args, **kwargs):
        calls.append([row[: int(n)].tolist() for row, n in zip(text, lengths)])
        return original(text, lengths, *args, **kwargs)

    tts.model.synthesize = synthesize
    return calls


def test_the_issue_sentence_and_a_3000_character_paragraph_reach_the_network_without_unk(
    mini_tts: Dict[str, Path], caplog: pytest.LogCaptureFixture
) -> None:
    tts = _tts(mini_tts)
    calls = _spy_on_token_ids(tts)
    unk = tts.token_list.index("<unk>")
    text = paragraph()
    assert len(text) >= 3000
    with caplog.at_level(logging.WARNING):
        short = tts.synthesize(DR_SMITH)
        long = tts.synthesize(text)
    assert not [r for r in caplog.records if "outside the token list" in r.getMessage()]
    assert len(calls) > 1 and all(unk not in ids for call in calls for ids in call)
    pieces = tts.normalizer.sentences(text)
    assert len(pieces) >= 3 * 20 and max(len(p) for p in pieces) <= 120
    # the pieces were synthesised 8 at a time and joined with 0.3 s pauses. Each row of a batch runs
    # 2 frames (of 256 samples) per token of the batch's longest row (min = max length ratio 2)
    assert [len(call) for call in calls[1:]] == [min(8, len(pieces) - i) for i in range(0, len(pieces), 8)]
    samples = sum(len(call) * max(map(len, call)) * 2 * 256 for call in calls[1:])
    assert len(long) == samples + (len(pieces) - 1) * int(0.3 * 16000)
    assert len(short) == len(calls[0][0]) * 2 * 256 and len(calls[0]) == 1


def test_an_unsayable_character_is_named_in_one_warning_not_dropped(mini_tts, caplog) -> None:
    tts = _tts(mini_tts)
    calls = _spy_on_token_ids(tts)
    with caplog.at_level(logging.WARNING):
        tts.synthesize("the quiz")  # the mini corpus has no q and no z
    warnings = [r.getMessage() for r in caplog.records if "outside the token list" in r.getMessage()]
    assert len(warnings) == 1 and "'q'" in warnings[0] and "'z'" in warnings[0]
    assert calls[0][0].count(tts.token_list.index("<unk>")) == 2


def test_the_normaliser_comes_from_the_model_config_and_can_be_turned_off(mini_tts, tmp_path: Path) -> None:
    assert _tts(mini_tts).normalizer.max_chars == 120  # text_normalizer_conf of config.yaml
    plain = _tts(mini_tts, text_normalizer="none")
    assert plain.normalizer is None and plain.normalize("Dr. 2") == "Dr. 2"
    with pytest.raises(DataError, match="text_normalizer english: .*unexpected keyword"):
        _tts(mini_tts, text_normalizer_conf={"max_char": 50})
    # an older config without the key reads text with the english normaliser
    config = yaml.safe_load(mini_tts["config"].read_text())
    del config["text_normalizer"], config["text_normalizer_conf"]
    (tmp_path / "old.yaml").write_text(yaml.safe_dump(config))
    old = Text2Speech(tmp_path / "old.yaml", mini_tts["model"])
    assert old.normalize("2 pens") == "two pens"


def test_training_configs_carry_the_normaliser(capsys: pytest.CaptureFixture) -> None:
    tts_train.main(["--print_config"])
    config = yaml.safe_load(capsys.readouterr().out)
    assert config["text_normalizer"] == "english" and config["text_normalizer_conf"] == {}
