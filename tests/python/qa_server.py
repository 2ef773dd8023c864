"""The embedded server (`questdb-arrow serve` on a free port) and ADBC
connections to it through the driver library loaded by path, for the
suite's fixtures and for bench.py.

Paths come from the environment (`.ci/run` sets them):

- `QA_SERVER_BIN`: the `questdb-arrow` binary (built with `--features cli`);
- `QA_ADBC_LIB`: the driver library, `libquestdb_arrow_adbc.so`.

Without them both are looked up under `$CARGO_TARGET_DIR` (default
`~/.cache/questdb-arrow-target`), in `debug/`.
"""

import os
import pathlib
import re
import subprocess
import threading

import adbc_driver_manager.dbapi as dbapi

TARGET = pathlib.Path(
    os.environ.get(
        "CARGO_TARGET_DIR",
        pathlib.Path.home() / ".cache" / "questdb-arrow-target",
    )
)


def _path(env: str, default: pathlib.Path) -> str:
    path = pathlib.Path(os.environ.get(env, default))
    if not path.is_file():
        raise FileNotFoundError(f"{env}: no file {path} (build it, or set {env})")
    return str(path)


def server_bin() -> str:
    """The `questdb-arrow` binary."""
    return _path("QA_SERVER_BIN", TARGET / "debug" / "questdb-arrow")


def adbc_lib() -> str:
    """The ADBC driver library."""
    return _path("QA_ADBC_LIB", TARGET / "debug" / "libquestdb_arrow_adbc.so")


class Server:
    """A running `questdb-arrow serve`; `conf` is its connect string."""

    def __init__(self) -> None:
        self.proc = subprocess.Popen(
            [server_bin(), "serve", "--bind", "127.0.0.1:0"],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        line = self.proc.stdout.readline() if self.proc.stdout else ""
        found = re.search(r"connect string: (\S+;)", line)
        if not found:
            self.proc.kill()
            raise RuntimeError(f"the server did not say where it listens: {line!r}")
        self.conf = found.group(1)
        self.addr = re.search(r"addr=([^;]+);", self.conf).group(1)
        # Keep reading its output so it never blocks on a full pipe.
        self.log: list[str] = []
        threading.Thread(target=self._drain, daemon=True).start()

    def _drain(self) -> None:
        for line in self.proc.stdout or []:
            self.log.append(line)

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def connect(srv: Server) -> dbapi.Connection:
    """A DBAPI connection through the driver library."""
    return dbapi.connect(
        driver=adbc_lib(),
        db_kwargs={"uri": srv.conf},
        autocommit=True,
    )


def vm_hwm_bytes() -> int:
    """This process's peak resident set size (VmHWM), in bytes."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    raise RuntimeError("no VmHWM in /proc/self/status")
