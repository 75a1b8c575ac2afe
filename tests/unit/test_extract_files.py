"""How many files (and read tasks) the extract splits one day of readings into."""

import pytest

from jobs.transforms.bronze_layout import MIN_SPLIT_BYTES, day_files

MIB = 2**20
TARGET = 128 * MIB


@pytest.mark.parametrize(
    ("rows", "cores", "files"),
    [
        (920_736, 2, 2),  # the standard set's meter day, ~7 MiB: one file per core
        (43_008, 2, 1),  # its sensor day, ~0.3 MiB: below one split, one file
        (300_000, 16, 2),  # ~2.3 MiB on 16 cores: as many whole MiB as it holds
        (96_000_000, 2, 6),  # 1M meters' day, ~732 MiB: by the 128 MiB target
        (96_000_000, 16, 16),  # the same on 16 cores: one file per core
    ],
)
def test_a_day_is_split_by_the_target_size_and_at_least_per_core(rows: int, cores: int, files: int) -> None:
    assert day_files(rows, bytes_per_row=8, target_file_bytes=TARGET, cores=cores) == files


def test_the_smallest_split_is_one_mib() -> None:
    assert MIN_SPLIT_BYTES == MIB
    assert day_files(2 * MIB // 8 - 1, bytes_per_row=8, target_file_bytes=TARGET, cores=4) == 1
    assert day_files(2 * MIB // 8, bytes_per_row=8, target_file_bytes=TARGET, cores=4) == 2
