#include "serve/internal/metrics.h"

#include <fmt/format.h>

namespace ergon::serve_internal {
namespace {

constexpr double kLatencyBounds[] = {0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};
constexpr size_t kBuckets = std::size(kLatencyBounds);

std::string call_key(const Event& event) {
  return event.session + "|" + event.data.value("step", std::string()) + "|" +
         std::to_string(event.data.value("item", -1));
}

}  // namespace

void Metrics::observe(const Event& event, int64_t now_ms) {
  std::lock_guard lock(mu_);
  const Json& data = event.data;
  if (event.type == event::kStepState) {
    std::string state = data.value("state", std::string());
    if (state == "done" || state == "failed" || state == "skipped" || state == "compensated") {
      ++steps_[state];
    }
  }
  if ((event.type == event::kGuardDecision || event.type == event::kActionStarted) &&
      data.contains("decisions") && data["decisions"].is_array()) {
    for (const Json& decision : data["decisions"]) {
      if (decision.is_object()) ++verdicts_[decision.value("verdict", std::string("unknown"))];
    }
  }
  if (event.type == event::kActionStarted) started_[call_key(event)] = now_ms;
  if (event.type == event::kOutcome) {
    auto it = started_.find(call_key(event));
    if (it != started_.end()) {
      double seconds = static_cast<double>(now_ms - it->second) / 1000.0;
      started_.erase(it);
      if (latency_buckets_.empty()) latency_buckets_.assign(kBuckets, 0);
      for (size_t i = 0; i < kBuckets; ++i) {
        if (seconds <= kLatencyBounds[i]) {
          ++latency_buckets_[i];
          break;
        }
      }
      latency_sum_ += seconds;
      ++latency_count_;
    }
  }
  if (event.type == event::kModelCall && data.contains("usage") && data["usage"].is_object()) {
    tokens_["prompt"] += data["usage"].value("prompt_tokens", int64_t{0});
    tokens_["completion"] += data["usage"].value("completion_tokens", int64_t{0});
  }
  if (event.type == event::kPlanMade && data.contains("model_calls") &&
      data["model_calls"].is_array()) {
    for (const Json& call : data["model_calls"]) {
      if (!call.is_object() || !call.contains("usage") || !call["usage"].is_object()) continue;
      tokens_["prompt"] += call["usage"].value("prompt_tokens", int64_t{0});
      tokens_["completion"] += call["usage"].value("completion_tokens", int64_t{0});
    }
  }
}

void Metrics::approval_decided(double wait_seconds) {
  std::lock_guard lock(mu_);
  wait_sum_ += wait_seconds;
  ++wait_count_;
}

std::string Metrics::render(const std::map<std::string, int64_t>& sessions, size_t pending) const {
  std::lock_guard lock(mu_);
  std::string out;
  out += "# HELP ergon_sessions Sessions by state.\n# TYPE ergon_sessions gauge\n";
  for (const auto& [state, count] : sessions) {
    out += fmt::format("ergon_sessions{{state=\"{}\"}} {}\n", state, count);
  }
  out += "# HELP ergon_steps_total Step executions finished, by final state.\n";
  out += "# TYPE ergon_steps_total counter\n";
  for (const char* state : {"done", "failed", "skipped", "compensated"}) {
    auto it = steps_.find(state);
    out += fmt::format("ergon_steps_total{{state=\"{}\"}} {}\n", state,
                       it == steps_.end() ? 0 : it->second);
  }
  out += "# HELP ergon_guard_decisions_total Guard decisions, by verdict.\n";
  out += "# TYPE ergon_guard_decisions_total counter\n";
  for (const char* verdict : {"allow", "deny", "ask"}) {
    auto it = verdicts_.find(verdict);
    out += fmt::format("ergon_guard_decisions_total{{verdict=\"{}\"}} {}\n", verdict,
                       it == verdicts_.end() ? 0 : it->second);
  }
  out += "# HELP ergon_approvals_pending Approvals waiting for a person.\n";
  out += "# TYPE ergon_approvals_pending gauge\n";
  out += fmt::format("ergon_approvals_pending {}\n", pending);
  out += "# HELP ergon_approval_wait_seconds How long decided approvals waited.\n";
  out += "# TYPE ergon_approval_wait_seconds summary\n";
  out += fmt::format("ergon_approval_wait_seconds_sum {}\n", wait_sum_);
  out += fmt::format("ergon_approval_wait_seconds_count {}\n", wait_count_);
  out += "# HELP ergon_action_latency_seconds Time from sending an action to its outcome.\n";
  out += "# TYPE ergon_action_latency_seconds histogram\n";
  int64_t cumulative = 0;
  for (size_t i = 0; i < kBuckets; ++i) {
    if (!latency_buckets_.empty()) cumulative += latency_buckets_[i];
    out += fmt::format("ergon_action_latency_seconds_bucket{{le=\"{}\"}} {}\n", kLatencyBounds[i],
                       cumulative);
  }
  out += fmt::format("ergon_action_latency_seconds_bucket{{le=\"+Inf\"}} {}\n", latency_count_);
  out += fmt::format("ergon_action_latency_seconds_sum {}\n", latency_sum_);
  out += fmt::format("ergon_action_latency_seconds_count {}\n", latency_count_);
  out += "# HELP ergon_model_tokens_total Language model tokens, by kind.\n";
  out += "# TYPE ergon_model_tokens_total counter\n";
  for (const char* kind : {"prompt", "completion"}) {
    auto it = tokens_.find(kind);
    out += fmt::format("ergon_model_tokens_total{{kind=\"{}\"}} {}\n", kind,
                       it == tokens_.end() ? 0 : it->second);
  }
  return out;
}

}  // namespace ergon::serve_internal
