// Work splitting and scratch memory for the kernel families; usable from the ISA translation units.
//
// Determinism: every split below depends only on the problem size (never on the thread count), and each
// task writes its own outputs, so a kernel returns the same bits on every run and with any PEFT_TS_THREADS.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>

namespace peft {

// The pool of runtime.h, declared again because the ISA translation units cannot include runtime.h (it
// pulls in node-addon-api, which is not on their include path).
void parallel_for(int tasks, const std::function<void(int task)>& fn);

/** 64-byte aligned scratch of the calling thread, ≥ n floats, reused across calls (contents undefined). */
float* thread_scratch(size_t n);
/** Per-call scratch, for the calling (JavaScript) thread only and distinct from its thread_scratch. */
float* call_scratch(size_t n);

/** The bits of a float, writable in place of it (may_alias: no strict-aliasing assumption). */
typedef uint32_t __attribute__((may_alias)) bits32;

namespace {

// Below this many elements a pass over memory is not worth waking the other threads for.
constexpr int64_t kMinTaskElems = 1 << 14;

/** Runs body(i0, i1) over [0, n) in ranges of `chunk` (the last one shorter), in parallel. */
template <class Body>
void for_ranges(int64_t n, int64_t chunk, Body&& body) {
  if (n <= 0) return;
  if (chunk < 1) chunk = 1;
  const int64_t tasks = (n + chunk - 1) / chunk;
  parallel_for(static_cast<int>(tasks), [&](int t) {
    const int64_t i0 = t * chunk;
    body(i0, i0 + chunk < n ? i0 + chunk : n);
  });
}

/** Rows per task so that a task covers about kMinTaskElems elements of `cols` columns. */
inline int64_t rows_per_task(int64_t cols) {
  const int64_t r = kMinTaskElems / (cols > 0 ? cols : 1);
  return r < 1 ? 1 : r;
}

}  // namespace
}  // namespace peft
