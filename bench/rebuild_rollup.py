"""Rebuild summary_week (and make sure the bench indexes exist) on an existing database: --url URL."""
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

if __name__ == "__main__":
    os.environ.setdefault("TRACKER_INSTANCE_PATH", tempfile.mkdtemp(prefix="tracker-bench-"))
    from tracker import create_app
    from tracker.extensions import db
    from tracker.services import rollup
    app = create_app({"SQLALCHEMY_DATABASE_URI": sys.argv[sys.argv.index("--url") + 1]})
    with app.app_context():
        t = time.perf_counter()
        db.create_all()  # adds tables missing from an older generated database; existing tables are kept
        with db.engine.begin() as conn:
            conn.exec_driver_sql("CREATE INDEX IF NOT EXISTS ix_inspection_mode_week_site "
                                 "ON inspection (mode, week, site_id)")
        n = rollup.rebuild()
        db.session.commit()
        # VACUUM too on PostgreSQL: index-only scans need the visibility map that autovacuum would set later.
        with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.exec_driver_sql("VACUUM ANALYZE" if conn.dialect.name == "postgresql" else "ANALYZE")
        print(f"rollup rebuilt: {n:,} rows in {time.perf_counter() - t:.1f}s")
