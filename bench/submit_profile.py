"""In-process cost of one inspection submit against /healthz, through the Flask test client (no HTTP, no network).

Seeds the demo's 73 sites on a throw-away database, then POSTs N phone checks to /api/v1/inspections with a bearer
token, and GETs /healthz N times. Prints ms per request for both and the ratio; with --profile, the top functions
by cumulative time (cProfile).

Usage: .venv/bin/python bench/submit_profile.py [-n 300] [--url postgresql+psycopg://…] [--profile]
"""
import argparse
import cProfile
import io
import os
import pstats
import time
import uuid

from inspect_common import bench_app


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("-n", type=int, default=300)
    ap.add_argument("--url", help="PostgreSQL base URL (a database is made beside it); default SQLite")
    ap.add_argument("--profile", action="store_true")
    args = ap.parse_args()
    with bench_app(args.url) as (app, _site, user):
        from tracker.extensions import db
        from tracker.models import Site
        from tracker.services import accounts, checklist, demo
        demo.seed(out=lambda *a, **k: None)
        token = accounts.create_token(user)
        db.session.commit()
        keys = [i.key for i in checklist.current().items if i.applies_to("phone")]
        site_ids = db.session.scalars(db.select(Site.id)).all()
        headers = {"Authorization": f"Bearer {token}"}
        client = app.test_client()

        def submit(k):
            body = {"site_id": site_ids[k % len(site_ids)], "mode": "phone", "client_uuid": str(uuid.uuid4()),
                    "contact_name": "담당", "answers": {key: {"value": "no" if (k + j) % 37 == 0 else "yes",
                                                              "note": ""} for j, key in enumerate(keys)}}
            r = client.post("/api/v1/inspections", json=body, headers=headers)
            assert r.status_code == 201, r.get_data(as_text=True)

        for k in range(20):  # warm-up: statement caches, template, first-week tasks
            submit(k)
        prof = cProfile.Profile() if args.profile else None
        t = time.perf_counter()
        if prof:
            prof.enable()
        for k in range(20, 20 + args.n):
            submit(k)
        if prof:
            prof.disable()
        per_submit = (time.perf_counter() - t) / args.n
        t = time.perf_counter()
        for _ in range(args.n):
            client.get("/healthz")
        per_health = (time.perf_counter() - t) / args.n
        print(f"engine {db.engine.dialect.name}, {len(keys)} answers a submit, {args.n} of each")
        print(f"POST /api/v1/inspections  {1000 * per_submit:7.2f} ms")
        print(f"GET  /healthz             {1000 * per_health:7.2f} ms")
        print(f"ratio (healthz time / submit time) {per_health / per_submit:.1%}")
        if prof:
            out = io.StringIO()
            stats = pstats.Stats(prof, stream=out).sort_stats(os.environ.get("SORT", "cumulative"))
            stats.print_stats(int(os.environ.get("TOP", "25")))
            print(out.getvalue())


if __name__ == "__main__":
    main()
