"""Check a review's config: every problem on one line, before anything runs.

Snakemake's ``validate`` stops at the first schema error and prints the schema
around it; a team fixing a config wants all problems at once, each naming the key
and what was expected. The schema stays the single definition (jsonschema, which
snakemake already depends on, lists every error); snakemake's ``validate`` then
fills in the defaults.
"""

from __future__ import annotations

import difflib
from pathlib import Path

import yaml

from .problems import Problem
from .tables import DEFAULT_ARM_CLASSES


def _key(path) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(top level)"


def _message(err, schema: dict) -> str:
    if err.validator == "additionalProperties":
        allowed = list(err.schema.get("properties", {}))
        extra = [k for k in err.instance if k not in allowed]
        parts = []
        for k in extra:
            close = difflib.get_close_matches(str(k), allowed, n=1)
            hint = f" (did you mean '{close[0]}'?)" if close else ""
            parts.append(f"unknown key '{k}'{hint}")
        return "; ".join(parts) + f"; expected one of: {', '.join(allowed)}"
    if err.validator == "enum":
        return f"{err.instance!r} is not allowed; expected one of: " + ", ".join(
            map(str, err.validator_value)
        )
    if err.validator == "required":
        return err.message.replace("is a required property", "is required")
    if err.validator in ("exclusiveMinimum", "exclusiveMaximum", "minimum", "maximum"):
        lo = err.schema.get("exclusiveMinimum", err.schema.get("minimum"))
        hi = err.schema.get("exclusiveMaximum", err.schema.get("maximum"))
        rng = f"in ({lo}, {hi})" if hi is not None else f">= {lo}"
        return f"{err.instance!r} is out of range; expected a number {rng}"
    if err.validator == "oneOf":
        return f"{err.instance!r} is not valid; expected a text value or a list of them"
    return err.message


def schema_problems(config: dict, schema_path: str | Path, label: str) -> list[Problem]:
    """Every schema violation of ``config``, one :class:`Problem` each, in key order."""
    from jsonschema import Draft202012Validator

    schema = yaml.safe_load(Path(schema_path).read_text())
    errors = sorted(
        Draft202012Validator(schema).iter_errors(config), key=lambda e: list(map(str, e.path))
    )
    return [Problem(label, None, _key(e.path), _message(e, schema)) for e in errors]


def analysis_problems(config: dict, label: str) -> list[Problem]:
    """Analyses that cannot mean anything: unknown arm classes, repeated ids."""
    problems: list[Problem] = []
    classes = list(config.get("arm_classes") or DEFAULT_ARM_CLASSES)
    seen: set[str] = set()
    for i, analysis in enumerate(config.get("analyses") or []):
        where = f"analyses[{i}]"
        aid = analysis.get("id")
        if aid in seen:
            problems.append(Problem(label, None, f"{where}.id", f"'{aid}' is used twice"))
        seen.add(aid)
        for side in ("treatment", "control"):
            value = analysis.get(side)
            for cls in [value] if isinstance(value, str) else list(value or []):
                if cls not in classes:
                    close = difflib.get_close_matches(str(cls), classes, n=1)
                    hint = f" (did you mean '{close[0]}'?)" if close else ""
                    problems.append(
                        Problem(
                            label,
                            None,
                            f"{where}.{side}",
                            f"'{cls}' is not an arm class{hint}; expected one of: "
                            + ", ".join(classes),
                        )
                    )
    return problems


def unmatched_analyses(tables: dict, config: dict, label: str) -> list[Problem]:
    """Analyses for which no study has both a treatment and a control arm for the outcome."""
    arms = tables["arms"]
    problems = []
    for i, analysis in enumerate(config["analyses"]):
        sides, names = [], []
        for side in ("treatment", "control"):
            value = analysis[side]
            classes = [value] if isinstance(value, str) else list(value)
            rows = arms[(arms["outcome"] == analysis["outcome"]) & arms["arm_class"].isin(classes)]
            sides.append(set(rows["study_id"]))
            names.append(" or ".join(classes))
        if not sides[0] & sides[1]:
            problems.append(
                Problem(
                    label,
                    None,
                    f"analyses[{i}]",
                    f"'{analysis['id']}' matches no study: none has both a treatment arm"
                    f" ({names[0]}) and a control arm ({names[1]}) for outcome"
                    f" {analysis['outcome']}",
                )
            )
    return problems


def missing_files(inputs: dict) -> list[Problem]:
    """Input tables that do not exist (checked before snakemake builds its DAG)."""
    return [
        Problem(str(path), None, None, "file not found")
        for path in inputs.values()
        if not Path(path).is_file()
    ]
