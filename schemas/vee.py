"""The statuses VEE gives every meter interval (Validation, Estimation and Editing).

VALID and SUSPECT rows are kept as read; REJECTED rows go to silver/quarantine with their
reason; ESTIMATED_* rows are new rows that fill gaps. Rule ids and thresholds live with the
rules (jobs/validate_readings.py and conf ``vee``).
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
