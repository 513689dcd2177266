"""On-site turbines against the check rows of REFERENCE.md section 4, computed by hand here:

25 ppm NOx at 15 % O2 = 25 x 1.194e-7 x 8,710 x 20.9 / 5.9 = 0.09210 lb/MMBtu; an SMT-130 burns
16.5 MW x 10,670 Btu/kWh = 176.06 MMBtu/h; 15 units x 8,760 h -> 15 x 176.06 x 8,760 / 2,000 =
11,567 MMBtu-tons factor, so NOx = 0.09210 x 11,567 = 1,065 tpy and formaldehyde 7.1e-4 x 11,567 =
8.2 tpy; 35 units: 19.2 tpy formaldehyde; 35 units at 2 ppm (SCR): 199 tpy NOx.
"""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from grid_models.emissions.onsite import nox_lb_per_mmbtu_from_ppm, nox_ppm_from_lb_per_mmbtu, nsps_limit
from grid_models.emissions.permits import PSD_MAJOR, PSD_SER, TITLE_V, onsite_findings, screen_onsite
from grid_models.factors import FactorSet
from grid_models.results import Pollutant
from grid_models.spec import OnsiteGeneration

FACTORS = FactorSet()
HAND_HEAT_INPUT = 16.5 * 10_670 / 1000  # MMBtu/h
HAND_NOX_25PPM = 25 * 1.194e-7 * 8710 * 20.9 / (20.9 - 15)  # lb/MMBtu
TON_FACTOR_15 = 15 * HAND_HEAT_INPUT * 8760 / 2000


def _memphis(count: int, **unit: object) -> OnsiteGeneration:
    return OnsiteGeneration.model_validate({"units": [{"count": count, "nox_ppm": 25, **unit}]})


def test_ppm_conversion_is_40_cfr_60_4400() -> None:
    assert nox_lb_per_mmbtu_from_ppm(25, FACTORS) == pytest.approx(HAND_NOX_25PPM, rel=1e-12)
    assert round(HAND_NOX_25PPM, 4) == 0.0921
    assert nox_ppm_from_lb_per_mmbtu(HAND_NOX_25PPM, FACTORS) == pytest.approx(25)


def test_fifteen_smt130_at_25_ppm_match_the_reference_check_row() -> None:
    result = screen_onsite(_memphis(15), stages=["Phase 1"])
    group = result.groups[0]
    assert group.heat_input_mmbtu_per_h_each == pytest.approx(HAND_HEAT_INPUT)
    assert group.heat_input_mmbtu_per_h_each == pytest.approx(176, abs=0.1)
    assert group.pte_tpy[Pollutant.NOX] == pytest.approx(HAND_NOX_25PPM * TON_FACTOR_15)
    assert group.pte_tpy[Pollutant.NOX] == pytest.approx(1065, abs=1)  # REFERENCE: ~1,065 tpy
    assert group.pte_tpy[Pollutant.FORMALDEHYDE] == pytest.approx(8.2, abs=0.05)  # REFERENCE: ~8.2 tpy


def test_thirty_five_units_are_a_hap_major_source() -> None:
    result = screen_onsite(_memphis(35), stages=["Phase 1"])
    assert result.stages[0].pte_tpy[Pollutant.FORMALDEHYDE] == pytest.approx(19.2, abs=0.1)  # REFERENCE: ~19 tpy
    hap = [c for c in result.stages[0].checks if c.rule == TITLE_V and c.pollutant is Pollutant.FORMALDEHYDE]
    assert hap[0].triggered
    assert hap[0].threshold_tpy == 10


def test_thirty_five_units_with_scr_at_2_ppm() -> None:
    result = screen_onsite(_memphis(35, nox_control="scr", nox_ppm=2), stages=["Phase 1"])
    assert result.stages[0].pte_tpy[Pollutant.NOX] == pytest.approx(199, abs=1)  # REFERENCE: ~199 tpy


def test_psd_major_brings_the_significant_emission_rates() -> None:
    stage = screen_onsite(_memphis(15), stages=["Phase 1"]).stages[0]
    triggered = {(c.rule, c.pollutant) for c in stage.checks if c.triggered}
    assert (PSD_MAJOR, Pollutant.NOX) in triggered
    assert (PSD_SER, Pollutant.CO2E) in triggered
    small = screen_onsite(_memphis(1, hours_limit=500), stages=["Phase 1"]).stages[0]
    assert not [c for c in small.checks if c.triggered]
    assert all(not c.triggered for c in small.checks if c.rule == PSD_SER)  # below major: SERs do not apply


def test_ozone_class_lowers_the_nox_threshold() -> None:
    spec = OnsiteGeneration.model_validate(
        {"units": [{"count": 1, "nox_ppm": 25, "hours_limit": 2000}], "ozone_nonattainment": "serious"}
    )
    stage = screen_onsite(spec, stages=["Phase 1"]).stages[0]
    nox = next(c for c in stage.checks if c.rule.startswith("ozone") and c.pollutant is Pollutant.NOX)
    assert nox.threshold_tpy == 50
    assert nox.value_tpy == pytest.approx(HAND_NOX_25PPM * HAND_HEAT_INPUT * 2000 / 2000)


def test_units_join_at_their_stage_and_findings_name_the_first_stage_that_crosses() -> None:
    onsite = OnsiteGeneration.model_validate(
        {"units": [{"count": 5, "nox_ppm": 25}, {"count": 30, "nox_ppm": 25, "from_stage": 2, "label": "bridge turbines"}]}
    )
    result = screen_onsite(onsite, stages=["Phase 1", "Phase 2"])
    assert [s.units for s in result.stages] == [5, 35]
    hap = [f for f in onsite_findings(result) if "FORMALDEHYDE" in f.what and f.rule and f.rule.startswith(TITLE_V)]
    assert len(hap) == 1
    assert hap[0].stage_index == 2
    assert "not a permit determination" in hap[0].what


def test_nsps_kkkk_bands_and_an_uncontrolled_turbine_over_its_limit() -> None:
    assert [nsps_limit(h, FACTORS) for h in (40, 176, 900)] == [42, 25, 15]
    result = screen_onsite(
        OnsiteGeneration.model_validate({"units": [{"count": 2, "nox_control": "uncontrolled"}]}), stages=["S1"]
    )
    group = result.groups[0]
    assert group.nox_ppm == pytest.approx(0.32 / (HAND_NOX_25PPM / 25))
    assert group.nsps_exceeded
    assert any(f.severity.value == "warning" and "NSPS KKKK" in f.what for f in onsite_findings(result))
    dln = screen_onsite(OnsiteGeneration.model_validate({"units": [{"count": 2}]}), stages=["S1"]).groups[0]
    assert dln.nox_ppm == pytest.approx(26.9, abs=0.1)
    assert dln.nsps_exceeded
    stated = screen_onsite(OnsiteGeneration.model_validate({"units": [{"count": 2, "nox_ppm": 30}]}), stages=["S1"])
    assert [f.severity.value for f in onsite_findings(stated) if "NSPS" in f.what] == ["violation"]
    assert not [f for f in onsite_findings(screen_onsite(_memphis(2), stages=["S1"])) if "NSPS" in f.what]  # 25 ppm: at the limit


def test_kkkka_for_new_turbines_and_overrides() -> None:
    onsite = OnsiteGeneration.model_validate(
        {"units": [{"count": 1, "commenced": "2025-06-01"}], "factor_overrides": {"turbines.ap42.co": 0.041}}
    )
    result = screen_onsite(onsite, stages=["S1"])
    assert result.groups[0].nsps_subpart == "KKKKa"
    assert result.groups[0].nsps_nox_limit_ppm is None
    assert any("KKKKa" in note for note in result.notes)
    co = result.groups[0].pte_tpy[Pollutant.CO]
    assert co == pytest.approx(0.041 * HAND_HEAT_INPUT * 8760 / 2000)


def test_a_temporary_declaration_is_screened_against_the_kkkka_subcategory() -> None:
    """KKKKa's temporary subcategory: <= 850 MMBtu/h, used < 24 months (91 FR 1910); a SMT-130 is
    ~HAND_HEAT_INPUT MMBtu/h, a 300 MW unit far above."""
    new = {"count": 1, "commenced": "2025-06-01", "temporary": True}
    notes = screen_onsite(OnsiteGeneration.model_validate({"units": [new]}), stages=["S1"]).notes
    assert any("temporary subcategory covers turbines up to 850 MMBtu/h" in n and "within it" in n for n in notes)
    big = new | {"model": None, "mw_each": 300.0, "heat_rate_hhv_btu_per_kwh": 9000.0}
    notes = screen_onsite(OnsiteGeneration.model_validate({"units": [big]}), stages=["S1"]).notes
    assert any("not in it: 2,700 MMBtu/h each is above" in n for n in notes)
    old = {"count": 1, "temporary": True}  # no commencement date: KKKK
    notes = screen_onsite(OnsiteGeneration.model_validate({"units": [old]}), stages=["S1"]).notes
    assert any("declared temporary, but the temporary subcategory is KKKKa's" in n for n in notes)


def test_bad_requests_say_how_to_fix_them() -> None:
    with pytest.raises(ValidationError, match="nox_ppm"):
        OnsiteGeneration.model_validate({"units": [{"count": 3, "nox_control": "scr"}]})
    with pytest.raises(ValidationError, match="mw_each"):
        OnsiteGeneration.model_validate({"units": [{"count": 3, "model": None}]})
    with pytest.raises(ValidationError, match="has no row"):
        OnsiteGeneration.model_validate({"units": [{"count": 3}], "factor_overrides": {"turbines.ap42.nope": 1}})
    with pytest.raises(ValidationError):
        OnsiteGeneration.model_validate({"units": [{"count": 3, "kind": "reciprocating_engine"}]})
