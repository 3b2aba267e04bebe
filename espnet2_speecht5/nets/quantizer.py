"""Gumbel-softmax vector quantiser for SpeechT5's cross-modal codebook, and the mixing of its codes.

The quantiser (as in wav2vec 2.0) scores every position against ``groups`` codebooks of ``entries``
vectors, picks one entry per group and concatenates the picked vectors. In training the pick is a
hard Gumbel-softmax sample with a straight-through gradient; in eval it is the argmax. The
temperature anneals from ``max_temp`` to ``min_temp`` (times ``temp_decay`` per update).

Pre-training replaces a random fraction of the encoder states by their quantised version before
the decoder (:func:`mix_quantised`), and adds a diversity loss ``(G·V - perplexity) / (G·V)`` that
pushes the average code distribution towards uniform use of the codebooks.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional, Tuple

import torch
import torch.nn.functional as F
from torch import nn


@dataclass
class QuantizerOutput:
    """quantised: (B, T, code_dim); codes: (B, T, G) picked entries; scalars as 0-dim tensors.

    ``prob_perplexity`` (differentiable) is the perplexity of the softmax probabilities averaged over
    the valid positions, summed over groups; ``code_perplexity`` that of the picked codes.
    """

    quantised: torch.Tensor
    codes: torch.Tensor
    prob_perplexity: torch.Tensor
    code_perplexity: torch.Tensor
    diversity_loss: torch.Tensor
    temperature: float


def group_perplexity(probs: torch.Tensor) -> torch.Tensor:
    """(G, V) distributions (rows sum to 1) -> sum over groups of exp(entropy); 0-dim tensor."""
    entropy = -(probs * torch.log(probs + 1e-7)).sum(dim=-1)
    return torch.exp(entropy).sum()


def diversity_loss(prob_perplexity: torch.Tensor, num_codes: int) -> torch.Tensor:
    """(num_codes - perplexity) / num_codes: 0 when every code of every group is used equally."""
    return (num_codes - prob_perplexity) / num_codes


def gumbel_noise(shape: torch.Size, device: torch.device, generator: Optional[torch.Generator]) -> torch.Tensor:
    """Standard Gumbel samples -log(-log(U)), drawn from ``generator`` (on its device) when given."""
    if generator is None:
        uniform = torch.rand(shape, device=device)
    else:
        uniform = torch.rand(shape, generator=generator, device=generator.device).to(device)
    uniform = uniform.clamp(min=1e-10, max=1.0 - 1e-7)
    return -torch.log(-torch.log(uniform))


def masked_mean(values: torch.Tensor, valid: Optional[torch.Tensor]) -> torch.Tensor:
    """(N, ...) values averaged over the rows where ``valid`` (N,) is True (all rows when None)."""
    if valid is None:
        return values.mean(dim=0)
    weights = valid.to(values.dtype)
    total = weights.sum().clamp(min=1.0)
    return (values * weights.view(-1, *([1] * (values.dim() - 1)))).sum(dim=0) / total


class GumbelVectorQuantizer(nn.Module):
    """Project (B, T, dim) states to ``groups`` x ``entries`` logits; return the picked code vectors.

    Args:
        dim: input size (the encoder's d_model).
        groups: number of codebooks G.
        entries: entries V per codebook.
        code_dim: size of the output (concatenation of G vectors of code_dim / G); default ``dim``.
        max_temp, min_temp, temp_decay: temperature ``max(max_temp * temp_decay ** updates, min_temp)``.
    """

    def __init__(
        self,
        dim: int,
        groups: int = 2,
        entries: int = 100,
        code_dim: Optional[int] = None,
        max_temp: float = 2.0,
        min_temp: float = 0.5,
        temp_decay: float = 0.999995,
    ) -> None:
        super().__init__()
        code_dim = dim if code_dim is None else code_dim
        if code_dim % groups:
            raise ValueError(f"code_dim {code_dim} is not divisible by groups {groups}")
        if not 0.0 < min_temp <= max_temp:
            raise ValueError(f"need 0 < min_temp <= max_temp, got {min_temp}, {max_temp}")
        if not 0.0 < temp_decay <= 1.0:
            raise ValueError(f"temp_decay must be in (0, 1], got {temp_decay}")
        self.groups = groups
        self.entries = entries
        self.code_dim = code_dim
        self.max_temp = max_temp
        self.min_temp = min_temp
        self.temp_decay = temp_decay
        self.weight_proj = nn.Linear(dim, groups * entries)
        nn.init.normal_(self.weight_proj.weight, mean=0.0, std=1.0)
        nn.init.zeros_(self.weight_proj.bias)
        # (G·V, code_dim / G): the V entries of group g are rows g·V .. g·V + V - 1
        self.codebook = nn.Parameter(torch.empty(groups * entries, code_dim // groups).uniform_())
        self.register_buffer("num_updates", torch.zeros((), dtype=torch.long))

    @property
    def num_codes(self) -> int:
        """G·V, the total number of code vectors."""
        return self.groups * self.entries

    @property
    def temperature(self) -> float:
        """The current Gumbel-softmax temperature."""
        return max(self.max_temp * self.temp_decay ** int(self.num_updates), self.min_temp)

    def set_num_updates(self, num_updates: int) -> None:
        """Set the update counter that drives the temperature schedule."""
        self.num_updates.fill_(int(num_updates))

    def step(self, count: int = 1) -> None:
        """Advance the temperature schedule by ``count`` updates."""
        self.num_updates += count

    def forward(
        self,
        x: torch.Tensor,
        valid: Optional[torch.Tensor] = None,
        generator: Optional[torch.Generator] = None,
    ) -> QuantizerOutput:
        """Quantise.

        Args:
            x: (B, T, dim) states.
            valid: (B, T) bool, True at real positions (the perplexities average over them only);
                None when nothing is padded.
            generator: random source of the Gumbel noise (training only); None = torch's global one.

        Returns:
            :class:`QuantizerOutput` with quantised (B, T, code_dim) in ``x``'s dtype.
        """
        batch, length, _ = x.shape
        logits = self.weight_proj(x).float().view(batch * length, self.groups, self.entries)
        flat_valid = None if valid is None else valid.reshape(-1)
        probs = torch.softmax(logits, dim=-1)
        prob_perplexity = group_perplexity(masked_mean(probs, flat_valid))
        if self.training:
            noisy = (logits + gumbel_noise(logits.shape, logits.device, generator)) / self.temperature
            soft = torch.softmax(noisy, dim=-1)
            codes = soft.argmax(dim=-1)
            hard = F.one_hot(codes, self.entries).to(soft.dtype)
            onehot = hard - soft.detach() + soft  # straight-through: hard forward, soft gradient
        else:
            codes = logits.argmax(dim=-1)
            hard = F.one_hot(codes, self.entries).to(logits.dtype)
            onehot = hard
        code_perplexity = group_perplexity(masked_mean(hard.detach(), flat_valid))
        book = self.codebook.float().view(self.groups, self.entries, -1)
        picked = torch.einsum("ngv,gvd->ngd", onehot, book)
        quantised = picked.reshape(batch, length, self.code_dim).to(x.dtype)
        return QuantizerOutput(
            quantised=quantised,
            codes=codes.view(batch, length, self.groups),
            prob_perplexity=prob_perplexity,
            code_perplexity=code_perplexity,
            diversity_loss=diversity_loss(prob_perplexity, self.num_codes),
            temperature=self.temperature,
        )


def mix_quantised(
    hidden: torch.Tensor,
    quantised: torch.Tensor,
    prob: float,
    generator: Optional[torch.Generator] = None,
) -> Tuple[torch.Tensor, torch.Tensor]:
    """Replace each (batch element, time step) of ``hidden`` by ``quantised`` with probability ``prob``.

    Args:
        hidden, quantised: (B, T, D).
        prob: replacement probability in [0, 1].
        generator: random source (the draw happens on its device); None = torch's global one.

    Returns:
        the mixed states (B, T, D) and the (B, T) bool choice (True = replaced).
    """
    if not 0.0 <= prob <= 1.0:
        raise ValueError(f"prob must be in [0, 1], got {prob}")
    if hidden.shape != quantised.shape:
        raise ValueError(f"hidden {tuple(hidden.shape)} and quantised {tuple(quantised.shape)} differ in shape")
    shape = hidden.shape[:2]
    if generator is None:
        draw = torch.rand(shape, device=hidden.device)
    else:
        draw = torch.rand(shape, generator=generator, device=generator.device).to(hidden.device)
    chosen = draw < prob
    return torch.where(chosen.unsqueeze(-1), quantised.to(hidden.dtype), hidden), chosen
