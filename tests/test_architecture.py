"""The package's shape stays easy to see: no import cycle, one declaration of the dispatch state, and
the documented extension points name at most two files each."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import networkx as nx

from .conftest import ROOT

PKG = ROOT / "dispatch_sim"


def _module(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _type_checking_lines(tree: ast.AST) -> set[int]:
    """Lines inside ``if TYPE_CHECKING:`` blocks (annotations only, never run)."""
    lines: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            for sub in ast.walk(node):
                if hasattr(sub, "lineno"):
                    lines.add(sub.lineno)
    return lines


def import_graph() -> nx.DiGraph:
    """Module → module it imports, for every import in the package (top level and inside functions),
    except those under ``if TYPE_CHECKING``. ``from . import x`` is an edge to the submodule ``x``."""
    mods = {_module(p): p for p in PKG.rglob("*.py")}
    g = nx.DiGraph()
    g.add_nodes_from(mods)
    for m, p in mods.items():
        pkg = m if p.name == "__init__.py" else m.rsplit(".", 1)[0]
        tree = ast.parse(p.read_text(encoding="utf-8"))
        skip = _type_checking_lines(tree)
        for node in ast.walk(tree):
            if getattr(node, "lineno", None) in skip:
                continue
            if isinstance(node, ast.ImportFrom):
                if node.level:
                    base = pkg.split(".")[: len(pkg.split(".")) - (node.level - 1)]
                    target = ".".join(base + ([node.module] if node.module else []))
                else:
                    target = node.module or ""
                subs = [f"{target}.{a.name}" for a in node.names if f"{target}.{a.name}" in mods]
                targets = subs or [target]
            elif isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            else:
                continue
            g.add_edges_from((m, t) for t in targets if t in mods and t != m)
    return g


def test_the_package_has_no_import_cycle():
    g = import_graph()
    assert g.number_of_edges() > 50  # the graph really was read
    cycles = list(nx.simple_cycles(g))
    assert not cycles, "import cycles: " + "; ".join(" -> ".join(c) for c in cycles[:5])


def test_the_simulation_never_imports_the_world_it_runs_in():
    """sim/ talks to World through the attributes it is handed, not by importing model.py."""
    g = import_graph()
    sim = [m for m in g if m.startswith("dispatch_sim.sim")]
    assert len(sim) >= 5
    for m in sim:
        assert not any(t in ("dispatch_sim.model", "dispatch_sim.experiments", "dispatch_sim.cli") for t in g[m]), m


def test_crew_states_and_column_layouts_are_declared_once():
    """No module but sim/layout.py assigns the state numbers (IDLE/BUSY/OFF, column indices) itself."""
    pattern = re.compile(r"^\s*(IDLE|BUSY|OFF)\b[^=\n]*=\s*\d|^[A-Z_, ]+=\s*range\(\d+\)\s*$"
                         r"|^\s*(POLICY_CODES|QUEUE_CODES)\s*=", re.M)
    offenders = [str(p.relative_to(ROOT)) for p in PKG.rglob("*.py")
                 if p.name != "layout.py" and pattern.search(p.read_text(encoding="utf-8"))]
    assert not offenders, offenders
    grid = [p.name for p in PKG.rglob("*.py") if re.search(r"^BAND_RES_MIN\s*=", p.read_text(encoding="utf-8"), re.M)]
    assert grid == ["speeds.py"], grid  # the time-band grid, with the bands


def test_extension_docs_name_at_most_two_files_per_extension_point():
    """docs/extending.md: a policy, a figure and a graph source each name one or two files, and they exist."""
    text = (ROOT / "docs" / "extending.md").read_text(encoding="utf-8")
    sections = {sec.splitlines()[0].strip(): sec for sec in re.split(r"^## ", text, flags=re.M)[1:]}
    for required in ("A dispatch policy", "A figure", "A graph source"):
        assert required in sections, required
    for title, sec in sections.items():
        line = next((ln for ln in sec.splitlines() if ln.startswith("Files:")), None)
        if line is None:
            continue
        files = re.findall(r"`(dispatch_sim/[\w/]+\.py)`", line)
        assert 1 <= len(files) <= 2, (title, files)
        for f in files:
            assert (ROOT / f).exists(), f
