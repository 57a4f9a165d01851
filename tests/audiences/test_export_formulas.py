"""Audience member export neutralises spreadsheet formulas (CSV injection), as the people export does."""

import csv
import io

import pytest

from people.models import AttributeDefinition

pytestmark = pytest.mark.django_db


def test_member_export_prefixes_formula_cells(api, make_person, known, make_audience):
    # given a member whose name and custom value look like formulas
    AttributeDefinition.objects.create(key="plan", label="Plan", type="text")
    person = known(make_person(first_name="=HYPERLINK(1)", country="DE"))
    type(person).objects.filter(pk=person.pk).update(custom={"plan": "-5"})
    audience = make_audience(
        "germans", {"condition": {"attribute": "country", "op": "equals", "value": "DE"}}, activate=True
    )
    # when the members are exported
    response = api.get(f"/api/audiences/{audience.pk}/export/", {"columns": "first_name,plan,country"})
    # then the cells are prefixed with ' and plain ones are kept
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert rows == [["first_name", "plan", "country"], ["'=HYPERLINK(1)", "'-5", "DE"]]
