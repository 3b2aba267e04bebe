"""One :class:`TaskRecipe` per task, in a registry that the stage driver reads.

    from espnet2_speecht5.recipes import get_recipe
    get_recipe("asr").shape_keys        # ('speech', 'text')

``python -m espnet2_speecht5.recipes env --task asr`` prints the same facts as shell assignments;
the other subcommands run the per-task steps of stages 1-13 (see ``--help``).
"""

from __future__ import annotations

import importlib
from typing import Dict, Tuple

from espnet2_speecht5.recipes.base import Context, TaskRecipe
from espnet2_speecht5.runtime.errors import DataError

# the order of --help and of the README's table
TASKS: Tuple[str, ...] = ("asr", "tts", "st", "vc", "sid", "se", "pretrain")
_LOADED: Dict[str, TaskRecipe] = {}


def get_recipe(task: str) -> TaskRecipe:
    """The recipe of ``task``.

    Raises:
        DataError: an unknown task (one line naming the known ones).
    """
    if task not in TASKS:
        raise DataError(f"unknown --task '{task}' ({'|'.join(TASKS)})")
    if task not in _LOADED:
        recipe = importlib.import_module(f"espnet2_speecht5.recipes.{task}").RECIPE
        if recipe.name != task:
            raise RuntimeError(f"recipes/{task}.py defines the recipe of '{recipe.name}'")
        _LOADED[task] = recipe
    return _LOADED[task]


def all_recipes() -> Tuple[TaskRecipe, ...]:
    return tuple(get_recipe(task) for task in TASKS)


__all__ = ["TASKS", "Context", "TaskRecipe", "all_recipes", "get_recipe"]
