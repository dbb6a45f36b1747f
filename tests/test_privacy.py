"""The privacy page (개인정보 처리방침, issue 13): public, with the configured periods and the district's contact,
and linked from every page's footer in both languages."""


def test_privacy_page_is_public_and_shows_the_configured_periods(app, client):
    app.config.update(TRACKER_LOCATION_RETENTION_DAYS=45, TRACKER_PHOTO_RETENTION_DAYS=200,
                      TRACKER_CLOSED_SITE_CONTACT_DAYS=180, TRACKER_MAIL_BODY_RETENTION_DAYS=30,
                      TRACKER_ACCESS_LOG_DAYS=1095, TRACKER_PRIVACY_OFFICER="행정지원과장 홍길동",
                      TRACKER_PRIVACY_CONTACT="02-2670-3114, privacy@district.example")
    resp = client.get("/privacy")
    html = resp.get_data(as_text=True)
    assert resp.status_code == 200
    for kind, text in [("positions", "45일"), ("photos", "200일"), ("closed_site_contacts", "폐업 후 180일"),
                       ("mail_bodies", "보낸 뒤 30일"), ("access_log", "1095일")]:
        row = html.split(f'data-kind="{kind}"')[1].split("</tr>")[0]
        assert text in row, kind
    assert "행정지원과장 홍길동" in html and "privacy@district.example" in html


def test_privacy_page_in_english_with_its_defaults(client):
    html = client.get("/privacy?lang=en").get_data(as_text=True)
    assert "Privacy policy" in html and "90 days" in html
    assert "영등포구" in html or "Yeongdeungpo" in html  # the district names its own officer by default


def test_every_page_links_to_it_in_both_languages(client, login):
    assert 'href="/privacy">개인정보 처리방침</a></footer>' in client.get("/login").get_data(as_text=True)
    login("inspector")
    assert 'href="/privacy">개인정보 처리방침</a></footer>' in client.get("/inspect").get_data(as_text=True)
    assert 'href="/privacy">Privacy policy</a></footer>' in client.get("/inspect?lang=en").get_data(as_text=True)
