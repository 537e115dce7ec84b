#!/usr/bin/env python3
"""Per-split table of two `bench` result files (formwork, llguidance) on the
same JSONSchemaBench cases: compiled share, valid accepted, invalid accepted.

    python3 benches/cases/tools/split_table.py FORMWORK.jsonl LLGUIDANCE.jsonl
"""
import collections
import json
import sys


def load(path):
    per = collections.defaultdict(lambda: [0, 0, 0, 0, 0, 0])  # cases, compiled, vok, vtot, iacc, itot
    for line in open(path):
        r = json.loads(line)
        s = per[r["id"].split("/")[0]]
        s[0] += 1
        if r["status"] != "unsupported":
            s[1] += 1
            v = r.get("valid") or [0, 0]
            i = r.get("invalid") or [0, 0]
            s[2] += v[0]
            s[3] += v[1]
            s[4] += i[1] - i[0]
            s[5] += i[1]
    return per


fw, llg = load(sys.argv[1]), load(sys.argv[2])
print("| split | schemas | compiled: formwork | llguidance | valid accepted: formwork | llguidance | invalid accepted: formwork | llguidance |")
print("|---|---:|---:|---:|---:|---:|---:|---:|")
tot_f, tot_l = [0] * 6, [0] * 6
for split in sorted(set(fw) | set(llg)):
    f, l = fw[split], llg[split]
    tot_f = [a + b for a, b in zip(tot_f, f)]
    tot_l = [a + b for a, b in zip(tot_l, l)]
for split, f, l in [(s, fw[s], llg[s]) for s in sorted(set(fw) | set(llg))] + [("**all**", tot_f, tot_l)]:
    pct = lambda a, b: f"{100 * a / b:.1f}%" if b else "–"
    print(f"| {split} | {f[0]} | {pct(f[1], f[0])} | {pct(l[1], l[0])} | {pct(f[2], f[3])} | {pct(l[2], l[3])} | {f[4]}/{f[5]} | {l[4]}/{l[5]} |")
