// How the ergon command shows plans, live events, reports and journals to a person.
#pragma once

#include <iosfwd>
#include <string>
#include <vector>

#include "ergon/engine.h"
#include "ergon/journal.h"
#include "ergon/plan.h"
#include "ergon/workspace.h"

namespace ergon::cli {

void print_plan(std::ostream& out, const Plan& plan, const Workspace& workspace);
// One line per event worth showing while a session runs.
void print_event(std::ostream& out, const Event& event);
void print_report(std::ostream& out, const SessionReport& report);
// "model: 3 calls (4 attempts) · 812 prompt + 95 completion tokens · 1200 ms · cost 0.0031"
std::string model_usage_line(const ModelUsage& usage);
void print_timeline(std::ostream& out, const SessionInfo& info, const std::vector<Event>& events);

}  // namespace ergon::cli
