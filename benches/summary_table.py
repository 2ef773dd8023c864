#!/usr/bin/env python3
"""Rewrites README.md's benchmark table from the benches' JSON summaries.

    python3 benches/summary_table.py [--summary DIR] [--readme README.md]
                                     [--min-rows N] [--machine TEXT] [--print]

Reads every `*.json` under DIR (default `$CARGO_TARGET_DIR/bench-summary`,
else `target/bench-summary`): the records that name a `client` and a
`workload` (ingest_t0, ingest_t1, ilp_t1, query_t0, query_t1_replay,
query_t1_embedded, polars_w2, ...), one table per bench: workload, our
client, our M rows/s, the peer's (questdb-rs) M rows/s, and the ratio. The
ratio is the bench's median of paired ratios when it wrote one
(`ratio_vs_peer`, `ratio_ours_over_peer`), else ours ÷ peer in rows/s.
A `loopback_ceiling` record (query_t1_replay, ingest_t1: what the socket
alone allows, no client) is no row of ours: its M rows/s and its ratio
against the peer make a column of the bench's table.
Runs with fewer than N rows (default 1,000,000: CI's smoke runs) are left
out, and so are benches without a peer and figures that are not numbers. Under each table: the machine,
rows and date of the run.

The section between `<!-- bench-table:start -->` and
`<!-- bench-table:end -->` in the README is replaced; `--print` prints the
tables instead. Python 3 standard library only.
"""
import argparse
import datetime
import json
import math
import os
import pathlib
import sys

START = "<!-- bench-table:start -->"
END = "<!-- bench-table:end -->"

TITLES = {
    "ingest_t0": "Ingest T0: encode into a reused buffer (no socket; best pass)",
    "ingest_t1": "Ingest T1: end to end into a `serve --sink` child process "
                 "(medians of alternating passes; ratio = median of paired ratios)",
    "ilp_t1": "ILP T1: ILP over HTTP (and ours over QWP, side by side) into a `serve --sink` "
              "child process, against questdb-rs's ILP HTTP sender fed row by row from the "
              "same Arrow batches (medians of alternating passes; ratio = median of paired ratios)",
    "query_t0": "Query T0: decode recorded frames into Arrow (no socket; paired passes)",
    "query_t1_replay": "Query T1: recorded frames served by a replay child process "
                       "(medians of alternating passes; ratio = median of paired ratios)",
    "query_t1_embedded": "Query T1, embedded scan: `SELECT *` against the embedded server "
                         "in the bench's process (paired passes)",
    "polars_w2": "polars W2: `flush_polars_dataframe` into a sink (best pass)",
}
ORDER = list(TITLES)


def is_peer(client):
    return client.startswith("questdb_rs") or client == "peer"


CEILING = "loopback_ceiling"


def summary_dir(arg):
    if arg:
        return pathlib.Path(arg)
    target = os.environ.get("CARGO_TARGET_DIR", "target")
    return pathlib.Path(target) / "bench-summary"


def machine():
    model, cores = "unknown CPU", 0
    try:
        for line in pathlib.Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                cores += 1
    except OSError:
        pass
    mem = ""
    try:
        for line in pathlib.Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                mem = f", {round(int(line.split()[1]) / 1024 / 1024)} GiB"
    except (OSError, ValueError):
        pass
    return f"{model}, {cores or os.cpu_count()} cores{mem}"


def load(d, min_rows):
    """Records per bench, with each file's date; the benches left out."""
    benches, dates, small = {}, {}, set()
    for f in sorted(d.glob("*.json")):
        try:
            records = json.loads(f.read_text())
        except (OSError, ValueError) as e:
            sys.exit(f"{f}: {e}")
        if not isinstance(records, list):
            continue
        date = datetime.datetime.fromtimestamp(f.stat().st_mtime, datetime.timezone.utc)
        for r in records:
            if not isinstance(r, dict) or "bench" not in r or "workload" not in r:
                continue
            rows = r.get("rows")
            rate = r.get("rows_per_sec")
            if rate is not None and not (isinstance(rate, (int, float)) and math.isfinite(rate)):
                continue  # a pass that measured nothing
            if rows is not None and rows < min_rows:
                small.add(r["bench"])
                continue
            benches.setdefault(r["bench"], []).append(r)
            dates[r["bench"]] = date
    return benches, dates, small - set(benches)


def table(records):
    """Markdown lines of one bench, or None when it has no peer."""
    def key(r):
        return (r["workload"], r.get("encoding", ""))

    groups = {}
    for r in records:
        groups.setdefault(key(r), []).append(r)
    cpu = any("cpu_ns_per_row" in r for r in records)
    ceiling = any(r.get("client") == CEILING for r in records)
    head = "| workload | ours | ours M rows/s | peer M rows/s |"
    rule = "|---|---|---|---|"
    if cpu:
        head += " CPU ns/row ours / peer |"
        rule += "---|"
    if ceiling:
        head += " loopback ceiling M rows/s (÷ peer) |"
        rule += "---|"
    lines = [head + " ours ÷ peer |", rule + "---|"]
    rows = set()
    for k in sorted(groups):
        g = groups[k]
        peer = [r for r in g if "client" in r and is_peer(r["client"])]
        ceil = [r for r in g if r.get("client") == CEILING]
        ours = [r for r in g if "client" in r and not is_peer(r["client"])
                and r["client"] != CEILING]
        paired = [r["ratio_ours_over_peer"] for r in g if "ratio_ours_over_peer" in r]
        if not peer or not ours:
            continue
        p = peer[0]
        for o in ours:
            rows.add((k[1], o["rows"]))
            if "ratio_vs_peer" in o:
                ratio = o["ratio_vs_peer"]
            elif paired and len(ours) == 1:
                ratio = paired[0]
            else:
                ratio = o["rows_per_sec"] / p["rows_per_sec"]
            label = " ".join(x for x in k if x)
            line = (f"| {label} | {o['client']} | {o['rows_per_sec'] / 1e6:.2f} "
                    f"| {p['rows_per_sec'] / 1e6:.2f} |")
            if cpu:
                line += f" {o.get('cpu_ns_per_row', 0):.0f} / {p.get('cpu_ns_per_row', 0):.0f} |"
            if ceiling and ceil:
                c = ceil[0]
                vs = c.get("ratio_vs_peer", c["rows_per_sec"] / p["rows_per_sec"])
                line += f" {c['rows_per_sec'] / 1e6:.2f} ({vs:.2f}x) |"
            elif ceiling:
                line += " — |"
            lines.append(line + f" **{ratio:.2f}** |")
    if len(lines) == 2:
        return None, rows
    return lines, rows


def render(d, min_rows, where):
    benches, dates, small = load(d, min_rows)
    out = []
    for b in sorted(benches, key=lambda b: (ORDER.index(b) if b in ORDER else len(ORDER), b)):
        lines, rows = table(benches[b])
        if lines is None:
            continue
        out.append(f"**{TITLES.get(b, b)}** (`{b}`)")
        out.append("")
        out.extend(lines)
        counts = ", ".join(f"{enc} {n:,}".strip() for enc, n in sorted(rows))
        out.append("")
        out.append(f"_{where}; {counts} rows per workload; "
                   f"{dates[b]:%Y-%m-%d} (summary written {dates[b]:%H:%M} UTC)._")
        out.append("")
    if small:
        out.append(f"_Not shown (no run of at least {min_rows:,} rows): "
                   f"{', '.join(sorted(small))}._")
        out.append("")
    if not out:
        sys.exit(f"no bench summary of at least {min_rows:,} rows under {d}")
    return "\n".join(out).rstrip("\n")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--summary", help="folder of the JSON summaries")
    ap.add_argument("--readme", default=str(pathlib.Path(__file__).resolve().parent.parent / "README.md"))
    ap.add_argument("--min-rows", type=int, default=1_000_000)
    ap.add_argument("--machine", help="the machine line (default: from /proc)")
    ap.add_argument("--print", action="store_true", help="print the tables, leave the README")
    a = ap.parse_args()
    text = render(summary_dir(a.summary), a.min_rows, a.machine or machine())
    if a.print:
        print(text)
        return
    readme = pathlib.Path(a.readme)
    doc = readme.read_text()
    if doc.count(START) != 1 or doc.count(END) != 1 or doc.index(START) > doc.index(END):
        sys.exit(f"{readme}: needs one {START} before one {END}")
    head, rest = doc.split(START)
    _, tail = rest.split(END)
    readme.write_text(f"{head}{START}\n{text}\n{END}{tail}")
    print(f"rewrote the benchmark table in {readme}")


if __name__ == "__main__":
    main()
