"""Imports point one way: no circles; the core <- the single-label DCN (`classifier`) <- the
families, none of which imports another; the data layer imports no model; model code imports
no TFX; plots import no benchmark; imports sit at the top of a module unless a comment there
says why."""

import ast
import pathlib
import subprocess
import sys

REPO = pathlib.Path(__file__).resolve().parents[1]
PACKAGES = ("dcn_keras", "dcn_keras_cli", "components", "pipeline")
FAMILIES = ("dcn_keras.cluttered_mnist", "dcn_keras.house_numbers",
            "dcn_keras.megapixel_mnist", "dcn_keras.from_networks")
# The DCN that gives one class per image, which the families build on.
CLASSIFIER = "dcn_keras.classifier"
# What builds on the families: the registry, the experiment runner, the CLI.
ABOVE_THE_FAMILIES = ("dcn_keras.presets", "dcn_keras.experiments", "dcn_keras_cli")


def _modules() -> dict[str, pathlib.Path]:
    modules = {}
    for package in PACKAGES:
        for path in (REPO / package).rglob("*.py"):
            name = ".".join(path.relative_to(REPO).with_suffix("").parts)
            modules[name.removesuffix(".__init__")] = path
    return modules


MODULES = _modules()


def _imports(path: pathlib.Path) -> list[tuple[str, bool]]:
    """(module imported, whether at the top of the module) for each import of ours."""
    tree = ast.parse(path.read_text())
    top = {id(node) for node in tree.body}
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            subs = [f"{node.module}.{alias.name}" for alias in node.names]
            names = [name for name in subs if name in MODULES] or [node.module]
        else:
            continue
        found += [(name, id(node) in top) for name in names
                  if name.split(".")[0] in PACKAGES]
    return found


def _family(name: str) -> str | None:
    """The family that module `name` belongs to, or None."""
    return next((family for family in FAMILIES
                 if name == family or name.startswith(f"{family}.")), None)


def _graph() -> dict[str, set[str]]:
    return {name: {imported for imported, _ in _imports(path) if imported in MODULES
                   and imported != name} for name, path in MODULES.items()}


def test_there_are_no_import_circles():
    graph, state, circles = _graph(), {}, []

    def visit(name, trail):
        state[name] = "open"
        for imported in sorted(graph[name]):
            if state.get(imported) == "open":
                circles.append(trail[trail.index(imported):] + [imported])
            elif imported not in state:
                visit(imported, trail + [imported])
        state[name] = "done"

    for name in sorted(graph):
        if name not in state:
            visit(name, [name])
    assert not circles


def test_layers_import_only_what_lies_below_them():
    wrong = []
    for name, imported in ((n, i) for n, targets in _graph().items() for i in targets):
        if name.startswith("dcn_keras.data") and imported.startswith((*FAMILIES, CLASSIFIER)):
            wrong.append(f"the data layer ({name}) imports a model ({imported})")
        if name.startswith("dcn_keras") and imported.startswith(("components", "pipeline")):
            wrong.append(f"model code ({name}) imports the TFX layer ({imported})")
        if name == "dcn_keras.visualize" and imported.startswith((*FAMILIES, CLASSIFIER,
                                                                  "dcn_keras.measure")):
            wrong.append(f"plotting imports {imported}")
        if name.startswith("dcn_keras.core") and imported.startswith((*FAMILIES, CLASSIFIER)):
            wrong.append(f"the shared core ({name}) imports a model ({imported})")
        if name.startswith(CLASSIFIER) and imported.startswith((*FAMILIES, *ABOVE_THE_FAMILIES)):
            wrong.append(f"the single-label DCN ({name}) imports a model family or what "
                         f"lies above the families ({imported})")
        family, other = _family(name), _family(imported)
        if family and other and family != other:
            wrong.append(f"the family {family} imports another family ({imported})")
    assert not wrong


def test_model_code_never_imports_tfx():
    for name, path in MODULES.items():
        if name.startswith("dcn_keras"):
            tree = ast.parse(path.read_text())
            for node in ast.walk(tree):
                if isinstance(node, (ast.Import, ast.ImportFrom)):
                    modules = ([a.name for a in node.names] if isinstance(node, ast.Import)
                               else [node.module or ""])
                    assert not any(m.split(".")[0] in ("tfx", "ml_metadata") for m in modules), name


def test_our_imports_inside_functions_are_only_where_start_up_cost_says_so():
    # The CLI parses before it loads the commands' modules (and TensorFlow with them).
    allowed = {"dcn_keras_cli.cli"}
    late = sorted({f"{name} imports {imported}" for name, path in MODULES.items()
                   if name not in allowed for imported, at_top in _imports(path)
                   if not at_top})
    assert not late


def test_the_command_line_parses_before_tensorflow_loads():
    code = ("import sys; from dcn_keras_cli import cli; cli.build_parser().parse_args("
            "['train', '--data', 'd', '--model', 'dcn', '--out', 'm.keras']); "
            "print(sorted(m for m in ('dcn_keras', 'tensorflow', 'keras') if m in sys.modules))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          cwd=REPO, check=True)
    assert done.stdout.strip() == "[]"
