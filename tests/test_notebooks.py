"""The notebooks run top to bottom on the public API (and are stored without outputs)."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest

NB = sorted((Path(__file__).resolve().parents[1] / "notebooks").glob("*.ipynb"))


@pytest.mark.slow
@pytest.mark.parametrize("path", NB, ids=[p.stem for p in NB])
def test_notebook_runs(path):
    from nbclient import NotebookClient

    nb = nbformat.read(path, as_version=4)
    assert all(not c.get("outputs") for c in nb.cells if c.cell_type == "code"), "commit notebooks without outputs"
    NotebookClient(nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(path.parent)}}).execute()
    errors = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", []) if o.get("output_type") == "error"]
    assert not errors


def test_the_notebooks_are_the_documented_set():
    assert [p.stem[:2] for p in NB] == ["01", "02", "03", "04", "06"]  # 05 (calibration) comes with issue 16
