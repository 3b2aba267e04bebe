"""What ``<task>_train`` checks before ESPnet starts, so that bad options stop with one line.

The entry points run them through :func:`espnet2_speecht5.bin.train_main.run_checked_task`.

ESPnet's own handling of these leaves the user with a usage text or a traceback:

* its config parser names an unknown YAML key only after the whole usage text (exit status 2),
  takes any value type from the file (``max_epoch: 1.5`` fails deep in the trainer) and does not
  check ``choices`` there (``optim: adamm`` fails with a traceback after the model is built);
* a missing or malformed token list fails while the model is built, without naming the file;
* its ``--init_param`` loader unpickles the whole file (code included) and stops with a traceback
  when a parameter has another shape.

:func:`check_training_options` checks the config file and the token list;
:func:`safe_init_param` replaces ESPnet's ``--init_param`` loader, for the duration of the run, by
:func:`load_init_param`, which reads weights only and names the first parameter that does not fit.
"""

from __future__ import annotations

import argparse
import difflib
import logging
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Dict, Iterator, List, Mapping, Optional, Sequence, Tuple

import yaml

from espnet2_speecht5.runtime.errors import DataError

BLANK, SOS_EOS = "<blank>", "<sos/eos>"


def option_value(argv: Sequence[str], name: str) -> Optional[str]:
    """The last value given for ``name`` (``--name VALUE`` or ``--name=VALUE``) in ``argv``, or None."""
    value = None
    for index, arg in enumerate(argv):
        if arg == name and index + 1 < len(argv):
            value = argv[index + 1]
        elif arg.startswith(name + "="):
            value = arg.split("=", 1)[1]
    return value


def read_config(path: str) -> Tuple[Dict[str, Any], Dict[str, int]]:
    """The YAML mapping of a ``--config`` file and the line of each key (from 1).

    Raises:
        DataError: the file is missing, not UTF-8, not YAML, or not a mapping.
    """
    config = Path(path)
    if not config.is_file():
        raise DataError("no such configuration file (--config)", config)
    try:
        text = config.read_text(encoding="utf-8")
    except UnicodeDecodeError as err:
        line = config.read_bytes()[: err.start].count(b"\n") + 1
        raise DataError(f"not valid UTF-8 (byte {err.start})", config, line) from None
    try:
        values = yaml.safe_load(text)
        node = yaml.compose(text)
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        problem = getattr(err, "problem", None) or str(err).splitlines()[0]
        raise DataError(f"not valid YAML: {problem}", config, None if mark is None else mark.line + 1) from None
    if not isinstance(values, dict):
        raise DataError(f"must be a mapping of option: value, not {type(values).__name__}", config)
    lines = {}
    if isinstance(node, yaml.MappingNode):
        lines = {str(key.value): key.start_mark.line + 1 for key, _ in node.value}
    return values, lines


def config_value(path: str, key: str) -> Any:
    """The value at dotted ``key`` of the YAML mapping in ``path``; KeyError (the missing part) if absent.

    Raises:
        DataError: the file is not a YAML mapping, or a part of the key is not a mapping.
    """
    value: Any = read_config(path)[0]
    walked: List[str] = []
    for part in key.split("."):
        if not isinstance(value, dict):
            raise DataError(f"{'.'.join(walked)} is not a mapping, so it has no key '{part}'", path)
        if part not in value:
            raise KeyError(".".join(walked + [part]))
        value = value[part]
        walked.append(part)
        if value is None:  # ``key:`` with nothing after it
            raise KeyError(".".join(walked))
    return value


def config_value_or(path: str, key: str, default: Any = None) -> Any:
    """:func:`config_value`, or ``default`` where the key (or a part of it) is missing."""
    try:
        return config_value(path, key)
    except KeyError:
        return default


def _type_name(action: argparse.Action) -> str:
    name = getattr(action.type, "__name__", "")
    return name if name and name != "<lambda>" else "value"


def value_problem(action: argparse.Action, value: Any) -> Optional[str]:
    """Why ``value`` (from YAML) does not fit ``action``'s type or choices; None if it fits.

    ``None``, mappings and nested lists are left to the task; a list is checked item by item.
    """
    if isinstance(value, list):
        for item in value:
            problem = None if isinstance(item, list) else value_problem(action, item)
            if problem is not None:
                return problem
        return None
    if value is None or isinstance(value, dict):
        return None
    converted = value
    if callable(action.type):
        try:
            converted = action.type(value if isinstance(value, str) else str(value))
        except (TypeError, ValueError, argparse.ArgumentTypeError):
            return f"{value!r} is not a valid {_type_name(action)}"
    if action.choices is not None and converted not in action.choices:
        choices = ", ".join(str(choice) for choice in action.choices)
        return f"{value!r} is not one of: {choices}"
    return None


def check_config(parser: argparse.ArgumentParser, path: str) -> Dict[str, Any]:
    """Every key of the ``--config`` file is an option of ``parser`` and every scalar value fits it.

    Returns:
        the file's mapping.

    Raises:
        DataError: naming the file, the line and the key.
    """
    values, lines = read_config(path)
    actions = {action.dest: action for action in parser._actions}
    for key, value in values.items():
        action = actions.get(key)
        if action is None:
            close = difflib.get_close_matches(str(key), list(actions), n=1)
            hint = f"; did you mean '{close[0]}'?" if close else "; --print_config lists them"
            raise DataError(f"unknown key '{key}' (not a training option{hint})", path, lines.get(str(key)))
        problem = value_problem(action, value)
        if problem is not None:
            raise DataError(f"{key}: {problem}", path, lines.get(str(key)))
    return values


def check_token_list(token_list: Any, config: Optional[str] = None) -> None:
    """A token list file (or a list from the config) in ESPnet's layout: ``<blank>`` first,
    ``<sos/eos>`` last, no token twice.

    Raises:
        DataError: naming the file and the line.
    """
    if isinstance(token_list, list):
        where, numbered = config, [(None, str(token)) for token in token_list]
    else:
        where = Path(token_list)
        if not where.is_file():
            raise DataError("no such token list file (--token_list; stage 5 makes it)", where)
        try:
            text = where.read_text(encoding="utf-8")
        except UnicodeDecodeError as err:
            line = where.read_bytes()[: err.start].count(b"\n") + 1
            raise DataError(f"not valid UTF-8 (byte {err.start})", where, line) from None
        numbered = [(n, line.rstrip()) for n, line in enumerate(text.split("\n"), 1) if line.strip()]
    if not numbered:
        raise DataError("the token list is empty", where)
    if numbered[0][1] != BLANK:
        raise DataError(f"the first token must be {BLANK} (ESPnet's layout), not '{numbered[0][1]}'", where,
                        numbered[0][0])
    if numbered[-1][1] != SOS_EOS:
        raise DataError(f"the last token must be {SOS_EOS} (ESPnet's layout), not '{numbered[-1][1]}'", where,
                        numbered[-1][0])
    first: Dict[str, Optional[int]] = {}
    for number, token in numbered:
        if token in first:
            earlier = f" (first on line {first[token]})" if first[token] is not None else ""
            raise DataError(f"token '{token}' is listed twice{earlier}", where, number)
        first[token] = number


def check_training_options(parser: argparse.ArgumentParser, argv: Sequence[str]) -> None:
    """Check ``--config`` and ``--token_list`` of a training command line; see the module docstring."""
    config = option_value(argv, "--config")
    values = check_config(parser, config) if config is not None else {}
    token_list: Any = option_value(argv, "--token_list")
    if token_list is None:
        token_list = values.get("token_list")
    if isinstance(token_list, list) or (isinstance(token_list, str) and token_list.lower() != "none"):
        check_token_list(token_list, config)


def _state_dict_of(path: str) -> Dict[str, Any]:
    import torch

    from espnet2_speecht5.checkpoint.io import load_checkpoint

    state = load_checkpoint(path)
    if isinstance(state, Mapping) and isinstance(state.get("module"), Mapping):
        state = state["module"]  # DeepSpeed layout, as ESPnet accepts it
    if not isinstance(state, Mapping) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise DataError("is not a state dict of tensors (--init_param)", path)
    return dict(state)


def load_init_param(init_param: str, model: Any, ignore_init_mismatch: bool, map_location: str = "cpu") -> None:
    """Load ``FILE[:SRC_KEY[:DST_KEY[:EXCLUDES]]]`` into ``model`` as ESPnet's ``--init_param`` does,
    but weights-only and with a one-line error for a parameter that does not fit.

    ``SRC_KEY``: take only the parameters under this prefix (and drop it); ``DST_KEY``: load into this
    sub-module; ``EXCLUDES``: comma-separated prefixes to leave out. ``map_location`` is not needed
    (tensors are read on the CPU and copied into the model's parameters).

    Raises:
        DataError: an unsafe, corrupt or non-state-dict file, a prefix that selects nothing, a
            missing sub-module, or (unless ``ignore_init_mismatch``) a parameter of another shape
            or one the model does not have.
    """
    parts = init_param.split(":")
    if len(parts) > 4:
        raise DataError(f"--init_param '{init_param}': expected FILE[:SRC_KEY[:DST_KEY[:EXCLUDES]]]")
    path, src_key, dst_key, excludes = (parts + ["", "", ""])[:4]
    state = _state_dict_of(path)
    for prefix in filter(None, excludes.split(",")):
        state = {k: v for k, v in state.items() if not k.startswith(prefix)}
    if src_key:
        state = {k[len(src_key) + 1 :]: v for k, v in state.items() if k.startswith(src_key + ".")}
        if not state:
            raise DataError(f"no parameter starts with '{src_key}.' (--init_param {init_param})", path)
    target = model
    for name in filter(None, dst_key.split(".")):
        if not hasattr(target, name):
            raise DataError(f"the model has no part '{dst_key}' (--init_param {init_param})", path)
        target = getattr(target, name)
    expected = target.state_dict()
    state = _without_replaced_prenet(state, target, init_param)
    state = _rows_for_the_model_tokens(state, path, model, init_param)
    unknown = [key for key in state if key not in expected]
    wrong = [key for key in state if key in expected and tuple(state[key].shape) != tuple(expected[key].shape)]
    if ignore_init_mismatch:
        for key in unknown + wrong:
            logging.warning(f"--init_param {init_param}: left out '{key}' (not in the model, or another shape)")
        skipped = set(unknown + wrong)
        state = {k: v for k, v in state.items() if k not in skipped}
    elif wrong:
        from espnet2_speecht5.checkpoint.token_rows import is_vocab_key

        key = wrong[0]
        if is_vocab_key(key):
            raise DataError(
                f"parameter '{key}' has shape {tuple(state[key].shape)}, the model's is {tuple(expected[key].shape)}: "
                f"{state[key].shape[0]} token rows for a token list of {expected[key].shape[0]}, and no JSON sidecar "
                "beside the file names its token list, so the rows cannot be moved by token (hf2ours records it "
                "from a transformers folder's spm_char.model)",
                path,
            )
        raise DataError(
            f"parameter '{key}' has shape {tuple(state[key].shape)}, the model's is {tuple(expected[key].shape)} "
            f"({len(wrong)} of {len(state)} parameters have another shape: a checkpoint of another network size? "
            "--ignore_init_mismatch true leaves them out)",
            path,
        )
    elif unknown:
        raise DataError(
            f"'{unknown[0]}' is not a parameter of the model ({len(unknown)} of {len(state)}; "
            "FILE:SRC_KEY:DST_KEY in --init_param selects a part)",
            path,
        )
    if not state:
        raise DataError(f"no parameter of the file fits the model (--init_param {init_param})", path)
    expected.update(state)
    target.load_state_dict(expected)
    logging.info(f"--init_param {init_param}: loaded {len(state)} of {len(expected)} parameters")


def _rows_for_the_model_tokens(state: Dict[str, Any], path: str, model: Any, init_param: str) -> Dict[str, Any]:
    """Move the text rows (embeddings, CTC output) of a checkpoint whose JSON sidecar names its token
    list onto the model's token list, by token (:mod:`espnet2_speecht5.checkpoint.token_rows`); the
    log lists the tokens added and dropped. Without a sidecar list, rows are loaded as they are."""
    from espnet2_speecht5.checkpoint.convert import sidecar_tokens
    from espnet2_speecht5.checkpoint.token_rows import canonical_tokens, describe, remap_token_rows

    target_tokens = getattr(model, "token_list", None)
    source_tokens = sidecar_tokens(Path(path))  # a broken sidecar: CheckpointError, a one-line DataError
    if not target_tokens or not source_tokens or canonical_tokens(source_tokens) == list(target_tokens):
        return state
    try:
        state, change = remap_token_rows(state, source_tokens, target_tokens)
    except ValueError as err:
        raise DataError(f"{err} (--init_param {init_param})", path) from None
    logging.info(f"--init_param {init_param}: {describe(change)}")
    return state


def _without_replaced_prenet(state: Dict[str, Any], target: Any, init_param: str
                             ) -> Dict[str, Any]:
    """Leave out a checkpoint's conv speech pre-net (its ``feature_extractor`` gives it away) where the
    model has the fbank pre-net instead: that pre-net is new (ESPnet's front end and subsampling), even
    where a name matches; everything else loads as usual. An fbank checkpoint keeps its pre-net."""
    replaced = [f"{name}." for name, module in target.named_modules() if hasattr(module, "frontend_features")]
    conv = [p for p in replaced if any(key.startswith(f"{p}feature_extractor.") for key in state)]
    dropped = {key for key in state if any(key.startswith(p) for p in conv)}
    if dropped:
        logging.info(f"--init_param {init_param}: the speech pre-net is new (speech_prenet: fbank): left out "
                     f"{len(dropped)} parameters of the checkpoint's conv pre-net ({', '.join(sorted(conv))})")
    return {k: v for k, v in state.items() if k not in dropped}


# What safe_init_param assumes of ESPnet (test/test_espnet_hooks.py checks the installed one):
# espnet2.tasks.abs_task calls its module-level ``load_pretrained_model`` with these keyword arguments,
# which load_init_param takes too.
LOAD_PRETRAINED_MODEL_PARAMS = ("init_param", "model", "ignore_init_mismatch", "map_location")


@contextmanager
def safe_init_param() -> Iterator[None]:
    """Within the block, ESPnet's training loads ``--init_param`` files with :func:`load_init_param`.

    Processes that ESPnet itself spawns (multi-GPU on one node) import ESPnet afresh and use its
    own loader; ``torchrun`` ranks run this entry point and get this one.
    """
    import espnet2.tasks.abs_task as abs_task

    original = abs_task.load_pretrained_model
    abs_task.load_pretrained_model = load_init_param
    try:
        yield
    finally:
        abs_task.load_pretrained_model = original
