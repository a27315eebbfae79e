// Per-step engine overhead — guard chain + durable SQLite journal + working
// memory — on an in-process connector whose actions do nothing.
#include <benchmark/benchmark.h>
#include <unistd.h>

#include <filesystem>

#include "ergon/approver.h"
#include "ergon/engine.h"

namespace ergon {
namespace {

class NoopConnector final : public Connector {
 public:
  NoopConnector() {
    Json schema = {{"type", "object"}, {"properties", {{"n", {{"type", "integer"}}}}}};
    actions_.push_back({"noop.read", "does nothing", schema, Effect::kRead, {}, "", "", false});
    actions_.push_back({"noop.buy", "does nothing, for good", schema, Effect::kIrreversible, {}, "",
                        "", false});
  }
  const std::string& name() const override { return name_; }
  const std::vector<ActionSpec>& actions() const override { return actions_; }
  Result<Json> observe() override { return Json::object(); }
  Result<Json> execute(const ActionCall& call) override { return Json{{"n", call.args["n"]}}; }
  Result<Json> dry_run(const ActionCall&) override { return fail(ErrorCode::kNotFound, "none"); }

 private:
  std::string name_ = "noop";
  std::vector<ActionSpec> actions_;
};

// A workspace, store and engine in a temporary directory.
struct Bench {
  Bench() {
    dir = std::filesystem::temp_directory_path() / ("ergon-bench-" + std::to_string(getpid()));
    std::filesystem::create_directories(dir);
    workspace.dir = dir.string();
    PolicyRule permit_all;
    permit_all.actions = "noop.*";
    PolicyRule auto_buy;
    auto_buy.actions = "noop.buy";
    auto_buy.auto_approve = true;
    workspace.policy = Policy({permit_all, auto_buy});
    connectors.add(std::make_unique<NoopConnector>());
    store = std::move(*open_sqlite_store((dir / "ergon.db").string(), clock));
    guards = std::move(*make_guard_chain({}, workspace.policy));
    vault = std::move(*Vault::open());
    approver = make_auto_approver();
    engine = std::make_unique<Engine>(EngineParts{&workspace, &connectors, store.get(),
                                                  approver.get(), &clock, &guards, vault.get()});
  }
  ~Bench() {
    engine.reset();
    store.reset();
    std::filesystem::remove_all(dir);
  }

  std::filesystem::path dir;
  Workspace workspace;
  SystemClock clock;
  ConnectorSet connectors;
  std::unique_ptr<Store> store;
  GuardChain guards;
  std::unique_ptr<Vault> vault;
  std::unique_ptr<Approver> approver;
  std::unique_ptr<Engine> engine;
};

Plan make_plan(const std::string& action, int steps, bool templated) {
  Plan plan;
  plan.goal = "benchmark";
  for (int i = 0; i < steps; ++i) {
    Step step;
    step.id = "s" + std::to_string(i);
    step.action = action;
    step.with = templated ? Json{{"n", "${ #goal + " + std::to_string(i) + " }"}} : Json{{"n", i}};
    plan.steps.push_back(step);
  }
  return plan;
}

void run_steps(benchmark::State& state, const std::string& action, bool templated) {
  Bench bench;
  const int steps = static_cast<int>(state.range(0));
  Plan plan = make_plan(action, steps, templated);
  for (auto _ : state) {
    auto report = bench.engine->start(plan);
    if (!report || report->status != SessionStatus::kDone) {
      state.SkipWithError(report ? report->error.c_str() : report.error().message.c_str());
      break;
    }
  }
  state.counters["per_step"] = benchmark::Counter(static_cast<double>(steps),
                                                  benchmark::Counter::kIsIterationInvariantRate |
                                                      benchmark::Counter::kInvert);
}

void BM_ReadStep(benchmark::State& state) { run_steps(state, "noop.read", false); }
void BM_ReadStepWithTemplate(benchmark::State& state) { run_steps(state, "noop.read", true); }
void BM_IrreversibleStepAutoApproved(benchmark::State& state) {
  run_steps(state, "noop.buy", false);
}

BENCHMARK(BM_ReadStep)->Arg(100)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_ReadStepWithTemplate)->Arg(100)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_IrreversibleStepAutoApproved)->Arg(100)->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace ergon

BENCHMARK_MAIN();
