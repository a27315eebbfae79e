// The server's Prometheus metrics, derived from the engine's events as they
// happen. Thread-safe.
#pragma once

#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "ergon/journal.h"

namespace ergon::serve_internal {

class Metrics {
 public:
  // Counts what `event` says; `now_ms` is when it was recorded.
  void observe(const Event& event, int64_t now_ms);
  void approval_decided(double wait_seconds);

  // Prometheus text format. `sessions` counts sessions by state; `pending`
  // is the number of approvals waiting now.
  std::string render(const std::map<std::string, int64_t>& sessions, size_t pending) const;

 private:
  mutable std::mutex mu_;
  // guarded by mu_:
  std::map<std::string, int64_t> steps_;     // by final state
  std::map<std::string, int64_t> verdicts_;  // guard decisions by verdict
  std::map<std::string, int64_t> tokens_;    // model tokens by kind
  std::map<std::string, int64_t> started_;   // session|step|item -> action_started ms
  std::vector<int64_t> latency_buckets_;     // cumulative at render
  double latency_sum_ = 0;
  int64_t latency_count_ = 0;
  double wait_sum_ = 0;
  int64_t wait_count_ = 0;
};

}  // namespace ergon::serve_internal
