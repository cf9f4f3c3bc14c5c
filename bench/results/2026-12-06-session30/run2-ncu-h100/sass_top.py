"""Summarise ncu's SASS source page (sass.csv, 69 MB, not kept): for each profiled kernel its
stall samples and executed instructions; for the one named on the command line, the shares by
opcode, by stall reason, and the 40 instructions with the most samples.
Usage: python sass_top.py sass.csv topk_topp_sampling_kernel_bf16"""
import collections
import csv
import io
import sys

path, want = sys.argv[1:3]
with open(path) as fh:
    text = fh.read()
for part in text.split('"Kernel Name",')[1:]:
    name, body = part.split("\n", 1)
    rows = list(csv.DictReader(io.StringIO(body)))
    samples = sum(int(r["Warp Stall Sampling (All Samples)"] or 0) for r in rows)
    inst = sum(int(r["Instructions Executed"] or 0) for r in rows)
    print(name, "samples", samples, "instructions", inst)
    if name.strip('",') != want:
        continue
    op, opi = collections.Counter(), collections.Counter()
    for r in rows:
        words = r["Source"].split()
        o = (words[1] if words and words[0].startswith("@") else words[0] if words else "")
        op[o.split(".")[0]] += int(r["Warp Stall Sampling (All Samples)"] or 0)
        opi[o.split(".")[0]] += int(r["Instructions Executed"] or 0)
    print("opcode: share of samples, share of executed instructions")
    for o, c in op.most_common(25):
        print(f"  {o:10} {100 * c / samples:5.1f}% {100 * opi[o] / inst:5.1f}%")
    stalls = [k for k in rows[0] if k.startswith("stall_") and "Not Issued" not in k]
    st = collections.Counter()
    for r in rows:
        for k in stalls:
            st[k] += int(r[k] or 0)
    shares = (f"{k} {100 * v / samples:.1f}%" for k, v in st.most_common(10))
    print("stall reasons:", ", ".join(shares))
    for r in sorted(rows, key=lambda r: -int(r["Warp Stall Sampling (All Samples)"] or 0))[:40]:
        s = int(r["Warp Stall Sampling (All Samples)"] or 0)
        top = sorted(((int(r[k] or 0), k) for k in stalls), reverse=True)[:2]
        print(f"  {r['Address'][-5:]} {100 * s / samples:4.1f}% {r['Source'][:58]:58} {top}")
