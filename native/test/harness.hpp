// A small in-repo test harness (libuv-style): TEST(name) { CHECK(...); }.
// Each test binary prints "run  <case>" as a case starts, "ok   <case> (N ms)" or
// "FAIL <case>" with the failed check when it ends, and last "N passed, N failed".
// Set GAMESRV_TEST_SEED to replay a seeded stress test; GAMESRV_TEST_FILTER to run a subset.
#pragma once
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <random>
#include <sstream>
#include <string>
#include <vector>

namespace gstest {

struct Case {
  const char* name;
  void (*fn)();
};

inline std::vector<Case>& registry() {
  static std::vector<Case> r;
  return r;
}

struct Registrar {
  Registrar(const char* name, void (*fn)()) { registry().push_back({name, fn}); }
};

struct Failure {
  std::string message;
};

inline int& checksFailed() {
  static int n = 0;
  return n;
}

[[noreturn]] inline void fail(const char* file, int line, const std::string& what) {
  std::ostringstream os;
  os << file << ":" << line << ": " << what;
  throw Failure{os.str()};
}

// A seed for randomized tests: GAMESRV_TEST_SEED if set, else time-based. Always printed.
inline std::uint64_t seed(const char* testName) {
  std::uint64_t s;
  if (const char* env = std::getenv("GAMESRV_TEST_SEED")) {
    s = std::strtoull(env, nullptr, 10);
  } else {
    s = static_cast<std::uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count()) ^ 0x9e3779b97f4a7c15ull;
    s %= 1000000007ull;
  }
  std::printf("  [%s] seed=%llu (replay: GAMESRV_TEST_SEED=%llu)\n", testName, static_cast<unsigned long long>(s),
              static_cast<unsigned long long>(s));
  std::fflush(stdout);
  return s;
}

inline int runAll() {
  const char* filter = std::getenv("GAMESRV_TEST_FILTER");
  int passed = 0, failed = 0;
  for (const Case& c : registry()) {
    if (filter && std::string(c.name).find(filter) == std::string::npos) continue;
    // Announced before it runs, so a runner that times out can say which case hung.
    std::printf("run  %s\n", c.name);
    std::fflush(stdout);
    const auto t0 = std::chrono::steady_clock::now();
    try {
      c.fn();
      const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0).count();
      std::printf("ok   %s (%lld ms)\n", c.name, static_cast<long long>(ms));
      ++passed;
    } catch (const Failure& f) {
      std::printf("FAIL %s\n     %s\n", c.name, f.message.c_str());
      ++failed;
    } catch (const std::exception& e) {
      std::printf("FAIL %s\n     unexpected exception: %s\n", c.name, e.what());
      ++failed;
    }
    std::fflush(stdout);
  }
  std::printf("%d passed, %d failed\n", passed, failed);
  return failed == 0 && passed > 0 ? 0 : 1;
}

}  // namespace gstest

#define GS_CAT2(a, b) a##b
#define GS_CAT(a, b) GS_CAT2(a, b)
#define TEST(name)                                                   \
  static void GS_CAT(test_, name)();                                 \
  static ::gstest::Registrar GS_CAT(reg_, name)(#name, &GS_CAT(test_, name)); \
  static void GS_CAT(test_, name)()

#define CHECK(cond)                                        \
  do {                                                     \
    if (!(cond)) ::gstest::fail(__FILE__, __LINE__, "CHECK(" #cond ")"); \
  } while (0)

#define CHECK_EQ(a, b)                                                                  \
  do {                                                                                  \
    const auto gs_a = (a);  /* by value: (a) may name part of a temporary */           \
    const auto gs_b = (b);                                                              \
    if (!(gs_a == gs_b)) {                                                              \
      std::ostringstream gs_os;                                                         \
      gs_os << "CHECK_EQ(" #a ", " #b "): " << gs_a << " != " << gs_b;                  \
      ::gstest::fail(__FILE__, __LINE__, gs_os.str());                                  \
    }                                                                                   \
  } while (0)

#define CHECK_MSG(cond, msg)                                                 \
  do {                                                                       \
    if (!(cond)) {                                                           \
      std::ostringstream gs_os;                                              \
      gs_os << "CHECK(" #cond "): " << msg;                                  \
      ::gstest::fail(__FILE__, __LINE__, gs_os.str());                       \
    }                                                                        \
  } while (0)

#define GS_TEST_MAIN() \
  int main() { return ::gstest::runAll(); }
