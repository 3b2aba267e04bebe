"""Pictures of a synthesised utterance: the log-mel with its stop probabilities, and the attention."""

from __future__ import annotations

from pathlib import Path
from typing import Optional, Union

import numpy as np


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def plot_mel(
    path: Union[str, Path],
    mel: np.ndarray,
    stop_probs: Optional[np.ndarray] = None,
    title: str = "",
    reference: Optional[np.ndarray] = None,
    hop_seconds: float = 256 / 16000,
) -> Path:
    """Write a PNG of ``mel`` (T, 80) (and of a ``reference`` (T', 80) above it), stop probabilities below.

    Returns the path written.
    """
    plt = _pyplot()
    rows = 1 + (reference is not None) + (stop_probs is not None)
    heights = ([3] if reference is not None else []) + [3] + ([1] if stop_probs is not None else [])
    fig, axes = plt.subplots(rows, 1, figsize=(10, 1.6 * sum(heights)), gridspec_kw={"height_ratios": heights})
    axes = np.atleast_1d(axes)
    index = 0
    images = []
    if reference is not None:
        images.append((axes[index], reference, "recording"))
        index += 1
    images.append((axes[index], mel, "synthesised"))
    index += 1
    for ax, data, label in images:
        seconds = data.shape[0] * hop_seconds
        im = ax.imshow(data.T, origin="lower", aspect="auto", extent=(0, seconds, 0, data.shape[1]), vmin=-6, vmax=1)
        ax.set_ylabel(f"{label}\nmel bin")
        fig.colorbar(im, ax=ax, pad=0.01, label="log10")
    if stop_probs is not None:
        ax = axes[index]
        ax.plot(np.arange(len(stop_probs)) * hop_seconds, stop_probs)
        ax.set_ylim(-0.05, 1.05)
        ax.set_ylabel("stop prob.")
    longest = max(data.shape[0] for _, data, _ in images) * hop_seconds
    for ax in axes:
        ax.set_xlim(0, longest)  # one time axis for the recording, the synthesis and the stop curve
    axes[-1].set_xlabel("time (s)")
    if title:
        axes[0].set_title(title)
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def plot_attention(path: Union[str, Path], attention: np.ndarray, title: str = "") -> Path:
    """Write a PNG of cross-attention weights (L, H, T_out, S): one panel per decoder block (heads averaged)."""
    plt = _pyplot()
    layers = attention.shape[0]
    fig, axes = plt.subplots(1, layers, figsize=(4 * layers, 3.5), squeeze=False)
    for layer in range(layers):
        ax = axes[0, layer]
        ax.imshow(attention[layer].mean(axis=0).T, origin="lower", aspect="auto", vmin=0, vmax=1)
        ax.set_title(f"block {layer + 1}")
        ax.set_xlabel("decoder step")
        ax.set_ylabel("input token")
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path
