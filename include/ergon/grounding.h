// Grounding finds, on the page as it is now, the element a skill step means.
// A step names its target by a fingerprint — any subset of the properties
// below; role+name alone is a fingerprint too — and the grounder scores every
// candidate element by weighted similarity (after Similo: Nass, Alégroth,
// Feldt, "Similarity-based web element localization for robust test
// automation", TOSEM 2023): strings by normalised edit distance, location by
// distance, classes by overlap. The best candidate must beat the runner-up by
// a margin and reach a minimum score; otherwise the grounder says the match is
// ambiguous or weak, and the caller asks a person instead of guessing.
#pragma once

#include <array>
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "ergon/json.h"
#include "ergon/result.h"

namespace ergon {

// What identifies an element. Empty strings and absent numbers mean "not
// known" and take no part in scoring.
struct Fingerprint {
  std::string tag;          // lower-case: "button", "input", "a"
  std::string role;         // ARIA role, computed (accessibility tree)
  std::string name;         // accessible name
  std::string text;         // visible text, whitespace-collapsed, <= 200 chars
  std::string id;           // id attribute
  std::string name_attr;    // name attribute
  std::string classes;      // class attribute, space-separated
  std::string type;         // type attribute
  std::string href;         // href attribute (as written)
  std::string placeholder;
  std::string aria_label;
  std::string alt;          // alt / title, whichever is present
  std::string dom_path;     // "html/body/main/form/div[2]/button" (tag names, 1-based index when >1)
  std::string neighbor_text;  // text of the nearest label / preceding text node(s), <= 200 chars
  std::optional<double> x, y, width, height;  // CSS pixels, page coordinates

  bool empty() const;
};

// JSON: {"tag": ..., "role": ..., "name": ..., "text": ..., "id": ...,
// "name_attr": ..., "classes": ..., "type": ..., "href": ..., "placeholder": ...,
// "aria_label": ..., "alt": ..., "dom_path": ..., "neighbor_text": ...,
// "x": .., "y": .., "width": .., "height": ..}; absent or empty fields omitted.
// from_json rejects unknown fields and wrong types (kInvalidInput naming the
// field) so a typo in a skill is caught at load time.
Json to_json(const Fingerprint& fingerprint);
Result<Fingerprint> fingerprint_from_json(const Json& json);

// One weight per property; a property's contribution is weight × similarity
// in [0,1], summed over the properties the target knows, divided by the sum of
// their weights — so a score is in [0,1] whatever subset the target names.
struct GroundingWeights {
  double tag = 1.5;
  double role = 1.5;
  double name = 2.0;
  double text = 1.5;
  double id = 1.5;
  double name_attr = 1.5;
  double classes = 0.5;
  double type = 0.5;
  double href = 0.5;
  double placeholder = 1.0;
  double aria_label = 1.5;
  double alt = 0.5;
  double dom_path = 0.5;
  double neighbor_text = 1.5;
  double location = 0.5;  // x, y
  double size = 0.5;      // width, height

  // The published Similo weights mapped onto these properties (the defaults
  // above): Similo weighs tag, id, name attribute, visible text and neighbour
  // text 1.5 and class, href, alt, XPath, location and area 0.5; role,
  // accessible name, placeholder and aria-label are ergon's additions. The
  // mapping and its source: src/connect/browser/README.md, "Grounding".
  static GroundingWeights similo();
};
Json to_json(const GroundingWeights& weights);
Result<GroundingWeights> grounding_weights_from_json(const Json& json);

struct GroundingOptions {
  double min_score = 0.50;   // below: weak
  double min_margin = 0.08;  // best − runner-up below: ambiguous
  GroundingWeights weights;
};

struct Candidate {
  int index = -1;  // position in the candidate list
  double score = 0;
};

struct GroundingResult {
  enum class Status { kFound, kAmbiguous, kWeak, kNone };
  Status status = Status::kNone;
  std::vector<Candidate> ranked;  // best first, at most 5
  // For kFound: whether the match differs from the target in any property the
  // target names (the stored fingerprint should be updated: a healed match).
  bool healed = false;
  std::string explanation;        // one line for messages and the journal

  const Candidate* best() const { return ranked.empty() ? nullptr : &ranked.front(); }
};

// Similarity of one candidate to the target, in [0,1]. How each property is
// compared (equality, edit distance, word overlap, path steps, distance,
// ratio): src/connect/browser/README.md, "Grounding".
double similarity(const Fingerprint& target, const Fingerprint& candidate,
                  const GroundingWeights& weights);

// What similarity() weighs, one property at a time: the features a grounding
// model learns its weights from. Entries follow the weights' order (the 14
// string properties as in Fingerprint, then location, then size; names in
// property_keys()). `known[i]`: the target names property i, so it counts;
// `score[i]` in [0,1] is that property's similarity (0 where not known). For
// any weights w, similarity(t, c, w) == Σ w·score over known / Σ w over known
// (0 when no known property has a positive weight).
struct PropertyScores {
  static constexpr size_t kCount = 16;
  std::array<double, kCount> score{};
  std::array<bool, kCount> known{};
};
// One entry per candidate, in order; the same comparisons as ground().
std::vector<PropertyScores> property_similarities(const Fingerprint& target,
                                                  const std::vector<Fingerprint>& candidates);
// "tag", "role", ..., "neighbor_text", "location", "size": the JSON keys of
// GroundingWeights, in PropertyScores order.
const std::array<std::string_view, PropertyScores::kCount>& property_keys();
// GroundingWeights as a vector in PropertyScores order, and back.
std::array<double, PropertyScores::kCount> weight_vector(const GroundingWeights& weights);
GroundingWeights weights_from_vector(const std::array<double, PropertyScores::kCount>& vector);

// Scores every candidate (Candidate::score is similarity()) and decides:
// kFound when the best reaches min_score and beats the runner-up by at least
// min_margin, kAmbiguous when it reaches min_score but not the margin, kWeak
// below min_score (or for an empty target), kNone without candidates. Ties
// rank in document order.
GroundingResult ground(const Fingerprint& target, const std::vector<Fingerprint>& candidates,
                       const GroundingOptions& options = {});

// Normalised Levenshtein similarity of two strings after case folding and
// whitespace collapsing: 1 − distance / max(length); 1 for two empty strings.
double string_similarity(const std::string& a, const std::string& b);

}  // namespace ergon
