"""The largest inspections export (CSV and XLSX) over a long history: time, size and the worker's peak memory.

    .venv/bin/python bench/gen_history.py --url sqlite:////tmp/exp160.db --sites 300 --weeks 160
    .venv/bin/python bench/export_bench.py --url sqlite:////tmp/exp160.db --from 2020-W11 --to 2023-W14

It logs in as a lead through the real login form and downloads each export through the app (the Flask test client,
no server: the figures are the app's own work, which is what runs into gunicorn's 60 s timeout). Peak memory is the
process's resident high-water mark (ru_maxrss) before and after each download, so run one format per process
(--fmt) to read that export's own peak.
"""
import argparse
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--url", required=True)
    ap.add_argument("--from", dest="first", default="2020-W11")
    ap.add_argument("--to", dest="last", default="2023-W14")
    ap.add_argument("--fmt", choices=["csv", "xlsx", "both"], default="both")
    args = ap.parse_args()
    os.environ.setdefault("TRACKER_INSTANCE_PATH", tempfile.mkdtemp(prefix="export-bench-"))
    from tracker import create_app
    from tracker.extensions import db
    from tracker.services import accounts
    app = create_app({"SQLALCHEMY_DATABASE_URI": args.url, "WTF_CSRF_ENABLED": False})
    with app.app_context():
        email = "export-bench@example.test"
        if accounts.find_user(email) is None:
            accounts.create_user(email, "Bench", "lead", "bench-password-1")
            db.session.commit()
    client = app.test_client()
    assert client.post("/login", data={"email": email, "password": "bench-password-1"}).status_code == 302
    for fmt in (["csv", "xlsx"] if args.fmt == "both" else [args.fmt]):
        before = rss_mb()
        t0 = time.perf_counter()
        resp = client.get(f"/dashboard/export/inspections.{fmt}?from={args.first}&to={args.last}&reason=bench",
                          buffered=False)
        size, first_byte = 0, None
        for chunk in resp.response:
            first_byte = first_byte or time.perf_counter() - t0
            size += len(chunk)
        resp.close()
        total = time.perf_counter() - t0
        print(f"{fmt}: status {resp.status_code}, {size / 1e6:.1f} MB in {total:.1f} s "
              f"(first byte after {first_byte:.2f} s); peak RSS {before:.0f} → {rss_mb():.0f} MB")


if __name__ == "__main__":
    main()
