"""Two checkouts' submissions under the same load, taking turns: which one costs less, on a machine whose speed drifts.

    .venv/bin/python bench/ab_submit.py OTHER_CHECKOUT [--engine postgres] [--rounds 8] [--per-round 250]

e.g. `git worktree add /tmp/before HEAD~1` then `.venv/bin/python bench/ab_submit.py /tmp/before`. Each checkout gets
its own database (migrated by its own migrations, seeded by its own demo) and its own gunicorn with 4 workers; the
same 50 inspectors then submit to one and to the other in turns of --per-round inspections (10 % sent twice, 5 %
dropped and retried, as in load.py), so that a slow minute weighs on both alike. Prints throughput and CPU per
request (gunicorn workers / PostgreSQL / this load generator) for each. The other checkout needs its translations
compiled (`.venv/bin/pybabel compile -d OTHER_CHECKOUT/translations`) and runs on this checkout's virtualenv.
"""
import argparse
import contextlib
import random
import sys
from functools import partial
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import harness  # noqa: E402


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("other", type=Path, help="the other checkout (a git worktree)")
    ap.add_argument("--engine", default="postgres", choices=("sqlite", "postgres"))
    ap.add_argument("--rounds", type=int, default=8)
    ap.add_argument("--per-round", type=int, default=250)
    args = ap.parse_args(argv)
    roots = {"this": harness.ROOT, "other": args.other.resolve()}
    with contextlib.ExitStack() as stack:
        servers, setups = {}, {}
        for side, root in roots.items():
            tmp = harness.tmpdir(f"tracker-ab-{side}-")
            url = stack.enter_context(harness.database(args.engine, tmp))
            harness.ROOT = root  # the checkout whose migrations, demo and wsgi:app this side runs
            setups[side] = harness.prepare(url, tmp / "instance", 50)
            servers[side] = stack.enter_context(harness.Gunicorn(url, tmp / "instance", workers=4))
        harness.ROOT = roots["this"]
        meters = {side: harness.CpuMeter(servers[side]) for side in servers}
        walls, requests = dict.fromkeys(servers, 0.0), dict.fromkeys(servers, 0)
        items = harness.checklist_items(servers["this"].port, setups["this"]["tokens"][0])
        for r in range(args.rounds):
            for side in (("this", "other") if r % 2 == 0 else ("other", "this")):
                rng = random.Random(r)  # the same submissions for both, in the same order
                jobs = [harness.make_payload(rng, setups[side]["sites"], items) for _ in range(args.per_round)]
                tally = harness.Tally()
                walls[side] += meters[side].measure("submit", partial(
                    harness.run_inspectors, servers[side].port, setups[side]["tokens"], jobs, tally, seed=r))
                requests[side] += len(tally.latencies)
    for side, root in roots.items():
        print(f"{side:5} {root}: {requests[side] / walls[side]:.1f} req/s, CPU ms per request "
              f"{meters[side].per_request_ms('submit', requests[side])}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
