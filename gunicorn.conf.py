"""gunicorn for production: `make serve`, or `gunicorn -c gunicorn.conf.py wsgi:app`.

The scheduler is NOT started here: run `flask --app wsgi scheduler` as one separate process.
"""
import multiprocessing
import os

bind = os.environ.get("TRACKER_BIND", "127.0.0.1:8000")
workers = int(os.environ.get("TRACKER_WORKERS", multiprocessing.cpu_count() * 2))
threads = int(os.environ.get("TRACKER_THREADS", "2"))
timeout = 60            # a photo upload over a slow phone link can take a while
graceful_timeout = 30
keepalive = 5
max_requests = 2000     # recycle workers now and then, so a slow leak never grows
max_requests_jitter = 200
accesslog = os.environ.get("TRACKER_ACCESS_LOG", "-")
errorlog = "-"
access_log_format = '%(h)s "%(r)s" %(s)s %(b)s %(M)sms "%(a)s"'
forwarded_allow_ips = os.environ.get("TRACKER_FORWARDED_ALLOW_IPS", "127.0.0.1")
