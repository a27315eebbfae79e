// ergon train [--seed N] [--mutations N] [--holdout F] [--epochs N]: learns
// the grounding weights from the workspace's recorded pages and synthetic
// redesigns of them, and from the picks people made when grounding asked
// them (.ergon/browser/picks.jsonl); prints how the published weights and the learned model
// do on held-out redesigns, and writes .ergon/browser/grounding-model.json.
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <memory>
#include <string>

#include "cli/commands.h"
#include "ergon/clock.h"
#include "ergon/learn.h"

namespace ergon::cli {
namespace {

struct TrainArgs {
  TrainOptions options;
};

std::string percent(const GroundingAccuracy& a, int part) {
  char buffer[32];
  std::snprintf(buffer, sizeof buffer, "%6.2f%%", a.total() ? 100.0 * part / a.total() : 0.0);
  return buffer;
}

void print_row(const char* label, const GroundingAccuracy& a) {
  std::printf("  %-22s %8s %7d %8s\n", label, percent(a, a.correct).c_str(), a.wrong,
              percent(a, a.asked).c_str());
}

int run_train(const std::string& workspace_dir, const TrainOptions& options) {
  auto pages = training_pages(workspace_dir);
  if (!pages) return report_error(pages.error());
  if (pages->empty()) {
    std::cerr << "ergon: no recorded pages to learn from: record a demonstration first (ergon "
                 "record)\n";
    return kExitUsage;
  }
  auto picks = training_pairs(workspace_dir);
  if (!picks) return report_error(picks.error());
  auto report = train_grounding(*pages, *picks, options);
  if (!report) return report_error(report.error());
  report->model.meta["trained"] = format_time(SystemClock().now_ms());
  if (auto saved = save_grounding_model(workspace_dir, report->model); !saved) {
    return report_error(saved.error());
  }

  const Json& split = report->model.meta["split"];
  int targets = 0;
  for (const TrainingPage& page : *pages) targets += static_cast<int>(page.targets.size());
  std::printf("grounding model: %d page(s), %d target(s), seed %u\n", report->pages, targets,
              options.seed);
  std::printf("  training: %d redesigns, %d targets, %d pairs\n",
              split.value("training_redesigns", 0), split.value("training_targets", 0),
              report->training_pairs);
  std::printf("  held out: %d redesigns, %d targets (other seeds)\n\n",
              split.value("heldout_redesigns", 0), report->after.total());
  std::printf("  %-22s %8s %7s %8s\n", "held-out redesigns", "correct", "wrong", "asked");
  print_row("before (Similo)", report->before);
  print_row("after (learned)", report->after);
  if (report->real_pairs > 0) {
    std::printf(
        "\n  real pairs: %d (a person's picks, trained on); published found %d, learned "
        "found %d, wrong %d\n",
        report->real_pairs, report->real_before.correct, report->real_after.correct,
        report->real_after.wrong);
  }
  const GroundingOptions& o = report->model.options;
  std::printf("\n  thresholds: min_score %.2f, min_margin %.2f (Similo defaults 0.50, 0.08)\n",
              o.min_score, o.min_margin);
  const std::string selected = report->model.meta.value("selected", "");
  std::printf("  weights (%s):", selected == "published"
                                     ? "the published ones: no fit found more targets"
                                     : ("the fit after " + selected).c_str());
  const auto learned = weight_vector(o.weights);
  const auto keys = property_keys();
  for (size_t i = 0; i < learned.size(); ++i) {
    std::printf("%s %s %.3g", i == 0 ? "" : ",", std::string(keys[i]).c_str(), learned[i]);
  }
  std::printf("\n  wrote %s\n", grounding_model_path(workspace_dir).c_str());
  return kExitOk;
}

}  // namespace

void register_train(CLI::App& app, Commands& commands) {
  auto args = std::make_shared<TrainArgs>();
  CLI::App* train = app.add_subcommand(
      "train", "learn grounding weights from the recorded pages and redesigns of them");
  train->fallthrough();  // `ergon train -w DIR` as well as `ergon -w DIR train`
  train->add_option("--seed", args->options.seed, "seed of the redesigns (reproducible)")
      ->capture_default_str();
  train->add_option("--mutations", args->options.mutations_per_page, "redesigns per page")
      ->capture_default_str()
      ->check(CLI::Range(2, 100000));
  train
      ->add_option("--holdout", args->options.holdout,
                   "share of the redesigns kept for measuring, not training")
      ->capture_default_str()
      ->check(CLI::Range(0.01, 0.99));
  train->add_option("--epochs", args->options.epochs, "passes of the optimiser")
      ->capture_default_str()
      ->check(CLI::Range(1, 100000));
  const Commands* all = &commands;
  commands.add(train, [args, all] { return run_train(all->global->workspace, args->options); });
}

}  // namespace ergon::cli
