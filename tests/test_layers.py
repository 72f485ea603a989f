"""The layers of DESIGN.md hold in the imports: `api` translates HTTP and calls `services`,
`services` decide, `store` persists, `ocpp` translates frames and calls `services`, `domain` is
pure. A lower layer never imports a higher one, and neither `api` nor `ocpp` reaches past
`services` into `store`."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "chargegate"

# Layer -> the layers it must never import. Modules at the package's top level (server, cli,
# provisioning, config, logs, metrics, listener) wire or serve the layers and are not listed.
NEVER: dict[str, set[str]] = {
    "domain": {"store", "services", "api", "ocpp", "bus", "sim", "config", "logs", "metrics"},
    "store": {"services", "api", "ocpp", "bus", "sim"},
    "bus": {"services", "store", "api", "ocpp", "sim"},
    "services": {"api", "ocpp", "sim"},
    "ocpp": {"api", "store", "sim"},
    "api": {"ocpp", "store", "sim"},
    # The simulator is a charger: it speaks OCPP and knows nothing of the server's insides.
    "sim": {"api", "services", "store", "bus"},
}


def layer(module: str) -> str | None:
    """`chargegate.api.routes` -> "api"; None outside the package."""
    parts = module.split(".")
    if parts[0] != "chargegate" or len(parts) < 2:
        return None
    return parts[1]


def imported(source: str, module: str) -> set[str]:
    """The chargegate modules that `source` (the text of `module`) imports, TYPE_CHECKING too."""
    names: set[str] = set()
    package = module.rsplit(".", 1)[0]
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                base = f"{anchor}.{base}" if base else anchor
            # `from chargegate import api` imports chargegate.api.
            names.update(f"{base}.{alias.name}" for alias in node.names)
            names.add(base)
    return {name for name in names if name.startswith("chargegate.")}


def violations(source: str, module: str) -> list[str]:
    own = layer(module)
    if own is None or own not in NEVER:
        return []
    found = []
    for name in sorted(imported(source, module)):
        target = layer(name)
        if target is not None and target in NEVER[own]:
            found.append(f"{module} imports {name} ({own} -> {target})")
    return found


def modules() -> list[tuple[str, Path]]:
    found = []
    for path in sorted(SRC.rglob("*.py")):
        relative = path.relative_to(SRC.parent).with_suffix("")
        found.append((".".join(relative.parts).removesuffix(".__init__"), path))
    return found


def test_no_layer_imports_what_it_must_not() -> None:
    broken = [
        violation
        for module, path in modules()
        for violation in violations(path.read_text(encoding="utf-8"), module)
    ]
    assert broken == []


def test_every_layer_of_the_rules_exists() -> None:
    present = {layer(module) for module, _ in modules()}
    assert set(NEVER) <= present


@pytest.mark.parametrize(
    ("source", "module"),
    [
        ("from chargegate.store.models import Port", "chargegate.api.bodies"),
        ("from chargegate import store", "chargegate.api.routes"),
        ("import chargegate.ocpp.rpc", "chargegate.services.dispatcher"),
        ("from ..services import runtime", "chargegate.domain.reports"),
        (
            "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n"
            "    from chargegate.api import routes",
            "chargegate.store.models",
        ),
    ],
)
def test_a_forbidden_import_is_found(source: str, module: str) -> None:
    assert violations(source, module)


def test_allowed_imports_pass() -> None:
    source = "from chargegate.services import ports\nfrom chargegate.domain import times"
    assert violations(source, "chargegate.api.routes") == []


def test_every_exception_of_ours_has_one_root() -> None:
    """One exception hierarchy: whatever chargegate raises on purpose is a ChargegateError."""
    import importlib
    import inspect

    from chargegate.domain.errors import ChargegateError

    loose = []
    for module_name, _ in modules():
        # Migrations are scripts of Alembic's; __main__ runs the command line when imported.
        if module_name.startswith("chargegate.store.migrations") or module_name.endswith(
            "__main__"
        ):
            continue
        module = importlib.import_module(module_name)
        for name, value in vars(module).items():
            if (
                inspect.isclass(value)
                and issubclass(value, BaseException)
                and value.__module__ == module_name
                and not issubclass(value, ChargegateError)
            ):
                loose.append(f"{module_name}.{name}")
    assert loose == []
