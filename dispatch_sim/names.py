"""Township and team names as people write them: 东栅街道, 东栅, 东栅街道办事处 and Dongzha are one team.

Platform exports, Shapefile attributes and scenario files spell a township with or without its
suffix (街道, 镇, 办事处, 执法中队 ...) and sometimes in English; :func:`team_lookup` builds every
variant of a scenario's team names once and :func:`match_team` finds a team by any of them.
"""

from __future__ import annotations

import math


def _name_variants(name: str) -> set[str]:
    n = name.strip()
    out = {n, n.lower()}
    for suf in ("街道办事处", "街道", "镇", "乡", "办事处", "执法中队", "中队", "综合行政执法队", "执法队"):
        if n.endswith(suf) and len(n) > len(suf):
            out.add(n[: -len(suf)])
    return out


def team_lookup(scenario) -> dict[str, int]:
    """Township/team names as logs write them → team index (name, English name, name without 街道/镇)."""
    out: dict[str, int] = {}
    for i, t in enumerate(scenario.teams):
        for n in [t.name] + ([t.name_en] if t.name_en else []):
            for v in _name_variants(n):
                out.setdefault(v, i)
                out.setdefault(v.lower(), i)
    return out


def match_team(name, lookup: dict[str, int]) -> int:
    """Index of the team a log's township or team cell names, -1 when none."""
    if name is None or (isinstance(name, float) and math.isnan(name)):
        return -1
    for v in _name_variants(str(name)):
        if v in lookup:
            return lookup[v]
        if v.lower() in lookup:
            return lookup[v.lower()]
    return -1
