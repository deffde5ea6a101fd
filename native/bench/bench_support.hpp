// Shared pieces of the native benchmarks: the result report (the row format BENCHMARKS.md describes), medians,
// progress logging, busy work and deadline pacing.
//
// Every suite prints exactly one JSON line on stdout; everything else goes to stderr.
#pragma once
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdarg>
#include <cstdint>
#include <cstdio>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "gamesrv/clock.hpp"

namespace gsbench {

using gamesrv::nowNs;

inline void log(const char* fmt, ...) __attribute__((format(printf, 1, 2)));
inline void log(const char* fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  std::vfprintf(stderr, fmt, ap);
  va_end(ap);
  std::fputc('\n', stderr);
  std::fflush(stderr);
}

inline double median(std::vector<double> v) {
  if (v.empty()) return std::nan("");
  std::sort(v.begin(), v.end());
  const std::size_t n = v.size();
  return n % 2 == 1 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2.0;
}

inline std::string listOf(const std::vector<double>& v, const char* fmt = "%.3g") {
  std::string s;
  char buf[64];
  for (double x : v) {
    std::snprintf(buf, sizeof buf, fmt, x);
    if (!s.empty()) s += ' ';
    s += buf;
  }
  return s;
}

struct Row {
  std::string name;
  double value = 0;
  std::string unit;
  std::optional<std::string> baseline;  // name of the row this one is compared with
};

// Collects rows and prints the suite's single JSON line; ratio = value / baseline's value.
class Report {
 public:
  explicit Report(std::string suite) : suite_(std::move(suite)) {}

  void add(Row row) { rows_.push_back(std::move(row)); }
  void add(std::string name, double value, std::string unit, std::optional<std::string> baseline = std::nullopt) {
    add(Row{std::move(name), value, std::move(unit), std::move(baseline)});
  }

  const Row* find(const std::string& name) const {
    for (const Row& r : rows_)
      if (r.name == name) return &r;
    return nullptr;
  }

  std::optional<double> ratio(const Row& r) const {
    if (!r.baseline) return std::nullopt;
    const Row* b = find(*r.baseline);
    if (b == nullptr || !std::isfinite(r.value) || !std::isfinite(b->value) || b->value == 0) return std::nullopt;
    return r.value / b->value;
  }

  std::string json() const {
    std::string out = "{\"suite\": " + quote(suite_) + ", \"results\": [";
    for (std::size_t i = 0; i < rows_.size(); ++i) {
      const Row& r = rows_[i];
      if (i > 0) out += ", ";
      out += "{\"name\": " + quote(r.name) + ", \"value\": " + number(r.value) + ", \"unit\": " + quote(r.unit) +
             ", \"baseline\": " + (r.baseline ? quote(*r.baseline) : "null") + ", \"ratio\": ";
      const auto q = ratio(r);
      out += q ? number(*q) : "null";
      out += "}";
    }
    out += "]}";
    return out;
  }

 private:
  static std::string number(double v) {
    if (!std::isfinite(v)) return "null";
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.6g", v);
    return buf;
  }
  static std::string quote(const std::string& s) {
    std::string q = "\"";
    for (char c : s) {
      if (c == '"' || c == '\\') {
        q += '\\';
        q += c;
      } else if (static_cast<unsigned char>(c) < 0x20) {
        char buf[8];
        std::snprintf(buf, sizeof buf, "\\u%04x", c);
        q += buf;
      } else {
        q += c;
      }
    }
    return q + "\"";
  }

  std::string suite_;
  std::vector<Row> rows_;
};

// Burns the CPU for `ns` nanoseconds: stands in for game logic in a handler.
inline void busyWorkNs(std::uint64_t ns) {
  const std::uint64_t end = nowNs() + ns;
  while (nowNs() < end) {
  }
}

// How a paced benchmark producer waits for its next deadline.
// - Spin: busy-waits on the clock (yielding only when the deadline is > 200 µs away).
//   Exact, but two spinning producers fill a 2-core machine and starve the consumer.
// - Sleep: sleeps until the deadline; the kernel wakes the thread up to ~50-60 µs late
//   (timer slack), and the producer then sends every event that has fallen due, one call
//   each. The offered rate is exact on average, and the producers leave the cores free.
enum class Pace { Spin, Sleep };

inline void waitUntilNs(std::uint64_t deadlineNs, Pace pace) {
  for (;;) {
    const std::uint64_t now = nowNs();
    if (now >= deadlineNs) return;
    if (pace == Pace::Sleep) {
      std::this_thread::sleep_for(std::chrono::nanoseconds(deadlineNs - now));
      return;
    }
    if (deadlineNs - now > 200'000) std::this_thread::sleep_for(std::chrono::nanoseconds(deadlineNs - now - 100'000));
  }
}

}  // namespace gsbench
