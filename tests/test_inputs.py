"""Inputs as planners write them, hostile inputs, exit codes and the download path.

Each test states a behaviour a user depends on: a GBK file from Excel reads, a bad file is one line
naming it (and never quoting a stranger's file), a crash is exit 3 with a log, the caller's osmnx
settings survive a download.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from dispatch_sim import readers
from dispatch_sim.errors import DispatchSimError, InputWarning, ScenarioError
from dispatch_sim.scenario import load_scenario, scenario_from_dict

from .conftest import ROOT, small_scenario


def _cli(*args, cwd=None, env=None):
    env = {**os.environ, **(env or {}), "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, "-m", "dispatch_sim", *map(str, args)], capture_output=True, text=True,
                          cwd=cwd, env=env, timeout=300)


def _write(tmp_path, data, name="s.yaml", encoding="utf-8") -> Path:
    p = tmp_path / name
    text = data if isinstance(data, str) else yaml.safe_dump(data, allow_unicode=True)
    p.write_bytes(text.encode(encoding))
    return p


def _one_line_errors(stderr: str) -> list[str]:
    lines = [ln for ln in stderr.splitlines() if ln.strip()]
    assert "Traceback" not in stderr
    return lines


# ------------------------------------------------------------------------------ encodings, timestamps

TRACE_GBK = ("上报时间,经度,纬度,类别\n"
             "2026/3/2 8:00,120.75,30.74,市容\n"
             "2026年3月2日 9:30,120.76,30.75,违建\n"
             "46083.5,120.74,30.73,市容\n")


def test_gbk_trace_with_chinese_headers_and_excel_timestamps_reads(tmp_path):
    from dispatch_sim.readers import read_trace_file

    p = tmp_path / "log.csv"
    p.write_bytes(TRACE_GBK.encode("gbk"))
    rows = read_trace_file(p, ["市容", "违建"])
    assert [r[0].strftime("%Y-%m-%d %H:%M") for r in rows] == ["2026-03-02 08:00", "2026-03-02 09:30", "2026-03-02 12:00"]
    assert [r[4] for r in rows] == [0, 1, 0]


def test_gbk_scenario_yaml_reads(tmp_path):
    data = small_scenario(name="南湖 测试")
    data["teams"][0]["name"] = "解放街道"
    sc = load_scenario(_write(tmp_path, data, encoding="gbk"))
    assert sc.name == "南湖 测试" and sc.teams[0].name == "解放街道"


def test_utf16_and_bom_files_read(tmp_path):
    for enc in ("utf-16", "utf-8-sig"):
        p = tmp_path / f"pts_{enc}.csv"
        p.write_bytes("lon,lat,权重\n120.75,30.74,2\n".encode(enc))
        from dispatch_sim.readers import read_points_csv

        lon, lat, crs, wt = read_points_csv(p, "demand.where[0]")
        assert lon.tolist() == [120.75] and wt.tolist() == [2.0]


def test_undecodable_file_says_save_as_utf8(tmp_path):
    p = tmp_path / "odd.csv"
    p.write_bytes(bytes(range(0x80, 0x100)) * 20)
    with pytest.raises(DispatchSimError, match="save it as UTF-8") as e:
        readers.read_text(p, "demand.trace", what="CSV report log")
    assert str(p) in str(e.value)


def test_excel_workbook_instead_of_csv_is_named(tmp_path):
    p = tmp_path / "log.xlsx"
    p.write_bytes(b"PK\x03\x04" + b"\x00" * 200)
    with pytest.raises(DispatchSimError, match="CSV UTF-8"):
        readers.read_text(p, "demand.trace", what="CSV report log")


@pytest.mark.parametrize("text, expect", [
    ("2026/3/2 8:00", "2026-03-02 08:00"), ("2026-03-02 08:00:00", "2026-03-02 08:00"),
    ("2026/03/02 08:00:00", "2026-03-02 08:00"), ("2026年3月2日 8:00", "2026-03-02 08:00"),
    ("2026年3月2日 8时05分", "2026-03-02 08:05"), ("46083.3333333", "2026-03-02 08:00"),
    ("2026-03-02T00:00:00Z", "2026-03-02 08:00"), ("2026-03-02T08:00:00+08:00", "2026-03-02 08:00"),
    ("2026/3/2 下午 2:00", "2026-03-02 14:00"), ("2026/3/2 2:00 PM", "2026-03-02 14:00"), ("2026.3.2", "2026-03-02 00:00"),
])
def test_timestamps_as_excel_and_wps_write_them(text, expect):
    assert readers.parse_timestamp(text).strftime("%Y-%m-%d %H:%M") == expect


@pytest.mark.parametrize("text", ["3/2/2026 8:00", "tomorrow", "2026-13-01", "1e5", "9" * 80, ""])
def test_bad_timestamps_are_refused(text):
    with pytest.raises(ValueError):
        readers.parse_timestamp(text)


def test_trace_errors_name_file_and_line_and_never_quote_a_stranger(tmp_path):
    data = small_scenario()
    data["demand"]["trace"] = "/etc/passwd"
    r = _cli("validate", _write(tmp_path, data))
    assert r.returncode == 2
    lines = _one_line_errors(r.stderr)
    assert len(lines) == 1 and "demand.trace: /etc/passwd" in lines[0] and "timestamp, lon, lat" in lines[0]
    assert "root:" not in r.stderr and "/bin/" not in r.stderr
    bad = tmp_path / "t.csv"
    bad.write_text("timestamp,lon,lat\n2026-03-02 08:00,120.75,30.74\n2026-03-02 25:00,120.75,30.74\n", encoding="utf-8")
    data["demand"]["trace"] = str(bad)
    r = _cli("validate", _write(tmp_path, data))
    assert r.returncode == 2 and "t.csv: line 3" in r.stderr and "25:00" in r.stderr


def test_binary_trace_is_one_line(tmp_path):
    data = small_scenario()
    data["demand"]["trace"] = sys.executable
    r = _cli("validate", _write(tmp_path, data))
    assert r.returncode == 2 and len(_one_line_errors(r.stderr)) == 1 and "binary" in r.stderr


# ------------------------------------------------------------------------------ scenario values

def test_unquoted_times_and_shift_strings_are_accepted(tmp_path):
    text = yaml.safe_dump(small_scenario(), allow_unicode=True)
    text = text.replace("  crews: 1\n", "  crews: 1\n  shifts: [{start: 8:00, end: 20:00, crews: 2}, \"20:00-08:00\"]\n")
    sc = load_scenario(_write(tmp_path, text))
    assert [(s.start, s.end, s.crews) for s in sc.teams[0].shifts] == [("8:00", "20:00", 2), ("20:00", "08:00", 1)]


def test_sexagesimal_numbers_from_other_yaml_tools_are_explained_once(tmp_path):
    text = (ROOT / "scenarios" / "nanhu_baseline.yaml").read_text(encoding="utf-8").replace('"08:00"', "8:00")
    data = yaml.safe_load(text)  # PyYAML's own loader: 8:00 becomes 480
    data["graph"]["graphml"] = None
    with pytest.raises(ScenarioError) as e:
        scenario_from_dict(data, "x.yaml")
    lines = e.value.problems
    assert "x.yaml: teams[0-10].shifts[0].start: expected a time of day HH:MM in quotes (got 480: was it 8:00 unquoted?)" in lines
    assert sum("base-60" in ln for ln in lines) == 1 and len(lines) == 3


def test_warnings_for_uncovered_hours_and_shares(tmp_path):
    data = small_scenario()
    data["teams"][0]["shifts"] = [{"start": "08:00", "end": "12:00", "crews": 1}, {"start": "13:00", "end": "08:00", "crews": 1}]
    data["demand"]["categories"] = [{"name": "a", "share": 0.6}, {"name": "b", "share": 0.5}]
    with pytest.warns(InputWarning) as rec:
        sc = scenario_from_dict(data, "w.yaml")
    msgs = [str(w.message) for w in rec]
    assert any("teams[0].shifts" in m and "Mon-Sun 12:00-13:00" in m for m in msgs)
    assert any("shares sum to 1.1" in m and "normalised" in m for m in msgs)
    assert len(sc.input_warnings) == 2
    r = _cli("validate", _write(tmp_path, data))
    assert r.returncode == 0
    assert [ln.split(": ")[0] for ln in r.stderr.splitlines()] == ["warning", "warning"]


def test_shipped_scenarios_validate_without_warnings():
    import warnings

    for p in sorted((ROOT / "scenarios").rglob("*.yaml")):
        with warnings.catch_warnings():
            warnings.simplefilter("error", InputWarning)
            load_scenario(p)


@pytest.mark.parametrize("mutate, needle", [
    (lambda d: d["teams"][0]["base"].update(lon=float("nan")), "teams[0].base.lon: Input should be a finite number"),
    (lambda d: d["demand"].update(reports_per_day=float("inf")), "demand.reports_per_day: Input should be a finite number"),
    (lambda d: d["demand"].update(reports_per_day=1e12), "run: too large"),
    (lambda d: d["graph"].update(standin_seed=-1), "graph.standin_seed"),
    (lambda d: d["run"].update(seed=-5), "run.seed"),
    (lambda d: [t.update(crews=0) for t in d["teams"]], "teams: no team has a crew"),
    (lambda d: d["teams"][1].update(base={"lon": 121.5, "lat": 31.2}), "teams[1].base: (121.5, 31.2) is outside graph.bbox"),
    (lambda d: d["demand"].update(where=[{"kind": "hotspot", "lon": 120.75, "lat": 30.74, "radius_m": 1e300}]),
     "demand.where[0].radius_m"),
])
def test_values_run_would_trip_on_are_caught_by_validate(tmp_path, mutate, needle):
    data = small_scenario()
    mutate(data)
    r = _cli("validate", _write(tmp_path, data))
    assert r.returncode == 2, r.stdout
    lines = _one_line_errors(r.stderr)
    assert len(lines) == 1 and needle in lines[0], lines


@pytest.mark.parametrize("text, needle", [
    ("[" * 100000, "nesting deeper than 64"),
    ("a:\n" + "".join("  " * i + "b:\n" for i in range(1, 500)), "nesting deeper than 64"),
    ("name: x\nrun: {seed: " + "9" * 5000 + "}\n", "5000 digits"),
    ("name: x\ndemand: {reports_per_day: 1.0e+99999}\n", "out of range"),
    ("a: &a [1,1,1,1,1,1,1,1,1]\n" + "".join(f"a{i}: &a{i} [" + ",".join([f"*a{i - 1 if i > 1 else ''}"] * 9) + "]\n"
                                            for i in range(1, 200)), "alias"),
], ids=["flow", "block", "digits", "overflow", "aliases"])
def test_hostile_yaml_is_refused_before_parsing_goes_deep(tmp_path, text, needle):
    r = _cli("validate", _write(tmp_path, text))
    assert r.returncode == 2 and needle in r.stderr
    assert len(_one_line_errors(r.stderr)) == 1


@pytest.mark.parametrize("target, needle", [("/tmp", "is a folder"), ("/dev/zero", "not a regular file"),
                                            ("missing.yaml", "file not found")])
def test_extends_and_scenario_paths_that_are_not_files(tmp_path, target, needle):
    data = small_scenario()
    data["extends"] = target
    r = _cli("validate", _write(tmp_path, data), tmp_path)
    assert r.returncode == 2 and "extends" in r.stderr and needle in r.stderr
    r = _cli("validate", target, cwd=tmp_path)
    assert r.returncode == 2 and needle in r.stderr and len(_one_line_errors(r.stderr)) == 1


def test_yaml_above_the_size_limit_is_not_read(tmp_path, monkeypatch):
    p = tmp_path / "big.yaml"
    p.write_text("name: x\n" + "# padding\n" * 1000)
    monkeypatch.setattr(readers, "MAX_YAML_BYTES", 1000)
    with pytest.raises(ScenarioError, match=r"larger than the limit"):
        load_scenario(p)


def test_user_values_are_printed_literally(tmp_path):
    data = small_scenario()
    data["demand"]["trace"] = ":x: [red]x[/red].csv"
    r = _cli("validate", _write(tmp_path, data))
    assert r.returncode == 2 and ":x: [red]x[/red].csv: file not found" in r.stderr and "❌" not in r.stderr


@pytest.mark.parametrize("field", ["graph.graphml", "demand.where.path", "teams.jurisdiction", "graph.polygon"])
def test_path_fields_are_checked_by_validate(tmp_path, field):
    data = small_scenario()
    folder = tmp_path / "a_folder"
    folder.mkdir()
    if field == "graph.graphml":
        data["graph"] = {"source": "graphml", "graphml": str(folder)}
    elif field == "demand.where.path":
        data["demand"]["where"] = [{"kind": "points", "path": str(folder)}]
    elif field == "teams.jurisdiction":
        data["teams"][0]["jurisdiction"] = str(folder)
    else:
        data["graph"]["source"] = "auto"
        data["graph"]["polygon"] = str(folder)
    r = _cli("validate", _write(tmp_path, data))
    assert r.returncode == 2 and "is a folder" in r.stderr and len(_one_line_errors(r.stderr)) == 1


def test_auto_graphml_is_only_checked_when_present(tmp_path):
    data = small_scenario()
    data["graph"].update(source="auto", graphml="not_there_yet.graphml")
    assert load_scenario(_write(tmp_path, data)).graph.source == "auto"


# ------------------------------------------------------------------------------ exit codes, --out

def test_out_that_is_a_file_or_unwritable_is_one_line(tmp_path):
    scen = _write(tmp_path, small_scenario())
    f = tmp_path / "afile"
    f.write_text("keep me")
    r = _cli("run", scen, "--out", f, "--workers", "1")
    assert r.returncode == 2 and "--out" in r.stderr and "is a file" in r.stderr and f.read_text() == "keep me"
    r = _cli("run", scen, "--out", "/proc/definitely/not", "--workers", "1")
    assert r.returncode == 2 and "--out" in r.stderr and len(_one_line_errors(r.stderr)) == 1
    r = _cli("graph", "import", tmp_path / "x.osm.pbf", "--out", tmp_path)
    assert r.returncode == 2 and "is a folder" in r.stderr


def test_failed_command_leaves_no_empty_out_folder(tmp_path):
    data = small_scenario()
    data["demand"]["reports_per_day"] = -1
    r = _cli("run", _write(tmp_path, data), "--out", tmp_path / "new" / "deep")
    assert r.returncode == 2 and not (tmp_path / "new").exists()


def test_internal_error_is_exit_3_with_a_log_and_no_traceback(tmp_path, monkeypatch, capsys):
    from dispatch_sim import cli

    def boom(*a, **k):
        raise ZeroDivisionError("secret content")

    monkeypatch.setattr("dispatch_sim.scenario.load_scenario", boom)
    rc = cli.run_cli(["validate", str(_write(tmp_path, small_scenario()))])
    err = capsys.readouterr().err
    assert rc == 3 and "Traceback" not in err and "secret content" not in err
    lines = _one_line_errors(err)
    assert len(lines) == 1 and "bug" in lines[0] and "ZeroDivisionError" in lines[0]
    log = Path(lines[0].split("the traceback is in ")[1].split(";")[0])
    assert "ZeroDivisionError: secret content" in log.read_text()
    rc = cli.run_cli(["validate", "-v", str(_write(tmp_path, small_scenario()))])
    assert rc == 3 and "Traceback" in capsys.readouterr().err


def test_usage_errors_are_one_line_exit_2():
    r = _cli("run", "x.yaml", "--replications", "many")
    assert r.returncode == 2 and len(_one_line_errors(r.stderr)) == 1 and "--replications" in r.stderr
    r = _cli("validate")
    assert r.returncode == 2 and len(_one_line_errors(r.stderr)) == 1


def test_quiet_silences_informational_output(tmp_path):
    scen = _write(tmp_path, small_scenario())
    r = _cli("-q", "validate", scen)
    assert r.returncode == 0 and r.stdout == ""
    r = _cli("validate", scen, "-q")
    assert r.returncode == 0 and r.stdout == ""


def test_graphml_with_missing_or_nan_coordinates_is_refused(tmp_path):
    import networkx as nx
    import osmnx as ox

    G = nx.MultiDiGraph(crs="epsg:4326")
    G.add_node(1, x=120.7, y=30.7)
    G.add_node(2, y=30.8)
    G.add_edge(1, 2, length=10.0)
    G.add_edge(2, 1, length=10.0)
    p = tmp_path / "g.graphml"
    ox.save_graphml(G, p)
    r = _cli("graph", "info", p)
    assert r.returncode == 2 and "g.graphml" in r.stderr and len(_one_line_errors(r.stderr)) == 1
    G.nodes[2]["x"] = float("nan")
    ox.save_graphml(G, p)
    r = _cli("graph", "info", p)
    assert r.returncode == 2 and "x (longitude)" in r.stderr


# ------------------------------------------------------------------------------ download path

@pytest.fixture()
def fake_server(helsinki_pbf, tmp_path, monkeypatch):
    import shapely

    from dispatch_sim import settings

    from .fake_osm_server import FakeOSM

    monkeypatch.setattr(settings, "cache_folder", tmp_path / "cache")
    with FakeOSM(helsinki_pbf, "Helsinki test area", shapely.box(24.940, 60.166, 24.951, 60.176)) as srv:
        yield srv


BBOX = (24.940, 60.166, 24.951, 60.176)


def test_fetch_leaves_the_callers_osmnx_settings_alone(fake_server, tmp_path):
    import osmnx as ox

    from dispatch_sim import roads

    mine = {"cache_folder": str(tmp_path / "my_cache"), "requests_timeout": 999, "use_cache": False,
            "overpass_url": "https://example.invalid/api"}
    saved = {k: getattr(ox.settings, k) for k in mine}
    try:
        for k, v in mine.items():
            setattr(ox.settings, k, v)
        roads.fetch_osm(bbox=BBOX, overpass_url=fake_server.url + "/api")
        assert {k: getattr(ox.settings, k) for k in mine} == mine
        with pytest.raises(Exception):
            roads.fetch_osm(place="Atlantis", overpass_url=fake_server.url + "/api", nominatim_url=fake_server.url + "/")
        assert {k: getattr(ox.settings, k) for k in mine} == mine
    finally:
        for k, v in saved.items():
            setattr(ox.settings, k, v)


def test_refresh_downloads_anew_and_cache_key_includes_the_server(fake_server, monkeypatch):
    from dispatch_sim import roads

    url = fake_server.url + "/api"
    roads.fetch_osm(bbox=BBOX, overpass_url=url)
    n = len([r for r in fake_server.requests if r.startswith("POST")])
    roads.fetch_osm(bbox=BBOX, overpass_url=url)
    assert len([r for r in fake_server.requests if r.startswith("POST")]) == n  # graph cache
    roads.fetch_osm(bbox=BBOX, overpass_url=url, refresh=True)
    assert len([r for r in fake_server.requests if r.startswith("POST")]) > n  # not the HTTP cache either
    a = roads._osm_cache_path("bbox", list(BBOX), servers=(url,))
    b = roads._osm_cache_path("bbox", list(BBOX), servers=("https://overpass.kumi.systems/api",))
    assert a != b
    monkeypatch.setenv(roads.OVERPASS_ENV, "https://mirror.example/api")
    assert roads.service_urls()[0] == "https://mirror.example/api"


def test_cli_fetch_uses_mirror_options_and_env(fake_server, tmp_path):
    out = tmp_path / "g.graphml"
    env = {"DISPATCH_SIM_CACHE": str(tmp_path / "c2"), "DISPATCH_SIM_NOMINATIM_URL": fake_server.url + "/"}
    r = _cli("graph", "fetch", "--place", "Helsinki test area", "--overpass-url", fake_server.url + "/api",
             "--out", out, env=env)
    assert r.returncode == 0, r.stderr
    assert out.exists() and any("search" in q for q in fake_server.requests)


def test_offline_fails_fast_naming_the_service(tmp_path):
    env = {"DISPATCH_SIM_CACHE": str(tmp_path)}
    r = _cli("graph", "fetch", "--place", "南湖区", "--nominatim-url", "http://127.0.0.1:9/", "--overpass-url",
             "http://127.0.0.1:9/api", env=env)
    assert r.returncode == 2 and "Nominatim" in r.stderr and len(_one_line_errors(r.stderr)) == 1
    r = _cli("graph", "fetch", "--bbox", "120.7,30.7,120.8,30.8", "--overpass-url", "http://127.0.0.1:9/api", env=env)
    assert r.returncode == 2 and "cannot reach Overpass" in r.stderr
    r = _cli("graph", "fetch", "--bbox", "120.7,30.7,120.8,30.8", "--overpass-url", "not a url", env=env)
    assert r.returncode == 2 and "--overpass-url" in r.stderr


@pytest.mark.parametrize("args, needle", [
    (["stress", "{s}", "--loads", "1e300", "--out", "{o}"], "--loads"),
    (["coverage", "{s}", "--minutes", "nan", "--out", "{o}"], "--minutes: nan is not a finite number"),
    (["run", "{s}", "--load", "inf", "--out", "{o}"], "--load: inf is not a finite number"),
    (["run", "{s}", "--load", "1e9", "--out", "{o}"], "run: too large"),
    (["run", "{s}", "--workers", "99999", "--out", "{o}"], "--workers: 99999 is too large"),
    (["run", "{s}", "--seed", "9" * 40, "--out", "{o}"], "run.seed"),
])
def test_option_values_are_validated_before_running(tmp_path, args, needle):
    scen = _write(tmp_path, small_scenario())
    r = _cli(*[a.format(s=scen, o=tmp_path / "o") for a in args])
    assert r.returncode == 2 and needle in r.stderr and len(_one_line_errors(r.stderr)) == 1
    assert not (tmp_path / "o").exists()


def test_a_mapping_that_is_not_a_scenario_is_not_listed(tmp_path):
    r = _cli("validate", _write(tmp_path, "PASSWORD: hunter2\nTOKEN: abc\n"))
    assert r.returncode == 2 and "not a dispatch-sim scenario" in r.stderr
    assert "PASSWORD" not in r.stderr and "hunter2" not in r.stderr


def test_control_characters_in_values_stay_on_one_line(tmp_path):
    data = small_scenario()
    data["demand"]["trace"] = "evil\n\x1b[2Jname.csv"
    r = _cli("validate", _write(tmp_path, data))
    assert r.returncode == 2 and len(_one_line_errors(r.stderr)) == 1 and "\x1b" not in r.stderr


@pytest.mark.parametrize("content, needle", [
    (None, "is a folder"), ("name,lon,lat\n镇政府,120.75,30.74\n".encode("gbk"), "save it as UTF-8"),
    (b"\x00\x01" * 100, "binary"), (b"x,y\n1,2\n", "not a CSV of candidate sites"),
])
def test_place_candidates_are_checked_before_the_command_runs(tmp_path, content, needle):
    cands = tmp_path / "c.csv"
    if content is None:
        cands.mkdir()
    else:
        cands.write_bytes(content)
    r = _cli("place", _write(tmp_path, small_scenario()), "--add", "1", "--candidates", cands, "--out", tmp_path / "p")
    assert r.returncode == 2 and needle in r.stderr and len(_one_line_errors(r.stderr)) == 1
