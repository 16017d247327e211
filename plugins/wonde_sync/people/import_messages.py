"""The Sync History message of a site's import: what it did per record type, and notes on a
preview, on changes an undo had reverted, and on a MIS that changed during the read."""

from __future__ import annotations

from datetime import datetime

from wonde_sync.core.vocabulary import RECORD_TYPE_LABELS
from wonde_sync.people import feeds


def summary(tallies: dict[str, feeds.Tally], results: dict, full: bool) -> str:
    """Per record type: fetched, created, updated, unchanged, archived, linked, filtered."""
    parts = []
    for record_type, label in RECORD_TYPE_LABELS.items():
        tally, result = tallies[record_type], results[record_type]
        text = (
            f"{label}: {tally.fetched} fetched, {result.created} created, "
            f"{result.updated} updated, {result.unchanged} unchanged, {result.archived} archived"
        )
        if result.linked:
            text += f", {result.linked} linked to existing records"
        if tally.filtered:
            reasons = ", ".join(f"{n} {r}" for r, n in sorted(tally.filtered.items()))
            text += f"; not imported: {reasons}"
        if tally.rejected:
            text += f"; {tally.rejected} rejected (see the run's record issues)"
        parts.append(text)
    return ("Full import. " if full else "Incremental import. ") + ". ".join(parts) + "."


def preview_note(results: dict, full: bool) -> str:
    """What a preview's message starts with."""
    held = any(r.held for r in results.values())
    return (
        f"Preview of {'a full' if full else 'an incremental'} import: nothing was applied, the "
        "changes below are the plan (see the run's changes)."
        + (" The mass-archive guard would hold this run." if held else "")
        + " "
    )


def redo_note(redone: int) -> str:
    """A note on changes that reapply what an undo reverted (empty when none)."""
    if not redone:
        return ""
    return (
        f" {redone} of these changes reapply what an undo had reverted: the MIS still says "
        "so (see the run's changes)."
    )


def drift_note(tallies: dict[str, feeds.Tally], mark: datetime | None) -> str:
    """A note on a MIS that changed while its pages were read."""
    found = sum(t.found for t in tallies.values())
    note = " The school's MIS changed while its pages were read, so pages may have shifted"
    if found:
        note += f"; {found} missing from the lists were found by looking them up"
    if mark is None:
        return note + "; the next import is a full one again."
    return f"{note}; the watermark stays at {mark:%Y-%m-%d %H:%M} UTC so the next run reads again."
