// Time comes from an injectable Clock so tests are hermetic and backoff is
// observable without sleeping.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

namespace ergon {

class Clock {
 public:
  virtual ~Clock() = default;
  // Milliseconds since the Unix epoch.
  virtual int64_t now_ms() const = 0;
  virtual void sleep_for(std::chrono::milliseconds duration) = 0;
};

// The real clock. Thread-safe.
class SystemClock final : public Clock {
 public:
  int64_t now_ms() const override;
  void sleep_for(std::chrono::milliseconds duration) override;
};

// A clock that only moves when told to; sleep_for advances it instantly and
// records the total slept. Not thread-safe.
class FakeClock final : public Clock {
 public:
  explicit FakeClock(int64_t start_ms = 1'700'000'000'000) : now_(start_ms) {}
  int64_t now_ms() const override { return now_; }
  void sleep_for(std::chrono::milliseconds duration) override {
    now_ += duration.count();
    slept_ms_ += duration.count();
  }
  void advance(std::chrono::milliseconds duration) { now_ += duration.count(); }
  int64_t slept_ms() const { return slept_ms_; }

 private:
  int64_t now_;
  int64_t slept_ms_ = 0;
};

// ISO-8601 UTC with milliseconds, e.g. 2026-11-29T07:00:00.000Z.
std::string format_time(int64_t ms_since_epoch);

}  // namespace ergon
