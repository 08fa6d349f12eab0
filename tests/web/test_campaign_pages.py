"""Head office's campaign pages: the list, the form with its live (HTMX) preview, the launch, the progress.

The team (tests/associates/staff.py): Ana (associate, Paris), Max (store manager, Paris), Ada (head
office). Paris clients who like camel: Alicia and Bruno (email consent) and Chloé (no consent).
"""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient

from tests.web.conftest import form_token, signed_in
from tests.web.shop import client

ANA, MAX, ADA = "ana@maison.example", "max@maison.example", "ada@maison.example"
HTMX = {"HX-Request": "true", "HX-Target": "campaign-preview"}
FORM = {
    "name": "Camel week",
    "message": "Hello {first_name}, the camel coats are in. {associate_name}",
    "channel": "",
    "due_in_days": "3",
    "expires_in_days": "14",
    "stores": "PAR",
    "preferences": "colours: camel",
    "currency": "EUR",
    "period_days": "365",
}


@pytest.fixture
def clients(db, staffed) -> dict[str, int]:
    camel = {"home_store": "PAR", "associate": ANA, "preferences": {"colours": ["camel"]}}
    email = [{"channel": "email", "granted": True}]
    return {
        "alicia": client(db, "alicia", "Alicia", "Moreau", consent=email, **camel),
        "bruno": client(db, "bruno", "Bruno", "Petit", consent=email, **camel),
        "chloe": client(db, "chloe", "Chloé", "Martin", **camel),
        "dan": client(db, "dan", "Dan", "Brown", consent=email, home_store="NYC"),
    }


def count(html: str, name: str) -> int:
    found = re.search(rf'data-count="{name}">([\d,]+)<', html)
    assert found, f"no {name} count in:\n{html[:3000]}"
    return int(found.group(1).replace(",", ""))


def saved(browser: TestClient, **changes: str) -> int:
    """Ada fills in the form and saves the draft; returns its id."""
    page = browser.get("/campaigns/new")
    response = browser.post("/campaigns", data={**FORM, **changes, "csrf_token": form_token(page)})
    assert response.status_code == 303, response.text
    return int(response.headers["location"].rsplit("/", 1)[1])


def test_head_office_sees_the_list_with_a_way_to_start_one(browser, clients) -> None:
    signed_in(browser, ADA)
    page = browser.get("/campaigns")
    assert page.status_code == 200
    assert 'href="/campaigns/new"' in page.text and "No campaigns yet." in page.text
    assert 'href="/static/campaigns.css?v=' in page.text
    assert 'href="/campaigns"' in browser.get("/").text  # the way in, from every page


def test_a_store_manager_sees_campaigns_but_cannot_start_one(browser, clients) -> None:
    signed_in(browser, ADA)
    cid = saved(browser)
    browser.post("/logout", data={"csrf_token": form_token(browser.get("/"))})
    token = signed_in(browser, MAX)
    page = browser.get("/campaigns")
    assert page.status_code == 200 and "Camel week" in page.text and 'href="/campaigns/new"' not in page.text
    assert browser.get("/campaigns/new").status_code == 403
    campaign = browser.get(f"/campaigns/{cid}")
    assert campaign.status_code == 200 and "Launch…" not in campaign.text
    refused = browser.post(f"/campaigns/{cid}/launch", data={"csrf_token": token})
    assert refused.status_code == 403


def test_an_associate_does_not_reach_the_campaign_pages(browser, clients) -> None:
    signed_in(browser, ANA)
    assert browser.get("/campaigns").status_code == 403
    assert 'href="/campaigns"' not in browser.get("/").text


def test_the_form_offers_the_brands_stores_and_protects_itself(browser, clients) -> None:
    signed_in(browser, ADA)
    page = browser.get("/campaigns/new")
    assert page.status_code == 200
    assert 'name="stores" value="PAR"' in page.text and "Paris Saint-Honoré" in page.text
    assert 'hx-get="/campaigns/preview"' in page.text and 'hx-params="not csrf_token"' in page.text
    assert "{first_name}" in page.text
    refused = browser.post("/campaigns", data=FORM)  # no CSRF token
    assert refused.status_code == 403


def test_the_live_preview_counts_change_as_the_filters_do(browser, clients) -> None:
    signed_in(browser, ADA)
    camel = browser.get("/campaigns/preview", params=FORM, headers=HTMX)
    assert camel.status_code == 200 and "<html" not in camel.text  # a fragment for HTMX to swap in
    assert (count(camel.text, "matching"), count(camel.text, "tasks"), count(camel.text, "associates")) == (3, 2, 1)
    assert "No consent" in camel.text and "Hello Alicia, the camel coats are in. Ana Duval" in camel.text
    everyone = browser.get("/campaigns/preview", params={**FORM, "stores": "", "preferences": ""}, headers=HTMX)
    assert count(everyone.text, "matching") == 4
    by_sms = browser.get("/campaigns/preview", params={**FORM, "channel": "sms"}, headers=HTMX)
    assert (count(by_sms.text, "matching"), count(by_sms.text, "tasks")) == (0, 0)
    assert "3 more clients match but did not consent" in by_sms.text


def test_the_live_preview_names_a_bad_filter_instead_of_counting(browser, clients) -> None:
    signed_in(browser, ADA)
    bad = browser.get("/campaigns/preview", params={**FORM, "min_spend": "lots"}, headers=HTMX)
    assert bad.status_code == 200
    assert 'role="alert"' in bad.text and "Spent at least:" in bad.text
    assert 'data-count="matching"' not in bad.text


def test_the_live_preview_counts_before_the_message_is_written(browser, clients) -> None:
    signed_in(browser, ADA)
    half_done = browser.get("/campaigns/preview", params={**FORM, "name": "", "message": "Hello {first"}, headers=HTMX)
    assert count(half_done.text, "tasks") == 2


def test_a_bad_form_comes_back_with_what_to_fix_and_what_was_typed(browser, clients) -> None:
    signed_in(browser, ADA)
    token = form_token(browser.get("/campaigns/new"))
    page = browser.post("/campaigns", data={**FORM, "message": "Hi {nickname}", "countries": "France",
                                            "csrf_token": token})  # fmt: skip
    assert page.status_code == 422
    assert "Message: unknown field {nickname}" in page.text
    assert "Countries: " in page.text
    assert 'value="Camel week"' in page.text and "Hi {nickname}</textarea>" in page.text


def test_a_saved_draft_shows_its_filters_and_loads_its_preview(browser, clients) -> None:
    signed_in(browser, ADA)
    cid = saved(browser)
    page = browser.get(f"/campaigns/{cid}")
    assert page.status_code == 200
    assert "Home store PAR" in page.text and "Preference colours: camel" in page.text
    assert f'hx-get="/campaigns/{cid}/preview" hx-trigger="load"' in page.text
    fragment = browser.get(f"/campaigns/{cid}/preview", headers=HTMX)
    assert count(fragment.text, "tasks") == 2


def test_launching_shows_the_counts_first_then_raises_exactly_those_tasks(browser, clients) -> None:
    signed_in(browser, ADA)
    cid = saved(browser)
    confirm = browser.get(f"/campaigns/{cid}/launch")
    assert confirm.status_code == 200
    assert (count(confirm.text, "tasks"), count(confirm.text, "associates")) == (2, 1)
    assert "Left out: no consent" in confirm.text
    done = browser.post(f"/campaigns/{cid}/launch", data={"csrf_token": form_token(confirm)})
    assert done.status_code == 303 and done.headers["location"] == f"/campaigns/{cid}?launched=2"
    page = browser.get(done.headers["location"])
    assert "Launched: 2 tasks raised" in page.text
    assert "<strong>0</strong> of 2 tasks done" in page.text and count(page.text, "open") == 2
    assert "Cancel the campaign" in page.text
    again = browser.post(f"/campaigns/{cid}/launch", data={"csrf_token": form_token(page)})
    assert again.status_code == 409


def test_cancelling_a_launched_campaign_closes_its_open_tasks(browser, clients) -> None:
    signed_in(browser, ADA)
    cid = saved(browser)
    token = form_token(browser.get(f"/campaigns/{cid}/launch"))
    browser.post(f"/campaigns/{cid}/launch", data={"csrf_token": token})
    done = browser.post(f"/campaigns/{cid}/cancel", data={"csrf_token": token})
    assert done.headers["location"] == f"/campaigns/{cid}?closed=2"
    page = browser.get(done.headers["location"])
    assert "Cancelled: 2 open tasks closed." in page.text and count(page.text, "dismissed") == 2


def test_a_draft_is_edited_in_the_same_form(browser, clients) -> None:
    signed_in(browser, ADA)
    cid = saved(browser)
    form = browser.get(f"/campaigns/{cid}/edit")
    assert form.status_code == 200
    assert 'value="PAR" checked' in form.text and "colours: camel</textarea>" in form.text
    done = browser.post(f"/campaigns/{cid}", data={**FORM, "name": "Camel fortnight", "tags_any": "vip",
                                                    "csrf_token": form_token(form)})  # fmt: skip
    assert done.status_code == 303
    page = browser.get(f"/campaigns/{cid}")
    assert "Camel fortnight" in page.text and "Tagged vip" in page.text


def test_the_list_shows_each_campaigns_progress(browser, clients) -> None:
    signed_in(browser, ADA)
    cid = saved(browser)
    token = form_token(browser.get(f"/campaigns/{cid}/launch"))
    browser.post(f"/campaigns/{cid}/launch", data={"csrf_token": token})
    saved(browser, name="Draft for later")
    page = browser.get("/campaigns")
    assert "2 tasks · 0 done (0%) · 2 open" in page.text
    assert page.text.index("Draft for later") < page.text.index("Camel week")
