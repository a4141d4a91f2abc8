"""Every code of codes-v3.md is where the specification puts it, with its confidence and use.

One row per code of ``../shared/clinical/codes-v3.md`` (section, system, code, the features
it must match, confidence, use), transcribed for review; the published expansions those
sections point to are tested whole in test_expansion.py. ``use`` is ``emit`` (may be put
on a suggestion), ``recognise`` (recognised in data and draft orders, never emitted) or
``-`` for a code that must match nothing (U, "do not use", or no v3 rule reads it).
"""

from __future__ import annotations

import pytest

from mappings.__main__ import SHORT
from mappings.matcher import ConceptMatch, ValueSetIndex

SYSTEMS = {short: uri for uri, short in SHORT.items()}  # the review table's abbreviations

# section  system  code  features (comma-separated, "-" for none)  confidence  use
CODES_V3 = """
1 LN 8302-2 body_height V emit
1 LN 8306-3 body_height V emit
1 LN 3137-7 body_height V emit
1 LN 8308-9 body_height V emit
1 LN 8307-1 body_height V emit
1 LN 29463-7 body_weight V emit
1 LN 3141-9 body_weight V emit
1 LN 3142-7 body_weight,body_weight_self_reported V emit
1 LN 8341-0 body_weight V recognise
1 LN 8344-4 body_weight,dialysis_weight V recognise
1 LN 8347-7 body_weight,dialysis_weight V recognise
1 LN 8349-3 body_weight V recognise
1 LN 8350-1 body_weight V recognise
1 LN 8351-9 body_weight V recognise
1 LN 18833-4 body_weight V recognise
1 LN 75292-3 body_weight,body_weight_self_reported V recognise
1 LN 39156-5 body_mass_index V emit
1 LN 59574-4 - - -
1 LN 59575-1 - - -
1 LN 59576-9 - - -
2 SCT 128613002 seizure_history V emit
2 SCT 84757009 seizure_history V emit
2 SCT 703151001 seizure_history B recognise
2 SCT 91175000 seizure_history V emit
2 SCT 313307000 seizure_history V emit
2 SCT 230456007 seizure_history V emit
2 SCT 13973009 seizure_history V emit
2 SCT 7033004 seizure_history V emit
2 SCT 442512002 seizure_history V emit
2 SCT 352818000 seizure_history V emit
2 SCT 230381009 seizure_history V emit
2 SCT 724990004 seizure_history V emit
2 SCT 19598007 seizure_history V emit
2 SCT 65120008 seizure_history V emit
2 SCT 36803009 seizure_history V emit
2 SCT 54200006 seizure_history V emit
2 SCT 29753000 seizure_history V emit
2 SCT 79631006 seizure_history V emit
2 SCT 53521000119106 seizure_history V emit
2 SCT 460731000124105 seizure_history V emit
2 SCT 137991000119103 seizure_history V emit
2 SCT 698767004 seizure_history V emit
2 SCT 724787004 seizure_history V emit
2 SCT 75023009 seizure_history V emit
2 SCT 308742005 seizure_history,seizure_febrile_neonatal_provoked V emit
2 SCT 191714002 seizure_verify V emit
2 SCT 438113009 seizure_verify V emit
2 SCT 41497008 seizure_history,seizure_febrile_neonatal_provoked V emit
2 SCT 230432008 seizure_history,seizure_febrile_neonatal_provoked V emit
2 SCT 699688008 seizure_history V emit
2 SCT 444441000124109 seizure_history V emit
2 SCT 444451000124106 seizure_history V emit
2 SCT 87476004 seizure_history,seizure_febrile_neonatal_provoked V emit
2 SCT 1179547007 seizure_history V emit
2 SCT 860815000 seizure_history V emit
2 SCT 1222662000 seizure_history V emit
2 ICD R56.00 seizure_history,seizure_febrile_neonatal_provoked V-ICD emit
2 ICD R56.01 seizure_history,seizure_febrile_neonatal_provoked V-ICD emit
2 ICD P90 seizure_history,seizure_febrile_neonatal_provoked V-ICD emit
2 ICD G40.909 seizure_history V-ICD emit
2 ICD G40.841 seizure_history V-ICD emit
2 ICD R56.9 seizure_history V-ICD emit
2 ICD R56.1 seizure_history V-ICD emit
3 SCT 428191000124101 - - -
3 SCT 404909007 botulinum B recognise
3 SCT 442695005 - - -
3 SCT 11894001 botulinum_toxin_drug V emit
3 CPT 64642 botulinum V emit
3 CPT 64643 botulinum V emit
3 CPT 64644 botulinum V emit
3 CPT 64645 botulinum V emit
3 CPT 64612 chemodenervation_non_limb V recognise
3 CPT 64615 chemodenervation_non_limb V recognise
3 CPT 64616 chemodenervation_non_limb V recognise
3 CPT 64617 chemodenervation_non_limb V recognise
3 HCPCS J0585 botulinum_toxin_drug V emit
3 HCPCS J0586 botulinum_toxin_drug V emit
3 HCPCS J0587 botulinum_toxin_drug V emit
3 HCPCS J0588 botulinum_toxin_drug V emit
3 HCPCS J0589 botulinum_toxin_drug V emit
3 RX 1712 botulinum_toxin_drug V emit
3 RX 1789958 - - -
3 RX 860182 - - -
4 CPT 72148 mri_lumbar V emit
4 CPT 72149 mri_lumbar V emit
4 CPT 72158 mri_lumbar V emit
4 CPT 72195 limb_pelvis_imaging V emit
4 CPT 72196 limb_pelvis_imaging V emit
4 CPT 72197 limb_pelvis_imaging V emit
4 CPT 95907 ncs_emg V emit
4 CPT 95908 ncs_emg V emit
4 CPT 95909 ncs_emg V emit
4 CPT 95910 ncs_emg V emit
4 CPT 95911 ncs_emg V emit
4 CPT 95912 ncs_emg V emit
4 CPT 95913 ncs_emg V emit
4 CPT 95885 ncs_emg V emit
4 CPT 95886 ncs_emg V emit
4 CPT 95887 ncs_emg V emit
4 CPT 95860 ncs_emg V emit
4 CPT 95861 ncs_emg V emit
4 CPT 95863 ncs_emg V emit
4 CPT 95864 ncs_emg V emit
4 CPT 95870 ncs_emg V emit
4 CPT 97161 physical_therapy V emit
4 CPT 97162 physical_therapy V emit
4 CPT 97163 physical_therapy V emit
4 CPT 97164 physical_therapy V emit
4 CPT 97110 physical_therapy V emit
4 CPT 97116 physical_therapy V emit
4 CPT 97112 physical_therapy V emit
4 CPT 97530 physical_therapy V emit
4 CPT 97760 orthosis V recognise
4 CPT 97763 orthosis V recognise
4 CPT 64708 peroneal_decompression V emit
4 CPT 64712 peroneal_decompression V emit
4 CPT 64722 peroneal_decompression V emit
4 CPT 64704 peroneal_decompression V emit
4 CPT 63030 discectomy V emit
4 CPT 63035 discectomy V emit
4 CPT 63042 discectomy V emit
4 CPT 63047 lumbar_decompression V emit
4 CPT 63048 lumbar_decompression V emit
4 CPT 63005 lumbar_decompression V emit
4 CPT 63017 lumbar_decompression V emit
4 CPT 22612 lumbar_fusion V emit
4 CPT 22614 lumbar_fusion V emit
4 CPT 22630 lumbar_fusion V emit
4 CPT 22632 lumbar_fusion V emit
4 CPT 22633 lumbar_fusion V emit
4 CPT 22634 lumbar_fusion V emit
4 CPT 27690 tendon_transfer V emit
4 CPT 27691 tendon_transfer V emit
4 CPT 27692 tendon_transfer V emit
4 CPT 27870 ankle_arthrodesis V emit
4 CPT 73721 limb_pelvis_imaging V emit
4 CPT 73722 limb_pelvis_imaging V emit
4 CPT 73723 limb_pelvis_imaging V emit
4 CPT 76881 limb_pelvis_imaging V emit
4 CPT 76882 limb_pelvis_imaging V emit
5 HCPCS L1900 orthosis V recognise
5 HCPCS L1902 orthosis_not_for_gait V recognise
5 HCPCS L1904 orthosis_not_for_gait V recognise
5 HCPCS L1906 orthosis_not_for_gait V recognise
5 HCPCS L1907 orthosis_not_for_gait V recognise
5 HCPCS L1910 orthosis V recognise
5 HCPCS L1920 orthosis V recognise
5 HCPCS L1930 orthosis V emit
5 HCPCS L1932 orthosis V recognise
5 HCPCS L1933 orthosis V recognise
5 HCPCS L1940 orthosis V emit
5 HCPCS L1945 orthosis V recognise
5 HCPCS L1950 orthosis V recognise
5 HCPCS L1951 orthosis V recognise
5 HCPCS L1952 orthosis V recognise
5 HCPCS L1960 orthosis V emit
5 HCPCS L1970 orthosis V recognise
5 HCPCS L1971 orthosis V recognise
5 HCPCS L1980 orthosis V recognise
5 HCPCS L1990 orthosis V recognise
5 HCPCS L2106 orthosis_not_for_gait V recognise
5 HCPCS L2108 orthosis_not_for_gait V recognise
5 HCPCS L2112 orthosis_not_for_gait V recognise
5 HCPCS L2114 orthosis_not_for_gait V recognise
5 HCPCS L2116 orthosis_not_for_gait V recognise
5 HCPCS L2210 orthosis V recognise
5 HCPCS L2220 orthosis V recognise
5 HCPCS L4350 orthosis_not_for_gait V recognise
5 HCPCS L4360 orthosis_not_for_gait V recognise
5 HCPCS L4361 orthosis_not_for_gait V recognise
5 HCPCS L4386 orthosis_not_for_gait V recognise
5 HCPCS L4387 orthosis_not_for_gait V recognise
5 HCPCS L4392 orthosis V recognise
5 HCPCS L4394 orthosis_not_for_gait V recognise
5 HCPCS L4396 orthosis_not_for_gait V recognise
5 HCPCS L4397 orthosis_not_for_gait V recognise
5 HCPCS L4398 orthosis_not_for_gait V recognise
5 HCPCS L4631 orthosis V recognise
5 HCPCS E0770 fes V emit
5 HCPCS E0764 fes V recognise
5 HCPCS E0745 - - -
5 HCPCS L5410 - - -
6 SCT 410158009 physical_therapy V emit
6 SCT 410160006 physical_therapy V emit
6 SCT 410159001 physical_therapy V emit
6 SCT 424203006 physical_therapy V emit
6 SCT 183326003 physical_therapy V emit
6 SCT 424291000 physical_therapy V emit
6 SCT 91251008 physical_therapy V recognise
6 LN 18735-1 physical_therapy V emit
6 LN 11508-9 physical_therapy V emit
6 LN 28579-1 physical_therapy V emit
6 SCT 11429006 - - -
6 SCT 308447003 physical_therapy V emit
6 SCT 306170007 physical_therapy V emit
6 SCT 444831000124102 physical_therapy V emit
6 SCT 716634006 physical_therapy V emit
6 SCT 416790000 physical_therapy V emit
6 SCT 78429003 physical_therapy V emit
6 SCT 183160000 orthosis V emit
6 SCT 183161001 orthosis V recognise
6 SCT 224898003 orthosis V recognise
6 SCT 183154000 orthosis V recognise
6 SCT 183153006 orthosis V recognise
6 SCT 183159005 orthosis V recognise
6 SCT 304098006 - - -
6 DCM MR imaging_modality_mr V emit
6 SCT 122496007 lumbar_spine_body_site V emit
6 SCT 1217253001 lumbar_spine_body_site V emit
6 SCT 421060004 spine_body_site_generic V emit
6 SCT 1217256009 spine_body_site_generic V emit
6 SCT 72696002 - - -
6 SCT 30021000 - - -
6 SCT 70258002 - - -
6 SCT 816092008 - - -
6 SCT 241645008 mri_spine_generic V emit
6 LN 24968-0 mri_lumbar V emit
6 LN 24967-2 mri_lumbar V emit
6 SCT 41333006 mri_lumbar V emit
6 SCT 72506001 cardiac_device V emit
6 SCT 14106009 cardiac_device V emit
6 SCT 706004007 - - -
6 SCT 441509002 cardiac_device V emit
7 ICD N18.6 dialysis_or_esrd V-ICD emit
7 ICD N18.5 dialysis_or_esrd V-ICD emit
7 ICD Z99.2 dialysis_or_esrd V-ICD emit
7 ICD Z49.01 dialysis_recent V-ICD emit
7 ICD Z49.02 dialysis_recent V-ICD emit
7 ICD Z49.31 dialysis_recent V-ICD emit
7 ICD Z49.32 dialysis_recent V-ICD emit
7 ICD Z91.151 dialysis_or_esrd V-ICD emit
7 ICD Z91.158 dialysis_or_esrd V-ICD emit
7 ICD Z94.0 kidney_transplant V-ICD emit
7 ICD T82.41XA dialysis_recent V-ICD emit
7 ICD T86.12 kidney_transplant_failure V-ICD emit
7 SCT 46177005 dialysis_or_esrd V emit
7 SCT 236434000 dialysis_or_esrd V emit
7 SCT 236435004 dialysis_or_esrd V emit
7 SCT 236436003 kidney_transplant V emit
7 SCT 433146000 dialysis_or_esrd V emit
7 SCT 265764009 dialysis_recent V emit
7 SCT 302497006 dialysis_recent V emit
7 SCT 71192002 dialysis_recent V emit
7 SCT 238318009 dialysis_recent V emit
7 SCT 108241001 dialysis_recent V emit
7 SCT 428648006 dialysis_recent V emit
7 SCT 225230008 dialysis_recent V emit
7 SCT 238319001 dialysis_recent V emit
7 SCT 714749008 dialysis_recent V emit
7 CPT 90935 dialysis_recent V emit
7 CPT 90937 dialysis_recent V emit
7 CPT 90945 dialysis_recent V emit
7 CPT 90947 dialysis_recent V emit
7 CPT 90999 dialysis_recent V emit
7 CPT 90951 dialysis_recent V emit
7 CPT 90960 dialysis_recent V emit
7 CPT 90970 dialysis_recent V emit
7 HCPCS G0257 dialysis_recent V emit
7 LN 74006-8 - - -
8 SCT 368581000119106 diabetic_neuropathy V emit
8 SCT 1511000119107 diabetic_neuropathy V emit
8 SCT 71791000119104 diabetic_neuropathy V emit
8 SCT 713706002 diabetic_neuropathy V emit
8 SCT 713705003 diabetic_neuropathy V emit
8 SCT 110181000119105 diabetic_neuropathy V emit
8 SCT 102781000119107 diabetic_neuropathy V emit
8 SCT 420436000 diabetic_neuropathy V emit
8 SCT 420918009 diabetic_neuropathy V emit
8 SCT 427027005 diabetic_neuropathy V emit
8 SCT 427571000 diabetic_neuropathy V emit
8 SCT 712883005 diabetic_neuropathy V emit
8 SCT 712882000 diabetic_neuropathy V emit
8 SCT 230572002 diabetic_neuropathy,peripheral_neuropathy V emit
8 SCT 424736006 diabetic_neuropathy,peripheral_neuropathy V emit
8 SCT 42345000 peripheral_neuropathy V emit
8 SCT 302226006 peripheral_neuropathy V emit
8 SCT 386033004 peripheral_neuropathy V emit
8 ICD E11.42 diabetic_neuropathy,peripheral_neuropathy V-ICD emit
8 ICD E11.610 peripheral_neuropathy V-ICD emit
8 ICD G57.81 peripheral_neuropathy V-ICD emit
8 ICD G63 peripheral_neuropathy V-ICD emit
8 SCT 44054006 - - -
11 LN 33914-3 egfr B recognise
"""


def rows() -> list[tuple[str, str, str, frozenset[str], str, str]]:
    out = []
    for line in CODES_V3.strip().splitlines():
        section, system, code, features, confidence, use = line.split()
        wanted = frozenset() if features == "-" else frozenset(features.split(","))
        out.append((section, SYSTEMS[system], code, wanted, confidence, use))
    return out


ROWS = rows()


def use_of(m: ConceptMatch) -> str:
    return "emit" if m.emittable else "recognise"


@pytest.mark.parametrize(
    ("section", "system", "code", "features", "confidence", "use"),
    ROWS,
    ids=[f"s{r[0]}-{r[2]}" for r in ROWS],
)
def test_codes_v3_row_is_in_its_value_sets(
    index: ValueSetIndex,
    section: str,
    system: str,
    code: str,
    features: frozenset[str],
    confidence: str,
    use: str,
) -> None:
    matches = index.match(system, code)
    assert {m.feature for m in matches} == features
    for m in matches:
        assert (m.confidence, use_of(m)) == (confidence, use), m


def test_the_table_covers_every_section_of_codes_v3() -> None:
    assert {r[0] for r in ROWS} == {"1", "2", "3", "4", "5", "6", "7", "8", "11"}
    assert len({(r[1], r[2]) for r in ROWS}) == len(ROWS), "a code listed twice"
