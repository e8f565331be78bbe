"""Render the self-contained HTML report (jinja2, autoescaped, no external resources)."""

from __future__ import annotations

import math
from pathlib import Path, PurePath
from statistics import NormalDist

import pandas as pd
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

_DASH = "–"
_TEMPLATES = Path(__file__).parent / "templates"
_STUDY_COLS = ["study_id", "citation", "year", "doi", "design", "risk_of_bias"]
_EXCL_COLS = ["study_id", "outcome", "treatment_arm", "control_arm", "reason"]
_POOL_COLS = [
    "subgroup",
    "method",
    "test",
    "k",
    "hr",
    "hr_ci_low",
    "hr_ci_high",
    "hr_pi_low",
    "hr_pi_high",
    "tau2",
    "i2",
    "q",
    "q_df",
    "q_p",
    "status",
    "_main",
]
_EFF_COLS = [
    "study_id",
    "treatment_arm",
    "control_arm",
    "source_method",
    "yi",
    "sei",
    "assumptions",
    "reported",
    "source",
    "quote",
]
_TESTS = {"z": "z (normal)", "knha": "Hartung-Knapp-Sidik-Jonkman t"}


def _missing(x) -> bool:
    if x is None:
        return True
    try:
        return bool(pd.isna(x))
    except (TypeError, ValueError):
        return False


def fmt_num(x, digits: int = 3) -> str:
    """3 decimals, or 3 significant digits for small values so tau² ~ 0.001 stays visible."""
    if _missing(x) or isinstance(x, str) and not x.strip():
        return _DASH
    try:
        v = float(x)
    except (TypeError, ValueError):
        return str(x)
    if math.isinf(v):
        return "∞" if v > 0 else "-∞"
    if v == 0 or abs(v) >= 0.1:
        return f"{v:.{digits}f}"
    return f"{v:.{digits}g}"


def fmt_int(x) -> str:
    if _missing(x):
        return _DASH
    try:
        return str(int(float(x)))
    except (TypeError, ValueError):
        return str(x)


def fmt_p(x) -> str:
    if _missing(x):
        return _DASH
    return "< 0.001" if float(x) < 0.001 else f"{float(x):.3f}"


def fmt_text(x) -> str:
    return _DASH if _missing(x) else str(x)


def fmt_ci(est, lo, hi) -> str:
    return _DASH if _missing(est) else f"{fmt_num(est)} [{fmt_num(lo)}, {fmt_num(hi)}]"


def _records(df: pd.DataFrame | None, cols: list[str] | None = None) -> list[dict]:
    """Rows as dicts with every requested column present (StrictUndefined-safe)."""
    if df is None or df.empty:
        return []
    out = df.reindex(columns=cols) if cols else df
    return out.astype(object).where(out.notna(), None).to_dict("records")


def _ordered(df: pd.DataFrame | None, first: list[str]) -> list[str]:
    """Known columns first, then whatever else the team's table carries."""
    cols = [] if df is None else list(df.columns)
    return [c for c in first if c in cols] + [c for c in cols if c not in first]


def _arms(x) -> str:
    return " / ".join(map(str, x)) if isinstance(x, list | tuple) else fmt_text(x)


def _analysis(a: dict, effects, pooled, pooling: dict, figures: dict) -> dict:
    aid = a["id"]
    metric = a.get("metric", "log_hr")
    eff = effects[effects["analysis_id"] == aid] if "analysis_id" in effects else effects
    pool = pooled[pooled["analysis_id"] == aid].copy() if "analysis_id" in pooled else pooled
    pool_rows = _records(pool, list(dict.fromkeys(list(pool.columns) + _POOL_COLS)))
    for r in pool_rows:
        r["_main"] = (
            r.get("subgroup", "all") == "all"
            and str(r.get("method")) == str(pooling.get("method"))
            and str(r.get("test")) == str(pooling.get("test"))
        )
    # Main method/test first, then the other overall rows, then subgroups (stable).
    pool_rows.sort(key=lambda r: (not r["_main"], r.get("subgroup", "all") != "all"))
    z = NormalDist().inv_cdf(0.975)
    eff_rows = _records(eff, list(dict.fromkeys(list(eff.columns) + _EFF_COLS)))
    for r in eff_rows:
        yi, se = r["yi"], r["sei"]
        ok = not _missing(yi)
        ok_se = ok and not _missing(se)
        r["_ratio"] = math.exp(yi) if ok else None
        r["_lo"] = math.exp(yi - z * se) if ok_se else None
        r["_hi"] = math.exp(yi + z * se) if ok_se else None
    treat, ctrl = _arms(a.get("treatment")), _arms(a.get("control"))
    return {
        "id": aid,
        "title": a.get("title") or f"{str(a.get('outcome', '')).upper()}: {treat} vs {ctrl}",
        "outcome": a.get("outcome"),
        "treatment": treat,
        "control": ctrl,
        "metric": metric,
        "ratio": "Ratio of medians" if metric == "log_mr" else "HR",
        "subgroups": a.get("subgroups"),
        "figure": figures.get(aid),
        "pooled": pool_rows,
        "effects": eff_rows,
    }


def render_report(
    effects: pd.DataFrame,
    excluded: pd.DataFrame,
    pooled: pd.DataFrame,
    studies: pd.DataFrame,
    config: dict,
    figures: dict[str, str],
    versions: dict[str, str],
    inputs: dict[str, str],
) -> str:
    """Return the report HTML; everything but our own SVG is autoescaped."""
    env = Environment(
        loader=FileSystemLoader(_TEMPLATES),
        autoescape=select_autoescape(["html", "j2"]),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters.update(num=fmt_num, whole=fmt_int, p=fmt_p, text=fmt_text)
    env.globals["ci"] = fmt_ci
    pooling = {"method": "REML", "test": "knha", "level": 0.95, **(config.get("pooling") or {})}
    background = str(config.get("background") or "").strip()
    studies_cols = _ordered(studies, _STUDY_COLS)
    excl_cols = _ordered(excluded, _EXCL_COLS)
    ctx = {
        "title": config.get("title") or "Meta-analysis report",
        "background": [p.strip() for p in background.split("\n\n") if p.strip()],
        "pooling": pooling,
        "test_name": _TESTS.get(str(pooling["test"]), str(pooling["test"])),
        "sensitivity": config.get("sensitivity") or {},
        "multiarm": config.get("multiarm"),
        "analyses": [
            _analysis(a, effects, pooled, pooling, figures) for a in config.get("analyses", [])
        ],
        "excluded_cols": excl_cols,
        "excluded": _records(excluded, excl_cols),
        "study_cols": studies_cols,
        "studies": _records(studies, studies_cols),
        "versions": sorted(versions.items()),
        # Never show absolute paths: they differ between machines and leak user names.
        "inputs": sorted(
            (PurePath(k).name if PurePath(k).is_absolute() else k, v) for k, v in inputs.items()
        ),
    }
    return env.get_template("index.html.j2").render(**ctx)
