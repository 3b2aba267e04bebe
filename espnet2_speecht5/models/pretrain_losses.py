"""The loss terms of SpeechT5 joint pre-training, as small pure functions of tensors.

Every function returns a 0-dim float32 tensor (a mean over the elements it covers) that stays in
the autograd graph; when nothing is covered it returns 0 (still connected to its inputs, so
backward works).
"""

from __future__ import annotations

from typing import Optional, Tuple

import torch
import torch.nn.functional as F

from espnet2_speecht5.nets.masked_prediction import cosine_logits


def _zero_like_graph(*tensors: torch.Tensor) -> torch.Tensor:
    """A float32 0 that depends on ``tensors`` (so an empty selection still back-propagates)."""
    return sum(t.float().sum() * 0.0 for t in tensors)


def masked_prediction_loss(
    proj: torch.Tensor,
    label_emb: torch.Tensor,
    labels: torch.Tensor,
    mask: torch.Tensor,
    temperature: float = 0.1,
) -> Tuple[torch.Tensor, torch.Tensor]:
    """HuBERT's prediction loss: cross-entropy of cosine logits on the selected frames.

    Args:
        proj: (B, T, F) projected encoder states.
        label_emb: (C, F) cluster embeddings.
        labels: (B, T) cluster ids (values < 0 are ignored).
        mask: (B, T) bool, the frames to score (e.g. masked and real).
        temperature: logit temperature.

    Returns:
        the mean cross-entropy over the selected frames, and their accuracy (argmax = label), both
        0-dim; (0, 0) when no frame is selected.
    """
    select = mask & (labels >= 0)
    if not bool(select.any()):
        zero = _zero_like_graph(proj, label_emb)
        return zero, zero.detach()
    logits = cosine_logits(proj[select], label_emb, temperature)
    targets = labels[select].long()
    loss = F.cross_entropy(logits, targets)
    accuracy = (logits.argmax(dim=-1) == targets).float().mean()
    return loss, accuracy.detach()


def mel_l1_loss(
    mel_before: torch.Tensor, mel_after: torch.Tensor, target: torch.Tensor, lengths: torch.Tensor
) -> torch.Tensor:
    """L1 of the mel before and after the post-net, each averaged over real frames and bins, summed.

    Args:
        mel_before, mel_after, target: (B, T, M); lengths: (B,) real frames.
    """
    valid = (torch.arange(target.size(1), device=target.device)[None, :] < lengths[:, None]).unsqueeze(-1)
    count = (valid.sum() * target.size(-1)).clamp(min=1).float()
    before = ((mel_before.float() - target.float()).abs() * valid).sum() / count
    after = ((mel_after.float() - target.float()).abs() * valid).sum() / count
    return before + after


def stop_bce_loss(
    stop_logits: torch.Tensor, stop_labels: torch.Tensor, lengths: torch.Tensor, pos_weight: float = 5.0
) -> torch.Tensor:
    """Binary cross-entropy of the stop logits, positive frames weighted by ``pos_weight``,
    averaged over real frames (the number of frames, not the sum of weights).

    Args:
        stop_logits, stop_labels: (B, T); lengths: (B,) real frames.
    """
    valid = torch.arange(stop_labels.size(1), device=stop_labels.device)[None, :] < lengths[:, None]
    if not bool(valid.any()):
        return _zero_like_graph(stop_logits)
    weight = torch.tensor(pos_weight, dtype=torch.float32, device=stop_logits.device)
    return F.binary_cross_entropy_with_logits(stop_logits[valid].float(), stop_labels[valid].float(), pos_weight=weight)


def text_ce_loss(logits: torch.Tensor, targets: torch.Tensor, ignore_id: int = -1) -> Tuple[torch.Tensor, torch.Tensor]:
    """Token-averaged cross-entropy and accuracy.

    Args:
        logits: (B, T, V); targets: (B, T) ids, ``ignore_id`` at padding.

    Returns:
        mean cross-entropy over the non-ignored tokens and their accuracy (0-dim each).
    """
    keep = targets != ignore_id
    if not bool(keep.any()):
        zero = _zero_like_graph(logits)
        return zero, zero.detach()
    picked = logits[keep].float()
    gold = targets[keep].long()
    loss = F.cross_entropy(picked, gold)
    accuracy = (picked.argmax(dim=-1) == gold).float().mean()
    return loss, accuracy.detach()


def feature_penalty(features: torch.Tensor, valid: Optional[torch.Tensor] = None) -> torch.Tensor:
    """Mean of squares of the conv feature-extractor output over the real frames and channels.

    Args:
        features: (B, T, C); valid: (B, T) bool or None (all real).
    """
    squares = features.float().pow(2)
    if valid is None:
        return squares.mean()
    weights = valid.unsqueeze(-1).to(squares.dtype)
    count = (weights.sum() * features.size(-1)).clamp(min=1.0)
    return (squares * weights).sum() / count
