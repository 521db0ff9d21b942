"""The report a Chinese planner reads and shares: language, offline map, clock times, provenance."""

from __future__ import annotations

import hashlib
import json
import re

import pandas as pd
import pytest

from dispatch_sim import World, run_scenario, scenario_from_dict
from dispatch_sim.i18n import LANGS, MESSAGES, catalog
from dispatch_sim.output import write_run

from .conftest import small_scenario


@pytest.fixture(scope="module")
def run_zh(small_world, tmp_path_factory):
    data = small_scenario(report={"lang": "zh"}, targets={"on_time_rate_min": 0.9},
                          demand={"reports_per_day": 90}, run={"horizon_days": 3, "replications": 2, "seed": 5,
                                                               "start_date": "2026-03-02"})
    for t, zh in zip(data["teams"], ("南湖街道", "建设街道", "凤桥镇")):
        t["name"] = zh
    sc = scenario_from_dict(data, "small_zh.yaml")
    w = World(sc, G=small_world.G, router=small_world.router)
    run = run_scenario(w)
    out = tmp_path_factory.mktemp("zh")
    paths = write_run(run, out)
    return run, out, paths


def test_every_message_exists_in_both_languages():
    assert LANGS == ("zh", "en")
    for key, texts in MESSAGES.items():
        assert len(texts) == 2 and all(t.strip() for t in texts), key
        en_fields = set(re.findall(r"{(\w+)", texts[0]))
        zh_fields = set(re.findall(r"{(\w+)", texts[1]))
        assert en_fields == zh_fields, key  # the same numbers go into both
    with pytest.raises(ValueError):
        catalog("fr")


def test_chinese_report_speaks_chinese_and_names_teams_as_written(run_zh):
    run, out, paths = run_zh
    page = (out / "report.html").read_text(encoding="utf-8")
    assert '<html lang="zh-CN">' in page
    for key in ("h.townships", "h.map", "h.targets", "h.causes", "h.accounting", "banner.standin"):
        assert catalog("zh")(key).split("（")[0][:8] in page, key
    assert "南湖街道" in page and "凤桥镇" in page
    s = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    assert s["verdict"]["lang"] == "zh" and s["verdict"]["text"].startswith("承诺")
    assert s["verdict"]["text_en"].split(" ")[0] in ("HOLDS", "BREAKS", "UNDECIDED")


def test_report_is_one_offline_file_with_an_interactive_map(run_zh):
    run, out, paths = run_zh
    page = (out / "report.html").read_text(encoding="utf-8")
    assert not re.search(r"(src|href)\s*=\s*[\"']?(https?:)?//", page)  # nothing fetched from a server
    assert "http://" not in page and "https://" not in page
    assert page.count("<svg") == 1 and "data-layer=\"late\"" in page and "addEventListener(\"wheel\"" in page
    inc = run.incidents
    late = inc[~inc["warmup"] & inc["promise"] & (inc["on_time"] == False)]  # noqa: E712
    svg_late = re.search(r'<g data-layer="late"[^>]*>(.*?)</g>', page, re.S).group(1)
    assert svg_late.count("<circle") == len(late) > 0  # every late report is on the map
    assert (out / "report.html").stat().st_size < 8 * 2**20


def test_incidents_csv_opens_in_excel_with_clock_times_that_match_the_minutes(run_zh):
    run, out, paths = run_zh
    df = pd.read_csv(out / "incidents.csv", encoding="utf-8-sig")
    assert set(df["home_team"]) <= {"南湖街道", "建设街道", "凤桥镇"}
    row = df.dropna(subset=["arrived_min"]).iloc[5]
    t0 = pd.Timestamp("2026-03-02T00:00:00+08:00")
    for col in ("created", "arrived"):
        got = pd.Timestamp(row[f"{col}_at"])
        assert abs((got - t0).total_seconds() / 60.0 - row[f"{col}_min"]) < 1 / 60 + 1e-6
    assert str(row["created_at"]).endswith("+08:00")


def test_summary_carries_provenance(run_zh):
    run, out, paths = run_zh
    s = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    sc = run.world.scenario
    assert s["scenario_sha256"] == hashlib.sha256(sc.model_dump_json().encode()).hexdigest()
    assert s["version"] and s["run_date"][:4].isdigit()
    page = (out / "report.html").read_text(encoding="utf-8")
    assert s["scenario_sha256"][:12] in page and s["version"] in page
