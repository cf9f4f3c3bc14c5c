"""Session 38: ``python -m rocsample`` with every top-k row of k <= KCAND sent to the rise
entries (RISE_ALL=1 sets rocsample.ops.sampling.RISE_CAND to 0), so that the rising bound,
which keeps about k / n candidates a sub-chunk after n sub-chunks, is timed on the rows whose
candidates this session found to be top-k's whole extra cost per sub-chunk (run3: nb).
With a path ending in .py as the first argument it runs that script instead (the sweep).

Usage: RISE_ALL=1 python rise_all.py [-v] bench ...  |  RISE_ALL=1 python rise_all.py sweep.py"""
import os
import runpy
import sys

import rocsample.ops.sampling as sampling
from rocsample.cli import main

if os.environ.get("RISE_ALL") == "1":
    sampling.RISE_CAND = 0
if sys.argv[1:2] and sys.argv[1].endswith(".py"):
    runpy.run_path(sys.argv[1], run_name="__main__")
else:
    sys.exit(main(sys.argv[1:]))
