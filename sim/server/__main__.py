"""`python -m sim.server [--port 2000] [--idle-timeout 600]`: the CARLA 0.9.16 loopback server."""

from __future__ import annotations

import argparse
import logging
import sys

from sim.server.town import TOWN_NAMES


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m sim.server", description=__doc__)
    p.add_argument("--port", type=int, default=2000, help="RPC port on 127.0.0.1 (default 2000)")
    p.add_argument(
        "--streaming-port",
        type=int,
        default=0,
        help="sensor streaming port (default: any free port, sent in stream tokens)",
    )
    p.add_argument(
        "--idle-timeout",
        type=float,
        default=600.0,
        help="stop after this many seconds without a request (0 = never)",
    )
    p.add_argument("--towns", default=",".join(TOWN_NAMES), help="comma-separated town names")
    p.add_argument(
        "--first-actor-id",
        type=int,
        default=1,
        help="id of the first actor (tests: start near 65536 to see instance ids wrap)",
    )
    p.add_argument(
        "--colliding-engine-ids",
        action="store_true",
        help="tests: town objects show instance ids in the range actor ids take, as map objects "
        "without an actor do on a real server (labels must then not trust ids alone)",
    )
    p.add_argument(
        "--pose-as-carla",
        action="store_true",
        help="tests: do not tell sim.generate that this is the loopback server, so it applies "
        "the rules of a real one (a curated anomaly set, warm-up ticks)",
    )
    p.add_argument("-v", "--verbose", action="store_true")
    a = p.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if a.verbose else logging.INFO,
        format="[sim.server] %(message)s",
        stream=sys.stderr,
    )
    from sim.server.app import run

    try:
        run(
            a.port,
            a.streaming_port,
            a.idle_timeout,
            tuple(a.towns.split(",")),
            first_actor_id=a.first_actor_id,
            colliding_engine_ids=a.colliding_engine_ids,
            pose_as_carla=a.pose_as_carla,
        )
    except OSError as exc:
        print(f"sim.server: cannot listen on 127.0.0.1:{a.port}: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
