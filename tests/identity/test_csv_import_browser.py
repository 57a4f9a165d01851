"""The import in a real Chromium: upload → mapping → preview → run → report."""

import os
import shutil

import pytest

from identity.models import Identity

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(
        CHROMIUM is None and not os.environ.get("ATTUNE_REQUIRE_BROWSER"),
        reason="Chromium is not installed (CI installs it and sets ATTUNE_REQUIRE_BROWSER=1)",
    ),
]
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")  # Playwright's sync API runs an event loop


@pytest.fixture
def page(live_server):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        yield page
        browser.close()


@pytest.mark.django_db(transaction=True)
def test_upload_map_preview_run_report(page, live_server, admin_user, settings, tmp_path):
    from playwright.sync_api import expect

    settings.ATTUNE_IMPORT_DIR = tmp_path / "imports"
    csv_file = tmp_path / "crm.csv"
    csv_file.write_bytes(
        "Email;Vorname;Stadt;Stufe\nrene@example.com;René;Köln;gold\nkaputt;X;Y;Z\n".encode("latin-1")
    )
    page.goto(f"{live_server.url}/admin/login/?next=/admin/people/import/")
    page.fill("input[name=username]", admin_user.username)
    page.fill("input[name=password]", "pw")
    page.click("button[type=submit]")
    page.wait_for_url("**/admin/people/import/")
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
