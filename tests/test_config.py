"""A wrong config gives one line per problem naming the key and what was expected."""

import copy
from pathlib import Path

import yaml

from survmeta.config import analysis_problems, schema_problems, unmatched_analyses
from survmeta.validate import load_inputs

ROOT = Path(__file__).parents[1]
SCHEMA = ROOT / "workflow/schemas/config.schema.yaml"
CONFIG = yaml.safe_load((ROOT / "config.yaml").read_text())


def problems(**changes):
    config = copy.deepcopy(CONFIG)
    for path, value in changes.items():
        *parents, last = path.split("__")
        node = config
        for p in parents:
            node = node[int(p)] if p.isdigit() else node[p]
        node[last] = value
    return [str(p) for p in schema_problems(config, SCHEMA, "config.yaml")]


def test_shipped_config_is_valid():
    assert problems() == []
    assert analysis_problems(CONFIG, "config.yaml") == []


def test_every_problem_on_its_own_line():
    found = problems(pooling__method="FOO", pooling__test="F", pooling__level=1.5, extra=1)
    assert found == [
        "config.yaml:(top level): unknown key 'extra'; expected one of: title, background, "
        "inputs, pooling, sensitivity, multiarm, dependence, bayes, rmst, arm_classes, "
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
        "c.yaml:analyses[1].metric: 'hr' is not allowed; expected one of: log_hr, log_mr",
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
