"""Weight of the inspection form: gzipped bytes of the page's HTML and of every CSS and JS file it loads.

Target: at most 60 KB gzipped in all, and nothing fetched from outside the app.
Usage: .venv/bin/python bench/form_weight.py
"""
import gzip
import re
from urllib.parse import urlparse

from inspect_common import bench_app, login

TARGET = 60 * 1024


def main() -> int:
    with bench_app() as (app, site, _user):
        client = app.test_client()
        login(client)
        html = client.get(f"/s/{site.qr_token}").get_data()
        text = html.decode()
        assets = re.findall(r'<link[^>]+href="([^"]+)"', text) + re.findall(r'<script[^>]+src="([^"]+)"', text)
        # The service worker is fetched once, in the background, and is counted too.
        assets.append("/sw.js")
        outside = [a for a in assets + re.findall(r'(?:src|href|action)="(https?:[^"]+)"', text)
                   if urlparse(a).netloc]
        rows = [("form HTML (/s/<token>)", len(html), len(gzip.compress(html, 9)))]
        for a in assets:
            body = client.get(a).get_data()
            rows.append((a, len(body), len(gzip.compress(body, 9))))
        total_raw = sum(r[1] for r in rows)
        total_gz = sum(r[2] for r in rows)
        print(f"{'resource':44} {'bytes':>9} {'gzipped':>9}")
        for name, raw, gz in rows:
            print(f"{name:44} {raw:9,} {gz:9,}")
        print(f"{'total':44} {total_raw:9,} {total_gz:9,}")
        print(f"target: <= {TARGET:,} gzipped bytes -> {'OK' if total_gz <= TARGET else 'OVER'}")
        print(f"requests outside the app: {len(outside)} {outside if outside else ''}")
        return 0 if total_gz <= TARGET and not outside else 1


if __name__ == "__main__":
    raise SystemExit(main())
