"""Specification of the site file: what loads, and how a wrong file is reported.

A wrong file gives ONE :class:`SiteError` that lists every problem, each as
``line N: key.path: message``, under a first line naming the file.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from shuian.errors import SiteError
from shuian.services.demo import demo_site_text
from shuian.site import Site, load_site, parse_site
from shuian.site.model import INSTRUMENT_TYPES

DATA = Path(__file__).parent / "data"
SITE_FILE = DATA / "site.yaml"
BROKEN_FILE = DATA / "broken_site.yaml"

SPEC_TYPES = [
    "thermometer",
    "joint_meter",
    "piezometer",
    "strain_gauge",
    "seepage_weir",
    "plumb_line",
    "levelling",
    "water_level",
    "rainfall",
    "air_temperature",
    "discharge",
    "camera",  # a camera of the cameras: section, its channels made from it (issue 13)
]


def site_data() -> dict[str, Any]:
    """The test site as plain data, to vary one thing at a time."""
    data: dict[str, Any] = yaml.safe_load(SITE_FILE.read_text(encoding="utf-8"))
    return data


def problems_of(text: str, source: str = "site.yaml") -> list[str]:
    with pytest.raises(SiteError) as caught:
        parse_site(text, source=source)
    return caught.value.problems


# --- files that load ----------------------------------------------------------------------------


def test_the_test_site_loads() -> None:
    site = load_site(SITE_FILE)
    assert site.reservoir.code == "testres"
    assert site.reservoir.timezone == "Asia/Shanghai"
    assert [i.code for i in site.instruments] == ["WL", "P1", "T1", "PL1", "LOG"]
    assert len(site.channels()) == 8
    assert site.loggers[0].columns["AirT_C(42)"] == "LOG.airt"


def test_the_demo_site_loads_is_synthetic_and_has_every_instrument_type() -> None:
    site = parse_site(demo_site_text(), source="shimenzi.yaml")
    assert site.reservoir.synthetic is True
    assert {i.type for i in site.instruments} == set(SPEC_TYPES)


def test_the_model_knows_exactly_the_instrument_types_of_the_spec() -> None:
    assert sorted(INSTRUMENT_TYPES) == sorted(SPEC_TYPES)


@pytest.mark.parametrize("kind", SPEC_TYPES)
def test_every_instrument_type_of_the_spec_is_accepted(kind: str) -> None:
    data = site_data()
    channels = [{"code": "X.a", "quantity": "q", "unit": "mm"}]
    if kind == "plumb_line":
        channels.append({"code": "X.b", "quantity": "q", "unit": "mm"})
    data["instruments"].append({"code": "X", "type": kind, "channels": channels})
    site = parse_site(yaml.safe_dump(data, allow_unicode=True))
    assert site.instruments[-1].type == kind


def test_an_unknown_instrument_type_is_refused_at_its_key() -> None:
    data = site_data()
    data["instruments"].append(
        {"code": "X", "type": "tiltmeter", "channels": [{"code": "X.a", "quantity": "q",
                                                          "unit": "mm"}]}
    )
    problems = problems_of(yaml.safe_dump(data, allow_unicode=True))
    assert len(problems) == 1
    assert re.match(r"line \d+: instruments\[5\]\.type: ", problems[0])


# --- one error listing every problem ------------------------------------------------------------


@pytest.fixture(scope="module")
def broken() -> SiteError:
    with pytest.raises(SiteError) as caught:
        load_site(BROKEN_FILE)
    return caught.value


BROKEN_PROBLEMS = {
    "bad time zone": r"line 6: reservoir\.timezone: unknown time zone 'Mars/Olympus_Mons'",
    "unknown key": r"line 7: reservoir\.colour: unknown key",
    "unordered characteristic levels": r"line 8: reservoir\.levels: dead .* normal",
    "decreasing storage table": r"line 10: reservoir\.storage_curve: storage must not decrease",
    "wrong type": r"line 14: dam\.height: .*number",
    "missing key": r"line 29: instruments\[1\]\.channels\[0\]\.unit: required key is missing",
    "unknown conversion kind": (
        r"line 31: instruments\[1\]\.channels\[1\]\.conversion: unknown conversion kind.*'magic'"
    ),
    "plumb_line with one channel": r"line 32: instruments\[2\]: a plumb_line needs two channels",
    "rectangular weir without crest_width": (
        r"line 39: instruments\[3\]\.channels\[0\]\.conversion: .*rectangular weir needs "
        r"crest_width"
    ),
    "duplicate channel codes": (
        r"line \d+: instruments[^:]*: channel codes must be unique; repeated: WL\.level"
    ),
    "unknown section": r"line 22: instruments\[0\]\.section: section 'B9' is not among",
    "logger column mapped to unknown channel": (
        r"line 43: loggers\[0\]\.columns\.BattV: .*unknown channel 'NOPE\.batt'"
    ),
}


@pytest.mark.parametrize("problem", list(BROKEN_PROBLEMS))
def test_a_wrong_file_reports_each_problem_with_line_and_key_path(
    broken: SiteError, problem: str
) -> None:
    pattern = BROKEN_PROBLEMS[problem]
    assert any(re.match(pattern, p) for p in broken.problems), (problem, broken.problems)


def test_a_wrong_file_gives_one_error_listing_all_problems_under_the_file_name(
    broken: SiteError,
) -> None:
    assert broken.source == str(BROKEN_FILE)
    text = str(broken)
    assert text.startswith(f"{BROKEN_FILE}: {len(broken.problems)} problem(s)")
    assert all(f"  - {p}" in text.splitlines() for p in broken.problems)


def test_a_wrong_file_reports_nothing_twice_and_nothing_that_only_follows_from_another(
    broken: SiteError,
) -> None:
    assert len(broken.problems) == len(BROKEN_PROBLEMS), broken.problems


@pytest.mark.parametrize(
    ("change", "pattern"),
    [
        (lambda d: d["instruments"][1]["channels"][0].update(code="WL.level"),
         r"line \d+: instruments[^:]*: channel codes must be unique; repeated: WL\.level"),
        (lambda d: d["instruments"][2].update(code="P1"),
         r"line \d+: instruments[^:]*: instrument codes must be unique; repeated: P1"),
        (lambda d: d["instruments"][1].update(section="B9"),
         r"line \d+: instruments\[1\]\.section: section 'B9' is not among the dam's sections"),
        (lambda d: d["loggers"][0]["columns"].update(BattV="LOG.nope"),
         r"line \d+: loggers\[0\]\.columns\.BattV: .*unknown channel 'LOG\.nope'"),
    ],
    ids=["duplicate channel", "duplicate instrument", "unknown section", "unknown logger channel"],
)
def test_a_cross_reference_problem_alone_is_reported_at_its_key(change: Any, pattern: str) -> None:
    data = site_data()
    change(data)
    problems = problems_of(yaml.safe_dump(data, allow_unicode=True, sort_keys=False))
    assert len(problems) == 1, problems
    assert re.match(pattern, problems[0]), problems


def test_every_cross_reference_problem_is_reported_not_only_the_first() -> None:
    data = site_data()
    data["instruments"][1]["channels"][0]["code"] = "WL.level"
    data["instruments"][1]["section"] = "B9"
    data["loggers"][0]["columns"]["BattV"] = "LOG.nope"
    problems = problems_of(yaml.safe_dump(data, allow_unicode=True, sort_keys=False))
    assert len(problems) == 3, problems


def test_limits_with_min_above_max_are_refused_at_the_channel_limits() -> None:
    data = site_data()
    data["instruments"][0]["channels"][0]["limits"] = {"min": 150, "max": 90}
    problems = problems_of(yaml.safe_dump(data, allow_unicode=True, sort_keys=False))
    assert len(problems) == 1
    assert re.match(r"line \d+: instruments\[0\]\.channels\[0\]\.limits: min \(150", problems[0])


# --- files that are not site files --------------------------------------------------------------


def test_invalid_yaml_syntax_reports_the_line() -> None:
    text = "reservoir:\n  code: x\n  name: [unclosed\ndam: {}\n"
    problems = problems_of(text, source="typo.yaml")
    assert len(problems) == 1
    assert re.match(r"line 4: not valid YAML: ", problems[0])


def test_a_tab_in_the_indentation_is_reported_at_its_line() -> None:
    problems = problems_of("reservoir:\n  code: x\n\tname: y\n")
    assert re.match(r"line 3: not valid YAML: .*tab", problems[0])


def test_yaml_that_is_not_a_mapping_says_what_is_expected() -> None:
    problems = problems_of("- a\n- b\n")
    assert "mapping" in problems[0] and "reservoir" in problems[0]


def test_an_unreadable_file_names_the_path(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere" / "site.yaml"
    with pytest.raises(SiteError) as caught:
        load_site(missing)
    assert str(caught.value).startswith(str(missing))
    assert "cannot read the file" in caught.value.problems[0]


def test_a_file_that_is_not_utf8_names_the_path(tmp_path: Path) -> None:
    path = tmp_path / "latin1.yaml"
    path.write_bytes("reservoir: {name: Barrage de l'Égl\xe9}\n".encode("latin-1"))
    with pytest.raises(SiteError) as caught:
        load_site(path)
    assert str(caught.value).startswith(str(path))
    assert "UTF-8" in caught.value.problems[0]


def test_the_site_is_a_frozen_model() -> None:
    site = load_site(SITE_FILE)
    assert isinstance(site, Site)
    with pytest.raises(ValueError, match="frozen"):
        site.reservoir.code = "other"  # type: ignore[misc]
