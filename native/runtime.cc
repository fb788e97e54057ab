// Thread pool, CPU dispatch and the export registry (see runtime.h).
#include "runtime.h"

#include <atomic>
#include <condition_variable>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

namespace peft {

namespace {

class ThreadPool {
 public:
  explicit ThreadPool(int n) { resize(n); }
  ~ThreadPool() { stop(); }

  int size() const { return static_cast<int>(workers_.size()) + 1; }

  void resize(int n) {
    stop();
    quit_ = false;
    for (int i = 1; i < n; i++) workers_.emplace_back([this] { loop(); });
  }

  void run(int tasks, const std::function<void(int)>& fn) {
    if (tasks <= 0) return;
    if (tasks == 1 || workers_.empty()) {
      for (int t = 0; t < tasks; t++) fn(t);
      return;
    }
    {
      std::lock_guard<std::mutex> lock(mu_);
      fn_.store(&fn, std::memory_order_relaxed);
      tasks_.store(tasks, std::memory_order_relaxed);
      next_.store(0);
      remaining_.store(tasks);
      generation_.fetch_add(1, std::memory_order_release);
    }
    cv_.notify_all();
    work();
    while (remaining_.load(std::memory_order_acquire) > 0) std::this_thread::yield();
  }

 private:
  void work() {
    for (;;) {
      int t = next_.fetch_add(1, std::memory_order_acq_rel);
      if (t >= tasks_.load(std::memory_order_acquire)) return;
      (*fn_.load(std::memory_order_acquire))(t);
      remaining_.fetch_sub(1, std::memory_order_acq_rel);
    }
  }

  void loop() {
    uint64_t seen = generation_.load();
    for (;;) {
      // Spin briefly before sleeping: kernels come in quick succession during a training step.
      for (int spin = 0; spin < 20000 && generation_.load(std::memory_order_acquire) == seen && !quit_; spin++) {
#if defined(__x86_64__)
        __builtin_ia32_pause();
#endif
      }
      {
        std::unique_lock<std::mutex> lock(mu_);
        cv_.wait(lock, [&] { return quit_ || generation_.load() != seen; });
        if (quit_) return;
        seen = generation_.load();
      }
      work();
    }
  }

  void stop() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      quit_ = true;
    }
    cv_.notify_all();
    for (auto& w : workers_) w.join();
    workers_.clear();
  }

  std::vector<std::thread> workers_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::atomic<uint64_t> generation_{0};
  std::atomic<int> next_{0};
  std::atomic<int> remaining_{0};
  std::atomic<int> tasks_{0};
  std::atomic<const std::function<void(int)>*> fn_{nullptr};
  bool quit_ = false;
};

int default_threads() {
  if (const char* env = std::getenv("PEFT_TS_THREADS")) {
    int n = std::atoi(env);
    if (n > 0) return n;
  }
  unsigned hc = std::thread::hardware_concurrency();
  return hc == 0 ? 1 : static_cast<int>(hc);
}

ThreadPool& pool() {
  static ThreadPool p(default_threads());
  return p;
}

std::vector<std::pair<std::string, Binding>>& registry() {
  static std::vector<std::pair<std::string, Binding>> r;
  return r;
}

}  // namespace

int num_threads() { return pool().size(); }
void set_num_threads(int n) { pool().resize(n < 1 ? 1 : n); }
void parallel_for(int tasks, const std::function<void(int)>& fn) { pool().run(tasks, fn); }

Isa best_isa() {
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vl") &&
      __builtin_cpu_supports("avx512dq"))
    return __builtin_cpu_supports("avx512bf16") ? Isa::Avx512Bf16 : Isa::Avx512;
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return Isa::Avx2;
  return Isa::Scalar;
}

Isa active_isa() {
  static const Isa isa = [] {
    Isa best = best_isa();
    const char* env = std::getenv("PEFT_TS_ISA");
    if (!env) return best;
    Isa want = best;
    for (Isa isa : {Isa::Scalar, Isa::Avx2, Isa::Avx512, Isa::Avx512Bf16})
      if (std::strcmp(env, isa_name(isa)) == 0) want = isa;
    return static_cast<int>(want) < static_cast<int>(best) ? want : best;
  }();
  return isa;
}

const char* isa_name(Isa isa) {
  switch (isa) {
    case Isa::Avx512Bf16: return "avx512bf16";
    case Isa::Avx512: return "avx512";
    case Isa::Avx2: return "avx2";
    default: return "scalar";
  }
}

Registration::Registration(const char* name, Binding fn) { registry().emplace_back(name, fn); }

namespace {

Napi::Value Info(const Napi::CallbackInfo& info) {
  Napi::Object o = Napi::Object::New(info.Env());
  o.Set("isa", isa_name(active_isa()));
  o.Set("threads", num_threads());
  return o;
}

Napi::Value SetThreads(const Napi::CallbackInfo& info) {
  set_num_threads(static_cast<int>(int_arg(info, 0)));
  return Napi::Number::New(info.Env(), num_threads());
}

}  // namespace

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  exports.Set("info", Napi::Function::New(env, Info));
  exports.Set("setThreads", Napi::Function::New(env, SetThreads));
  for (auto& [name, fn] : registry()) exports.Set(name, Napi::Function::New(env, fn));
  return exports;
}

}  // namespace peft

static Napi::Object InitModule(Napi::Env env, Napi::Object exports) { return peft::Init(env, exports); }

NODE_API_MODULE(peft_ts_native, InitModule)
