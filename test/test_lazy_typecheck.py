"""runtime/lazy_typecheck.py: typeguard's checks, instrumented on first call instead of at import."""

from __future__ import annotations

import os
import subprocess
import sys
from typing import Iterator, List

import pytest
import typeguard

import espnet2_speecht5  # noqa: F401  (installs the lazy decorator)
from espnet2_speecht5.runtime import lazy_typecheck


def test_the_package_installs_the_lazy_decorator() -> None:
    assert typeguard.typechecked is lazy_typecheck.lazy_typechecked


def test_functions_are_instrumented_only_when_called(monkeypatch) -> None:
    calls: List[str] = []
    eager = lazy_typecheck._EAGER

    def counting(target, **options):
        calls.append(target.__name__)
        return eager(target, **options)

    monkeypatch.setattr(lazy_typecheck, "_EAGER", counting)

    @lazy_typecheck.lazy_typechecked
    def scale(x: int, factor: float = 2.0) -> float:
        return x * factor

    assert calls == []
    assert scale(3) == 6.0
    assert scale(4) == 8.0
    assert calls == ["scale"]  # instrumented once, at the first call
    with pytest.raises(typeguard.TypeCheckError, match='argument "x"'):
        scale("three")


def test_methods_using_super_and_keyword_options_are_checked() -> None:
    class Base:
        def __init__(self, size: int) -> None:
            self.size = size

    # typeguard reads the decorator's options from the source, where it must be spelled typechecked
    class Child(Base):
        @typeguard.typechecked(collection_check_strategy=typeguard.CollectionCheckStrategy.ALL_ITEMS)
        def __init__(self, size: int, names: List[str]) -> None:
            super().__init__(size)
            self.names = names

    assert getattr(Child.__init__, "__speecht5_lazy_typecheck__", False)
    assert Child(2, ["a", "b"]).size == 2
    with pytest.raises(typeguard.TypeCheckError):
        Child(2, ["a", 3])  # every item checked: the option reached typeguard
    with pytest.raises(typeguard.TypeCheckError):
        Child("2", [])


def test_generators_and_classes_are_instrumented_at_once() -> None:
    @lazy_typecheck.lazy_typechecked
    def count(n: int) -> Iterator[int]:
        yield from range(n)

    assert list(count(3)) == [0, 1, 2]
    with pytest.raises(typeguard.TypeCheckError):
        list(count("3"))

    @lazy_typecheck.lazy_typechecked
    class Box:
        def put(self, item: int) -> int:
            return item

    assert not getattr(Box.put, "__speecht5_lazy_typecheck__", False)
    with pytest.raises(typeguard.TypeCheckError):
        Box().put("x")


def test_espnet_classes_keep_their_checks() -> None:
    from espnet2.asr.ctc import CTC

    CTC(odim=5, encoder_output_size=8)
    with pytest.raises(typeguard.TypeCheckError):
        CTC(odim="5", encoder_output_size=8)


def test_the_environment_switch_keeps_typeguard_eager() -> None:
    code = "import typeguard, espnet2_speecht5.runtime.lazy_typecheck as m; print(typeguard.typechecked is m._EAGER)"
    env = {**os.environ, "SPEECHT5_EAGER_TYPECHECK": "1"}
    out = subprocess.run([sys.executable, "-c", "import espnet2_speecht5; " + code], env=env,
                         capture_output=True, text=True, check=True)  # fmt: skip
    assert out.stdout.strip().splitlines()[-1] == "True"
