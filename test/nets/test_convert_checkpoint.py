"""The checkpoint converter: transformers and fairseq import, transformers export, all checked for parity."""

from __future__ import annotations

import json

import pytest
import torch
from hf_oracle import HF_CLASSES, build_pair, max_diff, no_hf_prenet_dropout, report, tiny_config, waveform_batch  # noqa: F401

from espnet2_speecht5.bin.convert_checkpoint import main
from espnet2_speecht5.checkpoint.convert import read_ours
from espnet2_speecht5.checkpoint.fairseq_mapping import ours_to_fairseq
from espnet2_speecht5.checkpoint.io import CheckpointError, load_checkpoint
from espnet2_speecht5.nets.compositions import build_network, shift_mel_right

GEN = torch.Generator().manual_seed(11)
TOKENS = torch.randint(4, 81, (2, 8), generator=GEN)
PREV_TOKENS = torch.cat([torch.full((2, 1), 2), TOKENS[:, :5]], dim=1)
PREV_MEL = shift_mel_right(torch.randn(2, 10, 80, generator=GEN), 2)
SPEAKER = torch.randn(2, 512, generator=GEN)


def run_hf(kind: str, hf) -> dict:
    """Outputs of a transformers model on fixed inputs: encoder output and the head's outputs."""
    with torch.no_grad():
        if kind == "s2t":
            wav, _, mask = waveform_batch()
            ref = hf(input_values=wav, attention_mask=mask, decoder_input_ids=PREV_TOKENS)
            return {"encoder": ref.encoder_last_hidden_state, "logits": ref.logits}
        if kind == "t2s":
            ref = hf.speecht5(input_values=TOKENS, decoder_input_values=PREV_MEL, speaker_embeddings=SPEAKER)
        else:
            wav, _, mask = waveform_batch()
            ref = hf.speecht5(
                input_values=wav, attention_mask=mask, decoder_input_values=PREV_MEL, speaker_embeddings=SPEAKER
            )
        before, after, stop = hf.speech_decoder_postnet(ref.last_hidden_state)
        return {"encoder": ref.encoder_last_hidden_state, "mel_before": before, "mel_after": after, "stop": stop}


def run_ours(kind: str, net) -> dict:
    with torch.no_grad():
        if kind == "s2t":
            wav, lens, _ = waveform_batch()
            out = net(wav, lens, PREV_TOKENS)
            return {"encoder": out.encoder.hidden, "logits": out.logits}
        if kind == "t2s":
            out = net(TOKENS, None, PREV_MEL, None, SPEAKER)
        else:
            wav, lens, _ = waveform_batch()
            out = net(wav, lens, PREV_MEL, None, SPEAKER)
        return {
            "encoder": out.encoder.hidden,
            "mel_before": out.mel_before,
            "mel_after": out.mel_after,
            "stop": out.stop_logits,
        }


def compare(name: str, kind: str, ref: dict, ours: dict) -> None:
    report(name, {key: max_diff(value, ours[key]) for key, value in ref.items()})


def load_ours_net(path):
    conv, unknown = read_ours(path)
    assert not unknown
    net = build_network(conv.kind, conv.cfg).eval()
    net.load_state_dict(conv.state, strict=True)
    return net


@pytest.mark.parametrize("kind", ["s2t", "t2s", "s2s"])
def test_hf_import_and_export_round_trip(kind, tmp_path, no_hf_prenet_dropout):  # noqa: F811
    cfg = tiny_config()
    hf, _ = build_pair(kind, cfg, seed=21)
    hf.save_pretrained(tmp_path / "hf_in")
    main(["hf2ours", "--input", str(tmp_path / "hf_in"), "--output", str(tmp_path / "ours.pth")])
    assert json.loads((tmp_path / "ours.json").read_text())["network"] == kind
    assert all(isinstance(v, torch.Tensor) for v in torch.load(tmp_path / "ours.pth", weights_only=True).values())
    net = load_ours_net(tmp_path / "ours.pth")
    compare(f"hf2ours {kind}", kind, run_hf(kind, hf), run_ours(kind, net))

    main(["ours2hf", "--input", str(tmp_path / "ours.pth"), "--output", str(tmp_path / "hf_out")])
    reloaded = HF_CLASSES[kind].from_pretrained(tmp_path / "hf_out").eval()
    for mod in reloaded.modules():  # parity: same dropout settings as our network (all off)
        if isinstance(mod, torch.nn.Dropout):
            mod.p = 0.0
    compare(f"ours2hf {kind} (from_pretrained)", kind, run_hf(kind, reloaded), run_ours(kind, net))


def _fairseq_checkpoint(path, kind: str, net, other) -> None:
    """An official-style checkpoint: every net, bookkeeping entries, and a pickled config."""
    state = ours_to_fairseq(net.state_dict())
    for key, value in ours_to_fairseq(other.state_dict()).items():
        state.setdefault(key, value)  # the other modality's nets
    d_model = net.cfg.d_model
    state["encoder.version"] = torch.tensor([3.0])
    state["decoder.version"] = torch.tensor([3.0])
    state["decoder.pos_emb.pe_k.weight"] = torch.zeros(320, d_model // net.cfg.encoder_heads)
    state["speech_encoder_prenet.embed_positions._float_tensor"] = torch.zeros(1)
    state["encoder.proj.weight"] = torch.zeros(net.cfg.vocab_size + 1, d_model)
    state["text_decoder_postnet.output_projection.weight"] = state.get(
        "text_decoder_prenet.embed_tokens.weight", torch.zeros(81, d_model)
    )
    cfg = {"model": {"encoder_attention_heads": net.cfg.encoder_heads}, "task": {"_name": "speecht5"}}
    torch.save({"model": state, "cfg": cfg, "args": None, "optimizer_history": []}, path)


@pytest.mark.parametrize("kind,flavour", [("s2t", "asr"), ("s2t", "st"), ("t2s", "tts"), ("s2s", "vc"), ("s2s", "se")])
def test_fairseq_import_matches_transformers(kind, flavour, tmp_path, no_hf_prenet_dropout):  # noqa: F811
    cfg = tiny_config(conv_strides=(5, 8, 8))
    hf, net = build_pair(kind, cfg, seed=31)
    other = build_network("t2s" if kind != "t2s" else "s2t", cfg)
    _fairseq_checkpoint(tmp_path / "official.pt", kind, net, other)
    main(
        [
            "fairseq2ours",
            "--flavour",
            flavour,
            "--input",
            str(tmp_path / "official.pt"),
            "--output",
            str(tmp_path / "ours.pth"),
            "--set",
            "conv_strides=[5,8,8]",
            "--set",
            "speech_prenet_dropout=0.0",
        ]
    )
    converted = load_ours_net(tmp_path / "ours.pth")
    assert converted.cfg.encoder_heads == cfg.encoder_heads and converted.cfg.d_model == cfg.d_model
    compare(f"fairseq {flavour} -> {kind}", kind, run_hf(kind, hf), run_ours(kind, converted))


def test_prefix_for_init_param(tmp_path):
    hf, _ = build_pair("s2t", tiny_config(), seed=2)
    hf.save_pretrained(tmp_path / "hf")
    main(["hf2ours", "--input", str(tmp_path / "hf"), "--output", str(tmp_path / "o.pth"), "--prefix", "net"])
    keys = list(load_checkpoint(tmp_path / "o.pth"))
    assert keys and all(k.startswith("net.") for k in keys)
    assert "net.encoder.layers.0.ffn.fc1.weight" in keys


def test_fairseq_pretrain_needs_a_net_and_skips_pretraining_heads(tmp_path):
    cfg = tiny_config()
    s2t = build_network("s2t", cfg)
    _fairseq_checkpoint(tmp_path / "base.pt", "s2t", s2t, build_network("t2s", cfg))
    state = torch.load(tmp_path / "base.pt", weights_only=True)
    state["model"]["quantizer.vars"] = torch.zeros(1, 200, 32)
    state["model"]["final_proj.weight"] = torch.zeros(256, cfg.d_model)
    state["model"]["label_embs_concat"] = torch.zeros(504, 256)
    torch.save(state, tmp_path / "base.pt")
    args = ["--input", str(tmp_path / "base.pt"), "--output", str(tmp_path / "o.pth"), "--set", "conv_strides=[5,8,8]"]
    with pytest.raises(CheckpointError, match="choose one with --net"):
        main(["fairseq2ours", "--flavour", "pretrain", *args])
    for kind in ("s2t", "t2s"):
        main(["fairseq2ours", "--flavour", "pretrain", "--net", kind, *args])
        assert load_ours_net(tmp_path / "o.pth").cfg.vocab_size == cfg.vocab_size
    with pytest.raises(CheckpointError, match="unexpected key 'final_proj.weight'"):
        main(["fairseq2ours", "--flavour", "asr", *args])  # a fine-tuned model has no pre-training heads


def test_export_from_an_espnet_style_checkpoint(tmp_path):
    """An ESPnet model checkpoint holds the network under an attribute, beside other modules."""
    hf, net = build_pair("s2t", tiny_config(), seed=3)
    state = {f"net.{k}": v for k, v in net.state_dict().items()}
    state["ctc.ctc_lo.weight"] = torch.zeros(82, 64)
    torch.save(state, tmp_path / "valid.acc.best.pth")
    hf.save_pretrained(tmp_path / "hf")
    main(["hf2ours", "--input", str(tmp_path / "hf"), "--output", str(tmp_path / "asr.pth")])
    args = ["ours2hf", "--input", str(tmp_path / "valid.acc.best.pth"), "--config", str(tmp_path / "asr.json")]
    args += ["--prefix", "net", "--output", str(tmp_path / "out")]
    with pytest.raises(CheckpointError, match="unexpected key 'ctc.ctc_lo.weight'"):
        main(args)
    main(args + ["--allow_unexpected"])
    assert (tmp_path / "out" / "model.safetensors").is_file() and (tmp_path / "out" / "config.json").is_file()


def test_output_loads_with_espnet_init_param(tmp_path):
    """ESPnet's --init_param FILE::ATTR puts our keys under the model attribute holding the network."""
    load_pretrained_model = pytest.importorskip("espnet2.torch_utils.load_pretrained_model").load_pretrained_model
    cfg = tiny_config()
    hf, net = build_pair("s2t", cfg, seed=13)
    hf.save_pretrained(tmp_path / "hf")
    main(["hf2ours", "--input", str(tmp_path / "hf"), "--output", str(tmp_path / "asr.pth")])

    class EspnetLikeModel(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.net = build_network("s2t", cfg)
            self.ctc = torch.nn.Linear(cfg.d_model, cfg.vocab_size + 1)

    model = EspnetLikeModel()
    load_pretrained_model(f"{tmp_path / 'asr.pth'}::net", model, ignore_init_mismatch=False)
    for key, value in net.state_dict().items():
        assert torch.equal(model.net.state_dict()[key], value), key
