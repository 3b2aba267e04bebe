"""SpeechT5PretrainModel end to end on a tiny config: every reported term recomputed from the model's
own intermediate tensors, the weighted total, seeding, gradients, label alignment and key names."""

from __future__ import annotations

import math
from typing import Dict, List

import numpy as np
import pytest
import torch

from espnet2_speecht5.features.log_mel import build_log_mel, log_mel
from espnet2_speecht5.models.asr import SpeechT5ASRModel
from espnet2_speecht5.models.tts import SpeechT5TTSModel
from espnet2_speecht5.nets.config import SpeechT5Config
from espnet2_speecht5.nets.span_masking import speech_span_mask, text_infilling

SOS = 9  # <sos/eos> in the fixture's token list
MASK = 8
PERM = [1, 0] + list(range(2, 10))  # ESPnet id <-> network id (0 and 1 swap)


def conv_frames(samples: int) -> int:
    """Frames of the tiny conv stack (kernels 10/8/8, strides 5/8/8), written out independently."""
    for kernel, stride in ((10, 5), (8, 8), (8, 8)):
        samples = (samples - kernel) // stride + 1
    return samples


def capture(module: torch.nn.Module, store: Dict[str, object], name: str) -> None:
    module.register_forward_hook(lambda _m, _i, out: store.__setitem__(name, out))


def cross_entropy_by_hand(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """Mean of logsumexp(row) - row[target] over rows, with plain ops."""
    picked = logits.gather(1, targets[:, None])[:, 0]
    return (torch.log(torch.exp(logits).sum(dim=1)) - picked).mean()


# ---------------------------------------------------------------------------- speech terms


def test_speech_terms_match_hand_computation(make_model, speech_batch):
    model = make_model().eval()
    model.generator = torch.Generator().manual_seed(7)
    seen: Dict[str, object] = {}
    capture(model.net.speech_prenet.feature_extractor, seen, "features")
    capture(model.net.encoder, seen, "hidden")
    capture(model.prediction_head, seen, "proj")
    capture(model.net.speech_decoder_postnet, seen, "decoded")
    with torch.no_grad():
        loss, stats, weight = model(**speech_batch)
    assert int(weight) == 2

    # label alignment: row 1 has 18 frames but 17 labels -> cut to 17 frames; its audio to the longest
    # length that still gives 17 frames
    assert conv_frames(8000) == 24 and conv_frames(6000) == 18
    cut = max(n for n in range(6001) if conv_frames(n) <= 17)
    assert conv_frames(cut) == 17 and conv_frames(cut + 1) == 18
    frames = torch.tensor([24, 17])
    valid = torch.arange(24)[None, :] < frames[:, None]

    # feature penalty over the real frames
    features = seen["features"]
    assert features.shape[:2] == (2, 24)
    expected_pen = (features.pow(2).sum(dim=2) * valid).sum() / (valid.sum() * features.size(2))
    assert float(stats["loss_feature_pen"]) == pytest.approx(float(expected_pen), rel=1e-5)

    # masked prediction on the frames of the seeded span mask
    mask = speech_span_mask(frames, 24, 0.8, 10, 2, torch.Generator().manual_seed(7))
    labels = speech_batch["label"]
    chosen = mask & valid & (labels >= 0)
    proj = seen["proj"][chosen]
    emb = model.prediction_head.label_embs.detach()
    cosines = (proj @ emb.t()) / (proj.norm(dim=1, keepdim=True) * emb.norm(dim=1)[None, :])
    logits = cosines / 0.1
    expected_mlm = cross_entropy_by_hand(logits, labels[chosen])
    assert float(stats["loss_mlm"]) == pytest.approx(float(expected_mlm), rel=1e-4)
    accuracy = (logits.argmax(dim=1) == labels[chosen]).float().mean()
    assert float(stats["acc_mlm"]) == pytest.approx(float(accuracy))
    assert float(stats["mask_ratio"]) == pytest.approx(float(chosen.sum()) / 41)

    # reconstruction of the log-mel of the (cut) input
    speech = speech_batch["speech"].clone()
    speech[1, cut:] = 0.0
    mel, mel_lengths = build_log_mel()(speech, torch.tensor([8000, cut]))
    torch.testing.assert_close(mel[0], log_mel(speech_batch["speech"][0]))
    kept = mel_lengths - mel_lengths % 2  # reduction factor 2
    assert kept.tolist() == [32, 22]
    before, after, stop = seen["decoded"]
    assert before.shape == (2, 32, 80) and stop.shape == (2, 32)
    real = torch.arange(32)[None, :] < kept[:, None]
    count = real.sum() * 80
    target = mel[:, :32]
    expected_l1 = ((before - target).abs().sum(dim=2) * real).sum() / count
    expected_l1 = expected_l1 + ((after - target).abs().sum(dim=2) * real).sum() / count
    assert float(stats["loss_mel_l1"]) == pytest.approx(float(expected_l1), rel=1e-5)
    stop_labels = torch.zeros(2, 32)
    stop_labels[0, 31] = stop_labels[1, 21] = 1.0
    probs = torch.sigmoid(stop[real])
    ones = stop_labels[real]
    bce = -(5.0 * ones * torch.log(probs) + (1 - ones) * torch.log(1 - probs)).mean()
    assert float(stats["loss_stop_bce"]) == pytest.approx(float(bce), rel=1e-4)

    # diversity from the encoder output's code probabilities on the real frames
    q = model.quantizer
    code_logits = seen["hidden"] @ q.weight_proj.weight.detach().t() + q.weight_proj.bias.detach()  # (2, 24, 16)
    ppl = 0.0
    for g in range(2):
        probs = torch.softmax(code_logits[..., g * 8 : (g + 1) * 8], dim=-1)[valid].mean(dim=0)
        ppl = ppl + torch.exp(-(probs * torch.log(probs + 1e-7)).sum())
    assert float(stats["loss_diversity"]) == pytest.approx(float((16 - ppl) / 16), rel=1e-4, abs=1e-7)

    expected_total = (
        stats["loss_mlm"]
        + stats["loss_mel_l1"]
        + stats["loss_stop_bce"]
        + 0.1 * stats["loss_diversity"]
        + 10.0 * stats["loss_feature_pen"]
    )
    assert float(loss) == pytest.approx(float(expected_total), rel=1e-6)


# ---------------------------------------------------------------------------- text term


def test_text_term_matches_hand_computation(make_model, text_batch):
    model = make_model().eval()
    model.generator = torch.Generator().manual_seed(3)
    seen: Dict[str, object] = {}
    model.net.text_prenet.register_forward_pre_hook(lambda _m, args: seen.__setitem__("source", args[0]))
    capture(model.net.text_decoder_postnet, seen, "logits")
    with torch.no_grad():
        loss, stats, weight = model(**text_batch)
    assert int(weight) == 2

    # the encoder input is BART noise of <sos/eos> text <sos/eos>, seeded by the model's generator
    seed = int(torch.randint(0, 2**62, (1,), generator=torch.Generator().manual_seed(3)))
    rng = np.random.default_rng(seed)
    rows: List[np.ndarray] = []
    for tokens, length in zip(text_batch["text"].numpy(), text_batch["text_lengths"].tolist()):
        clean = np.concatenate([[SOS], tokens[:length], [SOS]])
        rows.append(text_infilling(clean, MASK, rng, 0.3, 3.5, 0.1, [2, 3, 4, 5, 6, 7]))
    source = seen["source"]
    for index, row in enumerate(rows):
        net_ids = [PERM[int(t)] for t in row]
        assert source[index, : len(row)].tolist() == net_ids
        assert bool((source[index, len(row) :] == 1).all())  # network padding id
    assert any(MASK in row for row in rows)

    # decoder target: text then <sos/eos>; logits come back in network order
    targets = torch.tensor([[2, 3, 4, 7, 5, 6, 2, 3, 4, 5, 6, 7, 2, 3, SOS], [4, 5, 6, SOS] + [-1] * 11])
    logits = seen["logits"][..., PERM]
    assert logits.shape == (2, 15, 10)
    keep = targets >= 0
    expected = cross_entropy_by_hand(logits[keep], targets[keep])
    assert float(stats["loss_text_ce"]) == pytest.approx(float(expected), rel=1e-5)
    accuracy = (logits[keep].argmax(dim=1) == targets[keep]).float().mean()
    assert float(stats["acc_text"]) == pytest.approx(float(accuracy))
    assert float(loss) == pytest.approx(float(stats["loss_text_ce"] + 0.1 * stats["loss_diversity"]), rel=1e-6)
    assert not {"loss_mlm", "loss_mel_l1", "loss_feature_pen"} & set(stats)


# ---------------------------------------------------------------------------- total, seeds, gradients


def test_total_is_the_weighted_sum_of_the_reported_terms(make_model, speech_batch, text_batch):
    weights = dict(
        mlm_weight=0.7,
        unmasked_weight=0.3,
        l1_weight=1.3,
        bce_weight=0.9,
        text_weight=1.1,
        diversity_weight=0.2,
        feature_pen_weight=5.0,
    )
    model = make_model(**weights).train()
    model.generator = torch.Generator().manual_seed(0)
    loss, stats, weight = model(**speech_batch, **text_batch)
    assert int(weight) == 4
    names = {
        "loss_mlm": "mlm_weight",
        "loss_mlm_unmasked": "unmasked_weight",
        "loss_mel_l1": "l1_weight",
        "loss_stop_bce": "bce_weight",
        "loss_text_ce": "text_weight",
        "loss_diversity": "diversity_weight",
        "loss_feature_pen": "feature_pen_weight",
    }
    assert set(names) <= set(stats)
    assert {"acc_mlm", "acc_mlm_unmasked", "acc_text", "code_perplexity", "codebook_temp", "loss"} <= set(stats)
    total = sum(weights[w] * float(stats[term]) for term, w in names.items())
    assert float(loss.detach()) == pytest.approx(total, rel=1e-5)
    assert float(stats["loss"]) == pytest.approx(float(loss.detach()))
    assert all(float(stats[term]) > 0 for term in names)
    assert 1.0 <= float(stats["code_perplexity"]) <= 16.0


def test_same_seed_same_noise_other_seed_other_noise(make_model, speech_batch, text_batch):
    model = make_model().eval()

    def run(seed: int) -> Dict[str, float]:
        model.generator = torch.Generator().manual_seed(seed)
        torch.manual_seed(0)  # the speech-decoder pre-net dropout stays on in eval
        with torch.no_grad():
            _, stats, _ = model(**speech_batch, **text_batch)
        return {key: float(value) for key, value in stats.items()}

    first, again, other = run(1), run(1), run(2)
    assert first == again
    assert first["loss_mlm"] != other["loss_mlm"] and first["loss_text_ce"] != other["loss_text_ce"]
    noise = {}
    for seed in (1, 1, 2):
        model.generator = torch.Generator().manual_seed(seed)
        noise.setdefault(seed, []).append(model.noise_text(text_batch["text"], text_batch["text_lengths"])[0])
    assert torch.equal(noise[1][0], noise[1][1])
    assert noise[1][0].shape != noise[2][0].shape or not torch.equal(noise[1][0], noise[2][0])


def test_gradients_reach_quantiser_label_embeddings_and_nets(make_model, speech_batch, text_batch):
    model = make_model(codebook_prob=1.0).train()
    model.generator = torch.Generator().manual_seed(0)
    loss, _, _ = model(**speech_batch)
    loss.backward()
    speech_side = {
        "quantizer.weight_proj.weight": model.quantizer.weight_proj.weight,
        "quantizer.codebook": model.quantizer.codebook,
        "prediction_head.label_embs": model.prediction_head.label_embs,
        "prediction_head.final_proj.weight": model.prediction_head.final_proj.weight,
        "mask_emb": model.net.speech_prenet.mask_emb,
        "first conv": model.net.speech_prenet.feature_extractor.layers[0].conv.weight,
        "feat_out": model.net.speech_decoder_postnet.feat_out.weight,
    }
    for name, param in speech_side.items():
        assert param.grad is not None and float(param.grad.abs().sum()) > 0, name
    model.zero_grad()
    loss, _, _ = model(**text_batch)
    loss.backward()
    embedding = model.net.text_decoder_prenet.embed_tokens
    assert model.net.text_prenet.embed_tokens is embedding  # one shared text embedding
    assert float(embedding.weight.grad.abs().sum()) > 0
    assert float(model.quantizer.codebook.grad.abs().sum()) > 0


def test_temperature_steps_once_per_optimizer_update(make_model, text_batch):
    import argparse

    from espnet2_speecht5.tasks.pretrain import PretrainTask

    model = make_model(latent_temp=(2.0, 0.5, 0.5))
    args = argparse.Namespace(optim="sgd", optim_conf={"lr": 0.0}, sharded_ddp=False, exclude_weight_decay=False,
                              exclude_weight_decay_conf={})
    (optimizer,) = PretrainTask.build_optimizers(args, model)
    model.train()
    for _ in range(2):  # two accumulated batches, then one update
        loss, stats, _ = model(**text_batch)
        loss.backward()
    assert int(model.quantizer.num_updates) == 0 and float(stats["codebook_temp"]) == 2.0
    optimizer.step()
    assert int(model.quantizer.num_updates) == 1
    _, stats, _ = model(**text_batch)
    assert float(stats["codebook_temp"]) == pytest.approx(1.0)  # 2 * 0.5 ** 1
    optimizer.step()
    model.eval()
    with torch.no_grad():
        model(**text_batch)
    assert int(model.quantizer.num_updates) == 2
    model.set_num_updates(10)
    assert model.quantizer.temperature == 0.5


# ---------------------------------------------------------------------------- labels and configuration


def test_labels_longer_than_frames_are_cut_and_far_off_labels_refused(make_model, speech_batch):
    model = make_model().eval()
    lengths, frames = model.align_to_labels(torch.tensor([8000, 6000, 6000]), torch.tensor([25, 17, 18]))
    assert frames.tolist() == [24, 17, 18]
    assert lengths[0] == 8000 and lengths[2] == 6000
    assert conv_frames(int(lengths[1])) == 17 and conv_frames(int(lengths[1]) + 1) == 18
    batch = dict(speech_batch)
    batch["label_lengths"] = torch.tensor([24, 22])
    with pytest.raises(ValueError, match="batch row 1: 18 encoder frames but 22 labels"):
        model(**batch)
    with pytest.raises(ValueError, match="speech_lengths, label and label_lengths"):
        model(speech=speech_batch["speech"], speech_lengths=speech_batch["speech_lengths"])
    with pytest.raises(ValueError, match="speech .* or text"):
        model()


def test_labels_at_100_hz_train_frame_t_on_label_2t(make_model, speech_batch):
    """100 Hz labels whose even entries are the 50 Hz labels give the 50 Hz model's losses exactly,
    whatever the odd entries hold; changing an even entry changes the loss."""
    model50, model100 = make_model().eval(), make_model(label_rate=100.0).eval()
    assert model100.labels_per_frame == 2 and model50.labels_per_frame == 1
    label50, lengths50 = speech_batch["label"], speech_batch["label_lengths"]  # (2, 24), [24, 17]
    gen = torch.Generator().manual_seed(5)
    label100 = torch.randint(0, 12, (2, 48), generator=gen)
    label100[:, 0::2] = label50
    lengths100 = torch.tensor([48, 33])  # row 1: 33 labels, ceil(33 / 2) = 17 of them on encoder frames
    label100[1, 33:] = -1
    assert bool((label100[:, 1::2] != label50).any())  # the odd entries are not the 50 Hz labels

    def run(model, label, lengths) -> Dict[str, float]:
        model.generator = torch.Generator().manual_seed(7)
        torch.manual_seed(0)  # the speech-decoder pre-net dropout stays on in eval
        batch = dict(speech_batch, label=label, label_lengths=lengths)
        with torch.no_grad():
            _, stats, _ = model(**batch)
        return {key: float(value) for key, value in stats.items()}

    at50 = run(model50, label50, lengths50)
    at100 = run(model100, label100, lengths100)
    assert at100 == at50
    changed = label100.clone()
    changed[0, 0::2] = (changed[0, 0::2] + 1) % 12
    assert run(model100, changed, lengths100)["loss_mlm"] != at50["loss_mlm"]

    # alignment compares the labels on encoder frames (ceil(N / 2)) with the frames
    lengths, frames = model100.align_to_labels(torch.tensor([8000, 6000, 6000]), torch.tensor([47, 36, 33]))
    assert frames.tolist() == [24, 18, 17] and lengths[:2].tolist() == [8000, 6000]
    assert conv_frames(int(lengths[2])) == 17 and conv_frames(int(lengths[2]) + 1) == 18
    with pytest.raises(ValueError, match=r"batch row 1: 18 encoder frames but 44 labels \(22 on encoder frames\) "
                                         r"\(more than 2 apart; are the labels at 100 Hz\?\)"):
        model100(**dict(speech_batch, label=label100, label_lengths=torch.tensor([48, 44])))
    with pytest.raises(ValueError, match=r"batch row 0: 24 encoder frames but 48 labels \(more than 2 apart; "
                                         r"are the labels at 50 Hz\?\)"):
        model50(**dict(speech_batch, label=label100, label_lengths=lengths100))


def test_label_rate_must_be_a_whole_multiple_of_the_frame_rate(make_model):
    assert make_model(label_rate=150).labels_per_frame == 3
    for rate in (75, 25.0, 120, 0, -50):
        with pytest.raises(ValueError, match=rf"labels at {rate} Hz do not match the encoder frame rate "
                                             r"\(16000 / 320 = 50.0 Hz\): label_rate must be a whole multiple"):
            make_model(label_rate=rate)


def test_configuration_errors(make_model, tokens):
    from espnet2_speecht5.models.pretrain import SpeechT5PretrainModel

    no_mask = [t for t in tokens if t != "<mask>"]
    with pytest.raises(ValueError, match="<mask>"):
        SpeechT5PretrainModel(len(no_mask), no_mask, SpeechT5Config.tiny())
    with pytest.raises(ValueError, match="25.0 Hz do not match"):
        make_model(label_rate=25.0)
    with pytest.raises(ValueError, match="diversity_weight"):
        make_model(diversity_weight=-1.0)
    assert "codebook_prob" in SpeechT5PretrainModel.conf_keys()


def test_pretrained_keys_initialise_asr_and_tts_networks(make_model, tokens):
    pretrained = {k: v.shape for k, v in make_model().net.state_dict().items()}
    cfg = SpeechT5Config.tiny()
    asr = SpeechT5ASRModel(len(tokens), tokens, cfg).net.state_dict()
    tts = SpeechT5TTSModel(len(tokens), tokens, cfg).net.state_dict()
    for name, state in (("asr", asr), ("tts", tts)):
        missing = sorted(k for k in state if k not in pretrained)
        assert not missing, f"{name}: {missing[:5]}"
        mismatched = [k for k, v in state.items() if v.shape != pretrained[k]]
        assert not mismatched, f"{name}: {mismatched[:5]}"


def test_collect_feats_and_no_codebook(make_model, speech_batch, text_batch):
    model = make_model(use_codebook=False)
    feats = model.collect_feats(**speech_batch)
    assert torch.equal(feats["feats"], speech_batch["speech"])
    assert model.collect_feats(**text_batch) == {}
    _, stats, _ = model(**text_batch)
    assert "loss_diversity" not in stats and "code_perplexity" not in stats
    assert math.isfinite(float(stats["loss"]))
