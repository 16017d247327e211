"""The product's words: ages and reason labels read as people say them."""

from __future__ import annotations

from datetime import timedelta

from wonde_sync.core import vocabulary


def test_ages_read_as_people_say_them():
    assert vocabulary.describe_age(timedelta(seconds=20)) == "less than a minute"
    assert vocabulary.describe_age(timedelta(minutes=1)) == "1 minute"
    assert vocabulary.describe_age(timedelta(hours=5, minutes=59)) == "5 hours"
    assert vocabulary.describe_age(timedelta(days=3, hours=23)) == "3 days"


def test_reason_labels_fall_back_to_the_code_in_words():
    assert vocabulary.reason_label("suspended") == "Suspended in the MIS"
    assert vocabulary.short_reason_label("not_in_mis") == "no longer in the MIS"
    assert vocabulary.short_reason_label("missing_id") == "No Wonde id"
    assert vocabulary.reason_label("some_new_code") == "some new code"
