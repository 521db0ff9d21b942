"""Regenerate docs/scenario_reference.md from the scenario schema (python tools/gen_scenario_reference.py).

The reference is written for planners who edit YAML, not for Python readers: each field's type in
words ("number ≥ 0", "list of numbers", "one of: wgs84, gcj02, bd09", "mapping of team name →
number"), its unit (from the ``_min``, ``_kph``, ``_per_day``, ``_m``, ``_days`` suffixes), its
default and its meaning (the pydantic ``description``).

The sections are found by walking the schema from :class:`dispatch_sim.scenario.Scenario`, so a
section someone adds appears without editing this file; a model used in several places (a point,
a duration) is described once, where it first appears, with the other places listed.
:func:`undocumented` lists the fields that have no description (a test keeps that list from growing).
"""

from __future__ import annotations

import sys
import types
import typing
from pathlib import Path

from annotated_types import Ge, Gt, Le, Lt, MaxLen, MinLen
from pydantic import BaseModel
from pydantic.fields import FieldInfo

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from dispatch_sim import scenario as S  # noqa: E402

#: What the keys of a mapping field are, by field name.
MAPPING_KEYS = {"shares": "team name", "per_team": "team name", "urban_kph": "road class", "rural_kph": "road class",
                "factor": "road class"}

#: Units that the suffix rule would get wrong (``on_time_rate_min`` is a minimum rate, not minutes).
UNIT_OVERRIDES = {"on_time_rate_min": "share (0–1)", "share": "share (0–1)", "lon": "degrees", "lat": "degrees",
                  "factor": "× (multiplier)", "load": "× (multiplier)", "maxspeed_factor": "× (multiplier)",
                  "weight": "relative", "start": "HH:MM", "end": "HH:MM", "start_day": "day of the run",
                  "end_day": "day of the run", "hourly_profile": "relative, hour 0–23",
                  "weekly_profile": "relative, Mon–Sun", "bbox": "degrees (WGS-84)"}

#: Unit by name suffix, longest first.
SUFFIX_UNITS = (("_per_day", "per day"), ("_days", "days"), ("_kph", "km/h"), ("_min", "minutes"), ("_m", "metres"))

#: Headings of sections whose model is used in many places, by model class name.
SHARED_TITLES = {"Point": "point (a base, a centre: any coordinate)", "Distribution": "duration (any …_min distribution)"}


def unit(name: str) -> str:
    """The unit of a field, from its name."""
    if name in UNIT_OVERRIDES:
        return UNIT_OVERRIDES[name]
    for suffix, words in SUFFIX_UNITS:
        if name.endswith(suffix):
            return words
    return ""


def _num(x) -> str:
    return f"{int(x):,}" if float(x).is_integer() else f"{x:g}"


def _bounds(metadata) -> str:
    """Numeric bounds in words: "≥ 0", "> 0 and ≤ 150"."""
    parts = []
    for m in metadata:
        if isinstance(m, Ge):
            parts.append(f"≥ {_num(m.ge)}")
        elif isinstance(m, Gt):
            parts.append(f"> {_num(m.gt)}")
        elif isinstance(m, Le):
            parts.append(f"≤ {_num(m.le)}")
        elif isinstance(m, Lt):
            parts.append(f"< {_num(m.lt)}")
    return " and ".join(parts)


def _length(metadata) -> str:
    lo = next((m.min_length for m in metadata if isinstance(m, MinLen)), None)
    hi = next((m.max_length for m in metadata if isinstance(m, MaxLen)), None)
    if lo and hi:
        return f"{lo} to {hi}"
    return f"at least {lo}" if lo else f"at most {hi}" if hi else ""


def _strip_optional(ann):
    args = typing.get_args(ann)
    if typing.get_origin(ann) in (typing.Union, types.UnionType) and type(None) in args:
        rest = tuple(a for a in args if a is not type(None))
        return (rest[0] if len(rest) == 1 else typing.Union[rest]), True
    return ann, False


def _models_in(ann) -> list[type[BaseModel]]:
    """Every pydantic model inside an annotation (lists, mappings, unions), in order."""
    if isinstance(ann, type) and issubclass(ann, BaseModel):
        return [ann]
    out = []
    for a in typing.get_args(ann):
        for m in _models_in(a):
            if m not in out:
                out.append(m)
    return out


def words(ann, metadata=(), name: str = "", plural: bool = False, sections: dict | None = None) -> str:
    """A type annotation in words, with its bounds: "number ≥ 0", "list of numbers", "one of: a, b"."""
    ann, optional = _strip_optional(ann)
    origin = typing.get_origin(ann)
    if origin is typing.Annotated:
        base, *extra = typing.get_args(ann)
        meta = list(metadata) + [m for e in extra for m in (e.metadata if isinstance(e, FieldInfo) else [e])]
        disc = next((e.discriminator for e in extra if isinstance(e, FieldInfo) and e.discriminator), None)
        if disc:
            kinds = [typing.get_args(m.model_fields[disc].annotation)[0] for m in _models_in(base)]
            text = f"{'items' if plural else 'an item'} whose `{disc}` is one of: {', '.join(kinds)}"
        else:
            text = words(base, meta, name, plural, sections)
    elif origin is typing.Literal:
        text = "one of: " + ", ".join(str(a) for a in typing.get_args(ann))
    elif origin in (list, tuple) or ann in (list, tuple):
        args = typing.get_args(ann)
        if origin is tuple and args and Ellipsis not in args:
            inner = words(args[0], (), name, True, sections)
            text = f"{len(args)} {inner}" + (" [west, south, east, north]" if name == "bbox" else "")
        else:
            text = "list of " + words(args[0] if args else typing.Any, (), name, True, sections)
        n = _length(metadata)
        text += f" ({n})" if n else ""
        metadata = ()
    elif origin is dict:
        _k, v = typing.get_args(ann)
        text = f"mapping of {MAPPING_KEYS.get(name, 'name')} → {words(v, (), name, False, sections)}"
    elif origin in (typing.Union, types.UnionType):
        text = ", or ".join(words(a, metadata, name, plural, sections) for a in typing.get_args(ann))
        metadata = ()
    elif isinstance(ann, type) and issubclass(ann, BaseModel):
        where = (sections or {}).get(ann)
        noun = "sections" if plural else "section"
        text = f"{noun} (see `{where}`)" if where else noun
    else:
        text = {bool: "true or false", int: "whole number", float: "number", str: "text"}.get(ann, "any value")
        if ann is str and _length(metadata).startswith("at least 1"):
            text = "text, not empty"
        if plural:
            text = {"true or false": "true/false values", "whole number": "whole numbers", "number": "numbers",
                    "text": "texts"}.get(text, text)
    b = _bounds(metadata) if origin not in (list, tuple, dict) else ""
    if b and not text.startswith(("list", "mapping")):
        text = f"{text} {b}"
    return text + (", or empty" if optional else "")


def walk() -> list[tuple[str, type[BaseModel], list[str]]]:
    """Sections in reading order (depth first): ``(path, model, other places it is used)``."""
    order: list[tuple[str, type[BaseModel]]] = []
    seen: dict[type, str] = {}
    uses: dict[type, list[str]] = {}

    def visit(path: str, model: type[BaseModel]) -> None:
        seen[model] = path
        order.append((path, model))
        for name, f in model.model_fields.items():
            if f.exclude:
                continue
            ann, _ = _strip_optional(f.annotation)
            many = typing.get_origin(ann) in (list, tuple)
            keyed = typing.get_origin(ann) is dict
            models = _models_in(ann)
            for m in models:
                sub = name if path == "(top level)" else f"{path}.{name}"
                if many:
                    sub += "[]"
                elif keyed:
                    sub += ".<" + MAPPING_KEYS.get(name, "name").replace(" ", "_") + ">"
                if len(models) > 1 and "kind" in m.model_fields:
                    sub += f" kind: {typing.get_args(m.model_fields['kind'].annotation)[0]}"
                if m in seen:
                    uses.setdefault(m, []).append(sub)
                else:
                    visit(sub, m)

    visit("(top level)", S.Scenario)
    return [(p, m, uses.get(m, [])) for p, m in order]


def title(path: str, model: type[BaseModel]) -> str:
    """A section's heading: its path, or a name for a model used in many places."""
    return SHARED_TITLES.get(model.__name__, path)


def _default(f: FieldInfo) -> str:
    if f.is_required():
        return "**required**"
    d = f.default_factory() if f.default_factory is not None else f.default
    if isinstance(d, BaseModel):
        return "defaults of its section"
    if d is None:
        return "–"
    if isinstance(d, list):
        if not d:
            return "`[]`"
        if isinstance(d[0], BaseModel):
            return f"{len(d)} item: " + ", ".join(f"`{x.model_dump(exclude_defaults=True)}`" for x in d)
        text = f"`{d}`"
        return text if len(text) < 40 else f"`[{', '.join(f'{x:g}' for x in d[:3])}, …]` ({len(d)} values)"
    if isinstance(d, dict) and not d:
        return "`{}`"
    if isinstance(d, bool):
        return f"`{str(d).lower()}`"
    if d == "":
        return "empty"
    return f"`{d:g}`" if isinstance(d, float) else f"`{d}`"



def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def undocumented() -> list[str]:
    """Fields without a description, as ``Model.field`` of ``dispatch_sim/scenario.py`` (where the
    description is to be written), e.g. ``RunConfig.horizon_days``."""
    out = []
    for _path, model, _ in walk():
        for name, f in model.model_fields.items():
            if not f.exclude and not (f.description or "").strip():
                out.append(f"{model.__name__}.{name}")
    return out


def render() -> str:
    """The whole reference as Markdown."""
    sections = walk()
    where = {m: title(p, m) for p, m, _ in sections}
    out = ["# Scenario reference", "",
           "Generated from the schema in `dispatch_sim/scenario.py` by `tools/gen_scenario_reference.py`; "
           "a test fails when it is out of date. Paths are relative to the file they are written in; "
           "`extends: base.yaml` merges a variant onto a base (mappings merge, lists replace). Unknown keys are "
           "errors. Units follow from field names: `_min` minutes, `_kph` km/h, `_m` metres, `_days` days, "
           "`_per_day` per day (but `on_time_rate_min` is a minimum share). \"or empty\" means the field may be "
           "left out or set to `null`.", ""]
    for path, model, also in sections:
        out += [f"## `{title(path, model)}`", ""]
        doc = " ".join((model.__doc__ or "").strip().split("\n\n")[0].split())
        if doc and not doc.startswith(("Usage docs", "!!!")) and model.__doc__ is not BaseModel.__doc__:
            out += [doc, ""]
        if also or title(path, model) != path:
            out += ["Used at: " + ", ".join(f"`{a}`" for a in [path, *also]) + ".", ""]
        out += ["| field | type | unit | default | meaning |", "|---|---|---|---|---|"]
        for name, f in model.model_fields.items():
            if f.exclude:
                continue
            typ = words(f.annotation, f.metadata, name, sections=where)
            out.append(f"| `{name}` | {_cell(typ)} | {unit(name)} | {_cell(_default(f))} | {_cell(f.description or '')} |")
        out.append("")
    out += ["## Example", "", "See `scenarios/nanhu_baseline.yaml` (every section used, with comments) and its variants.", ""]
    return "\n".join(out)


if __name__ == "__main__":
    (ROOT / "docs" / "scenario_reference.md").write_text(render(), encoding="utf-8")
    print("wrote docs/scenario_reference.md")
    missing = undocumented()
    if missing:
        print(f"{len(missing)} field(s) without a description:", ", ".join(missing))
