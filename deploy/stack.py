"""Run the production stack on this machine, every server on 127.0.0.1:

    DATABASE_URL=postgresql://postgres@127.0.0.1:5432/afterdesk make stack
    .venv/bin/python -m deploy.stack [--nodes 2] [--workers 2] [--port 8443] [--seed-demo] ...

What it does, in order:
  1. checks the settings: DATABASE_URL must be PostgreSQL (several processes share it); REDIS_URL
     (default redis://127.0.0.1:6379/0) must answer; SECRET_KEY is generated for this run if unset
     (then sessions end when the stack stops). Every process gets AFTERDESK_ENV=production,
     AFTERDESK_WORKER=off and TRUSTED_PROXIES=1 (nginx is the one proxy in front of the nodes).
  2. `flask --app wsgi db upgrade` (and `flask --app wsgi seed-demo` with --seed-demo);
  3. a self-signed certificate for localhost/127.0.0.1 (openssl) and nginx's configuration
     (deploy/nginx.conf.template) in the runtime directory (default instance/stack/);
  4. N app nodes: N gunicorn masters (deploy/gunicorn.conf.py), each on its own loopback port,
     then M payout workers (`flask --app wsgi worker`, sharing the queue through SKIP LOCKED),
     then nginx (`nginx -p <runtime>/nginx/ -c <runtime>/nginx/nginx.conf -g 'daemon off;'`),
     and says where it listens once every part answers.
Every process's output comes here, prefixed with its name; gunicorn access logs and nginx's logs
are in <runtime>/logs/. Ctrl-C (SIGINT) or SIGTERM stops nginx first, then the nodes, then the
workers, each gracefully; SIGHUP is passed on to nginx (re-read its configuration) and to the
gunicorn masters (replace their workers). If any process dies, the rest are stopped and the
launcher exits 1.
"""
from __future__ import annotations

import argparse
import os
import pwd
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

ROOT = Path(__file__).resolve().parent.parent
DEPLOY = ROOT / "deploy"
LOOPBACK = "127.0.0.1"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/0"
DEFAULT_PORT = 8443
DEFAULT_FIRST_APP_PORT = 8101
STOP_TIMEOUT_SECONDS = 25.0


class StackError(RuntimeError):
    """The stack cannot start: a setting is missing or wrong, or a part did not come up."""


# --- options and settings --------------------------------------------------------------------

def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m deploy.stack", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--nodes", type=int, default=2, help="gunicorn app nodes (separate masters), default 2")
    p.add_argument("--workers", type=int, default=2, help="payout worker processes, default 2")
    p.add_argument("--port", type=int, default=DEFAULT_PORT, help=f"nginx's https port on 127.0.0.1, default {DEFAULT_PORT}")
    p.add_argument("--app-ports", default="",
                   help=f"the nodes' ports, comma separated (default {DEFAULT_FIRST_APP_PORT}, "
                        f"{DEFAULT_FIRST_APP_PORT + 1}, ...: one per node)")
    p.add_argument("--gunicorn-workers", type=int, default=None,
                   help="worker processes per node (default: GUNICORN_WORKERS, else WEB_CONCURRENCY, else 2)")
    p.add_argument("--runtime-dir", type=Path, default=ROOT / "instance" / "stack",
                   help="certificate, nginx configuration, pid, logs and temp files (default instance/stack)")
    p.add_argument("--seed-demo", action="store_true", help="also run `flask seed-demo` (demo shops and sign-ins)")
    p.add_argument("--nginx", default=os.environ.get("NGINX", ""), help="the nginx binary (default: /usr/sbin/nginx)")
    p.add_argument("--ready-timeout", type=float, default=60.0, help="seconds to wait for every part to answer")
    args = p.parse_args(argv)
    if args.nodes < 1 or args.workers < 0:
        p.error("--nodes must be at least 1 and --workers at least 0")
    if args.app_ports:
        try:
            args.app_ports = [int(x) for x in args.app_ports.split(",") if x.strip()]
        except ValueError:
            p.error("--app-ports takes port numbers, comma separated")
        if len(args.app_ports) != args.nodes:
            p.error(f"--app-ports names {len(args.app_ports)} ports for {args.nodes} nodes")
    else:
        args.app_ports = [DEFAULT_FIRST_APP_PORT + i for i in range(args.nodes)]
    if len(set(args.app_ports + [args.port])) != args.nodes + 1:
        p.error("every node and nginx need a port of their own")
    args.runtime_dir = args.runtime_dir.resolve()
    return args


def stack_environment(base: dict[str, str], gunicorn_workers: int | None) -> tuple[dict[str, str], list[str]]:
    """The environment every process of the stack gets, and notes for the operator."""
    env = dict(base)
    notes: list[str] = []
    url = env.get("DATABASE_URL", "")
    if not url:
        raise StackError("DATABASE_URL is not set: the stack runs on PostgreSQL, e.g. "
                         "DATABASE_URL=postgresql://postgres@127.0.0.1:5432/afterdesk")
    if not re.match(r"^postgres(ql)?(\+psycopg)?://", url):
        raise StackError(f"DATABASE_URL must be a PostgreSQL URL (several processes write to it at once), not {url.split(':')[0]}:...")
    env.setdefault("REDIS_URL", DEFAULT_REDIS_URL)
    if not env.get("SECRET_KEY"):
        env["SECRET_KEY"] = secrets.token_hex(32)
        notes.append("SECRET_KEY is not set: generated one for this run (sessions end when the stack stops; "
                     "set SECRET_KEY to keep them across restarts).")
    env.update(AFTERDESK_ENV="production", AFTERDESK_WORKER="off", TRUSTED_PROXIES="1", PYTHONUNBUFFERED="1")
    if gunicorn_workers is not None:
        env["GUNICORN_WORKERS"] = str(gunicorn_workers)
    return env, notes


def check_redis(url: str) -> None:
    import redis

    try:
        redis.Redis.from_url(url, socket_connect_timeout=2, socket_timeout=2).ping()
    except Exception as exc:  # noqa: BLE001 - any failure: say which URL and why
        raise StackError(f"Redis at {url} does not answer ({exc}). Start one on loopback, e.g. "
                         "`redis-server --bind 127.0.0.1 --port 6379`, or set REDIS_URL.") from None


def check_ports_free(ports: list[int]) -> None:
    for port in ports:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                s.bind((LOOPBACK, port))
            except OSError:
                raise StackError(f"port {LOOPBACK}:{port} is in use (see --port and --app-ports)") from None


# --- TLS and nginx ------------------------------------------------------------------------------

def find_nginx(given: str) -> str:
    for candidate in (given, "/usr/sbin/nginx", shutil.which("nginx") or ""):
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    raise StackError("nginx is not installed (Debian: apt-get install -y nginx), or pass --nginx PATH")


def make_certificate(tls_dir: Path) -> tuple[Path, Path]:
    """A fresh self-signed certificate for localhost and 127.0.0.1, valid 30 days."""
    openssl = shutil.which("openssl")
    if not openssl:
        raise StackError("openssl is not installed (Debian: apt-get install -y openssl)")
    tls_dir.mkdir(parents=True, exist_ok=True)
    cert, key = tls_dir / "cert.pem", tls_dir / "key.pem"
    done = subprocess.run(
        [openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-sha256", "-days", "30",
         "-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1",
         "-keyout", str(key), "-out", str(cert)],
        capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise StackError("openssl could not make the certificate: " + done.stderr.strip())
    key.chmod(0o600)
    return cert, key


def nginx_version(nginx: str) -> tuple[int, ...]:
    out = subprocess.run([nginx, "-v"], capture_output=True, text=True, check=False)
    m = re.search(r"nginx/(\d+)\.(\d+)\.(\d+)", out.stderr + out.stdout)
    return tuple(int(x) for x in m.groups()) if m else (0, 0, 0)


def nginx_user_line() -> str:
    """Started as root, nginx's workers drop to an unprivileged user, which must be able to read
    static/ (world-readable in a normal checkout); started as anyone else they stay that user."""
    if os.geteuid() != 0:
        return "# not started as root: the workers run as the starting user"
    for user, group in (("www-data", "www-data"), ("nobody", "nogroup")):
        try:
            pwd.getpwnam(user)
        except KeyError:
            continue
        return f"user {user} {group};"
    return "user nobody;"


def render_nginx_conf(*, runtime: Path, port: int, app_ports: list[int], cert: Path, key: Path,
                      version: tuple[int, ...], static_dir: Path = ROOT / "static") -> str:
    template = (DEPLOY / "nginx.conf.template").read_text(encoding="utf-8")
    new_http2 = version >= (1, 25, 1)  # `http2 on;` replaced the listen parameter then
    values = {
        "USER_LINE": nginx_user_line(),
        "RUNTIME": str(runtime),
        "LISTEN": f"{LOOPBACK}:{port}",
        "LISTEN_HTTP2": "" if new_http2 else " http2",
        "HTTP2_ON": "        http2 on;" if new_http2 else "",
        "UPSTREAM_SERVERS": "\n".join(f"        server {LOOPBACK}:{p} max_fails=1 fail_timeout=5s;" for p in app_ports),
        "CERT": str(cert),
        "KEY": str(key),
        "STATIC": str(static_dir.resolve()),
    }
    for name, value in values.items():
        template = template.replace(f"@{name}@", value)
    left = re.findall(r"@[A-Z0-9_]+@", template)
    if left:
        raise StackError(f"deploy/nginx.conf.template has fields nobody fills: {sorted(set(left))}")
    return template


def nginx_command(nginx: str, runtime: Path) -> list[str]:
    return [nginx, "-p", f"{runtime / 'nginx'}/", "-c", str(runtime / "nginx" / "nginx.conf"),
            "-e", str(runtime / "logs" / "nginx-error.log"), "-g", "daemon off;"]


def prepare_runtime(runtime: Path) -> None:
    for sub in ("nginx/tmp", "logs", "tls"):
        (runtime / sub).mkdir(parents=True, exist_ok=True)
    for path in (runtime, runtime / "nginx", runtime / "nginx" / "tmp", runtime / "logs"):
        path.chmod(0o755)  # nginx's workers (an unprivileged user under root) reach their temp dirs


# --- processes ----------------------------------------------------------------------------------

_print_lock = threading.Lock()


def say(line: str, out: IO[str] | None = None) -> None:
    with _print_lock:
        stream = out or sys.stdout
        stream.write(line if line.endswith("\n") else line + "\n")
        stream.flush()


@dataclass
class Child:
    name: str
    kind: str  # nginx / node / worker
    proc: subprocess.Popen
    pump: threading.Thread = field(init=False)

    def __post_init__(self) -> None:
        self.pump = threading.Thread(target=self._pump, name=f"pump-{self.name}", daemon=True)
        self.pump.start()

    def _pump(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            say(f"{self.name:<9}| {line.rstrip()}")

    def signal(self, sig: int) -> None:
        if self.proc.poll() is None:
            try:
                self.proc.send_signal(sig)
            except ProcessLookupError:
                pass


def spawn(name: str, kind: str, cmd: list[str], env: dict[str, str]) -> Child:
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, encoding="utf-8", errors="replace", bufsize=1)
    return Child(name, kind, proc)


def run_step(what: str, cmd: list[str], env: dict[str, str]) -> None:
    say(f"stack    | {what}: {' '.join(cmd[2:] if cmd[:2] == [sys.executable, '-m'] else cmd)}")
    done = subprocess.run(cmd, cwd=ROOT, env=env, stdin=subprocess.DEVNULL, capture_output=True, text=True, check=False)
    for line in (done.stdout + done.stderr).splitlines():
        say(f"{what:<9}| {line}")
    if done.returncode != 0:
        raise StackError(f"{what} failed (exit {done.returncode})")


def flask(*args: str) -> list[str]:
    return [sys.executable, "-m", "flask", "--app", "wsgi", *args]


def wait_http(url: str, child: Child, deadline: float, stop: threading.Event, cafile: Path | None = None) -> bool:
    """True once `url` answers 200; False if a stop was asked meanwhile."""
    import ssl

    import httpx

    verify: ssl.SSLContext | bool = ssl.create_default_context(cafile=str(cafile)) if cafile else False
    last = "no answer"
    while time.monotonic() < deadline:
        if stop.is_set():
            return False
        if child.proc.poll() is not None:
            raise StackError(f"{child.name} exited (code {child.proc.returncode}) before it answered {url}")
        try:
            r = httpx.get(url, verify=verify, timeout=2, trust_env=False)
            if r.status_code == 200:
                return True
            last = f"HTTP {r.status_code}"
        except httpx.HTTPError as exc:
            last = str(exc) or type(exc).__name__
        time.sleep(0.2)
    raise StackError(f"{child.name} did not answer {url} in time ({last})")


class Stack:
    def __init__(self, args: argparse.Namespace, env: dict[str, str]):
        self.args = args
        self.env = env
        self.runtime: Path = args.runtime_dir
        self.children: list[Child] = []
        self.stopping = threading.Event()
        self.cert: Path | None = None

    # start --------------------------------------------------------------------------------------
    def start(self) -> None:
        args, env, runtime = self.args, self.env, self.runtime
        nginx = find_nginx(args.nginx)
        check_ports_free([args.port, *args.app_ports])
        check_redis(env["REDIS_URL"])
        prepare_runtime(runtime)
        run_step("migrate", flask("db", "upgrade"), env)
        if args.seed_demo:
            run_step("seed-demo", flask("seed-demo"), env)
        self.cert, key = make_certificate(runtime / "tls")
        conf = runtime / "nginx" / "nginx.conf"
        conf.write_text(render_nginx_conf(runtime=runtime, port=args.port, app_ports=args.app_ports, cert=self.cert,
                                          key=key, version=nginx_version(nginx)), encoding="utf-8")
        test = subprocess.run([*nginx_command(nginx, runtime)[:-2], "-t", "-q"], capture_output=True, text=True, check=False)
        if test.returncode != 0:
            raise StackError(f"nginx refuses {conf}: {test.stderr.strip()}")

        deadline = time.monotonic() + args.ready_timeout
        nodes = []
        for i, port in enumerate(args.app_ports, start=1):
            name = f"node-{i}"
            node_env = dict(env, PORT=str(port), GUNICORN_NAME=f"afterdesk-{name}",
                            GUNICORN_ACCESS_LOG=str(runtime / "logs" / f"{name}.access.log"),
                            GUNICORN_CONTROL_SOCKET=str(runtime / f"{name}.ctl"))
            child = spawn(name, "node", [sys.executable, "-m", "gunicorn", "-c", str(DEPLOY / "gunicorn.conf.py"),
                                         "wsgi:app"], node_env)
            self.children.append(child)
            nodes.append((child, port))
        for i in range(1, args.workers + 1):
            self.children.append(spawn(f"worker-{i}", "worker", flask("worker"), env))
        for child, port in nodes:
            if not wait_http(f"http://{LOOPBACK}:{port}/healthz", child, deadline, self.stopping):
                return
        front = spawn("nginx", "nginx", nginx_command(nginx, runtime), env)
        self.children.append(front)
        if not wait_http(f"https://{LOOPBACK}:{args.port}/healthz", front, deadline, self.stopping, cafile=self.cert):
            return
        say(f"stack    | AfterDesk is up: https://{LOOPBACK}:{args.port}/  "
            f"(nodes on {', '.join(str(p) for p in args.app_ports)}; payout workers: {args.workers}; "
            f"certificate {self.cert}; logs in {runtime / 'logs'})")

    # run and stop --------------------------------------------------------------------------------
    def watch(self) -> int:
        """Until a signal or a death: 0 after a requested stop, 1 when a process died by itself."""
        while not self.stopping.is_set():
            for child in self.children:
                if child.proc.poll() is not None:
                    # Ctrl-C reaches the whole process group at once: a child may end a moment
                    # before this process's own handler has run.
                    if self.stopping.wait(1.0):
                        return 0
                    say(f"stack    | {child.name} exited (code {child.proc.returncode}); stopping the rest")
                    return 1
            self.stopping.wait(0.5)
        return 0

    def on_signal(self, signum: int, _frame: object) -> None:
        if signum == signal.SIGHUP:
            for child in self.children:
                if child.kind in ("nginx", "node"):
                    child.signal(signal.SIGHUP)
            say("stack    | SIGHUP passed on to nginx and the gunicorn masters")
            return
        if not self.stopping.is_set():
            say(f"stack    | {signal.Signals(signum).name}: stopping")
        self.stopping.set()

    def stop(self) -> None:
        """nginx first (no new requests), then the nodes (finish what is in flight), then the workers
        (finish their round); whatever is still running after the timeout is killed."""
        deadline = time.monotonic() + STOP_TIMEOUT_SECONDS
        for kind, sig in (("nginx", signal.SIGQUIT), ("node", signal.SIGTERM), ("worker", signal.SIGTERM)):
            group = [c for c in self.children if c.kind == kind]
            for child in group:
                child.signal(sig)
            for child in group:
                try:
                    child.proc.wait(timeout=max(0.1, deadline - time.monotonic()))
                except subprocess.TimeoutExpired:
                    say(f"stack    | {child.name} did not stop in time: killed")
                    child.proc.kill()
                    child.proc.wait()
        for child in self.children:
            child.pump.join(timeout=2)
        if self.children:
            say("stack    | stopped")


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        env, notes = stack_environment(dict(os.environ), args.gunicorn_workers)
    except StackError as exc:
        say(f"stack: {exc}", sys.stderr)
        return 2
    for note in notes:
        say(f"stack    | {note}")
    stack = Stack(args, env)
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, stack.on_signal)
    code = 0
    try:
        stack.start()
        code = stack.watch()
    except StackError as exc:
        say(f"stack: {exc}", sys.stderr)
        code = 2
    finally:
        stack.stop()
    return code


if __name__ == "__main__":
    sys.exit(main())
