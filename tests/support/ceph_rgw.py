"""A throwaway one-node Ceph cluster with a RADOS Gateway: a real S3 server for the test suite.

`CephRGW` builds a cluster in a temporary folder — one monitor, one OSD on `memstore` (nothing touches a
disk but the monitor's small store), one `radosgw` serving S3 on `127.0.0.1:<free port>` — creates an S3
user with known keys, and tears everything down again. Nothing outside the temporary folder is read or
written (`/etc/ceph` is never used), so several clusters can run side by side (e.g. one per xdist worker).

    with CephRGW() as rgw:
        boto3.client("s3", endpoint_url=rgw.endpoint_url, aws_access_key_id=rgw.access_key, ...)

The binaries come from Debian's `ceph-mon`, `ceph-osd` and `radosgw` packages (`scripts/install-ceph.sh`).
Settings that matter, learned the hard way:

- `mon host` lists both a msgr2 and a msgr1 address: with msgr1 only, the OSD fails with "wrong fsid".
- `auth ... required = none` also needs `ms mon client mode = crc`, or radosgw loops on auth error -13.
- `osd crush update on start` / `osd class update on start` are off; the OSD enters the CRUSH map by hand.
- Pools have one replica, and `paxos propose interval` is cut from 1 s to 10 ms: radosgw creates its pools
  one monitor command at a time, and by default each waits about a second (start-up ~9 s → under 1 s).

The daemons double-fork, so they are not our children: they are stopped by the pids in their pid files
(checked against `/proc/<pid>/cmdline`, so a recycled pid is never killed). A small watchdog process
cleans up too if the Python process that started the cluster dies without stopping it (even `kill -9`).

Run this file directly to start a server by hand: `python tests/support/ceph_rgw.py` prints the AWS
variables to use and serves until Ctrl-C.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path

#: Every binary the cluster needs (all from the Debian packages ceph-mon, ceph-osd, radosgw).
REQUIRED_BINARIES = ("ceph", "ceph-mon", "ceph-osd", "monmaptool", "radosgw", "radosgw-admin")

#: Test-only credentials of the S3 user the cluster creates. Never use them for anything real.
TEST_ACCESS_KEY = "LEXDPRTESTACCESSKEY0"
TEST_SECRET_KEY = "lexdpr-test-secret-key-do-not-use-000000"

_START_ATTEMPTS = 3
_PORT_CLASH = "Address already in use"

# Stop order: the gateway first, then the OSD while the monitor can still hear it say goodbye.
_DAEMONS = ("client.rgw", "osd.0", "mon.a")

_CONF = """\
[global]
fsid = {fsid}
mon host = [v2:127.0.0.1:{mon_v2},v1:127.0.0.1:{mon_v1}]
mon initial members = a
public addr = 127.0.0.1
auth cluster required = none
auth service required = none
auth client required = none
ms mon client mode = crc
ms bind retry count = 1
run dir = {root}/run
pid file = {root}/run/$name.pid
admin socket = {root}/run/$name.asok
log file = {root}/log/$name.log
log to stderr = false
err to stderr = false
keyring = {root}/keyring
mon data = {root}/mon/$name
osd data = {root}/osd/$name
osd objectstore = memstore
memstore device bytes = {store_bytes}
osd pool default size = 1
osd pool default min size = 1
osd pool default pg num = 8
osd pool default pgp num = 8
osd pool default pg autoscale mode = off
osd crush chooseleaf type = 0
osd crush update on start = false
osd class update on start = false
osd mon shutdown timeout = 0.5
mon allow pool size one = true
mon allow pool delete = true
mon max pg per osd = 1000
mon warn on pool no redundancy = false
mon warn on insecure global id reclaim = false
mon warn on insecure global id reclaim allowed = false
mon data avail warn = 1
mon data avail crit = 0
paxos propose interval = 0.01
paxos min wait = 0.01

[client.rgw]
rgw frontends = beast endpoint=127.0.0.1:{rgw_port} tcp_nodelay=1
rgw thread pool size = 32
rgw enable gc threads = false
rgw enable lc threads = false
rgw dynamic resharding = false
rgw enable usage log = false
"""


class CephRGWError(RuntimeError):
    """The cluster could not be started; the message carries the daemons' log tails."""


def missing_binaries() -> list[str]:
    """The required Ceph binaries that are not on PATH (empty when the cluster can run)."""
    return [name for name in REQUIRED_BINARIES if shutil.which(name) is None]


def _free_ports(count: int) -> list[int]:
    """`count` distinct TCP ports free on 127.0.0.1 right now (held open together, so they differ)."""
    sockets = []
    try:
        for _ in range(count):
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.bind(("127.0.0.1", 0))
            sockets.append(sock)
        return [s.getsockname()[1] for s in sockets]
    finally:
        for sock in sockets:
            sock.close()


def _short_tempdir(prefix: str) -> Path:
    """A new temp folder with a path short enough for Unix sockets (`run/client.rgw.asok` < 108 bytes)."""
    root = Path(tempfile.mkdtemp(prefix=prefix))
    if len(str(root)) > 70:
        shutil.rmtree(root, ignore_errors=True)
        root = Path(tempfile.mkdtemp(prefix=prefix, dir="/tmp"))
    return root


def _pid_alive(pid: int) -> bool:
    """True while `pid` runs (a zombie counts as gone: the daemons are not our children to reap)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return False
    except OSError:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        return True
    return state not in {"Z", "X"}


def _owned_pid(root: Path, name: str) -> int | None:
    """The live pid in `run/{name}.pid`, if that process really is a daemon of this cluster."""
    try:
        pid = int((root / "run" / f"{name}.pid").read_text().strip())
    except (OSError, ValueError):
        return None
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return None
    return pid if f"{root}/ceph.conf".encode() in cmdline and _pid_alive(pid) else None


def stop_cluster(root: Path, grace_s: float = 3.0) -> None:
    """Stop the daemons of the cluster in `root` (SIGTERM, SIGKILL after `grace_s`); delete `root`."""
    for name in _DAEMONS:
        pid = _owned_pid(root, name)
        if pid is None:
            continue
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + grace_s
        while _pid_alive(pid) and time.monotonic() < deadline:
            time.sleep(0.05)
        if _pid_alive(pid):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
            deadline = time.monotonic() + 2.0
            while _pid_alive(pid) and time.monotonic() < deadline:
                time.sleep(0.02)
    shutil.rmtree(root, ignore_errors=True)


def _log_excerpt(log: Path, lines: int) -> list[str]:
    """The error lines of a daemon log, then its last `lines` lines (a crash's event dump left out)."""
    try:
        text = log.read_text(errors="replace")
    except OSError:
        return ["(no log file)"]
    body = text.split("--- begin dump of recent events ---", 1)[0].splitlines()
    errors = [line for line in body if " -1 " in line or "ERROR" in line or "FAILED" in line]
    tail = body[-lines:]
    out = []
    if errors:
        out += ["errors:", *errors[-10:], "last lines:"]
    out += tail
    if len(body) < len(text.splitlines()):
        out.append("(a crash dump follows in the log)")
    return out


class CephRGW:
    """One monitor, one memstore OSD and one radosgw, in a temp folder, on free ports of 127.0.0.1.

    Args:
        access_key / secret_key: the S3 user to create (the test keys by default).
        store_bytes: capacity of the in-memory OSD; memory is only used as objects are written.
        startup_timeout_s: how long `start()` may take before it gives up and shows the logs.
    """

    def __init__(
        self,
        access_key: str = TEST_ACCESS_KEY,
        secret_key: str = TEST_SECRET_KEY,
        store_bytes: int = 2 * 1024**3,
        startup_timeout_s: float = 90.0,
    ):
        self.access_key = access_key
        self.secret_key = secret_key
        self.region = "us-east-1"
        self.store_bytes = store_bytes
        self.startup_timeout_s = startup_timeout_s
        self.root: Path | None = None
        self.port: int | None = None
        self.startup_seconds: float | None = None
        self._watchdog: subprocess.Popen[bytes] | None = None
        self._env: dict[str, str] = {}

    # -- public API -----------------------------------------------------------------------------

    @property
    def endpoint_url(self) -> str:
        if self.port is None:
            raise CephRGWError("the RGW is not running")
        return f"http://127.0.0.1:{self.port}"

    def aws_env(self) -> dict[str, str]:
        """The standard AWS variables that point boto3 (and so `lexdpr.storage`) at this server."""
        return {
            "AWS_ENDPOINT_URL": self.endpoint_url,
            "AWS_ACCESS_KEY_ID": self.access_key,
            "AWS_SECRET_ACCESS_KEY": self.secret_key,
            "AWS_DEFAULT_REGION": self.region,
        }

    def start(self) -> CephRGW:
        """Create and start the cluster; return when S3 answers and the user exists."""
        missing = missing_binaries()
        if missing:
            raise CephRGWError(f"Ceph binaries not found on PATH: {', '.join(missing)}")
        if self.root is not None:
            raise CephRGWError(f"already started in {self.root}")
        began = time.monotonic()
        for attempt in range(1, _START_ATTEMPTS + 1):
            self.root = _short_tempdir("lexdpr-rgw-")
            try:
                self._start_watchdog()
                self._bootstrap(deadline=began + self.startup_timeout_s)
                break
            except BaseException as exc:
                report = self.diagnostics()
                self.stop()
                if not isinstance(exc, Exception):
                    raise
                # the free ports we picked can be taken before a daemon binds them: try fresh ones
                if attempt < _START_ATTEMPTS and _PORT_CLASH in report and time.monotonic() - began < 30:
                    continue
                if isinstance(exc, CephRGWError):
                    raise CephRGWError(f"{exc}\n{report}") from None
                raise CephRGWError(f"Ceph RGW failed to start: {exc!r}\n{report}") from exc
        self.startup_seconds = time.monotonic() - began
        return self

    def stop(self) -> None:
        """Stop all daemons and delete the temp folder; safe to call twice or after a failed start."""
        if self.root is not None:
            stop_cluster(self.root)
        self.root = None
        self.port = None
        if self._watchdog is not None:
            with contextlib.suppress(OSError):
                self._watchdog.stdin.close()  # type: ignore[union-attr]
            try:
                self._watchdog.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._watchdog.kill()
            self._watchdog = None

    def diagnostics(self, lines: int = 25) -> str:
        """The last `lines` of every daemon log and which daemons are running: for failure reports."""
        if self.root is None or not self.root.exists():
            return "(no cluster folder)"
        out = [f"Ceph cluster folder: {self.root} (removed after a failed start; its logs follow)"]
        for name in _DAEMONS:
            state = "running" if _owned_pid(self.root, name) else "not running"
            out.append(f"--- {name}: {state}; log {self.root / 'log' / (name + '.log')} ---")
            out.extend(line[:400] for line in _log_excerpt(self.root / "log" / f"{name}.log", lines))
        return "\n".join(out)

    def __enter__(self) -> CephRGW:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    # -- start-up steps -------------------------------------------------------------------------

    def _bootstrap(self, deadline: float) -> None:
        assert self.root is not None
        root = self.root
        for sub in ("run", "log", "mon/mon.a", "osd/osd.0"):
            (root / sub).mkdir(parents=True, exist_ok=True)
        mon_v2, mon_v1, self.port = _free_ports(3)
        fsid = str(uuid.uuid4())
        conf = root / "ceph.conf"
        conf.write_text(
            _CONF.format(
                fsid=fsid,
                root=root,
                mon_v2=mon_v2,
                mon_v1=mon_v1,
                rgw_port=self.port,
                store_bytes=self.store_bytes,
            )
        )
        # Ceph tools read CEPH_CONF and /etc/ceph otherwise; pin them to this cluster only.
        # The `ceph` CLI is a /usr/bin/python3 script: keep the test run's Python settings away from it.
        env = {k: v for k, v in os.environ.items() if k not in {"PYTHONPATH", "PYTHONHOME", "PYTHONSTARTUP"}}
        self._env = {**env, "CEPH_CONF": str(conf), "CEPH_ARGS": ""}
        c = ["-c", str(conf)]

        # 1. monitor
        monmap = root / "monmap"
        addrs = f"[v2:127.0.0.1:{mon_v2},v1:127.0.0.1:{mon_v1}]"
        self._run(
            ["monmaptool", "--create", "--fsid", fsid, "--addv", "a", addrs,
             "--enable-all-features", "--set-min-mon-release", "pacific", str(monmap)],
            deadline,
        )  # fmt: skip
        self._run(["ceph-mon", *c, "--mkfs", "-i", "a", "--monmap", str(monmap)], deadline)
        self._run(["ceph-mon", *c, "-i", "a"], deadline)  # forks into the background once listening
        self._check_alive("mon.a")

        # 2. OSD: register it, give it a CRUSH weight (update-on-start is off), make its store, start it
        osd_uuid = str(uuid.uuid4())
        osd_id = self._ceph(["osd", "new", osd_uuid], deadline).strip()
        if osd_id != "0":
            raise CephRGWError(f"expected OSD id 0 from `ceph osd new`, got {osd_id!r}")
        self._ceph(["osd", "crush", "add", "osd.0", "1.0", "root=default"], deadline)
        self._run(["ceph-osd", *c, "-i", "0", "--mkfs", "--osd-uuid", osd_uuid], deadline)
        self._run(["ceph-osd", *c, "-i", "0"], deadline)
        self._wait_osd_up(deadline)

        # 3. gateway: it creates its pools, then opens the HTTP port
        self._run(["radosgw", *c, "-n", "client.rgw"], deadline)
        self._wait_http(deadline)

        # 4. the S3 user with known keys (radosgw-admin talks to RADOS; the gateway sees it at once)
        self._run(
            ["radosgw-admin", *c, "user", "create", "--uid", "lexdpr-test", "--display-name", "lexdpr tests",
             "--access-key", self.access_key, "--secret-key", self.secret_key],
            deadline,
            secret=self.secret_key,
        )  # fmt: skip

    def _run(self, argv: list[str], deadline: float, secret: str | None = None) -> str:
        timeout = max(1.0, deadline - time.monotonic())
        try:
            proc = subprocess.run(
                argv, env=self._env, capture_output=True, text=True, timeout=timeout, check=False
            )
        except subprocess.TimeoutExpired:
            raise CephRGWError(f"timed out after {timeout:.0f} s: {self._show(argv, secret)}") from None
        if proc.returncode != 0:
            output = (proc.stderr.strip() + "\n" + proc.stdout.strip()).strip()
            if secret:
                output = output.replace(secret, "***")
            tail = "\n".join(output.splitlines()[-20:])
            raise CephRGWError(
                f"`{self._show(argv, secret)}` failed with exit code {proc.returncode}:\n{tail}"
            )
        return proc.stdout

    @staticmethod
    def _show(argv: list[str], secret: str | None) -> str:
        text = " ".join(argv)
        return text.replace(secret, "***") if secret else text

    def _ceph(self, args: list[str], deadline: float) -> str:
        """A `ceph` CLI command; a monitor that does not answer fails it in 20 s, not at the deadline."""
        timeout = str(max(1, min(20, int(deadline - time.monotonic()))))
        return self._run(
            ["ceph", "-c", self._env["CEPH_CONF"], "--connect-timeout", timeout, *args], deadline
        )

    def _check_alive(self, name: str) -> None:
        assert self.root is not None
        if _owned_pid(self.root, name) is None:
            raise CephRGWError(f"{name} exited during start-up")

    def _wait_osd_up(self, deadline: float) -> None:
        """Wait until the OSD reports itself up (its admin socket says 'active')."""
        import json

        assert self.root is not None
        asok = self.root / "run" / "osd.0.asok"
        while time.monotonic() < deadline:
            self._check_alive("osd.0")
            if asok.exists():
                proc = subprocess.run(
                    ["ceph", "--admin-daemon", str(asok), "status"],
                    env=self._env, capture_output=True, text=True, timeout=10, check=False,
                )  # fmt: skip
                if proc.returncode == 0:
                    with contextlib.suppress(ValueError):
                        if json.loads(proc.stdout).get("state") == "active":
                            return
            time.sleep(0.1)
        raise CephRGWError("timed out waiting for osd.0 to come up")

    def _wait_http(self, deadline: float) -> None:
        """Wait until the gateway answers an anonymous `GET /` (200 with an empty bucket list)."""
        url = self.endpoint_url + "/"
        while time.monotonic() < deadline:
            self._check_alive("client.rgw")
            try:
                with urllib.request.urlopen(url, timeout=2) as resp:
                    resp.read()
                return
            except urllib.error.HTTPError:
                return  # any HTTP answer means the frontend is serving
            except (urllib.error.URLError, ConnectionError, TimeoutError, OSError):
                time.sleep(0.1)
        raise CephRGWError(f"timed out waiting for the RGW to answer on {url}")

    # -- watchdog -------------------------------------------------------------------------------

    def _start_watchdog(self) -> None:
        """A child process that stops the cluster if this process dies without calling `stop()`.

        It blocks reading a pipe from us; the pipe closes when `stop()` runs or when we die for any
        reason. In its own session, so a Ctrl-C in the terminal reaches pytest (which cleans up) only.
        """
        assert self.root is not None
        self._watchdog = subprocess.Popen(
            [sys.executable, str(Path(__file__).resolve()), "--watch", str(self.root)],
            stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )


def _watch(root: Path) -> None:
    """Watchdog body: wait for the parent's pipe to close, then clean up what is left."""
    with contextlib.suppress(Exception):
        sys.stdin.buffer.read()
    if root.exists():
        stop_cluster(root)


def _serve() -> None:
    rgw = CephRGW()
    rgw.start()
    print(f"Ceph RGW up in {rgw.startup_seconds:.1f} s; folder {rgw.root}")
    for key, value in rgw.aws_env().items():
        print(f"export {key}={value}")
    try:
        signal.pause()
    except KeyboardInterrupt:
        pass
    finally:
        rgw.stop()


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--watch":
        _watch(Path(sys.argv[2]))
    else:
        _serve()
