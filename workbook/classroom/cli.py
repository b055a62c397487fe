"""``python -m workbook classroom``: JupyterHub and one shared model for a class, from one machine.

Prints what to tell the class (the address, how to log in) and where the instructor's token
is, then runs until Ctrl-C (or SIGTERM), which stops every process it started.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading

from ..serving.build import BuildFailed
from ..serving.llama_server import LlamaServerError
from .errors import ClassroomError
from .hub import Classroom


def parser(prog: str) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog=prog, description=(
        "A JupyterHub for a class (accounts student1..studentN, one workshop password) with the "
        "bundled model shared at {hub}/services/llm/v1; each student's API key is their hub token."))
    p.add_argument("--students", type=int, default=20, help="accounts student1..studentN (default 20)")
    p.add_argument("--host", default="127.0.0.1",
                   help="address the hub listens on (default 127.0.0.1; 0.0.0.0 for the room's network)")
    p.add_argument("--port", type=int, default=8000, help="the hub's port (default 8000)")
    p.add_argument("--state", default="classroom",
                   help="folder for the hub's database, the students' homes, usage and tokens "
                        "(default ./classroom; reuse it to keep everything across restarts)")
    p.add_argument("--per-student", type=int, default=2,
                   help="requests one student may have running at once (default 2; more get 429)")
    p.add_argument("--parallel", type=int, default=8,
                   help="requests the model server decodes together (default 8)")
    p.add_argument("--idle-timeout", type=int, default=3600,
                   help="seconds before an idle student's server is stopped (default 3600)")
    return p


def main(argv: list[str], prog: str = "python -m workbook classroom") -> int:
    args = parser(prog).parse_args(argv)
    for name in ("students", "per_student", "parallel", "idle_timeout"):
        if getattr(args, name) < 1:
            print(f"{prog}: --{name.replace('_', '-')} must be 1 or more", file=sys.stderr)
            return 2
    room = Classroom(students=args.students, host=args.host, port=args.port, state=args.state,
                     per_student=args.per_student, parallel=args.parallel,
                     idle_timeout_s=args.idle_timeout, progress=lambda text: print(text, flush=True))
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        room.start()
    except (ClassroomError, LlamaServerError, BuildFailed) as error:
        print(f"{prog}: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        room.stop()
        return 130
    try:
        print(announcement(room), flush=True)
        while not stop.wait(0.5):
            if not room.running:
                print(f"{prog}: JupyterHub exited:\n{room.log_tail()}", file=sys.stderr)
                return 1
    except KeyboardInterrupt:
        pass
    finally:
        room.stop()
    print("Classroom stopped: the hub, the proxy, the model server and every student's server.",
          flush=True)
    return 0


def announcement(room: Classroom) -> str:
    last = room.usernames[-1]
    return "\n".join([
        f"The classroom is up in {room.startup_s:.1f} s.",
        "",
        "Tell the class:",
        f"  open   {room.url}",
        f"  log in as student1 ... {last} (one name each) with the workshop password: {room.password}",
        "  your notebooks open with BACKEND = \"live\": the class's shared model answers.",
        "",
        "For you, the instructor:",
        f"  the class's model (OpenAI-compatible):  {room.local_url}/services/llm/v1",
        f"  usage per student:  curl -H \"Authorization: Bearer $(cat {room.state / 'instructor-token'})\" "
        f"{room.local_url}/services/llm/usage",
        f"  your admin API token is in {room.state / 'instructor-token'} (mode 600; never show it)",
        f"  hub log: {room.state / 'jupyterhub.log'}",
        "",
        "Ctrl-C stops the classroom (every process it started).",
    ])
