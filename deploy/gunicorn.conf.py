"""gunicorn settings for one AfterDesk app node: `gunicorn -c deploy/gunicorn.conf.py wsgi:app`.

Every value comes from the environment (deploy/stack.py sets them per node), so one file serves
any number of nodes, each its own master on its own loopback port behind nginx:

  PORT                 the node's port; it binds 127.0.0.1 only (nginx is the public face)   8000
  GUNICORN_WORKERS     worker processes (else WEB_CONCURRENCY, else 2)                          2
  GUNICORN_THREADS     threads per worker; more than 1 selects the gthread worker               1
  GUNICORN_TIMEOUT     seconds a worker may be silent before the master replaces it             30
  GUNICORN_ACCESS_LOG  access log file ("-" for stdout; unset: none)
  GUNICORN_NAME        process title, e.g. afterdesk-node-1
  GUNICORN_CONTROL_SOCKET  the master's control socket (gunicorn 25.1+), one per node; unset: none

The client's address, scheme and host are taken from nginx's X-Forwarded-* headers by the app
itself (werkzeug's ProxyFix, TRUSTED_PROXIES=1), so gunicorn's own forwarded-header handling is
switched off here: one place decides whom to trust.
"""
import os


def _int(name: str, default: int) -> int:
    value = os.environ.get(name, "").strip()
    return int(value) if value else default


bind = [f"127.0.0.1:{_int('PORT', 8000)}"]
workers = _int("GUNICORN_WORKERS", _int("WEB_CONCURRENCY", 2))
# gthread workers: a few threads each, so a long response (a CSV export of a million payouts streams
# for minutes) neither holds a whole process nor trips the timeout below, which for gthread workers
# watches the worker process, not each request.
threads = _int("GUNICORN_THREADS", 4)
proc_name = os.environ.get("GUNICORN_NAME", "afterdesk")

# The slow part, the payment channel, is the payout workers' job: a web worker process silent for
# longer than this is stuck and replaced.
timeout = _int("GUNICORN_TIMEOUT", 30)
graceful_timeout = 20  # on SIGTERM, requests in flight get this long to finish
keepalive = 5  # nginx -> node connections (gthread workers; sync workers close after each response)
max_requests = 2000  # recycle workers now and then (bounded memory growth), spread out by the jitter
max_requests_jitter = 200

# Not preloaded: each worker builds its own app, engine and connection pool after the fork.
preload_app = False

# ProxyFix in the app handles X-Forwarded-*; gunicorn must not rewrite the scheme on its own.
secure_scheme_headers: dict[str, str] = {}
forwarded_allow_ips = "127.0.0.1"

# gunicorn 25.1+ opens a control socket, by default one path per user: two masters would share it.
# (Older versions ignore these names.)
if os.environ.get("GUNICORN_CONTROL_SOCKET"):
    control_socket = os.environ["GUNICORN_CONTROL_SOCKET"]
else:
    control_socket_disable = True

accesslog = os.environ.get("GUNICORN_ACCESS_LOG") or None
# The socket's peer (nginx, or a local caller), the forwarded chain, the request, status, size, time.
access_log_format = '%(h)s xff="%({x-forwarded-for}i)s" "%(r)s" %(s)s %(B)s %(M)sms "%(a)s"'
errorlog = "-"
loglevel = os.environ.get("GUNICORN_LOG_LEVEL", "info")
