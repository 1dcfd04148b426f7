"""Who trains a run: a worker id names the machine, the process-id namespace and the process, so a run whose
worker process is gone from this machine can be told at once (ftbot/storage/runs.py reaps it)."""

from __future__ import annotations

import os
import socket
import uuid
from pathlib import Path


def new_worker_id() -> str:
    """place:pid:random, so a run's row says which process on which machine trains it."""
    return f"{_this_place()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def _this_place() -> str:
    """The host name, and on Linux the process-id namespace too: two containers may share a host name (host
    networking) while their process ids are separate, and only a process in the same place can be looked up."""
    try:
        namespace = f"/{os.stat('/proc/self/ns/pid').st_ino}"
    except OSError:
        namespace = ""
    return socket.gethostname() + namespace


def worker_process_gone(worker_id: str) -> bool:
    """True when the worker ran here (same host and process namespace) and its process no longer exists or is
    a zombie; False when it is alive, or ran elsewhere (there only the heartbeat timeout can tell)."""
    place, pid = place_and_pid(worker_id)
    if place != _this_place() or pid is None:
        return False
    try:
        os.kill(pid, 0)  # signal 0: nothing is sent, only whether the process exists
    except ProcessLookupError:
        return True
    except PermissionError:
        return False  # it exists, under another user
    try:  # killed but not yet waited for by its parent: it will never beat again
        return Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0] == "Z"
    except OSError:
        return False


def place_and_pid(worker_id: str) -> tuple[str, int | None]:
    """new_worker_id's parts: where the worker ran, and its process id (None if the id is not ours)."""
    place, _, rest = worker_id.partition(":")
    pid = rest.partition(":")[0]
    return place, int(pid) if pid.isdigit() else None
