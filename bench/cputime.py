#!/usr/bin/env python3
"""Runs a command and writes its wall seconds, user and system CPU seconds and peak RSS (KB) to
the file named by the first argument, as `/usr/bin/time -f "%e %U %S %M"` would, but to the
microsecond (time(1) rounds to 10 ms, a tenth of a small run's CPU).
The peak RSS is the largest of any child this process waited for, so below ~15 MB it may be a
pyenv shim's helper's rather than the command's.
Usage: cputime.py OUT command [args...]   (exits with the command's status)"""
import os
import resource
import subprocess
import sys
import time

out, cmd = sys.argv[1], sys.argv[2:]
# What children had used before (a pyenv shim's own commands count as this process's).
before = resource.getrusage(resource.RUSAGE_CHILDREN)
started = time.monotonic()
status = subprocess.call(cmd)
wall = time.monotonic() - started
usage = resource.getrusage(resource.RUSAGE_CHILDREN)
with open(out, "w") as f:
    user = usage.ru_utime - before.ru_utime
    system = usage.ru_stime - before.ru_stime
    f.write(f"{wall:.4f} {user:.4f} {system:.4f} {usage.ru_maxrss}\n")
sys.exit(status)
