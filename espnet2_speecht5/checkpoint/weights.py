"""Load trained parameters into an already built network, without unpickling code.

ESPnet's ``build_model_from_file`` unpickles ``*.pth`` files whole (code included).
The scorers therefore build their networks from the config alone and fill them here, through
:func:`espnet2_speecht5.checkpoint.io.load_checkpoint` (``torch.load(weights_only=True)``).
"""

from __future__ import annotations

from typing import Mapping

import torch

from espnet2_speecht5.checkpoint.io import load_checkpoint
from espnet2_speecht5.runtime.errors import DataError
from espnet2_speecht5.runtime.types import PathLike


def load_weights(module: torch.nn.Module, model_file: PathLike) -> None:
    """Copy the state dict saved in ``model_file`` into ``module``; every key must match.

    Raises:
        DataError: the file is missing, unsafe or corrupt, is not a state dict, or its keys or
            shapes do not fit the network (the first offending key is named).
    """
    state = load_checkpoint(model_file)
    if isinstance(state, Mapping) and "module" in state and isinstance(state["module"], Mapping):
        state = state["module"]  # DeepSpeed layout, as ESPnet accepts it
    if not isinstance(state, Mapping) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise DataError("is not a state dict of tensors", model_file)
    expected = module.state_dict()
    missing = [key for key in expected if key not in state]
    unexpected = [key for key in state if key not in expected]
    if missing or unexpected:
        detail = f"lacks '{missing[0]}'" if missing else f"has the unknown parameter '{unexpected[0]}'"
        raise DataError(f"does not fit the network of the config: {detail} "
                        f"({len(missing)} missing, {len(unexpected)} unknown)", model_file)
    for key, value in state.items():
        if value.shape != expected[key].shape:
            raise DataError(f"parameter '{key}' has shape {tuple(value.shape)}, the config builds "
                            f"{tuple(expected[key].shape)}", model_file)
    module.load_state_dict(state, strict=True)
