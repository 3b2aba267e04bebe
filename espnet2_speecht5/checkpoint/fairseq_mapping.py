"""Key mapping between the official fairseq SpeechT5 release and our networks.

The official checkpoints (pre-trained, ASR, TTS, VC, ST) hold every pre-/post-net. Converting
one to a network keeps the nets that network uses; the others, and the bookkeeping entries
listed in :data:`IGNORED`, are skipped. Sizes are read from tensor shapes
(:func:`config_from_fairseq`), heads from the relative position table.
"""

from __future__ import annotations

import re
from typing import Any, Dict, List, Optional, Tuple

import torch

from espnet2_speecht5.checkpoint.keymap import KeyMap
from espnet2_speecht5.nets.config import SpeechT5Config

SPK = "speech_encoder_prenet"
SDP = "speech_decoder_prenet.decoder_prenet"

RULES = [
    ("speech_prenet.feature_extractor.layers.*.conv", f"{SPK}.feature_extractor.conv_layers.*.0"),
    ("speech_prenet.feature_extractor.layers.0.norm", f"{SPK}.feature_extractor.conv_layers.0.2"),
    ("speech_prenet.feature_norm", f"{SPK}.layer_norm"),
    ("speech_prenet.feature_proj", f"{SPK}.post_extract_proj"),
    ("speech_prenet.mask_emb", f"{SPK}.mask_emb"),
    ("speech_prenet.pos_conv.conv.parametrizations.weight.original0", f"{SPK}.pos_conv.0.weight_g"),
    ("speech_prenet.pos_conv.conv.parametrizations.weight.original1", f"{SPK}.pos_conv.0.weight_v"),
    ("speech_prenet.pos_conv.conv.bias", f"{SPK}.pos_conv.0.bias"),
    ("text_prenet.embed_tokens", "text_encoder_prenet.encoder_prenet.0"),
    ("text_prenet.positions.alpha", "text_encoder_prenet.encoder_prenet.1.alpha"),
    ("encoder.input_norm", "encoder.layer_norm"),
    ("encoder.rel_pos.pe_k", "encoder.pos_emb.pe_k"),
    ("encoder.layers.*.self_attn_norm", "encoder.layers.*.self_attn_layer_norm"),
    ("encoder.layers.*.self_attn", "encoder.layers.*.self_attn"),
    ("encoder.layers.*.ffn.fc1", "encoder.layers.*.fc1"),
    ("encoder.layers.*.ffn.fc2", "encoder.layers.*.fc2"),
    ("encoder.layers.*.ffn_norm", "encoder.layers.*.final_layer_norm"),
    ("decoder.layers.*.self_attn_norm", "decoder.layers.*.self_attn_layer_norm"),
    ("decoder.layers.*.self_attn", "decoder.layers.*.self_attn"),
    ("decoder.layers.*.cross_attn_norm", "decoder.layers.*.encoder_attn_layer_norm"),
    ("decoder.layers.*.cross_attn", "decoder.layers.*.encoder_attn"),
    ("decoder.layers.*.ffn.fc1", "decoder.layers.*.fc1"),
    ("decoder.layers.*.ffn.fc2", "decoder.layers.*.fc2"),
    ("decoder.layers.*.ffn_norm", "decoder.layers.*.final_layer_norm"),
    ("text_decoder_prenet.embed_tokens", "text_decoder_prenet.embed_tokens"),
    ("text_decoder_postnet.lm_head", "text_decoder_postnet.output_projection.weight"),
    ("speech_decoder_prenet.layers.*", f"{SDP}.0.0.prenet.*.0"),
    ("speech_decoder_prenet.final_layer", f"{SDP}.0.1"),
    ("speech_decoder_prenet.positions.alpha", f"{SDP}.1.alpha"),
    ("speech_decoder_prenet.speaker_proj", "speech_decoder_prenet.spkembs_layer.0"),
    ("speech_decoder_postnet.feat_out", "speech_decoder_postnet.feat_out"),
    ("speech_decoder_postnet.prob_out", "speech_decoder_postnet.prob_out"),
    ("speech_decoder_postnet.postnet.*.conv", "speech_decoder_postnet.postnet.postnet.*.0"),
    ("speech_decoder_postnet.postnet.*.norm", "speech_decoder_postnet.postnet.postnet.*.1"),
]

KEYMAP = KeyMap(RULES)

# Entries that carry no weights we use (regexes on the fairseq key).
IGNORED = [
    r"^(encoder|decoder)\.version$",
    r"(^|\.)norm_k\.",
    r"^decoder\.pos_emb\.pe_k",
    r"_float_tensor$",
    r"^encoder\.proj\.",  # CTC head (the task models re-create it)
]
# Pre-training objectives: quantiser, masked-prediction projection, cluster label embeddings.
PRETRAIN_ONLY = [r"^quantizer\.", r"^final_proj\.", r"^label_embs_concat", r"^project_q\.", r"^encoder\.final_proj"]

NET_PREFIXES = {
    "speech_encoder_prenet": {"s2t", "s2s"},
    "text_encoder_prenet": {"t2s"},
    "text_decoder_prenet": {"s2t"},
    "text_decoder_postnet": {"s2t"},
    "speech_decoder_prenet": {"t2s", "s2s"},
    "speech_decoder_postnet": {"t2s", "s2s"},
}

def skipped(key: str, kind: str, include_pretrain: bool = True) -> bool:
    """True if the fairseq ``key`` carries nothing for network ``kind`` (s2t, t2s, s2s)."""
    patterns = IGNORED + (PRETRAIN_ONLY if include_pretrain else [])
    if any(re.search(p, key) for p in patterns):
        return True
    head = key.split(".", 1)[0]
    return head in NET_PREFIXES and kind not in NET_PREFIXES[head]


def fairseq_to_ours(
    state: Dict[str, torch.Tensor], kind: str, cfg: SpeechT5Config
) -> Tuple[Dict[str, torch.Tensor], List[str], List[str]]:
    """Rename an official state dict for network ``kind``: (our state, unknown keys, skipped keys)."""
    out: Dict[str, torch.Tensor] = {}
    unknown: List[str] = []
    skip: List[str] = []
    for key, value in state.items():
        if skipped(key, kind):
            skip.append(key)
            continue
        if key == "text_decoder_postnet.output_projection.weight" and cfg.tie_text_embeddings:
            skip.append(key)
            continue
        ours = KEYMAP.to_ours(key)
        if ours is None:
            unknown.append(key)
        else:
            out[ours] = value
    return out, unknown, skip


def ours_to_fairseq(state: Dict[str, torch.Tensor]) -> Dict[str, torch.Tensor]:
    """Our state dict with the official key names (used to build test fixtures and for export)."""
    out = {}
    for key, value in state.items():
        theirs = KEYMAP.to_theirs(key)
        if theirs is None:
            raise KeyError(f"no fairseq name for {key}")
        out[theirs] = value
    return out


def _count(state: Dict[str, torch.Tensor], pattern: str) -> int:
    regex = re.compile(pattern)
    found = {int(m.group(1)) for key in state for m in [regex.match(key)] if m}
    return max(found) + 1 if found else 0


def _shape(state: Dict[str, torch.Tensor], key: str) -> Optional[torch.Size]:
    return state[key].shape if key in state else None


def config_from_fairseq(state: Dict[str, torch.Tensor], overrides: Optional[Dict[str, Any]] = None) -> SpeechT5Config:
    """Read the sizes of an official checkpoint from its tensor shapes.

    Conv strides, dropout rates and token ids cannot be read from shapes: they are the base
    config's unless ``overrides`` (our config field names) say otherwise; overrides win over shapes.
    """
    overrides = dict(overrides or {})
    values: Dict[str, Any] = {}
    fc1 = _shape(state, "encoder.layers.0.fc1.weight")
    if fc1 is None:
        raise KeyError("encoder.layers.0.fc1.weight")
    values["encoder_ffn_dim"], values["d_model"] = int(fc1[0]), int(fc1[1])
    values["encoder_layers"] = _count(state, r"^encoder\.layers\.(\d+)\.")
    values["decoder_layers"] = _count(state, r"^decoder\.layers\.(\d+)\.")
    dec_fc1 = _shape(state, "decoder.layers.0.fc1.weight")
    if dec_fc1 is not None:
        values["decoder_ffn_dim"] = int(dec_fc1[0])
    pe_k = _shape(state, "encoder.pos_emb.pe_k.weight")
    if pe_k is not None:
        values["max_relative_distance"] = int(pe_k[0]) // 2
        heads = values["d_model"] // int(pe_k[1])
        values["encoder_heads"] = values["decoder_heads"] = heads
    for key in ("text_decoder_prenet.embed_tokens.weight", "text_encoder_prenet.encoder_prenet.0.weight"):
        if key in state:
            values["vocab_size"] = int(state[key].shape[0])
            break
    convs = _count(state, rf"^{SPK}\.feature_extractor\.conv_layers\.(\d+)\.0\.weight")
    if convs:
        shapes = [state[f"{SPK}.feature_extractor.conv_layers.{i}.0.weight"].shape for i in range(convs)]
        values["conv_channels"] = tuple(int(s[0]) for s in shapes)
        values["conv_kernels"] = tuple(int(s[2]) for s in shapes)
        strides = overrides.get("conv_strides", SpeechT5Config.conv_strides)
        if len(strides) != convs:
            raise ValueError(f"the checkpoint has {convs} feature convs: give their strides (--set conv_strides=[...])")
        values["conv_bias"] = f"{SPK}.feature_extractor.conv_layers.0.0.bias" in state
        if f"{SPK}.feature_extractor.conv_layers.0.2.1.weight" in state:
            raise ValueError("layer-norm feature extractors are not supported (the SpeechT5 release uses group norm)")
        values["conv_norm"] = "group"
    pos_v = _shape(state, f"{SPK}.pos_conv.0.weight_v")
    if pos_v is not None:
        values["pos_conv_kernel"] = int(pos_v[2])
        values["pos_conv_groups"] = values["d_model"] // int(pos_v[1])
    if convs and f"{SPK}.mask_emb" not in state:
        values["mask_time_prob"] = 0.0
        values["mask_channel_prob"] = 0.0
    feat_out = _shape(state, "speech_decoder_postnet.feat_out.weight")
    prob_out = _shape(state, "speech_decoder_postnet.prob_out.weight")
    if feat_out is not None and prob_out is not None:
        values["reduction_factor"] = int(prob_out[0])
        values["num_mel_bins"] = int(feat_out[0]) // int(prob_out[0])
    prenet = _count(state, rf"^{SDP}\.0\.0\.prenet\.(\d+)\.0\.weight")
    if prenet:
        values["speech_prenet_layers"] = prenet
        values["speech_prenet_units"] = int(state[f"{SDP}.0.0.prenet.0.0.weight"].shape[0])
    spk = _shape(state, "speech_decoder_prenet.spkembs_layer.0.weight")
    if spk is not None:
        values["speaker_embedding_dim"] = int(spk[1]) - values["d_model"]
    post = _count(state, r"^speech_decoder_postnet\.postnet\.postnet\.(\d+)\.0\.weight")
    if post:
        first = state["speech_decoder_postnet.postnet.postnet.0.0.weight"].shape
        values["postnet_layers"] = post
        values["postnet_units"] = int(first[0])
        values["postnet_kernel"] = int(first[2])
    values.update(overrides)
    return SpeechT5Config(**values)
