"""Read checkpoints without running code from them; write them atomically.

Reading goes through safetensors or ``torch.load(weights_only=True)`` only. Official fairseq
checkpoints also pickle their training configuration (argparse ``Namespace``, OmegaConf
containers, numpy scalars). Those classes are replaced by inert placeholders that only record
their data, so nothing from the file is ever executed; any other global (``os.system``,
``builtins.eval``, ...) makes the load fail with a one-line refusal.
"""

from __future__ import annotations

import pickle
import re
import zipfile
from pathlib import Path
from typing import Any, Callable, Dict, List, Tuple

import torch

from espnet2_speecht5.checkpoint.atomic_files import atomic_write
from espnet2_speecht5.runtime.errors import DataError
from espnet2_speecht5.runtime.types import PathLike

# Globals that may appear in fairseq checkpoints as configuration or statistics. They are
# never imported: each is replaced by an inert placeholder class.
INERT_GLOBAL_PATTERNS = [
    r"argparse\.Namespace",
    r"omegaconf\.[A-Za-z_.]+",
    r"typing\.[A-Za-z_]+",
    r"fairseq\.dataclass\.[A-Za-z_.]+",
    r"numpy\.(core|_core)\.multiarray\.(scalar|_reconstruct)",
    r"numpy\.(dtype|ndarray)",
    r"numpy\.dtypes\.[A-Za-z0-9_]+",
    r"collections\.defaultdict",
    r"enum\.Enum",
]
_INERT = re.compile("^(" + "|".join(INERT_GLOBAL_PATTERNS) + ")$")

# Value types that ESPnet's training checkpoints (its reporter's statistics) hold. Rebuilding them
# runs no code from the file: a timedelta is made from three ints, a numpy scalar from a dtype and
# raw bytes. Only callers that ask for them (``real_values=True``) get them rebuilt for real.
_VALUE_GLOBALS = re.compile(r"^(datetime\.timedelta|numpy\.(core|_core)\.multiarray\.scalar|numpy\.dtype|"
                            r"numpy\.dtypes\.[A-Za-z0-9_]+)$")


class CheckpointError(DataError):
    """A checkpoint that cannot be used: unreadable, unsafe, or not matching the network."""


class InertObject:
    """Stands in for an unpickled configuration object; keeps its arguments and state, runs nothing."""

    qualified_name = "?"

    def __new__(cls, *args: Any, **kwargs: Any) -> InertObject:
        obj = super().__new__(cls)
        obj.args = args
        obj.state = None
        return obj

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        pass

    def __setstate__(self, state: Any) -> None:
        self.state = state

    def __repr__(self) -> str:
        return f"<inert {self.qualified_name}>"


def _inert_class(name: str) -> type:
    return type(name.rsplit(".", 1)[-1], (InertObject,), {"qualified_name": name})


def _pickle_globals(path: Path) -> List[str]:
    """Globals referenced by a zip-format torch checkpoint, outside torch's own safe set."""
    try:
        return list(torch.serialization.get_unsafe_globals_in_checkpoint(str(path)))
    except Exception:  # noqa: BLE001 - legacy (non-zip) files cannot be scanned; the load itself checks them
        return []


def _refusal(path: Path, name: str) -> CheckpointError:
    return CheckpointError(
        f"refusing to unpickle global '{name}': it could run code; only tensors and plain "
        "containers (and inert configuration objects) are accepted",
        path,
    )


def _real_value_global(name: str) -> Callable:
    """The real class or function behind one of the ``_VALUE_GLOBALS`` names."""
    import datetime

    import numpy as np

    if name == "datetime.timedelta":
        return datetime.timedelta
    if name == "numpy.dtype":
        return np.dtype
    if name.startswith("numpy.dtypes."):
        return getattr(np.dtypes, name.rsplit(".", 1)[1])
    core = getattr(np, "_core", None) or np.core
    return core.multiarray.scalar


def _torch_load(path: Path, real_values: bool = False) -> Any:
    names = _pickle_globals(path)
    placeholders: List[Tuple[Callable, str]] = []
    for name in names:
        if real_values and _VALUE_GLOBALS.match(name):
            placeholders.append((_real_value_global(name), name))
        elif _INERT.match(name):
            placeholders.append((_inert_class(name), name))
        else:
            raise _refusal(path, name)
    if real_values and any(name.startswith("numpy.") for name in names):
        # a real numpy dtype is checked by its class (numpy.dtypes.Float64DType, ...) when it is rebuilt
        import numpy as np

        placeholders += [(cls, f"numpy.dtypes.{cls.__name__}") for cls in vars(np.dtypes).values()
                         if isinstance(cls, type) and issubclass(cls, np.dtype)]
    try:
        with torch.serialization.safe_globals(placeholders):
            return torch.load(str(path), map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as err:
        text = str(err)
        match = re.search(r"GLOBAL (\S+)", text) or re.search(r"unrecognized function (\S+)", text)
        if match:
            raise _refusal(path, match.group(1)) from None
        detail = re.search(r"WeightsUnpickler error:\s*(.+)", text)
        reason = detail.group(1).strip() if detail else _first_line(err)
        raise CheckpointError(
            f"truncated or corrupt checkpoint, or not a weights-only torch checkpoint ({reason})", path
        ) from None
    except (RuntimeError, EOFError, ValueError, zipfile.BadZipFile, OSError) as err:
        raise CheckpointError(f"truncated or corrupt checkpoint file ({_first_line(err)})", path) from None


def _first_line(err: BaseException) -> str:
    text = str(err).strip()
    return text.splitlines()[0] if text else type(err).__name__


def _safetensors_load(path: Path) -> Dict[str, torch.Tensor]:
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    try:
        return load_file(str(path), device="cpu")
    except (SafetensorError, OSError, ValueError, RuntimeError) as err:
        raise CheckpointError(f"truncated or corrupt safetensors file ({_first_line(err)})", path) from None


def load_checkpoint(path: PathLike, real_values: bool = False) -> Any:
    """Load ``path`` safely: ``.safetensors`` with safetensors, anything else with weights-only torch.load.

    ``real_values=True`` rebuilds ``datetime.timedelta`` values and numpy scalars for real (ESPnet's
    training checkpoints keep its reporter's statistics in them); otherwise they load as inert
    placeholders, like every other configuration object.

    Raises:
        CheckpointError: missing, truncated or corrupt file, or a pickle that references code.
    """
    path = Path(path)
    if not path.is_file():
        raise CheckpointError("no such checkpoint file", path)
    if path.suffix == ".safetensors":
        return _safetensors_load(path)
    return _torch_load(path, real_values)


def save_torch(obj: Any, path: PathLike) -> None:
    """``torch.save`` to a temporary file beside ``path``, synced to disk, then renamed into place."""
    atomic_write(path, lambda handle: torch.save(obj, handle))


def save_safetensors(state: Dict[str, torch.Tensor], path: PathLike, metadata: Dict[str, str] = None) -> None:
    """Write a flat tensor dict as safetensors, atomically (tensors made contiguous and unshared)."""
    from safetensors.torch import save

    flat = {k: v.detach().contiguous().clone() for k, v in state.items()}
    atomic_write(path, lambda handle: handle.write(save(flat, metadata=metadata or {"format": "pt"})))


def save_text(text: str, path: PathLike) -> None:
    """Write a text file atomically."""
    atomic_write(path, lambda handle: handle.write(text.encode("utf-8")))
