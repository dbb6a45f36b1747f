"""The flask commands, run as an operator would: create-user, create-token, import-sites, seed-demo."""
import pytest
from sqlalchemy import func, select

from tracker.extensions import db
from tracker.models import Site, User
from tracker.services import accounts

HEAD = "사업장명,사업자등록번호,행정동,소재지,종사자수,방역담당자,연락처\r\n"
GOOD = HEAD + "한빛고객센터,107-81-00001,여의동,,\"1,204명\",,\r\n새솔콜센터,107-81-00002,당산 1동,,85,,\r\n"


@pytest.fixture
def run(app):
    runner = app.test_cli_runner()

    def invoke(*args):
        return runner.invoke(args=list(args))
    return invoke


def n_sites(app):
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(Site))


def test_create_user_then_log_in(app, run, client):
    res = run("create-user", "--email", "Kim@Example.test", "--name", "김팀장", "--role", "lead",
              "--password", "long-enough-1")
    assert res.exit_code == 0, res.output
    assert "created lead kim@example.test" in res.output
    with app.app_context():
        user = accounts.find_user("kim@example.test")
        assert user.role == "lead" and "long-enough-1" not in user.password_hash


@pytest.mark.parametrize("args,phrase", [
    (["--role", "boss"], "Invalid value for '--role'"),
    (["--password", "short"], "8자 이상"),
    (["--email", "not-an-email"], "이메일 주소가 올바르지 않습니다"),
])
def test_create_user_refuses_bad_input(app, run, args, phrase):
    base = {"--email": "p@example.test", "--name": "P", "--role": "inspector", "--password": "long-enough-1"}
    for k, v in zip(args[::2], args[1::2]):
        base[k] = v
    res = run("create-user", *[x for kv in base.items() for x in kv])
    assert res.exit_code != 0
    assert phrase in res.output
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(User)) == 0


def test_create_user_twice_fails(run):
    args = ["create-user", "--email", "p@example.test", "--name", "P", "--role", "admin", "--password", "long-enough-1"]
    assert run(*args).exit_code == 0
    res = run(*args)
    assert res.exit_code == 1 and "이미 등록된 이메일" in res.output


def test_create_token_prints_a_working_bearer_token(run, client, make_user):
    user = make_user("inspector")
    res = run("create-token", "--email", user.email)
    assert res.exit_code == 0
    token = res.output.strip()
    assert len(token) >= 40 and "\n" not in token
    assert client.get("/api/v1/sites", headers={"Authorization": f"Bearer {token}"}).status_code == 200
    assert client.get("/api/v1/sites", headers={"Authorization": f"Bearer {token}x"}).status_code == 401
    assert run("create-token", "--email", "nobody@example.test").exit_code == 1


def test_create_token_refuses_a_deactivated_user(app, run, make_user):
    user = make_user("inspector")
    with app.app_context():
        accounts.update_user(db.session.get(User, user.id), "inspector", False)
        db.session.commit()
    res = run("create-token", "--email", user.email)
    assert res.exit_code == 1 and "deactivated" in res.output


def test_import_sites(app, run, tmp_path):
    path = tmp_path / "현황.csv"
    path.write_bytes(GOOD.encode("cp949"))
    res = run("import-sites", str(path), "--dry-run")
    assert res.exit_code == 0, res.output
    assert "미리보기(저장하지 않음): 새로 2곳, 변경 0곳, 그대로 0곳" in res.output
    assert n_sites(app) == 0
    res = run("import-sites", str(path))
    assert res.exit_code == 0, res.output
    assert "새로 2곳, 변경 0곳, 그대로 0곳" in res.output and "+ 한빛고객센터" in res.output
    assert n_sites(app) == 2
    with app.app_context():
        assert db.session.scalar(select(Site.size_band).where(Site.business_no == "107-81-00001")) == "701이상"
    res = run("import-sites", str(path))
    assert "새로 0곳, 변경 0곳, 그대로 2곳" in res.output


def test_import_with_bad_rows_exits_non_zero_and_writes_nothing(app, run, tmp_path, site_factory):
    site_factory(business_no="107-81-00001", name="기존센터", headcount=3)
    path = tmp_path / "bad.csv"
    bad_rows = "다센터,107-81-00003,여의동,,많음,,\r\n라센터,107-81-0000,강남동,,5,,\r\n"
    path.write_bytes((GOOD + bad_rows).encode("utf-8-sig"))
    res = run("import-sites", str(path))
    assert res.exit_code == 1
    assert "4행 E열: 종사자수 '많음'은(는) 숫자가 아닙니다" in res.output
    assert "5행 B열: 사업자등록번호 '107-81-0000'은(는) 10자리 숫자가 아닙니다" in res.output
    assert "5행 C열: 행정동 '강남동'은(는) 이 구의 행정동이 아닙니다" in res.output
    assert "잘못된 행 2개, 오류 3건 — 아무것도 가져오지 않았습니다" in res.output
    assert n_sites(app) == 1
    with app.app_context():
        assert db.session.scalar(select(Site.name)) == "기존센터"


@pytest.mark.parametrize("content,phrase", [
    (b"", "파일이 비어 있습니다"),
    (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "CSV 또는 XLSX 파일이 아닙니다"),
    ("이름,번호\r\n가,1\r\n".encode(), "없는 열"),
])
def test_import_of_an_unreadable_file_exits_non_zero(app, run, tmp_path, content, phrase):
    path = tmp_path / "x.csv"
    path.write_bytes(content)
    res = run("import-sites", str(path))
    assert res.exit_code == 1 and phrase in res.output and "Traceback" not in res.output
    assert n_sites(app) == 0
    assert run("import-sites", str(tmp_path / "missing.csv")).exit_code == 2


def test_seed_demo_twice(app, run):
    res = run("seed-demo")
    assert res.exit_code == 0, res.output
    assert "4 users and 73 sites added; 73 active sites in all" in res.output
    assert "lead@tracker.local" in res.output and "demo-lead-1234" in res.output
    res = run("seed-demo")
    assert res.exit_code == 0
    assert "0 users and 0 sites added; 73 active sites in all" in res.output
    assert n_sites(app) == 73


def test_dev_command_serves_the_app_with_its_scheduler(tmp_path):
    """What `make run` ends with: `flask dev` must really listen, not just print an address."""
    import os
    import socket
    import subprocess
    import sys
    import time
    import urllib.request
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    flask = str(Path(sys.executable).parent / "flask")
    env = {**os.environ, "TRACKER_DATABASE_URL": f"sqlite:///{tmp_path / 'dev.db'}",
           "TRACKER_INSTANCE_PATH": str(tmp_path / "instance"), "TRACKER_SECRET_KEY": "dev-test"}
    env.pop("TRACKER_FAKE_NOW", None)
    env.pop("TRACKER_ALLOW_FAKE_NOW", None)
    env.pop("TRACKER_BASE_URL", None)
    up = subprocess.run([flask, "--app", "wsgi", "db", "upgrade"], cwd=root, env=env, capture_output=True, text=True,
                        timeout=120)
    assert up.returncode == 0, up.stderr
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen([flask, "--app", "wsgi", "dev", "--port", str(port)], cwd=root, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline, status, body = time.monotonic() + 60, None, ""
        while time.monotonic() < deadline and status is None:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/login", timeout=5) as resp:
                    status, body = resp.status, resp.read().decode()
            except OSError:
                assert proc.poll() is None, proc.stdout.read()
                time.sleep(0.3)
        assert status == 200 and 'name="csrf_token"' in body
        # QR codes printed from this server point at it, not at the default port
        login = subprocess.run([flask, "--app", "wsgi", "create-user", "--email", "d@example.test", "--name", "D",
                                "--role", "lead", "--password", "long-enough-1"], cwd=root, env=env,
                               capture_output=True, text=True, timeout=60)
        assert login.returncode == 0, login.stderr
        sheet = tmp_path / "sites.csv"
        sheet.write_text(GOOD, encoding="utf-8")
        imported = subprocess.run([flask, "--app", "wsgi", "import-sites", str(sheet)], cwd=root, env=env,
                                  capture_output=True, text=True, timeout=60)
        assert imported.returncode == 0, imported.stderr
        import http.cookiejar
        import re
        from urllib.parse import urlencode
        opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))
        base = f"http://127.0.0.1:{port}"
        login_page = opener.open(f"{base}/login").read().decode()
        token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', login_page).group(1)
        opener.open(f"{base}/login", urlencode({"csrf_token": token, "email": "d@example.test",
                                                "password": "long-enough-1"}).encode())
        page = opener.open(f"{base}/sites/1").read().decode()
        assert f"{base}/s/" in page
    finally:
        proc.terminate()
        out, _ = proc.communicate(timeout=30)
    assert "Scheduler: on" in out and "Tracker is running at" in out


def test_make_run_catches_up_this_weeks_round_serves_pages_and_runs_one_scheduler(tmp_path):
    """`make run` ends in `flask dev`: against a seeded instance whose history is years old, the scheduler inside
    it makes this week's round on start (the catch-up), the pages answer meanwhile, and one scheduler runs, in
    one process (no reloader child with a scheduler of its own)."""
    import http.cookiejar
    import os
    import re
    import socket
    import sqlite3
    import subprocess
    import sys
    import time
    import urllib.request
    from pathlib import Path
    from urllib.parse import urlencode

    from tracker import clock

    root = Path(__file__).resolve().parent.parent
    flask = str(Path(sys.executable).parent / "flask")
    db_file = tmp_path / "dev.db"
    env = {**os.environ, "TRACKER_DATABASE_URL": f"sqlite:///{db_file}",
           "TRACKER_INSTANCE_PATH": str(tmp_path / "instance"), "TRACKER_SECRET_KEY": "dev-test",
           "TRACKER_SMTP_PORT": "1", "PYTHONUNBUFFERED": "1"}
    for name in ("TRACKER_FAKE_NOW", "TRACKER_ALLOW_FAKE_NOW", "TRACKER_BASE_URL", "TRACKER_NO_SCHEDULER",
                 "WERKZEUG_RUN_MAIN"):
        env.pop(name, None)
    for step in (["db", "upgrade"], ["seed-demo", "--start", "2020-03-09"]):
        done = subprocess.run([flask, "--app", "wsgi", *step], cwd=root, env=env, capture_output=True, text=True,
                              timeout=180)
        assert done.returncode == 0, done.stderr

    def count(sql, *args):
        with sqlite3.connect(db_file) as conn:
            return conn.execute(sql, args).fetchone()[0]
    week = clock.week_of()
    active = count("SELECT count(*) FROM site WHERE status = 'active'")
    assert active == 73 and count("SELECT count(*) FROM task WHERE week = ?", week) == 0

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen([flask, "--app", "wsgi", "dev", "--port", str(port)], cwd=root, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline, status = time.monotonic() + 90, None
        while time.monotonic() < deadline and status is None:
            try:
                with urllib.request.urlopen(f"{base}/login", timeout=5) as resp:
                    status = resp.status
            except OSError:
                assert proc.poll() is None, proc.stdout.read()
                time.sleep(0.3)
        assert status == 200
        # The catch-up ran before the server took its first request: this week's round is there, once per site.
        assert count("SELECT count(*) FROM task WHERE week = ? AND kind = 'weekly_monitoring'", week) == active
        assert count("SELECT count(DISTINCT site_id) FROM task WHERE week = ?", week) == active
        # One process: the server did not fork a reloader child (which would start a second scheduler).
        children = Path(f"/proc/{proc.pid}/task/{proc.pid}/children").read_text().split()
        assert children == []
        opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))
        login_page = opener.open(f"{base}/login").read().decode()
        token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', login_page).group(1)
        opener.open(f"{base}/login", urlencode({"csrf_token": token, "email": "lead@tracker.local",
                                                "password": "demo-lead-1234"}).encode())
        week_page = opener.open(f"{base}/schedule").read().decode()
        assert week in week_page and "점검원별 업무량" in week_page
        # The demo's inspectors carry this week's tasks between them, as the workload table shows.
        loads = [int(n) for n in re.findall(r'<tr><th scope="row">[^<]+</th><td data-label="[^"]+">(\d+)</td>',
                                            week_page)]
        assert sum(loads) == active
        assert opener.open(f"{base}/dashboard").status == 200
    finally:
        proc.terminate()
        out, _ = proc.communicate(timeout=30)
    # one process, one scheduler: the start is printed once, with the round its catch-up made
    assert out.count("Tracker is running at") == 1 and out.count("Scheduler: on") == 1, out
    assert len(re.findall(r"this week's round got 73 new task\(s\)", out)) == 1, out
    assert not re.search(r"job \w+ failed|Traceback", out), out
