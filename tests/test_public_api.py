"""The public surface and the import architecture of llm_connectivity."""

from __future__ import annotations

import ast
import inspect
import subprocess
import sys
from pathlib import Path

import pytest

import llm_connectivity
import llm_connectivity.errors as errors
import llm_connectivity.sse as sse
import llm_connectivity.testing as testing

PACKAGE_DIR = Path(llm_connectivity.__file__).resolve().parent
PACKAGE = "llm_connectivity"


def test_top_level_all_sorted_and_importable() -> None:
    names = llm_connectivity.__all__
    assert names == sorted(names)
    assert len(names) == len(set(names))
    for name in names:
        assert getattr(llm_connectivity, name, None) is not None, name
    namespace: dict[str, object] = {}
    exec("from llm_connectivity import *", namespace)  # noqa: S102 - the point of the test
    assert set(names) <= set(namespace)


def test_top_level_exports_the_essentials() -> None:
    assert {"LLMClient", "LLMError", "ChatResponse", "StreamChunk", "StreamingOptions", "RetryPolicy",
            "Usage", "UNSET", "register_provider", "errors"} <= set(llm_connectivity.__all__)
    assert llm_connectivity.errors is errors


def test_errors_all_lists_every_error_class() -> None:
    defined = {name for name, obj in inspect.getmembers(errors, inspect.isclass)
               if issubclass(obj, errors.LLMError) and obj.__module__ == errors.__name__}
    assert "LLMError" in defined and len(defined) >= 20
    assert defined - set(errors.__all__) == set()
    for name in errors.__all__:
        assert hasattr(errors, name), name
    assert errors.__all__ == sorted(errors.__all__)


@pytest.mark.parametrize("module", [sse, testing], ids=lambda m: m.__name__)
def test_submodule_all_importable(module: object) -> None:
    names = module.__all__  # type: ignore[attr-defined]
    assert names, module
    assert names == sorted(names)
    for name in names:
        assert getattr(module, name, None) is not None, name


def test_sse_and_testing_exports() -> None:
    assert {"SSEDecoder", "SSEEvent", "iter_sse"} <= set(sse.__all__)
    assert {"FakeLLMServer", "Reply", "Action", "RecordedRequest"} <= set(testing.__all__)


def test_import_does_not_pull_optional_heavy_modules() -> None:
    code = ("import llm_connectivity, sys; "
            "print(','.join(m for m in ('tiktoken', 'jiter', 'genai_prices') if m in sys.modules))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    assert result.stdout.strip() == ""


# -- ast scan of the package's imports -------------------------------------------------------------------


def _module_name(path: Path) -> str:
    rel = path.relative_to(PACKAGE_DIR).with_suffix("")
    parts = [PACKAGE, *rel.parts]
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _type_checking_nodes(tree: ast.AST) -> set[int]:
    ids: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If):
            test = node.test
            if (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
                    isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"):
                for child in node.body:
                    ids.update(id(n) for n in ast.walk(child))
    return ids


def _imports(path: Path) -> list[tuple[str, bool]]:
    """Absolute names of every module ``path`` imports, each with "under TYPE_CHECKING"."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    guarded = _type_checking_nodes(tree)
    module = _module_name(path)
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found: list[tuple[str, bool]] = []
    for node in ast.walk(tree):
        in_tc = id(node) in guarded
        if isinstance(node, ast.Import):
            found.extend((alias.name, in_tc) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base_parts = package.split(".")
                base_parts = base_parts[: len(base_parts) - (node.level - 1)]
                base = ".".join(base_parts)
                target = f"{base}.{node.module}" if node.module else base
            else:
                target = node.module or ""
            found.append((target, in_tc))
            # `from . import client` imports the submodule `client`
            found.extend((f"{target}.{alias.name}", in_tc) for alias in node.names)
    return found


SOURCES = sorted(PACKAGE_DIR.rglob("*.py"))


def _imports_module(imported: str, module: str) -> bool:
    return imported == module or imported.startswith(module + ".")


def test_scan_sees_the_package() -> None:
    names = {_module_name(p) for p in SOURCES}
    assert {"llm_connectivity", "llm_connectivity.client", "llm_connectivity.transport",
            "llm_connectivity.providers.openai"} <= names
    init = dict(_imports(PACKAGE_DIR / "__init__.py"))
    assert "llm_connectivity.client" in init  # the scan resolves relative imports


def test_only_init_imports_client() -> None:
    offenders = [
        (_module_name(path), name)
        for path in SOURCES if _module_name(path) != PACKAGE
        for name, _ in _imports(path)
        if _imports_module(name, "llm_connectivity.client")
    ]
    assert offenders == []


def test_only_transport_imports_requests() -> None:
    offenders = [
        (_module_name(path), name)
        for path in SOURCES if _module_name(path) != "llm_connectivity.transport.requests_transport"
        for name, type_checking in _imports(path)
        if (_imports_module(name, "requests") or _imports_module(name, "urllib3")) and not type_checking
    ]
    assert offenders == []


def test_providers_stay_pure_translators() -> None:
    forbidden = ("llm_connectivity.client", "llm_connectivity.transport", "llm_connectivity.registry",
                 "requests", "urllib3")
    offenders = [
        (_module_name(path), name)
        for path in sorted((PACKAGE_DIR / "providers").rglob("*.py"))
        for name, _ in _imports(path)
        if any(_imports_module(name, f) for f in forbidden)
    ]
    assert offenders == []


@pytest.mark.parametrize("leaf", ["errors", "models"])
def test_leaf_modules_import_nothing_from_the_package(leaf: str) -> None:
    inside = [name for name, _ in _imports(PACKAGE_DIR / f"{leaf}.py") if _imports_module(name, PACKAGE)]
    assert inside == []


def test_every_top_level_name_resolves_and_the_lazy_ones_load_on_first_use() -> None:
    code = ("import sys, llm_connectivity as l\n"
            "assert 'llm_connectivity.budget' not in sys.modules and 'requests' not in sys.modules\n"
            "missing = [n for n in l.__all__ if getattr(l, n, None) is None]\n"
            "assert not missing, missing\n"
            "assert issubclass(l.BudgetExceededError, l.LLMError) and issubclass(l.JSONStreamError, l.LLMError)\n")
    import subprocess
    import sys

    subprocess.run([sys.executable, "-c", code], check=True)
