"""Early warnings of a broken run (train/epoch_samples.py): per-epoch validation samples and trend checks."""

from __future__ import annotations

import logging
from pathlib import Path

import torch
import yaml
from asr_helpers import TOKENS, make_model
from test_bf16_training import _args, stats  # noqa: F401 (the module fixture: stage-7 shapes of asr_exp)

from espnet2_speecht5.bin import asr_train
from espnet2_speecht5.train.epoch_samples import FirstBatchCapture, TrendWatch, describe_samples, tokens_to_text


def _batch(texts):
    ids = [[TOKENS.index(c if c != " " else "<space>") for c in text] for text in texts]
    width = max(map(len, ids))
    text = torch.full((len(ids), width), -1, dtype=torch.long)
    for row, x in enumerate(ids):
        text[row, : len(x)] = torch.tensor(x)
    return {"speech": torch.randn(len(ids), 6400), "speech_lengths": torch.full((len(ids),), 6400),
            "text": text, "text_lengths": torch.tensor([len(x) for x in ids])}


def test_a_decoder_that_says_the_same_for_every_input_is_reported_as_collapsed(monkeypatch) -> None:
    model = make_model().eval()
    batch = _batch(["abc", "de", "cab"])

    def constant(enc, prev, need_weights=False):  # always "a", then <sos/eos>
        logits = torch.full((prev.size(0), prev.size(1), len(TOKENS)), -10.0)
        logits[:, :, TOKENS.index("a") if prev.size(1) == 1 else model.eos] = 10.0
        return logits, None

    monkeypatch.setattr(model, "decoder_logits", constant)
    lines, warnings = describe_samples(model, ["u1", "u2", "u3"], batch)
    assert lines == ["u1: hyp 'a' | ref 'abc'", "u2: hyp 'a' | ref 'de'", "u3: hyp 'a' | ref 'cab'"]
    assert len(warnings) == 1 and warnings[0].startswith("every one of the 3 sample hypotheses is 'a'")
    # the same references (one sentence read three times) are not a collapse
    assert describe_samples(model, ["u1", "u2", "u3"], _batch(["abc"] * 3))[1] == []


def test_the_real_greedy_decoder_gives_one_line_per_utterance() -> None:
    lines, _ = describe_samples(make_model(seed=2).eval(), ["u1", "u2"], _batch(["ab", "e d"]))
    assert len(lines) == 2 and lines[1].endswith("| ref 'e d'")
    assert tokens_to_text(["<sos/eos>", "a", "<space>", "\u2581b", "c"]) == "a bc"


def test_the_capture_keeps_the_first_three_utterances_and_passes_every_batch_on() -> None:
    batches = [(["a", "b", "c", "d"], {"x": torch.arange(4)}), (["e"], {"x": torch.arange(1)})]
    capture = FirstBatchCapture(iter(batches))
    assert [keys for keys, _ in capture] == [["a", "b", "c", "d"], ["e"]]
    assert capture.keys == ["a", "b", "c"] and capture.batch["x"].tolist() == [0, 1, 2]


def test_trend_watch_warns_when_training_loss_falls_and_validation_accuracy_stalls() -> None:
    watch = TrendWatch(patience=3)
    for loss, acc in [(5.0, 0.2), (4.0, 0.5), (3.0, 0.5), (2.0, 0.49), (1.0, 0.5)]:
        watch.add(loss, acc)
    assert "did not improve on 0.5" in watch.check() and "4 -> 1" in watch.check()
    improving = TrendWatch(patience=3)
    for loss, acc in [(5.0, 0.2), (4.0, 0.5), (3.0, 0.5), (2.0, 0.49), (1.0, 0.51)]:
        improving.add(loss, acc)
    assert improving.check() is None and TrendWatch(patience=3).check() is None
    by_loss = TrendWatch(patience=2, higher_is_better=False, metric="loss")
    for loss, valid in [(3.0, 1.0), (2.0, 1.2), (1.0, 1.3)]:
        by_loss.add(loss, valid)
    assert "validation loss did not improve on 1" in by_loss.check()


def test_training_logs_the_samples_and_the_trend_after_each_validation(asr_exp, stats, tmp_path: Path,  # noqa: F811
                                                                       caplog) -> None:
    config = tmp_path / "train.yaml"
    config.write_text(yaml.safe_dump({"net_conf": {"size": "tiny", "d_model": 32, "encoder_layers": 1,
                                                   "encoder_heads": 2, "encoder_ffn_dim": 48, "decoder_layers": 1,
                                                   "decoder_heads": 2, "decoder_ffn_dim": 48,
                                                   "conv_channels": [8, 8, 8], "pos_conv_kernel": 8,
                                                   "pos_conv_groups": 2},
                                      "max_epoch": 2, "num_att_plot": 0, "trend_patience": 1}))
    with caplog.at_level(logging.INFO):
        asr_train.main(_args(asr_exp, tmp_path / "exp", config, stats))
    messages = [r.getMessage() for r in caplog.records]
    for epoch in (1, 2):
        samples = [m for m in messages if m.startswith(f"epoch {epoch} sample ")]
        assert len(samples) == 3 and all("| ref 'abc de'" in m for m in samples), samples
    caplog.clear()
    values = yaml.safe_load(config.read_text())
    config.write_text(yaml.safe_dump({**values, "max_epoch": 1, "epoch_samples": False}))
    with caplog.at_level(logging.INFO):
        asr_train.main(_args(asr_exp, tmp_path / "exp_off", config, stats))
    assert not [r for r in caplog.records if " sample " in r.getMessage()]
