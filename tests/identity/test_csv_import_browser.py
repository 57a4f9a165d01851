"""The import in a real Chromium: upload → mapping → preview → run → report."""

import pytest

from identity.models import Identity
from tests.browser import chromium_page, login, pytestmark  # noqa: F401  (skip marks)


@pytest.fixture
def page(live_server):
    with chromium_page(width=1280, height=900) as opened:
        yield opened


@pytest.mark.django_db(transaction=True)
def test_upload_map_preview_run_report(page, live_server, admin_user, settings, tmp_path):
    from playwright.sync_api import expect

    settings.ATTUNE_IMPORT_DIR = tmp_path / "imports"
    csv_file = tmp_path / "crm.csv"
    csv_file.write_bytes(
        "Email;Vorname;Stadt;Stufe\nrene@example.com;René;Köln;gold\nkaputt;X;Y;Z\n".encode("latin-1")
    )
    login(page, live_server, admin_user, "/admin/people/import/")
    # when the file is uploaded and its columns mapped
    page.set_input_files("input[type=file]", str(csv_file))
    page.click("text=Upload and map columns")
    expect(page.locator("[data-mapping]")).to_contain_text("René")  # Latin-1 read as such
    page.select_option("select[data-column='Vorname']", "attr:first_name")
    page.select_option("select[data-column='Stadt']", "attr:city")
    page.select_option("select[data-column='Stufe']", "new:text")
    page.click("button[value=preview]")
    # then the preview says what each row will do, within the page width
    expect(page.locator("[data-row='2']")).to_contain_text("city: (empty) → Köln")
    expect(page.locator("[data-row='3']")).to_contain_text("is not an email address")
    assert page.evaluate("document.documentElement.scrollWidth") <= 1280
    # when run, the report counts and offers the rejected rows
    page.click("[data-start]")
    expect(page.locator("[data-status]")).to_have_text("succeeded")
    expect(page.locator("[data-report] tr", has_text="Profiles created")).to_contain_text("1")
    expect(page.locator("[data-report] tr", has_text="Rows rejected")).to_contain_text("1")
    expect(page.locator("[data-rejects]")).to_be_visible()
    person = Identity.objects.get(type__key="email", value="rene@example.com").person
    assert person.city == "Köln" and person.custom == {"stufe": "gold"}
