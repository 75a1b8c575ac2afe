"""The statuses VEE gives every meter interval (Validation, Estimation and Editing).

VALID and SUSPECT rows are kept as read; REJECTED rows go to silver/quarantine with their
reason; ESTIMATED_* rows are new rows that fill gaps. Rule ids and thresholds live with the
rules (jobs/stages/validate.py and conf ``vee``).
"""

from __future__ import annotations

VALID = "VALID"
SUSPECT = "SUSPECT"
REJECTED = "REJECTED"
ESTIMATED_LINEAR = "ESTIMATED_LINEAR"
ESTIMATED_LIKE_DAY = "ESTIMATED_LIKE_DAY"
ESTIMATED_FLAT = "ESTIMATED_FLAT"

ESTIMATED = (ESTIMATED_LINEAR, ESTIMATED_LIKE_DAY, ESTIMATED_FLAT)
#: Statuses of rows that stay in silver (everything but REJECTED).
KEPT = (VALID, SUSPECT, *ESTIMATED)

# Rule ids (jobs/stages/validate.py). A row's ``rule_id`` lists every rule that fired on
# it, comma-separated in id order; a clean VALID row carries PASSED. An estimated row
# carries the rule that emptied its interval (a gap, or the rejection of the reading there).
PASSED = "V00_passed"
MISSING_INTERVAL = "V01_missing_interval"
MISSING_DAY = "V02_missing_day"
DUPLICATE_EXACT = "V03_duplicate_exact"
DUPLICATE_CONFLICT = "V04_duplicate_conflict"
NEGATIVE_IMPORT = "V05_negative_import"
ZERO_STREAK = "V06_zero_streak"
FROZEN_VALUE = "V07_frozen_value"
SPIKE = "V08_spike"
MISALIGNED = "V09_misaligned"
FUTURE_TIMESTAMP = "V10_future_timestamp"
OUTSIDE_DAY = "V11_outside_day"
UNKNOWN_METER = "V12_unknown_meter"
OUTSIDE_ACTIVE_DATES = "V13_outside_active_dates"
IMPOSSIBLE_VALUE = "V14_impossible_value"
VOLTAGE_OUT_OF_RANGE = "V15_voltage_out_of_range"
VOLTAGE_SAG = "V16_voltage_sag"
VOLTAGE_SWELL = "V17_voltage_swell"
LATE_ARRIVAL = "V18_late_arrival"
