"""The ``dispatch-sim`` command line: a thin layer over the same functions notebooks call.

Exit codes (one meaning each, on every command):

* 0 fine;
* 1 a target was missed (``check``);
* 2 bad input or environment (a scenario value, a missing or unreadable file, an unusable ``--out``, no
  network, a bad option): one line per problem, ``file: field: message``, never a traceback;
* 3 internal error (a bug): one line saying so and where the full traceback was written (a log file in
  the ``--out`` folder when the command has one, else in the cache folder); ``-v`` prints it too;
* 130 interrupted (Ctrl-C).

Errors and warnings are written to stderr as plain text (no rich markup or emoji substitution), so a
value such as ``:x:`` or ``[red]`` in a file name or team name is printed literally. ``-q`` keeps only
errors and warnings; ``-v`` shows tracebacks of internal errors. Both may be given before or after the
command name.
"""

from __future__ import annotations

import errno
import json
import logging
import os
import sys
import warnings
from pathlib import Path
from typing import Any, List, Optional

import typer
from rich.console import Console

from . import settings
from .errors import DispatchSimError, InputWarning, ScenarioError


def _exc_classes(name: str) -> tuple:
    """``name`` from click and from the copy of click that recent typer versions vendor (``typer._click``)."""
    found = []
    for mod in ("click.exceptions", "typer._click.exceptions"):
        try:
            m = __import__(mod, fromlist=[name])
        except ImportError:
            continue
        if hasattr(m, name):
            found.append(getattr(m, name))
    return tuple(found)


_CLICK_ERROR = _exc_classes("ClickException")
_CLICK_EXIT = _exc_classes("Exit") + (typer.Exit,)
_CLICK_ABORT = _exc_classes("Abort") + (typer.Abort,)
_NO_ARGS_HELP = _exc_classes("NoArgsIsHelpError")

app = typer.Typer(add_completion=False, no_args_is_help=True, rich_markup_mode=None, pretty_exceptions_enable=False,
                  help="Does a 30-minute on-site response promise hold on real roads, under real load?")
graph_app = typer.Typer(no_args_is_help=True, help="Get, import and describe road graphs.")
app.add_typer(graph_app, name="graph")
out = Console(soft_wrap=True, emoji=False, markup=False)  # user values (team names) printed literally
err = Console(stderr=True, soft_wrap=True, emoji=False, markup=False)

_state: dict[str, Any] = {"verbose": False, "quiet": False, "warned": set()}
ISSUES_HINT = "please report it to the dispatch-sim maintainers with that file and the command you ran"


_CONTROL = {c: f"\\u{c:04x}" for c in list(range(0x20)) + [0x7F] if c != 0x09}  # \\u form: also valid in JSON
_CONTROL.update({c: f"\\u{c:04x}" for c in (0x200E, 0x200F, 0x202A, 0x202B, 0x202C, 0x202D, 0x202E,
                                             0x2066, 0x2067, 0x2068, 0x2069, 0x2028, 0x2029)})


def _write_line(stream, line: str) -> None:
    """Write one line as is (no markup), never failing on characters the terminal cannot show.

    Control characters (newlines, terminal escape sequences, bidi overrides) inside user values are
    written escaped (``\\u001b``), so one problem stays one line and a file name cannot drive the terminal.
    """
    line = line.translate(_CONTROL)
    enc = getattr(stream, "encoding", None) or "utf-8"
    try:
        stream.write(line.encode(enc, "backslashreplace").decode(enc, "replace") + "\n")
        stream.flush()
    except (OSError, ValueError):  # closed pipe (dispatch-sim … | head): nothing more to say
        pass


def _eprint(line: str) -> None:
    _write_line(sys.stderr, line)


def _say(line: str) -> None:
    """Informational output of the commands owned here (silenced by ``-q``)."""
    if not _state["quiet"]:
        _write_line(sys.stdout, line)


def _warn(msg: str) -> None:
    """``warning: msg`` on stderr, once per distinct message."""
    if msg in _state["warned"]:
        return
    _state["warned"].add(msg)
    _eprint(f"warning: {msg}")


_orig_showwarning = warnings.showwarning


def _showwarning(message, category, filename, lineno, file=None, line=None):
    if isinstance(category, type) and issubclass(category, InputWarning):
        _warn(str(message))
    elif _state["verbose"]:
        _orig_showwarning(message, category, filename, lineno, file, line)


def _install_warning_hook() -> None:
    warnings.showwarning = _showwarning
    warnings.filterwarnings("always", category=InputWarning)


def _problems(exc: DispatchSimError) -> list[str]:
    """The problem lines of an error (a value with a newline in it stays in its line)."""
    return list(getattr(exc, "problems", None) or [str(exc)])


def _fail(exc: DispatchSimError) -> None:
    for line in _problems(exc):
        _eprint(f"error: {line}")
    raise typer.Exit(exc.exit_code)


def _version(value: bool) -> None:
    if value:
        from . import __version__

        print(f"dispatch_sim {__version__}")
        raise typer.Exit(0)


@app.callback()
def _root(verbose: bool = typer.Option(False, "-v", "--verbose", help="show the traceback of an internal error"),
          quiet: bool = typer.Option(False, "-q", "--quiet", help="print only errors and warnings"),
          version: bool = typer.Option(False, "--version", callback=_version, is_eager=True,
                                       help="print the version and exit")):
    """Does a 30-minute on-site response promise hold on real roads, under real load?"""
    _state["verbose"] = verbose or _state["verbose"]
    _state["quiet"] = quiet or _state["quiet"]
    out.quiet = err.quiet = _state["quiet"]
    _install_warning_hook()


def _world(path: Path, **run_overrides):
    from .model import World
    from .scenario import load_scenario

    sc = load_scenario(path)
    if any(v is not None for v in run_overrides.values()):
        sc = sc.with_overrides(**run_overrides)
    with err.status("loading road graph and router…"):
        w = World(sc, warn=_warn)
    if w.standin:
        err.print(settings.standin_label, style="bold red", highlight=False)
    return w


class _Progress:
    def __init__(self, label):
        from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

        self.p = Progress(TextColumn(label), BarColumn(), TextColumn("{task.completed}/{task.total}"),
                          TimeElapsedColumn(), console=err, transient=True)
        self.task = None

    def __enter__(self):
        self.p.__enter__()
        return self

    def __exit__(self, *a):
        self.p.__exit__(*a)

    def __call__(self, done, total):
        if self.task is None:
            self.task = self.p.add_task("", total=total)
        self.p.update(self.task, completed=done, total=total)


_ENV_ERRNOS = {errno.ENOSPC, errno.EROFS, errno.EDQUOT, errno.EACCES, errno.EPERM, errno.EMFILE, errno.ENFILE,
               errno.ENAMETOOLONG, errno.ELOOP}


def _log_folder(kwargs) -> Path:
    """Where an internal error's traceback goes: the command's --out folder if usable, else the cache."""
    cands = []
    o = kwargs.get("out_dir")
    if isinstance(o, Path):
        cands.append(o)
    for c in cands + [Path(settings.cache_folder)]:
        try:
            c.mkdir(parents=True, exist_ok=True)
            if os.access(c, os.W_OK):
                return c
        except OSError:
            continue
    import tempfile

    return Path(tempfile.gettempdir())


def _report_bug(exc: BaseException, kwargs) -> None:
    """One line about an internal error and where its traceback is; the traceback with ``-v``."""
    import datetime
    import traceback

    text = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
    stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
    where = None
    try:
        folder = _log_folder(kwargs)
        where = folder / f"dispatch-sim-error-{stamp}-{os.getpid()}.log"
        with open(where, "w", encoding="utf-8", errors="backslashreplace") as fh:
            fh.write(f"dispatch-sim internal error\ncommand: {sys.argv!r}\npython: {sys.version}\n\n{text}")
    except OSError:
        where = None
    if _state["verbose"]:
        _eprint(text.rstrip())
    loc = f"the traceback is in {where}" if where else "the traceback could not be saved (rerun with -v to see it)"
    _eprint(f"error: internal error ({type(exc).__name__}): this is a bug in dispatch-sim, not a problem with your "
            f"input; {loc}; {ISSUES_HINT}{'' if _state['verbose'] else ' (rerun with -v to print the traceback)'}")


#: Upper limits on integer options (beyond them a command would exhaust the machine, not answer better).
_INT_LIMITS = {"workers": 1024, "add": 1000, "sample": 1_000_000, "post_crews": 1000, "max_moves": 100_000,
               "replications": 10_000}


def _check_options(kwargs) -> None:
    """Validate option values before a command body runs: finite numbers, sane sizes, parsable lists."""
    import math

    for name, v in kwargs.items():
        opt = "--" + name.rstrip("_").replace("_", "-")
        if isinstance(v, float) and not math.isfinite(v):
            raise DispatchSimError(f"{opt}: {v} is not a finite number")
        if isinstance(v, int) and not isinstance(v, bool) and name in _INT_LIMITS and v > _INT_LIMITS[name]:
            raise DispatchSimError(f"{opt}: {v} is too large (allowed: at most {_INT_LIMITS[name]})")
    m = kwargs.get("minutes")
    if isinstance(m, float) and not 0 < m <= 24 * 60:
        raise DispatchSimError(f"--minutes: {m:g} is outside the allowed range (0, 1440]")
    cand = kwargs.get("candidates")
    if isinstance(cand, Path):
        _check_candidates(cand)
    loads = kwargs.get("loads")
    if isinstance(loads, str):
        try:
            vals = [float(x) for x in loads.split(",") if x.strip()]
            ok = bool(vals) and len(vals) <= 100 and all(math.isfinite(x) and 0 < x <= 1000 for x in vals)
        except ValueError:
            ok = False
        if not ok:
            raise DispatchSimError(f"--loads: expected up to 100 positive numbers (each at most 1000) separated by "
                                   f"commas, got {loads[:80]!r}")


def _check_candidates(path: Path) -> None:
    """``place --candidates``: a regular, readable CSV with name, lon, lat, checked before the body reads it.

    The reader in :mod:`dispatch_sim.placement` reads UTF-8 only, so a GBK file (Excel on Chinese
    Windows) is named here with "save it as UTF-8" rather than failing later.
    """
    from .readers import read_csv, read_text

    what = "CSV of candidate sites with columns name, lon, lat"
    tf = read_text(path, "--candidates", what=what)
    read_csv(path, "--candidates", required=["name", "lon", "lat"], optional=["crs"], what=what)
    if tf.encoding not in ("utf-8", "utf-8-sig"):
        raise DispatchSimError(f"--candidates: {path}: saved as {tf.encoding.upper()}; save it as UTF-8 (in Excel: "
                               "'CSV UTF-8')")


def _check_outputs(kwargs) -> list[Path]:
    """Check --out folders and output files before the command runs; returns folders created for it."""
    from .io import prepare_out_dir

    created: list[Path] = []
    o = kwargs.get("out_dir")
    if isinstance(o, Path):
        created += prepare_out_dir(o, "--out")
    for key, label in (("out_file", "--out"), ("junit", "--junit")):
        f = kwargs.get(key)
        if isinstance(f, Path):
            if f.is_dir():
                raise DispatchSimError(f"{label}: {f}: is a folder, expected a file name to write")
            if f.exists() and not f.is_file():
                raise DispatchSimError(f"{label}: {f}: is not a regular file (a device or pipe); give a file name")
            created += prepare_out_dir(f.parent if str(f.parent) else Path("."), label)
    return created


def _remove_if_empty(folders: list[Path]) -> None:
    for d in reversed(folders):
        try:
            d.rmdir()
        except OSError:
            pass


def _guard(fn):
    """Run a command body: user errors → one line, exit 2; a bug → one line and a log, exit 3."""
    import functools

    @functools.wraps(fn)
    def wrapper(*a, **k):
        created: list[Path] = []
        ok = False
        try:
            _check_options(k)
            created = _check_outputs(k)
            res = fn(*a, **k)
            ok = True
            return res
        except _CLICK_EXIT + _CLICK_ABORT + _CLICK_ERROR as exc:
            ok = getattr(exc, "exit_code", 1) == 0
            raise
        except DispatchSimError as exc:
            _fail(exc)
        except KeyboardInterrupt:
            _eprint("interrupted; outputs already written are complete (written atomically)")
            raise typer.Exit(130) from None
        except MemoryError as exc:
            if _state["verbose"]:
                _report_bug(exc, k)
            _eprint("error: out of memory: reduce run.replications, run.horizon_days, run.load or "
                    "demand.reports_per_day, or the graph size")
            raise typer.Exit(2) from None
        except OSError as exc:
            if exc.errno in _ENV_ERRNOS:
                name = exc.filename or ""
                _eprint(f"error: {name}{': ' if name else ''}{exc.strerror or type(exc).__name__} "
                        "(check the folder's permissions and free space)")
                raise typer.Exit(2) from None
            _report_bug(exc, k)
            raise typer.Exit(3) from None
        except Exception as exc:  # noqa: BLE001 - the point: no traceback for a CLI user
            _report_bug(exc, k)
            raise typer.Exit(3) from None
        finally:
            if not ok:
                _remove_if_empty(created)
    return wrapper


@app.command()
@_guard
def validate(scenario: List[Path] = typer.Argument(..., help="scenario YAML file(s)")):
    """Check scenario files and the files they name; one line per problem (file: field: message).

    Example: dispatch-sim validate scenarios/nanhu_baseline.yaml
    """
    from .scenario import load_scenario

    problems = []
    for p in scenario:
        try:
            sc = load_scenario(p)
            _say(f"{p}: ok ({sc.name}; {len(sc.teams)} teams, policy {sc.dispatch.policy})")
        except ScenarioError as exc:
            problems.extend(exc.problems)
        except DispatchSimError as exc:
            problems.extend(_problems(exc))
    if problems:
        for line in problems:
            _eprint(line)
        raise typer.Exit(2)


@app.command()
@_guard
def run(scenario: Path = typer.Argument(..., help="scenario YAML"),
        out_dir: Path = typer.Option(Path("out"), "--out", help="output folder"),
        replications: Optional[int] = typer.Option(None, min=1, help="override run.replications"),
        seed: Optional[int] = typer.Option(None, min=0, help="override run.seed"),
        load: Optional[float] = typer.Option(None, min=0.001, help="override run.load (× reports_per_day)"),
        workers: Optional[int] = typer.Option(None, min=1, help="local processes (default: all cores)"),
        scheduler: Optional[str] = typer.Option(None,
                                                help="Dask scheduler address tcp://HOST:PORT (or "
                                                     "DISPATCH_SIM_SCHEDULER)"),
        resume: bool = typer.Option(False, help="reuse replications already finished in OUT/partial"),
        cell_m: float = typer.Option(500.0, "--cell-m", min=50, help="grid cell size for cells.geojson (m)"),
        lang: Optional[str] = typer.Option(None, "--lang",
                                           help="report language: zh or en (default: the scenario's report.lang)")):
    """Simulate a scenario and write summary.json, incidents.csv, cells.geojson, report.html and figures/.

    Example: dispatch-sim run scenarios/nanhu_baseline.yaml --out out/baseline
    """
    from .experiments import run_scenario
    from .output import write_run

    if lang is not None and lang not in ("zh", "en"):
        raise DispatchSimError(f"--lang: {lang!r} is not one of zh, en")
    w = _world(scenario, replications=replications, seed=seed, load=load)
    with _Progress("replications") as prog:
        result = run_scenario(w, workers=workers, scheduler=scheduler, progress=prog,
                              resume_dir=(out_dir / "partial") if resume else None)
    paths = write_run(result, out_dir, cell_m=cell_m, lang=lang)
    s = json.loads(paths["summary"].read_text(encoding="utf-8"))
    _print_verdict(s["verdict"])
    rep = s["reports"]
    p90 = s["response_min"]["p90"]
    out.print(f"reports: {rep['total']} = {rep['served']} served + {rep['open_at_horizon']} open at horizon"
              + (f"; p90 response {p90:.1f} min" if p90 is not None else ""), highlight=False)
    out.print(f"wrote {out_dir}/summary.json, incidents.csv, cells.geojson, report.html, figures/", highlight=False)


def _print_verdict(v: dict) -> None:
    """The verdict line, coloured, then one line per township that misses or cannot be judged."""
    from .verdict import NOT_SHOWN

    style = {"HOLDS": "bold green", "BREAKS": "bold red"}.get(v["status"], "bold yellow")
    out.print(v["text"], style=style, highlight=False, markup=False)
    for name, t in v.get("townships", {}).items():
        if t["status"] not in ("missed", "undecided"):
            continue
        bits, shown_miss = [], False
        for key, x in t["targets"].items():
            if x["status"] == "met":
                continue
            rate = key == "on_time_rate"

            def fmt(val, rate=rate):  # used in this iteration only; rate bound explicitly
                return "–" if val is None else f"{val * 100:.1f}%" if rate else f"{val:.1f} min"

            label = key.replace("_", " ").replace("on time rate", "on-time rate")
            if x["status"] == "undecided":
                bits.append(f"{label} {fmt(x['estimate'])}: {x['reason']}")
                continue
            shown_miss |= x["reason"] != NOT_SHOWN
            bits.append(f"{label} {fmt(x['estimate'])}, judged {fmt(x['value'])} (required {x['required']})")
        label = "UNDECIDED" if t["status"] == "undecided" else "MISSES" if shown_miss else "NOT SHOWN"
        out.print(f"  {label} {name}: " + "; ".join(bits), highlight=False, markup=False)
    if any(x["reason"] == NOT_SHOWN for t in v.get("townships", {}).values() for x in t["targets"].values()):
        out.print("  (NOT SHOWN: the estimate meets the target but the judged end of its 95% interval does not; "
                  "more replications or days narrow it)", highlight=False, markup=False)


@app.command()
@_guard
def check(scenario: List[Path] = typer.Argument(..., help="scenario YAML file(s) with targets"),
          junit: Optional[Path] = typer.Option(None, help="write JUnit XML here"),
          replications: Optional[int] = typer.Option(None, min=1),
          workers: Optional[int] = typer.Option(None, min=1),
          scheduler: Optional[str] = typer.Option(None,
                                                  help="Dask scheduler address tcp://HOST:PORT (or "
                                                       "DISPATCH_SIM_SCHEDULER)"),
          strict: bool = typer.Option(False, "--strict",
                                      help="also fail (exit 1) when a township has too few reports to judge")):
    """Exit 0 if every township and the district meet every target, 1 if one is missed, 2 on bad input
    (for CI). Townships with too few reports to judge are listed as UNDECIDED (JUnit: skipped).

    Example: dispatch-sim check scenarios/nanhu_baseline.yaml --junit out/targets.xml
    """
    from .experiments import run_scenario
    from .verdict import judge, verdict_text

    cases = []
    for p in scenario:
        w = _world(p, replications=replications)
        res = run_scenario(w, workers=workers, scheduler=scheduler)
        v = judge(res.summary, w.scenario)
        tag = " [stand-in roads]" if w.standin else ""
        for row in v.rows:
            cases.append((w.scenario.name, str(p), row, w.standin))
            if row.status == "met" and row.area != "district":
                continue  # townships that meet are counted below, not listed
            mark = {"met": "PASS", "missed": "FAIL", "undecided": "UNDECIDED"}[row.status]
            val = "–" if row.value is None else f"{row.value:.3f}"
            est = "–" if row.estimate is None else f"{row.estimate:.3f}"
            out.print(f"{mark} {p}: {row.name} {row.required} (judged {val}, estimate {est})"
                      f"{': ' + row.reason if row.reason else ''}{tag}", highlight=False, markup=False)
        towns = v.townships
        met = sum(1 for t in towns.values() if t["status"] == "met")
        if towns and v.scope == "township":
            out.print(f"{'PASS' if met == len(towns) else 'NOTE'} {p}: {met} of {len(towns)} townships meet every "
                      f"target", highlight=False, markup=False)
        out.print(f"{v.status} {p}: {verdict_text(v, res.summary)}", highlight=False, markup=False)
        if not w.scenario.targets.model_dump(exclude_defaults=True, exclude={"judge", "scope", "min_reports"}):
            out.print(f"NOTE {p}: no targets set", highlight=False)
    if junit:
        from .output import write_check

        write_check(junit, cases, settings.standin_label)
    if any(c[2].status == "missed" for c in cases) or (strict and any(c[2].status == "undecided" for c in cases)):
        raise typer.Exit(1)


@app.command()
@_guard
def stress(scenario: Path = typer.Argument(...),
           out_dir: Path = typer.Option(Path("out"), "--out"),
           loads: str = typer.Option("1,2,4,6,8,12", help="load multipliers, comma-separated"),
           replications: Optional[int] = typer.Option(None, min=1),
           workers: Optional[int] = typer.Option(None, min=1),
           scheduler: Optional[str] = typer.Option(None,
                                                   help="Dask scheduler address tcp://HOST:PORT (or "
                                                        "DISPATCH_SIM_SCHEDULER)"),
           resume: bool = typer.Option(False),
           cell_m: float = typer.Option(500.0, "--cell-m", min=50, help="grid cell size for the reliability maps (m)")):
    """Load sweep with common random numbers and the breaking point (stress.json, stress.png), with
    per-cell reliability at the last load that holds and the first that fails (cells_load_X.geojson).

    Example: dispatch-sim stress scenarios/nanhu_baseline.yaml --loads 1,4,8,16
    """
    from .experiments import stress_sweep
    from .output import write_stress

    try:
        load_list = [float(x) for x in loads.split(",") if x.strip()]
        assert load_list and all(x > 0 for x in load_list)
    except (ValueError, AssertionError):
        raise DispatchSimError(f"--loads: expected positive numbers separated by commas, got {loads!r}") from None
    from .scenario import load_scenario

    load_scenario(scenario).with_overrides(load=max(load_list),
                                           replications=replications)  # size limits at the top load
    w = _world(scenario)
    with _Progress("load sweep") as prog:
        res = stress_sweep(w, load_list, replications=replications, workers=workers, scheduler=scheduler,
                           progress=prog, resume_dir=(out_dir / "partial") if resume else None, cell_m=cell_m)
    written = write_stress(res, w, out_dir, cell_m)
    bp = res.breaking_point
    lo, hi = res.loads_swept
    for c in res.worst_cells_at_first_failing_load[:3]:
        out.print(f"  weakest place at ×{bp.first_load_failing:g}: "
                  f"{c.get('place') or c['home_team'] + ' cell ' + c['cell']}: "
                  f"{c['on_time']} of {c['reports']} on time "
                  f"(95% CI {c['ci95'][0] * 100:.0f}–{c['ci95'][1] * 100:.0f}%)", highlight=False, markup=False)
    goal = res.target_on_time_rate
    verdicts = {r["verdict"] for r in res.sweep}
    failing = ', '.join(bp.failing_townships_at_first_failing_load) or 'the district'
    if bp.first_load_failing is None and verdicts <= {"UNDECIDED", "NO REPORTS"}:
        out.print(f"undecided at every swept load ×{lo:g}–×{hi:g}: too few reports to judge; add replications or days",
                  highlight=False)
    elif bp.first_load_failing is None:
        out.print(f"does not break within ×{lo:g}–×{hi:g}: no township misses {goal:.0%} on time at any swept load",
                  highlight=False)
    elif bp.max_load_meeting_target is None:
        out.print(f"breaks at ×{bp.first_load_failing:g}, and it is not shown to hold at any lower swept load: "
                  f"{failing} miss {goal:.0%}", highlight=False)
    else:
        out.print(f"target holds up to load ×{bp.max_load_meeting_target:g} "
                  f"(~{bp.reports_per_day_at_max:.0f} reports/day), no township missing it; fails at "
                  f"×{bp.first_load_failing:g} in {failing}", highlight=False)
    for t, b in res.townships.items():
        if res.scope == "district" and b.max_load_met is None and b.first_load_missed is None:
            continue  # no per-township target to judge
        held = "not shown at any swept load" if b.max_load_met is None else f"holds to ×{b.max_load_met:g}"
        broke = (f", misses from ×{b.first_load_missed:g}" if b.first_load_missed is not None
                 else f", does not break within ×{hi:g}")
        und = (f" (too few reports to judge at ×{', ×'.join(f'{x:g}' for x in b.undecided_loads)})"
               if b.undecided_loads else "")
        out.print(f"  {t}: {held}{broke}{und}", highlight=False, markup=False)
    out.print(f"wrote {out_dir}/: {', '.join(written)}", highlight=False)


@app.command()
@_guard
def coverage(scenario: Path = typer.Argument(...), out_dir: Path = typer.Option(Path("out"), "--out"),
             minutes: Optional[float] = typer.Option(None, help="reach in minutes (default: the scenario's target)"),
             cell_m: float = typer.Option(500.0, "--cell-m", min=50, help="grid cell size of the GeoJSON (m)")):
    """Reach of the promise from each base per time band (report to arrival: dispatch delay, turnout and
    drive): coverage.json, coverage_<band>.geojson (grid cells), figures/coverage.png.

    Example: dispatch-sim coverage scenarios/nanhu_baseline.yaml --out out/coverage
    """
    from .coverage import promise_coverage
    from .output import write_coverage

    w = _world(scenario)
    m = minutes or w.scenario.run.target_min
    res = promise_coverage(w, m, cell_m=cell_m)
    written = write_coverage(res, w, out_dir)
    for band, b in res.summary["bands"].items():
        out.print(f"{band}: {b['promise_reach90_share_own_base'] * 100:.1f}% of demand reached by its own base within "
                  f"{m:g} min of the report in 90% of cases (dispatch delay + turnout + drive, idle crew); "
                  f"{b['promise_reach50_share_own_base'] * 100:.1f}% in half of cases; drive alone within {m:g} min: "
                  f"{b['demand_share_own_base'] * 100:.1f}%", highlight=False, markup=False)
        weak = sorted(((x["promise_reach90_share"], t) for t, x in b["by_team"].items()
                       if x["promise_reach90_share"] is not None))[:3]
        if weak and weak[0][0] < 0.999:
            out.print("  least reached: " + ", ".join(f"{t} {v * 100:.0f}%" for v, t in weak), highlight=False,
                      markup=False)
    out.print("(waiting for a busy crew is not included here; `dispatch-sim run` simulates it)", highlight=False)
    out.print(f"wrote {out_dir}/: {', '.join(written)}", highlight=False)


@app.command()
@_guard
def compare(a: Path = typer.Argument(..., help="variant A"), b: Path = typer.Argument(..., help="variant B"),
            out_dir: Path = typer.Option(Path("out"), "--out"), replications: Optional[int] = typer.Option(None, min=1),
            workers: Optional[int] = typer.Option(None, min=1),
            scheduler: Optional[str] = typer.Option(None,
                                                    help="Dask scheduler address tcp://HOST:PORT (or "
                                                         "DISPATCH_SIM_SCHEDULER)")):
    """Paired comparison B − A under common random numbers (compare.json).

    Example: dispatch-sim compare scenarios/nanhu_peak_load.yaml scenarios/nanhu_mutual_aid.yaml
    """
    from .experiments import compare as do_compare
    from .output import write_compare

    wa = _world(a)
    wb = _world_like(wa, b)
    with _Progress("replications (A, then B)") as prog:
        res = do_compare(wa, wb, replications=replications, workers=workers, scheduler=scheduler, progress=prog)
    written = write_compare(res, out_dir, lang=wa.scenario.report.lang)
    _print_comparison(res.to_json())
    out.print(f"wrote {out_dir}/: {', '.join(written)}", highlight=False)


@app.command()
@_guard
def place(scenario: Path = typer.Argument(...), out_dir: Path = typer.Option(Path("out"), "--out"),
          add: Optional[int] = typer.Option(None, "--add", min=1, help="add this many new posts, keeping every base"),
          relocate: bool = typer.Option(False, "--relocate", help="move township bases within their jurisdictions"),
          max_moves: Optional[int] = typer.Option(None, "--max-moves", min=0,
                                                  help="with --relocate: at most this many"),
          candidates: Optional[Path] = typer.Option(None, help="CSV of candidate sites: name, lon, lat[, crs]"),
          sample: int = typer.Option(300, min=0, help="road nodes sampled as extra candidate sites"),
          band: Optional[str] = typer.Option(None, help="time band for travel times (default: off-peak)"),
          post_crews: int = typer.Option(1, "--post-crews", min=1, help="crews at each new post"),
          verify: bool = typer.Option(True, help="simulate current layout and proposal with common random numbers"),
          load: Optional[float] = typer.Option(None, min=0.001, help="load for the verification runs"),
          replications: Optional[int] = typer.Option(None, min=1),
          workers: Optional[int] = typer.Option(None, min=1),
          scheduler: Optional[str] = typer.Option(None,
                                                  help="Dask scheduler address tcp://HOST:PORT (or "
                                                       "DISPATCH_SIM_SCHEDULER)")):
    """Where to put posts: a maximal covering model on road travel times (PuLP/CBC), then the
    proposal simulated against the current layout (placement.json, placement_variant.yaml, figures).

    Example: dispatch-sim place scenarios/nanhu_peak_load.yaml --add 1 --out out/place
    """
    from . import placement
    from .output import write_place

    if (add is None) == (not relocate):
        raise DispatchSimError("place: give exactly one of --add K or --relocate")
    if max_moves is not None and not relocate:
        raise DispatchSimError("place: --max-moves only applies with --relocate")
    points = placement.read_candidates(candidates) if candidates else ()
    w = _world(scenario)
    names = [b.name for b in w.bands.bands]
    if band is not None and band not in names:
        raise DispatchSimError(f"--band: {band!r} is not a time band of this scenario; allowed: {', '.join(names)}")
    b = names.index(band) if band else 0
    with err.status("solving the covering model…"):
        res = placement.propose(w, mode="relocate" if relocate else "add", k=add or 0, max_moves=max_moves,
                                band=b, points=points, sample=sample, seed=w.scenario.run.seed, post_crews=post_crews)
    prop = res.proposal
    cov, twice = prop["demand_share_covered"], prop["demand_share_covered_twice"]
    out.print(f"demand within {prop['travel_budget_min']:g} min drive of a base: {cov['before']:.1%} → "
              f"{cov['after']:.1%}; "
              f"within reach of two bases: {twice['before']:.1%} → {twice['after']:.1%}", highlight=False)
    for c in prop["changes"]:
        what = f"add {c['name']}" if c["action"] == "add" else f"move {c['team']}"
        out.print(f"  {what} to {c['lon']:.5f}, {c['lat']:.5f} ({c['site']})", highlight=False)
    if not prop["changes"]:
        out.print("  no change improves coverage: the layout is already the best among the candidates", highlight=False)
    with _Progress("verifying by simulation") as prog:
        res = placement.finish(w, res, verify_by_simulation=verify, replications=replications, load=load,
                               workers=workers, scheduler=scheduler, progress=prog)
    if res.verification is not None:
        _print_comparison(res.verification.to_json())
    rec = res.recommendation or {}
    out.print(rec.get("text", ""), highlight=False, markup=False,
              style="bold green" if rec.get("recommended") else "bold yellow")
    written = write_place(res, w, out_dir)
    out.print(f"wrote {out_dir}/: {', '.join(written)}", highlight=False)


@app.command()
@_guard
def staff(scenario: Path = typer.Argument(..., help="scenario YAML"),
          out_dir: Path = typer.Option(Path("out"), "--out", help="output folder"),
          load: Optional[float] = typer.Option(None, min=0.001, help="load (× reports_per_day); default run.load"),
          night_cost: float = typer.Option(1.0, "--night-cost",
                                           help="cost of a crew-hour 20:00-08:00 relative to a day hour"),
          max_per_shift: int = typer.Option(12, "--max-per-shift", help="cap on crews in one shift of one team"),
          replications: Optional[int] = typer.Option(None, min=1),
          workers: Optional[int] = typer.Option(None, min=1, help="local processes evaluating candidate "
                                                "staffings side by side (default: every core; the proposal does not "
                                                "depend on it)"),
          scheduler: Optional[str] = typer.Option(None,
                                                  help="Dask scheduler address tcp://HOST:PORT (or "
                                                       "DISPATCH_SIM_SCHEDULER)")):
    """The fewest crews per team and shift that keep every township on target (staffing.json,
    staffing_variant.yaml, figures/staffing.png), verified by simulation.

    Example: dispatch-sim staff scenarios/nanhu_peak_load.yaml --out out/staff
    """
    import time

    from . import staffing
    from .output import write_staff

    staffing.check_inputs(night_cost, max_per_shift)
    w = _world(scenario)
    t0 = time.perf_counter()
    with err.status("searching staffing…") as status:
        def progress(n, verdict, counts):
            status.update(f"searching staffing… {n} evaluations, last: {verdict}, {sum(counts)} crew-shifts")

        res = staffing.propose(w, load=load, replications=replications, night_cost=night_cost,
                               max_per_slot=max_per_shift, workers=workers, scheduler=scheduler, progress=progress)
    secs = time.perf_counter() - t0
    res["seconds"] = round(secs, 1)
    written = write_staff(res, w, out_dir)
    out.print(f"{'team':<14}{'shift':<22}{'today':>6}{'bound':>7}{'proposed':>10}", highlight=False, markup=False)
    for r in res["table"]:
        mark = "" if r["today"] == r["proposed"] else ("  +" if r["proposed"] > r["today"] else "  -")
        out.print(f"{r['team']:<14}{r['shift']:<22}{r['today']:>6}{r['lower_bound']:>7}{r['proposed']:>10}{mark}",
                  highlight=False, markup=False)
    ch = res["crew_hours_per_day"]
    out.print(f"crew-hours a day: today {ch['today']:.0f}, proposed {ch['proposed']:.0f}", highlight=False)
    if res["infeasible"]:
        out.print(f"not found: {res['infeasible']}", style="bold red", highlight=False, markup=False)
    _print_verdict(res["verdict"])
    if res["minimal_wrt_single_removals"]:
        out.print("minimal with respect to single-crew removals: removing any one proposed crew makes a township miss",
                  highlight=False)
    out.print(f"{res['evaluations']} evaluations ({res['simulated_years']:g} simulated years) in {secs:.0f} s",
              highlight=False)
    out.print(f"wrote {out_dir}/: {', '.join(written)}", highlight=False)


def _print_comparison(res: dict) -> None:
    def pct(x):
        return "–" if x is None else f"{x * 100:.1f}%"

    for key, label in (("a", "A"), ("b", "B")):
        x = res[key]
        ci = x["on_time"].get("ci95") or [None, None]
        out.print(f"{label}: {x['scenario']}: {pct(x['on_time']['rate'])} on time"
                  + (f" (95% CI {pct(ci[0])}–{pct(ci[1])})" if ci[0] is not None else "")
                  + f"; verdict {x['verdict']['status']}"
                  + (", misses in "
                     f"{', '.join(x['verdict']['failing_townships'])}" if x["verdict"]["failing_townships"] else ""),
                  highlight=False, markup=False)
    d = res["difference_b_minus_a"]["on_time_rate"]
    m = res["difference_b_minus_a"]["mean_response_min"]
    ci = (f" (95% CI {d['ci95'][0] * 100:+.1f} to {d['ci95'][1] * 100:+.1f})" if d["ci95"][0] == d["ci95"][0]
          and d["ci95"][0] is not None else " (one replication: no interval)")
    out.print(f"on-time rate B − A: {d['mean'] * 100:+.1f} points{ci}; mean response {m['mean']:+.1f} min: "
              f"{res['decision']['text']}", highlight=False, markup=False)
    for t, x in res.get("by_township", {}).items():
        dd = x["difference_b_minus_a"]
        only = "A" if x["b"]["rate"] is None and x["a"]["rate"] is not None else \
            "B" if x["a"]["rate"] is None and x["b"]["rate"] is not None else None
        if only:  # an area of one variant only (e.g. a scenic-area team added in B)
            y = x[only.lower()]
            out.print(f"  {t}: only in {only}: {pct(y['rate'])} on time ({y['reports']} reports); {y['status'] or '–'}",
                      highlight=False, markup=False)
            continue
        if dd["mean"] is None or dd["mean"] != dd["mean"]:
            continue
        sig = "significant" if dd["significant"] else "not significant"
        out.print(f"  {t}: {pct(x['a']['rate'])} → {pct(x['b']['rate'])} ({dd['mean'] * 100:+.1f} points, {sig}); "
                  f"{x['a']['status'] or '–'} → {x['b']['status'] or '–'}", highlight=False, markup=False)
    aid = res["mutual_aid_in_b"]
    if aid and aid["reports"]:
        out.print(f"in B, teams helped outside their township {aid['reports']} times, "
                  f"{aid['crew_hours_per_day']:.2f} crew-hours a day; most:", highlight=False)
        for p in aid["pairs"][:5]:
            out.print(f"  {p['helper']} → {p['home_team']}: {p['reports']} reports, {p['crew_hours']:.1f} crew-hours",
                      highlight=False, markup=False)


def _world_like(wa, b_path):
    """World for scenario ``b_path``, reusing A's road graph (and router, when the bases match)."""
    from .model import World
    from .scenario import load_scenario

    sb = load_scenario(b_path)
    sa = wa.scenario
    if sb.graph != sa.graph or sb.speeds != sa.speeds:
        return _world(b_path)
    same_bases = [t.base for t in sb.teams] == [t.base for t in sa.teams]
    return World(sb, G=wa.network, router=wa.router if same_bases else None, warn=_warn)


@app.command()
@_guard
def route(scenario: Path = typer.Argument(...),
          from_: str = typer.Option(..., "--from", help="LON,LAT or a team name (its base)"),
          to: str = typer.Option(..., "--to", help="LON,LAT or a team name (its base)"),
          at: Optional[str] = typer.Option(None, help="time of day HH:MM (weekday); default: every time band"),
          day: Optional[float] = typer.Option(None, "--day", help="day of the run (0 = the Monday it starts): applies "
                                              "the scenario's closures and weather in force then"),
          crs: str = typer.Option("wgs84", help="wgs84 | gcj02 | bd09 (for LON,LAT given)"),
          geojson: Optional[Path] = typer.Option(None, "--geojson",
                                                 help="write the route(s) here as GeoJSON (for QGIS)"),
          as_json: bool = typer.Option(False, "--json", help="print JSON")):
    """Fastest travel time (minutes) and distance (km) between two places, per time band, and the
    detour when a closure of the scenario applies (--day).

    Example: dispatch-sim route scenarios/nanhu_baseline.yaml --from 东栅街道 --to 120.8545,30.6611 --at 08:00
    """
    import math

    from .bandgraph import BandGraphs
    from .disruptions import band_table
    from .locate import NodeLocator
    from .output import write_route
    from .scenario import load_scenario
    from .speeds import parse_hhmm
    from .world_roads import scenario_anchors, scenario_network

    if crs not in ("wgs84", "gcj02", "bd09"):
        raise DispatchSimError(f"--crs: {crs!r} is not one of wgs84, gcj02, bd09")
    try:
        minute = parse_hhmm(at) if at else None
    except ValueError as exc:
        raise DispatchSimError(f"--at: {exc}") from None
    sc = load_scenario(scenario)
    if day is not None and not (math.isfinite(day) and 0 <= day < sc.run.horizon_days):
        raise DispatchSimError(f"--day: {day!r} is not a day of the run (allowed: 0 to {sc.run.horizon_days:g})")
    anchors = scenario_anchors(sc)
    teams = ({t.name: i for i, t in enumerate(sc.teams)}
             | {t.name_en.lower(): i for i, t in enumerate(sc.teams) if t.name_en})
    pts = []
    for label, text in (("--from", from_), ("--to", to)):
        i = teams.get(text.strip(), teams.get(text.strip().lower()))
        if i is not None:
            pts.append((*anchors[i], "wgs84", sc.teams[i].name))
        elif "," in text:
            lon, lat = _parse_lonlat(label, text)
            pts.append((lon, lat, crs, f"{lon:.5f},{lat:.5f}"))
        else:
            raise DispatchSimError(f"{label}: {text[:60]!r} is neither LON,LAT nor a team of the scenario "
                                   f"(teams: {', '.join(t.name for t in sc.teams)})")
    net = scenario_network(sc, anchors=anchors, warn=_warn)
    loc = NodeLocator(net)
    s = [loc.snap(lon, lat, c, label=lbl, warn=_warn) for (lon, lat, c, _), lbl in zip(pts, ("--from", "--to"))]
    with_closures = day is not None and bool(sc.disruptions)
    needs_graph = with_closures and any(d.roads is not None for d in sc.disruptions)
    bands = (band_table(sc, net.graph() if needs_graph else None, sc.run.horizon_days * 1440.0) if with_closures
             else sc.speeds.band_table())
    graphs = BandGraphs(net, bands)
    regular = len(sc.speeds.band_table().bands)
    if minute is None and day is None:
        asked = list(range(regular))  # every regular band
    else:
        t_abs = (day or 0) * 1440.0 + (minute or 0)
        asked = [bands.band_at(t_abs)]
    standin = net.is_standin
    index = dict(zip(net.node_ids.tolist(), range(net.n)))
    src, dst = index[s[0].node], index[s[1].node]

    def leg(band):
        secs, path = graphs.shortest_route(src, dst, band)  # one search: the time and its route
        km = graphs.route_km(path)
        return {"band": bands.bands[band].name, "minutes": round(secs / 60.0, 3) if secs < math.inf else None,
                "km": round(km, 3) if path else None, "route_nodes": len(path),
                "route": [[round(float(net.lon[i]), 6), round(float(net.lat[i]), 6)] for i in path]}

    legs = [leg(b) for b in asked]
    first = legs[0]
    res = {"from": pts[0][3], "to": pts[1][3], "minutes": first["minutes"], "km": first["km"],
           "from_node": s[0].node, "to_node": s[1].node, "snap_m": [round(s[0].snap_m, 1), round(s[1].snap_m, 1)],
           "band": first["band"], "route_nodes": first["route_nodes"], "route": first["route"], "bands": legs,
           "graph_kind": net.kind, "standin": standin}
    if with_closures and asked[0] >= regular:  # a disruption is in force: the same time without it
        base_band = next(i for i in range(regular) if asked[0] in {m.get(i) for _, _, m in bands.windows})
        normal = leg(base_band)
        res["detour"] = {"without_disruptions": normal, "extra_minutes": (
            None if first["minutes"] is None else round(first["minutes"] - normal["minutes"], 3)),
            "extra_km": None if first["km"] is None else round(first["km"] - normal["km"], 3)}
    if geojson:
        write_route(res, geojson, standin)
    if as_json:
        _write_line(sys.stdout, json.dumps(res, ensure_ascii=False))
        return
    tag = "  [STAND-IN roads]" if standin else ""
    for x in legs:
        what = "no route (closed)" if x["minutes"] is None else f"{x['minutes']:.1f} min, {x['km']:.1f} km"
        _say(f"{res['from']} → {res['to']}: {what} ({x['band']}){tag}")
    if "detour" in res:
        d, n = res["detour"], res["detour"]["without_disruptions"]
        if d["extra_minutes"] is not None:
            _say(f"  detour for the disruption: +{d['extra_minutes']:.1f} min, {d['extra_km']:+.1f} km against "
                 f"{n['minutes']:.1f} min, {n['km']:.1f} km without it ({n['band']})")
    _say(f"snapped {res['snap_m'][0]} m / {res['snap_m'][1]} m from the road graph"
         + (f"; wrote {geojson}" if geojson else ""))


def _parse_lonlat(label: str, text: str) -> tuple[float, float]:
    import math

    try:
        lon, lat = (float(x) for x in text.split(","))
    except ValueError:
        raise DispatchSimError(f"{label}: expected LON,LAT in degrees, e.g. 120.7859,30.7611; got "
                               f"{text[:60]!r}") from None
    if not (math.isfinite(lon) and math.isfinite(lat) and -180 <= lon <= 180 and -90 <= lat <= 90):
        raise DispatchSimError(f"{label}: {text[:60]!r} is not a longitude,latitude in degrees "
                               "(allowed: -180..180, -90..90, longitude first)")
    return lon, lat


def _parse_bbox(text: Optional[str]):
    import math

    if text is None:
        return None
    try:
        vals = [float(x) for x in text.split(",")]
        assert len(vals) == 4 and all(math.isfinite(v) for v in vals)
    except (ValueError, AssertionError):
        raise DispatchSimError(f"--bbox: expected W,S,E,N in degrees, got {text[:80]!r}") from None
    w, s_, e, n = vals
    if not (-180 <= w < e <= 180 and -90 <= s_ < n <= 90):
        raise DispatchSimError(f"--bbox: {text[:80]!r} is not W,S,E,N in degrees with west < east and south < north")
    return tuple(vals)


@graph_app.command("fetch")
@_guard
def graph_fetch(place: Optional[str] = typer.Option(None, help='e.g. "南湖区, 嘉兴市, 浙江省, 中国"'),
                bbox: Optional[str] = typer.Option(None, help="W,S,E,N"),
                out_file: Optional[Path] = typer.Option(None, "--out",
                                                        help="also save the cleaned graph here (GraphML)"),
                refresh: bool = typer.Option(False, help="download anew: bypass the graph cache and the HTTP cache"),
                overpass_url: Optional[str] = typer.Option(None, "--overpass-url", envvar="DISPATCH_SIM_OVERPASS_URL",
                                                           help="Overpass API endpoint (a mirror), e.g. "
                                                                "https://overpass.kumi.systems/api"),
                nominatim_url: Optional[str] = typer.Option(None, "--nominatim-url",
                                                            envvar="DISPATCH_SIM_NOMINATIM_URL",
                                                            help="Nominatim endpoint for --place lookups")):
    """Download the drivable network from OpenStreetMap (cached; needs internet the first time).

    Example: dispatch-sim graph fetch --place "南湖区, 嘉兴市, 浙江省, 中国" --out data/nanhu_drive.graphml
    """
    from .roads import check_service_url, fetch_osm, graph_info, prepare_graph, save_graph

    b = _parse_bbox(bbox)
    if (place is None) == (b is None):
        raise DispatchSimError("give exactly one of --place or --bbox")
    if place is not None and (not place.strip() or len(place) > 500):
        raise DispatchSimError("--place: give a place name such as \"南湖区, 嘉兴市, 浙江省, 中国\" (at most 500 "
                               "characters)")
    for label, url in (("--overpass-url", overpass_url), ("--nominatim-url", nominatim_url)):
        if url is not None:
            check_service_url(url, label)
    G = prepare_graph(fetch_osm(place=place, bbox=b, refresh=refresh, overpass_url=overpass_url,
                                nominatim_url=nominatim_url))
    if out_file:
        save_graph(G, out_file)
    _print_info(graph_info(G))


@graph_app.command("import")
@_guard
def graph_import(file: Path = typer.Argument(..., help=".osm, .osm.bz2 or .osm.pbf extract"),
                 bbox: Optional[str] = typer.Option(None, help="clip to W,S,E,N"),
                 polygon: Optional[Path] = typer.Option(None, help="clip to a GeoJSON polygon"),
                 out_file: Path = typer.Option(..., "--out", help="GraphML to write")):
    """Import a local OSM extract (streamed), clip it and save the cleaned drivable graph.

    Example: dispatch-sim graph import zhejiang-latest.osm.pbf --bbox 120.65,30.60,120.98,30.85 --out \
data/nanhu_drive.graphml
    """
    from .roads import graph_info, import_osm_file, load_polygon, prepare_graph, resolve_data_path, save_graph

    b = _parse_bbox(bbox)
    poly = load_polygon(polygon, label="--polygon") if polygon else None
    G = prepare_graph(import_osm_file(resolve_data_path(file), bbox=b, polygon=poly))
    save_graph(G, out_file)
    _print_info(graph_info(G))
    _say(f"wrote {out_file}")


@graph_app.command("info")
@_guard
def graph_info_cmd(target: Path = typer.Argument(..., help="a scenario YAML or a GraphML file"),
                   as_json: bool = typer.Option(False, "--json")):
    """Describe a road graph: nodes, edges, extent, km by class, source, kind, what was dropped.

    Example: dispatch-sim graph info scenarios/nanhu_baseline.yaml
    """
    from .roads import graph_info, load_graphml_file, prepare_graph

    if target.suffix.lower() in (".yaml", ".yml"):
        w = _world(target)
        info = graph_info(w.network)
    else:
        info = graph_info(prepare_graph(load_graphml_file(target)))
    if as_json:
        _write_line(sys.stdout, json.dumps(info, ensure_ascii=False))
    else:
        _print_info(info)


def _print_info(info: dict) -> None:
    kind = info["kind"]
    _say(f"kind: {kind}{'  <-- ' + settings.standin_label if kind == 'stand-in' else ''}")
    _say(f"source: {info['source']}")
    _say(f"nodes: {info['nodes']}, edges: {info['edges']}; extent (W,S,E,N): {info['extent']}")
    _say(f"dropped outside the largest strongly connected component: {info['dropped_nodes']} nodes, "
         f"{info['dropped_edges']} edges")
    _say("km of road (directed edges) by "
         "class: " + ", ".join(f"{k} {v}" for k, v in info["km_directed_by_class"].items()))
    _say(info["attribution"])


# ------------------------------------------------------------------ calibrate and backtest (issue 16)

def _read_log(log_path: Path, crs: str, mapping: Optional[Path], label: str):
    """Read a report log (before any graph is built: a bad file fails in a second, not after the graph)."""
    from .logs import Mapping, normalise_crs, read_log

    m = Mapping.read(mapping) if mapping else None
    c = normalise_crs(crs, "--crs")
    return read_log(log_path, mapping=m, label=label), c


def _locate_log(world, log, c: str):
    """Locate and screen a read log against the scenario's district."""
    from .boundaries import district_polygon

    log.locate(None if c == "auto" else c, district=district_polygon(world.scenario), extent=world.locator.extent,
               locator=world.locator)
    return log


def _say_log(log) -> None:
    c = log.counts()
    _say(f"{log.path}: {c['rows']} rows: {c['used']} used, {c['quarantined']} quarantined"
         + (" (" + "; ".join(f"{n} "
                             f"{k}" for k, n in c["quarantined_by_reason"].items()) + ")" if c["quarantined"] else ""))
    for k, n in c["notes"].items():
        _warn(f"{log.path}: {n} rows: {k}")
    _say(f"coordinates: {c['crs']} ({c['crs_how']}); encoding {c['encoding']}")


@app.command()
@_guard
def calibrate(log_file: Path = typer.Argument(..., help="report log exported by the platform (CSV or XLSX)"),
              base: Path = typer.Option(..., "--base", help="scenario YAML to start from (the new one extends it)"),
              out_file: Path = typer.Option(..., "--out", help="calibrated scenario YAML to write"),
              report_dir: Optional[Path] = typer.Option(None, "--report-dir", help="folder for calibration.html, "
                                                        "calibration.json, quarantine.csv (default: NEW_calibration/)"),
              crs: str = typer.Option("auto", help="coordinates of the log: wgs84 | gcj02 | bd09 | auto (detected)"),
              mapping: Optional[Path] = typer.Option(None,
                                                     help="YAML/JSON: column names, crs, category/township names"),
              lang: Optional[str] = typer.Option(None, help="page language zh | en (default: the base's report.lang)"),
              seed: int = typer.Option(0, min=0, help="bootstrap seed")):
    """Fit a scenario to a report log: demand, work times, delays, speeds; writes NEW.yaml and a page.

    Example: dispatch-sim calibrate scenarios/examples/nanhu_synthetic_log_2022q3.csv --base \
scenarios/nanhu_baseline.yaml --out out/calibrated.yaml
    """
    from .calibrate import calibrate as fit, write_calibration
    from .io import prepare_out_dir

    if lang not in (None, "zh", "en"):
        raise DispatchSimError(f"--lang: {lang!r} is not one of zh, en")
    if out_file.suffix.lower() not in (".yaml", ".yml"):
        raise DispatchSimError(f"--out: {out_file}: give a .yaml file name for the calibrated scenario")
    log, c = _read_log(log_file, crs, mapping, "LOG")
    world = _world(base)
    _locate_log(world, log, c)
    rdir = report_dir or out_file.with_name(out_file.stem + "_calibration")
    prepare_out_dir(rdir, "--report-dir")
    cal = fit(log, world, seed=seed)
    paths = write_calibration(cal, log, world, base, out_file, report_dir=rdir, lang=lang or world.scenario.report.lang)
    _say_log(log)
    d = cal["demand"]
    _say(f"reports per day {d['reports_per_day']:.2f} (95% CI {d['reports_per_day_ci95'][0]:.2f}-"
         f"{d['reports_per_day_ci95'][1]:.2f}) over {d['days']} days")
    for band, v in (cal["travel"].get("bands") or {}).items():
        _say(f"speed factor {band}: {v['speed_factor']:.3f} (95% CI {v['ci95'][0]:.3f}-{v['ci95'][1]:.3f}, n={v['n']})")
    for note in cal["notes"]:
        _warn(f"{log_file}: {note}")
    _say(f"wrote {paths['scenario']}, {paths['points']}, {paths['page']}, {paths['quarantine']}")


@app.command()
@_guard
def backtest(scenario: Path = typer.Argument(..., help="scenario YAML to test"),
             log_file: Path = typer.Option(..., "--log", help="report log exported by the platform (CSV or XLSX)"),
             out_dir: Path = typer.Option(..., "--out", help="output folder"),
             replications: int = typer.Option(20, min=3, help="replays of the log (and demand draws)"),
             seed: Optional[int] = typer.Option(None, min=0, help="override run.seed"),
             crs: str = typer.Option("auto", help="coordinates of the log: wgs84 | gcj02 | bd09 | auto (detected)"),
             mapping: Optional[Path] = typer.Option(None, help="YAML/JSON: column names, crs, category/township names"),
             lang: Optional[str] = typer.Option(None,
                                                help="page language zh | en (default: the scenario's report.lang)")):
    """Replay a report log through the model; say where model and record disagree beyond chance.

    Example: dispatch-sim backtest out/calibrated.yaml --log scenarios/examples/nanhu_synthetic_log_2022q3.csv --out \
out/backtest
    """
    from .backtest import backtest as run_backtest, summary_lines
    from .output import write_backtest

    if lang not in (None, "zh", "en"):
        raise DispatchSimError(f"--lang: {lang!r} is not one of zh, en")
    log, c = _read_log(log_file, crs, mapping, "--log")
    world = _world(scenario)
    _locate_log(world, log, c)
    bt = run_backtest(world, log, replications=replications, seed=seed)
    paths = write_backtest(bt, log, world, out_dir, lang=lang)
    _say_log(log)
    for line in summary_lines(bt):
        _say(line)
    _say(f"wrote {paths['json']}, {paths['page']}, {paths['quarantine']}")


_HOIST = {"-v", "--verbose", "-q", "--quiet"}


def run_cli(argv: list[str] | None = None, prog_name: str = "dispatch-sim") -> int:
    """Run the command line with ``argv`` and return the exit code (never raises, never a traceback).

    ``-v``/``-q`` are accepted anywhere before ``--``. Usage errors (a bad option value) are one line,
    exit 2. Used by :func:`main` and by tests that run the CLI in-process.
    """
    argv = list(sys.argv[1:] if argv is None else argv)
    cut = argv.index("--") if "--" in argv else len(argv)
    flags = [a for a in argv[:cut] if a in _HOIST]
    argv = flags + [a for a in argv[:cut] if a not in _HOIST] + argv[cut:]
    _state.update(verbose=False, quiet=False, warned=set())
    _install_warning_hook()
    logging.getLogger("osmnx").setLevel(logging.WARNING)
    warnings.filterwarnings("ignore", category=FutureWarning)
    try:
        rc = app(args=argv, prog_name=prog_name, standalone_mode=False)
        return rc if isinstance(rc, int) else 0
    except _NO_ARGS_HELP as exc:
        sys.stdout.write((exc.ctx.get_help() if exc.ctx else str(exc)) + "\n")
        return 0
    except _CLICK_EXIT as exc:
        return exc.exit_code
    except _CLICK_ABORT:
        _eprint("interrupted")
        return 130
    except _CLICK_ERROR as exc:
        cmd = exc.ctx.command_path if getattr(exc, "ctx", None) is not None else prog_name
        msg = " ".join(exc.format_message().split())
        _eprint(f"error: {msg} (see: {cmd} --help)")
        return 2
    except DispatchSimError as exc:  # errors raised outside a command body
        for line in _problems(exc):
            _eprint(f"error: {line}")
        return exc.exit_code
    except KeyboardInterrupt:
        _eprint("interrupted")
        return 130
    except Exception as exc:  # noqa: BLE001
        _report_bug(exc, {})
        return 3


def main() -> None:
    sys.exit(run_cli(sys.argv[1:], prog_name="dispatch-sim"))


if __name__ == "__main__":
    main()
