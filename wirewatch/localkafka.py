"""A single-node KRaft Apache Kafka broker run from Apache's own jars, for development and tests.

No Docker engine is needed: Maven resolves ``kafka_2.13`` and its runtime dependencies from Maven
Central once (``deploy/kafka/pom.xml``), and the broker runs as ``java -cp 'libs/*' kafka.Kafka``.
The jars are shared by every instance; each instance owns a data folder holding its storage, its
rendered ``server.properties``, its log and its pid file.
"""

from __future__ import annotations

import base64
import contextlib
import os
import shutil
import signal
import socket
import subprocess
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

from wirewatch.errors import LocalKafkaError

DEPLOY_KAFKA_DIR = Path(__file__).resolve().parent.parent / "deploy" / "kafka"
_JARS_COMPLETE_MARKER = ".complete"


def default_home() -> Path:
    """Where Wirewatch keeps local state: ``$WIREWATCH_HOME`` or ``~/.cache/wirewatch``."""
    configured = os.environ.get("WIREWATCH_HOME")
    return Path(configured) if configured else Path.home() / ".cache" / "wirewatch"


def kafka_version() -> str:
    """The broker version pinned in the pom (one place to change it)."""
    pom = (DEPLOY_KAFKA_DIR / "pom.xml").read_text()
    start = pom.index("<kafka.version>") + len("<kafka.version>")
    return pom[start : pom.index("</kafka.version>", start)].strip()


def ensure_jars(home: Path | None = None) -> Path:
    """Download the broker jars on first use and return the folder that holds them.

    A marker file is written only after Maven succeeded, so an interrupted download is redone
    rather than half-used.
    """
    libs = (home or default_home()) / f"kafka-{kafka_version()}" / "libs"
    if (libs / _JARS_COMPLETE_MARKER).exists():
        return libs
    mvn = shutil.which("mvn")
    if mvn is None:
        msg = "Maven ('mvn') is not on PATH; it is needed once to download the Kafka jars"
        raise LocalKafkaError(msg)
    if libs.exists():
        shutil.rmtree(libs)
    libs.mkdir(parents=True)
    command = [
        mvn,
        "-q",
        "-B",
        "-f",
        str(DEPLOY_KAFKA_DIR / "pom.xml"),
        "dependency:copy-dependencies",
        "-DincludeScope=runtime",
        f"-DoutputDirectory={libs}",
    ]
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        tail = (result.stdout + result.stderr)[-2000:]
        msg = f"Maven could not resolve the Kafka jars (exit {result.returncode}):\n{tail}"
        raise LocalKafkaError(msg)
    (libs / _JARS_COMPLETE_MARKER).touch()
    return libs


def _new_cluster_id() -> str:
    # 16 random bytes, URL-safe base64 without padding; a leading '-' would read as a CLI flag.
    while True:
        cluster_id = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        if not cluster_id.startswith("-"):
            return cluster_id


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie child still "exists"; reap it so that a stopped broker reads as stopped.
    with contextlib.suppress(ChildProcessError):
        waited_pid, _ = os.waitpid(pid, os.WNOHANG)
        if waited_pid == pid:
            return False
    return True


def broker_answers(bootstrap: str, timeout_s: float = 5.0) -> bool:
    """True when the broker at ``bootstrap`` answers a metadata request."""
    from kafka import KafkaAdminClient
    from kafka.errors import KafkaError

    try:
        admin = KafkaAdminClient(
            bootstrap_servers=bootstrap,
            request_timeout_ms=int(timeout_s * 1000),
            client_id="wirewatch-probe",
        )
    except (KafkaError, OSError, ValueError):
        return False
    try:
        admin.describe_cluster()
        return True
    except (KafkaError, OSError):
        return False
    finally:
        admin.close()


@dataclass(frozen=True)
class BrokerStatus:
    """What ``wirewatch kafka status`` reports."""

    running: bool
    pid: int | None
    bootstrap: str
    answers: bool
    data_dir: Path


class LocalKafka:
    """One local broker instance, identified by its data folder.

    ``start`` is idempotent: a broker already running from the same folder is reused. The ports are
    remembered in the folder so that ``status`` and ``stop`` need only the folder.
    """

    def __init__(
        self,
        data_dir: Path | None = None,
        port: int | None = None,
        controller_port: int | None = None,
        heap: str = "512m",
        home: Path | None = None,
    ) -> None:
        self.home = home or default_home()
        self.data_dir = data_dir or self.home / "broker"
        self._port = port
        self._controller_port = controller_port
        self.heap = heap

    @property
    def _pid_file(self) -> Path:
        return self.data_dir / "broker.pid"

    @property
    def _ports_file(self) -> Path:
        return self.data_dir / "ports"

    @property
    def log_file(self) -> Path:
        """The broker's own log (stdout and stderr of the JVM)."""
        return self.data_dir / "broker.log"

    def _ports(self) -> tuple[int, int]:
        if self._ports_file.exists():
            stored_port, stored_controller = self._ports_file.read_text().split()
            return int(stored_port), int(stored_controller)
        return self._port or 9092, self._controller_port or 9093

    @property
    def bootstrap(self) -> str:
        """``host:port`` clients connect to."""
        return f"127.0.0.1:{self._ports()[0]}"

    def pid(self) -> int | None:
        """The broker's pid if it is running, else None."""
        if not self._pid_file.exists():
            return None
        pid = int(self._pid_file.read_text().strip() or 0)
        return pid if pid and _pid_alive(pid) else None

    def status(self) -> BrokerStatus:
        """Whether the process runs and whether it answers a metadata request."""
        pid = self.pid()
        answers = pid is not None and broker_answers(self.bootstrap, timeout_s=3.0)
        return BrokerStatus(pid is not None, pid, self.bootstrap, answers, self.data_dir)

    def _render_properties(self, port: int, controller_port: int) -> Path:
        template = (DEPLOY_KAFKA_DIR / "server.properties.template").read_text()
        rendered = template.format(
            port=port, controller_port=controller_port, log_dir=self.data_dir / "kraft-logs"
        )
        properties = self.data_dir / "server.properties"
        properties.write_text(rendered)
        return properties

    def _java_command(self, libs: Path, *args: str) -> list[str]:
        java = shutil.which("java")
        if java is None:
            msg = "java is not on PATH; the local broker needs a JDK 17 or newer"
            raise LocalKafkaError(msg)
        return [
            java,
            f"-Xms{self.heap}",
            f"-Xmx{self.heap}",
            "-XX:+UseG1GC",
            "-Djava.awt.headless=true",
            f"-Dlog4j2.configurationFile={DEPLOY_KAFKA_DIR / 'log4j2.yaml'}",
            f"-Dkafka.logs.dir={self.data_dir / 'logs'}",
            "-cp",
            f"{libs}/*",
            *args,
        ]

    def start(self, wait_s: float = 90.0) -> BrokerStatus:
        """Fetch jars if needed, format storage once, start the broker, wait until it answers."""
        if self.pid() is not None:
            self.wait_until_ready(wait_s)
            return self.status()
        libs = ensure_jars(self.home)
        self.data_dir.mkdir(parents=True, exist_ok=True)
        port, controller_port = self._ports()
        self._ports_file.write_text(f"{port} {controller_port}\n")
        properties = self._render_properties(port, controller_port)
        if not (self.data_dir / "kraft-logs" / "meta.properties").exists():
            format_command = self._java_command(
                libs,
                "kafka.tools.StorageTool",
                "format",
                "-t",
                _new_cluster_id(),
                "-c",
                str(properties),
                "--ignore-formatted",
            )
            result = subprocess.run(format_command, capture_output=True, text=True, check=False)
            if result.returncode != 0:
                msg = f"formatting Kafka storage failed: {(result.stdout + result.stderr)[-2000:]}"
                raise LocalKafkaError(msg)
        with self.log_file.open("ab") as log:
            # A session of its own: Ctrl-C in the terminal that started it does not kill the broker
            # behind `wirewatch kafka stop`'s back.
            process = subprocess.Popen(
                self._java_command(libs, "kafka.Kafka", str(properties)),
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        self._pid_file.write_text(f"{process.pid}\n")
        self.wait_until_ready(wait_s)
        return self.status()

    def wait_until_ready(self, wait_s: float) -> None:
        """Block until the broker answers a metadata request; raise if it dies or times out."""
        deadline = time.monotonic() + wait_s
        while time.monotonic() < deadline:
            if self.pid() is None:
                msg = f"the Kafka broker exited during start-up; see {self.log_file}"
                raise LocalKafkaError(msg)
            if broker_answers(self.bootstrap, timeout_s=2.0):
                return
            time.sleep(0.5)
        msg = f"the Kafka broker did not answer within {wait_s:.0f}s; see {self.log_file}"
        raise LocalKafkaError(msg)

    def stop(self, wait_s: float = 30.0) -> bool:
        """SIGTERM the broker, SIGKILL it if it lingers; True if one was running."""
        pid = self.pid()
        if pid is None:
            self._pid_file.unlink(missing_ok=True)
            return False
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + wait_s
        while _pid_alive(pid) and time.monotonic() < deadline:
            time.sleep(0.2)
        if _pid_alive(pid):
            os.kill(pid, signal.SIGKILL)
            while _pid_alive(pid):
                time.sleep(0.1)
        self._pid_file.unlink(missing_ok=True)
        return True

    def destroy(self) -> None:
        """Stop the broker and delete its data folder (tests use a throwaway folder)."""
        self.stop()
        shutil.rmtree(self.data_dir, ignore_errors=True)
