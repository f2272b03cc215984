"""A message's media in the emulator, over real HTTP: the advertised ``subresource_uris.media`` link works."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from airflow_provider_signalwire.testing import SignalWireEmulator

OWNED = "+15550000001"
CUSTOMER = "+15557654321"
PICTURES = ["https://example.com/a.png", "https://example.com/photos/b.JPG?size=large", "https://example.com/c"]
LIST_KEYS = {"uri", "first_page_uri", "next_page_uri", "previous_page_uri", "page", "page_size", "media_list"}
MEDIA_KEYS = {"account_sid", "content_type", "date_created", "date_updated", "parent_sid", "sid", "uri"}


@pytest.fixture
def session(signalwire_emulator: SignalWireEmulator) -> Iterator[requests.Session]:
    with requests.Session() as client:
        client.auth = (signalwire_emulator.project_id, signalwire_emulator.api_token)
        yield client


def follow(emulator: SignalWireEmulator, session: requests.Session, uri: str, **params: Any) -> requests.Response:
    return session.get(emulator.base_url + uri, params=params, timeout=10)


def send_mms(emulator: SignalWireEmulator, session: requests.Session, **form: Any) -> dict[str, Any]:
    url = f"{emulator.base_url}/api/laml/2010-04-01/Accounts/{emulator.project_id}/Messages.json"
    response = session.post(url, data={"To": CUSTOMER, "From": OWNED, **form}, timeout=10)
    assert response.status_code == 201, response.text
    return response.json()


def test_outbound_media_are_listed_in_the_order_given_at_the_advertised_link(signalwire_emulator, session) -> None:
    message = send_mms(signalwire_emulator, session, MediaUrl=PICTURES)
    listing = follow(signalwire_emulator, session, message["subresource_uris"]["media"])
    assert listing.status_code == 200
    page = listing.json()
    assert set(page) == LIST_KEYS and (page["page"], page["page_size"], page["next_page_uri"]) == (0, 50, None)
    media = page["media_list"]
    assert all(set(item) == MEDIA_KEYS for item in media)
    assert [item["content_type"] for item in media] == ["image/png", "image/jpeg", "application/octet-stream"]
    assert {item["parent_sid"] for item in media} == {message["sid"]}
    assert all(item["account_sid"] == signalwire_emulator.project_id for item in media)
    assert media[0]["date_created"] == message["date_created"]
    assert len({item["sid"] for item in media}) == 3 and all(uuid.UUID(item["sid"]) for item in media)


def test_media_uri_answers_the_item_and_without_json_its_content(signalwire_emulator, session) -> None:
    message = send_mms(signalwire_emulator, session, MediaUrl=PICTURES[:1], Body="look")
    (item,) = follow(signalwire_emulator, session, message["subresource_uris"]["media"]).json()["media_list"]
    assert item["uri"].endswith(f"/Messages/{message['sid']}/Media/{item['sid']}.json")
    assert follow(signalwire_emulator, session, item["uri"]).json() == item
    content = follow(signalwire_emulator, session, item["uri"].removesuffix(".json"))
    assert content.status_code == 200
    assert content.headers["Content-Type"] == "image/png" and 0 < len(content.content) < 1024
    anonymous = requests.get(signalwire_emulator.base_url + item["uri"].removesuffix(".json"), timeout=10)
    assert anonymous.status_code == 401


def test_inbound_mms_gets_media_items_and_a_text_message_none(signalwire_emulator, session) -> None:
    mms = signalwire_emulator.inject_inbound_message(CUSTOMER, OWNED, media_urls=PICTURES[:2])
    text = signalwire_emulator.inject_inbound_message(CUSTOMER, OWNED, body="no pictures")
    media = follow(signalwire_emulator, session, mms["subresource_uris"]["media"]).json()["media_list"]
    assert mms["num_media"] == len(media) == 2 and media[0]["parent_sid"] == mms["sid"]
    assert follow(signalwire_emulator, session, text["subresource_uris"]["media"]).json()["media_list"] == []


def test_send_as_mms_without_media_urls_has_no_media(signalwire_emulator, session) -> None:
    message = send_mms(signalwire_emulator, session, Body="forced", SendAsMms="true")
    assert follow(signalwire_emulator, session, message["subresource_uris"]["media"]).json()["media_list"] == []


def test_media_pages_follow_next_and_previous_page_uris(signalwire_emulator, session) -> None:
    message = send_mms(signalwire_emulator, session, MediaUrl=PICTURES)
    first = follow(signalwire_emulator, session, message["subresource_uris"]["media"], PageSize=2).json()
    assert parse_qs(urlsplit(first["next_page_uri"]).query)["PageToken"][0].startswith("PA")
    second = follow(signalwire_emulator, session, first["next_page_uri"]).json()
    assert (second["page"], second["next_page_uri"]) == (1, None)
    listed = [m["content_type"] for m in first["media_list"] + second["media_list"]]
    assert listed == ["image/png", "image/jpeg", "application/octet-stream"]
    back = follow(signalwire_emulator, session, second["previous_page_uri"]).json()
    assert back["media_list"] == first["media_list"]


def test_deleting_a_media_item_removes_it_from_the_list(signalwire_emulator, session) -> None:
    message = send_mms(signalwire_emulator, session, MediaUrl=PICTURES[:2])
    media_link = message["subresource_uris"]["media"]
    doomed, kept = follow(signalwire_emulator, session, media_link).json()["media_list"]
    deleted = session.delete(signalwire_emulator.base_url + doomed["uri"], timeout=10)
    assert deleted.status_code == 204 and deleted.content == b""
    assert follow(signalwire_emulator, session, media_link).json()["media_list"] == [kept]
    assert follow(signalwire_emulator, session, doomed["uri"]).json()["code"] == 20404


def test_media_of_an_unknown_message_or_item_is_20404(signalwire_emulator, session) -> None:
    message = send_mms(signalwire_emulator, session, MediaUrl=PICTURES[:1])
    account = f"/api/laml/2010-04-01/Accounts/{signalwire_emulator.project_id}"
    for uri in (
        f"{account}/Messages/{uuid.uuid4()}/Media.json",
        f"{account}/Messages/{message['sid']}/Media/{uuid.uuid4()}.json",
        f"{account}/Messages/{message['sid']}/Media/{uuid.uuid4()}",
    ):
        missing = follow(signalwire_emulator, session, uri)
        assert (missing.status_code, missing.json()["code"], missing.json()["status"]) == (404, 20404, 404)


def test_media_date_created_filter_uses_utc_days(signalwire_emulator, session) -> None:
    message = send_mms(signalwire_emulator, session, MediaUrl=PICTURES[:1])
    link = message["subresource_uris"]["media"]
    assert len(follow(signalwire_emulator, session, link, **{"DateCreated>": "2000-01-01"}).json()["media_list"]) == 1
    assert follow(signalwire_emulator, session, link, DateCreated="2000-01-01").json()["media_list"] == []
    bad = follow(signalwire_emulator, session, link, DateCreated="yesterday")
    assert (bad.status_code, bad.json()["code"]) == (422, 10000)
