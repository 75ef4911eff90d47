"""Dependencies point one way: the control layer uses the loop, never the other way round.

The loop (pipeline, stages, frames, live controls) reports its own typed records; only the
control package, the daemon that wires it to the loop, and the command line may import
``livevoice.control``. Read from the source (every import statement, lazy ones inside
functions too), so a forbidden import fails here even if no test runs that code.
"""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "livevoice"
MAY_IMPORT_CONTROL = {
    "livevoice.daemon",
    "livevoice.cli",
    "livevoice.daemon_cli",
    "livevoice.doctor",  # a command-line check of the whole install, the secret file's mode among it
}


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported(source: str, module: str, *, package: bool = False) -> set[str]:
    """Every module an import statement of ``source`` (module ``module``) names, absolute."""
    names: set[str] = set()
    here = module if package else module.rsplit(".", 1)[0]
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = here.rsplit(".", node.level - 1)[0] if node.level > 1 else here
                target = f"{base}.{node.module}" if node.module else base
            else:
                target = node.module or ""
            names.add(target)
            names.update(f"{target}.{alias.name}" for alias in node.names)
    return names


def imports_of(path: Path) -> set[str]:
    return imported(path.read_text(encoding="utf-8"), module_name(path), package=path.name == "__init__.py")


def is_control(name: str) -> bool:
    return name == "livevoice.control" or name.startswith("livevoice.control.")


def test_the_loop_imports_nothing_from_the_control_layer() -> None:
    offenders = {}
    modules = sorted(PACKAGE.rglob("*.py"))
    for path in modules:
        name = module_name(path)
        if is_control(name) or name in MAY_IMPORT_CONTROL:
            continue
        bad = sorted(n for n in imports_of(path) if is_control(n))
        if bad:
            offenders[name] = bad
    assert offenders == {}
    checked = {module_name(p) for p in modules}
    assert {
        "livevoice.pipeline",
        "livevoice.tts.worker",
        "livevoice.asr.live",
        "livevoice.controls",
    } <= checked


def test_the_check_sees_lazy_and_relative_imports() -> None:
    """The reader above finds what the rule forbids, wherever it is written."""
    assert "livevoice.frames.StageError" in imports_of(PACKAGE / "tts" / "worker.py")
    source = "def f():\n    from ..control import events\n    import livevoice.control.server\n"
    names = imported(source, "livevoice.asr.sample")
    assert {"livevoice.control", "livevoice.control.events", "livevoice.control.server"} <= names
