"""The shipped scenarios give byte-identical outputs to the golden files (see tests/golden/make_golden.py)."""

from __future__ import annotations

import pytest

from tests.golden.make_golden import HERE, SCENARIOS, golden_outputs


@pytest.mark.parametrize("name", SCENARIOS)
def test_shipped_scenario_outputs_are_byte_identical_to_the_golden_files(name):
    got = golden_outputs(name)
    for fname, data in got.items():
        want = (HERE / f"{name[:-5]}.{fname}").read_bytes()
        assert data == want, (f"{name}: {fname} differs from tests/golden; if the change is meant, rebuild "
                              "with 'python tests/golden/make_golden.py' and say why in the commit")
