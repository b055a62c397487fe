"""How big a class one machine serves: simulated students through the classroom's gateway.

    python benchmarks/classroom.py            # N = 5, 10, 20, 30 students, 60 s each, both routes
    python benchmarks/classroom.py --quick    # N = 2, 4, 15 s each (a smoke run)
    python benchmarks/classroom.py --spawn-only   # spawn p50 over 5 and the gateway's overhead only
    python benchmarks/classroom.py --spawn-only --spawns 0 --pairs 30   # the overhead alone
    python benchmarks/classroom.py --engines llama-server,vllm   # both engines side by side

Run as root: a class creates a Unix account per simulated student (removed afterwards).

Starts a real classroom (JupyterHub, configurable-http-proxy, the ``llm`` gateway, one
llama-server with continuous batching) and, for each class size N, lets N students each run
"think, ask, read the streamed answer" -- think times drawn from a seeded exponential
distribution -- first through ``{hub}/services/llm/v1`` (each with their own hub token), then
straight to llama-server (same seeds, same prompts). Every answer is exactly ``--max-tokens``
long (``ignore_eos``), so the two routes do the same work. Reports per level: time to first
token and per-request decode tokens/s (p50/p95), the server's output tokens/s, goodput
(requests/s whose first token came within the SLO), the largest class that meets the SLO
(95 % of first tokens within it), and the gateway's overhead (p50 latency through it over
p50 latency direct, at the same N). Before the levels, one request at a time in rounds of
three -- straight to llama-server, through the gateway on loopback (the students' servers' route),
through the hub's proxy and the gateway (a client off the machine) -- each round's ratios to its
own direct request, p50 and p90, with the load average around it. Writes ``--out`` (JSON with the date, the command and the
machine) and prints the table. Competing load on the machine moves every figure: compare
within one run.

``--engine vllm`` serves the class from the real vLLM (``make vllm``) instead: its "direct"
route is vLLM's Unix socket (a class never gives it a port). ``--engines llama-server,vllm``
measures both in one run, one class after the other, each with the overhead probe and a
concurrency probe -- C students asking at once through the gateway, C = ``--concurrency``
(1 and 8), three rounds each, aggregate output tokens/s -- and writes them side by side
(default ``benchmarks/results/classroom-engines.json``).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import random
import signal
import statistics
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from workbook.classroom.hub import Classroom  # noqa: E402
from workbook.ports import free_port  # noqa: E402

TOPICS = ["photosynthesis", "the water cycle", "prime numbers", "volcanoes", "the moon", "tides",
          "batteries", "rainbows", "bridges", "honey bees", "glaciers", "the heart"]


def percentile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[index]


def engine_transport(room: Classroom, limits: httpx.Limits) -> httpx.AsyncHTTPTransport | None:
    """How to reach the model server itself: vLLM's Unix socket, or (None) llama-server's port."""
    return httpx.AsyncHTTPTransport(uds=str(room.engine_socket), limits=limits) if room.engine_socket else None


async def one_request(client: httpx.AsyncClient, url: str, token: str, prompt: str,
                      max_tokens: int) -> dict:
    body = {"model": "smollm2", "messages": [{"role": "user", "content": prompt}],
            "max_tokens": max_tokens, "temperature": 0.7, "stream": True, "ignore_eos": True,
            "stream_options": {"include_usage": True}}
    started = time.perf_counter()
    ttft = None
    output_tokens = 0
    try:
        async with client.stream("POST", f"{url}/chat/completions", json=body,
                                 headers={"Authorization": f"Bearer {token}"}) as answer:
            if answer.status_code != 200:
                await answer.aread()
                return {"error": f"HTTP {answer.status_code}", "started": started}
            async for line in answer.aiter_lines():
                if not line.startswith("data:") or line == "data: [DONE]":
                    continue
                chunk = json.loads(line[5:])
                if ttft is None and any((c.get("delta") or {}).get("content") for c in chunk.get("choices", [])):
                    ttft = time.perf_counter() - started
                if chunk.get("usage"):
                    output_tokens = chunk["usage"].get("completion_tokens") or 0
    except httpx.HTTPError as error:
        return {"error": type(error).__name__, "started": started}
    latency = time.perf_counter() - started
    decode_s = latency - (ttft or latency)
    rate = (output_tokens - 1) / decode_s if output_tokens > 1 and decode_s > 0 else None
    return {"started": started, "ttft_s": ttft, "latency_s": latency,
            "output_tokens": output_tokens, "tokens_per_s": rate}


async def student(number: int, url: str, token: str, *, until: float, think_mean_s: float,
                  seed: int, max_tokens: int, client: httpx.AsyncClient, records: list) -> None:
    rng = random.Random(seed * 1_000 + number)
    await asyncio.sleep(rng.uniform(0, think_mean_s))  # students do not all start at once
    asked = 0
    while time.perf_counter() < until:
        asked += 1
        topic = TOPICS[rng.randrange(len(TOPICS))]
        prompt = f"Student {number}, question {asked}: explain {topic} to a ten-year-old."
        records.append(await one_request(client, url, token, prompt, max_tokens))
        await asyncio.sleep(min(rng.expovariate(1 / think_mean_s), 4 * think_mean_s))


async def run_level(students: int, url: str, tokens: list[str], *, seconds: float,
                    think_mean_s: float, seed: int, max_tokens: int, slo_s: float,
                    transport: Callable[[httpx.Limits], httpx.AsyncHTTPTransport | None] = lambda limits: None) -> dict:
    records: list[dict] = []
    limits = httpx.Limits(max_connections=students + 4, max_keepalive_connections=0)
    async with httpx.AsyncClient(timeout=httpx.Timeout(90.0, connect=5.0), limits=limits,
                                 transport=transport(limits)) as client:
        started = time.perf_counter()
        until = started + seconds
        await asyncio.gather(*(student(i + 1, url, tokens[i], until=until, think_mean_s=think_mean_s,
                                       seed=seed, max_tokens=max_tokens, client=client, records=records)
                               for i in range(students)))
        wall = time.perf_counter() - started
    ok = [r for r in records if "error" not in r and r["ttft_s"] is not None]
    ttfts = [r["ttft_s"] for r in ok]
    rates = [r["tokens_per_s"] for r in ok if r["tokens_per_s"]]
    within = [r for r in ok if r["ttft_s"] <= slo_s]
    return {
        "students": students, "requests": len(records), "errors": len(records) - len(ok),
        "ttft_s_p50": percentile(ttfts, 50), "ttft_s_p95": percentile(ttfts, 95),
        "tokens_per_s_p50": percentile(rates, 50), "tokens_per_s_p95": percentile(rates, 95),
        "latency_s_p50": percentile([r["latency_s"] for r in ok], 50),
        "throughput_tok_s": sum(r["output_tokens"] for r in ok) / wall,
        "goodput_rps": len(within) / wall, "slo_met_fraction": len(within) / len(records) if records else None,
        "wall_s": wall,
    }


def spawn_times(room: Classroom, student: str, runs: int) -> dict:
    """Start ``student``'s server through the hub's REST API until the hub says it is ready,
    then stop it: ``runs`` times. What a student waits for after logging in."""
    seconds = []
    for _ in range(runs):
        started = time.perf_counter()
        answer = room.api("POST", f"/users/{student}/server")
        if answer.status_code not in (201, 202):
            raise RuntimeError(f"spawn refused: {answer.status_code} {answer.text[:200]}")
        while not (room.api("GET", f"/users/{student}").json().get("servers") or {}).get("", {}).get("ready"):
            if time.perf_counter() - started > 120:
                raise RuntimeError("a server took over 120 s to start")
            time.sleep(0.05)
        seconds.append(time.perf_counter() - started)
        room.api("DELETE", f"/users/{student}/server")
        while (room.api("GET", f"/users/{student}").json().get("servers") or {}):
            time.sleep(0.1)
    return {"runs": runs, "spawn_s_p50": statistics.median(seconds), "spawn_s": seconds}


ROUTES = ("direct", "gateway", "gateway+proxy")


def route_of(room: Classroom, route: str, token: str) -> tuple[str, str]:
    """The URL and key of one route: the model server itself (``engine_transport``); the gateway
    on loopback, as the students' servers reach it; the gateway behind the hub's proxy, as a
    client off the machine does."""
    return {"direct": (room.engine_url, room.engine_key), "gateway": (room.servers_llm_url, token),
            "gateway+proxy": (room.llm_url, token)}[route]


async def overhead_probe(room: Classroom, token: str, *, pairs: int, max_tokens: int) -> dict:
    """One request at a time, the three routes in a rotating order per round, so each round's
    requests meet the same machine: what the gateway (and the proxy) add to a request, as the
    ratio to the direct request of the same round (p50 and p90 over the rounds)."""
    latencies: dict[str, list[float]] = {route: [] for route in ROUTES}
    ratios: dict[str, list[float]] = {route: [] for route in ROUTES[1:]}
    load_before = os.getloadavg()
    # A connection per request, as the gateway's own client to the engine makes.
    limits = httpx.Limits(max_keepalive_connections=0)
    async with httpx.AsyncClient(timeout=60, verify=getattr(room, "verify", True), limits=limits) as client, \
            httpx.AsyncClient(timeout=60, limits=limits, transport=engine_transport(room, limits)) as engine:
        for i in range(pairs):
            order = ROUTES[i % 3:] + ROUTES[:i % 3]
            got = {}
            for route in order:
                url, key = route_of(room, route, token)
                result = await one_request(engine if route == "direct" else client, url, key,
                                           f"Probe {i}: describe a cloud.", max_tokens)
                if "error" not in result:
                    got[route] = result["latency_s"]
                    latencies[route].append(result["latency_s"])
            for route in ratios:
                if route in got and "direct" in got:
                    ratios[route].append(got[route] / got["direct"])
    summary = {"pairs": pairs, "max_tokens": max_tokens,
               "load_average_1min": [round(load_before[0], 2), round(os.getloadavg()[0], 2)]}
    for route in ROUTES:
        summary[route] = {"latency_s_p50": percentile(latencies[route], 50),
                          "latency_s_p90": percentile(latencies[route], 90), "requests": len(latencies[route])}
    for route, values in ratios.items():
        summary[route]["paired_overhead_pct_p50"] = 100 * (percentile(values, 50) - 1) if values else None
        summary[route]["paired_overhead_pct_p90"] = 100 * (percentile(values, 90) - 1) if values else None
    return summary


async def concurrency_probe(room: Classroom, tokens: list[str], *, levels: list[int], rounds: int,
                            max_tokens: int) -> dict:
    """``c`` students asking at once through the gateway (each their own token, so no
    per-student limit applies), ``rounds`` times per ``c``: the server's aggregate output
    tokens/s per round (every answer exactly ``max_tokens`` long), p50 over the rounds."""
    load_before = os.getloadavg()
    result: dict = {"rounds": rounds, "max_tokens": max_tokens}
    limits = httpx.Limits(max_connections=max(levels) + 4, max_keepalive_connections=0)
    async with httpx.AsyncClient(timeout=120, limits=limits) as client:
        for c in levels:
            rates, errors = [], 0
            for r in range(rounds):
                started = time.perf_counter()
                answers = await asyncio.gather(*(
                    one_request(client, room.servers_llm_url, tokens[i], f"Round {r}, student {i}: describe a river.",
                                max_tokens) for i in range(c)))
                wall = time.perf_counter() - started
                errors += sum("error" in a for a in answers)
                rates.append(sum(a.get("output_tokens", 0) for a in answers) / wall)
            result[str(c)] = {"output_tok_s_p50": statistics.median(rates), "output_tok_s": rates, "errors": errors}
    low, high = str(min(levels)), str(max(levels))
    result[f"scaling_{high}_over_{low}"] = result[high]["output_tok_s_p50"] / result[low]["output_tok_s_p50"]
    result["load_average_1min"] = [round(load_before[0], 2), round(os.getloadavg()[0], 2)]
    return result


def concurrency_lines(probe: dict, levels: list[int]) -> str:
    load = probe["load_average_1min"]
    rates = ", ".join(f"c={c}: {probe[str(c)]['output_tok_s_p50']:.0f}" for c in levels)
    key = f"scaling_{max(levels)}_over_{min(levels)}"
    return (f"students asking at once through the gateway, output tokens/s p50 over {probe['rounds']} rounds: "
            f"{rates}; c={max(levels)} / c={min(levels)} = {probe[key]:.1f}x "
            f"(load average {load[0]:.1f} before, {load[1]:.1f} after)")


def overhead_lines(overhead: dict) -> str:
    load = overhead["load_average_1min"]
    lines = [f"overhead, one request at a time, {overhead['pairs']} rounds of {overhead['max_tokens']}-token "
             f"streams (load average {load[0]:.1f} before, {load[1]:.1f} after):"]
    for route in ROUTES:
        r = overhead[route]
        line = f"  {route:<14} latency p50 {r['latency_s_p50']:.3f} s, p90 {r['latency_s_p90']:.3f} s"
        if "paired_overhead_pct_p50" in r and r["paired_overhead_pct_p50"] is not None:
            line += (f"; over direct in the same round: p50 {r['paired_overhead_pct_p50']:+.1f} %, "
                     f"p90 {r['paired_overhead_pct_p90']:+.1f} %")
        lines.append(line)
    return "\n".join(lines)


def table(rows: list[dict]) -> str:
    head = (f"{'N':>3} {'route':<8} {'req':>4} {'err':>3} {'TTFT p50':>8} {'TTFT p95':>8} "
            f"{'tok/s p50':>9} {'tok/s p95':>9} {'lat p50':>7} {'out tok/s':>9} {'goodput':>7} {'SLO met':>7}")
    lines = [head]
    fmt = lambda v, spec: "-" if v is None else format(v, spec)  # noqa: E731
    for r in rows:
        lines.append(f"{r['students']:>3} {r['route']:<8} {r['requests']:>4} {r['errors']:>3} "
                     f"{fmt(r['ttft_s_p50'], '8.2f')} {fmt(r['ttft_s_p95'], '8.2f')} "
                     f"{fmt(r['tokens_per_s_p50'], '9.1f')} {fmt(r['tokens_per_s_p95'], '9.1f')} "
                     f"{fmt(r['latency_s_p50'], '7.2f')} {r['throughput_tok_s']:9.1f} "
                     f"{r['goodput_rps']:7.2f} {fmt(r['slo_met_fraction'], '7.0%')}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true", help="N = 2, 4 for 15 s each")
    p.add_argument("--levels", default=None, help="class sizes, e.g. 5,10,20,30")
    p.add_argument("--seconds", type=float, default=None, help="new requests start for this long per level (max 60)")
    p.add_argument("--think", type=float, default=10.0, help="mean think time between questions, s")
    p.add_argument("--max-tokens", type=int, default=48)
    p.add_argument("--slo", type=float, default=2.0, help="time-to-first-token SLO, s")
    p.add_argument("--parallel", type=int, default=8, help="llama-server's slots (vLLM's --max-num-seqs)")
    p.add_argument("--threads", type=int, default=None,
                   help="the model server's CPU threads (default: the classroom's, 2 for llama-server, 1 for vLLM)")
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--out", default=None, help="JSON file (default benchmarks/results/classroom.json)")
    p.add_argument("--spawn-only", action="store_true",
                   help="measure only a student's server spawn (p50 over --spawns) and the gateway's overhead")
    p.add_argument("--spawns", type=int, default=5, help="spawns to time (0: none)")
    p.add_argument("--pairs", type=int, default=10, help="rounds of the overhead probe (one request per route each)")
    p.add_argument("--engines", default="llama-server",
                   help="the class's model server: llama-server, vllm, or both (llama-server,vllm: "
                        "the overhead and concurrency probes for each, side by side)")
    p.add_argument("--concurrency", default="1,8", help="with several --engines: students asking at once")
    args = p.parse_args(argv)
    engines = args.engines.split(",")
    if len(engines) > 1:
        return compare_engines(engines, args, argv)
    levels = [int(n) for n in (args.levels or ("2,4" if args.quick else "5,10,20,30")).split(",")]
    seconds = min(60.0, args.seconds or (15.0 if args.quick else 60.0))
    out = Path(args.out) if args.out else ROOT / "benchmarks" / "results" / (
        "classroom-quick.json" if args.quick else "classroom.json")

    with tempfile.TemporaryDirectory(prefix="classroom-bench-") as state:
        room = Classroom(students=1 if args.spawn_only else max(levels), port=free_port(),
                         state=Path(state) / "state", per_student=2, parallel=args.parallel,
                         threads=args.threads, n_ctx=512, progress=print, engine=engines[0],
                         account_prefix=f"wbb{os.getpid() % 10000}-")
        # A benchmark stopped by `timeout` or kill still stops its class and removes its accounts.
        signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
        try:
            with room:
                print(f"classroom up in {room.startup_s:.1f} s: {room.local_url}", flush=True)
                spawn = spawn_times(room, room.usernames[0], args.spawns) if args.spawns else None
                if spawn:
                    print(f"spawn of one student's server, p50 over {args.spawns}: {spawn['spawn_s_p50']:.2f} s "
                          f"({', '.join(f'{s:.2f}' for s in spawn['spawn_s'])})", flush=True)
                tokens = [room.token_for(name, note="benchmark") for name in room.usernames]
                overhead = asyncio.run(overhead_probe(room, tokens[0], pairs=args.pairs, max_tokens=args.max_tokens))
                print(overhead_lines(overhead), flush=True)
                if args.spawn_only:
                    return write(out, {**header(args, argv), "overhead_one_at_a_time": overhead, "spawn": spawn})
                rows = run_levels(room, tokens, levels, seconds, args)
                usage = room.usage()["students"]
        finally:
            room.remove_accounts()
    return report(rows, levels, usage, overhead, spawn, seconds, args, argv, out)


def compare_engines(engines: list[str], args, argv) -> int:
    """One class per engine, one after the other (one class at a time on a machine): the
    overhead probe and the concurrency probe of each, written side by side."""
    levels = [int(c) for c in args.concurrency.split(",")]
    out = Path(args.out) if args.out else ROOT / "benchmarks" / "results" / "classroom-engines.json"
    result = {**header(args, argv), "concurrency": levels, "engines": {}}
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    for engine in engines:
        with tempfile.TemporaryDirectory(prefix="classroom-bench-") as state:
            room = Classroom(students=max(levels), port=free_port(), state=Path(state) / "state",
                             per_student=2, parallel=args.parallel, threads=args.threads,
                             n_ctx=512, progress=print, engine=engine,
                             account_prefix=f"wbb{os.getpid() % 10000}-")
            try:
                with room:
                    print(f"{engine}: classroom up in {room.startup_s:.1f} s", flush=True)
                    tokens = [room.token_for(name, note="benchmark") for name in room.usernames]
                    overhead = asyncio.run(overhead_probe(room, tokens[0], pairs=args.pairs,
                                                          max_tokens=args.max_tokens))
                    print(overhead_lines(overhead), flush=True)
                    scaling = asyncio.run(concurrency_probe(room, tokens, levels=levels, rounds=3,
                                                            max_tokens=args.max_tokens))
                    print(concurrency_lines(scaling, levels), flush=True)
                    result["engines"][engine] = {"startup_s": room.startup_s, "overhead_one_at_a_time": overhead,
                                                 "students_at_once": scaling}
            finally:
                room.remove_accounts()
    print()
    print(engines_table(result, levels))
    return write(out, result)


def engines_table(result: dict, levels: list[int]) -> str:
    key = f"scaling_{max(levels)}_over_{min(levels)}"
    lines = [f"{'engine':<13} {'direct p50 s':>12} {'gateway p50 %':>13} {'proxy p50 %':>11} "
             + " ".join(f"{'tok/s c=' + str(c):>10}" for c in levels) + f" {'c' + str(max(levels)) + '/c' + str(min(levels)):>7}"]
    for engine, figures in result["engines"].items():
        overhead, scaling = figures["overhead_one_at_a_time"], figures["students_at_once"]
        pct = lambda route: overhead[route].get("paired_overhead_pct_p50")  # noqa: E731
        fmt = lambda v, spec: "-" if v is None else format(v, spec)  # noqa: E731
        lines.append(f"{engine:<13} {fmt(overhead['direct']['latency_s_p50'], '12.3f')} "
                     f"{fmt(pct('gateway'), '+13.1f')} {fmt(pct('gateway+proxy'), '+11.1f')} "
                     + " ".join(f"{scaling[str(c)]['output_tok_s_p50']:10.1f}" for c in levels)
                     + f" {scaling[key]:6.1f}x")
    return "\n".join(lines)


def run_levels(room: Classroom, tokens: list[str], levels: list[int], seconds: float, args) -> list[dict]:
    rows = []
    for students in levels:
        routes = (("gateway", room.llm_url, tokens, lambda limits: None),
                  ("direct", room.engine_url, [room.engine_key] * students,
                   lambda limits: engine_transport(room, limits)))
        for route, url, keys, transport in routes:
            print(f"N = {students} through {route} for {seconds:g} s ...", flush=True)
            row = asyncio.run(run_level(students, url, keys, seconds=seconds,
                                        think_mean_s=args.think, seed=args.seed,
                                        max_tokens=args.max_tokens, slo_s=args.slo, transport=transport))
            rows.append({"route": route, **row})
    return rows


def report(rows, levels, usage, overhead, spawn, seconds, args, argv, out) -> int:
    for students in levels:
        pair = {r["route"]: r for r in rows if r["students"] == students}
        gateway, direct = pair["gateway"]["latency_s_p50"], pair["direct"]["latency_s_p50"]
        pair["gateway"]["overhead_pct_vs_direct"] = (100 * (gateway - direct) / direct
                                                      if gateway and direct else None)
    meets = [r["students"] for r in rows if r["route"] == "gateway" and r["errors"] == 0
             and r["ttft_s_p95"] is not None and r["ttft_s_p95"] <= args.slo]
    largest = max(meets) if meets else None
    result = {
        **header(args, argv),
        "settings": {"levels": levels, "seconds_per_level": seconds, "think_mean_s": args.think,
                     "max_tokens": args.max_tokens, "slo_ttft_s": args.slo, "parallel": args.parallel,
                     "threads": args.threads, "seed": args.seed, "model": "SmolLM2-135M-Instruct Q4_1",
                     "engine": args.engines},
        "levels": rows,
        "overhead_one_at_a_time": overhead,
        "spawn": spawn,
        "largest_class_meeting_slo": largest,
        "slo": f"95 % of first tokens within {args.slo:g} s, no errors",
        "gateway_usage_counted": {"students": len(usage),
                                  "requests": sum(u["requests"] for u in usage.values())},
    }
    print()
    print(table(rows))
    print(f"\nlargest class meeting the SLO ({result['slo']}): {largest}")
    return write(out, result)


def header(args, argv) -> dict:
    return {
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "command": "python benchmarks/classroom.py " + " ".join(argv if argv is not None else sys.argv[1:]),
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform(), "python": platform.python_version()},
        "note": ("Measured on a shared 2-core machine while other work may run on it: the benchmark's "
                 "own client, the hub and the model server share those cores. Compare within one run."),
        "engine": {"engines": args.engines, "parallel": args.parallel, "threads": args.threads},
    }


def write(out: Path, result: dict) -> int:
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"results: {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
