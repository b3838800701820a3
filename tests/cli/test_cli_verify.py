"""``mathdnn verify``: every row of the table passes, with its reference, and the exit status is
0."""

from __future__ import annotations

from mathdnn.cli import main


def test_verify_prints_a_table_of_passing_checks(capsys):
    assert main(["verify"]) == 0
    out = capsys.readouterr().out.splitlines()
    header, rows, summary = out[0], out[1:-1], out[-1]
    assert header.split()[:3] == ["problem", "check", "reference"]
    assert header.split()[-1] == "status"
    statuses = [row.split("  ")[-1] for row in rows if not row.startswith(" ")]
    assert statuses and set(statuses) <= {"pass", "xfail (as expected)", "skip"}
    assert summary.endswith(" 0 failed, 0 skipped") or " 0 failed, " in summary
    passed = int(summary.split()[0])
    assert passed == sum(s != "skip" for s in statuses)


def test_verify_seed_must_be_non_negative(capsys):
    assert main(["verify", "--seed", "-1"]) == 2
    assert capsys.readouterr().err.startswith("mathdnn verify: --seed")
