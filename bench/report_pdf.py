"""Render a 점검 결과서 and the council report to PDF and then to PNG, to look at them as a person would (issue 16).

    .venv/bin/python bench/report_pdf.py [OUT_DIR]        # default /tmp/tracker-pdf

It builds a throw-away SQLite database with the default checklist, one site and one on-site inspection that
answers two items "아니오" (with notes and photos) and carries a drawn signature, writes report.pdf and
council.pdf, and runs `pdftoppm -png -r 80` (Debian's poppler-utils, installed by `make pdf`) on each. Open the
PNGs in any image viewer.
"""
import base64
import io
import subprocess
import sys
import tempfile
import uuid
from pathlib import Path

from PIL import Image, ImageDraw

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def _photo(color) -> bytes:
    buf = io.BytesIO()
    img = Image.new("RGB", (800, 600), color)
    ImageDraw.Draw(img).rectangle((200, 150, 600, 450), outline="white", width=12)
    img.save(buf, format="JPEG")
    return buf.getvalue()


def _signature() -> str:
    img = Image.new("RGBA", (600, 200), (0, 0, 0, 0))
    ImageDraw.Draw(img).line([(60, 140), (140, 60), (220, 150), (300, 70), (380, 140), (520, 90)], fill="black",
                             width=5)
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode()


def main(out: Path) -> None:
    import os
    tmp = Path(tempfile.mkdtemp())
    os.environ["TRACKER_INSTANCE_PATH"] = str(tmp)
    from tracker import create_app
    from tracker.extensions import db
    from tracker.models import User
    from tracker.services import checklist, documents, inspections, sites, summary
    app = create_app({"SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp / 'bench.db'}", "SECRET_KEY": "bench",
                      "TRACKER_UPLOAD_DIR": str(tmp / "uploads")})
    with app.app_context(), app.test_request_context():
        db.create_all()
        tpl = checklist.ensure_default()
        user = User(email="kim@district.example", name="김점검", role="inspector", password_hash="-")
        db.session.add(user)
        site = sites.create_site({"name": "한빛고객센터", "business_no": "107-81-00001", "dong": "여의동",
                                  "address": "서울 영등포구 여의대로 1, 3층", "headcount": 120,
                                  "manager_name": "이방역", "manager_email": "officer@hanbit.example"})
        items = [i for i in tpl.items if i.applies_to("onsite")]
        crit = next(i.key for i in items if i.critical)
        other = next(i.key for i in items if not i.critical)
        answers = {i.key: {"value": "yes", "note": ""} for i in items}
        answers[crit] = {"value": "no", "note": "발열 체크 기록이 3일째 비어 있음"}
        answers[other] = {"value": "no", "note": "좌석 간격 1m 미만 구역 2곳"}
        insp, _ = inspections.submit(
            {"site_id": site.id, "mode": "onsite", "client_uuid": str(uuid.uuid4()), "answers": answers,
             "note": "다음 주 재점검 예정"}, by=user, signature=_signature(),
            photos=[(crit, _photo((180, 40, 40))), (other, _photo((40, 90, 160))), (other, _photo((40, 140, 60)))])
        db.session.commit()
        out.mkdir(parents=True, exist_ok=True)
        (out / "report.pdf").write_bytes(documents.inspection_pdf(insp))
        s = summary.compute(insp.week, insp.week)
        counts = sites.counts()
        from tracker.services import reports
        ctx = {"s": s, "counts": counts, "printed_on": insp.submitted_at.date(),
               "days": (insp.submitted_at.date(), insp.submitted_at.date()),
               "tables": reports.council_tables(s, counts), "filters": {"from": insp.week, "to": insp.week}}
        (out / "council.pdf").write_bytes(documents.council_pdf(ctx))
    for name in ("report", "council"):
        subprocess.run(["pdftoppm", "-png", "-r", "80", str(out / f"{name}.pdf"), str(out / name)], check=True)
    print("\n".join(sorted(str(p) for p in out.glob("*.png"))))


if __name__ == "__main__":
    main(Path(sys.argv[1] if len(sys.argv) > 1 else "/tmp/tracker-pdf"))
