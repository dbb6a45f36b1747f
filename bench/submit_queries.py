"""SQL statements for one inspection submit, counted at the engine (before_cursor_execute).

Counts the service call alone (inspections.submit + commit, the schedule and summary hooks included) and the
whole HTTP request (login check, CSRF, submit, commit), for the default 17-item checklist and for a 77-item one,
with and without a photo. Target: at most 20 for the submit, whatever the number of items.
Usage: .venv/bin/python bench/submit_queries.py [postgresql+psycopg://…]  (default: a SQLite file)
"""
import io
import re
import sys
import uuid

from PIL import Image
from sqlalchemy import event

from inspect_common import bench_app, fresh_request_state, login

TARGET = 20


class Counter:
    def __init__(self, engine):
        self.engine, self.n = engine, 0

    def _hit(self, *_a):
        self.n += 1

    def __enter__(self):
        event.listen(self.engine, "before_cursor_execute", self._hit)
        return self

    def __exit__(self, *_exc):
        event.remove(self.engine, "before_cursor_execute", self._hit)


def jpeg() -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (2000, 1500), (90, 140, 60)).save(buf, format="JPEG")
    return buf.getvalue()


def main() -> int:
    url = sys.argv[1] if len(sys.argv) > 1 else None
    with bench_app(url) as (app, _site, user):
        from tracker.extensions import db
        from tracker.services import checklist, inspections, sites
        big = checklist.to_dict(checklist.current())["items"] + [
            {"key": f"extra_{n}", "label_ko": f"추가 항목 {n}", "label_en": f"Extra {n}", "category": "hygiene",
             "critical": n % 4 == 0, "modes": ["onsite", "phone"]} for n in range(60)]
        worst = 0
        print(f"engine: {db.engine.dialect.name}")
        print(f"{'case':48} {'service':>8} {'request':>8}")
        for n_items in (17, 77):
            if n_items == 77:
                checklist.publish("77 items", big)
                db.session.commit()
            tpl = checklist.current()
            for with_photo in (False, True):
                # Fresh sites per case, so that the follow-up work (actions, reinspection task) is alike.
                site, site2 = (sites.create_site({"name": f"측정 {n_items}{with_photo}{k}", "business_no":
                                                  f"{200 + n_items:03d}-{10 + 2 * with_photo + k}-{n_items:05d}",
                                                  "dong": "여의동", "headcount": 40}) for k in (0, 1))
                db.session.commit()
                answers = {i.key: {"value": "no" if k % 5 == 0 else "yes", "note": ""}
                           for k, i in enumerate(tpl.items)}
                data = {"site_id": site.id, "mode": "onsite", "client_uuid": str(uuid.uuid4()), "answers": answers}
                photos = [("masks_mandatory", jpeg())] if with_photo else []
                assert user.id and site2.id
                with Counter(db.engine) as svc:
                    inspections.submit(data, by=user, photos=photos)
                    db.session.commit()
                # The same through the page, as a phone without JavaScript posts it.
                client = app.test_client()
                login(client)
                html = client.get(f"/inspect/sites/{site2.id}").get_data(as_text=True)
                form = {"csrf_token": re.search(r'name="csrf_token" value="([^"]+)"', html).group(1),
                        "client_uuid": re.search(r'name="client_uuid" value="([^"]+)"', html).group(1),
                        "mode": "onsite", **{f"a-{k}": v["value"] for k, v in answers.items()}}
                if with_photo:
                    form["p-masks_mandatory"] = (io.BytesIO(jpeg()), "p.jpg")
                fresh_request_state()
                with Counter(db.engine) as req:
                    resp = client.post(f"/inspect/sites/{site2.id}", data=form, content_type="multipart/form-data")
                assert resp.status_code == 303, resp.status_code
                name = f"{n_items} items{' + 1 photo' if with_photo else ''}"
                print(f"{name:48} {svc.n:8} {req.n:8}")
                worst = max(worst, svc.n)
        print(f"target: <= {TARGET} per submit -> {'OK' if worst <= TARGET else 'OVER'} (worst {worst})")
        return 0 if worst <= TARGET else 1


if __name__ == "__main__":
    raise SystemExit(main())
