// The offline skill planner: goal text -> best skill -> slot values -> Plan.
//
// Matching. Typed values (dates, amounts, codes, e-mail addresses, numbers)
// are set aside first: they fill slots, they do not say which skill. The rest
// of the goal becomes stemmed content words, in any order. Each skill
// contributes documents (every example phrasing without its placeholders, and
// its name plus description). A goal word matches a document word when it is
// the same word (1), a synonym (the synonym's strength, at most 0.8) or, for
// a word the library does not know, a word one or two typos away (0.9). A
// document scores the soft TF-IDF cosine of those matches blended with
// character-trigram overlap; a skill scores its best document.
//
// Synonyms are learned from the library's examples: two words seen in the
// same context (the content words right before and after them) in examples
// of one skill, and never together in one example, stand for each other
// ("book an MRI ..." / "schedule MRI ..." in a care skill lets "schedule a
// meeting" find a skill taught only "book a meeting"). The same substitution
// across two different skills is a contrast, not a synonym ("start the
// instance" / "stop the instance"): it vetoes the pair, learned or from the
// small built-in lexicon that serves as a prior.
//
// Confidence. Five features of a (goal, skill) pair — the score, the share of
// the goal's word weight the skill's vocabulary covers, the margin over the
// best other skill's score, the share of the skill's characteristic words
// (those its phrasings use consistently) the goal mentions, and whether the
// goal's typed values fit the skill's slots — go through a logistic model. It
// is fitted at construction (Newton's method, a Gaussian prior around
// hand-set weights, so a small library stays sensible) on leave-one-out
// matches: every example (up to kMaxCalibrationQueries of them, evenly
// spread) is held out of its skill and matched against the library as a goal;
// its own skill is a positive, the two best other skills negatives, and so is
// its own skill for the same example with the skill's most characteristic
// word swapped for an unknown one (a near miss: "check the status of
// <flight>" for a claims skill). The confidence thus estimates how often a
// goal scored like this one belonged to the skill.
//
// Slot filling: values the user gave win; then each example phrasing is used
// as an alignment template — the words around "{slot}" anchor where its value
// sits in the goal; then typed values anywhere in the goal, in order; free
// text last (it has no shape of its own, only anchors); then the slot's
// default; a required slot still empty becomes a question.
#include <algorithm>
#include <array>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <map>
#include <set>
#include <unordered_map>
#include <unordered_set>

#include "ergon/planner.h"

namespace ergon {
namespace {

bool is_alnum(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) != 0;
}
bool is_digit(char c) {
  return std::isdigit(static_cast<unsigned char>(c)) != 0;
}
bool is_space(char c) {
  return std::isspace(static_cast<unsigned char>(c)) != 0;
}

bool is_vowel(char c) {
  return c == 'a' || c == 'e' || c == 'i' || c == 'o' || c == 'u';
}

std::string lower(std::string text) {
  for (char& c : text) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return text;
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
  static const std::unordered_set<std::string> kStopwords = {
      "a",         "an",         "the",     "of",    "to",     "for",   "in",     "on",
      "at",        "by",         "with",    "and",   "or",     "our",   "my",     "me",
      "i",         "we",         "us",      "you",   "your",   "it",    "its",    "is",
      "are",       "be",         "this",    "that",  "these",  "those", "from",   "all",
      "some",      "can",        "could",   "would", "should", "will",  "please", "just",
      "into",      "so",         "do",      "does",  "let",    "lets",  "want",   "need",
      "like",      "make",       "sure",    "get",   "am",     "was",   "were",   "been",
      "as",        "up",         "then",    "than",  "them",   "their", "there",  "what",
      "which",     "who",        "how",     "when",  "where",  "why",   "has",    "have",
      "had",       "did",        "done",    "being", "he",     "she",   "him",    "his",
      "her",       "they",       "if",      "also",  "kindly", "hi",    "hello",  "thanks",
      "thank",     "may",        "might",   "must",  "shall",  "ll",    "ve",     "re",
      "don",       "t",          "s",       "d",     "m",      "yours", "ours",   "mine",
      "myself",    "via",        "too",     "very",  "no",     "not",   "more",   "less",
      "each",      "every",      "any",     "only",  "own",    "same",  "other",  "such",
      "about",     "again",      "once",    "here",  "now",    "yet",   "else",   "anything",
      "something", "everything", "someone", "anyone"};
  return kStopwords.count(word) > 0;
}

// A word of a text: a maximal run of letters and digits, at bytes [begin, end).
struct Word {
  std::string norm;  // lowercased and stemmed
  size_t begin = 0;
  size_t end = 0;
  bool name_like = false;  // capitalised and not starting a sentence ("Jane", "ACME")
};

std::vector<Word> split_words(const std::string& text) {
  std::vector<Word> words;
  size_t p = 0;
  bool sentence_start = true;
  while (p < text.size()) {
    if (!is_alnum(text[p])) {
      if (text[p] == '.' || text[p] == '!' || text[p] == '?' || text[p] == ':' || text[p] == '\n') {
        sentence_start = true;
      }
      ++p;
      continue;
    }
    Word word;
    word.begin = p;
    word.name_like = !sentence_start && std::isupper(static_cast<unsigned char>(text[p])) != 0;
    std::string raw;
    while (p < text.size() && is_alnum(text[p])) {
      raw += static_cast<char>(std::tolower(static_cast<unsigned char>(text[p++])));
    }
    word.end = p;
    word.norm = is_stopword(raw) ? raw : stem(raw);
    words.push_back(std::move(word));
    sentence_start = false;
  }
  return words;
}

// Whether a normalised word carries meaning: no stopword, no single letter,
// nothing with a digit (values).
bool is_term(const std::string& norm) {
  return norm.size() >= 2 && !is_stopword(norm) && std::none_of(norm.begin(), norm.end(), is_digit);
}

// The words of a text that carry meaning, with its typed values (dates,
// amounts, codes, e-mail addresses, numbers) set aside: they fill slots, they
// do not say which skill.
std::vector<Word> meaning_words(const std::string& text) {
  std::string blanked = text;
  for (const SlotValueMatch& value : find_typed_values(text)) {
    for (size_t p = value.begin; p < value.end && p < blanked.size(); ++p) blanked[p] = ' ';
  }
  std::vector<Word> words = split_words(blanked);
  std::erase_if(words, [](const Word& word) { return !is_term(word.norm); });
  return words;
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

// Distinct character trigrams of a text, each packed into an integer, sorted.
std::vector<uint32_t> trigrams(const std::string& text) {
  std::vector<uint32_t> grams;
  std::string padded = "  " + text + "  ";
  for (size_t i = 0; i + 3 <= padded.size(); ++i) {
    grams.push_back(static_cast<uint32_t>(static_cast<unsigned char>(padded[i])) << 16 |
                    static_cast<uint32_t>(static_cast<unsigned char>(padded[i + 1])) << 8 |
                    static_cast<uint32_t>(static_cast<unsigned char>(padded[i + 2])));
  }
  std::sort(grams.begin(), grams.end());
  grams.erase(std::unique(grams.begin(), grams.end()), grams.end());
  return grams;
}

double dice(const std::vector<uint32_t>& a, const std::vector<uint32_t>& b) {
  if (a.empty() || b.empty()) return 0;
  std::vector<uint32_t> common;
  std::set_intersection(a.begin(), a.end(), b.begin(), b.end(), std::back_inserter(common));
  return 2.0 * static_cast<double>(common.size()) / static_cast<double>(a.size() + b.size());
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

// Words that usually stand for each other in requests to enterprise systems:
// a prior the learned synonyms add to. A pair the library itself contrasts
// (the two words tell two skills apart) is dropped.
const std::vector<std::vector<std::string>>& lexicon() {
  static const std::vector<std::vector<std::string>> kGroups = {
      {"book", "schedule", "reserve", "arrange"},
      {"cut", "reduce", "lower", "decrease", "trim", "slash", "shrink"},
      {"cost", "spend", "spending", "expense", "expenditure"},
      {"bill", "invoice"},
      {"cancel", "revoke", "terminate"},
      {"approve", "okay", "greenlight"},
      {"buy", "purchase", "acquire"},
      {"sell", "dump", "divest"},
      {"create", "add", "open"},
      {"delete", "remove", "erase"},
      {"show", "display", "list"},
      {"refund", "reimburse", "repay"},
      {"password", "passcode", "passphrase"},
      {"employee", "staff", "worker", "hire"},
      {"doctor", "physician", "clinician"},
      {"customer", "client"},
      {"ticket", "case"},
      {"start", "begin", "launch"},
      {"stop", "halt"},
      {"fix", "repair", "resolve"},
      {"update", "change", "modify", "edit"},
      {"check", "track", "lookup"},
      {"status", "progress"},
      {"meeting", "call"},
      {"appointment", "visit", "slot"},
      {"error", "fault", "failure"},
      {"send", "mail"},
      {"quantity", "amount"},
      {"share", "stock"},
      {"submit", "file"},
      {"unlock", "unblock"},
      {"account", "login"},
  };
  return kGroups;
}

constexpr double kCosineWeight = 0.75;  // the rest is trigram overlap
constexpr double kTypoFactor = 0.9;     // a corrected typo matches almost fully
constexpr double kLexiconStrength = 0.7;
constexpr double kNameWeight = 0.5;     // an unknown name-like word is likely a value
constexpr size_t kMaxContextTerms = 8;  // a context shared by more words is too generic
constexpr size_t kMaxCalibrationQueries = 600;
constexpr double kPriorStrength = 2.0;
// How common a goal for no skill that shares a few words with one is taken to
// be, per goal meant for a skill: the weight of each near-miss example in the fit.
constexpr double kNearMissWeight = 0.5;
// The confidence model's inputs: score, coverage, margin, core, values, and
// 1 (bias).
constexpr size_t kFeatures = 6;
using Features = std::array<double, kFeatures>;
// Hand-set weights: the prior of the fit, and the model when the library is
// too small to fit one.
constexpr Features kPriorWeights = {5.0, 4.0, 4.0, 3.0, 1.0, -8.0};

// Slot types as bits, for "does the goal carry values this skill takes".
uint32_t type_bit(SlotType type) {
  return 1u << static_cast<unsigned>(type);
}
// Whether a value of `found` type can fill a slot of a type in `mask`.
bool value_fits(SlotType found, uint32_t mask) {
  uint32_t fits = type_bit(found);
  if (found == SlotType::kNumber) {
    fits |= type_bit(SlotType::kPercent) | type_bit(SlotType::kMoney) | type_bit(SlotType::kCode);
  }
  if (found == SlotType::kMoney) fits |= type_bit(SlotType::kNumber);
  return (fits & mask) != 0;
}
constexpr double kMinWeight = 0.5;  // more similarity never lowers the confidence

double sigmoid(double z) {
  return 1.0 / (1.0 + std::exp(-z));
}

std::string format_score(double score) {
  char buffer[16];
  std::snprintf(buffer, sizeof buffer, "%.2f", score);
  return buffer;
}

uint64_t pair_key(uint32_t a, uint32_t b) {
  if (a > b) std::swap(a, b);
  return static_cast<uint64_t>(a) << 32 | b;
}

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

SlotType slot_type_of(const Skill& skill, const std::string& name) {
  for (const SlotSpec& slot : skill.slots) {
    if (slot.name == name) return slot.type;
  }
  return SlotType::kString;
}

}  // namespace

// Term statistics, learned synonyms and the confidence model over every
// skill's documents; built once, read-only after.
struct SkillPlanner::Index {
  struct Document {
    uint32_t skill = 0;
    int example = -1;  // index into the skill's examples; -1: its name and description
    double norm = 0;
    std::vector<uint32_t> terms;  // distinct term ids, sorted
    std::vector<uint32_t> grams;  // trigrams of its words
  };
  // A goal word: its weight and the library's words it may stand for.
  struct QueryTerm {
    double weight = 0;
    std::vector<std::pair<uint32_t, double>> matches;  // term id, factor in 0..1
  };
  struct Query {
    std::vector<QueryTerm> terms;
    std::vector<SlotType> values;  // the typed values the goal carries
    std::vector<uint32_t> grams;
    double norm = 0;
    double total = 0;  // the terms' weights added up
  };
  struct Scores {
    std::vector<double> doc;       // per document, 0..1
    std::vector<double> skill;     // per skill: its best document's
    std::vector<double> coverage;  // per skill: share of the goal's weight its words cover
    // per skill: share of its characteristic words (weighted by idf and by how
    // consistently its phrasings use them) the goal mentions
    std::vector<double> core;
    // per skill: +1 when every typed value of the goal fits one of its slots,
    // -1 when none does, 0 when the goal carries none
    std::vector<double> values;
    double first = 0;   // the best skill score
    double second = 0;  // the second best
    size_t best = 0;    // the skill with the best score
    double margin(size_t s) const { return skill[s] - (s == best ? second : first); }
  };
  struct Candidate {
    size_t skill = 0;
    double score = 0;
    double confidence = 0;
  };

  std::unordered_map<std::string, uint32_t> ids;
  std::vector<std::string> words;  // by term id
  std::vector<double> idf;         // by term id
  double unseen_idf = 1;
  std::vector<Document> docs;
  std::vector<std::vector<uint32_t>> skill_docs;
  std::vector<std::vector<std::pair<uint32_t, double>>> postings;  // term -> (doc, tf * idf)
  // term -> (skill, how many of the skill's documents hold it)
  std::vector<std::vector<std::pair<uint32_t, uint32_t>>> skill_postings;
  // skill -> (term, how many of its documents hold it), and the core weights' sum
  std::vector<std::vector<std::pair<uint32_t, uint32_t>>> skill_terms;
  std::vector<double> core_norm;
  std::vector<uint32_t> slot_types;  // per skill: type_bit of each typed slot
  std::unordered_map<uint32_t, std::vector<uint32_t>> gram_postings;  // trigram -> docs
  std::array<std::vector<uint32_t>, 256> by_initial;  // term ids by first byte, for typos
  // word (known to the library or not) -> library words it stands for, strongest first
  std::unordered_map<std::string, std::vector<std::pair<uint32_t, double>>> synonyms;
  PlannerCalibration calibration;

  explicit Index(const std::vector<Skill>& library) {
    const size_t n_skills = library.size();
    skill_docs.resize(n_skills);
    std::vector<std::vector<std::string>> doc_words;
    auto add_document = [&](size_t skill, int example, const std::string& text) {
      std::vector<std::string> terms;
      for (const Word& word : meaning_words(text)) terms.push_back(word.norm);
      for (const std::string& term : terms) {
        if (ids.emplace(term, static_cast<uint32_t>(words.size())).second) words.push_back(term);
      }
      skill_docs[skill].push_back(static_cast<uint32_t>(docs.size()));
      docs.push_back({static_cast<uint32_t>(skill), example, 0, {}, {}});
      doc_words.push_back(std::move(terms));
    };
    for (size_t s = 0; s < n_skills; ++s) {
      const Skill& skill = library[s];
      for (size_t e = 0; e < skill.examples.size(); ++e) {
        add_document(s, static_cast<int>(e), remove_placeholders(skill.examples[e]));
      }
      // The name, the description and the words its slots take ("meals",
      // "sell"): what the skill is about, in its own words.
      std::string name = skill.name;
      std::replace_if(
          name.begin(), name.end(), [](char c) { return !is_alnum(c); }, ' ');
      std::string about = name + " " + skill.description;
      for (const SlotSpec& slot : skill.slots) {
        for (const std::string& choice : slot.choices) about += " " + choice;
      }
      add_document(s, -1, about);
    }

    // Terms are weighed by how few skills use them; a term no skill uses
    // weighs most, so an unrelated goal dilutes the match.
    const double n = static_cast<double>(std::max<size_t>(n_skills, 1));
    std::vector<uint32_t> skill_frequency(words.size(), 0);
    std::vector<uint32_t> last_skill(words.size(), UINT32_MAX);
    for (size_t d = 0; d < docs.size(); ++d) {
      for (const std::string& term : doc_words[d]) {
        uint32_t id = ids.at(term);
        if (last_skill[id] != docs[d].skill) {
          last_skill[id] = docs[d].skill;
          ++skill_frequency[id];
        }
      }
    }
    idf.resize(words.size());
    for (size_t t = 0; t < words.size(); ++t) {
      idf[t] = std::log(1.0 + n / static_cast<double>(skill_frequency[t]));
    }
    unseen_idf = std::log(1.0 + n);

    postings.resize(words.size());
    skill_postings.resize(words.size());
    for (size_t d = 0; d < docs.size(); ++d) {
      Document& doc = docs[d];
      std::map<uint32_t, double> weights;
      for (const std::string& term : doc_words[d]) weights[ids.at(term)] += idf[ids.at(term)];
      for (const auto& [id, weight] : weights) {
        doc.norm += weight * weight;
        postings[id].push_back({static_cast<uint32_t>(d), weight});
        doc.terms.push_back(id);
        auto& per_skill = skill_postings[id];
        if (!per_skill.empty() && per_skill.back().first == doc.skill) {
          ++per_skill.back().second;
        } else {
          per_skill.push_back({doc.skill, 1});
        }
      }
      doc.norm = std::sqrt(doc.norm);
      if (!doc_words[d].empty()) doc.grams = trigrams(join(doc_words[d]));
      for (uint32_t gram : doc.grams) gram_postings[gram].push_back(static_cast<uint32_t>(d));
    }
    for (size_t t = 0; t < words.size(); ++t) {
      by_initial[static_cast<unsigned char>(words[t][0])].push_back(static_cast<uint32_t>(t));
    }
    slot_types.assign(n_skills, 0);
    for (size_t s = 0; s < n_skills; ++s) {
      for (const SlotSpec& slot : library[s].slots) {
        if (slot.type != SlotType::kString && slot.type != SlotType::kEnum) {
          slot_types[s] |= type_bit(slot.type);
        }
      }
    }
    skill_terms.resize(n_skills);
    core_norm.assign(n_skills, 0);
    for (size_t t = 0; t < words.size(); ++t) {
      for (const auto& [s, count] : skill_postings[t]) {
        skill_terms[s].push_back({static_cast<uint32_t>(t), count});
        core_norm[s] += core_weight(static_cast<uint32_t>(t), count, skill_docs[s].size());
      }
    }

    learn_synonyms(library);
    calibrate(library, doc_words);
  }

  // -------------------------------------------------------------------------
  // Synonyms.

  void add_synonym(const std::string& from, uint32_t to, double strength) {
    auto& list = synonyms[from];
    for (auto& [id, known] : list) {
      if (id == to) {
        known = std::max(known, strength);
        return;
      }
    }
    list.push_back({to, strength});
  }

  void learn_synonyms(const std::vector<Skill>& library) {
    struct Seen {
      uint32_t skill;
      uint32_t term;
      auto operator<=>(const Seen&) const = default;
    };
    // "previous word \x1f next word" -> the words seen between them
    std::unordered_map<std::string, std::vector<Seen>> contexts;
    std::vector<std::vector<uint32_t>> examples_of(words.size());  // ascending example ordinals
    uint32_t ordinal = 0;
    for (size_t s = 0; s < library.size(); ++s) {
      for (const std::string& example : library[s].examples) {
        std::vector<std::string> sequence;
        std::vector<int64_t> sequence_ids;  // -1: a placeholder
        for (const Template::Part& part : Template(example).parts) {
          if (part.placeholder) {
            sequence.push_back("{" + std::string(to_string(slot_type_of(library[s], part.text))) +
                               "}");
            sequence_ids.push_back(-1);
            continue;
          }
          for (const Word& word : meaning_words(part.text)) {
            auto it = ids.find(word.norm);
            if (it == ids.end()) continue;
            sequence.push_back(word.norm);
            sequence_ids.push_back(it->second);
          }
        }
        for (size_t k = 0; k < sequence.size(); ++k) {
          if (sequence_ids[k] < 0) continue;
          uint32_t id = static_cast<uint32_t>(sequence_ids[k]);
          if (examples_of[id].empty() || examples_of[id].back() != ordinal) {
            examples_of[id].push_back(ordinal);
          }
          bool word_before = k > 0 && sequence_ids[k - 1] >= 0;
          bool word_after = k + 1 < sequence.size() && sequence_ids[k + 1] >= 0;
          if (!word_before && !word_after) continue;  // "^ x $", "{date} x $": too loose
          std::string key = (k > 0 ? sequence[k - 1] : "^") + "\x1f" +
                            (k + 1 < sequence.size() ? sequence[k + 1] : "$");
          contexts[key].push_back({static_cast<uint32_t>(s), id});
        }
        ++ordinal;
      }
    }

    std::unordered_map<uint64_t, int> same_skill, across_skills;
    for (auto& [key, seen] : contexts) {
      std::sort(seen.begin(), seen.end());
      seen.erase(std::unique(seen.begin(), seen.end()), seen.end());
      std::set<uint32_t> distinct;
      for (const Seen& one : seen) distinct.insert(one.term);
      if (distinct.size() < 2 || distinct.size() > kMaxContextTerms) continue;
      for (size_t i = 0; i < seen.size(); ++i) {
        for (size_t j = i + 1; j < seen.size(); ++j) {
          if (seen[i].term == seen[j].term) continue;
          uint64_t pair = pair_key(seen[i].term, seen[j].term);
          ++(seen[i].skill == seen[j].skill ? same_skill : across_skills)[pair];
        }
      }
    }
    auto together = [&](uint32_t a, uint32_t b) {
      const auto& x = examples_of[a];
      const auto& y = examples_of[b];
      for (size_t i = 0, j = 0; i < x.size() && j < y.size();) {
        if (x[i] == y[j]) return true;
        x[i] < y[j] ? ++i : ++j;
      }
      return false;
    };
    for (const auto& [pair, count] : same_skill) {
      if (across_skills.count(pair)) continue;  // the library contrasts them
      uint32_t a = static_cast<uint32_t>(pair >> 32), b = static_cast<uint32_t>(pair);
      if (together(a, b)) continue;  // both parts of one phrasing, not alternatives
      double strength = 0.5 + 0.1 * std::min(count, 3);
      add_synonym(words[a], b, strength);
      add_synonym(words[b], a, strength);
    }
    for (const auto& group : lexicon()) {
      for (const std::string& from_word : group) {
        std::string from = stem(from_word);
        auto from_id = ids.find(from);
        for (const std::string& to_word : group) {
          auto to = ids.find(stem(to_word));
          if (to == ids.end() || to->first == from) continue;
          if (from_id != ids.end() && across_skills.count(pair_key(from_id->second, to->second))) {
            continue;
          }
          add_synonym(from, to->second, kLexiconStrength);
        }
      }
    }
    for (auto& [word, list] : synonyms) {
      std::sort(list.begin(), list.end(), [](const auto& x, const auto& y) {
        return x.second != y.second ? x.second > y.second : x.first < y.first;
      });
    }
  }

  // -------------------------------------------------------------------------
  // Queries and scores.

  // How characteristic term `t` is of a skill whose `docs` documents hold it
  // `count` times: its idf times the squared share of documents using it.
  double core_weight(uint32_t t, uint32_t count, size_t docs_of_skill) const {
    if (docs_of_skill == 0) return 0;
    double share = static_cast<double>(count) / static_cast<double>(docs_of_skill);
    return idf[t] * share * share * share * share;
  }

  // A goal word no skill uses, replaced by a known word it is one or two
  // typos away from ("clod" -> "cloud"). Typos rarely hit the first letter;
  // requiring it keeps "cake" from becoming "take".
  std::optional<uint32_t> correct(const std::string& term) const {
    if (term.size() < 4) return std::nullopt;
    size_t limit = term.size() >= 7 ? 2 : 1;
    auto shared_prefix = [&](const std::string& known) {
      size_t n = 0;
      while (n < term.size() && n < known.size() && term[n] == known[n]) ++n;
      return n;
    };
    std::optional<uint32_t> best;
    size_t best_distance = limit + 1;
    size_t best_prefix = 0;
    for (uint32_t id : by_initial[static_cast<unsigned char>(term[0])]) {
      const std::string& known = words[id];
      size_t distance = bounded_distance(term, known, limit);
      if (distance > limit) continue;
      // Of equally close words, the one sharing the longer start ("spnd":
      // "spend", not "send").
      size_t prefix = shared_prefix(known);
      if (distance < best_distance || (distance == best_distance && prefix > best_prefix)) {
        best = id;
        best_distance = distance;
        best_prefix = prefix;
      }
    }
    return best;
  }

  void add_synonyms_of(const std::string& term, double factor, QueryTerm& out) const {
    auto it = synonyms.find(term);
    if (it == synonyms.end()) return;
    for (const auto& [id, strength] : it->second) {
      bool present = std::any_of(out.matches.begin(), out.matches.end(),
                                 [&](const auto& match) { return match.first == id; });
      if (!present) out.matches.push_back({id, strength * factor});
    }
  }

  // What a goal word may match: itself, its synonyms, else the word it
  // misspells. Its weight is its own idf when the library knows it, else that
  // of what it stands for; a word standing for nothing weighs most, a little
  // less when it looks like a name (likely a value for a free-text slot).
  QueryTerm resolve(const std::string& term, bool name_like) const {
    QueryTerm out;
    auto known = ids.find(term);
    if (known != ids.end()) out.matches.push_back({known->second, 1.0});
    add_synonyms_of(term, 1.0, out);
    if (out.matches.empty()) {
      if (std::optional<uint32_t> fixed = correct(term)) {
        out.matches.push_back({*fixed, kTypoFactor});
        add_synonyms_of(words[*fixed], kTypoFactor, out);
      }
    }
    if (known != ids.end()) {
      out.weight = idf[known->second];
    } else if (!out.matches.empty()) {
      for (const auto& [id, factor] : out.matches) out.weight = std::max(out.weight, idf[id]);
    } else {
      out.weight = unseen_idf * (name_like ? kNameWeight : 1.0);
    }
    return out;
  }

  static void finish(Query& query, const std::vector<std::string>& raw) {
    for (const QueryTerm& term : query.terms) {
      query.norm += term.weight * term.weight;
      query.total += term.weight;
    }
    query.norm = std::sqrt(query.norm);
    if (!raw.empty()) query.grams = trigrams(join(raw));
  }

  Query query(const std::string& goal) const {
    std::map<std::string, std::pair<int, bool>> counts;  // term -> (count, every use name-like)
    std::vector<std::string> raw;
    for (const Word& word : meaning_words(goal)) {
      raw.push_back(word.norm);
      auto [it, fresh] = counts.emplace(word.norm, std::pair{0, true});
      ++it->second.first;
      it->second.second = it->second.second && word.name_like;
    }
    Query out;
    for (const SlotValueMatch& value : find_typed_values(goal)) out.values.push_back(value.type);
    for (const auto& [term, use] : counts) {
      QueryTerm resolved = resolve(term, use.second);
      resolved.weight *= use.first;
      out.terms.push_back(std::move(resolved));
    }
    finish(out, raw);
    return out;
  }

  // Scores of every document and skill; `held_out`, when set, is a document
  // left out of the library (its skill's vocabulary loses the words only it had).
  Scores score(const Query& query, std::optional<uint32_t> held_out = std::nullopt) const {
    const size_t n_docs = docs.size();
    const size_t n_skills = skill_docs.size();
    std::vector<double> dot(n_docs, 0), best(n_docs, 0);
    std::vector<uint32_t> touched;
    for (const QueryTerm& term : query.terms) {
      // Each goal word counts once per document, through its best match.
      for (const auto& [id, factor] : term.matches) {
        for (const auto& [d, weight] : postings[id]) {
          if (best[d] == 0) touched.push_back(d);
          best[d] = std::max(best[d], term.weight * factor * weight);
        }
      }
      for (uint32_t d : touched) {
        dot[d] += best[d];
        best[d] = 0;
      }
      touched.clear();
    }
    std::vector<uint32_t> common(n_docs, 0);
    for (uint32_t gram : query.grams) {
      auto it = gram_postings.find(gram);
      if (it == gram_postings.end()) continue;
      for (uint32_t d : it->second) ++common[d];
    }

    Scores out;
    out.doc.assign(n_docs, 0);
    out.skill.assign(n_skills, 0);
    for (size_t d = 0; d < n_docs; ++d) {
      if ((dot[d] == 0 && common[d] == 0) || (held_out && d == *held_out)) continue;
      const Document& doc = docs[d];
      double cosine = query.norm > 0 && doc.norm > 0 ? dot[d] / (query.norm * doc.norm) : 0;
      double grams =
          query.grams.empty() || doc.grams.empty()
              ? 0
              : 2.0 * common[d] / static_cast<double>(query.grams.size() + doc.grams.size());
      out.doc[d] = std::clamp(kCosineWeight * cosine + (1 - kCosineWeight) * grams, 0.0, 1.0);
      out.skill[doc.skill] = std::max(out.skill[doc.skill], out.doc[d]);
    }

    out.coverage.assign(n_skills, 0);
    std::vector<double> cover(n_skills, 0);
    std::vector<uint32_t> hit;
    const Document* left_out = held_out ? &docs[*held_out] : nullptr;
    for (const QueryTerm& term : query.terms) {
      for (const auto& [id, factor] : term.matches) {
        for (const auto& [s, count] : skill_postings[id]) {
          if (left_out != nullptr && s == left_out->skill && count <= 1 &&
              std::binary_search(left_out->terms.begin(), left_out->terms.end(), id)) {
            continue;
          }
          if (cover[s] == 0) hit.push_back(s);
          cover[s] = std::max(cover[s], factor);
        }
      }
      for (uint32_t s : hit) {
        out.coverage[s] += term.weight * cover[s];
        cover[s] = 0;
      }
      hit.clear();
    }
    if (query.total > 0) {
      for (double& c : out.coverage) c /= query.total;
    }

    // Core: each library word the goal reaches counts once, by its best match.
    std::vector<double> reached(words.size(), 0);
    std::vector<uint32_t> reached_ids;
    for (const QueryTerm& term : query.terms) {
      for (const auto& [id, factor] : term.matches) {
        if (reached[id] == 0) reached_ids.push_back(id);
        reached[id] = std::max(reached[id], factor);
      }
    }
    out.core.assign(n_skills, 0);
    for (uint32_t id : reached_ids) {
      for (const auto& [s, count] : skill_postings[id]) {
        out.core[s] += reached[id] * core_weight(id, count, skill_docs[s].size());
      }
    }
    for (size_t s = 0; s < n_skills; ++s) {
      if (core_norm[s] > 0) out.core[s] /= core_norm[s];
    }
    if (left_out != nullptr) {
      // The held-out document's skill, as if it never had that document.
      const size_t s = left_out->skill;
      const size_t remaining = skill_docs[s].size() - 1;
      double matched = 0, norm = 0;
      for (const auto& [id, count] : skill_terms[s]) {
        uint32_t left =
            count -
            (std::binary_search(left_out->terms.begin(), left_out->terms.end(), id) ? 1 : 0);
        double weight = core_weight(id, left, remaining);
        norm += weight;
        matched += reached[id] * weight;
      }
      out.core[s] = norm > 0 ? matched / norm : 0;
    }

    out.values.assign(n_skills, 0);
    if (!query.values.empty()) {
      for (size_t s = 0; s < n_skills; ++s) {
        double agreement = 0;
        for (SlotType type : query.values) agreement += value_fits(type, slot_types[s]) ? 1 : -1;
        out.values[s] = agreement / static_cast<double>(query.values.size());
      }
    }

    for (size_t s = 0; s < n_skills; ++s) {
      if (s == 0 || out.skill[s] > out.first) {
        out.second = s == 0 ? 0 : out.first;
        out.first = out.skill[s];
        out.best = s;
      } else if (out.skill[s] > out.second) {
        out.second = out.skill[s];
      }
    }
    return out;
  }

  static Features features(const Scores& scores, size_t s) {
    return {scores.skill[s], scores.coverage[s], scores.margin(s),
            scores.core[s],  scores.values[s],   1.0};
  }

  double confidence(const Scores& scores, size_t s) const {
    Features x = features(scores, s);
    const PlannerCalibration& c = calibration;
    return sigmoid(c.w_score * x[0] + c.w_coverage * x[1] + c.w_margin * x[2] + c.w_core * x[3] +
                   c.w_values * x[4] + c.bias);
  }

  // Every skill by confidence, best first (ties by score, then declaration order).
  std::vector<Candidate> candidates(const Scores& scores) const {
    std::vector<Candidate> out;
    for (size_t s = 0; s < scores.skill.size(); ++s) {
      out.push_back({s, scores.skill[s], confidence(scores, s)});
    }
    std::stable_sort(out.begin(), out.end(), [](const Candidate& a, const Candidate& b) {
      return a.confidence != b.confidence ? a.confidence > b.confidence : a.score > b.score;
    });
    return out;
  }

  // Per example of skill `s`, how well it matched.
  std::vector<double> example_scores(const Scores& scores, size_t s, size_t examples) const {
    std::vector<double> out(examples, 0);
    for (uint32_t d : skill_docs[s]) {
      if (docs[d].example >= 0) out[static_cast<size_t>(docs[d].example)] = scores.doc[d];
    }
    return out;
  }

  // -------------------------------------------------------------------------
  // Calibration.

  // Example document `d` as a goal: its words, plus a stand-in name for each
  // free-text placeholder (a real goal carries the value there). With
  // `replaced`, that word is swapped for one the library does not know: the
  // goal no longer says what the skill is about.
  Query held_out_query(const Skill& skill, uint32_t d, const std::vector<std::string>& doc_words,
                       std::optional<uint32_t> replaced = std::nullopt) const {
    Query out;
    std::map<uint32_t, int> counts;
    std::vector<std::string> raw;
    for (const std::string& term : doc_words) {
      uint32_t id = ids.at(term);
      if (replaced && id == *replaced) continue;
      ++counts[id];
      raw.push_back(term);
    }
    for (const auto& [id, count] : counts) {
      QueryTerm term;
      term.matches.push_back({id, 1.0});
      add_synonyms_of(words[id], 1.0, term);
      term.weight = idf[id] * count;
      out.terms.push_back(std::move(term));
    }
    if (replaced) {
      out.terms.push_back({unseen_idf, {}});
      raw.push_back("qxzv");
    }
    for (const Template::Part& part : Template(skill.examples[docs[d].example]).parts) {
      if (!part.placeholder) continue;
      SlotType type = slot_type_of(skill, part.text);
      if (type == SlotType::kString) out.terms.push_back({unseen_idf * kNameWeight, {}});
      if (type != SlotType::kString && type != SlotType::kEnum) out.values.push_back(type);
    }
    finish(out, raw);
    return out;
  }

  void calibrate(const std::vector<Skill>& library,
                 const std::vector<std::vector<std::string>>& doc_words) {
    std::vector<uint32_t> examples;
    for (size_t d = 0; d < docs.size(); ++d) {
      if (docs[d].example >= 0 && !doc_words[d].empty()) {
        examples.push_back(static_cast<uint32_t>(d));
      }
    }
    const size_t stride = std::max<size_t>(
        1, (examples.size() + kMaxCalibrationQueries - 1) / kMaxCalibrationQueries);
    std::vector<Features> x;
    std::vector<double> y, weight;
    auto add = [&](const Scores& scores, size_t s, bool match, double w = 1.0) {
      x.push_back(features(scores, s));
      y.push_back(match ? 1.0 : 0.0);
      weight.push_back(w);
      ++(match ? calibration.matches : calibration.non_matches);
    };
    for (size_t i = 0; i < examples.size(); i += stride) {
      const uint32_t d = examples[i];
      const size_t own = docs[d].skill;
      Scores scores = score(held_out_query(library[own], d, doc_words[d]), d);
      add(scores, own, true);
      // The two best other skills: the ones a goal is confused with.
      size_t first = SIZE_MAX, second = SIZE_MAX;
      for (size_t s = 0; s < scores.skill.size(); ++s) {
        if (s == own || scores.skill[s] <= 0) continue;
        if (first == SIZE_MAX || scores.skill[s] > scores.skill[first]) {
          second = first;
          first = s;
        } else if (second == SIZE_MAX || scores.skill[s] > scores.skill[second]) {
          second = s;
        }
      }
      if (first != SIZE_MAX) add(scores, first, false);
      if (second != SIZE_MAX) add(scores, second, false);
      // The same phrasing without the skill's most characteristic word of it
      // ("check the status of <flight>" for a claim skill): what an unrelated
      // goal sharing a few words looks like. Not the skill's.
      if (docs[d].terms.size() >= 2) {
        uint32_t key = docs[d].terms.front();
        double key_weight = -1;
        for (uint32_t id : docs[d].terms) {
          uint32_t count = 0;
          for (const auto& [s, c] : skill_postings[id]) {
            if (s == own) count = c;
          }
          double weight = core_weight(id, count, skill_docs[own].size());
          if (weight > key_weight) {
            key = id;
            key_weight = weight;
          }
        }
        // Matched against the whole library: a real near miss meets this very phrasing.
        add(score(held_out_query(library[own], d, doc_words[d], key)), own, false, kNearMissWeight);
      }
    }

    Features theta = kPriorWeights;
    if (calibration.matches >= 8 && calibration.non_matches >= 8) {
      theta = fit_logistic(x, y, weight);
      calibration.fitted = true;
    }
    calibration.w_score = std::max(theta[0], kMinWeight);
    calibration.w_coverage = std::max(theta[1], kMinWeight);
    calibration.w_margin = std::max(theta[2], kMinWeight);
    calibration.w_core = std::max(theta[3], kMinWeight);
    calibration.w_values = std::max(theta[4], kMinWeight);
    calibration.bias = theta[5];
  }

  // Maximum a posteriori logistic regression, a Gaussian prior around
  // kPriorWeights, by Newton's method: deterministic and a few iterations.
  static Features fit_logistic(const std::vector<Features>& x, const std::vector<double>& y,
                               const std::vector<double>& weight) {
    constexpr size_t n = kFeatures;
    Features theta = kPriorWeights;
    for (int iteration = 0; iteration < 50; ++iteration) {
      Features gradient{};
      std::array<Features, n> hessian{};
      for (size_t k = 0; k < n; ++k) {
        gradient[k] = kPriorStrength * (theta[k] - kPriorWeights[k]);
        hessian[k][k] = kPriorStrength;
      }
      for (size_t i = 0; i < x.size(); ++i) {
        double z = 0;
        for (size_t k = 0; k < n; ++k) z += theta[k] * x[i][k];
        double p = sigmoid(z);
        for (size_t k = 0; k < n; ++k) {
          gradient[k] += weight[i] * (p - y[i]) * x[i][k];
          for (size_t l = 0; l < n; ++l) {
            hessian[k][l] += weight[i] * p * (1 - p) * x[i][k] * x[i][l];
          }
        }
      }
      // Solve hessian * step = gradient (Gaussian elimination, partial pivoting;
      // the prior keeps the matrix positive definite).
      Features step = gradient;
      for (size_t col = 0; col < n; ++col) {
        size_t pivot = col;
        for (size_t row = col + 1; row < n; ++row) {
          if (std::abs(hessian[row][col]) > std::abs(hessian[pivot][col])) pivot = row;
        }
        std::swap(hessian[col], hessian[pivot]);
        std::swap(step[col], step[pivot]);
        for (size_t row = col + 1; row < n; ++row) {
          double f = hessian[row][col] / hessian[col][col];
          for (size_t k = col; k < n; ++k) hessian[row][k] -= f * hessian[col][k];
          step[row] -= f * step[col];
        }
      }
      for (size_t col = n; col-- > 0;) {
        for (size_t k = col + 1; k < n; ++k) step[col] -= hessian[col][k] * step[k];
        step[col] /= hessian[col][col];
      }
      double largest = 0;
      for (size_t k = 0; k < n; ++k) {
        theta[k] -= step[k];
        largest = std::max(largest, std::abs(step[k]));
      }
      if (largest < 1e-9) break;
    }
    return theta;
  }
};

// ---------------------------------------------------------------------------
// Slot filling.

namespace {

// Where a slot's value sits in a goal, by what is around "{slot}" in an example.
struct Anchors {
  std::vector<std::string> before;  // up to two words right before the placeholder
  std::string after;                // the first word right after it
  std::string previous_slot;        // the placeholder right before it, no word between
  std::string next_slot;            // the placeholder right after it, no word between
  bool at_start = false;            // nothing but punctuation before it
  bool found = false;               // the example has this placeholder
};

Anchors anchors_for(const Template& example, const std::string& slot) {
  Anchors anchors;
  auto words_of = [&](size_t part) { return split_words(example.parts[part].text); };
  for (size_t i = 0; i < example.parts.size(); ++i) {
    if (!example.parts[i].placeholder || example.parts[i].text != slot) continue;
    anchors.found = true;
    // Backwards: the nearest words, else the placeholder before them ("{a} ({b})").
    anchors.at_start = true;
    for (size_t k = i; k-- > 0;) {
      if (example.parts[k].placeholder) {
        anchors.previous_slot = example.parts[k].text;
        anchors.at_start = false;
        break;
      }
      std::vector<Word> words = words_of(k);
      if (words.empty()) continue;
      size_t from = words.size() > 2 ? words.size() - 2 : 0;
      for (size_t w = from; w < words.size(); ++w) anchors.before.push_back(words[w].norm);
      anchors.at_start = false;
      break;
    }
    for (size_t k = i + 1; k < example.parts.size(); ++k) {
      if (example.parts[k].placeholder) {
        anchors.next_slot = example.parts[k].text;
        break;
      }
      std::vector<Word> words = words_of(k);
      if (words.empty()) continue;
      anchors.after = words.front().norm;
      break;
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
// words before (or after the value of the slot before), up to the word after
// (or the value of the slot after, or the end of the goal), cut short at a
// value already claimed by another slot. `filled`: where each slot's value sits.
std::vector<Region> aligned_spans(const Anchors& anchors, const std::vector<Word>& goal_words,
                                  size_t goal_size, const std::vector<Region>& used,
                                  const std::map<std::string, Region>& filled) {
  std::vector<Region> spans;
  std::vector<size_t> begins;  // byte offsets the value may start at
  auto previous = filled.find(anchors.previous_slot);
  auto next = filled.find(anchors.next_slot);
  if (!anchors.before.empty()) {
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
        if (match) begins.push_back(goal_words[i - 1].end);
      }
      if (!begins.empty()) break;
    }
  } else if (!anchors.previous_slot.empty() && previous != filled.end()) {
    begins.push_back(previous->second.end);
  } else if (anchors.at_start && (!anchors.after.empty() || !anchors.next_slot.empty())) {
    begins.push_back(0);
  }
  for (size_t begin : begins) {
    size_t end = goal_size;
    bool closed = anchors.after.empty() && anchors.next_slot.empty();
    if (!anchors.after.empty()) {
      for (const Word& word : goal_words) {
        if (word.begin >= begin && word.norm == anchors.after) {
          end = word.begin;
          closed = true;
          break;
        }
      }
    } else if (next != filled.end() && next->second.begin >= begin) {
      end = next->second.begin;
      closed = true;
    }
    // A value at the start of the example needs its right anchor to be found.
    if (anchors.before.empty() && anchors.previous_slot.empty() && !closed) continue;
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
  auto strip = [](char c) {
    return std::isspace(static_cast<unsigned char>(c)) || c == '.' || c == ':' || c == '"' ||
           c == '\'' || c == '(' || c == ')';
  };
  size_t begin = 0;
  while (begin < span.size() && strip(span[begin])) ++begin;
  std::string text = span.substr(begin);
  // A clause or an aside ends the value: "Jane Doe (MBR-123456)" -> "Jane
  // Doe", "MBR-123456) and book it" -> "MBR-123456".
  size_t cut = text.find_first_of(",;!?\n()");
  if (cut != std::string::npos) text.resize(cut);
  size_t end = text.size();
  while (end > 0 && strip(text[end - 1])) --end;
  text.resize(end);
  auto starts_with_word = [&](const std::string& word) {
    return text.size() > word.size() + 1 && text[word.size()] == ' ' &&
           std::equal(word.begin(), word.end(), text.begin(), [](char a, char b) {
             return a == std::tolower(static_cast<unsigned char>(b));
           });
  };
  // A leading preposition or article belongs to the sentence, not to the
  // value: "for the Acme account" -> "Acme account".
  for (const char* leading : {"for", "to", "with", "from", "of", "on", "at", "by"}) {
    if (starts_with_word(leading)) {
      text.erase(0, std::string(leading).size() + 1);
      break;
    }
  }
  for (const char* article : {"the", "a", "an"}) {
    if (starts_with_word(article)) {
      text.erase(0, std::string(article).size() + 1);
      break;
    }
  }
  // So does a trailing preposition or conjunction: "Maria Garcia on" -> "Maria Garcia".
  static const std::set<std::string> kTrailing = {"on",   "at",     "for",   "by",    "in",
                                                  "to",   "from",   "with",  "and",   "or",
                                                  "near", "before", "after", "until", "who"};
  while (true) {
    size_t space = text.find_last_of(' ');
    if (space == std::string::npos || !kTrailing.count(lower(text.substr(space + 1)))) break;
    text.resize(space);
    while (!text.empty() && strip(text.back())) text.pop_back();
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

SkillPlanner::SkillPlanner(std::vector<Skill> skills, SkillPlannerOptions options,
                           const Clock* clock)
    : skills_(std::move(skills)),
      options_(options),
      clock_(clock),
      index_(std::make_unique<const Index>(skills_)) {}

SkillPlanner::~SkillPlanner() = default;
SkillPlanner::SkillPlanner(SkillPlanner&&) noexcept = default;
SkillPlanner& SkillPlanner::operator=(SkillPlanner&&) noexcept = default;

const PlannerCalibration& SkillPlanner::calibration() const {
  return index_->calibration;
}

std::vector<std::pair<std::string, double>> SkillPlanner::synonyms(const std::string& word) const {
  std::string key = lower(word);
  if (!is_stopword(key)) key = stem(key);
  std::vector<std::pair<std::string, double>> out;
  auto it = index_->synonyms.find(key);
  if (it == index_->synonyms.end()) return out;
  for (const auto& [id, strength] : it->second) out.push_back({index_->words[id], strength});
  return out;
}

namespace {

// How a skill is shown in a question: its name and the phrasing closest to the goal.
std::string phrasing(const Skill& skill, const std::vector<double>& example_scores) {
  if (skill.examples.empty()) {
    std::string text = skill.description.empty() ? skill.name : skill.description;
    while (!text.empty() && is_space(text.back())) text.pop_back();
    return text.size() <= 80 ? text : text.substr(0, 77) + "...";
  }
  size_t best = 0;
  for (size_t i = 1; i < example_scores.size(); ++i) {
    if (example_scores[i] > example_scores[best]) best = i;
  }
  return skill.examples[best];
}

Status check_known_slots(const Json& known_slots) {
  if (!known_slots.is_null() && !known_slots.is_object()) {
    return fail(ErrorCode::kInvalidInput,
                "known slots must be an object of slot name to value, got " + shown(known_slots));
  }
  return {};
}

}  // namespace

std::vector<SkillMatch> SkillPlanner::rank(const std::string& goal) const {
  Index::Scores scores = index_->score(index_->query(goal));
  std::vector<SkillMatch> ranked;
  for (const Index::Candidate& candidate : index_->candidates(scores)) {
    const Skill& skill = skills_[candidate.skill];
    ranked.push_back(
        {skill.name, candidate.score, candidate.confidence,
         phrasing(skill, index_->example_scores(scores, candidate.skill, skill.examples.size()))});
  }
  return ranked;
}

Result<Plan> SkillPlanner::plan(const std::string& goal, const Json& known_slots) {
  if (auto checked = check_known_slots(known_slots); !checked) return fail(checked.error());
  if (skills_.empty()) {
    return fail(ErrorCode::kNotFound, "no skill matches \"" + goal +
                                          "\": there are no skills — teach one or add "
                                          "skills/*.yaml to the workspace");
  }
  Index::Scores scores = index_->score(index_->query(goal));
  std::vector<Index::Candidate> ranked = index_->candidates(scores);
  auto examples_of = [&](size_t s) {
    return index_->example_scores(scores, s, skills_[s].examples.size());
  };
  const Index::Candidate& top = ranked.front();
  const Index::Candidate* runner_up = ranked.size() > 1 ? &ranked[1] : nullptr;
  bool accepted = top.confidence >= options_.accept;
  if (accepted && (runner_up == nullptr || runner_up->confidence < options_.accept)) {
    return fill(top.skill, goal, known_slots, examples_of(top.skill));
  }

  if (accepted || top.confidence >= options_.ask) {
    // Unsure, or two skills fit: ask, naming the runner-up too when it is close.
    std::vector<size_t> named = {top.skill};
    if (runner_up != nullptr &&
        runner_up->confidence >= std::max(options_.ask, top.confidence / 2)) {
      named.push_back(runner_up->skill);
    }
    std::string question = "Did you mean ";
    std::string options = "Run again with ";
    for (size_t i = 0; i < named.size(); ++i) {
      const Skill& skill = skills_[named[i]];
      question += (i ? " or \"" : "\"") + skill.name + "\" (" +
                  phrasing(skill, examples_of(named[i])) + ")";
      options += (i ? " or --skill " : "--skill ") + skill.name;
    }
    return fail(ErrorCode::kNeedsPerson, question + "? " + options + ", or rephrase.");
  }

  std::string closest;
  for (size_t i = 0; i < ranked.size() && i < 3; ++i) {
    closest += (i ? ", " : "") + skills_[ranked[i].skill].name + " (" +
               format_score(ranked[i].confidence) + ")";
  }
  return fail(ErrorCode::kNotFound, "no skill matches \"" + goal + "\"; closest: " + closest +
                                        " — teach one or rephrase");
}

Result<Plan> SkillPlanner::plan_with_skill(const std::string& skill_name, const std::string& goal,
                                           const Json& known_slots) const {
  if (auto checked = check_known_slots(known_slots); !checked) return fail(checked.error());
  auto found = std::find_if(skills_.begin(), skills_.end(),
                            [&](const Skill& skill) { return skill.name == skill_name; });
  if (found == skills_.end()) {
    // Similar names: by shared trigrams, and the closest spelling.
    std::vector<std::pair<double, size_t>> similar;
    const std::vector<uint32_t> wanted = trigrams(lower(skill_name));
    std::vector<std::string> names;
    for (size_t s = 0; s < skills_.size(); ++s) {
      names.push_back(skills_[s].name);
      double similarity = dice(wanted, trigrams(lower(skills_[s].name)));
      if (similarity >= 0.3) similar.push_back({-similarity, s});
    }
    std::sort(similar.begin(), similar.end());
    std::vector<std::string> shown_names;
    if (std::string close = closest_spelling(skill_name, names); !close.empty()) {
      shown_names.push_back(close);
    }
    for (const auto& [similarity, s] : similar) {
      if (shown_names.size() >= 3) break;
      if (std::find(shown_names.begin(), shown_names.end(), skills_[s].name) == shown_names.end()) {
        shown_names.push_back(skills_[s].name);
      }
    }
    std::string message = "no skill named \"" + skill_name + "\"";
    if (!shown_names.empty()) {
      message += "; did you mean ";
      for (size_t i = 0; i < shown_names.size(); ++i) {
        message += (i ? ", " : "") + shown_names[i];
      }
      message += "?";
    }
    return fail(ErrorCode::kNotFound, message + " — `ergon skills` lists the workspace's skills");
  }
  const size_t s = static_cast<size_t>(found - skills_.begin());
  Index::Scores scores = index_->score(index_->query(goal));
  return fill(s, goal, known_slots, index_->example_scores(scores, s, found->examples.size()));
}

Result<Plan> SkillPlanner::fill(size_t chosen, const std::string& goal, const Json& known_slots,
                                const std::vector<double>& example_scores) const {
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
                   [&](size_t a, size_t b) { return example_scores[a] > example_scores[b]; });
  std::vector<Template> templates;
  for (size_t i : example_order) templates.emplace_back(skill.examples[i]);

  const std::vector<Word> goal_words = split_words(goal);
  std::vector<Region> used;              // parts of the goal already taken by a slot
  std::map<std::string, Region> filled;  // where each slot's value sits
  auto claim = [&](const std::string& name, Json value, Region region) {
    slots[name] = std::move(value);
    used.push_back(region);
    filled[name] = region;
  };
  auto align = [&](const SlotSpec& slot) {
    for (const Template& example : templates) {
      Anchors anchors = anchors_for(example, slot.name);
      if (!anchors.found) continue;
      for (const Region& span : aligned_spans(anchors, goal_words, goal.size(), used, filled)) {
        std::string text = goal.substr(span.begin, span.end - span.begin);
        if (slot.type == SlotType::kString) {
          std::string value = clean_span(text);
          if (value.empty()) continue;
          size_t at = goal.find(value, span.begin);
          claim(slot.name, value,
                at != std::string::npos && at + value.size() <= span.end
                    ? Region{at, at + value.size()}
                    : span);
          return;
        }
        auto found = find_slot_values(slot, text, now_ms);
        if (!found.empty()) {
          claim(slot.name, found.front().value,
                {span.begin + found.front().begin, span.begin + found.front().end});
          return;
        }
        // The span may be a bare answer-like value ("by 15", "to 1,200").
        if (auto value = parse_slot_value(slot, text, now_ms)) {
          claim(slot.name, *value, span);
          return;
        }
      }
    }
  };
  // Enum choices first: they are words the person chose, never part of another value.
  for (bool enums : {true, false}) {
    for (const SlotSpec& slot : skill.slots) {
      if (slot.type != SlotType::kString && (slot.type == SlotType::kEnum) == enums &&
          !has_value(slots, slot.name)) {
        align(slot);
      }
    }
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
  for (SlotType type : {SlotType::kEnum, SlotType::kDate, SlotType::kEmail, SlotType::kCode,
                        SlotType::kPercent, SlotType::kMoney, SlotType::kNumber}) {
    std::vector<const SlotSpec*> open;
    for (const SlotSpec& slot : skill.slots) {
      if (slot.type == type && !has_value(slots, slot.name)) open.push_back(&slot);
    }
    if (open.empty()) continue;
    if (type == SlotType::kEnum) {
      // An enum slot is filled only when exactly one of its choices is mentioned.
      for (const SlotSpec* slot : open) {
        std::vector<SlotValueMatch> found;
        for (SlotValueMatch& match : find_slot_values(*slot, goal, now_ms)) {
          if (!overlaps(used, match.begin, match.end)) found.push_back(std::move(match));
        }
        if (found.empty() || std::any_of(found.begin(), found.end(), [&](const auto& match) {
              return match.value != found.front().value;
            })) {
          continue;
        }
        claim(slot->name, found.front().value, {found.front().begin, found.front().end});
        for (const SlotValueMatch& match : found) used.push_back({match.begin, match.end});
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
      claim(open[i]->name, free[i].value, {free[i].begin, free[i].end});
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
