"""The identity-graph health charts, drawn by Chart.js in Chromium."""
# In tests/people, after the computed and identity tests: its transactional flush removes the
# migrations' rows (schedules) that those tests read, as the other browser tests here do.

import pytest
from django.core.cache import cache

from tests.browser import login, pytestmark  # noqa: F401  (skip marks)
from tests.identity.test_dashboard_health import add_identities


@pytest.mark.django_db(transaction=True)
def test_health_charts_render_with_data(page, live_server, admin_user, make_person):
    # given profiles with 1, 2 and 3 identifiers
    from identity.models import Merge
    from identity.policy import ensure_default_types

    ensure_default_types()
    one, two, three = (make_person(first_name=n) for n in ("One", "Two", "Three"))
    add_identities(one, ("user_id", "u1"))
    add_identities(two, ("user_id", "u2"), ("email", "two@example.com"))
    add_identities(three, ("user_id", "u3"), ("email", "three@example.com"), ("phone", "+4930123456"))
    Merge.objects.create(parent=one, child=two, reason="manual")
    cache.clear()
    login(page, live_server, admin_user)
    # when the dashboard has drawn its charts
    selector = "[data-section=identities-distribution] canvas, [data-section=merges-chart] canvas"
    page.wait_for_function(
        f"() => window.Chart && [...document.querySelectorAll('{selector}')].length == 2"
        f" && [...document.querySelectorAll('{selector}')].every(c => Chart.getChart(c))"
    )
    charts = page.evaluate(
        f"""() => [...document.querySelectorAll('{selector}')].map((canvas) => {{
            const chart = Chart.getChart(canvas);
            return {{
                labels: chart.data.labels.slice(0, 4),
                data: chart.data.datasets.map((d) => d.data.reduce((a, b) => a + b, 0)),
                x: chart.options.scales.x.title.text,
                height: canvas.getBoundingClientRect().height,
            }};
        }})"""
    )
    # then both are drawn with their data and titled axes
    distribution, merges = charts
    assert distribution["labels"] == ["1", "2", "3", "4"]
    assert distribution["data"] == [3]
    assert distribution["x"] == "Identifiers on the profile"
    assert merges["data"] == [1] and merges["x"] == "Day"
    assert distribution["height"] > 100 and merges["height"] > 100
