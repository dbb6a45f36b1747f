"""p50/p95 and SQL query count of the dashboard, the council report and /api/v1/summary on a generated history.

    .venv/bin/python bench/summary_bench.py --url sqlite:////tmp/bench.db [--runs 30] [--label "SQLite 10k"]

Make the history first with bench/gen_history.py (same --url). The clock is pinned inside the last generated week,
so "this week" on the dashboard has data. Each URL is requested once to warm up, then --runs times through the
Flask test client (the whole request: routing, SQL, templates, JSON); queries are counted per request with a
before_cursor_execute listener.
"""
import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def main(argv=None):
    ap = argparse.ArgumentParser()
    ap.add_argument("--url", required=True)
    ap.add_argument("--runs", type=int, default=30)
    ap.add_argument("--label", default="")
    args = ap.parse_args(argv)
    os.environ.setdefault("TRACKER_INSTANCE_PATH", tempfile.mkdtemp(prefix="tracker-bench-"))

    from sqlalchemy import event, func, select

    from tracker import clock, create_app
    from tracker.extensions import db
    from tracker.models import Inspection, Site

    app = create_app({"SQLALCHEMY_DATABASE_URI": args.url, "SECRET_KEY": "bench", "WTF_CSRF_ENABLED": False})
    with app.app_context():
        first = db.session.scalar(select(func.min(Inspection.week)))
        last = db.session.scalar(select(func.max(Inspection.week)))
        n_sites = db.session.scalar(select(func.count()).select_from(Site))
        n_insp = db.session.scalar(select(func.count()).select_from(Inspection))
        engine = db.engine
    clock.set_now(clock.week_start_utc(last) + __import__("datetime").timedelta(days=2, hours=3))
    counter = [0]

    def bump(*_a, **_k):
        counter[0] += 1
    event.listen(engine, "before_cursor_execute", bump)

    client = app.test_client()
    resp = client.post("/login", data={"email": "lead@bench.test", "password": "bench-password-1"})
    assert resp.status_code == 302, resp.get_data(as_text=True)[:500]
    w14 = clock.add_weeks(first, 13)
    urls = [
        ("dashboard, this week", "/dashboard"),
        (f"dashboard, {first}..{last} (52 w)", f"/dashboard?from={first}&to={last}"),
        ("dashboard, 52 w, one dong", f"/dashboard?from={first}&to={last}&dong=여의동"),
        (f"API summary {first}..{w14} (14 w)", f"/api/v1/summary?from={first}&to={w14}"),
        ("API summary, 52 w", f"/api/v1/summary?from={first}&to={last}"),
        ("council report, 52 w", f"/reports/council?from={first}&to={last}"),
        ("API summary, one week, coverage=1 (the e-mail's figures)", f"/api/v1/summary?from={last}&coverage=1"),
        ("API summary, 52 w, coverage=1", f"/api/v1/summary?from={first}&to={last}&coverage=1"),
    ]
    print(f"## {args.label or args.url}: {n_sites:,} sites, {n_insp:,} inspections ({first}..{last})\n")
    print("| page | p50 ms | p95 ms | max ms | SQL queries |")
    print("|---|---:|---:|---:|---:|")
    for name, url in urls:
        assert client.get(url).status_code == 200, url
        times, queries = [], set()
        for _ in range(args.runs):
            counter[0] = 0
            t = time.perf_counter()
            r = client.get(url)
            times.append((time.perf_counter() - t) * 1000)
            assert r.status_code == 200
            queries.add(counter[0])
        times.sort()
        p95 = times[min(len(times) - 1, int(round(0.95 * (len(times) - 1))))]
        print(f"| {name} | {statistics.median(times):.0f} | {p95:.0f} | {times[-1]:.0f} | "
              f"{'/'.join(str(q) for q in sorted(queries))} |")
    print()


if __name__ == "__main__":
    main()
