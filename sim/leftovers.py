"""What an unclean exit leaves on a real server, and how the next run recovers.

A generator killed with SIGKILL (or whose machine died) cannot clean up. On a CARLA server it
leaves:
- synchronous mode with the generator's fixed time step: the simulation stands still until a
  client ticks it (other clients' `wait_for_tick()` time out);
- its three cameras and the props of the frame in progress: CARLA actors outlive the client
  that spawned them.

The next run recovers both before it makes a frame:
- when a run first connects it writes `<out>/.segood_sim_server_<host>_<port>.json` with the
  world settings it found; a clean exit restores them and removes the file. A run that finds
  the file knows the previous one exited uncleanly and restores *those* settings at its exit,
  not the synchronous ones it finds;
- it destroys every actor whose role_name is `segood_sim` (sim.session.ROLE).
Without the file (another --out), leftovers are still destroyed, and a server found in
synchronous mode next to leftovers is given back asynchronous mode at exit. So: one generator
per server (the README says so); a second one would destroy the first one's actors.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

from segood.io import atomic_write_text
from sim.session import ServerError, Session, describe

log = logging.getLogger("sim.generate")


def state_path(out: Path, host: str, port: int) -> Path:
    safe = "".join(c if c.isalnum() or c in "-." else "_" for c in host)
    return Path(out) / f".segood_sim_server_{safe}_{port}.json"


def begin(session: Session, out: Path) -> str | None:
    """Destroy leftovers, remember the settings to restore; a message when it recovered."""
    path = state_path(out, session.host, session.port)
    state = json.loads(path.read_text()) if path.is_file() else None
    leftovers = session.leftovers()
    failed = session.destroy(leftovers)
    if failed:
        raise ServerError(f"CARLA server {session.endpoint}: leftovers: {describe(failed)}")
    if state is not None:
        session.found = state["settings"]
    else:
        found = session.read_settings()
        if leftovers and found["synchronous_mode"]:  # ours, from a run without this file
            found |= {"synchronous_mode": False, "fixed_delta_seconds": None}
        session.found = found
        text = json.dumps({"endpoint": session.endpoint, "settings": found}, indent=1)
        atomic_write_text(path, text)
    if state is None and not leftovers:
        return None
    return (
        f"recovered from an unclean exit on {session.endpoint}: destroyed {len(leftovers)} "
        f"leftover actor(s){'' if state is None else '; its original settings will be restored'}"
    )


def end(session: Session, out: Path, problems: list[str]) -> None:
    """After a clean close, forget the saved settings (kept when something went wrong)."""
    if not problems:
        state_path(out, session.host, session.port).unlink(missing_ok=True)
