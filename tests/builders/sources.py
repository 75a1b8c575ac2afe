"""Builders of small test files in the real datasets' layouts (headers as the files spell them)."""

from __future__ import annotations

import gzip
from collections.abc import Sequence
from pathlib import Path

SGSC_HEADER = "customer_id,reading_datetime,general_supply_kwh"
TETOUAN_HEADER = ("DateTime,Temperature,Humidity,Wind Speed,Zone 1 Power Consumption,"
                  "Zone 2  Power Consumption,Zone 3  Power Consumption")
STEEL_HEADER = ("date,Usage_kWh,Lagging_Current_Reactive_Power_kVarh,Leading_Current_Reactive_Power_kVarh,"
                "CO2(tCO2),Lagging_Current_Power_Factor,Leading_Current_Power_Factor,NSM,WeekStatus,Day_of_week,"
                "Load_Type")


def write_csv(path: Path, header: str, lines: Sequence[str], *, gz: bool = False, bom: bool = False) -> Path:
    """Write ``header`` and ``lines`` as a CSV file (gzip if ``gz``, with a UTF-8 BOM if ``bom``)."""
    text = ("\ufeff" if bom else "") + "\n".join([header, *lines]) + "\n"
    if gz:
        path.write_bytes(gzip.compress(text.encode()))
    else:
        path.write_text(text, encoding="utf-8")
    return path


def sgsc_file(path: Path, lines: Sequence[str], **kwargs: bool) -> Path:
    """An SGSC file: lines of ``customer_id,reading_datetime,general_supply_kwh``."""
    return write_csv(path, SGSC_HEADER, lines, **kwargs)


def tetouan_file(path: Path, lines: Sequence[str], **kwargs: bool) -> Path:
    """A Tetouan file: lines of ``DateTime,Temperature,Humidity,Wind Speed,zone 1,zone 2,zone 3``."""
    return write_csv(path, TETOUAN_HEADER, lines, **kwargs)


def steel_line(end: str, kwh: str, lagging: str = "0", leading: str = "0", lagging_pf: str = "100",
               leading_pf: str = "100") -> str:
    """One steel-plant line; the columns the loader ignores get plausible constant values."""
    return f"{end},{kwh},{lagging},{leading},0,{lagging_pf},{leading_pf},0,Weekday,Monday,Light_Load"


def steel_file(path: Path, lines: Sequence[str], **kwargs: bool) -> Path:
    """A steel-plant file, with the byte-order mark the real one starts with."""
    return write_csv(path, STEEL_HEADER, lines, bom=True, **kwargs)
