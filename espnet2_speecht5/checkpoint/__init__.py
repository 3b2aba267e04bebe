"""Safe checkpoint reading and writing, and conversion between SpeechT5 checkpoint formats."""

from espnet2_speecht5.checkpoint.io import CheckpointError, load_checkpoint, save_safetensors, save_torch

__all__ = ["CheckpointError", "load_checkpoint", "save_safetensors", "save_torch"]
