"""Bytes on the wire of the inspection form's first visit, in Debian's Chromium against gunicorn (gunicorn.conf.py).

A phone that has logged in and never opened a form scans a site's QR code: /s/<token> answers 303 to the form,
which loads its CSS, JS and icons. Counted: every response the page receives, headers included (CDP's
encodedDataLength), with the cache cold; the service worker's own install (its script and the shell files it
keeps, most of them already in the HTTP cache) is counted apart. Target: the page at most 25 KB.
Usage: .venv/bin/python bench/form_weight.py [runs]
"""
import statistics
import sys

from inspect_common import log_in_page, served

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run"]
TARGET = 25 * 1024


def visit(browser, base, token):
    """{path: (bytes, encoding)} of every response the page receives on one cold first visit."""
    ctx = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True,
                              service_workers="block")  # its install is counted apart (background)
    page = ctx.new_page()
    log_in_page(page, base)
    page.goto("about:blank")
    cdp = ctx.new_cdp_session(page)
    cdp.send("Network.enable")
    cdp.send("Network.clearBrowserCache")
    urls, rows, enc = {}, {}, {}

    def sent(e):
        r = e.get("redirectResponse")
        if r:  # the 303 of /s/<token>, reported with the request that follows it
            rows[r["url"].replace(base, "")] = (r["encodedDataLength"], r["headers"].get("Content-Encoding", ""))
        urls[e["requestId"]] = e["request"]["url"].replace(base, "")
    cdp.on("Network.requestWillBeSent", sent)
    cdp.on("Network.responseReceived",
           lambda e: enc.__setitem__(e["requestId"], e["response"]["headers"].get("Content-Encoding", "")))
    cdp.on("Network.loadingFinished",
           lambda e: rows.__setitem__(urls[e["requestId"]], (e["encodedDataLength"], enc.get(e["requestId"], ""))))
    page.goto(f"{base}/s/{token}", wait_until="load")
    page.wait_for_function("() => performance.getEntriesByName('insp-ready').length > 0")
    page.wait_for_timeout(500)
    ctx.close()
    return rows


def worker_install(base) -> list[tuple[str, int]]:
    """What the service worker's install fetches that the page did not: its script, an icon, the offline page."""
    import http.client
    import re
    from urllib.parse import urlsplit
    u = urlsplit(base)
    out = []
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=10)
    conn.request("GET", "/sw.js", headers={"Accept-Encoding": "gzip, deflate, br, zstd"})
    resp = conn.getresponse()
    body = resp.read()
    out.append(("/sw.js", len(body)))
    for path in re.findall(r'"(/static/img/icon-[^"]+|/offline)"', brotli_or_plain(resp, body)):
        conn.request("GET", path)
        out.append((path, len(conn.getresponse().read())))
    conn.close()
    return out


def brotli_or_plain(resp, body) -> str:
    enc = resp.getheader("Content-Encoding", "")
    if enc == "br":
        import brotli
        return brotli.decompress(body).decode()
    if enc == "zstd":
        from backports import zstd
        return zstd.decompress(body).decode()
    if enc == "gzip":
        import gzip
        return gzip.decompress(body).decode()
    return body.decode()


def main() -> int:
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 3
    from playwright.sync_api import sync_playwright
    totals = []
    with served() as (base, _site_id, token), sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        for n in range(runs):
            rows = visit(browser, base, token)
            total = sum(v[0] for v in rows.values())
            totals.append(total)
            if n == 0:
                print(f"{'resource (first visit, cold cache)':58} {'bytes':>7}  encoding")
                for u, (b, e) in sorted(rows.items(), key=lambda kv: -kv[1][0]):
                    print(f"{u[:58]:58} {b:7,}  {e}")
                print(f"{'page total, headers included':58} {total:7,}")
        browser.close()
        print("service worker install, in the background (bodies): "
              + ", ".join(f"{u} {b:,}" for u, b in worker_install(base)))
    median = statistics.median(totals)
    print(f"page bytes on the wire, median of {runs}: {median:,.0f} [{', '.join(f'{t:,}' for t in totals)}]; "
          f"target <= {TARGET:,} -> {'OK' if median <= TARGET else 'OVER'}")
    return 0 if median <= TARGET else 1


if __name__ == "__main__":
    raise SystemExit(main())
