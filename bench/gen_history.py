"""Make a large inspection history for the dashboard benches: N sites × W weeks of tasks, inspections and answers.

    .venv/bin/python bench/gen_history.py --url sqlite:////tmp/bench.db --sites 10000 --weeks 52
    .venv/bin/python bench/gen_history.py --url postgresql+psycopg://postgres@127.0.0.1:5432/tracker_bench ...

The database must be empty (a new SQLite file, or a new PostgreSQL database); the schema is made with create_all.
Rows go in with bulk inserts straight into the tables: COPY on PostgreSQL, executemany in big batches on SQLite,
one week at a time so that memory stays flat. The weekly rollup is then rebuilt once with INSERT … SELECT.
It does not touch tracker/services/demo.py or the seed-demo command.
"""
import argparse
import os
import random
import sys
import tempfile
import time
import uuid
from datetime import timedelta, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

ROUND = "weekly_monitoring"
DONGS = ["영등포동", "여의동", "당산1동", "당산2동", "문래동", "양평1동", "양평2동", "신길6동"]
DONG_WEIGHTS = [13, 22, 7, 5, 9, 8, 8, 1]  # the 2020 report's shares
HEADCOUNTS = [(8, 50, 29), (51, 100, 14), (101, 150, 4), (151, 200, 9), (201, 250, 2), (251, 300, 5),
              (301, 400, 3), (401, 700, 3), (701, 1500, 4)]


class Loader:
    """Bulk rows into a table: COPY on PostgreSQL, executemany on SQLite, on one raw DBAPI connection."""

    def __init__(self, engine):
        self.dialect = engine.dialect.name
        self.raw = engine.raw_connection()
        self.cur = self.raw.cursor()
        if self.dialect == "sqlite":
            self.cur.execute("PRAGMA synchronous=OFF")

    def put(self, table: str, cols: list[str], rows: list[tuple]) -> None:
        if not rows:
            return
        if self.dialect == "postgresql":
            with self.cur.copy(f'COPY "{table}" ({", ".join(cols)}) FROM STDIN') as cp:
                for r in rows:
                    cp.write_row(r)
        else:
            marks = ", ".join("?" * len(cols))
            self.cur.executemany(f'INSERT INTO "{table}" ({", ".join(cols)}) VALUES ({marks})',
                                 [tuple(self._lite(v) for v in r) for r in rows])

    @staticmethod
    def _lite(v):
        if hasattr(v, "hour"):  # datetime: naive UTC text, as UTCDateTime stores it on SQLite
            return v.astimezone(timezone.utc).replace(tzinfo=None).isoformat(" ", "microseconds")
        if hasattr(v, "isoformat"):
            return v.isoformat()
        return v

    def commit(self):
        self.raw.commit()

    def fix_sequences(self, tables):
        if self.dialect == "postgresql":
            for t in tables:
                self.cur.execute(f"SELECT setval(pg_get_serial_sequence('\"{t}\"', 'id'), "
                                 f"COALESCE((SELECT max(id) FROM \"{t}\"), 0) + 1, false)")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--url", required=True)
    ap.add_argument("--sites", type=int, default=1000)
    ap.add_argument("--weeks", type=int, default=52)
    ap.add_argument("--start", default="2020-W11")
    ap.add_argument("--seed", type=int, default=5)
    ap.add_argument("--use-existing-sites", action="store_true",
                    help="add history for the sites already registered (e.g. after seed-demo) instead of new ones")
    args = ap.parse_args(argv)
    os.environ.setdefault("TRACKER_INSTANCE_PATH", tempfile.mkdtemp(prefix="tracker-bench-"))

    from tracker import clock, create_app, district
    from tracker.extensions import db
    from tracker.services import accounts, checklist, rollup

    rnd = random.Random(args.seed)
    app = create_app({"SQLALCHEMY_DATABASE_URI": args.url, "SECRET_KEY": "bench"})
    t0 = time.perf_counter()
    with app.app_context():
        db.create_all()
        def user(email, name, role):
            return accounts.find_user(email) or accounts.create_user(email, name, role, "bench-password-1")
        lead = user("lead@bench.test", "팀장", "lead")
        inspectors = [user(f"insp{i}@bench.test", f"점검원{i}", "inspector") for i in range(10)]
        tpl = checklist.ensure_default()
        db.session.commit()
        items = [(i.key, i.critical, i.mode_list) for i in tpl.items]
        by_mode = {m: [(k, c) for k, c, modes in items if m in modes] for m in ("onsite", "phone")}
        d = district.current()
        insp_ids = [u.id for u in inspectors]
        tpl_id, lead_id = tpl.id, lead.id
        from sqlalchemy import func, select

        from tracker.models import Action, Answer, Incident, Inspection, Site, Task
        existing = db.session.execute(select(Site.id, Site.dong).where(Site.status == "active").order_by(Site.id)).all()
        top = {m.__tablename__: db.session.scalar(select(func.coalesce(func.max(m.id), 0)))
               for m in (Action, Answer, Incident, Inspection, Site, Task)}
        db.session.remove()

        load = Loader(db.engine)
        now = clock.now()
        # sites
        site_rows, quality = [], []
        bands = [b for b in HEADCOUNTS for _ in range(b[2])]
        site_ids = [sid for sid, _d in existing] if args.use_existing_sites else \
            list(range(top["site"] + 1, top["site"] + args.sites + 1))
        for sid in site_ids:
            quality.append(rnd.uniform(0.01, 0.15))  # this site's chance of a "no"
            if args.use_existing_sites:
                continue
            dong = rnd.choices(DONGS, DONG_WEIGHTS)[0]
            lo, hi, _n = rnd.choice(bands)
            hc = rnd.randint(lo, hi)
            business_no = f"{sid // 100000 + 100:03d}-{sid // 1000 % 100:02d}-{sid % 100000:05d}"
            site_rows.append((sid, f"벤치센터{sid:05d}", business_no,
                              dong, "", hc, d.band_for(hc), "", "", "active", uuid.uuid4().hex, now, now))
        load.put("site", ["id", "name", "business_no", "dong", "address", "headcount", "size_band", "manager_name",
                          "manager_phone", "status", "qr_token", "created_at", "updated_at"], site_rows)

        weeks = [clock.add_weeks(args.start, i) for i in range(args.weeks)]
        insp_id, ans_id, task_id, act_id = top["inspection"], top["answer"], top["task"], top["action"]
        n_ans = 0
        for wi, week in enumerate(weeks):
            last = wi == len(weeks) - 1
            start = clock.week_start_utc(week)
            due = start + timedelta(days=4, hours=9)
            insp_rows, ans_rows, task_rows, act_rows = [], [], [], []
            for si, sid in enumerate(site_ids):
                task_id += 1
                r = rnd.random()
                status = ("open" if r < 0.5 else "done") if last else ("missed" if r < 0.06 else "done")
                inspector = insp_ids[sid % len(insp_ids)]
                done_id = None
                if status == "done":
                    insp_id += 1
                    done_id = insp_id
                    mode = "onsite" if rnd.random() < 0.15 else "phone"
                    at = start + timedelta(days=rnd.randint(0, 4), hours=rnd.randint(0, 8), minutes=rnd.randint(0, 59))
                    y = n = na = crit = 0
                    q = quality[si]
                    for key, critical in by_mode[mode]:
                        v = rnd.random()
                        val = "no" if v < q else "na" if v < q + 0.04 else "yes"
                        ans_id += 1
                        ans_rows.append((ans_id, insp_id, key, val, ""))
                        if val == "yes":
                            y += 1
                        elif val == "no":
                            n += 1
                            crit += critical
                            if rnd.random() < 0.05:
                                act_id += 1
                                st = rnd.choice(("open", "escalated", "cleared", "cleared"))
                                act_rows.append((act_id, sid, key, insp_id, st, bool(critical), "", at,
                                                 at + timedelta(days=3 if critical else 7),
                                                 at + timedelta(days=2) if st == "cleared" else None))
                        else:
                            na += 1
                    insp_rows.append((insp_id, str(uuid.UUID(int=insp_id)), sid, tpl_id, inspector, mode, week, at,
                                      "담당자" if mode == "phone" else "", "", y, n, na, crit, crit == 0))
                task_rows.append((task_id, sid, week, ROUND, 0, "any", due, inspector, status,
                                  last and status == "open" and rnd.random() < 0.3, done_id, start,
                                  due if status != "open" else None))
            load.put("inspection", ["id", "client_uuid", "site_id", "template_id", "inspector_id", "mode", "week",
                                    "submitted_at", "contact_name", "note", "yes_count", "no_count", "na_count",
                                    "critical_no_count", "compliant"], insp_rows)
            load.put("answer", ["id", "inspection_id", "item_key", "value", "note"], ans_rows)
            load.put("task", ["id", "site_id", "week", "kind", "slot", "required_mode", "due_at", "assignee_id",
                              "status", "overdue", "done_inspection_id", "created_at", "closed_at"], task_rows)
            load.put("action", ["id", "site_id", "item_key", "opened_inspection_id", "status", "critical", "note",
                                "opened_at", "due_at", "cleared_at"], act_rows)
            n_ans += len(ans_rows)
            print(f"\r{week}: {insp_id:,} inspections, {n_ans:,} answers, {time.perf_counter() - t0:.0f}s",
                  end="", flush=True)
        inc = [(top["incident"] + i + 1, rnd.choice(site_ids),
                clock.week_monday(rnd.choice(weeks)) + timedelta(days=rnd.randint(0, 6)),
                rnd.randint(1, 3), "", None, lead_id, now) for i in range(max(3, len(site_ids) // 500))]
        inc = [r[:5] + (r[2] + timedelta(days=14),) + r[6:] for r in inc]
        load.put("incident", ["id", "site_id", "confirmed_on", "cases", "note", "raised_until", "created_by_id",
                              "created_at"], inc)
        load.fix_sequences(["site", "inspection", "answer", "task", "action", "incident"])
        load.commit()
        load.raw.close()
        print()
        t1 = time.perf_counter()
        rows = rollup.rebuild()
        db.session.commit()
        print(f"rollup: {rows:,} rows in {time.perf_counter() - t1:.1f}s")
        # VACUUM too on PostgreSQL: index-only scans need the visibility map that autovacuum would set later.
        with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.exec_driver_sql("VACUUM ANALYZE" if conn.dialect.name == "postgresql" else "ANALYZE")
    print(f"done: {len(site_ids):,} sites × {args.weeks} weeks, {insp_id:,} inspections, {n_ans:,} answers, "
          f"{task_id:,} tasks, {act_id:,} actions in {time.perf_counter() - t0:.0f}s")


if __name__ == "__main__":
    main()
