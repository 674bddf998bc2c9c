"""The wide signals CSV: read in one array pass when valid, and every bad cell still named."""

from __future__ import annotations

from pathlib import Path

import pytest

from carbon_aware.cli.inputs import InputError, read_signals

HEADER = "datetime,a,b\n"
ROWS = [f"2023-01-01T{h:02d}:00:00Z,{100 + h},{200 - h}\n" for h in range(6)]


def test_valid_wide_csv_gives_each_column_as_a_signal(tmp_path: Path) -> None:
    path = tmp_path / "s.csv"
    path.write_text(HEADER + "".join(reversed(ROWS)) + "\n")  # unsorted, a blank line at the end
    signals = read_signals(path)
    assert signals["a"].values.tolist() == [100.0 + h for h in range(6)]
    assert signals["b"].values.tolist() == [200.0 - h for h in range(6)]
    assert signals["a"].times[1] - signals["a"].times[0] == 3600.0


@pytest.mark.parametrize(
    ("cell", "problem"),
    [
        ("-1", "must be a finite number >= 0"),
        ("inf", "must be a finite number >= 0"),
        ("nan", "must be a finite number >= 0"),
        ("x", "not a number"),
        ("", "missing value"),
    ],
)
def test_bad_cell_is_named_by_line_and_column(tmp_path: Path, cell: str, problem: str) -> None:
    rows = list(ROWS)
    rows[3] = f"2023-01-01T03:00:00Z,103,{cell}\n"
    path = tmp_path / "s.csv"
    path.write_text(HEADER + "".join(rows))
    with pytest.raises(InputError, match=rf"s\.csv:5: column b: {problem}"):
        read_signals(path)


def test_duplicate_time_names_its_line(tmp_path: Path) -> None:
    path = tmp_path / "s.csv"
    path.write_text(HEADER + "".join(ROWS) + ROWS[2])
    with pytest.raises(InputError, match=r"s\.csv:8: a: duplicate datetime 2023-01-01T02:00:00Z"):
        read_signals(path)
