// The grounding model: the fingerprint similarity weights, learned from the
// pages demonstrations recorded and from synthetic redesigns of them.
//
// Data. Each training page is redesigned `mutations_per_page` times
// (browser::mutate at one of several intensities, sometimes with a banner
// added on top); the seeds come from std::mt19937(seed), distinct and with the
// top bit set (so the benchmark's small seeds never collide). Per page the
// first redesigns train and the last `holdout` share only measure; then
// kCalibrationFactor × as many calibration redesigns are drawn that only
// choose the thresholds. For every target on a training redesign, the
// per-property similarities (property_similarities: the very terms
// similarity() sums) of the element it became (positive) and of the other
// elements (negatives: the strongest kKeptCandidates under the published
// weights) form one listwise case.
//
// Fit. similarity() is Σ w·s / Σ w over the properties the target names; the
// loss is the softmax cross-entropy of the positive among its case's
// candidates (scores × kTemperature, kMargin added to the negatives), plus an
// L2 pull towards the published Similo weights; full-batch Adam in a fixed
// order, weights kept non-negative and their sum fixed (the score does not
// depend on the scale). Deterministic: no threads, no clock, randomness from
// raw mt19937 output only.
//
// Thresholds. ground() with the learned weights on the training and
// calibration redesigns; for each min_score on a 0.01 grid from the published
// 0.50, min_margin is the smallest (from the published 0.08 up) that leaves
// every wrong answer scoring within kScoreSafety of min_score at least
// kSafety short of it; the pair that finds the most targets correctly wins
// (ties: the lower min_score).
//
// Real pairs (a person's picks on real pages, picks.jsonl) join the fit after
// the synthetic cases: together they weigh kRealShare of the loss, each with a
// hinge pulling its right element's score up to kRealScore (a pick often
// answers a weak match, which the listwise loss cannot fix), and they join
// the candidate choice and the thresholds with the same share, so each is
// found correctly or asked, never wrong.
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <cerrno>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "connect/browser/mutate.h"
#include "ergon/learn.h"

namespace ergon {
namespace {

constexpr size_t kProps = PropertyScores::kCount;
using Weights = std::array<double, kProps>;

constexpr uint32_t kSeedBit = 0x80000000u;
constexpr double kTemperature = 30.0;
// Added to every wrong candidate's score inside the softmax (an additive
// margin): the right element should win by a margin, not just win.
constexpr double kMargin = 0.04;
constexpr double kL2 = 0.002;  // on weights scaled to mean 1
// A case whose best wrong candidate beats the right one by more than this
// weighs kWrongCost times as much: near the margin a person is asked, beyond
// it the grounder would click the wrong element.
constexpr double kConfidentWrong = 0.04;
constexpr double kWrongCost = 10.0;
constexpr double kLearningRate = 0.03;
constexpr size_t kKeptCandidates = 40;
constexpr double kSafety = 0.02;
// Redesigns for choosing the thresholds, per training redesign: a wrong
// answer with a wide margin is rare, and the thresholds must have seen it.
constexpr int kCalibrationFactor = 3;
// Thresholds are never below the published ones (GroundingOptions' defaults):
// a wrong answer with a wide margin is rare enough that the calibration
// redesigns may not show one, and a learned model must not be less careful
// than the defaults where its data is silent. In hundredths.
constexpr int hundredths(double x) {
  return static_cast<int>(x * 100.0 + 0.5);
}
constexpr int kFloorScore = hundredths(GroundingOptions{}.min_score);
constexpr int kFloorMargin = hundredths(GroundingOptions{}.min_margin);
constexpr int kCeilingScore = 90;
// How far below a candidate min_score a wrong answer still counts against
// the margin: wrong answers with a high score are not rarer than those with
// a low one, so a higher min_score must not buy a narrower margin cheaply.
constexpr double kScoreSafety = 0.05;
// What a real pair's right element should score at least: the lowest
// min_score a model may choose, with the same safety as the thresholds.
constexpr double kRealScore = kFloorScore / 100.0 + kScoreSafety;

// All real pairs (a person's picks on real redesigns) together weigh this
// share of the fit's loss and of the thresholds' count: synthetic redesigns are
// a proxy of the real ones and keep their majority, and the share does not
// shrink as more synthetic cases are mined.
constexpr double kRealShare = 1.0 / 3.0;

// One real pair's weight among `synthetic` cases of weight 1 so that `real`
// of them weigh kRealShare of the total; never less than a synthetic case.
double real_weight(size_t synthetic, size_t real) {
  if (real == 0) return 1.0;
  const double w =
      kRealShare / (1.0 - kRealShare) * static_cast<double>(synthetic) / static_cast<double>(real);
  return std::max(1.0, w);
}

// Randomness from the raw std::mt19937 stream only (its output is fixed by
// the standard; the distributions are not).
class Dice {
 public:
  explicit Dice(uint32_t seed) : rng_(seed) {}
  uint32_t next() { return rng_(); }
  bool chance(double p) {
    return p > 0 && static_cast<double>(rng_() >> 8) * (1.0 / 16777216.0) < p;
  }
  size_t pick(size_t n) { return n == 0 ? 0 : rng_() % n; }

 private:
  std::mt19937 rng_;
};

// ---------------------------------------------------------------------------
// Redesigns.

// One kind of change at a time, strongly: the redesigns a single release
// brings (a restyle, a copy edit, a layout change).
browser::MutationOptions single_kind(size_t kind) {
  browser::MutationOptions o = browser::MutationOptions::none();
  switch (kind % 7) {
    case 0: o.rename_id = 0.9, o.rename_name_attr = 0.5; break;
    case 1: o.rename_class = 0.9; break;
    case 2: o.reword = 0.8, o.reword_placeholder = 0.8; break;
    case 3: o.change_neighbor_text = 0.7; break;
    case 4: o.drop_attribute = 0.4; break;
    case 5: o.move_block = 1.0, o.max_moved_blocks = 3; break;
    default: o.insert_sibling = 0.4; break;
  }
  return o;
}

// Everything at once, more often than the defaults.
browser::MutationOptions heavy() {
  browser::MutationOptions o;
  o.rename_id = 0.6;
  o.rename_name_attr = 0.25;
  o.rename_class = 0.6;
  o.reword = 0.45;
  o.reword_placeholder = 0.4;
  o.change_neighbor_text = 0.35;
  o.drop_attribute = 0.2;
  o.move_block = 0.9;
  o.max_moved_blocks = 3;
  o.insert_sibling = 0.2;
  o.remove_readable = 0.1;
  return o;
}

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// "html/body/div[3]/..." → the index of body's div child (1 when written
// without one), 0 when the path does not go through one.
int body_div_index(std::string_view path, size_t& end) {
  constexpr std::string_view kPrefix = "html/body/div";
  if (!path.starts_with(kPrefix)) return 0;
  end = kPrefix.size();
  if (end == path.size() || path[end] == '/') return 1;
  if (path[end] != '[') return 0;
  const size_t close = path.find(']', end);
  if (close == std::string_view::npos) return 0;
  int index = 0;
  for (size_t i = end + 1; i < close; ++i) {
    if (path[i] < '0' || path[i] > '9') return 0;
    index = std::min(index * 10 + (path[i] - '0'), 1 << 20);
  }
  end = close + 1;
  return index;
}

// A banner appears at the top of the page (a cookie notice, a maintenance
// message, an announcement): everything moves down, body's div children move
// one index on, and the banner brings a button and a link of its own.
void change_banner(browser::Mutation& m, Dice& dice) {
  static constexpr std::array<std::string_view, 4> kMessages = {
      "We use cookies to improve your experience.", "Scheduled maintenance on Sunday 02:00 UTC.",
      "New: everything in one dashboard.", "Your session will expire in 5 minutes."};
  static constexpr std::array<std::string_view, 4> kButtons = {"Accept all", "Got it", "Dismiss",
                                                               "OK"};
  static constexpr std::array<std::string_view, 4> kLinks = {"Cookie settings", "Read more",
                                                             "What's new", "Status page"};
  auto on_page = [&](std::string_view label) {
    const std::string folded = lower(label);
    return std::any_of(m.page.begin(), m.page.end(), [&](const Fingerprint& fp) {
      return lower(fp.name) == folded || lower(fp.text) == folded;
    });
  };
  const double height = 40.0 + 8.0 * static_cast<double>(dice.pick(8));
  std::vector<Fingerprint> banner;
  Fingerprint message;
  message.tag = "p";
  message.text = std::string(kMessages[dice.pick(kMessages.size())]);
  message.dom_path = "html/body/div/p";
  message.x = 24;
  message.y = 12;
  message.width = 720;
  message.height = 20;
  banner.push_back(message);
  // A control of the banner's own at (x, y, width, height), beside its
  // message; none when the page already has one labelled `label`.
  auto add_control = [&](std::string_view label, const std::string& tag, const std::string& role,
                         double x, double y, double width, double height) -> Fingerprint* {
    if (on_page(label)) return nullptr;
    Fingerprint& control = banner.emplace_back();
    control.tag = tag;
    control.role = role;
    control.name = control.text = std::string(label);
    control.dom_path = "html/body/div/" + tag;
    control.x = x;
    control.y = y;
    control.width = width;
    control.height = height;
    control.neighbor_text = message.text;
    return &control;
  };
  if (Fingerprint* button =
          add_control(kButtons[dice.pick(kButtons.size())], "button", "button", 980, 6, 110, 32)) {
    button->type = "button";
    button->classes = "banner-action";
  }
  if (Fingerprint* link =
          add_control(kLinks[dice.pick(kLinks.size())], "a", "link", 760, 12, 120, 20)) {
    link->href = "/notice";
  }
  for (Fingerprint& fp : m.page) {
    if (fp.y) *fp.y += height;
    size_t end = 0;
    if (const int index = body_div_index(fp.dom_path, end); index > 0) {
      fp.dom_path = "html/body/div[" + std::to_string(index + 1) + "]" + fp.dom_path.substr(end);
    }
  }
  const int inserted = static_cast<int>(banner.size());
  for (int& to : m.moved_to) to = to < 0 ? to : to + inserted;
  m.page.insert(m.page.begin(), banner.begin(), banner.end());
  if (!m.description.empty()) m.description += "; ";
  m.description += "banner '" + message.text + "' added on top";
}

// The redesign of `page` for `seed`: half at the default intensity, a quarter
// heavier, a quarter one kind of change only; a banner on top of three in ten.
browser::Mutation redesign(const std::vector<Fingerprint>& page, uint32_t seed) {
  Dice dice(seed);
  const size_t variant = dice.pick(4);
  browser::MutationOptions options;
  if (variant == 2) options = heavy();
  if (variant == 3) options = single_kind(dice.pick(7));
  browser::Mutation m = browser::mutate(page, options, dice.next());
  if (dice.chance(0.3)) change_banner(m, dice);
  return m;
}

// ---------------------------------------------------------------------------
// Seeds and the split.

struct Split {
  std::vector<std::vector<uint32_t>> training;     // per page: fit the weights
  std::vector<std::vector<uint32_t>> calibration;  // per page: only choose thresholds
  std::vector<std::vector<uint32_t>> heldout;      // per page: only measure
};

Split split_seeds(size_t pages, const TrainOptions& options) {
  Dice dice(options.seed);
  std::set<uint32_t> used;
  auto fresh = [&] {
    uint32_t seed = dice.next() | kSeedBit;
    while (!used.insert(seed).second) seed = dice.next() | kSeedBit;
    return seed;
  };
  const int n = options.mutations_per_page;
  const int held = std::clamp(static_cast<int>(std::lround(n * options.holdout)), 1, n - 1);
  Split split;
  split.training.resize(pages);
  split.calibration.resize(pages);
  split.heldout.resize(pages);
  for (size_t p = 0; p < pages; ++p) {
    for (int k = 0; k < n; ++k)
      (k < n - held ? split.training : split.heldout)[p].push_back(fresh());
  }
  // Drawn after the others: the training and held-out seeds do not depend on it.
  for (size_t p = 0; p < pages; ++p) {
    for (int k = 0; k < kCalibrationFactor * (n - held); ++k)
      split.calibration[p].push_back(fresh());
  }
  return split;
}

// ---------------------------------------------------------------------------
// Cases and the fit.

// One target on one redesign: its candidates' property similarities.
struct Case {
  std::array<bool, kProps> known{};
  double weight = 1;          // a real pair weighs more than a synthetic case
  bool real = false;          // a person's pick, not a synthetic redesign
  size_t positive = 0;        // index into the kept candidates
  std::vector<float> scores;  // kept candidates × kProps
  size_t candidates() const { return scores.size() / kProps; }
};

double weighted(const PropertyScores& s, const Weights& w) {
  double sum = 0, denominator = 0;
  for (size_t i = 0; i < kProps; ++i) {
    if (!s.known[i]) continue;
    sum += w[i] * s.score[i];
    denominator += w[i];
  }
  return denominator > 0 ? sum / denominator : 0;
}

// The positive and the strongest negatives under `prior`, in page order.
Case make_case(const std::vector<PropertyScores>& all, size_t positive, const Weights& prior) {
  std::vector<std::pair<double, size_t>> ranked;
  ranked.reserve(all.size());
  for (size_t j = 0; j < all.size(); ++j) {
    if (j != positive) ranked.emplace_back(weighted(all[j], prior), j);
  }
  const size_t keep = std::min(ranked.size(), kKeptCandidates - 1);
  std::partial_sort(ranked.begin(), ranked.begin() + static_cast<long>(keep), ranked.end(),
                    [](const auto& a, const auto& b) {
                      return a.first != b.first ? a.first > b.first : a.second < b.second;
                    });
  std::vector<size_t> kept{positive};
  for (size_t k = 0; k < keep; ++k) kept.push_back(ranked[k].second);
  std::sort(kept.begin(), kept.end());

  Case c;
  c.known = all[positive].known;
  c.scores.reserve(kept.size() * kProps);
  for (size_t j : kept) {
    if (j == positive) c.positive = c.candidates();
    for (size_t i = 0; i < kProps; ++i) c.scores.push_back(static_cast<float>(all[j].score[i]));
  }
  return c;
}

double sum_of(const Weights& w) {
  double s = 0;
  for (double x : w) s += x;
  return s;
}

// Three decimals: what the file shows is exactly what was measured.
Weights rounded(Weights w) {
  for (double& x : w) x = std::round(x * 1000.0) / 1000.0;
  return w;
}

// Projected Adam on the listwise loss (see the file comment); the weights
// after each quarter of the epochs (epoch, weights), rounded.
std::vector<std::pair<int, Weights>> fit(const std::vector<Case>& cases, const Weights& prior,
                                         int epochs) {
  const double total = sum_of(prior);
  const double unit = total / static_cast<double>(kProps);  // weights are ~unit each
  Weights w = prior, m{}, v{};
  constexpr double kBeta1 = 0.9, kBeta2 = 0.999, kEpsilon = 1e-8;
  std::vector<std::pair<int, Weights>> checkpoints;
  std::vector<double> s, p;
  double total_weight = 0;
  for (const Case& c : cases) total_weight += c.weight;
  for (int epoch = 1; epoch <= epochs; ++epoch) {
    Weights grad{};
    for (const Case& c : cases) {
      double denominator = 0;
      for (size_t i = 0; i < kProps; ++i) denominator += c.known[i] ? w[i] : 0.0;
      if (denominator <= 0) continue;
      const size_t n = c.candidates();
      s.assign(n, 0.0);
      p.assign(n, 0.0);
      double top = -1e300, rival = -1e300;
      for (size_t j = 0; j < n; ++j) {
        const float* f = &c.scores[j * kProps];
        double sum = 0;
        for (size_t i = 0; i < kProps; ++i) sum += c.known[i] ? w[i] * f[i] : 0.0;
        s[j] = sum / denominator;
        if (j != c.positive) rival = std::max(rival, s[j]);
        top = std::max(top, kTemperature * (s[j] + (j == c.positive ? 0.0 : kMargin)));
      }
      // A confident wrong answer costs more than an ambiguous one.
      const double cost = rival - s[c.positive] > kConfidentWrong ? kWrongCost : 1.0;
      double z = 0;
      for (size_t j = 0; j < n; ++j) {
        z += p[j] = std::exp(kTemperature * (s[j] + (j == c.positive ? 0.0 : kMargin)) - top);
      }
      for (size_t j = 0; j < n; ++j) {
        const double g =
            c.weight * cost * kTemperature * (p[j] / z - (j == c.positive ? 1.0 : 0.0));
        if (g == 0) continue;
        const float* f = &c.scores[j * kProps];
        for (size_t i = 0; i < kProps; ++i) {
          if (c.known[i]) grad[i] += g * (f[i] - s[j]) / denominator;
        }
      }
      // A real pair was asked because it was weak or ambiguous; the listwise
      // term above fixes ambiguity, this hinge on the right element's own
      // score fixes weakness: kTemperature × (kRealScore − s) while below it.
      if (c.real && s[c.positive] < kRealScore) {
        const double g = -c.weight * kTemperature;
        const float* f = &c.scores[c.positive * kProps];
        for (size_t i = 0; i < kProps; ++i) {
          if (c.known[i]) grad[i] += g * (f[i] - s[c.positive]) / denominator;
        }
      }
    }
    const double scale = total_weight > 0 ? 1.0 / total_weight : 0.0;
    for (size_t i = 0; i < kProps; ++i) {
      const double g = grad[i] * scale + 2 * kL2 * (w[i] - prior[i]) / (unit * unit);
      m[i] = kBeta1 * m[i] + (1 - kBeta1) * g;
      v[i] = kBeta2 * v[i] + (1 - kBeta2) * g * g;
      const double m_hat = m[i] / (1 - std::pow(kBeta1, epoch));
      const double v_hat = v[i] / (1 - std::pow(kBeta2, epoch));
      w[i] = std::max(0.0, w[i] - kLearningRate * unit * m_hat / (std::sqrt(v_hat) + kEpsilon));
    }
    const double now = sum_of(w);
    if (now <= 0) break;
    for (double& x : w) x *= total / now;
    if (epoch * 4 / epochs != (epoch - 1) * 4 / epochs) checkpoints.emplace_back(epoch, rounded(w));
  }
  return checkpoints;
}

// ---------------------------------------------------------------------------
// Decisions and thresholds.

// ground()'s best and runner-up on a redesign, before any threshold.
struct Decision {
  double best = 0;
  double margin = 0;
  bool right = false;
  double weight = 1;  // what finding it is worth when choosing thresholds
};

Decision decide(const Fingerprint& target, const std::vector<Fingerprint>& page, int expected,
                const GroundingWeights& weights) {
  GroundingOptions loose;
  loose.weights = weights;
  loose.min_score = 0;
  loose.min_margin = 0;
  const GroundingResult r = ground(target, page, loose);
  Decision d;
  if (r.ranked.empty()) return d;
  d.best = r.ranked[0].score;
  d.margin = r.ranked.size() > 1 ? r.ranked[0].score - r.ranked[1].score : 1.0;
  d.right = r.ranked[0].index == expected;
  return d;
}

// The same from a case's kept candidates (ties: the first in page order, as
// ground() ranks them).
Decision decide(const Case& c, const Weights& w) {
  double denominator = 0;
  for (size_t i = 0; i < kProps; ++i) denominator += c.known[i] ? w[i] : 0.0;
  double best = -1, second = -1;
  size_t best_index = 0;
  for (size_t j = 0; j < c.candidates(); ++j) {
    const float* f = &c.scores[j * kProps];
    double sum = 0;
    for (size_t i = 0; i < kProps; ++i) sum += c.known[i] ? w[i] * f[i] : 0.0;
    const double score = denominator > 0 ? std::clamp(sum / denominator, 0.0, 1.0) : 0.0;
    if (score > best) {
      second = best;
      best = score;
      best_index = j;
    } else if (score > second) {
      second = score;
    }
  }
  Decision d;
  d.best = std::max(best, 0.0);
  d.margin = second < 0 ? 1.0 : best - second;
  d.right = best_index == c.positive;
  return d;
}

struct Thresholds {
  double min_score = 0.5;
  double min_margin = 0.08;
  double found = 0;  // the weights of the decisions found correctly
  int correct = 0;
  int wrong_seen = 0;  // training decisions whose best is another element
};

Thresholds choose_thresholds(const std::vector<Decision>& decisions) {
  Thresholds best;
  best.found = -1;
  for (const Decision& d : decisions) best.wrong_seen += d.right ? 0 : 1;
  for (int score = kFloorScore; score <= kCeilingScore; ++score) {
    const double min_score = score / 100.0;
    double needed = kFloorMargin / 100.0;
    for (const Decision& d : decisions) {
      if (!d.right && d.best >= min_score - kScoreSafety) {
        needed = std::max(needed, d.margin + kSafety);
      }
    }
    const double min_margin = std::ceil(needed * 100.0 - 1e-9) / 100.0;
    int correct = 0;
    double found = 0;
    for (const Decision& d : decisions) {
      if (d.right && d.best >= min_score && d.margin >= min_margin) {
        ++correct;
        found += d.weight;
      }
    }
    if (found > best.found) {  // ties: the lower min_score, nearer the published one
      best.min_score = min_score;
      best.min_margin = min_margin;
      best.found = found;
      best.correct = correct;
    }
  }
  return best;
}

void count(GroundingAccuracy& accuracy, const GroundingResult& r, int expected) {
  if (r.status != GroundingResult::Status::kFound) {
    ++accuracy.asked;
  } else if (r.best()->index == expected) {
    ++accuracy.correct;
  } else {
    ++accuracy.wrong;
  }
}

Json accuracy_json(const GroundingAccuracy& a) {
  return Json{{"correct", a.correct},
              {"wrong", a.wrong},
              {"asked", a.asked},
              {"total", a.total()},
              {"correct_pct", std::round(a.rate() * 10000.0) / 100.0}};
}

}  // namespace

Result<TrainReport> train_grounding(const std::vector<TrainingPage>& pages,
                                    const TrainOptions& options) {
  return train_grounding(pages, {}, options);
}

Result<TrainReport> train_grounding(const std::vector<TrainingPage>& pages,
                                    const std::vector<LabelledPair>& real,
                                    const TrainOptions& options) {
  if (options.mutations_per_page < 2) {
    return fail(
        ErrorCode::kInvalidInput,
        "mutations: need at least 2 redesigns per page (one to train, one to measure), got " +
            std::to_string(options.mutations_per_page));
  }
  if (!(options.holdout > 0 && options.holdout < 1)) {
    return fail(ErrorCode::kInvalidInput,
                "holdout: the share of redesigns kept for measuring must be between 0 and 1 "
                "(exclusive), e.g. 0.25");
  }
  if (options.epochs < 1) {
    return fail(ErrorCode::kInvalidInput, "epochs: must be at least 1");
  }
  int targets = 0;
  for (const TrainingPage& page : pages) {
    for (int t : page.targets) {
      if (t < 0 || static_cast<size_t>(t) >= page.elements.size()) {
        return fail(ErrorCode::kInvalidInput,
                    page.source + ": target " + std::to_string(t) + " is not one of the page's " +
                        std::to_string(page.elements.size()) + " elements");
      }
      targets += page.elements[static_cast<size_t>(t)].empty() ? 0 : 1;
    }
  }
  if (targets == 0) {
    return fail(ErrorCode::kInvalidInput,
                "no targets to learn from: the recorded pages name no element a step acted on");
  }
  for (const LabelledPair& pair : real) {
    if (pair.answer < 0 || static_cast<size_t>(pair.answer) >= pair.elements.size()) {
      return fail(ErrorCode::kInvalidInput,
                  pair.source + ": picked: " + std::to_string(pair.answer) +
                      " is not one of the pick's " + std::to_string(pair.elements.size()) +
                      " elements — delete the line");
    }
    if (pair.target.empty()) {
      return fail(ErrorCode::kInvalidInput,
                  pair.source + ": target: names no property — delete the line");
    }
  }

  const Split split = split_seeds(pages.size(), options);
  const GroundingWeights similo = GroundingWeights::similo();
  const Weights prior = weight_vector(similo);

  // Mine the cases: the training redesigns fit the weights; those and the
  // calibration redesigns choose among the fits and set the thresholds.
  std::vector<Case> cases, calibration;
  int training_mutations = 0, calibration_mutations = 0, heldout_mutations = 0;
  auto mine = [&](const TrainingPage& page, const std::vector<uint32_t>& seeds,
                  std::vector<Case>& out) {
    for (uint32_t seed : seeds) {
      const browser::Mutation m = redesign(page.elements, seed);
      for (int t : page.targets) {
        const Fingerprint& target = page.elements[static_cast<size_t>(t)];
        const int expected = m.moved_to[static_cast<size_t>(t)];
        if (target.empty() || expected < 0) continue;
        out.push_back(
            make_case(property_similarities(target, m.page), static_cast<size_t>(expected), prior));
      }
    }
    return static_cast<int>(seeds.size());
  };
  for (size_t p = 0; p < pages.size(); ++p) {
    training_mutations += mine(pages[p], split.training[p], cases);
    calibration_mutations += mine(pages[p], split.calibration[p], calibration);
    heldout_mutations += static_cast<int>(split.heldout[p].size());
  }
  // The real pairs join the fit after the synthetic cases, each weighing
  // as much as kRealShare of the loss needs (at least one synthetic case's).
  const size_t synthetic = cases.size();
  const double real_fit_weight = real_weight(synthetic, real.size());
  const double real_threshold_weight = real_weight(synthetic + calibration.size(), real.size());
  for (const LabelledPair& pair : real) {
    cases.push_back(make_case(property_similarities(pair.target, pair.elements),
                              static_cast<size_t>(pair.answer), prior));
    cases.back().weight = real_fit_weight;
    cases.back().real = true;
  }
  size_t pairs = 0;
  for (const Case& c : cases) pairs += c.candidates();

  // Candidates: the published weights and the fit after each quarter of the
  // epochs; the one that finds the most targets on the training and
  // calibration redesigns, under the thresholds it would get, wins (ties:
  // the earlier, the published weights first).
  std::vector<std::pair<int, Weights>> candidates{{0, prior}};
  for (auto& checkpoint : fit(cases, prior, options.epochs)) candidates.push_back(checkpoint);
  Json considered = Json::array();
  size_t chosen = 0;
  double chosen_found = -1;
  for (size_t k = 0; k < candidates.size(); ++k) {
    std::vector<Decision> decisions;
    decisions.reserve(cases.size() + calibration.size());
    for (size_t c = 0; c < cases.size(); ++c) {
      decisions.push_back(decide(cases[c], candidates[k].second));
      if (c >= synthetic) decisions.back().weight = real_threshold_weight;
    }
    for (const Case& c : calibration) decisions.push_back(decide(c, candidates[k].second));
    const Thresholds t = choose_thresholds(decisions);
    considered.push_back(
        {{"weights", k == 0 ? "published" : "epoch " + std::to_string(candidates[k].first)},
         {"correct", t.correct},
         {"min_score", t.min_score},
         {"min_margin", t.min_margin}});
    if (t.found > chosen_found) {
      chosen = k;
      chosen_found = t.found;
    }
  }
  GroundingModel model;
  model.options.weights = weights_from_vector(candidates[chosen].second);

  // The thresholds, exactly: ground() on the training and calibration redesigns.
  std::vector<Decision> decisions;
  decisions.reserve(cases.size() + calibration.size());
  for (size_t p = 0; p < pages.size(); ++p) {
    const TrainingPage& page = pages[p];
    for (const auto* seeds : {&split.training[p], &split.calibration[p]}) {
      for (uint32_t seed : *seeds) {
        const browser::Mutation m = redesign(page.elements, seed);
        for (int t : page.targets) {
          const Fingerprint& target = page.elements[static_cast<size_t>(t)];
          const int expected = m.moved_to[static_cast<size_t>(t)];
          if (target.empty() || expected < 0) continue;
          decisions.push_back(decide(target, m.page, expected, model.options.weights));
        }
      }
    }
  }
  for (const LabelledPair& pair : real) {
    decisions.push_back(decide(pair.target, pair.elements, pair.answer, model.options.weights));
    decisions.back().weight = real_threshold_weight;
  }
  const Thresholds thresholds = choose_thresholds(decisions);
  model.options.min_score = thresholds.min_score;
  model.options.min_margin = thresholds.min_margin;

  // Held-out: the published weights and the learned model on the same redesigns.
  TrainReport report;
  const GroundingOptions published;
  for (size_t p = 0; p < pages.size(); ++p) {
    const TrainingPage& page = pages[p];
    for (uint32_t seed : split.heldout[p]) {
      const browser::Mutation m = redesign(page.elements, seed);
      for (int t : page.targets) {
        const Fingerprint& target = page.elements[static_cast<size_t>(t)];
        const int expected = m.moved_to[static_cast<size_t>(t)];
        if (target.empty() || expected < 0) continue;
        count(report.before, ground(target, m.page, published), expected);
        count(report.after, ground(target, m.page, model.options), expected);
      }
    }
  }

  // The real pairs: the pages the model is for, not a proxy of them.
  for (const LabelledPair& pair : real) {
    count(report.real_before, ground(pair.target, pair.elements, published), pair.answer);
    count(report.real_after, ground(pair.target, pair.elements, model.options), pair.answer);
  }

  Json sources = Json::array();
  for (const TrainingPage& page : pages) sources.push_back(page.source);
  model.meta = Json{
      {"seed", options.seed},
      {"epochs", options.epochs},
      {"mutations_per_page", options.mutations_per_page},
      {"holdout", options.holdout},
      {"pages", pages.size()},
      {"sources", sources},
      {"targets", targets},
      {"split",
       {{"training_redesigns", training_mutations},
        {"heldout_redesigns", heldout_mutations},
        {"training_targets", synthetic},
        {"calibration_redesigns", calibration_mutations},
        {"calibration_targets", calibration.size()},
        {"heldout_targets", report.after.total()},
        {"seeds",
         "std::mt19937(seed) raw output with the top bit set, distinct; per page the first "
         "redesigns train, the last holdout share only measure; then the calibration "
         "redesigns (thresholds only)"}}},
      {"training_pairs", pairs},
      {"selected", considered[chosen]["weights"]},
      {"considered", considered},
      {"loss",
       {{"kind", "softmax cross-entropy of the right element among each target's candidates"},
        {"temperature", kTemperature},
        {"additive_margin", kMargin},
        {"l2_towards_similo", kL2},
        {"candidates_per_target", kKeptCandidates},
        {"optimizer", "full-batch Adam, non-negative weights, sum fixed"},
        {"learning_rate", kLearningRate},
        {"confident_wrong", kConfidentWrong},
        {"wrong_cost", kWrongCost}}},
      {"thresholds",
       {{"safety", kSafety},
        {"score_safety", kScoreSafety},
        {"floor", {{"min_score", kFloorScore / 100.0}, {"min_margin", kFloorMargin / 100.0}}},
        {"training_correct", thresholds.correct},
        {"training_wrong_before_thresholds", thresholds.wrong_seen},
        {"targets", decisions.size()},
        {"redesigns", "the training redesigns and the calibration ones"}}},
      {"before", accuracy_json(report.before)},
      {"after", accuracy_json(report.after)},
      {"real_pairs",
       {{"count", real.size()},
        {"share_of_loss", real.empty() ? 0.0 : kRealShare},
        {"weight_each_in_fit", real_fit_weight},
        {"weight_each_in_thresholds", real_threshold_weight},
        {"measured_on", "the pairs trained on (a person's picks on real pages)"},
        {"before", accuracy_json(report.real_before)},
        {"after", accuracy_json(report.real_after)}}},
  };
  report.model = std::move(model);
  report.pages = static_cast<int>(pages.size());
  report.training_pairs = static_cast<int>(pairs);
  report.real_pairs = static_cast<int>(real.size());
  return report;
}

// ---------------------------------------------------------------------------
// Training pages from the workspace's demonstrations.

Result<std::vector<TrainingPage>> training_pages(const std::string& workspace_dir) {
  auto demos = load_demonstrations(workspace_dir);
  if (!demos) return fail(demos.error());
  std::vector<TrainingPage> pages;
  std::set<std::string> seen_targets;        // url + target fingerprint
  std::map<std::string, size_t> page_index;  // url + every element → pages[i]
  for (const Demonstration& demo : *demos) {
    for (const DemoStep& step : demo.steps) {
      for (const std::string* file : {&step.page_before, &step.page_after}) {
        if (file->empty()) continue;
        auto page = load_demo_page(workspace_dir, demo.id, *file);
        if (!page) return fail(page.error());
        const std::string source = demo.id + "/pages/" + *file;
        if (page->target < 0) continue;
        if (static_cast<size_t>(page->target) >= page->elements.size()) {
          return fail(ErrorCode::kInvalidInput,
                      demonstrations_dir(workspace_dir) + "/" + source +
                          ": target: " + std::to_string(page->target) +
                          " is not one of the page's " + std::to_string(page->elements.size()) +
                          " elements — record the demonstration again or fix the index");
        }
        const Fingerprint& target = page->elements[static_cast<size_t>(page->target)];
        if (target.empty()) continue;
        if (!seen_targets.insert(page->url + "\n" + canonical_json(to_json(target))).second) {
          continue;
        }
        Json elements = Json::array();
        for (const Fingerprint& fp : page->elements) elements.push_back(to_json(fp));
        const std::string key = page->url + "\n" + sha256_hex(canonical_json(elements));
        auto [it, added] = page_index.emplace(key, pages.size());
        if (added) {
          pages.push_back(TrainingPage{source, std::move(page->elements), {}});
        }
        pages[it->second].targets.push_back(page->target);
      }
    }
  }
  return pages;
}

// ---------------------------------------------------------------------------
// Real pairs: a person's picks.

std::string picks_path(const std::string& workspace_dir) {
  return (std::filesystem::path(workspace_dir) / ".ergon" / "browser" / "picks.jsonl").string();
}

Status append_labelled_pair(const std::string& file, const LabelledPair& pair) {
  Json elements = Json::array();
  for (const Fingerprint& fp : pair.elements) elements.push_back(to_json(fp));
  const std::string line = Json{{"target", to_json(pair.target)},
                                {"url", pair.url},
                                {"elements", std::move(elements)},
                                {"picked", pair.answer}}
                               .dump() +
                           "\n";
  std::error_code ec;
  std::filesystem::create_directories(std::filesystem::path(file).parent_path(), ec);
  if (ec)
    return fail(ErrorCode::kInternal, "cannot create the folder of " + file + ": " + ec.message());
  const int fd = ::open(file.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0)
    return fail(ErrorCode::kInternal, "cannot open " + file + ": " + std::strerror(errno));
  // One write: appends of a whole line are not interleaved with another writer's.
  const ssize_t written = ::write(fd, line.data(), line.size());
  const int error = errno;
  ::close(fd);
  if (written != static_cast<ssize_t>(line.size())) {
    return fail(ErrorCode::kInternal, "cannot append to " + file + ": " +
                                          (written < 0 ? std::strerror(error) : "short write"));
  }
  return {};
}

Result<std::vector<LabelledPair>> training_pairs(const std::string& workspace_dir) {
  const std::string path = picks_path(workspace_dir);
  std::vector<LabelledPair> pairs;
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) return pairs;
  std::ifstream in(path);
  if (!in) return fail(ErrorCode::kInvalidInput, path + ": cannot be read");
  std::string text;
  int number = 0;
  while (std::getline(in, text)) {
    ++number;
    const std::string where = path + ":" + std::to_string(number);
    auto broken = [&](const std::string& what) {
      return fail(ErrorCode::kInvalidInput,
                  where + ": " + what + " — fix or delete the line (each line is one pick)");
    };
    if (text.find_first_not_of(" \t\r") == std::string::npos) continue;
    const Json doc = Json::parse(text, nullptr, false);
    if (doc.is_discarded()) return broken("not valid JSON");
    if (!doc.is_object()) return broken("expected a JSON object");
    for (const auto& [key, value] : doc.items()) {
      if (key != "target" && key != "url" && key != "elements" && key != "picked") {
        return broken(key + ": unknown field (expected target, url, elements, picked)");
      }
    }
    LabelledPair pair;
    pair.source = where;
    if (!doc.contains("target")) return broken("target: missing");
    auto target = fingerprint_from_json(doc["target"]);
    if (!target) return broken("target: " + target.error().message);
    pair.target = std::move(*target);
    if (pair.target.empty()) return broken("target: names no property");
    if (doc.contains("url")) {
      if (!doc["url"].is_string()) return broken("url: must be a string");
      pair.url = doc["url"].get<std::string>();
    }
    if (!doc.contains("elements") || !doc["elements"].is_array()) {
      return broken("elements: must be an array of fingerprints");
    }
    for (size_t i = 0; i < doc["elements"].size(); ++i) {
      auto fp = fingerprint_from_json(doc["elements"][i]);
      if (!fp) return broken("elements[" + std::to_string(i) + "]: " + fp.error().message);
      pair.elements.push_back(std::move(*fp));
    }
    if (!doc.contains("picked") || !doc["picked"].is_number_integer()) {
      return broken("picked: must be the index of the picked element");
    }
    const int64_t picked = doc["picked"].get<int64_t>();
    if (picked < 0 || picked >= static_cast<int64_t>(pair.elements.size())) {
      return broken("picked: " + std::to_string(picked) + " is not one of the " +
                    std::to_string(pair.elements.size()) + " elements");
    }
    pair.answer = static_cast<int>(picked);
    pairs.push_back(std::move(pair));
  }
  return pairs;
}

}  // namespace ergon
