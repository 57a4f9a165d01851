"""The demo audiences (``audiences.demo.load``, to be listed in ATTUNE_DEMO_HOOKS): created, active,
with a draft duplicate showing its impact; safe to run twice."""

import io

from audiences import demo, selectors
from audiences.models import Audience


def test_demo_audiences(make_person, make_event, known):
    ann = known(make_person(first_name="Ann"))
    make_event(ann, "Order Completed")
    make_event(ann, "Email Opened")
    make_event(ann, "Email Opened")
    out = io.StringIO()
    demo.load(out)
    demo.load(out)
    states = dict(Audience.objects.values_list("key", "state"))
    assert states == {
        "recent_buyers": "active",
        "engaged_recent_buyers": "active",
        "abandoned_cart": "active",
        "buyers_last_30_days": "draft",
    }
    assert selectors.member_audience_ids(person_id=ann.pk) == set(
        Audience.objects.filter(key__in=["recent_buyers", "engaged_recent_buyers"]).values_list(
            "pk", flat=True
        )
    )
    impact = selectors.impact(Audience.objects.get(key="buyers_last_30_days"))
    assert (impact["added"]["count"], impact["removed"]["count"]) == (0, 0)
    assert "audiences: 3 active audiences" in out.getvalue()
