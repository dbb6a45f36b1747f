"""Time to a usable inspection form in Debian's Chromium at phone size, against gunicorn (gunicorn.conf.py).

"Usable" is the moment the form's script has run (performance mark "insp-ready"): every control is on screen,
answers are restored and the offline queue is armed; measured from the start of the navigation to the form's own
URL (the one /s/<token> redirects to). Network: WebPageTest's "slow 3G" (400 ms RTT, 400 kbit/s both ways),
emulated by Chromium (CDP).
- cold: cache empty, no service worker (target 1.2 s);
- repeat: the same phone opens the form again, its service worker warm (target 300 ms);
- offline: the network is off, and the form was opened before (target 300 ms).
Usage: .venv/bin/python bench/form_ttu.py [runs]
"""
import statistics
import sys

from inspect_common import log_in_page, served

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run"]
SLOW_3G = {"offline": False, "latency": 400, "downloadThroughput": 400_000 / 8, "uploadThroughput": 400_000 / 8}
TARGETS = {"cold": 1200, "repeat": 300, "offline": 300}
READY = "() => performance.getEntriesByName('insp-ready').length > 0"


def ready_ms(page) -> float:
    page.wait_for_function(READY)
    return page.evaluate("() => performance.getEntriesByName('insp-ready')[0].startTime")


def phone(browser, base, **opts):
    ctx = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True, **opts)
    page = ctx.new_page()
    log_in_page(page, base)
    return ctx, page


def throttle(ctx, page, offline=False, cache=True):
    cdp = ctx.new_cdp_session(page)
    cdp.send("Network.enable")
    cdp.send("Network.setCacheDisabled", {"cacheDisabled": not cache})
    cdp.send("Network.emulateNetworkConditions", {**SLOW_3G, "offline": offline})
    return cdp


def once(browser, base, form_url, outside):
    """(cold, repeat, offline) milliseconds for one phone."""
    ctx, page = phone(browser, base, service_workers="block")
    page.on("request", lambda r: outside.append(r.url) if not r.url.startswith(base) else None)
    throttle(ctx, page, cache=False)
    page.goto(form_url, wait_until="load")
    cold = ready_ms(page)
    ctx.close()

    ctx, page = phone(browser, base)  # /inspect registers the service worker
    page.wait_for_function("() => navigator.serviceWorker.controller !== null")
    page.goto(form_url, wait_until="load")  # opened once, online: the worker keeps it
    page.wait_for_function("""async () => (await caches.open('tracker-pages')).keys()
        .then(ks => ks.some(r => r.url.includes('/inspect/sites/')))""")
    page.goto("about:blank")
    throttle(ctx, page)
    page.goto(form_url, wait_until="load")
    repeat = ready_ms(page)
    page.goto("about:blank")
    ctx.set_offline(True)
    page.goto(form_url, wait_until="load")
    offline = ready_ms(page)
    ctx.close()
    return cold, repeat, offline


def main() -> int:
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 5
    from playwright.sync_api import sync_playwright
    outside: list[str] = []
    with served() as (base, site_id, _token), sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        form_url = f"{base}/inspect/sites/{site_id}?mode=onsite"
        results = [once(browser, base, form_url, outside) for _ in range(runs)]
        browser.close()
    ok = not outside
    for i, name in enumerate(("cold", "repeat", "offline")):
        values = [r[i] for r in results]
        median = statistics.median(values)
        ok = ok and median <= TARGETS[name]
        print(f"{name:8} usable median {median:5.0f} ms [{', '.join(f'{v:.0f}' for v in values)}]  "
              f"target <= {TARGETS[name]} ms -> {'OK' if median <= TARGETS[name] else 'MISSED'}")
    print(f"requests outside the app: {len(set(outside))}")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
