"""Parsing the real datasets' files: clocks, units, rejects and the one-line errors (no services).

Expected instants and energies are worked out by hand in the comments, not by the code.
"""

from __future__ import annotations

import gzip
import hashlib
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from builders.sources import (SGSC_HEADER, STEEL_HEADER, TETOUAN_HEADER, sgsc_file, steel_file, steel_line, tetouan_file,
                      write_csv)

from jobs.ingest import load_real_data
from jobs.runtime.config import Settings
from jobs.ingest.sources import UnknownDatasetError, sgsc, source_named, steel_plant, tetouan
from jobs.ingest.sources.common import BadInputError, Clock, ParsedFile

TETOUAN_LINE = "1/13/2017 0:00,6.559,73.8,0.083,34055.6962,16128.87538,20240.96386"


def utc(*parts: int) -> datetime:
    """An aware UTC datetime."""
    return datetime(*parts, tzinfo=UTC)


def placed(parsed: ParsedFile) -> list[tuple[str, date, datetime]]:
    """Where each reading landed: meter, local day, UTC start."""
    return [(r.meter_id, r.day, r.ts) for r in parsed.readings]


# ---------------------------------------------------------------- clocks


def test_sgsc_fixed_plus_ten_puts_local_day_and_utc_start(tmp_path: Path) -> None:
    path = sgsc_file(tmp_path / "s.csv", ["10006414,2012-02-10 00:30:00,0.1", "10006414,2012-02-10 10:00:00,0.141"])
    parsed = sgsc.SOURCE.parse(path, Clock.parse("+10:00"))
    # 00:30 at +10:00 is 14:30 UTC the day before, still local day 2012-02-10.
    assert placed(parsed) == [("sgsc-10006414", date(2012, 2, 10), utc(2012, 2, 9, 14, 30)),
                              ("sgsc-10006414", date(2012, 2, 10), utc(2012, 2, 10, 0, 0))]
    assert [r.kwh_import for r in parsed.readings] == [Decimal("0.100"), Decimal("0.141")]
    assert parsed.rejects == []


def test_sgsc_on_sydney_wall_clock_rejects_nonexistent_and_ambiguous_times(tmp_path: Path) -> None:
    # Sydney: 2012-10-07 02:00 AEST jumps to 03:00 AEDT; 2013-04-07 03:00 AEDT falls back to 02:00 AEST.
    path = sgsc_file(tmp_path / "s.csv", [
        "1,2012-10-07 01:30:00,0.1",  # line 2: +10:00 -> 15:30 UTC on the 6th
        "1,2012-10-07 02:00:00,0.2",  # line 3: never happens
        "1,2012-10-07 02:30:00,0.3",  # line 4: never happens
        "1,2012-10-07 03:00:00,0.4",  # line 5: +11:00 -> 16:00 UTC on the 6th
        "1,2013-04-07 01:30:00,0.5",  # line 6: +11:00 -> 14:30 UTC on the 6th
        "1,2013-04-07 02:00:00,0.6",  # line 7: happens twice
        "1,2013-04-07 02:30:00,0.7",  # line 8: happens twice
        "1,2013-04-07 03:00:00,0.8",  # line 9: +10:00 -> 17:00 UTC on the 6th
    ])
    parsed = sgsc.SOURCE.parse(path, Clock.parse("Australia/Sydney"))
    assert placed(parsed) == [("sgsc-1", date(2012, 10, 7), utc(2012, 10, 6, 15, 30)),
                              ("sgsc-1", date(2012, 10, 7), utc(2012, 10, 6, 16, 0)),
                              ("sgsc-1", date(2013, 4, 7), utc(2013, 4, 6, 14, 30)),
                              ("sgsc-1", date(2013, 4, 7), utc(2013, 4, 6, 17, 0))]
    assert [(r.line, r.reason, r.raw) for r in parsed.rejects] == [
        (3, "nonexistent local time", "1,2012-10-07 02:00:00,0.2"),
        (4, "nonexistent local time", "1,2012-10-07 02:30:00,0.3"),
        (7, "ambiguous local time", "1,2013-04-07 02:00:00,0.6"),
        (8, "ambiguous local time", "1,2013-04-07 02:30:00,0.7"),
    ]
    assert parsed.rejects[0].stated == "nonexistent local time: 2012-10-07 02:00 in Australia/Sydney"


def test_steel_midnight_row_closes_its_own_date(tmp_path: Path) -> None:
    path = steel_file(tmp_path / "steel.csv", [
        steel_line("01/01/2018 00:15", "3.17"),  # 00:00-00:15 KST = 15:00 UTC on 31 Dec
        steel_line("01/01/2018 23:45", "3.24"),  # 23:30-23:45 KST = 14:30 UTC on 1 Jan
        steel_line("01/01/2018 00:00", "3.42"),  # 24:00 of 1 Jan: 23:45-24:00 KST = 14:45 UTC on 1 Jan
        steel_line("02/01/2018 00:15", "3.20"),  # 00:00-00:15 KST on 2 Jan = 15:00 UTC on 1 Jan
    ])
    parsed = steel_plant.SOURCE.parse(path, Clock.parse("Asia/Seoul"))
    assert placed(parsed) == [("steel-plant-1", date(2018, 1, 1), utc(2017, 12, 31, 15, 0)),
                              ("steel-plant-1", date(2018, 1, 1), utc(2018, 1, 1, 14, 30)),
                              ("steel-plant-1", date(2018, 1, 1), utc(2018, 1, 1, 14, 45)),
                              ("steel-plant-1", date(2018, 1, 2), utc(2018, 1, 1, 15, 0))]


def test_tetouan_unpadded_dates_on_a_given_offset(tmp_path: Path) -> None:
    path = tetouan_file(tmp_path / "t.csv", [TETOUAN_LINE])
    parsed = tetouan.SOURCE.parse(path, Clock.parse("+01:00"))
    # 00:00 at +01:00 is 23:00 UTC the day before, local day the 13th.
    assert placed(parsed) == [(f"tetouan-zone-{n}", date(2017, 1, 13), utc(2017, 1, 12, 23, 0)) for n in (1, 2, 3)]


# ---------------------------------------------------------------- units and channels


def test_tetouan_average_kw_becomes_kwh_per_ten_minutes(tmp_path: Path) -> None:
    parsed = tetouan.SOURCE.parse(tetouan_file(tmp_path / "t.csv", [TETOUAN_LINE]), Clock.parse("+00:00"))
    # kW * 1/6 h: 34055.6962/6 = 5675.94936..., 16128.87538/6 = 2688.14589..., 20240.96386/6 = 3373.49397...
    assert [r.kwh_import for r in parsed.readings] == [Decimal("5675.949"), Decimal("2688.146"), Decimal("3373.494")]


def test_steel_reactive_energy_is_net_and_power_factor_of_the_dominant_side(tmp_path: Path) -> None:
    path = steel_file(tmp_path / "steel.csv", [
        steel_line("01/01/2018 00:15", "3.17", lagging="2.95", leading="0", lagging_pf="73.21", leading_pf="100"),
        steel_line("01/01/2018 22:15", "3.56", lagging="1.44", leading="10.08", lagging_pf="92.7", leading_pf="33.3"),
    ])
    parsed = steel_plant.SOURCE.parse(path, Clock.parse("Asia/Seoul"))
    assert [(r.kwh_import, r.kvarh, r.power_factor) for r in parsed.readings] == [
        (Decimal("3.170"), Decimal("2.950"), Decimal("0.732")),
        (Decimal("3.560"), Decimal("-8.640"), Decimal("0.333")),
    ]


# ---------------------------------------------------------------- files, ids, rejects, catalogue


def test_gzip_and_plain_files_read_alike_and_ids_name_the_file_hash(tmp_path: Path) -> None:
    lines = ["7,2012-02-10 08:00:00,0.141", "7,2012-02-10 08:00:00,0.141"]  # a duplicated reading
    plain = sgsc_file(tmp_path / "s.csv", lines)
    packed = sgsc_file(tmp_path / "s.csv.gz", lines, gz=True)
    clock = Clock.parse("+10:00")
    from_plain, from_gzip = sgsc.SOURCE.parse(plain, clock), sgsc.SOURCE.parse(packed, clock)
    assert placed(from_plain) == placed(from_gzip)
    rows = list(load_real_data.reading_rows(from_gzip, sgsc.SOURCE, utc(2024, 1, 1)))
    digest = hashlib.sha256(packed.read_bytes()).hexdigest()[:12]
    assert [row["ingest_id"] for row in rows] == [f"sgsc:{digest}:2", f"sgsc:{digest}:3"]


def test_rows_come_grouped_by_meter_and_local_day(tmp_path: Path) -> None:
    path = sgsc_file(tmp_path / "s.csv", ["2,2012-02-11 08:00:00,1", "1,2012-02-10 08:00:00,1",
                                          "2,2012-02-10 08:00:00,1", "1,2012-02-10 07:30:00,1"])
    rows = list(load_real_data.reading_rows(sgsc.SOURCE.parse(path, Clock.parse("+10:00")), sgsc.SOURCE,
                                            utc(2024, 1, 1)))
    assert [(row["meter_id"], row["day"], row["ingest_id"][-1]) for row in rows] == [
        ("sgsc-1", date(2012, 2, 10), "5"), ("sgsc-1", date(2012, 2, 10), "3"),
        ("sgsc-2", date(2012, 2, 10), "4"), ("sgsc-2", date(2012, 2, 11), "2")]


def test_empty_cell_rejects_the_whole_line_and_counts_its_readings(tmp_path: Path) -> None:
    path = tetouan_file(tmp_path / "t.csv", [TETOUAN_LINE, "1/13/2017 0:10,6.4,74.5,0.083,29814.68354,19375.07599,"])
    parsed = tetouan.SOURCE.parse(path, Clock.parse("+00:00"))
    summary = load_real_data.summarise(parsed, tetouan.SOURCE, rows_loaded=len(parsed.readings), seconds=1.0)
    assert [(r.line, r.stated) for r in parsed.rejects] == [(3, "empty cell: column Zone 3  Power Consumption")]
    assert (summary.lines, summary.rows_read, summary.rows_loaded, summary.rejects) == (2, 6, 3, {"empty cell": 3})


def test_catalogue_spans_first_to_last_local_day_per_meter(tmp_path: Path) -> None:
    path = sgsc_file(tmp_path / "s.csv", ["1,2012-02-10 23:30:00,1", "2,2012-03-01 00:00:00,1",
                                          "1,2012-02-12 00:00:00,1"])
    parsed = sgsc.SOURCE.parse(path, Clock.parse("+10:00"))
    meters = load_real_data.catalogue_rows(parsed, sgsc.SOURCE, "+10:00")
    assert [(m["meter_id"], m["meter_class"], m["active_from"], m["active_to"], m["interval_s"], m["timezone"])
            for m in meters] == [("sgsc-1", "residential", date(2012, 2, 10), date(2012, 2, 12), 1800, "+10:00"),
                                 ("sgsc-2", "residential", date(2012, 3, 1), date(2012, 3, 1), 1800, "+10:00")]
    assert all("Smart Grid Smart City" in m["address"] for m in meters)


# ---------------------------------------------------------------- bad input


BAD_INPUTS = [
    pytest.param("sgsc", SGSC_HEADER.replace(",general_supply_kwh", ""), "1,2012-02-10 08:00:00",
                 "bad.csv line 1 column general_supply_kwh: missing from the header "
                 "(found: customer_id, reading_datetime)", id="sgsc-missing-column"),
    pytest.param("sgsc", SGSC_HEADER, "1,2012/02/10 08:00:00,0.1",
                 "bad.csv line 3 column reading_datetime: '2012/02/10 08:00:00' is not a date-time "
                 "YYYY-MM-DD HH:MM:SS", id="sgsc-bad-date-format"),
    pytest.param("sgsc", SGSC_HEADER, "1,2012-02-30 08:00:00,0.1",
                 "bad.csv line 3 column reading_datetime: '2012-02-30 08:00:00' is not a date-time "
                 "YYYY-MM-DD HH:MM:SS", id="sgsc-date-that-does-not-exist"),
    pytest.param("sgsc", SGSC_HEADER, "1,2012-02-10 08:30:00,abc",
                 "bad.csv line 3 column general_supply_kwh: 'abc' is not a number", id="sgsc-non-numeric"),
    pytest.param("sgsc", SGSC_HEADER, "1,2012-02-10 08:30:00,NaN",
                 "bad.csv line 3 column general_supply_kwh: 'NaN' is not a number", id="sgsc-nan"),
    pytest.param("sgsc", SGSC_HEADER, "A7,2012-02-10 08:30:00,0.1",
                 "bad.csv line 3 column customer_id: 'A7' is not an integer household id", id="sgsc-bad-meter-id"),
    pytest.param("sgsc", SGSC_HEADER, "1,2012-02-10 08:30:00",
                 "bad.csv line 3: 2 fields, the header has 3", id="sgsc-short-line"),
    pytest.param("tetouan", TETOUAN_HEADER, "13/01/2017 0:10,6.4,74.5,0.083,29814.68354,19375.07599,20131.08434",
                 "bad.csv line 3 column DateTime: '13/01/2017 0:10' is not a date-time MM/DD/YYYY HH:MM",
                 id="tetouan-day-first-date"),
    pytest.param("tetouan", TETOUAN_HEADER, "1/13/2017 0:10,6.4,74.5,0.083,29814.68354,19 375,20131.08434",
                 "bad.csv line 3 column Zone 2  Power Consumption: '19 375' is not a number",
                 id="tetouan-non-numeric"),
    pytest.param("steel", STEEL_HEADER.replace("Leading_Current_Power_Factor,", ""), "",
                 "bad.csv line 1 column Leading_Current_Power_Factor: missing from the header (found: "
                 + STEEL_HEADER.replace("Leading_Current_Power_Factor,", "").replace(",", ", ") + ")",
                 id="steel-missing-column"),
    pytest.param("steel", STEEL_HEADER, steel_line("2018-01-01 00:30", "3.1"),
                 "bad.csv line 3 column date: '2018-01-01 00:30' is not a date-time DD/MM/YYYY HH:MM",
                 id="steel-iso-date"),
    pytest.param("steel", STEEL_HEADER, steel_line("01/01/2018 00:30", "3.1", lagging="1,5"),
                 "bad.csv line 3: 12 fields, the header has 11", id="steel-decimal-comma"),
]
GOOD_LINE = {"sgsc": "1,2012-02-10 08:00:00,0.1", "tetouan": TETOUAN_LINE,
             "steel": steel_line("01/01/2018 00:15", "3.17")}


@pytest.mark.parametrize(("dataset", "header", "bad_line", "message"), BAD_INPUTS)
def test_bad_input_names_file_line_and_column(tmp_path: Path, dataset: str, header: str, bad_line: str,
                                              message: str) -> None:
    # A good line before and after: the error stops the whole file, wherever the bad line is.
    path = write_csv(tmp_path / "bad.csv", header, [GOOD_LINE[dataset], bad_line, GOOD_LINE[dataset]])
    with pytest.raises(BadInputError) as caught:
        source_named(dataset).parse(path, Clock.parse(source_named(dataset).default_tz))
    assert str(caught.value) == message


def test_unknown_dataset_is_refused_before_any_connection(settings: Settings) -> None:
    with pytest.raises(UnknownDatasetError) as caught:
        load_real_data.main(settings, "solar")
    assert str(caught.value) == "unknown dataset 'solar' (known: sgsc, steel, tetouan)"


@pytest.mark.parametrize("text", ["Mars/Olympus", "+1000", "+24:00", ""], ids=["no-such-zone", "offset-without-colon",
                                                                               "offset-beyond-a-day", "empty"])
def test_bad_timezone_is_refused(text: str) -> None:
    with pytest.raises(BadInputError, match="neither an IANA zone nor an offset|offset beyond 24 hours"):
        Clock.parse(text)


def test_a_truncated_gzip_file_is_named_not_aborted(tmp_path: Path) -> None:
    whole = gzip.compress(("customer_id,reading_datetime,general_supply_kwh\n"
                           + "\n".join(f"1,2012-02-10 08:{m:02d}:00,0.1" for m in range(0, 60, 30)) * 500).encode())
    path = tmp_path / "cut.csv.gz"
    path.write_bytes(whole[: len(whole) // 2])
    with pytest.raises(BadInputError) as caught:
        source_named("sgsc").parse(path, Clock.parse("+10:00"))
    assert str(caught.value).startswith("cut.csv.gz: not a whole gzip file (") and "truncated or corrupt" in str(caught.value)


def test_a_nul_byte_is_named_by_its_line(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "nul.csv", "customer_id,reading_datetime,general_supply_kwh",
                     ["1,2012-02-10 08:00:00,0.1", "1\x00,2012-02-10 08:30:00,0.1"])
    with pytest.raises(BadInputError) as caught:
        source_named("sgsc").parse(path, Clock.parse("+10:00"))
    assert str(caught.value) == "nul.csv line 3: a NUL byte (a binary or damaged file)"
