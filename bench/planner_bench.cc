// The skill planner at library scale: 1,000 generated skills (seeded) plus the
// ten of tests/data/paraphrases/skills.yaml.
//
// Printed before the benchmarks run:
//   - the time to build the planner (index, learned synonyms, calibration);
//   - the median and 90th percentile of plan() per goal, over held-out
//     paraphrases of generated skills (their words shuffled, a verb swapped
//     for a synonym, values of every type) and the real paraphrase set
//     (target: median <= 1 ms);
//   - precision and recall of the chosen skill on tests/data/paraphrases, with
//     the ten skills alone and among the 1,000 generated ones, and how many
//     unrelated goals ran a skill (must be 0).
// Then Google Benchmark times plan() and construction.
//
//   planner_bench [--skills=N] [--seed=S] [--goals=N] [benchmark flags]
#include <benchmark/benchmark.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "ergon/clock.h"
#include "ergon/planner.h"
#include "support/paraphrase_set.h"

namespace {

using ergon::Json;
using ergon::Skill;
using ergon::SkillPlanner;
using ergon::SlotSpec;
using ergon::SlotType;

size_t g_skills = 1000;
unsigned g_seed = 20270304;
size_t g_goals = 2000;

// Words of enterprise requests; verbs come in groups of words people use for
// the same act, so a generated library teaches synonyms the way a real one does.
const std::vector<std::vector<std::string>> kVerbs = {
    {"approve", "sign off", "okay"},    {"reject", "decline", "deny"},
    {"create", "open", "add"},          {"delete", "remove", "purge"},
    {"update", "change", "edit"},       {"list", "show", "display"},
    {"export", "download", "extract"},  {"import", "upload", "load"},
    {"archive", "shelve", "retire"},    {"restore", "recover", "undelete"},
    {"assign", "allocate", "give"},     {"close", "resolve", "finish"},
    {"escalate", "raise", "flag"},      {"review", "inspect", "examine"},
    {"publish", "release", "ship"},     {"schedule", "book", "plan"},
    {"cancel", "call off", "abort"},    {"renew", "extend", "prolong"},
    {"transfer", "move", "shift"},      {"refund", "reimburse", "repay"},
    {"audit", "verify", "check"},       {"backup", "snapshot", "copy"},
    {"deploy", "roll out", "push"},     {"rollback", "revert", "undo"},
    {"scale", "resize", "grow"},        {"restart", "reboot", "bounce"},
    {"provision", "set up", "spin up"}, {"decommission", "tear down", "shut down"},
    {"rotate", "cycle", "refresh"},     {"revoke", "withdraw", "pull"},
    {"grant", "award", "permit"},       {"merge", "combine", "join"},
    {"tag", "label", "mark"},           {"notify", "alert", "inform"},
    {"remind", "nudge", "ping"},        {"submit", "file", "lodge"},
    {"reconcile", "match", "balance"},  {"forecast", "project", "predict"},
    {"onboard", "welcome", "enroll"},   {"offboard", "remove access for", "disable"}};
const std::vector<std::string> kObjects = {
    "ticket",       "invoice",    "purchase order", "shipment",        "contract",
    "lease",        "vendor",     "supplier",       "customer",        "account",
    "user",         "role",       "group",          "license",         "certificate",
    "api key",      "secret",     "server",         "cluster",         "database",
    "bucket",       "queue",      "topic",          "pipeline",        "build",
    "release",      "report",     "dashboard",      "budget",          "payroll run",
    "timesheet",    "expense",    "claim",          "policy",          "quote",
    "opportunity",  "lead",       "campaign",       "subscription",    "seat",
    "device",       "laptop",     "phone line",     "printer",         "badge",
    "meeting room", "desk",       "asset",          "repository",      "branch",
    "incident",     "alert rule", "runbook",        "sprint",          "epic",
    "document",     "folder",     "mailbox",        "vpn profile",     "firewall rule",
    "dns record",   "backup job", "cron job",       "container image", "vm",
    "volume",       "snapshot",   "load balancer",  "domain",          "website",
    "survey",       "course",     "shift",          "roster",          "warehouse slot",
    "pallet",       "route",      "delivery"};
const std::vector<std::string> kQualifiers = {
    "quarterly", "monthly",    "annual",  "overdue",  "pending",    "draft",    "internal",
    "external",  "regional",   "global",  "primary",  "secondary",  "archived", "active",
    "inactive",  "critical",   "urgent",  "shared",   "private",    "public",   "legacy",
    "staging",   "production", "test",    "partner",  "enterprise", "trial",    "premium",
    "weekly",    "daily",      "expired", "expiring", "duplicate",  "orphaned", "unused"};
const std::vector<std::string> kDomains = {
    "finance", "hr",          "sales",      "marketing", "it",          "security",
    "legal",   "procurement", "logistics",  "support",   "engineering", "facilities",
    "payroll", "compliance",  "operations", "billing",   "crm",         "erp"};

struct SlotKind {
  const char* name;
  SlotType type;
  const char* value;  // a value of this kind for a goal
};
const std::vector<SlotKind> kSlotKinds = {
    {"id", SlotType::kCode, "REF-40213"},           {"due", SlotType::kDate, "next Tuesday"},
    {"amount", SlotType::kMoney, "$1,250"},         {"count", SlotType::kNumber, "12"},
    {"owner", SlotType::kEmail, "kim@example.com"}, {"target", SlotType::kPercent, "15%"},
    {"note", SlotType::kString, "Northwind"}};

struct Generated {
  std::vector<Skill> skills;
  std::vector<std::string> goals;  // one held-out paraphrase per skill
  std::vector<std::string> truth;  // its skill
};

Generated generate(size_t n, unsigned seed) {
  std::mt19937 rng(seed);
  auto pick = [&](size_t size) { return static_cast<size_t>(rng() % size); };
  Generated out;
  for (size_t i = 0; i < n; ++i) {
    // Two of the group's verbs in the examples, the third only in the goal:
    // it is learned, if at all, from other skills' examples.
    const auto& group = kVerbs[pick(kVerbs.size())];
    size_t held_out = pick(3);
    const std::vector<std::string> verbs = {group[(held_out + 1) % 3], group[(held_out + 2) % 3],
                                            group[held_out]};
    const std::string& object = kObjects[pick(kObjects.size())];
    const std::string& qualifier = kQualifiers[pick(kQualifiers.size())];
    const std::string& domain = kDomains[pick(kDomains.size())];
    const SlotKind& first = kSlotKinds[pick(kSlotKinds.size())];
    const SlotKind& second = kSlotKinds[pick(kSlotKinds.size())];
    Skill skill;
    skill.name = verbs[0] + "-" + qualifier + "-" + object + "-" + std::to_string(i);
    std::replace(skill.name.begin(), skill.name.end(), ' ', '-');
    skill.description =
        "In the " + domain + " system, " + verbs[0] + " a " + qualifier + " " + object + ".";
    SlotSpec a;
    a.name = first.name;
    a.type = first.type;
    skill.slots.push_back(a);
    bool two = second.name != first.name;
    if (two) {
      SlotSpec b;
      b.name = second.name;
      b.type = second.type;
      b.required = false;
      skill.slots.push_back(b);
    }
    const std::string p1 = "{" + std::string(first.name) + "}";
    const std::string p2 = two ? " {" + std::string(second.name) + "}" : "";
    std::vector<std::string> templates = {
        verbs[0] + " the " + qualifier + " " + object + " " + p1 + p2,
        verbs[1] + " " + qualifier + " " + object + " " + p1 + " in " + domain,
        "please " + verbs[0] + " " + domain + " " + object + " " + p1,
        verbs[1] + " the " + object + " " + p1 + p2 + " for " + domain,
        "I need to " + verbs[0] + " a " + object + " " + p1,
        verbs[0] + " " + object + " " + p1 + " now" + p2};
    size_t examples = 3 + pick(4);  // 3..6
    for (size_t e = 0; e < examples; ++e) skill.examples.push_back(templates[e]);
    out.skills.push_back(std::move(skill));

    // A held-out paraphrase: the verb this skill's examples never use, the
    // words in another order, real values.
    std::string goal = std::string(first.value) + " " + object + " " + verbs[2] + " " + qualifier +
                       (two ? std::string(" ") + second.value : "") + " " + domain;
    out.goals.push_back(goal);
    out.truth.push_back(out.skills.back().name);
  }
  return out;
}

double median(std::vector<double> values) {
  if (values.empty()) return 0;
  std::sort(values.begin(), values.end());
  return values[values.size() / 2];
}
double percentile(std::vector<double> values, double p) {
  if (values.empty()) return 0;
  std::sort(values.begin(), values.end());
  return values[std::min(values.size() - 1, static_cast<size_t>(p * values.size()))];
}

struct World {
  ergon::testing::ParaphraseSet set;
  Generated generated;
  std::vector<Skill> library;  // generated + the set's skills
  std::vector<std::string> goals;
};

World& world() {
  static World w = [] {
    World out;
    auto set = ergon::testing::load_paraphrase_set(std::string(ERGON_SOURCE_DIR) +
                                                   "/tests/data/paraphrases");
    if (!set) {
      std::fprintf(stderr, "planner_bench: %s\n", set.error().message.c_str());
      std::exit(2);
    }
    out.set = std::move(*set);
    out.generated = generate(g_skills, g_seed);
    out.library = out.generated.skills;
    out.library.insert(out.library.end(), out.set.skills.begin(), out.set.skills.end());
    for (size_t i = 0; out.goals.size() < g_goals; ++i) {
      if (i % 5 == 4) {
        out.goals.push_back(out.set.paraphrases[i % out.set.paraphrases.size()].goal);
      } else {
        out.goals.push_back(out.generated.goals[i % out.generated.goals.size()]);
      }
    }
    return out;
  }();
  return w;
}

void print_report(const char* title, const ergon::testing::ParaphraseReport& r) {
  std::printf(
      "%s: precision %.3f, recall %.3f (planned %zu of %zu, %zu right; asked %zu; no skill %zu), "
      "slot accuracy %.3f, Brier %.3f; unrelated: %zu of %zu ran a skill, %zu asked\n",
      title, r.precision(), r.recall(), r.planned, r.paraphrases, r.planned_right, r.asked,
      r.not_found, r.slot_accuracy(), r.brier, r.unrelated_planned, r.unrelated, r.unrelated_asked);
}

void print_numbers() {
  World& w = world();
  ergon::FakeClock clock(w.set.now_ms);

  auto start = std::chrono::steady_clock::now();
  SkillPlanner planner(w.library, {}, &clock);
  double build_ms =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
  const ergon::PlannerCalibration& c = planner.calibration();
  std::printf("library: %zu skills (%zu generated, seed %u); built in %.1f ms\n", w.library.size(),
              w.generated.skills.size(), g_seed, build_ms);
  std::printf(
      "calibration: %zu matches, %zu non-matches, fitted %s; weights score %.2f coverage %.2f "
      "margin %.2f core %.2f values %.2f bias %.2f\n",
      c.matches, c.non_matches, c.fitted ? "yes" : "no", c.w_score, c.w_coverage, c.w_margin,
      c.w_core, c.w_values, c.bias);

  std::vector<double> times;
  size_t generated_right = 0, generated_planned = 0, generated_total = 0;
  for (size_t i = 0; i < w.goals.size(); ++i) {
    auto t0 = std::chrono::steady_clock::now();
    auto plan = planner.plan(w.goals[i], Json::object());
    times.push_back(
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
    if (i % 5 != 4) {
      ++generated_total;
      if (plan) {
        ++generated_planned;
        generated_right += plan->skill == w.generated.truth[i % w.generated.truth.size()];
      }
    }
  }
  std::printf(
      "plan(): median %.3f ms, p90 %.3f ms, max %.3f ms over %zu goals (target: median "
      "<= 1 ms)\n",
      median(times), percentile(times, 0.9), percentile(times, 1.0), times.size());
  std::printf("generated paraphrases: %zu of %zu planned, %zu of them the right skill\n",
              generated_planned, generated_total, generated_right);

  SkillPlanner alone(w.set.skills, {}, &clock);
  print_report("paraphrase set, its 10 skills alone",
               ergon::testing::score_paraphrases(alone, w.set));
  print_report("paraphrase set, among all skills   ",
               ergon::testing::score_paraphrases(planner, w.set));
  std::fflush(stdout);
}

void BM_Plan(benchmark::State& state) {
  World& w = world();
  ergon::FakeClock clock(w.set.now_ms);
  SkillPlanner planner(w.library, {}, &clock);
  size_t i = 0;
  for (auto _ : state) {
    auto plan = planner.plan(w.goals[i++ % w.goals.size()], Json::object());
    benchmark::DoNotOptimize(plan);
  }
  state.SetLabel(std::to_string(w.library.size()) + " skills");
}
BENCHMARK(BM_Plan)->Unit(benchmark::kMicrosecond);

void BM_Build(benchmark::State& state) {
  World& w = world();
  for (auto _ : state) {
    SkillPlanner planner(w.library);
    benchmark::DoNotOptimize(planner);
  }
  state.SetLabel(std::to_string(w.library.size()) + " skills");
}
BENCHMARK(BM_Build)->Unit(benchmark::kMillisecond)->Iterations(3);

}  // namespace

int main(int argc, char** argv) {
  std::vector<char*> rest = {argv[0]};
  for (int i = 1; i < argc; ++i) {
    if (std::strncmp(argv[i], "--skills=", 9) == 0) {
      g_skills = std::strtoul(argv[i] + 9, nullptr, 10);
    } else if (std::strncmp(argv[i], "--seed=", 7) == 0) {
      g_seed = static_cast<unsigned>(std::strtoul(argv[i] + 7, nullptr, 10));
    } else if (std::strncmp(argv[i], "--goals=", 8) == 0) {
      g_goals = std::max<size_t>(1, std::strtoul(argv[i] + 8, nullptr, 10));
    } else {
      rest.push_back(argv[i]);
    }
  }
  int rest_argc = static_cast<int>(rest.size());
  print_numbers();
  benchmark::Initialize(&rest_argc, rest.data());
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
