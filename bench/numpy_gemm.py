#!/usr/bin/env python3
"""The products of `peft-ts bench gemm-shapes` (float32 rows) timed with numpy's BLAS.

Same layouts (nt = X·Wᵀ with W stored [n, k], nn = dY·W, tn = dYᵀ·X with dY stored [k, m]; transposes are
views, so BLAS gets its trans flags and nothing is copied), same timing: warm-up, then the median of at
least 7 runs (more for short products, up to about half a second). Prints one JSON line per product.

Run with Debian's OpenBLAS (openmp variant), e.g.
    LD_LIBRARY_PATH=/usr/lib/x86_64-linux-gnu/openblas-openmp /usr/bin/python3 bench/numpy_gemm.py --threads 2
OpenBLAS 0.3.21 does not know recent Xeons (CPU model 207) and falls back to its SSE3 "Prescott" kernels;
OPENBLAS_CORETYPE=Cooperlake selects its AVX-512 kernels. The chosen core is reported in each line.
"""
import argparse
import ctypes
import json
import os
import sys
import time

LAYERS = [(1024, 576, 1536), (1024, 1536, 576), (1024, 576, 49152), (1024, 256, 256), (1024, 256, 688), (1024, 256, 8192)]


def shapes():
    """(name, layout, m, n, k) as in src/bench/gemm.ts gemmShapes(), float32 rows only."""
    out = []
    for t, i, o in LAYERS:
        layer = f"{t}×{i}→{o}"
        out += [(f"{layer} forward", "nt", t, o, i), (f"{layer} input grad", "nn", t, i, o), (f"{layer} weight grad", "tn", o, i, t)]
    out.append(("1024³", "nn", 1024, 1024, 1024))
    for t in (1, 8):
        out.append((f"{t}×576→1536 forward", "nt", t, 1536, 576))
    return out


def operands(np, layout, m, n, k):
    rng = np.random.default_rng(1)
    rand = lambda *shape: (rng.random(shape, dtype=np.float32) - 0.5)
    a = rand(k, m).T if layout == "tn" else rand(m, k)
    b = rand(n, k).T if layout == "nt" else rand(k, n)
    return a, b, np.empty((m, n), dtype=np.float32)


def bench(np, layout, m, n, k, clock, min_runs=7):
    a, b, c = operands(np, layout, m, n, k)

    def once():
        t0 = clock()
        np.matmul(a, b, out=c)
        return clock() - t0

    spent, i = once(), 0
    while i < 2 or spent < 0.1:
        spent += once()
        i += 1
    times = []
    while len(times) < min_runs or (sum(times) < 0.5 and len(times) < 200):
        times.append(once())
    times.sort()
    mid = len(times) // 2
    median = times[mid] if len(times) % 2 else (times[mid - 1] + times[mid]) / 2
    return 2 * m * n * k / median / 1e9


def openblas_core():
    for name in ("libopenblas.so.0", "libopenblasp-r0.3.21.so"):
        try:
            lib = ctypes.CDLL(name)
            lib.openblas_get_corename.restype = ctypes.c_char_p
            return lib.openblas_get_corename().decode()
        except (OSError, AttributeError):
            continue
    return "unknown"


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--only", help="comma-separated product names (default: all)")
    p.add_argument("--cpu-time", action="store_true",
                   help="time by the process's CPU time (robust on a loaded machine; use with --threads 1)")
    args = p.parse_args()
    # Thread counts must be set before numpy loads its BLAS.
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        os.environ[var] = str(args.threads)
    import numpy as np

    core = openblas_core()
    only = set(args.only.split(",")) if args.only else None
    for name, layout, m, n, k in shapes():
        if only and name not in only:
            continue
        gflops = bench(np, layout, m, n, k, time.process_time if args.cpu_time else time.perf_counter)
        line = {"name": name, "m": m, "n": n, "k": k, "layout": layout, "b": "f32", "gflops": round(gflops, 2),
                "threads": args.threads, "engine": f"numpy {np.__version__} / OpenBLAS {core}"}
        print(json.dumps(line, ensure_ascii=False), flush=True)


if __name__ == "__main__":
    sys.exit(main())
