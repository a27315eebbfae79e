#include "cli/console.h"

#include <fmt/format.h>

#include <ostream>

namespace ergon::cli {
namespace {

std::string item_label(const Json& data) {
  std::string step = data.value("step", "");
  int item = data.value("item", -1);
  return item < 0 ? step : fmt::format("{}[{}]", step, item + 1);
}

std::string short_json(const Json& value, size_t max = 100) {
  std::string text = value.dump();
  if (text.size() > max) text = text.substr(0, max) + "...";
  return text;
}

std::string effect_of(const Workspace& workspace, const std::string& action) {
  for (const ConnectorConfig& c : workspace.connectors) {
    for (const DeclaredAction& a : c.actions) {
      if (a.spec.name == action) return to_string(a.spec.effect);
    }
  }
  return "?";
}

}  // namespace

void print_plan(std::ostream& out, const Plan& plan, const Workspace& workspace) {
  out << fmt::format("Plan for \"{}\"\n", plan.goal);
  if (!plan.skill.empty()) out << fmt::format("  skill: {}\n", plan.skill);
  if (!plan.planner.empty()) out << fmt::format("  planner: {}\n", plan.planner);
  for (const SlotSpec& slot : plan.slot_specs) {
    std::string value = plan.slots.contains(slot.name) ? plan.slots[slot.name].dump() : "(missing)";
    out << fmt::format("  slot {} ({}) = {}\n", slot.name, to_string(slot.type), value);
  }
  int n = 0;
  for (const std::string& id : topological_order(plan)) {
    const Step& step = *plan.step(id);
    std::string what;
    switch (step.kind) {
      case StepKind::kAction:
        what = fmt::format("{} ({})", step.action, effect_of(workspace, step.action));
        break;
      case StepKind::kCompute: what = "compute"; break;
      case StepKind::kAsk: what = "ask: " + step.ask; break;
      case StepKind::kAgent:
        what = fmt::format("agent on {}: {}", step.agent.connector, step.agent.goal);
        if (step.agent.max_steps > 0)
          what += fmt::format(" (at most {} actions)", step.agent.max_steps);
        break;
    }
    out << fmt::format("  {:>2}. {:<12} {}", ++n, step.id, what);
    if (!step.for_each.empty()) out << " for each of " << step.for_each;
    if (!step.when.empty()) out << " when " << step.when;
    if (!step.needs.empty()) {
      out << "  needs ";
      for (size_t i = 0; i < step.needs.size(); ++i) out << (i ? ", " : "") << step.needs[i];
    }
    out << "\n";
  }
  if (!plan.questions.empty()) {
    out << "Open questions:\n";
    for (const Question& q : plan.questions) out << fmt::format("  - {}: {}\n", q.slot, q.text);
  }
}

void print_event(std::ostream& out, const Event& event) {
  const Json& d = event.data;
  const std::string& type = event.type;
  if (type == event::kStepState) {
    std::string state = d.value("state", "");
    if (state == "done" && d.value("item", -1) < 0) {
      out << fmt::format("  [done]    {}\n", item_label(d));
    } else if (state == "skipped") {
      out << fmt::format("  [skipped] {}: {}\n", item_label(d), d.value("detail", ""));
    } else if (state == "failed") {
      out << fmt::format("  [failed]  {}: {}\n", item_label(d), d.value("error", ""));
    }
  } else if (type == event::kGuardDecision) {
    const Json& decisions = d["decisions"];
    if (!decisions.empty() && decisions.back().value("verdict", "") == "deny") {
      out << fmt::format("  [denied]  {} {}: {} guard: {}\n", item_label(d), d.value("action", ""),
                         decisions.back().value("guard", ""), decisions.back().value("reason", ""));
    }
  } else if (type == event::kApproval) {
    out << fmt::format("  [{}] {} {} (by {})\n",
                       d.value("approved", false) ? "approved" : "refused ", item_label(d),
                       d.value("action", ""), d.value("by", ""));
  } else if (type == event::kOutcome) {
    if (d.value("ok", false)) {
      out << fmt::format("  [ok]      {} {} -> {}\n", item_label(d), d.value("action", ""),
                         short_json(d.value("result", Json())));
    } else {
      out << fmt::format("  [error]   {} {} (attempt {}): {}{}\n", item_label(d),
                         d.value("action", ""), d.value("attempt", 1), d.value("error", ""),
                         d.value("retryable", false) ? " (retryable)" : "");
    }
  } else if (type == event::kCompensation) {
    out << fmt::format("  [undo]    {}: {} {}\n", item_label(d), d.value("action", ""),
                       d.value("ok", false) ? "ok" : "FAILED: " + d.value("error", std::string()));
  } else if (type == event::kQuestion) {
    out << fmt::format("  [waiting] {}: {}\n", d.value("slot", ""), d.value("text", ""));
  }
  out.flush();
}

void print_report(std::ostream& out, const SessionReport& report) {
  out << fmt::format("Session {}: {}\n", report.session, to_string(report.status));
  if (!report.error.empty()) out << "  reason: " << report.error << "\n";
  out << fmt::format(
      "  actions {} · approvals asked {}, granted {} · denials {} · retries {} · compensations "
      "{}\n",
      report.actions, report.approvals_asked, report.approvals_granted, report.denials,
      report.retries, report.compensations);
  for (const Question& q : report.questions) {
    out << fmt::format("  waiting for: {} — {}\n", q.slot, q.text);
  }
  if (!report.questions.empty()) {
    out << fmt::format("  answer with: ergon resume {} --slot NAME=VALUE\n", report.session);
  }
  if (report.model.calls > 0) out << "  " << model_usage_line(report.model) << "\n";
  out << "  audit head " << report.head << "\n";
}

std::string model_usage_line(const ModelUsage& usage) {
  std::string line = fmt::format(
      "model: {} call{} ({} attempt{}) · {} prompt + {} completion tokens · {} ms", usage.calls,
      usage.calls == 1 ? "" : "s", usage.attempts, usage.attempts == 1 ? "" : "s",
      usage.prompt_tokens, usage.completion_tokens, usage.latency_ms);
  if (usage.cost > 0) line += fmt::format(" · cost {:.4f}", usage.cost);
  return line;
}

void print_timeline(std::ostream& out, const SessionInfo& info, const std::vector<Event>& events) {
  out << fmt::format("Session {} ({}) — \"{}\"\n", info.id, to_string(info.status), info.goal);
  out << fmt::format("  workspace {}\n", info.workspace);
  for (const Event& e : events) {
    Json shown = e.data;
    std::string what;
    if (e.type == event::kPlanMade) {
      const Json& plan = shown["plan"];
      std::string skill = plan.value("skill", "");
      what =
          fmt::format("{} steps, {}", plan["steps"].size(),
                      !skill.empty() ? "skill " + skill
                                     : "made by " + plan.value("planner", std::string("a file")));
    } else {
      if (shown.is_object()) {
        shown.erase("step");
        shown.erase("item");
      }
      what = short_json(shown, 160);
    }
    std::string step = e.data.contains("step") ? item_label(e.data) + " " : "";
    out << fmt::format("  {:>4}  {}  {:<16} {}{}\n", e.seq, format_time(e.time_ms), e.type, step,
                       what);
  }
}

}  // namespace ergon::cli
