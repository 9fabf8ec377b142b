"""The layers hold: common → domains → pipelines → cli, never the reverse; domains never import each other.

Every ``import``/``from`` statement in the package (module level or inside a function) is read with
``ast``, so a lazy import inside a function is caught as well.
"""
import ast
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
ORDER = ("common", "domains", "pipelines", "cli")


def _imports(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    names = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names += [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.append(node.module)
    return names


def _violations(root: Path, layer: str) -> list[str]:
    allowed = set(ORDER[: ORDER.index(layer) + 1])
    bad = []
    for path in sorted((root / layer).rglob("*.py")):
        rel = path.relative_to(root)
        for name in _imports(path):
            parts = name.split(".")
            if parts[0] != "sciffusion" or len(parts) < 2 or parts[1] not in ORDER:
                continue
            if parts[1] not in allowed:
                bad.append(f"{rel}: imports {name}")
            elif layer == "domains" and parts[1] == "domains" and len(parts) > 2 and parts[2] != rel.parts[1]:
                bad.append(f"{rel}: imports another domain, {name}")
    return bad


@pytest.mark.parametrize("layer", ORDER)
def test_no_layer_imports_a_layer_above_it(layer):
    assert _violations(REPO, layer) == []


def test_the_check_sees_a_violation(tmp_path):
    """Negative control: a domain module importing a pipeline (lazily) and another domain is reported."""
    fake = tmp_path / "domains" / "video"
    fake.mkdir(parents=True)
    (fake / "bad.py").write_text("def f():\n    import sciffusion.pipelines.demo_mnist\n"
                                 "from sciffusion.domains.docking import torsions\n")
    assert sorted(_violations(tmp_path, "domains")) == [
        "domains/video/bad.py: imports another domain, sciffusion.domains.docking",
        "domains/video/bad.py: imports sciffusion.pipelines.demo_mnist"]
