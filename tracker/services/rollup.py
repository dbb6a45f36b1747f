"""The weekly rollup summary_week that the dashboard reads: kept in the same transaction as each inspection.

Inspection-level rows have item_key '' and are keyed (week, dong, band, mode); item rows are keyed (week, dong,
item_key) with band and mode ''. An inspection counts under its site's current dong and band, as everything else
on the dashboard does (the register's counts, on-site sites, the exports join the site as it is now): when a site
moves, move_site() carries its inspections along. The submit path calls add() itself; the after_flush hook covers
inspections added through the ORM by anything else; rebuild() recomputes the table from the raw rows.
"""
from sqlalchemy import case, delete, func, insert, literal, select, text

from ..extensions import db
from ..models import Answer, Inspection, Site, SummaryWeek

ALL_ITEMS = ""  # item_key of the inspection-level rows

_COLUMNS = ("week", "dong", "size_band", "mode", "item_key", "inspections", "compliant", "yes", "no", "na")
_UPSERTS: dict = {}
# Plain SQL, the same on SQLite (3.24+) and PostgreSQL: SQLAlchemy cannot cache a compiled ON CONFLICT construct.
_INTO = ("INSERT INTO summary_week (week, dong, size_band, mode, item_key, inspections, compliant, yes, \"no\", na) ")
_ACCUMULATE = (
    " ON CONFLICT (week, dong, size_band, mode, item_key) DO UPDATE SET "
    "inspections = summary_week.inspections + excluded.inspections, "
    "compliant = summary_week.compliant + excluded.compliant, yes = summary_week.yes + excluded.yes, "
    "\"no\" = summary_week.\"no\" + excluded.\"no\", na = summary_week.na + excluded.na")


def _upsert(n_rows: int):
    """One INSERT … VALUES (…), (…) ON CONFLICT DO UPDATE for n rows, built once per row count: an executemany would
    cost PostgreSQL a round trip per row where this costs one."""
    stmt = _UPSERTS.get(n_rows)
    if stmt is None:
        values = ", ".join("(" + ", ".join(f":{c}_{i}" for c in _COLUMNS) + ")" for i in range(n_rows))
        stmt = _UPSERTS[n_rows] = text(f"{_INTO}VALUES {values}{_ACCUMULATE}")
    return stmt


# A statement of at most this many rows; SQLite allows 32,766 bound parameters, ten a row.
_CHUNK = 200


class _Acc:
    """Sums of (inspections, compliant, yes, no, na) per rollup key."""

    def __init__(self):
        self.rows: dict[tuple, list[int]] = {}

    def bump(self, key: tuple, n: int, compliant: int, yes: int, no: int, na: int) -> None:
        v = self.rows.setdefault(key, [0, 0, 0, 0, 0])
        v[0] += n
        v[1] += compliant
        v[2] += yes
        v[3] += no
        v[4] += na

    def inspection(self, week, mode, dong, band, compliant, yes, no, na) -> None:
        self.bump((week, dong, band, mode, ALL_ITEMS), 1, 1 if compliant else 0, yes or 0, no or 0, na or 0)

    def answer(self, week, dong, item_key, value) -> None:
        self.bump((week, dong, "", "", item_key), 1, 0, value == "yes", value == "no", value == "na")

    def write(self, conn) -> None:
        if not self.rows:
            return
        # Keys in one order: two submits touching the same rows lock them in the same order (no deadlock).
        rows = [k + (v[0], v[1], int(v[2]), int(v[3]), int(v[4])) for k, v in sorted(self.rows.items())]
        for start in range(0, len(rows), _CHUNK):
            chunk = rows[start:start + _CHUNK]
            conn.execute(_upsert(len(chunk)), {f"{c}_{i}": value for i, row in enumerate(chunk)
                                               for c, value in zip(_COLUMNS, row)})


# A new inspection's rows, its answers counted by the database in the same statement. Keys in one order, item rows
# first, as _Acc.write sorts them: two submits touching the same rows lock them in the same order (no deadlock). The
# WHERE true keeps SQLite from reading ON CONFLICT as a join's ON.
_ADD = text(
    f"{_INTO}SELECT * FROM ("
    "SELECT :week AS week, :dong AS dong, '' AS size_band, '' AS mode, a.item_key AS item_key, 1 AS inspections, "
    "0 AS compliant, CASE WHEN a.value = 'yes' THEN 1 ELSE 0 END AS yes, "
    "CASE WHEN a.value = 'no' THEN 1 ELSE 0 END AS \"no\", CASE WHEN a.value = 'na' THEN 1 ELSE 0 END AS na "
    "FROM answer a WHERE a.inspection_id = :inspection_id "
    "UNION ALL SELECT :week, :dong, :band, :mode, '', 1, :compliant, :yes, :no, :na) AS r WHERE true "
    f"ORDER BY size_band, mode, item_key{_ACCUMULATE}")


def add(insp: Inspection, dong: str, band: str) -> None:
    """Add a new inspection and its stored answers to the rollup, in the current transaction."""
    db.session.execute(_ADD, {"inspection_id": insp.id, "week": insp.week, "dong": dong, "band": band,
                              "mode": insp.mode, "compliant": 1 if insp.compliant else 0, "yes": insp.yes_count,
                              "no": insp.no_count, "na": insp.na_count})


def after_flush(session, _ctx):
    """Inspections and answers added through the ORM (anything but the submit path) join the rollup too."""
    new_insp = [o for o in session.new if isinstance(o, Inspection)]
    new_ans = [o for o in session.new if isinstance(o, Answer)]
    if not new_insp and not new_ans:
        return
    conn = session.connection()
    ids = {o.id for o in new_insp} | {a.inspection_id for a in new_ans}
    ctx = {i: (w, m, dg, b) for i, w, m, dg, b in conn.execute(
        select(Inspection.id, Inspection.week, Inspection.mode, Site.dong, Site.size_band)
        .join(Site, Site.id == Inspection.site_id).where(Inspection.id.in_(ids)))}
    acc = _Acc()
    for o in new_insp:
        week, mode, dong, band = ctx[o.id]
        acc.inspection(week, mode, dong, band, o.compliant, o.yes_count, o.no_count, o.na_count)
    for a in new_ans:
        acc.answer(ctx[a.inspection_id][0], ctx[a.inspection_id][2], a.item_key, a.value)
    acc.write(conn)


def move_site(site_id: int, old: tuple[str, str], new: tuple[str, str]) -> None:
    """A site's (dong, band) changed: move its inspections' figures from the old keys to the new ones.

    One GROUP BY over the site's own inspections (and, when the dong changed, their answers), written as one
    upsert of negative and positive counts, in the caller's transaction.
    """
    if old == new:
        return
    (old_dong, old_band), (new_dong, new_band) = old, new
    i, a, acc = Inspection, Answer, _Acc()
    for week, mode, n, c, y, no, na in db.session.execute(
            select(i.week, i.mode, *_inspection_sums()).where(i.site_id == site_id).group_by(i.week, i.mode)):
        acc.bump((week, old_dong, old_band, mode, ALL_ITEMS), -n, -c, -y, -no, -na)
        acc.bump((week, new_dong, new_band, mode, ALL_ITEMS), n, c, y, no, na)
    if old_dong != new_dong:
        for week, key, n, y, no, na in db.session.execute(
                select(i.week, a.item_key, func.count(), *_value_sums(a)).join(i, i.id == a.inspection_id)
                .where(i.site_id == site_id).group_by(i.week, a.item_key)):
            acc.bump((week, old_dong, "", "", key), -n, 0, -y, -no, -na)
            acc.bump((week, new_dong, "", "", key), n, 0, y, no, na)
    if acc.rows:
        acc.write(db.session.connection())
        # Keys the site alone had filled are now empty: leave no zero rows behind.
        db.session.execute(delete(SummaryWeek).where(SummaryWeek.dong == old_dong, SummaryWeek.inspections == 0))


def _inspection_sums():
    """inspections, compliant, yes, no, na of a group of inspections (the counts stored on each)."""
    i = Inspection
    return [func.count(), func.sum(case((i.compliant, 1), else_=0)), func.sum(i.yes_count), func.sum(i.no_count),
            func.sum(i.na_count)]


def _value_sums(a):
    return [func.sum(case((a.value == v, 1), else_=0)) for v in ("yes", "no", "na")]


def rebuild_inspection_rows() -> None:
    """Recompute only the inspection-level rows (the only ones that carry a band): after the band edges changed,
    the item rows need not be read again."""
    db.session.execute(delete(SummaryWeek).where(SummaryWeek.item_key == ALL_ITEMS))
    _insert_inspection_rows()


def _insert_inspection_rows() -> None:
    i = Inspection
    db.session.execute(insert(SummaryWeek).from_select(list(_COLUMNS), select(
        i.week, Site.dong, Site.size_band, i.mode, literal(ALL_ITEMS), *_inspection_sums())
        .join(Site, Site.id == i.site_id).group_by(i.week, Site.dong, Site.size_band, i.mode)))


def rebuild() -> int:
    """Recompute summary_week from inspections and answers (after bulk loads or a restore); returns rows."""
    db.session.execute(delete(SummaryWeek))
    _insert_inspection_rows()
    i = Inspection
    a = Answer
    db.session.execute(insert(SummaryWeek).from_select(list(_COLUMNS), select(
        i.week, Site.dong, literal(""), literal(""), a.item_key, func.count(), literal(0), *_value_sums(a))
        .select_from(a).join(i, i.id == a.inspection_id).join(Site, Site.id == i.site_id)
        .group_by(i.week, Site.dong, a.item_key)))
    db.session.flush()
    return db.session.scalar(select(func.count()).select_from(SummaryWeek))
