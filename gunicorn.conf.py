"""gunicorn for production: `make serve`, or `gunicorn -c gunicorn.conf.py wsgi:app`.

The scheduler is NOT started here: run `flask --app wsgi scheduler` as one separate process.
"""
import multiprocessing
import os

bind = os.environ.get("TRACKER_BIND", "127.0.0.1:8000")
workers = int(os.environ.get("TRACKER_WORKERS", multiprocessing.cpu_count() * 2))
# One thread a worker: a request is mostly Python, and two threads of one worker share one GIL. A thread holding a
# database lock (SQLite's write lock; PostgreSQL's row locks on the site and the week's rollup rows) then waits for
# the GIL between its statements, up to Python's 5 ms switch interval each time, and every other writer waits
# behind it: with 2 threads the load bench's p99 was twice as long and its throughput lower (bench/RESULTS.md).
# Slow uploads are the reverse proxy's to buffer (nginx does by default), not a reason for more threads.
threads = int(os.environ.get("TRACKER_THREADS", "1"))
timeout = 60            # a photo upload over a slow phone link can take a while
graceful_timeout = 30
keepalive = 5
max_requests = 2000     # recycle workers now and then, so a slow leak never grows
max_requests_jitter = 200
accesslog = os.environ.get("TRACKER_ACCESS_LOG", "-")
errorlog = "-"
access_log_format = '%(h)s "%(r)s" %(s)s %(b)s %(M)sms "%(a)s"'
logger_class = "tracker.logmask.GunicornLogger"  # /s/<code> paths logged as /s/*** (a QR code opens a site's form)
forwarded_allow_ips = os.environ.get("TRACKER_FORWARDED_ALLOW_IPS", "127.0.0.1")
