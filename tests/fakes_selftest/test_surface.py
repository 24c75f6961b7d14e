"""Every module of the fakes declares its public surface, and the surface is real."""

from __future__ import annotations

import importlib
import pkgutil

import fakes
import pytest

MODULES = sorted(info.name for info in pkgutil.iter_modules(fakes.__path__))


@pytest.mark.parametrize("name", MODULES)
def test_module_has_a_docstring_and_an_explicit_all(name: str) -> None:
    module = importlib.import_module(f"fakes.{name}")

    assert module.__doc__, f"fakes.{name} needs a docstring saying what it owns"
    assert isinstance(getattr(module, "__all__", None), list), f"fakes.{name} needs __all__"
    missing = [symbol for symbol in module.__all__ if not hasattr(module, symbol)]
    assert not missing


def test_package_exports_exist() -> None:
    assert [symbol for symbol in fakes.__all__ if not hasattr(fakes, symbol)] == []
