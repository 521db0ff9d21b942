"""``dispatch-sim check``: JUnit XML, one test case per scenario × area × target."""

from __future__ import annotations

from pathlib import Path
from xml.sax.saxutils import escape, quoteattr

from ..io import write_text_atomic


def write_check(path, cases, standin_label: str) -> Path:
    """JUnit XML for ``check``: one test case per scenario × area (district, each township) × target.

    ``cases`` holds ``(scenario name, scenario path, TargetResult, on stand-in)``. A missed target is a
    ``<failure>``; an undecided one (too few reports) is ``<skipped>``, shown by CI as not passed.
    """
    fails = sum(c[2].status == "missed" for c in cases)
    skipped = sum(c[2].status == "undecided" for c in cases)
    xml = ['<?xml version="1.0" encoding="UTF-8"?>',
           f'<testsuite name="dispatch-sim check" tests="{len(cases)}" failures="{fails}" skipped="{skipped}">']
    for _name, spath, row, standin in cases:
        xml.append(f"  <testcase classname={quoteattr(spath)} name={quoteattr(row.name)}>")
        if row.status == "missed":
            msg = f"required {row.required}, judged {row.value}, estimate {row.estimate}"
            xml.append(f"    <failure message={quoteattr(msg)}/>")
        elif row.status == "undecided":
            xml.append(f"    <skipped message={quoteattr(row.reason or 'undecided')}/>")
        if standin:
            xml.append(f"    <system-out>{escape(standin_label)}</system-out>")
        xml.append("  </testcase>")
    xml.append("</testsuite>\n")
    return write_text_atomic(path, "\n".join(xml))
