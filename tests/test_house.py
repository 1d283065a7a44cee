"""The code base's own rules, checked from its source: no import cycles inside fastnn, and
every kernel compiled through the decorators of fastnn/config.py."""

import ast
import pathlib

import fastnn

PACKAGE = pathlib.Path(fastnn.__file__).parent


def module_name(path):
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported_modules(path):
    """The fastnn modules that ``path``'s import statements name, and the packages above them
    (importing ``fastnn.kernels.views`` runs ``fastnn/kernels/__init__.py`` first) but for
    those above ``path`` itself, which are being imported already."""
    name = module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(anchor + ([base] if base else []))
            names.add(base)
            names.update(f"{base}.{alias.name}" for alias in node.names)
    found = set()
    for imported in names:
        parts = imported.split(".")
        found.update(".".join(parts[:n]) for n in range(2, len(parts) + 1))
    modules = {module_name(p) for p in PACKAGE.rglob("*.py")}
    parts = name.split(".")
    enclosing = {".".join(parts[:n]) for n in range(1, len(parts) + 1)}
    return (found & modules) - enclosing


def test_no_fastnn_module_imports_one_that_imports_it_back():
    graph = {module_name(p): imported_modules(p) for p in PACKAGE.rglob("*.py")}
    assert graph["fastnn.network"] >= {"fastnn.io", "fastnn.backends"}  # the walk sees edges

    def reaches(start, goal, seen):
        for nxt in graph.get(start, ()):
            if nxt == goal or (nxt not in seen and reaches(nxt, goal, seen | {nxt})):
                return True
        return False

    cycles = sorted(name for name in graph if reaches(name, name, {name}))
    assert cycles == [], f"modules on an import cycle: {cycles}"


def test_kernels_take_their_numba_settings_from_config():
    """Only fastnn/config.py calls ``njit`` or sets ``fastmath``: every kernel gets the same
    flags (no ``nnan``/``ninf``, cached, GIL released) from one place."""
    offenders = [str(path.relative_to(PACKAGE)) for path in PACKAGE.rglob("*.py")
                 if path.name != "config.py" and any(word in path.read_text() for word in
                                                     ("njit", "numba.jit", "fastmath="))]
    assert offenders == []
