"""Gather what the report shows: results, figures, input checksums, config and versions.

Reads files in results/ only; imports neither matplotlib nor pymare (the figures are
already drawn).
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import yaml

from ..figures.data import gosh_tables, read_table, sensitivity_tables
from ..outputs import FIGURE_SUFFIXES
from ..provenance import shown_path, software_versions  # noqa: F401  (shown_path: tests)


def figure_map(paths: Iterable, analysis_ids: Iterable[str]) -> dict[str, dict[str, str]]:
    """{analysis_id: {kind: svg text}} from results/figures/<id>[_funnel|_gosh].svg."""
    by_name = {Path(p).name: Path(p) for p in paths}
    out: dict[str, dict[str, str]] = {}
    for aid in analysis_ids:
        for kind, suffix in FIGURE_SUFFIXES.items():
            p = by_name.get(f"{aid}{suffix}.svg")
            if p is not None:
                out.setdefault(aid, {})[kind] = p.read_text(encoding="utf-8")
    return out


def config_yaml(config: dict) -> str:
    """The config as run, as YAML (key order kept, so two runs print the same text)."""
    return yaml.safe_dump(
        _plain(config), sort_keys=False, allow_unicode=True, width=96, default_flow_style=False
    )


def _plain(x):
    """Snakemake's config may hold its own dict/list subclasses: plain types for YAML."""
    if isinstance(x, dict):
        return {str(k): _plain(v) for k, v in x.items()}
    if isinstance(x, list | tuple):
        return [_plain(v) for v in x]
    return x


def load_results(
    effects,
    excluded,
    derivations,
    pooled,
    weights,
    validated: Iterable,
    inputs,
    config: dict,
    sensitivity: Iterable = (),
    gosh: Iterable = (),
    **optional,
) -> dict:
    """Everything the report shows, read once from the result files (paths).

    ``validated``: results/validated/<table>.csv (studies and arms are shown, the
    digitized curves drawn); ``inputs``: results/inputs.csv (each input table's path and
    SHA-256); ``sensitivity``: results/sensitivity/<id>/<name>.csv; ``gosh``:
    results/gosh/<id>.csv; ``optional``: the other result tables by name (``bayes``,
    ``bayes_tau``, ``vcov``, ``reconstructed``), each a path or None. The figures are drawn
    from the same tables.
    """
    ids = [a["id"] for a in config["analyses"]]
    tables = {Path(p).stem: read_table(p) for p in validated}
    checksums = read_table(inputs)
    return {
        "effects": read_table(effects),
        "excluded": read_table(excluded) if excluded else None,
        "derivations": read_table(derivations) if derivations else None,
        "pooled": read_table(pooled),
        "weights": read_table(weights),
        "studies": tables["studies"],
        "arms": tables.get("arms"),
        "km_points": tables.get("km_points"),
        "km_at_risk": tables.get("km_at_risk"),
        "sensitivity": sensitivity_tables(sensitivity),
        "gosh": gosh_tables(gosh, ids),
        "inputs": [tuple(r) for r in checksums[["table", "path", "sha256"]].to_numpy(str)],
        **{name: read_table(path) if path else None for name, path in optional.items()},
    }


def render_results(results: dict, figures: dict, config: dict) -> str:
    """The report's HTML from :func:`load_results` and the drawn {id: {kind: svg}}."""
    from .render import render_report

    return render_report(
        config=config,
        **results,
        figures=figures,
        versions=software_versions(),
        config_text=config_yaml(config),
    )


def build_report(results_dir, figures: Iterable, config: dict) -> str:
    """The report's HTML from a finished run's results/ folder and the SVG files written."""
    from ..outputs import (
        BAYES,
        BAYES_TAU,
        DERIVATIONS,
        EFFECTS,
        EXCLUDED,
        INPUTS,
        POOLED,
        RECONSTRUCTED,
        VCOV,
        WEIGHTS,
        gosh_analyses,
        gosh_path,
        output_paths,
        validated_path,
    )  # fmt: skip

    root = Path(results_dir).parent

    def at(rel: str) -> Path:
        return root / rel

    results = load_results(
        at(EFFECTS), at(EXCLUDED), at(DERIVATIONS), at(POOLED), at(WEIGHTS),
        [at(validated_path(t)) for t in config["inputs"]], at(INPUTS), config,
        [at(p) for p in output_paths(config["analyses"])],
        [at(gosh_path(a)) for a in gosh_analyses(config)],
        bayes=at(BAYES), bayes_tau=at(BAYES_TAU), vcov=at(VCOV), reconstructed=at(RECONSTRUCTED),
    )  # fmt: skip
    ids = [a["id"] for a in config["analyses"]]
    return render_results(results, figure_map(figures, ids), config)
