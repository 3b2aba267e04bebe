"""The places where the project patches ESPnet (or nltk) still fit the installed versions.

Three hooks replace a symbol of another library for a while:

* :func:`espnet2_speecht5.train.trainer.safe_checkpoint_files` (inside ``SpeechT5Trainer.run``):
  the module-level ``torch`` of ESPnet's trainer and n-best averaging modules;
* :func:`espnet2_speecht5.train.checks.safe_init_param` (around every ``<task>_train``):
  ``espnet2.tasks.abs_task.load_pretrained_model``;
* :func:`espnet2_speecht5.runtime.quiet_imports.quiet_espnet` (around importing ESPnet):
  ``nltk.download``.

If an upgrade renames, moves or re-signs what a hook replaces, the hook silently stops working (or
breaks training); these tests fail first, naming the hook to revisit. What each hook expects is a
constant next to it; the tests compare it with the installed library and with the hook's own code,
and check that each hook puts the original back, on a normal exit and on an error.
"""

from __future__ import annotations

import importlib
import importlib.util
import inspect
import io
import re
from contextlib import nullcontext, redirect_stdout
from pathlib import Path
from typing import Any, Callable, Sequence, Tuple

import pytest

from espnet2_speecht5.runtime import quiet_imports
from espnet2_speecht5.train import checks, trainer

TRAINER_HOOK = "the SpeechT5Trainer torch swap and overrides in espnet2_speecht5/train/trainer.py"
INIT_PARAM_HOOK = "safe_init_param in espnet2_speecht5/train/checks.py"
NLTK_HOOK = "the nltk.download stub of quiet_espnet in espnet2_speecht5/runtime/quiet_imports.py"


def param_names(func: Callable[..., Any]) -> Tuple[str, ...]:
    """Named parameters of ``func`` (bound ``cls``/``self`` and ``*args``/``**kwargs`` left out)."""
    variadic = (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD)
    return tuple(name for name, p in inspect.signature(func).parameters.items() if p.kind not in variadic)


def require_attribute(owner: str, attribute: str, hook: str) -> Any:
    """``owner.attribute`` (owner: a module, or ``module:Class``), or a failure naming the hook."""
    module_name, _, class_name = owner.partition(":")
    found: Any = importlib.import_module(module_name)
    if class_name:
        found = getattr(found, class_name, None)
    if not hasattr(found, attribute):
        pytest.fail(f"{owner.replace(':', '.')} no longer has attribute {attribute}: {hook} must be revisited")
    return getattr(found, attribute)


def require_params(what: str, func: Callable[..., Any], expected: Sequence[str], hook: str) -> None:
    found = param_names(func)
    if found != tuple(expected):
        pytest.fail(
            f"{what} now takes ({', '.join(found)}), the hook expects ({', '.join(expected)}): {hook} must be revisited"
        )


def require_call(what: str, source: str, call: str, keywords: Sequence[str], hook: str) -> None:
    """``source`` calls ``call(`` with each of ``keywords`` given by name."""
    match = re.search(re.escape(call) + r"\(", source)
    if match is None:
        pytest.fail(f"{what} no longer calls {call}(...): {hook} must be revisited")
    missing = [k for k in keywords if not re.search(rf"\b{k}\s*=", source[match.end():])]
    if missing:
        pytest.fail(f"{what} no longer passes {', '.join(missing)} by name to {call}: {hook} must be revisited")


# ---------------------------------------------------------------------------------------------- trainer
@pytest.mark.parametrize("module_name", sorted(trainer.PATCHED_TORCH_CALLS))
def test_trainer_torch_swap_targets_exist(module_name: str) -> None:
    import torch

    module = importlib.import_module(module_name)
    if getattr(module, "torch", None) is not torch:
        pytest.fail(f"{module_name} no longer has attribute torch: {TRAINER_HOOK} must be revisited")
    source = inspect.getsource(module)
    for name in trainer.PATCHED_TORCH_CALLS[module_name]:
        if not re.search(rf"\btorch\.{name}\(", source):
            pytest.fail(f"{module_name} no longer calls torch.{name}(...): {TRAINER_HOOK} must be revisited")
    assert trainer.PATCHED_MODULES == tuple(trainer.PATCHED_TORCH_CALLS)


def test_trainer_signatures_match_espnet() -> None:
    trainer_class = require_attribute("espnet2.train.trainer", "Trainer", TRAINER_HOOK)
    for method, expected in (
        ("run", trainer.ESPNET_TRAINER_RUN_PARAMS),
        ("resume", trainer.ESPNET_TRAINER_RESUME_PARAMS),
    ):
        espnet_method = require_attribute("espnet2.train.trainer:Trainer", method, TRAINER_HOOK)
        require_params(f"espnet2.train.trainer.Trainer.{method}", espnet_method, expected, TRAINER_HOOK)
        # our override must take what ESPnet passes (and pass on what ESPnet takes)
        require_params(f"SpeechT5Trainer.{method}", getattr(trainer.SpeechT5Trainer, method), expected, TRAINER_HOOK)
    train_one_epoch = require_attribute("espnet2.train.trainer:Trainer", "train_one_epoch", TRAINER_HOOK)
    epoch_params = param_names(train_one_epoch)
    missing = [k for k in trainer.ESPNET_TRAIN_ONE_EPOCH_KWARGS if k not in epoch_params]
    if missing:
        pytest.fail(
            f"espnet2.train.trainer.Trainer.train_one_epoch no longer takes {', '.join(missing)}: "
            f"{TRAINER_HOOK} (and distributed/epoch_hooks.py) must be revisited"
        )
    run_source = inspect.getsource(trainer_class.run)
    require_call("Trainer.run", run_source, "cls.resume", trainer.ESPNET_TRAINER_RESUME_PARAMS, TRAINER_HOOK)
    require_call("Trainer.run", run_source, "cls.train_one_epoch", trainer.ESPNET_TRAIN_ONE_EPOCH_KWARGS, TRAINER_HOOK)
    if trainer.NON_FINITE_PREFIX not in inspect.getsource(train_one_epoch):
        pytest.fail(
            f"espnet2.train.trainer.Trainer.train_one_epoch no longer warns '{trainer.NON_FINITE_PREFIX}...': "
            f"the skipped-update counter in espnet2_speecht5/train/trainer.py must be revisited"
        )


@pytest.mark.parametrize("fail", [False, True], ids=["normal exit", "error"])
def test_trainer_torch_swap_restores_the_originals(fail: bool) -> None:
    import torch

    modules = [importlib.import_module(name) for name in trainer.PATCHED_MODULES]
    with pytest.raises(KeyError) if fail else nullcontext():
        with trainer.safe_checkpoint_files():
            for module in modules:
                assert module.torch is not torch
                assert module.torch.save is trainer.save_checkpoint_file
                assert module.torch.load is trainer.load_checkpoint_file
                assert module.torch.nn is torch.nn
            if fail:
                raise KeyError("an error inside the run")
    for module in modules:
        assert module.torch is torch, f"{module.__name__}.torch was not restored"


# ---------------------------------------------------------------------------------------------- init_param
def test_load_pretrained_model_matches_espnet() -> None:
    original = require_attribute("espnet2.tasks.abs_task", "load_pretrained_model", INIT_PARAM_HOOK)
    expected = checks.LOAD_PRETRAINED_MODEL_PARAMS
    require_params("espnet2.tasks.abs_task.load_pretrained_model", original, expected, INIT_PARAM_HOOK)
    require_params("load_init_param (the replacement)", checks.load_init_param, expected, INIT_PARAM_HOOK)
    # the replacement only takes effect if ESPnet looks the name up in abs_task's globals when it calls it
    from espnet2.tasks.abs_task import AbsTask

    source = inspect.getsource(AbsTask)
    require_call("espnet2.tasks.abs_task.AbsTask", source, "load_pretrained_model", expected, INIT_PARAM_HOOK)
    if re.search(r"^\s+(from\s+\S+\s+)?import\s.*\bload_pretrained_model\b", source, re.MULTILINE):
        pytest.fail(f"AbsTask imports load_pretrained_model locally: {INIT_PARAM_HOOK} must be revisited")


@pytest.mark.parametrize("fail", [False, True], ids=["normal exit", "error"])
def test_init_param_hook_restores_the_original(fail: bool) -> None:
    import espnet2.tasks.abs_task as abs_task

    original = abs_task.load_pretrained_model
    with pytest.raises(KeyError) if fail else nullcontext():
        with checks.safe_init_param():
            assert abs_task.load_pretrained_model is checks.load_init_param
            if fail:
                raise KeyError("an error inside the run")
    assert abs_task.load_pretrained_model is original, "espnet2.tasks.abs_task.load_pretrained_model was not restored"


# ---------------------------------------------------------------------------------------------- nltk
def test_nltk_download_matches() -> None:
    download = require_attribute("nltk", "download", NLTK_HOOK)
    expected = quiet_imports.NLTK_DOWNLOAD_PARAMS
    found = param_names(download)[: len(expected)]
    if found != expected:
        pytest.fail(
            f"nltk.download now starts with ({', '.join(found)}), the hook expects ({', '.join(expected)}): "
            f"{NLTK_HOOK} must be revisited"
        )
    # the stub only helps if g2p_en calls the module attribute (not a name imported from nltk)
    spec = importlib.util.find_spec("g2p_en")
    assert spec is not None, "g2p_en (installed by tools/install.sh with espnet's dependencies) is missing"
    source = (Path(spec.origin).parent / "g2p.py").read_text(encoding="utf-8")
    if not re.search(r"\bnltk\.download\(", source) or re.search(r"from\s+nltk\s+import[^\n]*\bdownload\b", source):
        pytest.fail(f"g2p_en no longer calls nltk.download(...) through the module: {NLTK_HOOK} must be revisited")


@pytest.mark.parametrize("fail", [False, True], ids=["normal exit", "error"])
def test_nltk_stub_restores_the_original(fail: bool) -> None:
    import nltk

    original = nltk.download
    printed = io.StringIO()
    with redirect_stdout(printed):
        with pytest.raises(KeyError) if fail else nullcontext():
            with quiet_imports.quiet_espnet():
                assert nltk.download is not original
                assert nltk.download("cmudict") is False  # no network, no output
                print("swallowed")
                if fail:
                    raise KeyError("an error while importing")
    assert nltk.download is original, "nltk.download was not restored"
    assert printed.getvalue() == "", "quiet_espnet let stdout through"
