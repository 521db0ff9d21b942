"""Outputs planners can open and share: file modes, Excel-readable CSV, Chinese in figures, figures that
show in notebooks and leave matplotlib's global state alone, readable charts, labels that never collide."""

from __future__ import annotations

import csv
import io
import os
import stat
import subprocess
import sys
import warnings
from itertools import combinations
from pathlib import Path

import numpy as np
import pytest
import yaml

from .conftest import ROOT, small_scenario

#: Chinese team names, placed like Nanhu's old town (bases within 2 km of each other).
ZH_TEAMS = [
    {"name": "解放街道", "name_en": "Jiefang", "base": {"lon": 120.76328, "lat": 30.77817}, "crews": 1},
    {"name": "建设街道", "name_en": "Jianshe", "base": {"lon": 120.760, "lat": 30.757}, "crews": 1, "unverified": True},
    {"name": "新嘉街道", "name_en": "Xinjia", "base": {"lon": 120.750, "lat": 30.770}, "crews": 1, "unverified": True},
    {"name": "南湖街道", "name_en": "Nanhu", "base": {"lon": 120.770, "lat": 30.748}, "crews": 1, "unverified": True},
    {"name": "新兴街道", "name_en": "Xinxing", "base": {"lon": 120.740, "lat": 30.750}, "crews": 1, "unverified": True},
    {"name": "东栅街道", "name_en": "Dongzha", "base": {"lon": 120.78594, "lat": 30.76113}, "crews": 1},
]


def _zh_scenario(**over) -> dict:
    """A small stand-in over the whole district, so the old-town bases are as close on paper as on the
    Nanhu maps."""
    graph = {"source": "stand-in", "bbox": [120.65, 30.60, 120.98, 30.85], "standin_nodes": 1500, "standin_seed": 2}
    return small_scenario(teams=ZH_TEAMS, graph=graph, report={"lang": "zh"}, **over)


def _mode(p: Path) -> int:
    return stat.S_IMODE(p.stat().st_mode)


@pytest.fixture()
def umask():
    """Set the process umask for one test (subprocesses inherit it), then restore it."""
    old = os.umask(0o022)
    os.umask(old)
    yield os.umask
    os.umask(old)


@pytest.fixture(scope="module")
def zh_world():
    from dispatch_sim import World, scenario_from_dict

    return World(scenario_from_dict(_zh_scenario()))


# --------------------------------------------------------------------------- files others can open

@pytest.mark.slow
def test_every_file_of_a_run_and_its_caches_is_0644_under_umask_022(tmp_path, umask):
    """A colleague or a web server can read report.html, the figures and a shared cache."""
    umask(0o022)
    scen = tmp_path / "zh.yaml"
    scen.write_text(yaml.safe_dump(_zh_scenario(targets={"on_time_rate_min": 0.2}), allow_unicode=True),
                    encoding="utf-8")
    out, cache = tmp_path / "out", tmp_path / "cache"  # a fresh cache: the run writes graph and router caches
    env = {**os.environ, "PYTHONPATH": str(ROOT), "DISPATCH_SIM_CACHE": str(cache)}
    r = subprocess.run([sys.executable, "-m", "dispatch_sim", "run", str(scen), "--out", str(out), "--workers", "1"],
                       capture_output=True, text=True, env=env, cwd=tmp_path)
    assert r.returncode in (0, 1), r.stderr
    files = [p for p in [*out.rglob("*"), *cache.rglob("*")] if p.is_file()]
    names = {p.name for p in files}
    assert {"summary.json", "incidents.csv", "report.html", "map.png", "utilization.png"} <= names
    assert {"header.json", "attrs.json"} <= names and any(n.endswith(".npy") for n in names), names  # network + router caches
    assert {str(p.relative_to(tmp_path)): oct(_mode(p)) for p in files if _mode(p) != 0o644} == {}
    dirs = [p for p in [*out.rglob("*"), *cache.rglob("*")] if p.is_dir()]
    assert {str(p.relative_to(tmp_path)): oct(_mode(p)) for p in dirs if _mode(p) != 0o755} == {}
    assert not [p for p in files if p.name.endswith(".part") or p.name.startswith(".")], "temporary files left"

    # Excel-style reading (utf-8-sig) of incidents.csv gives the Chinese team names
    raw = (out / "incidents.csv").read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    with open(out / "incidents.csv", encoding="utf-8-sig", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert "replication" in rows[0]  # the BOM is not glued to the first header
    assert {row["home_team"] for row in rows} <= {t["name"] for t in ZH_TEAMS}
    assert {row["team"] for row in rows if row["team"]} & {t["name"] for t in ZH_TEAMS}


@pytest.mark.parametrize("mask, fmode, dmode", [(0o022, 0o644, 0o755), (0o027, 0o640, 0o750), (0o077, 0o600, 0o700)])
def test_atomic_writers_follow_the_umask(tmp_path, umask, mask, fmode, dmode):
    """0666 & ~umask for files, 0777 & ~umask for folders, as open() and mkdir() would give."""
    from dispatch_sim import io as dio

    umask(mask)
    assert dio.current_umask() == mask
    reference = tmp_path / "plain.txt"
    reference.write_text("x")  # what an ordinary write gives: the second way of computing the mode
    assert _mode(reference) == fmode
    written = [dio.write_bytes_atomic(tmp_path / "a.bin", b"x"), dio.write_text_atomic(tmp_path / "t.txt", "南湖"),
               dio.write_json_atomic(tmp_path / "j.json", {"a": float("nan")})]
    with dio.atomic_path(tmp_path / "g.graphml") as tmp:
        tmp.write_text("<graphml/>")
    with dio.atomic_dir(tmp_path / "matrices") as d:
        np.save(d / "m.npy", np.zeros(3))
    for p in [*written, tmp_path / "g.graphml", tmp_path / "matrices" / "m.npy"]:
        assert _mode(p) == fmode, p
    assert _mode(tmp_path / "matrices") == dmode
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.bin", "g.graphml", "j.json", "matrices", "plain.txt", "t.txt"]


def test_a_failed_write_leaves_the_old_file_and_no_temporary(tmp_path):
    from dispatch_sim import io as dio

    target = tmp_path / "g.graphml"
    target.write_text("old")
    with pytest.raises(RuntimeError), dio.atomic_path(target) as tmp:
        tmp.write_text("half")
        raise RuntimeError("crash while writing")
    with pytest.raises(RuntimeError), dio.atomic_dir(tmp_path / "m") as d:
        (d / "x.npy").write_bytes(b"half")
        raise RuntimeError("crash while writing")
    assert target.read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["g.graphml"]


def test_csv_is_utf8_with_bom_and_reads_back_in_pandas(tmp_path):
    import pandas as pd

    from dispatch_sim.io import write_csv_atomic

    df = pd.DataFrame({"team": ["南湖街道", "凤桥镇"], "x": [1.0, 2.5]})
    p = write_csv_atomic(tmp_path / "t.csv", df)
    assert p.read_bytes()[:3] == b"\xef\xbb\xbf"
    assert p.read_bytes()[3:].decode("utf-8").startswith("team,x")
    assert pd.read_csv(p)["team"].tolist() == ["南湖街道", "凤桥镇"]


def test_figures_are_saved_at_150_dpi_or_more(tmp_path, zh_world):
    from PIL import Image

    from dispatch_sim import plot
    from dispatch_sim.io import savefig_atomic

    fig = plot.utilization_figure({"by_team": {}}, zh_world.scenario)
    p = savefig_atomic(fig, tmp_path / "u.png")
    with Image.open(p) as im:
        assert min(im.info["dpi"]) >= 149.9  # the PNG's own resolution record
        assert im.size[0] >= 150 * 6  # a 7-inch-wide chart, less the trimmed margins


# ------------------------------------------------------------------------------- Chinese in figures

def _glyph_warnings(record) -> list[str]:
    return [str(w.message) for w in record if "missing from font" in str(w.message) or "Glyph" in str(w.message)]


def test_the_chinese_font_comes_from_a_declared_dependency():
    """Installed by `pip install -e .` alone: the font package is in pyproject's dependencies and the
    font matplotlib uses is its file (not a font that happens to be on this machine)."""
    import tomllib

    from matplotlib import font_manager as fm

    from dispatch_sim import fonts

    deps = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]["dependencies"]
    assert any(d.split(">")[0].split("=")[0].strip() == "pylopdf-fonts-zh-cn" for d in deps)
    assert fonts.cjk_family() == "Noto Sans SC"
    path = fm.findfont(fm.FontProperties(family="Noto Sans SC"), fallback_to_default=False)
    assert "pylopdf_fonts_zh_cn" in path


def test_chinese_names_draw_without_missing_glyph_warnings(zh_world):
    from dispatch_sim import plot

    summary = {"by_team": {t.name: {"utilization": 0.01 * (i + 1)} for i, t in enumerate(zh_world.scenario.teams)}}
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        for fig in (plot.map_figure(zh_world, lang="zh"), plot.utilization_figure(summary, zh_world.scenario, lang="zh")):
            fig.savefig(io.BytesIO(), format="png")
    assert _glyph_warnings(record) == []
    texts = [t.get_text() for t in fig.axes[0].get_yticklabels()]
    assert texts == [t["name"] for t in ZH_TEAMS]  # names as written in the scenario, not name_en


def test_the_glyph_check_would_catch_tofu():
    """The same Chinese text drawn with a Latin-only font does warn: the check above can fail."""
    import matplotlib
    from matplotlib.figure import Figure

    with warnings.catch_warnings(record=True) as record, matplotlib.rc_context({"font.family": ["DejaVu Sans"]}):
        warnings.simplefilter("always")
        fig = Figure()
        fig.suptitle("南湖街道")
        fig.savefig(io.BytesIO(), format="png")
    assert _glyph_warnings(record)


def test_without_a_cjk_font_labels_fall_back_to_english_names(monkeypatch):
    from dispatch_sim import fonts

    monkeypatch.setattr(fonts, "font_family", lambda: [fonts.LATIN_FAMILY])
    fonts._ft2fonts.cache_clear()
    assert fonts.label("南湖街道", "Nanhu", "zh") == "Nanhu"
    assert fonts.label("南湖街道", None, "zh") == "南湖街道"  # nothing better to show
    assert fonts.label("Helsinki", None, "zh") == "Helsinki"


# ------------------------------------------------------------------- no global side effects, notebooks

def test_importing_and_drawing_leave_backend_and_rcparams_alone():
    code = (
        "import matplotlib, json\n"
        "matplotlib.rcParams['font.size'] = 13.0\n"
        "snap = lambda: {k: matplotlib.rcParams._get(k) for k in list(matplotlib.rcParams.keys())}\n"
        "before = snap()  # _get: reading 'backend' the normal way would resolve it and import pyplot\n"
        "backend = matplotlib.rcParams._get('backend')\n"
        "import dispatch_sim.plot as p\n"
        "after_import = snap()\n"
        "fig = p.hourly_figure({'by_hour': [{'hour': h, 'rate': 0.9, 'ci95': [0.8, 0.95]} for h in range(24)]}, 0.9)\n"
        "fig.savefig(__import__('io').BytesIO(), format='png')\n"
        "after_draw = snap()\n"
        "diff = lambda a: sorted(k for k in before if str(before[k]) != str(a[k]))\n"
        "print(json.dumps([diff(after_import), diff(after_draw), backend == matplotlib.rcParams._get('backend'),\n"
        "                  'matplotlib.pyplot' in __import__('sys').modules]))\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "MPLBACKEND"}
    env["PYTHONPATH"] = str(ROOT)
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    assert r.returncode == 0, r.stderr
    import json

    changed_by_import, changed_by_drawing, same_backend, pyplot_imported = json.loads(r.stdout.strip().splitlines()[-1])
    assert changed_by_import == [] and changed_by_drawing == [] and same_backend
    assert not pyplot_imported  # pyplot picks a backend; the plot module never needs it


def test_figures_show_themselves_in_jupyter(zh_world):
    from dispatch_sim import plot

    fig = plot.map_figure(zh_world)
    png = fig._repr_png_()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 5000


# ----------------------------------------------------------------------------------- readable charts

def _bars(ax, gid):
    return [p for p in ax.patches if p.get_gid() == gid]


def test_utilization_axis_scales_to_the_data_and_shows_committed_when_reported(zh_world):
    from dispatch_sim import plot

    sc = zh_world.scenario
    busy = [0.004, 0.01, 0.02, 0.03, 0.04, 0.015]
    summary = {"by_team": {t.name: {"utilization": u} for t, u in zip(sc.teams, busy)}}
    ax = plot.utilization_figure(summary, sc).axes[0]
    lo, hi = ax.get_xlim()
    assert lo == 0 and max(busy) < hi <= 2 * max(busy)  # not fixed at 0–1
    assert [round(b.get_width(), 6) for b in _bars(ax, "busy")] == busy
    assert _bars(ax, "committed") == []

    committed = [u * 1.7 for u in busy]
    for t, c in zip(sc.teams, committed):
        summary["by_team"][t.name]["committed"] = c
    ax = plot.utilization_figure(summary, sc).axes[0]
    assert [round(b.get_width(), 6) for b in _bars(ax, "busy")] == busy
    assert [round(b.get_width(), 6) for b in _bars(ax, "committed")] == [round(c, 6) for c in committed]
    assert max(committed) < ax.get_xlim()[1] <= 2 * max(committed)


def test_by_hour_chart_draws_the_target_line():
    from dispatch_sim import plot

    summary = {"by_hour": [{"hour": h, "rate": 0.95, "ci95": [0.9, 0.99]} for h in range(24)],
               "targets": [{"target": "on_time_rate", "required": ">= 0.85", "passed": True}]}
    for fig, want in ((plot.hourly_figure(summary, 0.9), 0.9), (plot.hourly_figure(summary), 0.85)):
        lines = [ln for ln in fig.axes[0].get_lines() if ln.get_gid() == "target-line"]
        assert len(lines) == 1 and set(lines[0].get_ydata()) == {want}


def test_base_numbers_on_the_map_do_not_overlap_and_the_legend_names_every_team(zh_world):
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    from dispatch_sim import plot

    for make in (lambda: plot.map_figure(zh_world), lambda: plot.cells_figure(zh_world, {"features": []})):
        fig = make()
        FigureCanvasAgg(fig).draw()
        renderer = fig.canvas.get_renderer()
        ax = fig.axes[0]
        numbers = [t for t in ax.texts if t.get_gid() == "base-number"]
        assert [t.get_text() for t in numbers] == [str(i + 1) for i in range(len(ZH_TEAMS))]
        boxes = [t.get_window_extent(renderer) for t in numbers]
        assert not [(a, b) for (a, ba), (b, bb) in combinations(enumerate(boxes), 2) if ba.overlaps(bb)]
        legend = next(a for a in ax.get_children() if getattr(a, "get_gid", lambda: None)() == "bases-legend")
        labels = [t.get_text() for t in legend.get_texts()]
        assert [lab.split("（")[0] for lab in labels] == [t["name"] for t in ZH_TEAMS]
        assert sum("未核实" in lab for lab in labels) == sum(bool(t.get("unverified")) for t in ZH_TEAMS)
        # the legend sits beside the map, not over it
        assert legend.get_window_extent(renderer).x0 >= ax.get_window_extent(renderer).x1


def test_version_is_the_package_version():
    from importlib.metadata import PackageNotFoundError, version

    import dispatch_sim

    try:
        assert dispatch_sim.__version__ == version("dispatch_sim")
    except PackageNotFoundError:  # running from a source tree that is not installed
        assert dispatch_sim.__version__.endswith("+unknown")


def test_palette_png_looks_the_same_and_is_smaller(tmp_path, zh_world):
    """Maps are stored as 256-colour PNGs (report.html embeds them); pixels stay what matplotlib drew."""
    from PIL import Image

    from dispatch_sim import plot
    from dispatch_sim.io import savefig_atomic

    fig = plot.map_figure(zh_world)
    # the first draw of a map may settle its tight bounding box by a few pixels; compare later draws
    savefig_atomic(fig, tmp_path / "first.png", palette=False)
    full = savefig_atomic(fig, tmp_path / "rgba.png", palette=False)
    small = savefig_atomic(fig, tmp_path / "p.png")
    with Image.open(full) as a, Image.open(small) as b:
        assert b.mode == "P" and a.size == b.size
        da = np.asarray(a.convert("RGB"), dtype=int)
        db = np.asarray(b.convert("RGB"), dtype=int)
    diff = np.abs(da - db)
    assert diff.mean() < 1.0 and np.percentile(diff, 99.9) <= 24
    assert small.stat().st_size < 0.7 * full.stat().st_size

    fig.patch.set_alpha(0.0)  # a transparent figure keeps its alpha channel
    with Image.open(savefig_atomic(fig, tmp_path / "t.png")) as t:
        assert t.mode == "RGBA"


def test_without_any_cjk_font_figures_use_english_names_with_one_notice(tmp_path):
    """A machine where the font package is missing and no system CJK font exists: no boxes, no glyph
    warnings, English names, one notice."""
    code = r'''
import logging, sys, warnings, io, json
sys.modules["pylopdf_fonts_zh_cn"] = None  # the font package is not installed
from matplotlib import font_manager as fm
if any(n in {f.name for f in fm.fontManager.ttflist} for n in __import__("dispatch_sim.fonts").fonts.SYSTEM_CJK_FAMILIES):
    print(json.dumps("skip")); raise SystemExit
records = []
logging.getLogger("dispatch_sim").addHandler(type("H", (logging.Handler,), {"emit": lambda self, r: records.append(r)})())
from dispatch_sim import World, scenario_from_dict, plot
from tests.test_outputs import _zh_scenario
w = World(scenario_from_dict(_zh_scenario()))
with warnings.catch_warnings(record=True) as rec:
    warnings.simplefilter("always")
    for make in (lambda: plot.map_figure(w), lambda: plot.cells_figure(w, {"features": []})):
        fig = make()
        fig.savefig(io.BytesIO(), format="png")
legend = fig.axes[0].get_legend()
print(json.dumps([[t.get_text() for t in legend.get_texts()], [str(r.message) for r in rec],
                  [r.getMessage() for r in records if "Chinese font" in r.getMessage()], fig.axes[0].get_title()]))
'''
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=ROOT)
    assert r.returncode == 0, r.stderr
    import json

    out = json.loads(r.stdout.strip().splitlines()[-1])
    if out == "skip":
        pytest.skip("this machine has a system CJK font")
    labels, warns, notices, title = out
    assert [lab.split(" (")[0] for lab in labels] == [t["name_en"] for t in ZH_TEAMS]
    assert _glyph_warnings_text(warns) == []
    assert len(notices) == 1
    assert title.isascii()  # the figure text fell back to English too


def _glyph_warnings_text(messages) -> list[str]:
    return [m for m in messages if "missing from font" in m or "Glyph" in m]


def test_every_figure_text_exists_in_both_languages_with_the_same_fields():
    import string

    from dispatch_sim.plot import FIGURE_MESSAGES

    def fields(text):
        return sorted(f for _, f, _, _ in string.Formatter().parse(text) if f)

    for key, (en, zh) in FIGURE_MESSAGES.items():
        assert key.startswith("fig.") and en.strip() and zh.strip(), key
        assert fields(en) == fields(zh), key


def test_figure_language_follows_the_scenario_unless_asked(zh_world):
    from dispatch_sim import plot

    def legend_and_title(fig):
        ax = fig.axes[0]
        return [t.get_text() for t in ax.get_legend().get_texts()], ax.get_title()

    labels, title = legend_and_title(plot.map_figure(zh_world))  # report.lang: zh
    assert labels[0] == "解放街道" and title == plot.FIGURE_MESSAGES["fig.map_title"][1]
    labels, title = legend_and_title(plot.map_figure(zh_world, lang="en"))
    assert labels[0] == "Jiefang" and labels[1] == "Jianshe (unverified)"
    assert title == plot.FIGURE_MESSAGES["fig.map_title"][0]


def test_web_font_css_embeds_exactly_the_page_characters():
    """report.html can carry its own Chinese font (browsers on machines without one draw boxes)."""
    import base64
    import re

    from fontTools.ttLib import TTFont

    from dispatch_sim import fonts

    page = "<h2>分镇街结果（按事发地所属镇街）</h2><td>南湖街道 96.3%</td>"
    css = fonts.web_font_css(page)
    data = base64.b64decode(re.search(r"base64,([A-Za-z0-9+/=]+)\)", css).group(1))
    font = TTFont(io.BytesIO(data))
    wanted = {ord(c) for c in page if ord(c) > 0x7F}
    assert font.flavor == "woff" and set(font.getBestCmap()) == wanted  # every character, nothing more
    ranges = re.search(r"unicode-range:([^;}]+)", css).group(1).split(",")
    covered = set()
    for r in ranges:
        a, _, b = r.removeprefix("U+").partition("-")
        covered |= set(range(int(a, 16), int(b or a, 16) + 1))
    assert covered == wanted
    assert len(css) < 20_000  # ~1 kB a character
    assert fonts.web_font_css("<p>only ASCII</p>") == ""
