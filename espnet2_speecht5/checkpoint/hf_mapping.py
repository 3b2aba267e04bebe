"""Key and config mapping between our networks and transformers' SpeechT5 models.

Our keys are those of :mod:`espnet2_speecht5.nets.compositions` (e.g. ``encoder.layers.0.ffn.fc1.weight``);
theirs are those of ``SpeechT5ForSpeechToText`` / ``ForTextToSpeech`` / ``ForSpeechToSpeech``.
"""

from __future__ import annotations

from typing import Any, Dict, List, Tuple

import torch

from espnet2_speecht5.checkpoint.keymap import KeyMap, rename_state
from espnet2_speecht5.nets.config import SpeechT5Config

ENC = "speecht5.encoder"
DEC = "speecht5.decoder"

RULES = [
    # speech-encoder pre-net
    ("speech_prenet.feature_extractor.layers.*.conv", f"{ENC}.prenet.feature_encoder.conv_layers.*.conv"),
    ("speech_prenet.feature_extractor.layers.*.norm", f"{ENC}.prenet.feature_encoder.conv_layers.*.layer_norm"),
    ("speech_prenet.feature_norm", f"{ENC}.prenet.feature_projection.layer_norm"),
    ("speech_prenet.feature_proj", f"{ENC}.prenet.feature_projection.projection"),
    ("speech_prenet.mask_emb", f"{ENC}.prenet.masked_spec_embed"),
    ("speech_prenet.pos_conv.conv", f"{ENC}.prenet.pos_conv_embed.conv"),
    # text-encoder pre-net
    ("text_prenet.embed_tokens", f"{ENC}.prenet.embed_tokens"),
    ("text_prenet.positions.alpha", f"{ENC}.prenet.encode_positions.alpha"),
    # encoder
    ("encoder.input_norm", f"{ENC}.wrapped_encoder.layer_norm"),
    ("encoder.rel_pos.pe_k", f"{ENC}.wrapped_encoder.embed_positions.pe_k"),
    ("encoder.layers.*.self_attn_norm", f"{ENC}.wrapped_encoder.layers.*.layer_norm"),
    ("encoder.layers.*.self_attn", f"{ENC}.wrapped_encoder.layers.*.attention"),
    ("encoder.layers.*.ffn.fc1", f"{ENC}.wrapped_encoder.layers.*.feed_forward.intermediate_dense"),
    ("encoder.layers.*.ffn.fc2", f"{ENC}.wrapped_encoder.layers.*.feed_forward.output_dense"),
    ("encoder.layers.*.ffn_norm", f"{ENC}.wrapped_encoder.layers.*.final_layer_norm"),
    # decoder
    ("decoder.layers.*.self_attn_norm", f"{DEC}.wrapped_decoder.layers.*.self_attn_layer_norm"),
    ("decoder.layers.*.self_attn", f"{DEC}.wrapped_decoder.layers.*.self_attn"),
    ("decoder.layers.*.cross_attn_norm", f"{DEC}.wrapped_decoder.layers.*.encoder_attn_layer_norm"),
    ("decoder.layers.*.cross_attn", f"{DEC}.wrapped_decoder.layers.*.encoder_attn"),
    ("decoder.layers.*.ffn.fc1", f"{DEC}.wrapped_decoder.layers.*.feed_forward.intermediate_dense"),
    ("decoder.layers.*.ffn.fc2", f"{DEC}.wrapped_decoder.layers.*.feed_forward.output_dense"),
    ("decoder.layers.*.ffn_norm", f"{DEC}.wrapped_decoder.layers.*.final_layer_norm"),
    # text decoder pre-net / post-net
    ("text_decoder_prenet.embed_tokens", f"{DEC}.prenet.embed_tokens"),
    ("text_decoder_postnet.lm_head", "text_decoder_postnet.lm_head.weight"),
    # speech decoder pre-net / post-net
    ("speech_decoder_prenet.layers.*", f"{DEC}.prenet.layers.*"),
    ("speech_decoder_prenet.final_layer", f"{DEC}.prenet.final_layer"),
    ("speech_decoder_prenet.positions.alpha", f"{DEC}.prenet.encode_positions.alpha"),
    ("speech_decoder_prenet.speaker_proj", f"{DEC}.prenet.speaker_embeds_layer"),
    ("speech_decoder_postnet.feat_out", "speech_decoder_postnet.feat_out"),
    ("speech_decoder_postnet.prob_out", "speech_decoder_postnet.prob_out"),
    ("speech_decoder_postnet.postnet.*.conv", "speech_decoder_postnet.layers.*.conv"),
    ("speech_decoder_postnet.postnet.*.norm", "speech_decoder_postnet.layers.*.batch_norm"),
]

KEYMAP = KeyMap(RULES)

HF_ARCHITECTURES = {
    "s2t": "SpeechT5ForSpeechToText",
    "t2s": "SpeechT5ForTextToSpeech",
    "s2s": "SpeechT5ForSpeechToSpeech",
}

# (our config field, transformers config field)
CONFIG_FIELDS: List[Tuple[str, str]] = [
    ("vocab_size", "vocab_size"),
    ("d_model", "hidden_size"),
    ("encoder_layers", "encoder_layers"),
    ("encoder_heads", "encoder_attention_heads"),
    ("encoder_ffn_dim", "encoder_ffn_dim"),
    ("decoder_layers", "decoder_layers"),
    ("decoder_heads", "decoder_attention_heads"),
    ("decoder_ffn_dim", "decoder_ffn_dim"),
    ("activation", "hidden_act"),
    ("dropout", "hidden_dropout"),
    ("attention_dropout", "attention_dropout"),
    ("activation_dropout", "activation_dropout"),
    ("positional_dropout", "positional_dropout"),
    ("encoder_layerdrop", "encoder_layerdrop"),
    ("decoder_layerdrop", "decoder_layerdrop"),
    ("layer_norm_eps", "layer_norm_eps"),
    ("max_relative_distance", "encoder_max_relative_position"),
    ("scale_embedding", "scale_embedding"),
    ("tie_text_embeddings", "tie_word_embeddings"),
    ("conv_channels", "conv_dim"),
    ("conv_kernels", "conv_kernel"),
    ("conv_strides", "conv_stride"),
    ("conv_bias", "conv_bias"),
    ("conv_norm", "feat_extract_norm"),
    ("feature_proj_dropout", "feat_proj_dropout"),
    ("pos_conv_kernel", "num_conv_pos_embeddings"),
    ("pos_conv_groups", "num_conv_pos_embedding_groups"),
    ("apply_masking", "apply_spec_augment"),
    ("mask_time_prob", "mask_time_prob"),
    ("mask_time_length", "mask_time_length"),
    ("mask_time_min_masks", "mask_time_min_masks"),
    ("mask_channel_prob", "mask_feature_prob"),
    ("mask_channel_length", "mask_feature_length"),
    ("mask_channel_min_masks", "mask_feature_min_masks"),
    ("num_mel_bins", "num_mel_bins"),
    ("speech_prenet_layers", "speech_decoder_prenet_layers"),
    ("speech_prenet_units", "speech_decoder_prenet_units"),
    ("speech_prenet_dropout", "speech_decoder_prenet_dropout"),
    ("speaker_embedding_dim", "speaker_embedding_dim"),
    ("postnet_layers", "speech_decoder_postnet_layers"),
    ("postnet_units", "speech_decoder_postnet_units"),
    ("postnet_kernel", "speech_decoder_postnet_kernel"),
    ("postnet_dropout", "speech_decoder_postnet_dropout"),
    ("reduction_factor", "reduction_factor"),
    ("max_speech_positions", "max_speech_positions"),
    ("max_text_positions", "max_text_positions"),
    ("bos_id", "bos_token_id"),
    ("pad_id", "pad_token_id"),
    ("eos_id", "eos_token_id"),
    ("decoder_start_id", "decoder_start_token_id"),
]


def config_from_hf(hf: Dict[str, Any]) -> SpeechT5Config:
    """A transformers ``config.json`` dict -> our config (missing fields keep transformers' defaults)."""
    values = {ours: hf[theirs] for ours, theirs in CONFIG_FIELDS if theirs in hf and hf[theirs] is not None}
    if isinstance(values.get("eos_id"), list):
        values["eos_id"] = values["eos_id"][0]
    return SpeechT5Config(**values)


def config_to_hf(cfg: SpeechT5Config, kind: str) -> Dict[str, Any]:
    """Our config -> a transformers ``config.json`` dict for the ``kind`` (s2t, t2s, s2s) model."""
    out: Dict[str, Any] = {"model_type": "speecht5", "architectures": [HF_ARCHITECTURES[kind]]}
    for ours, theirs in CONFIG_FIELDS:
        value = getattr(cfg, ours)
        out[theirs] = list(value) if isinstance(value, tuple) else value
    out["is_encoder_decoder"] = True
    return out


def normalise_hf_keys(state: Dict[str, torch.Tensor]) -> Dict[str, torch.Tensor]:
    """Accept the older weight-norm names (``weight_g``/``weight_v``) of the positional conv."""
    out = {}
    for key, value in state.items():
        key = key.replace("pos_conv_embed.conv.weight_g", "pos_conv_embed.conv.parametrizations.weight.original0")
        key = key.replace("pos_conv_embed.conv.weight_v", "pos_conv_embed.conv.parametrizations.weight.original1")
        out[key] = value
    return out


TIED_HF_KEY = "text_decoder_postnet.lm_head.weight"


def hf_to_ours(state: Dict[str, torch.Tensor], cfg: SpeechT5Config) -> Tuple[Dict[str, torch.Tensor], List[str]]:
    """Rename a transformers state dict to our keys: (renamed state, keys no rule knows).

    With tied embeddings the stored ``lm_head`` copy is dropped (it is the decoder embedding).
    """
    state = normalise_hf_keys(state)
    if cfg.tie_text_embeddings:
        state = {k: v for k, v in state.items() if k != TIED_HF_KEY}
    return rename_state(state, KEYMAP.to_ours)


def ours_to_hf(state: Dict[str, torch.Tensor]) -> Tuple[Dict[str, torch.Tensor], List[str]]:
    """Rename our state dict to transformers' keys: (renamed state, keys no rule knows)."""
    return rename_state(state, KEYMAP.to_theirs)
