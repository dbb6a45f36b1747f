"""The scheduler's status table: which process leads and which follow, each job's last and next run, and what is
late. The scheduler processes write it (jobs.py commits); `flask scheduler-status` and the admin pages read it."""
import json
import os
import socket
from datetime import timedelta

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import delete, select, update

from .. import clock
from ..dbutil import upsert
from ..extensions import db
from ..models import SchedulerJob, SchedulerProcess

# How often each job runs (jobs.add_jobs): a job whose last run is older than this, plus LATE_GRACE, is late.
PERIODS = {"weekly_round": timedelta(days=7), "mark_overdue": timedelta(hours=1),
           "deliver_outbox": timedelta(minutes=2), "weekly_summary": timedelta(days=7),
           "purge_expired": timedelta(days=1), "task_reminders": timedelta(hours=1),
           "lead_digest": timedelta(hours=1)}
# Room for a slow run (a long outbox) and for a new leader's takeover (30 s at most) and catch-up.
LATE_GRACE = timedelta(minutes=15)
# The leader writes its heartbeat every few seconds (TRACKER_SCHEDULER_INTERVAL); this much silence means it is gone.
HEARTBEAT_STALE = timedelta(minutes=2)
# A process not heard from for this long is dropped from the list of followers.
FORGET_AFTER = timedelta(days=1)
JOB_LABELS = {"weekly_round": _l("주간 점검 배정"), "mark_overdue": _l("기한 넘김 표시"),
              "deliver_outbox": _l("메일 발송"), "weekly_summary": _l("주간 요약 메일"),
              "refresh_bands": _l("규모 구간 갱신"), "purge_expired": _l("보존기간 지난 개인정보 파기"),
              "task_reminders": _l("마감 전날 남은 점검 알림"), "lead_digest": _l("팀장 요약")}
RESULT_MAX = 500


def beat(leading: bool) -> None:
    """This process's row, seen now, as the leader or as a follower; the leader takes the lead from every other
    row (a dead leader's row stays behind as a follower until it is forgotten)."""
    host, pid, now = socket.gethostname(), os.getpid(), clock.now()
    row = db.session.scalar(select(SchedulerProcess).filter_by(host=host, pid=pid))
    if row is None:
        row = SchedulerProcess(host=host, pid=pid, leading=leading, since=now)
        db.session.add(row)
    elif row.leading != leading:
        row.leading, row.since = leading, now
    row.last_seen = now
    db.session.flush()
    if leading:
        db.session.execute(update(SchedulerProcess).where(SchedulerProcess.id != row.id, SchedulerProcess.leading)
                           .values(leading=False))
        db.session.execute(delete(SchedulerProcess).where(SchedulerProcess.last_seen < now - FORGET_AFTER))


def record_run(job_id: str, ok: bool, result) -> None:
    """A job's run just ended, with its result (as JSON) or its error."""
    text = json.dumps(result, default=str, ensure_ascii=False) if ok else str(result)
    upsert(SchedulerJob, {"job_id": job_id, "last_run_at": clock.now(), "last_ok": ok,
                          "last_result": text[:RESULT_MAX]}, ("job_id",))


def record_next_runs(next_runs: dict) -> None:
    """When each job runs next, as the leader's APScheduler has it."""
    for job_id, when in next_runs.items():
        upsert(SchedulerJob, {"job_id": job_id, "next_run_at": when}, ("job_id",))


def _late(jobs: list[SchedulerJob], leader: SchedulerProcess | None, now) -> list[SchedulerJob]:
    """Jobs that have not run for longer than their period allows; one that never ran counts from when the current
    leader took over, or is not judged when no process leads (the stale heartbeat says enough then)."""
    late = []
    for job in jobs:
        if job.job_id not in PERIODS:
            continue
        since = job.last_run_at or (leader.since if leader else None)
        if since is not None and now - since > PERIODS[job.job_id] + LATE_GRACE:
            late.append(job)
    return late


def _iso(dt):
    return dt.isoformat() if dt else None


def status() -> dict:
    """The table as `flask scheduler-status` prints it."""
    now = clock.now()
    procs = db.session.scalars(select(SchedulerProcess).order_by(SchedulerProcess.last_seen.desc())).all()
    leader = next((p for p in procs if p.leading), None)
    jobs = db.session.scalars(select(SchedulerJob).order_by(SchedulerJob.job_id)).all()
    late = {j.job_id for j in _late(jobs, leader, now)}
    return {
        "leader": leader and {"host": leader.host, "pid": leader.pid, "since": _iso(leader.since),
                              "heartbeat": _iso(leader.last_seen),
                              "stale": now - leader.last_seen > HEARTBEAT_STALE},
        "jobs": [{"id": j.job_id, "last_run": _iso(j.last_run_at), "ok": j.last_ok, "result": j.last_result,
                  "next_run": _iso(j.next_run_at), "late": j.job_id in late} for j in jobs],
        "followers": [{"host": p.host, "pid": p.pid, "since": _iso(p.since), "last_seen": _iso(p.last_seen)}
                      for p in procs if not p.leading],
        "now": _iso(now),
    }


def warnings() -> list[str]:
    """What an admin should know: no scheduler leads, its heartbeat stopped, or a job is late; [] when all is well."""
    now = clock.now()
    leader = db.session.scalar(select(SchedulerProcess).where(SchedulerProcess.leading)
                               .order_by(SchedulerProcess.last_seen.desc()).limit(1))
    if leader is None:
        return [_("스케줄러가 실행되고 있지 않습니다. 주간 점검 배정, 기한 넘김 표시와 메일 발송이 멈춰 있습니다: "
                  "flask --app wsgi scheduler를 실행하세요.")]
    out = []
    if now - leader.last_seen > HEARTBEAT_STALE:
        out.append(_("스케줄러(%(host)s, pid %(pid)s)가 %(at)s 이후로 응답이 없습니다. 작업이 멈췄을 수 있습니다: "
                     "flask --app wsgi scheduler-status로 확인하세요.", host=leader.host, pid=leader.pid,
                     at=clock.local(leader.last_seen).strftime("%Y-%m-%d %H:%M")))
    for job in _late(db.session.scalars(select(SchedulerJob)).all(), leader, now):
        when = job.last_run_at and clock.local(job.last_run_at).strftime("%Y-%m-%d %H:%M")
        out.append(_("'%(job)s' 작업이 %(at)s 이후로 실행되지 않았습니다.", job=JOB_LABELS[job.job_id],
                     at=when or _("스케줄러 시작")))
    return out
