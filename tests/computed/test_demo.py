import io

from computed import demo
from computed.models import ComputedAttribute


def test_demo_hook_is_idempotent(make_person, make_event):
    # given some orders
    person = make_person()
    make_event(person, "Order Completed", properties={"amount": 10, "category": "Shoes", "product": "A"})
    # when the demo hook runs twice
    demo.load(io.StringIO())
    out = io.StringIO()
    demo.load(out)
    # then everything is active once
    assert ComputedAttribute.objects.exclude(state="active").count() == 0
    assert ComputedAttribute.objects.filter(key="engagement_score").count() == 1
    assert "active computed attributes" in out.getvalue()
