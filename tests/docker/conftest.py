"""The Docker tier (``make test-docker``): a Docker engine of its own, the stand-in base images,
the project's image built from ``docker/Dockerfile`` unchanged, and ``docker/compose.yaml`` brought
up unchanged (migrate, api, worker x2, beat, redis with its append-only file, postgres, flower).

The engine is a ``dockerd`` started here, as root, in a temporary folder (its own socket, data
and image store: the user's engine and images are never touched), with the default
bridge network, so the Compose file's own network and service names work as written. Everything
the tier starts (containers, volumes, the engine, the docker0 bridge, the folder) is stopped and
removed at the end, also when a step fails. If the engine cannot start, the tier fails; it never
skips. Storage is overlay2 where the machine can mount an overlay (ext4 here), vfs otherwise: vfs
copies every layer in full for each layer and container, and with it the tier once filled the
disk (about 47 GB for this stack), so the tier also checks the free space before it starts.
Set ``GRIDIMPACT_DOCKER_ROOT`` to keep the engine's folder (and its built images) between
runs while working on the tier.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from impact_service.client import ApiClient
from impact_service.redis_server import free_port

REPO = Path(__file__).resolve().parents[2]
PROJECT = "gitier"
IMAGES = ("python:3.11-slim-bookworm", "redis:7.4-alpine", "postgres:16-alpine", "mher/flower:2.0")
_REPORT: list[str] = []
NEED_GIB = {"overlay2": 8, "vfs": 60}  # measured: overlay2 2.2 GB at the end of the tier, vfs 47 GB
_CA = Path("/etc/ssl/certs/ca-certificates.crt")  # the host's bundle, which pip needs to reach the index from here


def pytest_terminal_summary(terminalreporter: Any) -> None:
    """The build numbers the issue asks to see: image size, build times."""
    if _REPORT:
        terminalreporter.section("docker tier")
        for line in _REPORT:
            terminalreporter.write_line(line)


def _storage_driver(root: Path) -> str:
    """overlay2 when an overlay mounts in ``root`` (the engine's data folder), else vfs."""
    probe = Path(tempfile.mkdtemp(prefix="overlay-probe-", dir=root))
    parts = [probe / name for name in ("lower", "upper", "work", "merged")]
    for part in parts:
        part.mkdir()
    options = f"lowerdir={parts[0]},upperdir={parts[1]},workdir={parts[2]}"
    mounted = subprocess.run(["mount", "-t", "overlay", "overlay", "-o", options, str(parts[3])],
                             capture_output=True, timeout=30, check=False).returncode == 0  # fmt: skip
    if mounted:
        subprocess.run(["umount", str(parts[3])], capture_output=True, timeout=30, check=False)
    shutil.rmtree(probe, ignore_errors=True)
    return "overlay2" if mounted else "vfs"


def _check_free_disk(root: Path, *, driver: str) -> None:
    """Fail before building when the disk cannot hold the stack (vfs needs many times more)."""
    need_gib = NEED_GIB[driver]
    free_gib = shutil.disk_usage(root).free / 2**30
    if free_gib < need_gib:
        pytest.fail(f"the Docker tier needs about {need_gib} GiB free under {root} with {driver} storage; "
                    f"{free_gib:.1f} GiB are free: free some space or point GRIDIMPACT_DOCKER_ROOT elsewhere")  # fmt: skip


def _unmount_below(root: Path) -> None:
    """Mounts an engine leaves behind (network namespaces, overlays) would stop the folder's removal."""
    mounts = [line.split()[1] for line in Path("/proc/mounts").read_text().splitlines()]
    for point in sorted((m for m in mounts if m.startswith(f"{root}/")), reverse=True):
        subprocess.run(["umount", "-l", point], capture_output=True, timeout=30, check=False)


def _run(argv: list[str], *, env: dict[str, str], timeout_s: float, check: bool = True, cwd: Path = REPO) -> str:
    done = subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout_s, check=False)
    if check and done.returncode != 0:
        raise AssertionError(f"{' '.join(argv)} exited {done.returncode}:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}")
    return done.stdout


@dataclass
class Engine:
    """A dockerd of the tier's own, and the environment that points the clients at it."""

    root: Path
    keep: bool
    process: subprocess.Popen[bytes] | None = None
    env: dict[str, str] = field(default_factory=dict)
    made_bridge: bool = False  # docker0 did not exist before this engine (a host's own engine keeps its bridge)

    def start(self) -> None:
        if shutil.which("dockerd") is None:
            pytest.fail("dockerd is not installed: `make test-docker` installs Debian's docker.io (run it as root)")
        socket = self.root / "docker.sock"
        client = "/usr/bin/docker" if Path("/usr/bin/docker").exists() else shutil.which("docker") or "docker"
        self.env = {
            **os.environ,
            "DOCKER_HOST": f"unix://{socket}",
            "DOCKER_BUILDKIT": "1",
            # Debian's docker client (20.10) drives the engine's built-in BuildKit; a newer client
            # earlier on PATH would need the buildx plugin
            "PATH": f"{Path(client).parent}:{os.environ['PATH']}",
        }
        driver = _storage_driver(self.root)
        _check_free_disk(self.root, driver=driver)
        _REPORT.append(f"storage driver: {driver}")
        self.made_bridge = not Path("/sys/class/net/docker0").exists()
        log = (self.root / "dockerd.log").open("ab")
        self.process = subprocess.Popen(
            ["dockerd", f"--storage-driver={driver}", f"--data-root={self.root / 'data'}", f"--exec-root={self.root / 'exec'}",
             f"--pidfile={self.root / 'dockerd.pid'}", "-H", f"unix://{socket}"],
            stdout=log, stderr=log, start_new_session=True,
        )  # fmt: skip
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                break
            if subprocess.run(["docker", "info"], env=self.env, capture_output=True, timeout=30, check=False).returncode == 0:
                return
            time.sleep(1)
        tail = (self.root / "dockerd.log").read_text(errors="replace")[-3000:]
        pytest.fail(f"the Docker engine did not start on this machine:\n{tail}")

    def docker(self, *argv: str, timeout_s: float = 300, check: bool = True) -> str:
        return _run(["docker", *argv], env=self.env, timeout_s=timeout_s, check=check)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=30)
        if self.made_bridge:  # the engine leaves it behind
            subprocess.run(["ip", "link", "delete", "docker0"], capture_output=True, timeout=30, check=False)
        if not self.keep:
            _unmount_below(self.root)
            shutil.rmtree(self.root, ignore_errors=True)


@dataclass
class Fleet:
    """The Compose stack, and an API client with a key made the documented way."""

    engine: Engine
    env_file: Path
    api_port: int
    flower_port: int
    passwords: dict[str, str]
    key: str = ""

    def compose(self, *argv: str, timeout_s: float = 600, check: bool = True) -> str:
        command = ["docker-compose", "-f", "docker/compose.yaml", "--env-file", str(self.env_file), "-p", PROJECT, *argv]
        return _run(command, env=self.engine.env, timeout_s=timeout_s, check=check)

    def containers(self, service: str) -> list[str]:
        """Names of the running containers of a service."""
        labels = [f"label=com.docker.compose.project={PROJECT}", f"label=com.docker.compose.service={service}"]
        names = self.engine.docker("ps", "--filter", labels[0], "--filter", labels[1], "--format", "{{.Names}}")
        return sorted(names.split())

    def container_id(self, name: str) -> str:
        return self.engine.docker("inspect", "-f", "{{.Id}}", name).strip()

    def sql(self, query: str) -> list[list[str]]:
        """Rows of a query on the stack's PostgreSQL (as text)."""
        out = self.engine.docker("exec", self.containers("postgres")[0], "psql", "-U", "gridimpact", "-d", "gridimpact",
                                 "-At", "-F", "\t", "-c", query)  # fmt: skip
        return [line.split("\t") for line in out.splitlines() if line]

    def client(self, key: str | None = None) -> ApiClient:
        return ApiClient(f"http://127.0.0.1:{self.api_port}", key if key is not None else self.key, timeout_s=60)

    def wait_ready(self, *, workers: int, timeout_s: float = 300) -> None:
        """The API answers /readyz, ``workers`` worker containers and every other long-running
        service (api, beat, flower, redis, postgres) pass their own healthchecks."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            try:
                api_ready = httpx.get(f"http://127.0.0.1:{self.api_port}/readyz", timeout=3).status_code == 200
            except httpx.HTTPError:
                api_ready = False
            healthy = [name for name in self.containers("worker") if self.health(name) == "healthy"]
            others = [self.containers(service) for service in ("api", "beat", "flower", "redis", "postgres")]
            services_healthy = all(names and all(self.health(n) == "healthy" for n in names) for names in others)
            if api_ready and len(healthy) >= workers and services_healthy:
                return
            time.sleep(2)
        raise AssertionError(f"the stack was not ready in {timeout_s:.0f} s:\n{self.compose('ps', check=False)}")

    def health(self, name: str) -> str:
        state = json.loads(self.engine.docker("inspect", "-f", "{{json .State}}", name))
        return str(state.get("Health", {}).get("Status", state.get("Status")))


def _timed(label: str, began: float) -> None:
    _REPORT.append(f"{label}: {time.monotonic() - began:.0f} s")


def _interrupt(signum: int, _frame: object) -> None:
    """A CI timeout or ``kill`` (SIGTERM, SIGHUP) stops the tier like Ctrl-C: pytest then runs the
    fixtures' teardown, which removes the stack and stops the engine (its own session would
    otherwise outlive the tier)."""
    raise KeyboardInterrupt(f"signal {signum}")


@pytest.fixture(scope="session")
def engine() -> Iterator[Engine]:
    kept = os.environ.get("GRIDIMPACT_DOCKER_ROOT")
    root = Path(kept) if kept else Path(tempfile.mkdtemp(prefix="gridimpact-docker-"))
    root.mkdir(parents=True, exist_ok=True)
    engine = Engine(root=root, keep=bool(kept))
    previous = {sig: signal.signal(sig, _interrupt) for sig in (signal.SIGTERM, signal.SIGHUP)}
    try:
        began = time.monotonic()
        engine.start()
        _timed("engine started", began)
        missing = [image for image in IMAGES if engine.docker("images", "-q", image).strip() == ""]
        if missing:
            began = time.monotonic()
            env = {**engine.env, "PIP_CA": str(_CA)} if _CA.exists() else engine.env
            _run(["docker/standins/build.sh", str(root / "bases")], env=env, timeout_s=900)
            _timed("stand-in base images built (docker/standins/build.sh)", began)
        began = time.monotonic()
        secret = ["--secret", f"id=pip-ca,src={_CA}"] if _CA.exists() else []  # pip's trust, never in a layer
        build = ["build", "--network", "host", *secret, "-f", "docker/Dockerfile", "-t", "gridimpact:latest", "."]
        engine.docker(*build, timeout_s=1500)
        _timed("image gridimpact:latest built", began)
        size_mb = int(engine.docker("image", "inspect", "-f", "{{.Size}}", "gridimpact:latest")) / 1e6
        _REPORT.append(f"image gridimpact:latest: {size_mb:,.0f} MB")
        yield engine
    finally:
        used = subprocess.run(["du", "-sh", str(root / "data")], capture_output=True, text=True, timeout=300, check=False)
        _REPORT.append(f"engine's data folder at the end: {used.stdout.split()[0] if used.stdout else '?'}")
        engine.stop()
        for sig, handler in previous.items():
            signal.signal(sig, handler)


@pytest.fixture(scope="session")
def fleet(engine: Engine, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Fleet]:
    env_file = tmp_path_factory.mktemp("compose") / "env"
    api_port, flower_port = free_port(), free_port()
    passwords = {name: secrets.token_hex(12) for name in ("POSTGRES_PASSWORD", "REDIS_PASSWORD", "FLOWER_PASSWORD")}
    settings = {**passwords, "API_BIND": "127.0.0.1", "API_PORT": str(api_port), "FLOWER_PORT": str(flower_port)}
    env_file.write_text("".join(f"{name}={value}\n" for name, value in settings.items()))  # all traffic stays on this machine
    env_file.chmod(0o600)
    fleet = Fleet(engine=engine, env_file=env_file, api_port=api_port, flower_port=flower_port, passwords=passwords)
    try:
        began = time.monotonic()
        fleet.compose("up", "-d", "--no-build", "--scale", "worker=2")
        fleet.wait_ready(workers=2)
        _timed("stack up and healthy (worker x2)", began)
        yield fleet
    finally:
        logs = fleet.compose("logs", "--no-color", "--tail", "40", check=False, timeout_s=120)
        (REPO / "out").mkdir(exist_ok=True)
        (REPO / "out" / "docker-tier.log").write_text(logs)
        fleet.compose("down", "--volumes", "--remove-orphans", "--timeout", "20", check=False, timeout_s=300)
