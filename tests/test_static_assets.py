"""Static files under content-hashed names, compressed and cached for good; pages compressed; the service worker,
the web app manifest and its icons (issue 15)."""
import gzip
import json
import re

import brotli

from tracker import assets

BROTLI = {"Accept-Encoding": "gzip, deflate, br"}


def _static_refs(html: str) -> list[str]:
    return re.findall(r'(?:href|src)="(/static/[^"]+)"', html)


def test_pages_name_hashed_static_files_that_are_compressed_and_immutable(client, login):
    login("inspector")
    html = client.get("/inspect").get_data(as_text=True)
    refs = _static_refs(html)
    assert refs and all(re.search(r"\.[0-9a-f]{12}\.(css|js|svg|png)$", r) for r in refs), refs
    for ref in refs:
        resp = client.get(ref, headers=BROTLI)
        assert resp.status_code == 200, ref
        assert resp.headers["Cache-Control"] == "public, max-age=31536000, immutable", ref
        if ref.endswith(".png"):
            continue
        assert resp.headers["Content-Encoding"] == "br" and "Accept-Encoding" in resp.headers["Vary"], ref
        plain = client.get(ref)  # a client that takes no compression gets the same bytes, plain
        assert brotli.decompress(resp.data) == plain.data and "Content-Encoding" not in plain.headers
        gz = client.get(ref, headers={"Accept-Encoding": "gzip"})
        assert gz.headers["Content-Encoding"] == "gzip" and gzip.decompress(gz.data) == plain.data
    # The plain names are not served: a page can only get the file it was written with.
    assert client.get("/static/css/app.css").status_code == 404


def test_a_stylesheet_names_the_hashed_files_it_uses(client, login):
    login("inspector")
    html = client.get("/inspect").get_data(as_text=True)
    css_url = next(r for r in _static_refs(html) if "/css/app." in r)
    css = client.get(css_url).get_data(as_text=True)
    icon = re.search(r'url\("\.\./(img/camera\.[0-9a-f]{12}\.svg)"\)', css).group(1)
    assert client.get(f"/static/{icon}").status_code == 200


def test_pages_and_json_are_compressed_and_keep_their_security_headers(client, default_checklist, login,
                                                                       site_factory):
    login("inspector")
    site = site_factory()
    page = client.get(f"/inspect/sites/{site.id}", headers=BROTLI)
    assert page.headers["Content-Encoding"] == "br" and "Accept-Encoding" in page.headers["Vary"]
    assert "<form" in brotli.decompress(page.data).decode()
    csp = page.headers["Content-Security-Policy"]
    assert "default-src 'self'" in csp and "script-src 'self'" in csp and "img-src 'self' blob:" in csp
    assert page.headers["X-Frame-Options"] == "DENY"
    api = client.get("/api/v1/checklist", headers={"Accept-Encoding": "gzip"})
    assert api.headers["Content-Encoding"] == "gzip" and json.loads(gzip.decompress(api.data))["items"]


def test_the_service_worker_lists_the_hashed_shell_and_is_never_cached(client):
    resp = client.get("/sw.js")
    body = resp.get_data(as_text=True)
    assert resp.status_code == 200 and resp.mimetype == "text/javascript"
    assert resp.headers["Cache-Control"] == "no-cache" and resp.headers["Service-Worker-Allowed"] == "/"
    shell = json.loads(re.search(r"var SHELL = (\[.*?\]);", body).group(1))
    assert {re.sub(r"\.[0-9a-f]{12}\.", ".", u) for u in shell} >= {
        "/static/css/app.css", "/static/js/inspect.js", "/static/js/app.js", "/static/favicon.svg"}
    for url in shell:
        assert client.get(url).status_code == 200, url


def test_the_service_worker_changes_when_a_static_file_does(tmp_path):
    src = tmp_path / "static"
    (src / "css").mkdir(parents=True)
    (src / "css" / "a.css").write_text("body{color:red}")
    first = assets.build(src, tmp_path / "build")
    assert assets.ensure(src, tmp_path / "build") == first  # built once, then read
    (src / "css" / "a.css").write_text("body{color:blue}")
    second = assets.ensure(src, tmp_path / "build")
    assert second["digest"] != first["digest"] and second["files"]["css/a.css"] != first["files"]["css/a.css"]
    # The old file stays: a page kept from before still finds what it names.
    assert (tmp_path / "build" / "static" / first["files"]["css/a.css"]).read_text() == "body{color:red}"


def test_manifest_and_icons_put_tracker_on_a_home_screen(app, client, login):
    login("inspector")
    html = client.get("/inspect").get_data(as_text=True)
    href = re.search(r'<link rel="manifest" href="([^"]+)"', html).group(1)
    assert re.search(r'<link rel="icon" href="/static/favicon\.[0-9a-f]{12}\.svg"', html)
    client = app.test_client()  # the browser fetches the manifest without cookies
    resp = client.get(href)
    man = resp.get_json(force=True)
    assert resp.mimetype == "application/manifest+json"
    assert man["name"].endswith("콜센터 점검") and man["start_url"] == "/inspect" and man["display"] == "standalone"
    assert man["theme_color"] == "#0f2a44" and man["background_color"]
    sizes = {i["sizes"] for i in man["icons"] if i["type"] == "image/png"}
    assert sizes == {"192x192", "512x512"}
    from io import BytesIO

    from PIL import Image
    for icon in man["icons"]:
        got = client.get(icon["src"])
        assert got.status_code == 200, icon
        if icon["type"] == "image/png":
            w, h = Image.open(BytesIO(got.data)).size
            assert f"{w}x{h}" == icon["sizes"]
    english = client.get(href.replace("lang=ko", "lang=en")).get_json(force=True)
    assert english["short_name"] == "Call-centre inspections"
