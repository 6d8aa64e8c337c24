"""Run the channel simulator (`python -m channelsim`) as a real subprocess and drive its /_control/ API.

    with ChannelSim(tmp_path, secret="s3cret") as sim:
        sim.faults(hold_submits=True); ...; sim.wait_held(1); sim.release()
"""
from __future__ import annotations

import json
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx

from webapp.channel import protocol

ROOT = Path(__file__).resolve().parent.parent


def wait_until(predicate, timeout: float = 5.0, interval: float = 0.02, what: str = "condition"):
    """Poll `predicate` until it returns something truthy (returned), or fail after `timeout`."""
    deadline = time.monotonic() + timeout
    while True:
        result = predicate()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)


class ChannelSim:
    def __init__(self, workdir: Path, secret: str = "test-channel-secret", *, faults: dict | None = None,
                 ticker: bool = False, port: int = 0, startup_timeout: float = 15.0):
        self.workdir = Path(workdir)
        self.db_path = self.workdir / "channelsim.db"
        self.log_path = self.workdir / "channelsim.log"
        self.secret, self.start_faults, self.ticker = secret, faults or {}, ticker
        self.port, self.startup_timeout = port, startup_timeout
        self.proc: subprocess.Popen | None = None
        self._virtual: float | None = None  # the channel's frozen clock, to sign control calls with
        self._http = httpx.Client(timeout=10.0, trust_env=False)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    # -- process
    def start(self) -> ChannelSim:
        args = [sys.executable, "-m", "channelsim", "--host", "127.0.0.1", "--port", str(self.port),
                "--db", str(self.db_path), "--faults", json.dumps(self.start_faults)]
        if not self.ticker:
            args.append("--no-ticker")
        env = dict(os.environ, CHANNEL_SECRET=self.secret,
                   PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])))
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(args, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=log,
                                         stdin=subprocess.DEVNULL, text=True)
        lines: queue.Queue[str] = queue.Queue()
        threading.Thread(target=lambda: lines.put(self.proc.stdout.readline()), daemon=True).start()
        try:
            line = lines.get(timeout=self.startup_timeout)
        except queue.Empty:
            line = ""
        if "listening on http://127.0.0.1:" not in line:
            self.kill()
            raise RuntimeError(f"channelsim did not start: {line!r}; log:\n{self.log_path.read_text()}")
        self.port = int(line.rsplit(":", 1)[1])
        self._virtual = None  # a new process runs on the wall clock
        return self

    def kill(self) -> None:
        """SIGKILL: a crash, nothing flushed on purpose."""
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(timeout=10)

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.kill()
        if self.proc and self.proc.stdout:
            self.proc.stdout.close()

    def restart(self) -> ChannelSim:
        """Kill and start again on the same port and database file."""
        self.kill()
        if self.proc and self.proc.stdout:
            self.proc.stdout.close()
        return self.start()

    def __enter__(self) -> ChannelSim:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
        self._http.close()

    # -- control API
    def now(self) -> float:
        """The channel's clock as far as this helper knows."""
        return time.time() if self._virtual is None else self._virtual

    def call(self, method: str, path: str, body: dict | None = None, *, signed: bool = True) -> httpx.Response:
        content = json.dumps(body).encode() if body is not None else b""
        headers = protocol.sign(self.secret, method, path, content, int(self.now())) if signed else {}
        return self._http.request(method, self.url + path, content=content, headers=headers)

    def _control(self, method: str, path: str, body: dict | None = None) -> dict:
        response = self.call(method, "/_control/" + path, body)
        assert response.status_code == 200, (path, response.status_code, response.text)
        return response.json()

    def faults(self, **changes) -> dict:
        return self._control("POST", "faults", changes)

    def release(self) -> dict:
        return self._control("POST", "release")

    def held(self) -> dict:
        return self._control("GET", "held")

    def wait_held(self, n: int = 1, timeout: float = 5.0) -> dict:
        return wait_until(lambda: (h := self.held())["held"] >= n and h, timeout, what=f"{n} held submit(s)")

    def tick(self) -> dict:
        return self._control("POST", "tick")

    def clock(self, now: float | None = None, advance: float | None = None, real: bool | None = None) -> dict:
        answer = self._control("POST", "clock", {"now": now, "advance": advance, "real": real})
        self._virtual = answer["now"] if answer["frozen"] else None
        return answer

    def transfers(self) -> dict:
        """{"transfers": [...], "events": [...], "counters": {...}}"""
        return self._control("GET", "transfers")
