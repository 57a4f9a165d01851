"""The action admin pages that run JavaScript, in a real Chromium: the analysis charts and the editor
with the visual condition builder."""

import pytest

from actions.models import Action, Reaction
from tests.browser import login
from tests.browser import pytestmark as browser_marks

pytestmark = [pytest.mark.slow, *browser_marks]
CHARTS_DRAWN = "() => window.Chart && Chart.getChart('series-chart') && Chart.getChart('reach-chart')"


@pytest.fixture
def page(page, live_server, admin_user):
    """The shared page (tests/conftest.py), signed in as the Admin."""
    login(page, live_server, admin_user)
    return page


@pytest.mark.django_db(transaction=True)
def test_analysis_page_draws_its_charts(page, live_server, make_action, known):
    person = known("u1")
    action = make_action(name="Promo")
    Reaction.objects.bulk_create(
        [Reaction(action=action, person=person, channel="web", kind=k) for k in ["delivered"] * 3 + ["shown"]]
    )
    page.goto(f"{live_server.url}/admin/actions/action/{action.pk}/analysis/")
    page.wait_for_function(CHARTS_DRAWN)
    delivered = page.evaluate(
        "() => Chart.getChart('series-chart').data.datasets[0].data.reduce((a, b) => a + b, 0)"
    )
    assert delivered == 3
    assert page.inner_text("[data-count=delivered]") == "3"


@pytest.mark.django_db(transaction=True)
def test_editor_saves_trait_conditions_built_in_the_visual_builder(page, live_server, make_action):
    condition = {"attribute": "first_name", "op": "equals", "value": "Ada"}
    action = make_action(name="Promo", trait_conditions=condition)
    page.goto(f"{live_server.url}/admin/actions/action/{action.pk}/change/")
    # the builder shows the stored condition as picked fields, not JSON
    assert page.locator("[data-widget=context-conditions]").count() == 1
    page.wait_for_function(
        "() => [...document.querySelectorAll('select')].some((s) => s.value === 'first_name')"
    )
    page.fill("input[name=name]", "Promo 2")
    page.click("button[name=_save]")
    page.wait_for_url(f"{live_server.url}/admin/actions/action/")
    saved = Action.objects.get(pk=action.pk)
    assert saved.name == "Promo 2"
    assert saved.trait_conditions == condition
