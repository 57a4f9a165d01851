"""People's CSV import skips (and counts) the rows of erased and suppressed people."""

from __future__ import annotations

import pytest
from tablib import Dataset

from people.models import Person
from people.resources import PersonResource

pytestmark = pytest.mark.django_db


def test_csv_rows_of_erased_or_suppressed_people_are_skipped(ingest, admin_user, run_request):
    # given: one person erased, one suppressed
    ingest({"type": "identify", "userId": "h-1", "traits": {"email": "hal@example.org"}, "messageId": "h1"})
    ingest({"type": "identify", "userId": "i-1", "traits": {"email": "ivy@example.org"}, "messageId": "i1"})
    run_request("erasure", ("email", "hal@example.org"), user=admin_user)
    run_request("suppression", ("email", "ivy@example.org"), user=admin_user)
    data = Dataset().load(
        "email,first_name\nHAL@example.org,Hal\nivy@example.org,Ivy\njo@example.org,Jo\n", format="csv"
    )
    # when: an old export is imported again
    result = PersonResource().import_data(data, dry_run=False)
    # then
    assert not result.has_errors()
    assert (result.totals["new"], result.totals["skip"], result.totals["update"]) == (1, 2, 0)
    assert not Person.objects.filter(email="hal@example.org").exists()
    assert Person.objects.get(email="ivy@example.org").first_name == ""
    assert Person.objects.get(email="jo@example.org").first_name == "Jo"
