"""The notebooks run top to bottom on the public API (and are stored without outputs), and show their
figures the way Jupyter shows them."""

from __future__ import annotations

import os
import re
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
NB = sorted((ROOT / "notebooks").glob("*.ipynb"))


#: The last line of a cell that ends by showing a figure: ``plot.xxx_figure(...)``, ``figs["x.png"]`` or
#: ``logpages.xxx_figures(...)["x.png"]``.
SHOWS = re.compile(r"^(plot\.|figs\[|logpages\.\w+_figures\()")


def _draws(nb) -> bool:
    return any("plot." in c.source or "_figures(" in c.source for c in nb.cells if c.cell_type == "code")


@pytest.mark.slow
@pytest.mark.parametrize("path", NB, ids=[p.stem for p in NB])
def test_notebook_runs(path, monkeypatch):
    from nbclient import NotebookClient

    # The kernel gets this checkout's package (not another installed copy) and Jupyter's own default
    # backend (the suite's MPLBACKEND=Agg would hide exactly what this test looks for).
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])))
    monkeypatch.delenv("MPLBACKEND", raising=False)
    nb = nbformat.read(path, as_version=4)
    assert all(not c.get("outputs") for c in nb.cells if c.cell_type == "code"), "commit notebooks without outputs"
    NotebookClient(nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(path.parent)}}).execute()
    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])]
    errors = [o for o in outputs if o.get("output_type") == "error"]
    assert not errors
    if _draws(nb):
        images = [o for o in outputs if "image/png" in o.get("data", {})]
        assert images, f"{path.name} draws figures but shows none"
        shown = [c for c in nb.cells if c.cell_type == "code" and SHOWS.match(c.source.strip().splitlines()[-1])]
        assert all(any("image/png" in o.get("data", {}) for o in c.outputs) for c in shown), \
            "a cell ending with a figure shows no image"
    text = "".join(str(o.get("text", "")) + str(o.get("data", {}).get("text/plain", "")) for o in outputs)
    assert "Glyph" not in text and "missing from font" not in text


def test_the_notebooks_are_the_documented_set():
    assert [p.stem[:2] for p in NB] == ["01", "02", "03", "04", "05", "06"]
