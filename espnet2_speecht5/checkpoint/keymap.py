"""Rename state-dict keys with prefix rules; ``*`` in a rule stands for a layer number."""

from __future__ import annotations

import re
from typing import Any, Callable, Dict, Iterable, List, Optional, Sequence, Tuple

Rule = Tuple[str, str]


def _compile(pattern: str) -> re.Pattern[str]:
    return re.compile("^" + re.escape(pattern).replace(r"\*", r"(\d+)") + r"(\.|$)")


class KeyMap:
    """Ordered prefix rules ``(ours, theirs)``; the first rule whose prefix matches renames the key."""

    def __init__(self, rules: Sequence[Rule]) -> None:
        self.rules = list(rules)
        self._forward = [(_compile(a), b) for a, b in self.rules]
        self._backward = [(_compile(b), a) for a, b in self.rules]

    @staticmethod
    def _apply(compiled: Iterable[Tuple[re.Pattern[str], str]], key: str) -> Optional[str]:
        for pattern, target in compiled:
            match = pattern.match(key)
            if match is None:
                continue
            numbers = list(match.groups()[:-1])
            head = target
            for number in numbers:
                head = head.replace("*", number, 1)
            return head + key[match.end() - len(match.group(match.lastindex)) :]
        return None

    def to_theirs(self, key: str) -> Optional[str]:
        """Our key -> their key, or None if no rule applies."""
        return self._apply(self._forward, key)

    def to_ours(self, key: str) -> Optional[str]:
        """Their key -> our key, or None if no rule applies."""
        return self._apply(self._backward, key)


def rename_state(state: Dict[str, Any], fn: Callable[[str], Optional[str]]) -> Tuple[Dict[str, Any], List[str]]:
    """Rename every key of ``state`` with ``fn``: (renamed state, keys ``fn`` returned None for)."""
    out: Dict[str, Any] = {}
    unknown: List[str] = []
    for key, value in state.items():
        new = fn(key)
        if new is None:
            unknown.append(key)
        else:
            out[new] = value
    return out, unknown
