// The offline skill planner: goal text -> best skill -> slot values -> Plan.
//
// Matching: each skill contributes documents (every example phrasing with its
// placeholders removed, and its name plus description). A goal is scored
// against each document by TF-IDF weighted cosine over normalised words,
// blended with character-trigram overlap so a typo still lands near its word;
// a skill's score is its best document's.
//
// Slot filling: values the user gave win; then each example phrasing is used
// as an alignment template — the words around "{slot}" anchor where its value
// sits in the goal; then typed values anywhere in the goal, in order; free
// text last (it has no shape of its own, only anchors); then the slot's
// default; a required slot still empty becomes a question.
#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <map>
#include <set>

#include "ergon/planner.h"

namespace ergon {
namespace {

bool is_alnum(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) != 0;
}
bool is_digit(char c) {
  return std::isdigit(static_cast<unsigned char>(c)) != 0;
}

bool is_vowel(char c) {
  return c == 'a' || c == 'e' || c == 'i' || c == 'o' || c == 'u';
}

// Light suffix stripping so "costs", "reduced" and "reducing" meet "reduce".
std::string stem(std::string word) {
  auto ends = [&](const char* suffix) {
    std::string s = suffix;
    return word.size() > s.size() && word.compare(word.size() - s.size(), s.size(), s) == 0;
  };
  auto undouble = [&] {
    size_t n = word.size();
    if (n >= 2 && word[n - 1] == word[n - 2] && !is_vowel(word[n - 1]) && word[n - 1] != 'l' &&
        word[n - 1] != 's' && word[n - 1] != 'z') {
      word.pop_back();
    }
  };
  if (word.size() > 4 && ends("ies")) {
    word.replace(word.size() - 3, 3, "y");
  } else if (word.size() > 3 && ends("s") && !ends("ss") && !ends("us") && !ends("is")) {
    word.pop_back();
  }
  if (word.size() > 5 && ends("ing")) {
    word.resize(word.size() - 3);
    undouble();
  } else if (word.size() > 4 && ends("ed")) {
    word.resize(word.size() - 2);
    undouble();
  }
  if (word.size() > 4 && ends("e")) word.pop_back();
  return word;
}

bool is_stopword(const std::string& word) {
  static const std::set<std::string> kStopwords = {
      "a",      "an",    "the",    "of",   "to",   "for",  "in",   "on",    "at",
      "by",     "with",  "and",    "or",   "our",  "my",   "me",   "i",     "we",
      "us",     "you",   "your",   "it",   "its",  "is",   "are",  "be",    "this",
      "that",   "these", "those",  "from", "all",  "some", "can",  "could", "would",
      "should", "will",  "please", "just", "into", "so",   "do",   "does",  "let",
      "lets",   "want",  "need",   "like", "make", "sure", "get",  "am",    "was",
      "were",   "been",  "as",     "up",   "then", "than", "them", "their", "there"};
  return kStopwords.count(word) > 0;
}

// A word of a text: a maximal run of letters and digits, at bytes [begin, end).
struct Word {
  std::string norm;  // lowercased and stemmed
  size_t begin = 0;
  size_t end = 0;
};

std::vector<Word> split_words(const std::string& text) {
  std::vector<Word> words;
  size_t p = 0;
  while (p < text.size()) {
    if (!is_alnum(text[p])) {
      ++p;
      continue;
    }
    Word word;
    word.begin = p;
    std::string raw;
    while (p < text.size() && is_alnum(text[p])) {
      raw += static_cast<char>(std::tolower(static_cast<unsigned char>(text[p++])));
    }
    word.end = p;
    word.norm = stem(raw);
    words.push_back(std::move(word));
  }
  return words;
}

// The words that carry meaning: no stopwords, nothing with a digit (values).
std::vector<std::string> content_terms(const std::string& text) {
  std::vector<std::string> terms;
  for (const Word& word : split_words(text)) {
    if (std::any_of(word.norm.begin(), word.norm.end(), is_digit)) continue;
    if (is_stopword(word.norm)) continue;
    terms.push_back(word.norm);
  }
  return terms;
}

std::string remove_placeholders(const std::string& example) {
  std::string out;
  for (size_t p = 0; p < example.size();) {
    size_t close = example[p] == '{' ? example.find('}', p) : std::string::npos;
    if (close != std::string::npos) {
      out += ' ';
      p = close + 1;
    } else {
      out += example[p++];
    }
  }
  return out;
}

std::string join(const std::vector<std::string>& items) {
  std::string out;
  for (const std::string& item : items) out += (out.empty() ? "" : " ") + item;
  return out;
}

std::set<std::string> trigrams(const std::string& text) {
  std::set<std::string> grams;
  std::string padded = "  " + text + "  ";
  for (size_t i = 0; i + 3 <= padded.size(); ++i) grams.insert(padded.substr(i, 3));
  return grams;
}

double dice(const std::set<std::string>& a, const std::set<std::string>& b) {
  if (a.empty() || b.empty()) return 0;
  size_t common = 0;
  for (const std::string& gram : a) common += b.count(gram);
  return 2.0 * static_cast<double>(common) / static_cast<double>(a.size() + b.size());
}

// Levenshtein distance, giving up (returning limit + 1) once it exceeds `limit`.
size_t bounded_distance(const std::string& a, const std::string& b, size_t limit) {
  if ((a.size() > b.size() ? a.size() - b.size() : b.size() - a.size()) > limit) return limit + 1;
  std::vector<size_t> previous(b.size() + 1), current(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) previous[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    current[0] = i;
    size_t row_min = current[0];
    for (size_t j = 1; j <= b.size(); ++j) {
      size_t cost = a[i - 1] == b[j - 1] ? 0 : 1;
      current[j] = std::min({previous[j] + 1, current[j - 1] + 1, previous[j - 1] + cost});
      row_min = std::min(row_min, current[j]);
    }
    if (row_min > limit) return limit + 1;
    std::swap(previous, current);
  }
  return previous[b.size()];
}

constexpr double kCosineWeight = 0.75;  // the rest is trigram overlap

std::string format_score(double score) {
  char buffer[16];
  std::snprintf(buffer, sizeof buffer, "%.2f", score);
  return buffer;
}

}  // namespace

// Term statistics over every skill's documents; built once, read-only after.
struct SkillPlanner::Index {
  struct Document {
    std::map<std::string, double> weights;  // term -> tf * idf
    double norm = 0;
    std::set<std::string> grams;
  };
  std::vector<std::vector<Document>> skills;  // per skill; examples first, then name+description
  std::map<std::string, double> idf;
  double unseen_idf = 1;

  explicit Index(const std::vector<Skill>& library) {
    std::vector<std::vector<std::vector<std::string>>> terms(library.size());
    std::map<std::string, size_t> skill_frequency;
    for (size_t s = 0; s < library.size(); ++s) {
      const Skill& skill = library[s];
      for (const std::string& example : skill.examples) {
        terms[s].push_back(content_terms(remove_placeholders(example)));
      }
      std::string name = skill.name;
      std::replace_if(
          name.begin(), name.end(), [](char c) { return !is_alnum(c); }, ' ');
      terms[s].push_back(content_terms(name + " " + skill.description));
      std::set<std::string> seen;
      for (const auto& document : terms[s]) seen.insert(document.begin(), document.end());
      for (const std::string& term : seen) ++skill_frequency[term];
    }
    // Terms are weighed by how few skills use them; a term no skill uses
    // weighs most, so an unrelated goal dilutes the match.
    const double n = static_cast<double>(std::max<size_t>(library.size(), 1));
    for (const auto& [term, frequency] : skill_frequency) {
      idf[term] = std::log(1.0 + n / static_cast<double>(frequency));
    }
    unseen_idf = std::log(1.0 + n);
    skills.resize(library.size());
    for (size_t s = 0; s < library.size(); ++s) {
      for (const auto& document_terms : terms[s]) {
        Document document;
        for (const std::string& term : document_terms) document.weights[term] += idf[term];
        for (const auto& [term, weight] : document.weights) document.norm += weight * weight;
        document.norm = std::sqrt(document.norm);
        document.grams = trigrams(join(document_terms));
        skills[s].push_back(std::move(document));
      }
    }
  }

  // A goal word no skill uses, replaced by a known word it is one or two
  // typos away from ("clod" -> "cloud"). Typos rarely hit the first letter;
  // requiring it keeps "cake" from becoming "take".
  std::string correct(const std::string& term) const {
    if (idf.count(term) || term.size() < 4) return term;
    size_t limit = term.size() >= 7 ? 2 : 1;
    auto shared_prefix = [&](const std::string& known) {
      size_t n = 0;
      while (n < term.size() && n < known.size() && term[n] == known[n]) ++n;
      return n;
    };
    std::string best = term;
    size_t best_distance = limit + 1;
    size_t best_prefix = 0;
    for (const auto& [known, weight] : idf) {
      if (known.empty() || known[0] != term[0]) continue;
      size_t distance = bounded_distance(term, known, limit);
      if (distance > limit) continue;
      // Of equally close words, the one sharing the longer start ("spnd":
      // "spend", not "send").
      size_t prefix = shared_prefix(known);
      if (distance < best_distance || (distance == best_distance && prefix > best_prefix)) {
        best = known;
        best_distance = distance;
        best_prefix = prefix;
      }
    }
    return best;
  }

  // Per skill, per document: similarity to the goal in 0..1.
  std::vector<std::vector<double>> scores(const std::string& goal) const {
    std::vector<std::string> raw = content_terms(goal);
    std::map<std::string, double> query;
    for (const std::string& term : raw) {
      std::string fixed = correct(term);
      auto it = idf.find(fixed);
      query[fixed] += it == idf.end() ? unseen_idf : it->second;
    }
    double query_norm = 0;
    for (const auto& [term, weight] : query) query_norm += weight * weight;
    query_norm = std::sqrt(query_norm);
    // Trigrams of what the person typed, so misspellings keep partial credit.
    std::set<std::string> grams = trigrams(join(raw));

    std::vector<std::vector<double>> out(skills.size());
    for (size_t s = 0; s < skills.size(); ++s) {
      for (const Document& document : skills[s]) {
        double dot = 0;
        for (const auto& [term, weight] : query) {
          auto it = document.weights.find(term);
          if (it != document.weights.end()) dot += weight * it->second;
        }
        double cosine =
            query_norm > 0 && document.norm > 0 ? dot / (query_norm * document.norm) : 0;
        double score = kCosineWeight * cosine + (1 - kCosineWeight) * dice(grams, document.grams);
        out[s].push_back(std::clamp(score, 0.0, 1.0));
      }
    }
    return out;
  }
};

// ---------------------------------------------------------------------------
// Slot filling.

namespace {

// An example phrasing split at its placeholders.
struct Template {
  struct Part {
    bool placeholder = false;
    std::string text;  // literal text, or the slot name
  };
  std::vector<Part> parts;

  explicit Template(const std::string& example) {
    size_t p = 0;
    while (p < example.size()) {
      size_t open = example.find('{', p);
      size_t close = open == std::string::npos ? std::string::npos : example.find('}', open);
      if (close == std::string::npos) {
        parts.push_back({false, example.substr(p)});
        break;
      }
      if (open > p) parts.push_back({false, example.substr(p, open - p)});
      parts.push_back({true, example.substr(open + 1, close - open - 1)});
      p = close + 1;
    }
  }
};

// Where a slot's value sits in a goal, by the words around "{slot}" in an example.
struct Anchors {
  std::vector<std::string> before;  // up to two words right before the placeholder
  std::string after;                // the first word right after it
  bool found = false;               // the example has this placeholder
};

Anchors anchors_for(const Template& example, const std::string& slot) {
  Anchors anchors;
  for (size_t i = 0; i < example.parts.size(); ++i) {
    if (!example.parts[i].placeholder || example.parts[i].text != slot) continue;
    anchors.found = true;
    if (i > 0 && !example.parts[i - 1].placeholder) {
      std::vector<Word> words = split_words(example.parts[i - 1].text);
      size_t from = words.size() > 2 ? words.size() - 2 : 0;
      for (size_t w = from; w < words.size(); ++w) anchors.before.push_back(words[w].norm);
    }
    if (i + 1 < example.parts.size() && !example.parts[i + 1].placeholder) {
      std::vector<Word> words = split_words(example.parts[i + 1].text);
      if (!words.empty()) anchors.after = words.front().norm;
    }
    break;
  }
  return anchors;
}

struct Region {
  size_t begin = 0;
  size_t end = 0;
};

bool overlaps(const std::vector<Region>& used, size_t begin, size_t end) {
  return std::any_of(used.begin(), used.end(),
                     [&](const Region& r) { return begin < r.end && r.begin < end; });
}

// Byte ranges of the goal the anchors point at: after each occurrence of the
// words before, up to the word after (or the end of the goal), cut short at a
// value already claimed by another slot.
std::vector<Region> aligned_spans(const Anchors& anchors, const std::vector<Word>& goal_words,
                                  size_t goal_size, const std::vector<Region>& used) {
  std::vector<Region> spans;
  std::vector<size_t> starts;  // word index the value starts at
  if (anchors.before.empty()) {
    if (!anchors.after.empty()) starts.push_back(0);
  } else {
    // Prefer both words before the placeholder; fall back to the nearest one.
    for (size_t width : {anchors.before.size(), size_t{1}}) {
      for (size_t i = width; i <= goal_words.size(); ++i) {
        bool match = true;
        for (size_t k = 0; k < width; ++k) {
          if (goal_words[i - width + k].norm != anchors.before[anchors.before.size() - width + k]) {
            match = false;
            break;
          }
        }
        if (match) starts.push_back(i);
      }
      if (!starts.empty()) break;
    }
  }
  for (size_t start : starts) {
    size_t begin = start == 0 ? 0 : goal_words[start - 1].end;
    size_t end = goal_size;
    bool closed = anchors.after.empty();
    for (size_t w = start; w < goal_words.size() && !anchors.after.empty(); ++w) {
      if (goal_words[w].norm == anchors.after) {
        end = goal_words[w].begin;
        closed = true;
        break;
      }
    }
    // A value at the start of the example needs its right anchor to be found.
    if (anchors.before.empty() && !closed) continue;
    for (const Region& r : used) {
      if (r.begin <= begin && begin < r.end) begin = r.end;
    }
    for (const Region& r : used) {
      if (r.begin >= begin && r.begin < end) end = r.begin;
    }
    if (end > begin) spans.push_back({begin, end});
  }
  return spans;
}

// A free-text value out of a span: surrounding spaces and punctuation dropped,
// and cut at the end of a clause.
std::string clean_span(const std::string& span) {
  std::string text = span;
  size_t cut = text.find_first_of(",;!?\n");
  if (cut != std::string::npos) text.resize(cut);
  auto strip = [](char c) {
    return std::isspace(static_cast<unsigned char>(c)) || c == '.' || c == ':' || c == '"' ||
           c == '\'' || c == '(' || c == ')';
  };
  size_t begin = 0, end = text.size();
  while (begin < end && strip(text[begin])) ++begin;
  while (end > begin && strip(text[end - 1])) --end;
  text = text.substr(begin, end - begin);
  // A leading article belongs to the sentence, not to the value.
  for (const char* article : {"the ", "a ", "an "}) {
    std::string prefix = article;
    if (text.size() > prefix.size() &&
        std::equal(prefix.begin(), prefix.end(), text.begin(), [](char a, char b) {
          return a == std::tolower(static_cast<unsigned char>(b));
        })) {
      return text.substr(prefix.size());
    }
  }
  return text;
}

// A value as it appears in a message: compact, never throwing on bad UTF-8,
// cut short when long.
std::string shown(const Json& value) {
  std::string text = value.dump(-1, ' ', false, Json::error_handler_t::replace);
  return text.size() <= 80 ? text : text.substr(0, 77) + "...";
}

bool has_value(const Json& slots, const std::string& name) {
  return slots.contains(name) && !slots[name].is_null();
}

// A value the user gave for a slot, in the slot's canonical form.
Result<Json> known_value(const SlotSpec& slot, const Json& value, int64_t now_ms) {
  if (value.is_string()) {
    if (slot.type == SlotType::kString) return value;
    return parse_slot_value(slot, value.get<std::string>(), now_ms);
  }
  bool numeric = slot.type == SlotType::kNumber || slot.type == SlotType::kPercent ||
                 slot.type == SlotType::kMoney;
  if (numeric && value.is_number()) return value;
  if (slot.type == SlotType::kString) return value;
  return fail(ErrorCode::kInvalidInput,
              "expected a " + std::string(to_string(slot.type)) + " value, got " + shown(value));
}

}  // namespace

Plan plan_from_skill(const Skill& skill, const std::string& goal, const Json& slots) {
  Plan plan;
  plan.goal = goal;
  plan.skill = skill.name;
  plan.slot_specs = skill.slots;
  plan.steps = skill.steps;
  plan.slots = slots.is_object() ? slots : Json::object();
  for (const SlotSpec& slot : skill.slots) {
    if (has_value(plan.slots, slot.name)) continue;
    if (slot.default_value) {
      plan.slots[slot.name] = *slot.default_value;
    } else if (slot.required) {
      plan.questions.push_back(
          {slot.name, slot.question.empty() ? "What should " + slot.name + " be?" : slot.question});
    }
  }
  return plan;
}

SkillPlanner::SkillPlanner(std::vector<Skill> skills, double min_score, const Clock* clock)
    : skills_(std::move(skills)),
      min_score_(min_score),
      clock_(clock),
      index_(std::make_unique<const Index>(skills_)) {}

SkillPlanner::~SkillPlanner() = default;
SkillPlanner::SkillPlanner(SkillPlanner&&) noexcept = default;
SkillPlanner& SkillPlanner::operator=(SkillPlanner&&) noexcept = default;

std::vector<SkillMatch> SkillPlanner::rank(const std::string& goal) const {
  std::vector<std::vector<double>> scores = index_->scores(goal);
  std::vector<SkillMatch> ranked;
  for (size_t s = 0; s < skills_.size(); ++s) {
    double best = 0;
    for (double score : scores[s]) best = std::max(best, score);
    ranked.push_back({skills_[s].name, best});
  }
  std::stable_sort(ranked.begin(), ranked.end(),
                   [](const SkillMatch& a, const SkillMatch& b) { return a.score > b.score; });
  return ranked;
}

Result<Plan> SkillPlanner::plan(const std::string& goal, const Json& known_slots) {
  if (!known_slots.is_null() && !known_slots.is_object()) {
    return fail(ErrorCode::kInvalidInput,
                "known slots must be an object of slot name to value, got " + shown(known_slots));
  }
  if (skills_.empty()) {
    return fail(ErrorCode::kNotFound, "no skill matches \"" + goal +
                                          "\": there are no skills — teach one or add "
                                          "skills/*.yaml to the workspace");
  }

  std::vector<std::vector<double>> scores = index_->scores(goal);
  size_t chosen = 0;
  double chosen_score = -1;
  std::vector<SkillMatch> ranked;
  for (size_t s = 0; s < skills_.size(); ++s) {
    double best = scores[s].empty() ? 0 : *std::max_element(scores[s].begin(), scores[s].end());
    ranked.push_back({skills_[s].name, best});
    if (best > chosen_score) {
      chosen = s;
      chosen_score = best;
    }
  }
  if (chosen_score < min_score_) {
    std::stable_sort(ranked.begin(), ranked.end(),
                     [](const SkillMatch& a, const SkillMatch& b) { return a.score > b.score; });
    std::string closest;
    for (size_t i = 0; i < ranked.size() && i < 3; ++i) {
      closest += (i ? ", " : "") + ranked[i].skill + " (" + format_score(ranked[i].score) + ")";
    }
    return fail(ErrorCode::kNotFound, "no skill matches \"" + goal + "\"; closest: " + closest +
                                          " — teach one or rephrase");
  }

  const Skill& skill = skills_[chosen];
  const int64_t now_ms = clock_ != nullptr ? clock_->now_ms() : 0;
  Json slots = Json::object();

  // 1. What the user said explicitly.
  if (known_slots.is_object()) {
    for (const auto& [name, value] : known_slots.items()) {
      if (value.is_null()) continue;
      auto spec = std::find_if(skill.slots.begin(), skill.slots.end(),
                               [&](const SlotSpec& s) { return s.name == name; });
      if (spec == skill.slots.end()) {
        slots[name] = value;  // e.g. the slot of an `ask` step
        continue;
      }
      auto parsed = known_value(*spec, value, now_ms);
      if (!parsed) {
        return fail(
            parsed.error().with_context("slot '" + name + "' of skill '" + skill.name + "': "));
      }
      slots[name] = *parsed;
    }
  }

  // 2. The goal, read through the examples, best-matching first.
  std::vector<size_t> example_order(skill.examples.size());
  for (size_t i = 0; i < example_order.size(); ++i) example_order[i] = i;
  std::stable_sort(example_order.begin(), example_order.end(),
                   [&](size_t a, size_t b) { return scores[chosen][a] > scores[chosen][b]; });
  std::vector<Template> templates;
  for (size_t i : example_order) templates.emplace_back(skill.examples[i]);

  const std::vector<Word> goal_words = split_words(goal);
  std::vector<Region> used;  // parts of the goal already taken by a slot
  auto align = [&](const SlotSpec& slot) {
    for (const Template& example : templates) {
      Anchors anchors = anchors_for(example, slot.name);
      if (!anchors.found) continue;
      for (const Region& span : aligned_spans(anchors, goal_words, goal.size(), used)) {
        std::string text = goal.substr(span.begin, span.end - span.begin);
        if (slot.type == SlotType::kString) {
          std::string value = clean_span(text);
          if (value.empty()) continue;
          slots[slot.name] = value;
          used.push_back(span);
          return;
        }
        auto found = find_slot_values(slot, text, now_ms);
        if (!found.empty()) {
          slots[slot.name] = found.front().value;
          used.push_back({span.begin + found.front().begin, span.begin + found.front().end});
          return;
        }
        // The span may be a bare answer-like value ("by 15", "to 1,200").
        if (auto value = parse_slot_value(slot, text, now_ms)) {
          slots[slot.name] = *value;
          used.push_back(span);
          return;
        }
      }
    }
  };
  for (const SlotSpec& slot : skill.slots) {
    if (slot.type != SlotType::kString && !has_value(slots, slot.name)) align(slot);
  }

  // 3. Typed values anywhere in the goal. Slots of one type take the values
  // still unclaimed in order of appearance, in the order the best example
  // names them.
  std::vector<std::string> example_slot_order;
  for (const Template& example : templates) {
    for (const auto& part : example.parts) {
      if (part.placeholder && std::find(example_slot_order.begin(), example_slot_order.end(),
                                        part.text) == example_slot_order.end()) {
        example_slot_order.push_back(part.text);
      }
    }
  }
  auto position = [&](const SlotSpec* slot) {
    auto it = std::find(example_slot_order.begin(), example_slot_order.end(), slot->name);
    return static_cast<size_t>(it - example_slot_order.begin());
  };
  for (SlotType type : {SlotType::kDate, SlotType::kPercent, SlotType::kMoney, SlotType::kNumber,
                        SlotType::kEnum}) {
    std::vector<const SlotSpec*> open;
    for (const SlotSpec& slot : skill.slots) {
      if (slot.type == type && !has_value(slots, slot.name)) open.push_back(&slot);
    }
    if (open.empty()) continue;
    if (type == SlotType::kEnum) {
      for (const SlotSpec* slot : open) {
        if (auto value = extract_slot_value(*slot, goal, now_ms)) slots[slot->name] = *value;
      }
      continue;
    }
    std::stable_sort(open.begin(), open.end(), [&](const SlotSpec* a, const SlotSpec* b) {
      return position(a) < position(b);
    });
    std::vector<SlotValueMatch> free;
    for (SlotValueMatch& match : find_slot_values(*open.front(), goal, now_ms)) {
      if (!overlaps(used, match.begin, match.end)) free.push_back(std::move(match));
    }
    for (size_t i = 0; i < open.size() && i < free.size(); ++i) {
      slots[open[i]->name] = free[i].value;
      used.push_back({free[i].begin, free[i].end});
    }
    // "by 15" for a percentage, when the goal holds no other quantity.
    if (open.size() == 1 && free.empty() && used.empty()) {
      if (auto value = extract_slot_value(*open.front(), goal, now_ms)) {
        slots[open.front()->name] = *value;
      }
    }
  }

  // 4. Free text last, so its span stops where a typed value starts
  // ("with Dr. Smith tomorrow" -> "Dr. Smith").
  for (const SlotSpec& slot : skill.slots) {
    if (slot.type == SlotType::kString && !has_value(slots, slot.name)) align(slot);
  }

  // 5. Defaults and questions.
  return plan_from_skill(skill, goal, slots);
}

}  // namespace ergon
