"""The package's shape, read statically (ast, no imports, no ROS): what keeps it easy to read.

* no import cycle among skd_ros modules (module-level and function-level imports both count);
* no module takes an underscore-prefixed name from another skd_ros module (by import or as
  an attribute of an imported module): what two modules share gets a public home;
* no module over MAX_LINES lines;
* `skd_ros/ros/` holds the node's parts: no module there has a `main()` but `node` (the
  command-line tools live in `skd_ros/tools/`);
* only the ROS layer (`skd_ros/ros/`, `skd_ros/tools/` and the several-nodes benchmark)
  imports ROS: the core runs without it.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parents[1] / "skd_ros"
PACKAGE = PACKAGE_DIR.name
MAX_LINES = 600
NODE_PACKAGE = f"{PACKAGE}.ros"
NODE_MODULE = f"{NODE_PACKAGE}.node"
ROS_PACKAGES = {"rclpy", "launch", "launch_ros", "sensor_msgs_py", "rosbag2_py"}
ROS_LAYER = (f"{PACKAGE}.ros", f"{PACKAGE}.tools", f"{PACKAGE}.bench.nodes")


@dataclass
class Module:
    name: str
    path: Path
    is_package: bool
    tree: ast.Module
    imports: list[tuple[int, str, str | None]] = field(default_factory=list)
    """(line, module imported, name taken from it or None) for every skd_ros import."""


def module_name(path: Path) -> tuple[str, bool]:
    """Dotted name of a file under skd_ros/, and whether it is a package's __init__."""
    parts = list(path.relative_to(PACKAGE_DIR.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        return ".".join(parts[:-1]), True
    return ".".join(parts), False


def absolute(module: Module, node: ast.ImportFrom) -> str:
    """The absolute module an ImportFrom names (resolving `from . import x` and the like)."""
    if not node.level:
        return node.module or ""
    base = module.name.split(".")
    base = base if module.is_package else base[:-1]
    base = base[: len(base) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


def collect_imports(module: Module) -> None:
    """Every import of a skd_ros module anywhere in `module` (functions included)."""
    for node in ast.walk(module.tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] == PACKAGE:
                    module.imports.append((node.lineno, alias.name, None))
        elif isinstance(node, ast.ImportFrom):
            source = absolute(module, node)
            if source.split(".")[0] == PACKAGE:
                for alias in node.names:
                    module.imports.append((node.lineno, source, alias.name))


@cache
def modules() -> dict[str, Module]:
    """Every module of skd_ros by dotted name, parsed, with its skd_ros imports."""
    found = {}
    for path in sorted(PACKAGE_DIR.rglob("*.py")):
        name, is_package = module_name(path)
        module = Module(name, path, is_package, ast.parse(path.read_text(), str(path)))
        collect_imports(module)
        found[name] = module
    return found


def target(source: str, name: str | None, known: dict[str, Module]) -> str | None:
    """The skd_ros module an import makes this one depend on: the submodule when `name` is
    one, else the module it is taken from (None for names outside the known modules)."""
    if name is not None and f"{source}.{name}" in known:
        return f"{source}.{name}"
    return source if source in known else None


def dependency_graph() -> dict[str, dict[str, int]]:
    """module -> {module it imports: first line of such an import}."""
    known = modules()
    graph: dict[str, dict[str, int]] = {name: {} for name in known}
    for name, module in known.items():
        for line, source, imported in module.imports:
            other = target(source, imported, known)
            if other is not None and other != name:
                graph[name].setdefault(other, line)
    return graph


def strongly_connected(graph: dict[str, dict[str, int]]) -> list[list[str]]:
    """Tarjan's strongly connected components of more than one module (the import cycles)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for other in graph[node]:
            if other not in index:
                visit(other)
                low[node] = min(low[node], low[other])
            elif other in on_stack:
                low[node] = min(low[node], index[other])
        if low[node] == index[node]:
            component = []
            while (member := stack.pop()) != node:
                on_stack.discard(member)
                component.append(member)
            on_stack.discard(node)
            component.append(node)
            if len(component) > 1:
                components.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return components


def describe_cycle(component: list[str], graph: dict[str, dict[str, int]]) -> str:
    """Each import inside one cycle, as `a (line n) -> b`."""
    members = set(component)
    edges = [
        f"{name}:{line} -> {other}"
        for name in component
        for other, line in sorted(graph[name].items())
        if other in members
    ]
    return "; ".join(edges)


def is_private(name: str) -> bool:
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


def private_imports(module: Module, known: dict[str, Module]) -> list[str]:
    """`path:line name` for each underscore-prefixed name `module` takes from another one."""
    found = []
    where = module.path.relative_to(PACKAGE_DIR.parent)
    module_aliases: dict[str, str] = {}
    for line, source, name in module.imports:
        dotted = source if name is None else f"{source}.{name}"
        if any(is_private(part) for part in dotted.split(".")) and source != module.name:
            found.append(f"{where}:{line} imports {dotted}")
        if name is not None and f"{source}.{name}" in known:
            module_aliases[name] = f"{source}.{name}"
    for node in ast.walk(module.tree):  # module.attribute, where module is an skd_ros one
        if (
            isinstance(node, ast.Attribute)
            and isinstance(node.value, ast.Name)
            and node.value.id in module_aliases
            and is_private(node.attr)
        ):
            found.append(f"{where}:{node.lineno} uses {module_aliases[node.value.id]}.{node.attr}")
    return found


def defines_main(module: Module) -> bool:
    return any(
        isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name == "main"
        for node in module.tree.body
    )


def test_the_package_is_found():
    assert f"{PACKAGE}.ros.node" in modules()
    assert any(imports for module in modules().values() for imports in module.imports)


def test_no_import_cycle_among_skd_ros_modules():
    graph = dependency_graph()
    cycles = [describe_cycle(c, graph) for c in strongly_connected(graph)]
    assert not cycles, "import cycles:\n" + "\n".join(cycles)


def test_no_module_takes_a_private_name_from_another():
    known = modules()
    found = [entry for module in known.values() for entry in private_imports(module, known)]
    assert not found, "private names used across modules:\n" + "\n".join(found)


def test_no_module_is_over_the_line_limit():
    lengths = {m.path: len(m.path.read_text().splitlines()) for m in modules().values()}
    over = [
        f"{path.relative_to(PACKAGE_DIR.parent)}: {count} lines"
        for path, count in sorted(lengths.items())
        if count > MAX_LINES
    ]
    assert not over, f"modules over {MAX_LINES} lines:\n" + "\n".join(over)


def test_the_node_package_holds_no_tool():
    tools = [
        name
        for name, module in modules().items()
        if name.startswith(f"{NODE_PACKAGE}.") and name != NODE_MODULE and defines_main(module)
    ]
    assert not tools, (
        f"modules with a main() in {NODE_PACKAGE} (tools go to skd_ros.tools): {tools}"
    )


def test_the_cycle_finder_finds_a_cycle():
    graph = {"a": {"b": 1}, "b": {"c": 2}, "c": {"a": 3}, "d": {"a": 4}}
    assert strongly_connected(graph) == [["a", "b", "c"]]
    assert describe_cycle(["a", "b", "c"], graph) == "a:1 -> b; b:2 -> c; c:3 -> a"


def _parsed(name: str, source: str, is_package: bool = False) -> Module:
    path = PACKAGE_DIR.joinpath(*name.split(".")[1:]).with_suffix(".py")
    module = Module(name, path, is_package, ast.parse(source))
    collect_imports(module)
    return module


def test_the_private_name_finder_sees_imports_and_module_attributes():
    known = {name: _parsed(name, "") for name in ("skd_ros.a", "skd_ros.pkg.b")}
    source = (
        "from skd_ros.a import _hidden, shown\n"
        "def f():\n"
        "    from skd_ros.pkg import b\n"
        "    return b._inner(), b.__doc__\n"
    )
    found = private_imports(_parsed("skd_ros.c", source), known)
    assert found == [
        "skd_ros/c.py:1 imports skd_ros.a._hidden",
        "skd_ros/c.py:4 uses skd_ros.pkg.b._inner",
    ]


def test_relative_imports_resolve_to_the_modules_they_name():
    module = _parsed("skd_ros.pkg.c", "from . import b\nfrom ..a import x\n")
    assert module.imports == [(1, "skd_ros.pkg", "b"), (2, "skd_ros.a", "x")]
    package = _parsed("skd_ros.pkg", "from .b import y\n", is_package=True)
    assert package.imports == [(1, "skd_ros.pkg.b", "y")]


def ros_imports(module: Module) -> set[str]:
    """The ROS packages (rclpy, launch, *_msgs, *_interfaces) `module` imports anywhere."""
    found = set()
    for node in ast.walk(module.tree):
        names = [a.name for a in node.names] if isinstance(node, ast.Import) else []
        if isinstance(node, ast.ImportFrom) and not node.level and node.module:
            names = [node.module]
        for name in names:
            top = name.split(".")[0]
            if top in ROS_PACKAGES or top.endswith(("_msgs", "_interfaces")):
                found.add(top)
    return found


def test_only_the_ros_layer_imports_ros():
    outside = {
        name: sorted(ros_imports(module))
        for name, module in modules().items()
        if not any(name == layer or name.startswith(layer + ".") for layer in ROS_LAYER)
        and ros_imports(module)
    }
    assert not outside, f"ROS imported outside {ROS_LAYER}: {outside}"
    assert ros_imports(modules()[NODE_MODULE]) >= {"rclpy", "sensor_msgs"}
