"""hot_sql.Hot runs a statement as the driver's SQL and must give what SQLAlchemy's own execution gives, on both
engines: constants, repeated parameters, type conversion (aware datetimes to UTC), INSERTs of some columns."""
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import bindparam, func, insert, or_, select

from tracker.hot_sql import Hot
from tracker.models import ApiToken, User

KST = timezone(timedelta(hours=9))
pytestmark = pytest.mark.usefixtures("app_ctx")  # the statements run directly; no test client here


def _users(db, make_user):
    users = [make_user("inspector", email="a@example.test", name="가"), make_user("lead", email="b@example.test"),
             make_user("inspector", email="c@example.test", name="b@example.test")]
    # Set apart in time: the datetime bind below must compare in UTC whatever zone the caller's value is in.
    base = datetime(2020, 3, 9, 0, 0, tzinfo=timezone.utc)
    for i, u in enumerate(users):
        u.created_at = base + timedelta(hours=i)
    db.session.commit()
    return users, base


def test_select_gives_the_same_rows_as_sqlalchemy(db, make_user):
    users, base = _users(db, make_user)
    # A constant ('inspector', True), a name used twice (e), a typed bind (at) and LIMIT: all the kinds of slot.
    stmt = (select(User.id).where(User.role == "inspector", User.active.is_(True), User.created_at <= bindparam("at"),
                                  or_(User.email == bindparam("e"), User.name == bindparam("e")))
            .order_by(User.id).limit(5))
    hot, conn = Hot(stmt), db.session.connection()
    cases = [{"e": "a@example.test", "at": base}, {"e": "b@example.test", "at": base + timedelta(hours=2)},
             {"e": "b@example.test", "at": (base + timedelta(hours=1)).astimezone(KST)},  # 10:00 KST = 01:00 UTC
             {"e": "a@example.test", "at": base - timedelta(seconds=1)}]
    got = [hot.execute(conn, p).scalars().all() for p in cases]
    assert got == [conn.execute(stmt, p).scalars().all() for p in cases]
    assert got == [[users[0].id], [users[2].id], [], []]


def test_insert_writes_the_given_columns_once_or_many_times(db, make_user):
    user = make_user("inspector")
    at = datetime(2020, 3, 10, 9, 30, tzinfo=KST)
    hot, conn = Hot(insert(ApiToken.__table__)), db.session.connection()
    hot.execute(conn, {"user_id": user.id, "token_hash": "a" * 64, "created_at": at})
    hot.executemany(conn, [{"user_id": user.id, "token_hash": c * 64, "created_at": at} for c in "bc"])
    db.session.commit()
    rows = db.session.execute(select(ApiToken.token_hash, ApiToken.created_at).order_by(ApiToken.token_hash)).all()
    assert [r.token_hash[0] for r in rows] == ["a", "b", "c"]
    assert all(r.created_at == at and r.created_at.utcoffset() == timedelta(0) for r in rows)


def test_a_missing_parameter_fails_rather_than_writing_null(db, make_user):
    user = make_user("inspector")
    hot, conn = Hot(insert(ApiToken.__table__).values(user_id=bindparam("uid"), token_hash=bindparam("h"))), \
        db.session.connection()
    with pytest.raises(KeyError, match="h"):
        hot.execute(conn, {"uid": user.id})
    db.session.rollback()
    assert db.session.scalar(select(func.count()).select_from(ApiToken)) == 0


def test_an_in_list_is_refused_when_first_run(db):
    hot = Hot(select(User.id).where(User.role.in_(["lead", "admin"])))
    with pytest.raises(ValueError, match="IN"):
        hot.execute(db.session.connection(), {})
