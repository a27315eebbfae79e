// Weighted fingerprint similarity after Similo (see README.md, "Grounding"):
// every property the target names is compared with the candidate's by a
// comparison suited to it, and the weighted mean decides.
#include "ergon/grounding.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace ergon {
namespace {

using Text = std::u32string;
using TextView = std::u32string_view;

constexpr size_t kMaxRanked = 5;
// Distance in CSS pixels at which location similarity reaches 0.
constexpr double kLocationRange = 200.0;
// Numbers closer than this are "the same" for healing.
constexpr double kSamePixel = 1.0;
// Partial credit for a tag that differs but means the same thing (an
// <input type=submit> that became a <button>) and for a related role.
constexpr double kSameMeaning = 0.5;
// Factor on the similarity of two labels whose numbers disagree.
constexpr double kNumbersDisagree = 0.5;
// Cost of a dom_path step with the same tag at another sibling index.
constexpr double kOtherIndexCost = 0.5;

// ---------------------------------------------------------------------------
// Text: UTF-8 decoded to code points, case folded, whitespace collapsed.

char32_t decode_utf8(std::string_view s, size_t& i) {
  auto byte = [&](size_t k) { return static_cast<unsigned char>(s[k]); };
  unsigned char b0 = byte(i);
  if (b0 < 0x80) {
    ++i;
    return b0;
  }
  int extra = b0 >= 0xF0 ? 3 : b0 >= 0xE0 ? 2 : b0 >= 0xC0 ? 1 : -1;
  if (extra < 0 || i + static_cast<size_t>(extra) >= s.size()) {
    ++i;
    return 0xFFFD;
  }
  char32_t c = b0 & (0x3F >> extra);
  for (int k = 1; k <= extra; ++k) {
    unsigned char b = byte(i + k);
    if ((b & 0xC0) != 0x80) {
      ++i;
      return 0xFFFD;
    }
    c = (c << 6) | (b & 0x3F);
  }
  i += extra + 1;
  return c;
}

bool is_space(char32_t c) {
  return c == U' ' || (c >= U'\t' && c <= U'\r') || c == 0xA0 || (c >= 0x2000 && c <= 0x200B) ||
         c == 0x202F || c == 0x205F || c == 0x3000 || c == 0xFEFF;
}

// Simple case folding for the scripts forms are most often written in:
// ASCII, Latin-1, Latin Extended-A, Greek and Cyrillic.
char32_t fold(char32_t c) {
  if (c < 0x80) return (c >= U'A' && c <= U'Z') ? c + 32 : c;
  if (c >= 0xC0 && c <= 0xDE && c != 0xD7) return c + 32;
  if ((c >= 0x100 && c <= 0x137) || (c >= 0x14A && c <= 0x177)) return c | 1;
  if ((c >= 0x139 && c <= 0x148) || (c >= 0x179 && c <= 0x17E)) return (c & 1) ? c + 1 : c;
  if (c >= 0x391 && c <= 0x3A9 && c != 0x3A2) return c + 32;
  if (c >= 0x410 && c <= 0x42F) return c + 32;
  if (c >= 0x400 && c <= 0x40F) return c + 80;
  return c;
}

bool is_word_char(char32_t c) {
  if (c < 0x80) return (c >= U'a' && c <= U'z') || (c >= U'0' && c <= U'9');
  if (c < 0xC0 || c == 0xD7 || c == 0xF7) return false;
  // Punctuation, currency, arrows, maths, shapes, dingbats; CJK and
  // full-width punctuation; emoji.
  return !(c >= 0x2000 && c <= 0x2BFF) && !(c >= 0x3000 && c <= 0x303F) &&
         !(c >= 0xFE30 && c <= 0xFE4F) && !(c >= 0xFF00 && c <= 0xFF0F) &&
         !(c >= 0x1F000 && c <= 0x1FAFF);
}

// How much of a string's surface counts.
enum class Form {
  kText,   // case folded, whitespace collapsed (string_similarity's form)
  kWords,  // also without punctuation and symbols: "E-mail:" reads as "email"
};

void normalise(std::string_view in, Text& out, Form form = Form::kText) {
  out.clear();
  bool space = false;
  size_t i = 0;
  while (i < in.size()) {
    const char32_t c = fold(decode_utf8(in, i));
    if (is_space(c)) {
      space = !out.empty();
      continue;
    }
    if (form == Form::kWords && !is_word_char(c)) continue;
    if (space) out.push_back(U' ');
    space = false;
    out.push_back(c);
  }
}

// ---------------------------------------------------------------------------
// Levenshtein distance over code points: Myers' bit-parallel algorithm (in
// Hyyrö's formulation) when the shorter string fits in 64 code points, the
// two-row dynamic programme otherwise. Buffers are kept between calls.
class EditDistance {
 public:
  size_t operator()(TextView a, TextView b) {
    while (!a.empty() && !b.empty() && a.front() == b.front()) {
      a.remove_prefix(1);
      b.remove_prefix(1);
    }
    while (!a.empty() && !b.empty() && a.back() == b.back()) {
      a.remove_suffix(1);
      b.remove_suffix(1);
    }
    if (a.size() > b.size()) std::swap(a, b);
    if (a.empty()) return b.size();
    return a.size() <= 64 ? bit_parallel(a, b) : rows(a, b);
  }

 private:
  size_t bit_parallel(TextView pattern, TextView text) {
    const size_t m = pattern.size();
    for (size_t i = 0; i < m; ++i) mask_of(pattern[i]) |= uint64_t{1} << i;
    const uint64_t last = uint64_t{1} << (m - 1);
    uint64_t pv = ~uint64_t{0}, mv = 0;
    size_t score = m;
    for (char32_t c : text) {
      const uint64_t eq = lookup(c);
      const uint64_t xv = eq | mv;
      const uint64_t xh = (((eq & pv) + pv) ^ pv) | eq;
      uint64_t ph = mv | ~(xh | pv);
      uint64_t mh = pv & xh;
      if (ph & last) {
        ++score;
      } else if (mh & last) {
        --score;
      }
      ph = (ph << 1) | 1;
      mh <<= 1;
      pv = mh | ~(xv | ph);
      mv = ph & xv;
    }
    for (char32_t c : pattern) {
      if (c < ascii_.size()) ascii_[c] = 0;
    }
    other_.clear();
    return score;
  }

  uint64_t& mask_of(char32_t c) {
    if (c < ascii_.size()) return ascii_[c];
    for (auto& [ch, mask] : other_) {
      if (ch == c) return mask;
    }
    return other_.emplace_back(c, 0).second;
  }

  uint64_t lookup(char32_t c) const {
    if (c < ascii_.size()) return ascii_[c];
    for (const auto& [ch, mask] : other_) {
      if (ch == c) return mask;
    }
    return 0;
  }

  size_t rows(TextView a, TextView b) {
    row_.resize(a.size() + 1);
    for (size_t i = 0; i <= a.size(); ++i) row_[i] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      size_t diagonal = row_[0];
      row_[0] = j;
      for (size_t i = 1; i <= a.size(); ++i) {
        const size_t above = row_[i];
        row_[i] = std::min({above + 1, row_[i - 1] + 1, diagonal + (a[i - 1] == b[j - 1] ? 0 : 1)});
        diagonal = above;
      }
    }
    return row_[a.size()];
  }

  std::array<uint64_t, 128> ascii_{};  // all zero between calls
  std::vector<std::pair<char32_t, uint64_t>> other_;
  std::vector<size_t> row_;
};

double text_similarity(TextView a, TextView b, EditDistance& distance) {
  const size_t longest = std::max(a.size(), b.size());
  if (longest == 0) return 1.0;
  if (a == b) return 1.0;
  return 1.0 - static_cast<double>(distance(a, b)) / static_cast<double>(longest);
}

// Whether both strings carry numbers and the numbers disagree ("Edit row 12"
// and "Edit row 13", "09:30" and "10:30"): one edit apart, but not the same
// thing.
bool numbers_disagree(TextView a, TextView b) {
  auto next_number = [](TextView s, size_t& i) -> TextView {
    while (i < s.size() && !(s[i] >= U'0' && s[i] <= U'9')) ++i;
    const size_t start = i;
    while (i < s.size() && s[i] >= U'0' && s[i] <= U'9') ++i;
    return s.substr(start, i - start);
  };
  size_t i = 0, j = 0;
  TextView x = next_number(a, i), y = next_number(b, j);
  if (x.empty() || y.empty()) return false;
  while (!x.empty() || !y.empty()) {
    if (x != y) return true;
    x = next_number(a, i);
    y = next_number(b, j);
  }
  return false;
}

// text_similarity, discounted when the numbers in the two disagree.
double label_similarity(TextView a, TextView b, EditDistance& distance) {
  const double s = text_similarity(a, b, distance);
  return s < 1.0 && numbers_disagree(a, b) ? s * kNumbersDisagree : s;
}

// Highest text_similarity two strings of these lengths can have.
double text_bound(size_t a, size_t b) {
  const size_t longest = std::max(a, b);
  return longest == 0 ? 1.0 : static_cast<double>(std::min(a, b)) / static_cast<double>(longest);
}

// ---------------------------------------------------------------------------
// Word sets.

template <typename View>
void sort_unique(std::vector<View>& words) {
  std::sort(words.begin(), words.end());
  words.erase(std::unique(words.begin(), words.end()), words.end());
}

// Words of folded text: maximal runs of letters and digits.
void text_words(TextView text, std::vector<TextView>& out) {
  out.clear();
  size_t start = 0;
  for (size_t i = 0; i <= text.size(); ++i) {
    if (i < text.size() && is_word_char(text[i])) continue;
    if (i > start) out.push_back(text.substr(start, i - start));
    start = i + 1;
  }
  sort_unique(out);
}

// Calls `shared` with each element two sorted ranges have in common.
template <typename T, typename F>
void for_each_shared(const std::vector<T>& a, const std::vector<T>& b, F&& shared) {
  auto i = a.begin();
  auto j = b.begin();
  while (i != a.end() && j != b.end()) {
    if (*i < *j) {
      ++i;
    } else if (*j < *i) {
      ++j;
    } else {
      shared(*i);
      ++i;
      ++j;
    }
  }
}

// Dice coefficient of two sorted word sets, each word weighted by its length
// so that "the" counts less than "appointment".
double word_overlap(const std::vector<TextView>& a, const std::vector<TextView>& b) {
  size_t total = 0, shared = 0;
  for (auto w : a) total += w.size();
  for (auto w : b) total += w.size();
  if (total == 0) return 1.0;
  for_each_shared(a, b, [&](TextView w) { shared += 2 * w.size(); });
  return static_cast<double>(shared) / static_cast<double>(total);
}

// Class tokens, case-sensitive as CSS is.
void class_tokens(std::string_view classes, std::vector<std::string_view>& out) {
  out.clear();
  size_t start = 0;
  for (size_t i = 0; i <= classes.size(); ++i) {
    if (i < classes.size() && !std::isspace(static_cast<unsigned char>(classes[i]))) continue;
    if (i > start) out.push_back(classes.substr(start, i - start));
    start = i + 1;
  }
  sort_unique(out);
}

// Jaccard index of two sorted token sets.
double jaccard(const std::vector<std::string_view>& a, const std::vector<std::string_view>& b) {
  if (a.empty() && b.empty()) return 1.0;
  size_t shared = 0;
  for_each_shared(a, b, [&](std::string_view) { ++shared; });
  return static_cast<double>(shared) / static_cast<double>(a.size() + b.size() - shared);
}

// ---------------------------------------------------------------------------
// dom_path: "html/body/main/form/div[2]/button".

struct Step {
  std::string_view tag;
  int index = 1;
  bool operator==(const Step&) const = default;
};

void path_steps(std::string_view path, std::vector<Step>& out) {
  out.clear();
  size_t start = 0;
  for (size_t i = 0; i <= path.size(); ++i) {
    if (i < path.size() && path[i] != '/') continue;
    std::string_view step = path.substr(start, i - start);
    start = i + 1;
    if (step.empty()) continue;
    Step parsed{step, 1};
    if (size_t open = step.find('['); open != std::string_view::npos && step.back() == ']') {
      parsed.tag = step.substr(0, open);
      int index = 0;
      for (char c : step.substr(open + 1, step.size() - open - 2)) {
        if (c < '0' || c > '9') break;
        index = std::min(index * 10 + (c - '0'), 1 << 20);
      }
      parsed.index = index;
    }
    out.push_back(parsed);
  }
}

// Edit distance over steps (a step with the same tag at another index costs
// half), normalised by the longer path.
double path_similarity(const std::vector<Step>& a, const std::vector<Step>& b,
                       std::vector<double>& row) {
  const size_t longest = std::max(a.size(), b.size());
  if (longest == 0) return 1.0;
  row.resize(a.size() + 1);
  for (size_t i = 0; i <= a.size(); ++i) row[i] = static_cast<double>(i);
  for (size_t j = 1; j <= b.size(); ++j) {
    double diagonal = row[0];
    row[0] = static_cast<double>(j);
    for (size_t i = 1; i <= a.size(); ++i) {
      const double above = row[i];
      const Step& x = a[i - 1];
      const Step& y = b[j - 1];
      const double cost = x == y ? 0.0 : x.tag == y.tag ? kOtherIndexCost : 1.0;
      row[i] = std::min({above + 1, row[i - 1] + 1, diagonal + cost});
      diagonal = above;
    }
  }
  return std::max(0.0, 1.0 - row[a.size()] / static_cast<double>(longest));
}

// ---------------------------------------------------------------------------
// Roles.

bool equal_ascii_nocase(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) ==
                  std::tolower(static_cast<unsigned char>(y));
         });
}

// The role the accessibility tree gives an element without an explicit one
// (HTML-AAM, the common cases).
std::string_view implicit_role(std::string_view tag, std::string_view type) {
  auto is = [&](std::string_view name) { return equal_ascii_nocase(tag, name); };
  if (is("button")) return "button";
  if (is("a")) return "link";
  if (is("textarea")) return "textbox";
  if (is("select")) return "combobox";
  if (is("img")) return "img";
  if (is("option")) return "option";
  if (tag.size() == 2 && (tag[0] == 'h' || tag[0] == 'H') && tag[1] >= '1' && tag[1] <= '6') {
    return "heading";
  }
  if (is("li")) return "listitem";
  if (is("ul") || is("ol")) return "list";
  if (is("table")) return "table";
  if (is("tr")) return "row";
  if (is("td")) return "cell";
  if (is("th")) return "columnheader";
  if (is("nav")) return "navigation";
  if (is("form")) return "form";
  if (is("dialog")) return "dialog";
  if (!is("input")) return "";
  auto of_type = [&](std::initializer_list<std::string_view> types) {
    return std::any_of(types.begin(), types.end(),
                       [&](std::string_view t) { return equal_ascii_nocase(type, t); });
  };
  if (of_type({"", "text", "email", "tel", "url", "password"})) return "textbox";
  if (of_type({"search"})) return "searchbox";
  if (of_type({"checkbox"})) return "checkbox";
  if (of_type({"radio"})) return "radio";
  if (of_type({"submit", "button", "reset", "image"})) return "button";
  if (of_type({"number"})) return "spinbutton";
  if (of_type({"range"})) return "slider";
  return "";
}

std::string_view effective_role(const Fingerprint& fp) {
  return fp.role.empty() ? implicit_role(fp.tag, fp.type) : std::string_view(fp.role);
}

// Roles a redesign swaps without changing what the element does.
bool related_roles(std::string_view a, std::string_view b) {
  static constexpr std::array<std::pair<std::string_view, std::string_view>, 3> kPairs = {{
      {"textbox", "searchbox"},
      {"checkbox", "switch"},
      {"combobox", "listbox"},
  }};
  for (const auto& [x, y] : kPairs) {
    if ((equal_ascii_nocase(a, x) && equal_ascii_nocase(b, y)) ||
        (equal_ascii_nocase(a, y) && equal_ascii_nocase(b, x))) {
      return true;
    }
  }
  return false;
}

double role_similarity(std::string_view target_role, const Fingerprint& candidate) {
  const std::string_view role = effective_role(candidate);
  if (equal_ascii_nocase(target_role, role)) return 1.0;
  return related_roles(target_role, role) ? kSameMeaning : 0.0;
}

double tag_similarity(const Fingerprint& target, const Fingerprint& candidate) {
  if (equal_ascii_nocase(target.tag, candidate.tag)) return 1.0;
  const std::string_view meaning = implicit_role(target.tag, target.type);
  return !meaning.empty() && equal_ascii_nocase(meaning, effective_role(candidate)) ? kSameMeaning
                                                                                    : 0.0;
}

// ---------------------------------------------------------------------------
// The properties and how each is compared.

enum class Compare {
  kTag,         // equal, or half when the candidate's role is the tag's meaning
  kRole,        // equal computed roles (implicit role when absent), half for related roles
  kEqual,       // equal, ASCII case-insensitive (type)
  kText,        // normalised Levenshtein of the words (punctuation dropped), halved when
                //   numbers disagree
  kIdentifier,  // equal, exactly (ids, name attributes)
  kClasses,     // Jaccard index of class tokens
  kPath,        // step-wise edit distance of dom paths
  kWords,       // length-weighted overlap of words, halved when numbers disagree
};

struct Property {
  std::string_view key;
  std::string Fingerprint::*field;
  double GroundingWeights::*weight;
  Compare compare;
};

constexpr std::array<Property, 14> kProperties = {{
    {"tag", &Fingerprint::tag, &GroundingWeights::tag, Compare::kTag},
    {"role", &Fingerprint::role, &GroundingWeights::role, Compare::kRole},
    {"name", &Fingerprint::name, &GroundingWeights::name, Compare::kText},
    {"text", &Fingerprint::text, &GroundingWeights::text, Compare::kText},
    {"id", &Fingerprint::id, &GroundingWeights::id, Compare::kIdentifier},
    {"name_attr", &Fingerprint::name_attr, &GroundingWeights::name_attr, Compare::kIdentifier},
    {"classes", &Fingerprint::classes, &GroundingWeights::classes, Compare::kClasses},
    {"type", &Fingerprint::type, &GroundingWeights::type, Compare::kEqual},
    {"href", &Fingerprint::href, &GroundingWeights::href, Compare::kText},
    {"placeholder", &Fingerprint::placeholder, &GroundingWeights::placeholder, Compare::kText},
    {"aria_label", &Fingerprint::aria_label, &GroundingWeights::aria_label, Compare::kText},
    {"alt", &Fingerprint::alt, &GroundingWeights::alt, Compare::kText},
    {"dom_path", &Fingerprint::dom_path, &GroundingWeights::dom_path, Compare::kPath},
    {"neighbor_text", &Fingerprint::neighbor_text, &GroundingWeights::neighbor_text,
     Compare::kWords},
}};

struct Number {
  std::string_view key;
  std::optional<double> Fingerprint::*field;
};
constexpr std::array<Number, 4> kNumbers = {{
    {"x", &Fingerprint::x},
    {"y", &Fingerprint::y},
    {"width", &Fingerprint::width},
    {"height", &Fingerprint::height},
}};

// PropertyScores entries after the string properties.
constexpr size_t kLocationEntry = kProperties.size();
constexpr size_t kSizeEntry = kProperties.size() + 1;
static_assert(kSizeEntry + 1 == PropertyScores::kCount);

bool knows_location(const Fingerprint& fp) {
  return fp.x && fp.y;
}
bool knows_size(const Fingerprint& fp) {
  return fp.width || fp.height;
}

double location_similarity(const Fingerprint& target, const Fingerprint& candidate) {
  if (!knows_location(candidate)) return 0.0;
  const double d = std::hypot(*target.x - *candidate.x, *target.y - *candidate.y);
  return std::max(0.0, 1.0 - d / kLocationRange);
}

double ratio(double a, double b) {
  a = std::abs(a);
  b = std::abs(b);
  const double high = std::max(a, b);
  return high == 0 ? 1.0 : std::min(a, b) / high;
}

double size_similarity(const Fingerprint& target, const Fingerprint& candidate) {
  double sum = 0;
  int known = 0;
  if (target.width) {
    ++known;
    if (candidate.width) sum += ratio(*target.width, *candidate.width);
  }
  if (target.height) {
    ++known;
    if (candidate.height) sum += ratio(*target.height, *candidate.height);
  }
  return known == 0 ? 0.0 : sum / known;
}

// The target prepared once per ground(): its folded strings and token sets,
// and buffers reused for every candidate. Not thread-safe; one per call.
class Scorer {
 public:
  Scorer(const Fingerprint& target, const GroundingWeights& weights) : target_(target) {
    for (size_t p = 0; p < kProperties.size(); ++p) {
      const Property& property = kProperties[p];
      const std::string& value = target.*property.field;
      const double weight = weights.*property.weight;
      if (value.empty() || weight <= 0) continue;
      Slot slot;
      slot.property = p;
      slot.weight = weight;
      normalise(value, slot.folded);
      if (property.compare == Compare::kText) {
        // A label of symbols only ("→", "🔍") is compared as it is.
        normalise(value, slot.key, Form::kWords);
        if (slot.key.empty()) {
          slot.form = Form::kText;
          slot.key = slot.folded;
        }
        text_slots_.push_back(std::move(slot));
      } else {
        cheap_slots_.push_back(std::move(slot));
      }
      denominator_ += weight;
    }
    // Token sets refer into the slots' strings: taken once the slots stop moving.
    for (Slot& slot : cheap_slots_) {
      const Property& property = kProperties[slot.property];
      const std::string& value = target.*property.field;
      if (property.compare == Compare::kWords) text_words(slot.folded, slot.words);
      if (property.compare == Compare::kClasses) class_tokens(value, slot.tokens);
      if (property.compare == Compare::kPath) path_steps(value, slot.steps);
    }
    if (knows_location(target) && weights.location > 0) {
      location_weight_ = weights.location;
      denominator_ += location_weight_;
    }
    if (knows_size(target) && weights.size > 0) {
      size_weight_ = weights.size;
      denominator_ += size_weight_;
    }
    candidate_text_.resize(text_slots_.size());
  }

  // The sum of the weights of the properties the target names (0: it names none).
  double denominator() const { return denominator_; }

  // The candidate's score, or -1 when it provably cannot reach `floor`.
  double score(const Fingerprint& candidate, double floor) {
    if (denominator_ == 0) return 0.0;
    double sum = 0;
    for (const Slot& slot : cheap_slots_) sum += slot.weight * similarity(slot, candidate);
    if (location_weight_ > 0) sum += location_weight_ * location_similarity(target_, candidate);
    if (size_weight_ > 0) sum += size_weight_ * size_similarity(target_, candidate);

    double bound = sum;
    for (size_t k = 0; k < text_slots_.size(); ++k) {
      const Slot& slot = text_slots_[k];
      normalise(candidate.*kProperties[slot.property].field, candidate_text_[k], slot.form);
      bound += slot.weight * text_bound(slot.key.size(), candidate_text_[k].size());
    }
    if (bound / denominator_ < floor - 1e-12) return -1;

    for (size_t k = 0; k < text_slots_.size(); ++k) {
      sum += text_slots_[k].weight * label_score(text_slots_[k], candidate_text_[k]);
    }
    return std::clamp(sum / denominator_, 0.0, 1.0);
  }

  // Each weighed property's similarity to the candidate, unweighted: the terms
  // of score()'s sum.
  void properties(const Fingerprint& candidate, PropertyScores& out) {
    out = PropertyScores{};
    for (const Slot& slot : cheap_slots_) {
      out.known[slot.property] = true;
      out.score[slot.property] = similarity(slot, candidate);
    }
    for (size_t k = 0; k < text_slots_.size(); ++k) {
      const Slot& slot = text_slots_[k];
      normalise(candidate.*kProperties[slot.property].field, candidate_text_[k], slot.form);
      out.known[slot.property] = true;
      out.score[slot.property] = label_score(slot, candidate_text_[k]);
    }
    if (location_weight_ > 0) {
      out.known[kLocationEntry] = true;
      out.score[kLocationEntry] = location_similarity(target_, candidate);
    }
    if (size_weight_ > 0) {
      out.known[kSizeEntry] = true;
      out.score[kSizeEntry] = size_similarity(target_, candidate);
    }
  }

  // The properties the target names in which the candidate differs.
  std::vector<std::string_view> differences(const Fingerprint& candidate) {
    std::vector<std::string_view> out;
    for (const auto* slots : {&cheap_slots_, &text_slots_}) {
      for (const Slot& slot : *slots) {
        if (!same(slot, candidate)) out.push_back(kProperties[slot.property].key);
      }
    }
    for (const Number& number : kNumbers) {
      const auto& mine = target_.*number.field;
      const auto& theirs = candidate.*number.field;
      const bool weighed =
          (number.key == "x" || number.key == "y") ? location_weight_ > 0 : size_weight_ > 0;
      if (!mine || !weighed) continue;
      if (!theirs || std::abs(*mine - *theirs) > kSamePixel) out.push_back(number.key);
    }
    return out;
  }

 private:
  struct Slot {
    size_t property = 0;
    double weight = 0;
    Text folded;  // Form::kText
    Text key;     // in `form`, for kText scoring
    Form form = Form::kWords;
    std::vector<TextView> words;           // kWords
    std::vector<std::string_view> tokens;  // kClasses
    std::vector<Step> steps;               // kPath
  };

  // Whether the candidate has the target's value: literally for identifiers
  // and paths, as a set for classes, after folding for text.
  bool same(const Slot& slot, const Fingerprint& candidate) {
    const Property& property = kProperties[slot.property];
    const std::string& mine = target_.*property.field;
    const std::string& theirs = candidate.*property.field;
    switch (property.compare) {
      case Compare::kRole: return equal_ascii_nocase(mine, effective_role(candidate));
      case Compare::kTag:
      case Compare::kEqual: return equal_ascii_nocase(mine, theirs);
      case Compare::kIdentifier:
      case Compare::kPath: return mine == theirs;
      case Compare::kClasses: return mine == theirs || similarity(slot, candidate) == 1.0;
      case Compare::kText:
      case Compare::kWords:
        if (mine == theirs) return true;
        normalise(theirs, folded_);
        return folded_ == slot.folded;
    }
    return false;
  }

  // A label property against the candidate's value, already in slot.form.
  double label_score(const Slot& slot, const Text& candidate_text) {
    return candidate_text.empty() ? 0.0 : label_similarity(slot.key, candidate_text, distance_);
  }

  double similarity(const Slot& slot, const Fingerprint& candidate) {
    const Property& property = kProperties[slot.property];
    const std::string& value = candidate.*property.field;
    switch (property.compare) {
      case Compare::kTag: return tag_similarity(target_, candidate);
      case Compare::kRole: return role_similarity(target_.role, candidate);
      default: break;
    }
    if (value.empty()) return 0.0;
    switch (property.compare) {
      case Compare::kEqual: return equal_ascii_nocase(target_.*property.field, value) ? 1.0 : 0.0;
      case Compare::kIdentifier: return value == target_.*property.field ? 1.0 : 0.0;
      case Compare::kClasses: class_tokens(value, tokens_); return jaccard(slot.tokens, tokens_);
      case Compare::kPath:
        path_steps(value, steps_);
        return path_similarity(slot.steps, steps_, path_row_);
      case Compare::kWords: {
        normalise(value, folded_);
        text_words(folded_, words_);
        const double overlap = word_overlap(slot.words, words_);
        return overlap < 1.0 && numbers_disagree(slot.folded, folded_) ? overlap * kNumbersDisagree
                                                                       : overlap;
      }
      case Compare::kText:
        normalise(value, folded_, slot.form);
        return label_similarity(slot.key, folded_, distance_);
      default: return 0.0;
    }
  }

  const Fingerprint& target_;
  std::vector<Slot> cheap_slots_;  // compared exactly for every candidate
  std::vector<Slot> text_slots_;   // Levenshtein: bounded first, then compared
  double location_weight_ = 0;
  double size_weight_ = 0;
  double denominator_ = 0;

  // Buffers reused across candidates.
  std::vector<Text> candidate_text_;
  Text folded_;
  std::vector<TextView> words_;
  std::vector<std::string_view> tokens_;
  std::vector<Step> steps_;
  std::vector<double> path_row_;
  EditDistance distance_;
};

// "button 'Send for review'" for messages.
std::string describe(const Fingerprint& fp) {
  std::string kind(effective_role(fp));
  if (kind.empty()) kind = fp.tag.empty() ? "element" : fp.tag;
  std::string label;
  for (const std::string* s : {&fp.name, &fp.text, &fp.aria_label, &fp.placeholder, &fp.alt}) {
    if (!s->empty()) {
      label = "'" + *s + "'";
      break;
    }
  }
  if (label.empty() && !fp.id.empty()) label = "#" + fp.id;
  if (label.empty() && !fp.name_attr.empty()) label = "name=" + fp.name_attr;
  if (label.size() > 48) {
    size_t cut = 44;
    while (cut > 0 && (static_cast<unsigned char>(label[cut]) & 0xC0) == 0x80) --cut;
    label = label.substr(0, cut) + "…'";
  }
  return label.empty() ? kind : kind + " " + label;
}

std::string score_text(double score) {
  char buffer[16];
  std::snprintf(buffer, sizeof buffer, "%.2f", score);
  return buffer;
}

std::string mention(const Candidate& c, const std::vector<Fingerprint>& candidates) {
  return "[" + std::to_string(c.index) + "] " + score_text(c.score) + " (" +
         describe(candidates[static_cast<size_t>(c.index)]) + ")";
}

const char* json_type(const Json& j) {
  return j.type_name();
}

}  // namespace

bool Fingerprint::empty() const {
  for (const Property& property : kProperties) {
    if (!(this->*property.field).empty()) return false;
  }
  for (const Number& number : kNumbers) {
    if (this->*number.field) return false;
  }
  return true;
}

double string_similarity(const std::string& a, const std::string& b) {
  Text x, y;
  normalise(a, x);
  normalise(b, y);
  EditDistance distance;
  return text_similarity(x, y, distance);
}

double similarity(const Fingerprint& target, const Fingerprint& candidate,
                  const GroundingWeights& weights) {
  Scorer scorer(target, weights);
  return scorer.score(candidate, -1);
}

GroundingResult ground(const Fingerprint& target, const std::vector<Fingerprint>& candidates,
                       const GroundingOptions& options) {
  GroundingResult result;
  if (candidates.empty()) {
    result.status = GroundingResult::Status::kNone;
    result.explanation = "no candidate elements on the page";
    return result;
  }
  Scorer scorer(target, options.weights);
  std::vector<Candidate>& top = result.ranked;
  top.reserve(kMaxRanked + 1);
  for (size_t i = 0; i < candidates.size(); ++i) {
    const bool full = top.size() == kMaxRanked;
    const double floor = full ? top.back().score : -1.0;
    const double score = scorer.score(candidates[i], floor);
    if (score < 0 || (full && score <= floor)) continue;
    Candidate c{static_cast<int>(i), score};
    auto at =
        std::upper_bound(top.begin(), top.end(), c, [](const Candidate& a, const Candidate& b) {
          return a.score > b.score;  // equal scores keep document order
        });
    top.insert(at, c);
    if (top.size() > kMaxRanked) top.pop_back();
  }

  const Candidate& best = top.front();
  const Candidate* second = top.size() > 1 ? &top[1] : nullptr;
  std::string line = "best " + mention(best, candidates);
  if (second) line += ", runner-up " + mention(*second, candidates);

  if (scorer.denominator() == 0) {
    result.status = GroundingResult::Status::kWeak;
    result.explanation = "the target fingerprint names no property to compare";
    return result;
  }
  if (best.score < options.min_score) {
    result.status = GroundingResult::Status::kWeak;
    result.explanation =
        "weak: " + line + "; below the minimum score " + score_text(options.min_score);
    return result;
  }
  if (second && best.score - second->score < options.min_margin) {
    result.status = GroundingResult::Status::kAmbiguous;
    result.explanation =
        "ambiguous: " + line + "; closer than the margin " + score_text(options.min_margin);
    return result;
  }
  result.status = GroundingResult::Status::kFound;
  const auto changed = scorer.differences(candidates[static_cast<size_t>(best.index)]);
  result.healed = !changed.empty();
  if (result.healed) {
    line += "; healed:";
    for (size_t k = 0; k < changed.size(); ++k) {
      line += (k == 0 ? " " : ", ");
      line += changed[k];
    }
  }
  result.explanation = std::move(line);
  return result;
}

// ---------------------------------------------------------------------------
// Weights.

namespace {

struct WeightKey {
  std::string_view key;
  double GroundingWeights::*weight;
};

std::vector<WeightKey> weight_keys() {
  std::vector<WeightKey> keys;
  for (const Property& property : kProperties) keys.push_back({property.key, property.weight});
  keys.push_back({"location", &GroundingWeights::location});
  keys.push_back({"size", &GroundingWeights::size});
  return keys;
}

std::string known_keys(const std::vector<std::string_view>& keys) {
  std::string out;
  for (auto key : keys) {
    if (!out.empty()) out += ", ";
    out += key;
  }
  return out;
}

}  // namespace

GroundingWeights GroundingWeights::similo() {
  return GroundingWeights{};
}

const std::array<std::string_view, PropertyScores::kCount>& property_keys() {
  static const auto keys = [] {
    std::array<std::string_view, PropertyScores::kCount> out{};
    const auto all = weight_keys();
    for (size_t i = 0; i < out.size(); ++i) out[i] = all[i].key;
    return out;
  }();
  return keys;
}

std::array<double, PropertyScores::kCount> weight_vector(const GroundingWeights& weights) {
  std::array<double, PropertyScores::kCount> out{};
  const auto keys = weight_keys();
  for (size_t i = 0; i < out.size(); ++i) out[i] = weights.*keys[i].weight;
  return out;
}

GroundingWeights weights_from_vector(const std::array<double, PropertyScores::kCount>& vector) {
  GroundingWeights out;
  const auto keys = weight_keys();
  for (size_t i = 0; i < vector.size(); ++i) out.*keys[i].weight = vector[i];
  return out;
}

std::vector<PropertyScores> property_similarities(const Fingerprint& target,
                                                  const std::vector<Fingerprint>& candidates) {
  GroundingWeights every;  // weight 1 for each property: every known one is compared
  for (const WeightKey& k : weight_keys()) every.*k.weight = 1.0;
  Scorer scorer(target, every);
  std::vector<PropertyScores> out(candidates.size());
  for (size_t i = 0; i < candidates.size(); ++i) scorer.properties(candidates[i], out[i]);
  return out;
}

Json to_json(const GroundingWeights& weights) {
  Json out = Json::object();
  for (const WeightKey& k : weight_keys()) out[std::string(k.key)] = weights.*k.weight;
  return out;
}

Result<GroundingWeights> grounding_weights_from_json(const Json& json) {
  if (!json.is_object()) {
    return fail(ErrorCode::kInvalidInput,
                std::string("grounding weights: expected an object, got ") + json_type(json));
  }
  const auto keys = weight_keys();
  GroundingWeights weights = GroundingWeights::similo();
  for (const auto& [key, value] : json.items()) {
    auto it =
        std::find_if(keys.begin(), keys.end(), [&](const WeightKey& k) { return k.key == key; });
    if (it == keys.end()) {
      std::vector<std::string_view> names;
      for (const auto& k : keys) names.push_back(k.key);
      return fail(ErrorCode::kInvalidInput, "grounding weights: unknown field '" + key +
                                                "' (known: " + known_keys(names) + ")");
    }
    if (!value.is_number()) {
      return fail(ErrorCode::kInvalidInput, "grounding weights: field '" + key +
                                                "' must be a number, got " + json_type(value));
    }
    const double w = value.get<double>();
    if (!std::isfinite(w) || w < 0) {
      return fail(ErrorCode::kInvalidInput,
                  "grounding weights: field '" + key + "' must be a non-negative number");
    }
    weights.*(it->weight) = w;
  }
  return weights;
}

// ---------------------------------------------------------------------------
// Fingerprint JSON.

Json to_json(const Fingerprint& fingerprint) {
  Json out = Json::object();
  for (const Property& property : kProperties) {
    const std::string& value = fingerprint.*property.field;
    if (!value.empty()) out[std::string(property.key)] = value;
  }
  for (const Number& number : kNumbers) {
    if (const auto& value = fingerprint.*number.field) out[std::string(number.key)] = *value;
  }
  return out;
}

Result<Fingerprint> fingerprint_from_json(const Json& json) {
  if (!json.is_object()) {
    return fail(ErrorCode::kInvalidInput,
                std::string("fingerprint: expected an object, got ") + json_type(json));
  }
  Fingerprint fp;
  for (const auto& [key, value] : json.items()) {
    auto property = std::find_if(kProperties.begin(), kProperties.end(),
                                 [&](const Property& p) { return p.key == key; });
    if (property != kProperties.end()) {
      if (!value.is_string()) {
        return fail(ErrorCode::kInvalidInput,
                    "fingerprint: field '" + key + "' must be a string, got " + json_type(value));
      }
      fp.*(property->field) = value.get<std::string>();
      continue;
    }
    auto number = std::find_if(kNumbers.begin(), kNumbers.end(),
                               [&](const Number& n) { return n.key == key; });
    if (number != kNumbers.end()) {
      if (!value.is_number() || !std::isfinite(value.get<double>())) {
        return fail(ErrorCode::kInvalidInput,
                    "fingerprint: field '" + key + "' must be a number, got " + json_type(value));
      }
      fp.*(number->field) = value.get<double>();
      continue;
    }
    std::vector<std::string_view> names;
    for (const Property& p : kProperties) names.push_back(p.key);
    for (const Number& n : kNumbers) names.push_back(n.key);
    return fail(ErrorCode::kInvalidInput,
                "fingerprint: unknown field '" + key + "' (known: " + known_keys(names) + ")");
  }
  return fp;
}

}  // namespace ergon
