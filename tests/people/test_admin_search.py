"""The person list's search box: part of an email, a phone number in national format, names; odd input
never breaks the page."""

import pytest
from django.urls import reverse

from people import selectors
from people.models import OrganizationSettings

pytestmark = pytest.mark.django_db

URL = "/admin/people/person/"


@pytest.fixture
def people(make_person):
    return {
        "ada": make_person(
            first_name="Ada", last_name="Lovelace", email="ada@analytical.org", phone="+4915479290201"
        ),
        "adam": make_person(
            first_name="Adam", last_name="Smith", email="adam@wealth.co.uk", phone="+14155550123"
        ),
        "grace": make_person(
            first_name="Grace", last_name="Hopper", email="grace@navy.mil", phone="+33612345678"
        ),
    }


def found(client, term: str) -> set[str]:
    response = client.get(URL, {"q": term})
    assert response.status_code == 200
    return {p.first_name for p in response.context["cl"].result_list}


@pytest.mark.parametrize(
    ("term", "expected"),
    [
        ("ada@", {"Ada"}),
        ("ADA@analytical", {"Ada"}),
        ("@wealth.co.uk", {"Adam"}),
        ("grace@navy.mil", {"Grace"}),
        ("01547 9290201", {"Ada"}),  # German national format
        ("(415) 555-0123", {"Adam"}),  # US national format
        ("06 12 34 56 78", {"Grace"}),  # French national format
        ("+33 6 12 34 56 78", {"Grace"}),
        ("0033 612 345 678", {"Grace"}),
        ("Ada", {"Ada", "Adam"}),
        ("ada love", {"Ada"}),
        ("hopper", {"Grace"}),
    ],
)
def test_search_finds_people_by_part_of_email_phone_formats_and_names(
    client, admin_user, people, term, expected
):
    # given
    client.force_login(admin_user)
    # when / then
    assert found(client, term) == expected


@pytest.mark.parametrize("term", ["%", "_", "@", "%@%", "+", "0" * 30, "(((", "x" * 2000, "😀@"])
def test_odd_search_terms_find_nothing_and_never_fail(client, admin_user, people, term):
    client.force_login(admin_user)
    assert found(client, term) == set()


def test_a_nul_character_in_the_search_box_does_not_break_the_page(client, admin_user, people):
    client.force_login(admin_user)
    assert client.get(URL, {"q": "a\x00b"}).status_code == 200
    assert selectors.person_search_q(term="ada\x00@") == selectors.person_search_q(term="ada@")


def test_national_numbers_are_read_in_the_organizations_region(db):
    # given an organization in Berlin
    OrganizationSettings.objects.update_or_create(
        pk=1, defaults={"name": "Acme", "timezone": "Europe/Berlin"}
    )
    from django.core.cache import cache

    cache.delete(selectors.ORGANIZATION_CACHE_KEY)
    # then
    assert selectors.organization_phone_region() == "DE"
    assert "+4915479290201" in str(selectors.person_search_q(term="01547 9290201"))


def test_the_search_box_says_what_it_finds(client, admin_user):
    client.force_login(admin_user)
    body = client.get(reverse("admin:people_person_changelist")).content.decode()
    assert "Name, part of an email, phone (any format), unified id or any identifier" in body
