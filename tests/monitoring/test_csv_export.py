"""Record issues as CSV: a header, one line per issue, formulas defused."""

from __future__ import annotations

from wonde_sync.monitoring.csv_export import CSV_COLUMNS, issues_csv
from wonde_sync.monitoring.views import RecordIssue


def test_issue_csv_defuses_spreadsheet_formulas():
    issue = RecordIssue(
        run_id=3,
        site_id="ashdown",
        record_type="employee",
        external_id='=HYPERLINK("http://x")',
        reason="invalid_email",
        detail="imported without email: '+44 1234'",
        created_at=None,
    )
    lines = list(issues_csv([issue]))
    assert lines[0] == ",".join(CSV_COLUMNS) + "\r\n"
    assert lines[1].startswith('3,ashdown,employee,"\'=HYPERLINK(""http://x"")",invalid_email,')
    assert "imported without email: '+44 1234'" in lines[1]
