"""What both benchmarks report about the machine: the CPU model and the float32 GEMM rate measured
in the same process (the yardstick for "fraction of peak"; docs/architecture.md: NumPy is not, here)."""

from __future__ import annotations

import time

import tensorflow as tf

from elmo_lib.results import cpu_model  # noqa: F401  (the CPU's model name, for the benchmarks)


def gemm_gflops(size: int = 2048, repeats: int = 20) -> float:
    """float32 ``tf.matmul`` rate (GFLOP/s) of ``size x size`` matrices, best of 3 timings."""
    a = tf.random.normal((size, size))
    b = tf.random.normal((size, size))

    @tf.function
    def run(a, b):
        acc = tf.zeros((), tf.float32)
        for _ in tf.range(repeats):
            acc += tf.reduce_sum(tf.matmul(a, b)[0, :1])
        return acc

    run(a, b).numpy()
    best = float("inf")
    for _ in range(3):
        start = time.perf_counter()
        run(a, b).numpy()
        best = min(best, time.perf_counter() - start)
    return 2.0 * size**3 * repeats / best / 1e9
