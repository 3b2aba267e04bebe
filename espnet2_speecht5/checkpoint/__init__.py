"""Model files on disk: safe checkpoint reading and writing, and the formats around them.

* :mod:`~espnet2_speecht5.checkpoint.io` and :mod:`~espnet2_speecht5.checkpoint.atomic_files`: weights-only
  reading, atomic writing;
* :mod:`~espnet2_speecht5.checkpoint.weights`: loading a state dict into a built network, every key checked;
* :mod:`~espnet2_speecht5.checkpoint.archive`: packed model zips (checksums, safe unpacking);
* :mod:`~espnet2_speecht5.checkpoint.convert` with :mod:`~espnet2_speecht5.checkpoint.fairseq_mapping`,
  :mod:`~espnet2_speecht5.checkpoint.hf_mapping` and :mod:`~espnet2_speecht5.checkpoint.keymap`: conversion
  between the official fairseq checkpoints, transformers folders and our state dicts;
* :mod:`~espnet2_speecht5.checkpoint.pretrained_init`: fine-tuning initialisation from a pre-training model.
"""

from espnet2_speecht5.checkpoint.io import CheckpointError, load_checkpoint, save_safetensors, save_torch

__all__ = ["CheckpointError", "load_checkpoint", "save_safetensors", "save_torch"]
