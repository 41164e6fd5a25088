#!/usr/bin/env python3
"""CPU time of processes (and of their named threads) sampled over a run.

  cpu-sampler.py sample OUT PID[:LABEL]...   every 0.1 s, append one line per
                                             sample to OUT until killed
  cpu-sampler.py report OUT SECONDS CALLS    CPU per call over the last SECONDS
                                             of the samples (the measured window
                                             of a parley-load run, which ends
                                             with the run)

A sample line is: monotonic time, then for each PID its CPU seconds and the
CPU seconds of its `parley-writer` thread (0 when it has none). CPU per call
is steadier than calls per second on a shared VM, whose speed drifts by tens
of percent within minutes: it says what a change costs, not how fast the
machine was at that moment (docs/benchmarks.md). The window is approximate:
it ends when parley-load has drained and exited, and starts within one
sample of SECONDS before that, so compare runs made the same way (a few per
cent either way), not against other tools.
"""
import os
import sys
import time

TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(stat_path):
    with open(stat_path) as handle:
        fields = handle.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS  # utime + stime


# The writer threads found per process: the thread list is scanned again
# only while none has been found (parley-load has none).
writer_tids = {}


def find_writer_tids(pid):
    found = []
    try:
        for tid in os.listdir(f"/proc/{pid}/task"):
            try:
                with open(f"/proc/{pid}/task/{tid}/comm") as handle:
                    if handle.read().strip() == "parley-writer":
                        found.append(tid)
            except OSError:
                pass
    except OSError:
        pass
    return found


def writer_seconds(pid):
    if not writer_tids.get(pid):
        writer_tids[pid] = find_writer_tids(pid)
    total = 0.0
    for tid in writer_tids[pid]:
        try:
            total += cpu_seconds(f"/proc/{pid}/task/{tid}/stat")
        except OSError:
            pass
    return total


def sample(out, targets):
    pids = [target.split(":")[0] for target in targets]
    labels = [target.split(":")[1] if ":" in target else target for target in targets]
    with open(out, "w") as handle:
        handle.write("# " + " ".join(labels) + "\n")
        while True:
            values = [f"{time.monotonic():.3f}"]
            for pid in pids:
                try:
                    values += [f"{cpu_seconds(f'/proc/{pid}/stat'):.3f}", f"{writer_seconds(pid):.3f}"]
                except OSError:
                    values += ["nan", "nan"]
            handle.write(" ".join(values) + "\n")
            handle.flush()
            time.sleep(0.1)


def report(out, seconds, calls):
    with open(out) as handle:
        header = handle.readline()[2:].split()
        rows = [[float(value) for value in line.split()] for line in handle if line.strip()]
    if len(rows) < 2 or calls <= 0:
        print("    cpu per call: not enough samples")
        return
    parts = []
    for index, label in enumerate(header):
        # The last sample of a process that has exited reads nothing (nan).
        valid = [row for row in rows if row[1 + 2 * index] == row[1 + 2 * index]]
        if len(valid) < 2:
            parts.append(f"{label} -")
            continue
        end = valid[-1]
        start = min(valid, key=lambda row: abs(row[0] - (end[0] - seconds)))
        total = (end[1 + 2 * index] - start[1 + 2 * index]) * 1e6 / calls
        writer = (end[2 + 2 * index] - start[2 + 2 * index]) * 1e6 / calls
        part = f"{label} {total:.0f} us"
        if writer > 0:
            part += f" (writer thread {writer:.0f} us)"
        parts.append(part)
    print("    cpu per call: " + ", ".join(parts))


if __name__ == "__main__":
    if sys.argv[1] == "sample":
        sample(sys.argv[2], sys.argv[3:])
    else:
        report(sys.argv[2], float(sys.argv[3]), float(sys.argv[4]))
