"""Check a review's config: every problem on one line, before anything runs.

Snakemake's ``validate`` stops at the first schema error and prints the schema
around it; a team fixing a config wants all problems at once, each naming the key
and what was expected. The schema stays the single definition (jsonschema, which
snakemake already depends on, lists every error); snakemake's ``validate`` then
fills in the defaults.

Two moments: :func:`config_problems` while snakemake parses (the config alone), and
:func:`table_problems` / :func:`cost_warnings` at onstart, when the tables are known
and before any job writes anything.
"""

from __future__ import annotations

import difflib
from pathlib import Path

import yaml

from .problems import Problem
from .tables import DEFAULT_ARM_CLASSES

#: Estimators that metafor's rma.mv offers (methods.md §4); the others are rma.uni only.
MULTILEVEL_METHODS = ("REML", "ML")
#: The cluster-robust test exists only for rma.mv rows (methods.md §4).
MULTILEVEL_ONLY_TESTS = ("cr2",)
#: Comparison-level columns of effects.csv that an analysis may subgroup or regress on,
#: beside the studies table's own columns (design.md: effects carry study columns).
COMPARISON_COLUMNS = ("modality", "treatment_class", "control_class", "source_method")
#: Study columns that harmonization fills when blank (risk_of_bias: `unclear`).
FILLED_WHEN_BLANK = ("risk_of_bias",)


def _key(path) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(top level)"


_TYPE_NAMES = {
    "number": "a number",
    "integer": "a whole number",
    "string": "a text value",
    "boolean": "true or false",
    "array": "a list",
    "object": "a mapping of keys",
}


def _range(schema: dict) -> str:
    lo = (">", schema["exclusiveMinimum"]) if "exclusiveMinimum" in schema else None
    lo = lo or ((">=", schema["minimum"]) if "minimum" in schema else None)
    hi = ("<", schema["exclusiveMaximum"]) if "exclusiveMaximum" in schema else None
    hi = hi or (("<=", schema["maximum"]) if "maximum" in schema else None)
    if lo and hi and lo[0] == ">" and hi[0] == "<":
        return f"in ({lo[1]}, {hi[1]})"
    return " and ".join(f"{b[0]} {b[1]}" for b in (lo, hi) if b)


def _message(err) -> str:
    """One line for a jsonschema error: the value, and what the schema expects there.

    A key's ``description`` in the schema, where given, is what it expects
    (``auto or a number of months > 0``), so the message and the schema cannot drift.
    """
    expected = err.schema.get("description") if isinstance(err.schema, dict) else None
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
        kind = "a whole number" if err.schema.get("type") == "integer" else "a number"
        return f"{err.instance!r} is out of range; expected {kind} {_range(err.schema)}"
    if err.validator in ("oneOf", "anyOf", "pattern", "const"):
        return f"{err.instance!r} is not valid; expected {expected or err.message}"
    if err.validator == "type":
        types = err.validator_value
        types = types if isinstance(types, list) else [types]
        wanted = expected or " or ".join(_TYPE_NAMES.get(t, t) for t in types)
        rng = _range(err.schema)
        return f"{err.instance!r} is not valid; expected {wanted}" + (f" {rng}" if rng else "")
    if err.validator == "minItems":
        return f"{err.instance!r} is too short; expected at least {err.validator_value} item(s)"
    if err.validator == "maxLength":
        return f"{err.instance!r} is too long; expected at most {err.validator_value} characters"
    return err.message


def load_schema(schema_path: str | Path) -> dict:
    return yaml.safe_load(Path(schema_path).read_text())


def schema_problems(config: dict, schema_path: str | Path, label: str) -> list[Problem]:
    """Every schema violation of ``config``, one :class:`Problem` each, in key order."""
    from jsonschema import Draft202012Validator

    errors = sorted(
        Draft202012Validator(load_schema(schema_path)).iter_errors(config),
        key=lambda e: list(map(str, e.path)),
    )
    return [Problem(label, None, _key(e.path), _message(e)) for e in errors]


def with_defaults(config: dict, schema_path: str | Path) -> dict:
    """A copy of a valid ``config`` with the schema's defaults filled in, as snakemake's
    ``validate`` fills them (for code run outside the workflow: tests, scripts)."""
    import copy

    from jsonschema import Draft202012Validator, validators

    def set_defaults(validator, properties, instance, schema):
        if isinstance(instance, dict):
            for name, sub in properties.items():
                if "default" in sub:
                    instance.setdefault(name, copy.deepcopy(sub["default"]))
        yield from Draft202012Validator.VALIDATORS["properties"](
            validator, properties, instance, schema
        )

    filler = validators.extend(Draft202012Validator, {"properties": set_defaults})
    out = copy.deepcopy(config)
    for _ in filler(load_schema(schema_path)).iter_errors(out):
        pass
    return out


def _classes(value) -> list[str]:
    return [value] if isinstance(value, str) else list(value or [])


def analysis_problems(config: dict, label: str) -> list[Problem]:
    """Analyses that cannot mean anything: unknown or overlapping arm classes, repeated ids."""
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
            for cls in _classes(analysis.get(side)):
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
        control = _classes(analysis.get("control"))
        both = [c for c in _classes(analysis.get("treatment")) if c in control]
        if both:
            problems.append(
                Problem(
                    label,
                    None,
                    f"{where}.control",
                    f"{', '.join(map(repr, dict.fromkeys(both)))} is both a treatment and a control"
                    " class (arms would be compared with themselves); expected separate classes",
                )
            )
    return problems


def model_problems(config: dict, label: str) -> list[Problem]:
    """Methods and tests that the chosen dependence model cannot use (methods.md §4).

    ``dependence: multilevel`` pools every analysis with rma.mv (REML or ML only);
    ``univariate`` never does (so no cr2). Under ``auto`` the choice is per analysis
    and depends on the tables: :func:`table_problems` checks it at onstart.
    """
    dependence = config.get("dependence", "auto")
    pooling = config.get("pooling") or {}
    method, test = pooling.get("method", "REML"), pooling.get("test", "knha")
    problems = []
    if dependence == "multilevel" and method not in MULTILEVEL_METHODS:
        problems.append(
            Problem(
                label,
                None,
                "pooling.method",
                f"'{method}' is not available for rma.mv (dependence: multilevel); expected one"
                f" of: {', '.join(MULTILEVEL_METHODS)}",
            )
        )
    if dependence == "univariate":
        if test in MULTILEVEL_ONLY_TESTS:
            problems.append(
                Problem(
                    label,
                    None,
                    "pooling.test",
                    f"'{test}' applies to rma.mv only (dependence: univariate); expected one of:"
                    " z, t, knha, adhoc",
                )
            )
        tests = (config.get("sensitivity") or {}).get("tests") or []
        for j, t in enumerate(tests):
            if t in MULTILEVEL_ONLY_TESTS:
                problems.append(
                    Problem(
                        label,
                        None,
                        f"sensitivity.tests[{j}]",
                        f"'{t}' applies to rma.mv only (dependence: univariate); expected one"
                        " of: z, t, knha, adhoc",
                    )
                )
    return problems


def config_problems(config: dict, schema_path: str | Path, label: str) -> list[Problem]:
    """Everything wrong with the config alone: the schema first, then its meaning."""
    problems = schema_problems(config, schema_path, label)
    return problems or analysis_problems(config, label) + model_problems(config, label)


def comparison_counts(arms, analysis: dict) -> dict[str, int]:
    """{study_id: comparisons it gives the analysis}: its treatment arms x control arms.

    Counted from the arms table before harmonization, so an upper bound: a comparison
    that no method can estimate is dropped later.
    """
    rows = arms[arms["outcome"] == analysis["outcome"]]
    t = rows[rows["arm_class"].isin(_classes(analysis["treatment"]))].groupby("study_id").size()
    c = rows[rows["arm_class"].isin(_classes(analysis["control"]))].groupby("study_id").size()
    both = t.index.intersection(c.index)
    return {sid: int(t[sid] * c[sid]) for sid in both}


def unmatched_analyses(tables: dict, config: dict, label: str) -> list[Problem]:
    """Analyses for which no study has both a treatment and a control arm for the outcome."""
    problems = []
    for i, analysis in enumerate(config["analyses"]):
        if comparison_counts(tables["arms"], analysis):
            continue
        names = [" or ".join(_classes(analysis[side])) for side in ("treatment", "control")]
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


def column_problems(tables: dict, config: dict, label: str) -> list[Problem]:
    """``subgroups:`` and ``metareg:`` columns that no study row of the analysis has.

    Effects carry the studies table's columns and the comparison's columns
    (:data:`COMPARISON_COLUMNS`); a name outside them, or a study column blank for
    every study of the analysis, would fail only after harmonization had written.
    """
    studies = tables["studies"]
    known = list(dict.fromkeys([*studies.columns, *COMPARISON_COLUMNS]))
    problems = []
    for i, analysis in enumerate(config["analyses"]):
        named = []
        if analysis.get("subgroups"):
            named.append(("subgroups", analysis["subgroups"]))
        named += [(f"metareg[{j}]", col) for j, col in enumerate(analysis.get("metareg") or [])]
        ids = set(comparison_counts(tables["arms"], analysis))
        rows = studies[studies["study_id"].isin(ids)]
        for key, col in named:
            where = f"analyses[{i}].{key}"
            if col not in known:
                close = difflib.get_close_matches(str(col), known, n=1)
                hint = f" (did you mean '{close[0]}'?)" if close else ""
                problems.append(
                    Problem(
                        label,
                        None,
                        where,
                        f"'{col}' is not a column of the studies table or of a comparison{hint};"
                        f" expected one of: {', '.join(known)}",
                    )
                )
            elif (
                col in studies.columns
                and col not in FILLED_WHEN_BLANK
                and len(rows)
                and rows[col].map(lambda x: x is None or x == "").all()
            ):
                problems.append(
                    Problem(
                        label,
                        None,
                        where,
                        f"'{col}' is blank for every study of '{analysis['id']}'; expected a value"
                        " in at least one",
                    )
                )
    return problems


def multilevel_problems(tables: dict, config: dict, label: str) -> list[Problem]:
    """Under ``dependence: auto``, analyses that rma.mv or rma.uni will pool with a main
    method or test it does not offer (methods.md §4: REML/ML; cr2 only for rma.mv)."""
    if config.get("dependence", "auto") != "auto":
        return []
    pooling = config.get("pooling") or {}
    method, test = pooling.get("method", "REML"), pooling.get("test", "knha")
    problems = []
    for analysis in config["analyses"]:
        counts = comparison_counts(tables["arms"], analysis)
        several = sorted(sid for sid, n in counts.items() if n > 1)
        if several and method not in MULTILEVEL_METHODS:
            problems.append(
                Problem(
                    label,
                    None,
                    "pooling.method",
                    f"'{method}' is not available for rma.mv, which pools '{analysis['id']}'"
                    f" ({several[0]} gives {counts[several[0]]} comparisons); expected one of:"
                    f" {', '.join(MULTILEVEL_METHODS)}, or dependence: univariate",
                )
            )
        if counts and not several and test in MULTILEVEL_ONLY_TESTS:
            problems.append(
                Problem(
                    label,
                    None,
                    "pooling.test",
                    f"'{test}' applies to rma.mv only, and rma.uni pools '{analysis['id']}'"
                    " (every study gives one comparison); expected one of: z, t, knha, adhoc,"
                    " or dependence: multilevel",
                )
            )
    return problems


def table_problems(tables: dict, config: dict, label: str) -> list[Problem]:
    """What only the tables reveal about the config (checked at onstart)."""
    return (
        unmatched_analyses(tables, config, label)
        + column_problems(tables, config, label)
        + multilevel_problems(tables, config, label)
    )


def missing_files(inputs: dict) -> list[Problem]:
    """Input tables that do not exist (checked before snakemake builds its DAG)."""
    return [
        Problem(str(path), None, None, "file not found")
        for path in inputs.values()
        if not Path(path).is_file()
    ]
