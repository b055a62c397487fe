"""``python -m workbook classroom``: JupyterHub and one shared model for a class, from one machine.

Prints what to tell the class (the address, and -- the first time -- a slip per student with
their password) and where the instructor's token is, then runs until Ctrl-C (or SIGTERM),
which stops every process it started and every process of every student account.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading

from ..serving.build import BuildFailed
from ..serving.llama_server import LlamaServerError
from .errors import ClassroomError
from .hub import ENGINES, Classroom
from .roster import slips


def parser(prog: str) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog=prog, description=(
        "A JupyterHub for a class, run as root: students student1..studentN, each a Unix account "
        "(wb-student1, ...) and a password of their own, with the bundled model shared at "
        "{hub}/services/llm/v1; each student's API key is their hub token."))
    p.add_argument("--students", type=int, default=20, help="accounts student1..studentN (default 20)")
    p.add_argument("--host", default="127.0.0.1",
                   help="address the hub listens on (default 127.0.0.1; 0.0.0.0 for the room's "
                        "network, which serves HTTPS)")
    p.add_argument("--port", type=int, default=8000, help="the hub's port (default 8000)")
    p.add_argument("--state", default="classroom",
                   help="root's folder for the hub's database, the roster, usage, tokens and keys "
                        "(default ./classroom; reuse it to keep everything across restarts; an "
                        "instructor may write DIR/roster.csv, username,password per line, beforehand)")
    p.add_argument("--per-student", type=int, default=2,
                   help="requests one student may have running at once (default 2; more get 429)")
    p.add_argument("--engine", choices=ENGINES, default="llama-server",
                   help="the class's model server: llama-server (default; the faster single answer) "
                        "or vllm, the real vLLM on the CPU (needs `make vllm`; pays off when many "
                        "students ask at once)")
    p.add_argument("--parallel", type=int, default=8,
                   help="requests the model server decodes together (default 8; vLLM's --max-num-seqs)")
    p.add_argument("--idle-timeout", type=int, default=3600,
                   help="seconds before an idle student's server is stopped (default 3600)")
    p.add_argument("--ssl-cert", help="the certificate to serve HTTPS with (PEM; with --ssl-key)")
    p.add_argument("--ssl-key", help="its private key (PEM)")
    p.add_argument("--insecure-http", action="store_true",
                   help="serve plain HTTP off loopback: passwords and tokens cross the network in clear")
    p.add_argument("--demo", action="store_true",
                   help="no root, no accounts: every server runs as you behind one shared password "
                        "(for an instructor trying it alone; no isolation)")
    p.add_argument("--remove-accounts", action="store_true",
                   help="delete the Unix accounts and homes the class in --state created, and exit")
    return p


def main(argv: list[str], prog: str = "python -m workbook classroom") -> int:
    args = parser(prog).parse_args(argv)
    for name in ("students", "per_student", "parallel", "idle_timeout"):
        if getattr(args, name) < 1:
            print(f"{prog}: --{name.replace('_', '-')} must be 1 or more", file=sys.stderr)
            return 2
    try:
        room = Classroom(students=args.students, host=args.host, port=args.port, state=args.state,
                         per_student=args.per_student, parallel=args.parallel, engine=args.engine,
                         idle_timeout_s=args.idle_timeout, demo=args.demo, ssl_cert=args.ssl_cert,
                         ssl_key=args.ssl_key, insecure_http=args.insecure_http,
                         progress=lambda text: print(text, flush=True))
        if args.remove_accounts:
            removed = room.remove_accounts()
            print(f"Removed {len(removed)} account(s) and their homes: {' '.join(removed) or '(none)'}")
            return 0
    except ClassroomError as error:
        print(f"{prog}: {error}", file=sys.stderr)
        return 1
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
    lines = [f"The classroom is up in {room.startup_s:.1f} s.", ""]
    if room.fingerprint:
        lines += [f"HTTPS certificate SHA-256 (students compare it with their browser's): {room.fingerprint}", ""]
    if room.demo:
        lines += [f"DEMO: student1 ... {last} all run as YOUR account; their one shared password: {room.password}", ""]
    elif room.new_passwords:
        new = {name: room.passwords[name] for name in room.new_passwords}
        lines += [f"New passwords, one slip per student (printed this once; all are in "
                  f"{room.state / 'roster.csv'}, mode 600):", slips(room.url, new, room.fingerprint)]
    else:
        lines += [f"Passwords: {room.state / 'roster.csv'} (mode 600; unchanged since the last start)", ""]
    lines += [
        "Tell the class:",
        f"  open   {room.url}",
        f"  log in as student1 ... {last} with the password on your slip",
        "  your notebooks open with BACKEND = \"live\": the class's shared model answers.",
        "",
        "For you, the instructor:",
        f"  the class's model (OpenAI-compatible):  {room.local_url}/services/llm/v1",
        f"  usage per student:  curl{' --cacert ' + str(room.certificate) if room.https and not room.ssl_cert else ''} "
        f"-H \"Authorization: Bearer $(cat {room.state / 'instructor-token'})\" "
        f"{room.local_url}/services/llm/usage",
        f"  your admin API token is in {room.state / 'instructor-token'} (mode 600; never show it)",
        f"  hub log: {room.state / 'jupyterhub.log'}",
        "",
        "Ctrl-C stops the classroom (every process it started, every process of every student).",
    ]
    return "\n".join(lines)
