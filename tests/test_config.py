"""A wrong config gives one line per problem naming the key and what was expected."""

import copy
from pathlib import Path

import pytest
import yaml

from survmeta.config import (
    analysis_problems,
    config_problems,
    schema_problems,
    table_problems,
    unmatched_analyses,
    with_defaults,
)
from survmeta.validate import load_inputs

ROOT = Path(__file__).parents[1]
SCHEMA = ROOT / "workflow/schemas/config.schema.yaml"
CONFIG = yaml.safe_load((ROOT / "config.yaml").read_text())


def changed(**changes) -> dict:
    """The shipped config with ``a__b__0__c=value`` set (keys joined by ``__``)."""
    config = copy.deepcopy(CONFIG)
    for path, value in changes.items():
        *parents, last = path.split("__")
        node = config
        for p in parents:
            node = node[int(p)] if p.isdigit() else node[p]
        node[last] = value
    return config


def problems(**changes):
    return [str(p) for p in schema_problems(changed(**changes), SCHEMA, "config.yaml")]


def test_shipped_config_is_valid():
    assert problems() == []
    assert analysis_problems(CONFIG, "config.yaml") == []


def test_every_problem_on_its_own_line():
    found = problems(pooling__method="FOO", pooling__test="F", pooling__level=1.5, extra=1)
    assert found == [
        "config.yaml:(top level): unknown key 'extra'; expected one of: title, background, "
        "inputs, pooling, sensitivity, multiarm, dependence, shards, bayes, rmst, arm_classes, "
        "modalities, analyses",
        "config.yaml:pooling.level: 1.5 is out of range; expected a number in (0, 1)",
        "config.yaml:pooling.method: 'FOO' is not allowed; expected one of: DL, REML, ML, PM, "
        "SJ, HE, EB, HS, HSk, PMM",
        "config.yaml:pooling.test: 'F' is not allowed; expected one of: z, t, knha, adhoc, cr2",
    ]


def test_typo_of_a_key_is_named():
    (found,) = problems(pooling__levle=0.9)
    assert "unknown key 'levle' (did you mean 'level'?)" in found


def test_missing_and_wrong_analysis_fields():
    config = copy.deepcopy(CONFIG)
    del config["analyses"][0]["outcome"]
    config["analyses"][1]["metric"] = "hr"
    found = [str(p) for p in schema_problems(config, SCHEMA, "c.yaml")]
    assert found == [
        "c.yaml:analyses[0]: 'outcome' is required",
        "c.yaml:analyses[1].metric: 'hr' is not allowed; expected one of: log_hr, log_mr, "
        "rmst_diff",
    ]


def test_unknown_arm_class_and_repeated_id():
    config = copy.deepcopy(CONFIG)
    config["analyses"][0]["treatment"] = "liver_directd"
    config["analyses"][1]["id"] = config["analyses"][0]["id"]
    found = [str(p) for p in analysis_problems(config, "config.yaml")]
    assert (
        found[0] == "config.yaml:analyses[0].treatment: 'liver_directd' is not an arm class "
        "(did you mean 'liver_directed'?); expected one of: liver_directed, systemic, combined, "
        "observation, other"
    )
    assert found[1] == "config.yaml:analyses[1].id: 'os_ld_vs_sys' is used twice"


def test_analysis_that_matches_no_study():
    tables = load_inputs(CONFIG["inputs"], ROOT)
    config = copy.deepcopy(CONFIG)
    config["analyses"][1]["outcome"] = "pfs"
    (found,) = [str(p) for p in unmatched_analyses(tables, config, "config.yaml")]
    assert found == (
        "config.yaml:analyses[1]: 'os_ld_vs_no_ld' matches no study: none has both a treatment "
        "arm (liver_directed or combined) and a control arm (observation or other) for outcome pfs"
    )
    assert unmatched_analyses(tables, CONFIG, "config.yaml") == []


def test_overlapping_classes_are_named():
    config = copy.deepcopy(CONFIG)
    config["analyses"][1]["control"] = ["observation", "liver_directed"]
    assert [str(p) for p in analysis_problems(config, "config.yaml")] == [
        "config.yaml:analyses[1].control: 'liver_directed' is both a treatment and a control "
        "class (arms would be compared with themselves); expected separate classes"
    ]


PRIOR2 = {"tau": "uniform", "scale": 2}
ID_RULE = (
    "expected a safe file name: letters, digits, _, - and ., starting with a letter, digit "
    "or _ (not . or -), at most 100 characters"
)


@pytest.mark.parametrize("aid", [".", "..", "../x", "a/b", "-x", ".hidden", "a b", "x" * 101])
def test_analysis_id_must_be_a_safe_file_name(aid):
    (found,) = problems(analyses__0__id=aid)
    assert found.startswith(f"config.yaml:analyses[0].id: {aid!r} is ")
    assert found.endswith(ID_RULE if len(aid) <= 100 else "at most 100 characters")


@pytest.mark.parametrize("aid", ["os_ld_vs_sys", "a.b", "2024-update", "_x"])
def test_safe_analysis_ids_pass(aid):
    assert problems(analyses__0__id=aid) == []


@pytest.mark.parametrize("key", ["permutations", "gosh_subsets"])
def test_iterations_at_least_two(key):
    assert problems(**{f"sensitivity__{key}": 1}) == [
        f"config.yaml:sensitivity.{key}: 1 is out of range; expected a whole number >= 2"
    ]
    assert problems(**{f"sensitivity__{key}": 2}) == []


@pytest.mark.parametrize(
    "change,expected",
    [
        (
            {"dependence": "nested"},
            "config.yaml:dependence: 'nested' is not allowed; expected one of: auto, multilevel, "
            "univariate",
        ),
        (
            {"sensitivity__methods": ["REML", "PMX"]},
            "config.yaml:sensitivity.methods[1]: 'PMX' is not allowed; expected one of: DL, REML, "
            "ML, PM, SJ, HE, EB, HS, HSk, PMM",
        ),
        (
            {"sensitivity__tests": ["hksj"]},
            "config.yaml:sensitivity.tests[0]: 'hksj' is not allowed; expected one of: z, t, "
            "knha, adhoc, cr2",
        ),
        (
            {"bayes": {"priors": [{"tau": "gamma", "scale": 0.5}]}},
            "config.yaml:bayes.priors[0].tau: 'gamma' is not allowed; expected one of: "
            "halfnormal, halfcauchy, uniform",
        ),
        (
            {"bayes": {"priors": [{"tau": "halfnormal", "scale": 0}]}},
            "config.yaml:bayes.priors[0].scale: 0 is out of range; expected a number > 0",
        ),
        (
            {"bayes": {"priors": [{"tau": "uniform", "scale": "wide"}]}},
            "config.yaml:bayes.priors[0].scale: 'wide' is not valid; expected a number > 0",
        ),
        (
            {"bayes": {"priors": [{"tau": "halfcauchy"}]}},
            "config.yaml:bayes.priors[0]: 'scale' is required",
        ),
        (
            {"bayes": {"priors": []}},
            "config.yaml:bayes.priors: [] is too short; expected at least 1 item(s)",
        ),
        (
            {"rmst": {"horizon": "never"}},
            "config.yaml:rmst.horizon: 'never' is not valid; expected auto or a number of "
            "months > 0",
        ),
        (
            {"rmst": {"horizon": 0}},
            "config.yaml:rmst.horizon: 0 is not valid; expected auto or a number of months > 0",
        ),
    ],
)
def test_new_keys_one_line_each(change, expected):
    assert problems(**change) == [expected]


@pytest.mark.parametrize(
    "change",
    [
        {"dependence": "multilevel"},
        {"dependence": "univariate", "pooling__method": "PMM", "pooling__test": "adhoc"},
        {"pooling__method": "HSk", "pooling__test": "t", "dependence": "univariate"},
        {"sensitivity__tests": ["z", "t", "knha", "adhoc", "cr2"]},
        {"bayes": {"priors": [{"tau": "halfnormal", "scale": 0.5}, PRIOR2]}},
        {"rmst": {"horizon": 36}},
        {"rmst": {"horizon": 12.5}},
        {"rmst": {"horizon": "auto"}},
    ],
)
def test_new_keys_valid_values_pass(change):
    config = changed(**change)
    assert [str(p) for p in config_problems(config, SCHEMA, "config.yaml")] == []


def test_defaults_of_the_new_keys():
    filled = with_defaults({"inputs": {}, "analyses": []}, SCHEMA)
    assert filled["dependence"] == "auto"
    assert filled["bayes"] == {"priors": [{"tau": "halfnormal", "scale": 0.5}]}
    assert filled["rmst"] == {"horizon": "auto"}
    assert filled["pooling"] == {"method": "REML", "test": "knha", "level": 0.95}


@pytest.mark.parametrize(
    "change,expected",
    [
        (
            {"dependence": "multilevel", "pooling__method": "DL"},
            "config.yaml:pooling.method: 'DL' is not available for rma.mv (dependence: "
            "multilevel); expected one of: REML, ML",
        ),
        (
            {"dependence": "univariate", "pooling__test": "cr2"},
            "config.yaml:pooling.test: 'cr2' applies to rma.mv only (dependence: univariate); "
            "expected one of: z, t, knha, adhoc",
        ),
        (
            {"dependence": "univariate", "sensitivity__tests": ["z", "cr2"]},
            "config.yaml:sensitivity.tests[1]: 'cr2' applies to rma.mv only (dependence: "
            "univariate); expected one of: z, t, knha, adhoc",
        ),
    ],
)
def test_method_and_test_fit_the_dependence_model(change, expected):
    config = changed(**change)
    assert [str(p) for p in config_problems(config, SCHEMA, "config.yaml")] == [expected]


@pytest.fixture(scope="module")
def tables():
    return load_inputs(CONFIG["inputs"], ROOT)


def test_shipped_config_fits_its_tables(tables):
    assert table_problems(tables, CONFIG, "config.yaml") == []


def test_subgroup_and_metareg_columns_no_study_has(tables):
    config = copy.deepcopy(CONFIG)
    config["analyses"][0]["subgroups"] = "modalty"
    config["analyses"][1]["metareg"] = ["year", "region"]
    found = [str(p) for p in table_problems(tables, config, "config.yaml")]
    known = (
        "expected one of: study_id, citation, year, doi, design, risk_of_bias, notes, source, "
        "quote, modality, treatment_class, control_class, source_method"
    )
    assert found == [
        "config.yaml:analyses[0].subgroups: 'modalty' is not a column of the studies table or "
        f"of a comparison (did you mean 'modality'?); {known}",
        "config.yaml:analyses[1].metareg[1]: 'region' is not a column of the studies table or "
        f"of a comparison; {known}",
    ]


def test_study_column_blank_for_every_study_of_the_analysis(tables):
    config = copy.deepcopy(CONFIG)
    config["analyses"][0]["metareg"] = ["doi"]
    studies = tables["studies"].copy()
    studies["doi"] = None
    found = [str(p) for p in table_problems({**tables, "studies": studies}, config, "c.yaml")]
    assert found == [
        "c.yaml:analyses[0].metareg[0]: 'doi' is blank for every study of 'os_ld_vs_sys'; "
        "expected a value in at least one"
    ]
    studies["risk_of_bias"] = None  # filled with `unclear` by harmonization: allowed
    config["analyses"][0]["metareg"] = ["risk_of_bias"]
    assert table_problems({**tables, "studies": studies}, config, "c.yaml") == []


def test_auto_dependence_needs_a_multilevel_method_where_a_study_gives_several(tables):
    config = copy.deepcopy(CONFIG)
    config["pooling"]["method"] = "DL"
    found = [str(p) for p in table_problems(tables, config, "config.yaml")]
    # Fairweather2017 gives three liver-directed arms against one systemic arm
    assert found[0] == (
        "config.yaml:pooling.method: 'DL' is not available for rma.mv, which pools "
        "'os_ld_vs_sys' (Fairweather2017 gives 3 comparisons); expected one of: REML, ML, or "
        "dependence: univariate"
    )
    config["dependence"] = "univariate"
    assert table_problems(tables, config, "config.yaml") == []


def test_cr2_under_auto_needs_several_comparisons_per_study(tables):
    config = copy.deepcopy(CONFIG)
    config["pooling"]["test"] = "cr2"
    config["analyses"] = [dict(config["analyses"][0], id="one", treatment="combined")]
    (found,) = [str(p) for p in table_problems(tables, config, "config.yaml")]
    assert found == (
        "config.yaml:pooling.test: 'cr2' applies to rma.mv only, and rma.uni pools 'one' (every "
        "study gives one comparison); expected one of: z, t, knha, adhoc, or dependence: "
        "multilevel"
    )
