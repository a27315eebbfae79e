#include "connect/browser/mutate.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <cstdlib>
#include <map>
#include <optional>
#include <random>
#include <string_view>
#include <utility>

namespace ergon::browser {
namespace {

// Randomness from the raw std::mt19937 stream only: its output is fixed by
// the standard, the distributions are not.
class Dice {
 public:
  explicit Dice(uint32_t seed) : rng_(seed) {}
  bool chance(double p) {
    return p > 0 && static_cast<double>(rng_() >> 8) * (1.0 / 16777216.0) < p;
  }
  size_t pick(size_t n) { return n == 0 ? 0 : rng_() % n; }
  int between(int low, int high) {
    return low + static_cast<int>(rng_() % static_cast<uint32_t>(high - low + 1));
  }
  template <typename T, size_t N>
  const T& one_of(const std::array<T, N>& items) {
    return items[pick(N)];
  }

 private:
  std::mt19937 rng_;
};

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// ---------------------------------------------------------------------------
// Rewording.

// Word or phrase pairs a redesign swaps one for the other (either way).
constexpr std::array<std::pair<std::string_view, std::string_view>, 40> kSynonyms = {{
    {"submit", "send"},
    {"request", "review"},
    {"search", "find"},
    {"next", "continue"},
    {"sign in", "log in"},
    {"sign up", "register"},
    {"email", "e-mail"},
    {"cancel", "discard"},
    {"save", "store"},
    {"confirm", "book"},
    {"appointment", "visit"},
    {"delete", "remove"},
    {"back", "previous"},
    {"forgot", "lost"},
    {"create", "open"},
    {"account", "profile"},
    {"select", "choose"},
    {"date of birth", "birth date"},
    {"first name", "given name"},
    {"last name", "family name"},
    {"phone", "telephone"},
    {"number", "no."},
    {"reset", "clear"},
    {"close", "dismiss"},
    {"help", "support"},
    {"details", "information"},
    {"upload", "attach"},
    {"notes", "comments"},
    {"filter", "refine"},
    {"sort", "order"},
    {"apply", "use"},
    {"cart", "basket"},
    {"remember me", "stay signed in"},
    {"password", "passphrase"},
    {"provider", "clinician"},
    {"patient", "member"},
    {"code", "identifier"},
    {"week", "period"},
    {"results", "matches"},
    {"draft", "copy"},
}};

// Whether s[at] does not continue a word (past the end counts).
bool word_boundary(std::string_view s, size_t at) {
  return at >= s.size() || !std::isalnum(static_cast<unsigned char>(s[at]));
}

// `replacement` in the case style of `original` (all caps, Capitalised, lower).
std::string match_case(std::string_view original, std::string_view replacement) {
  std::string out(replacement);
  const bool has_lower = std::any_of(original.begin(), original.end(), [](char c) {
    return std::islower(static_cast<unsigned char>(c));
  });
  const bool has_upper = std::any_of(original.begin(), original.end(), [](char c) {
    return std::isupper(static_cast<unsigned char>(c));
  });
  if (has_upper && !has_lower) {
    for (char& c : out) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  } else if (!original.empty() && std::isupper(static_cast<unsigned char>(original[0])) &&
             !out.empty()) {
    out[0] = static_cast<char>(std::toupper(static_cast<unsigned char>(out[0])));
  }
  return out;
}

// Replaces whole-word occurrences of `from` (any case) by `to`; whether any was.
bool replace_words(std::string& text, std::string_view from, std::string_view to) {
  const std::string folded = lower(text);
  std::string out;
  bool replaced = false;
  size_t i = 0;
  while (i < text.size()) {
    if (folded.compare(i, from.size(), from) == 0 && (i == 0 || word_boundary(text, i - 1)) &&
        word_boundary(text, i + from.size())) {
      out += match_case(std::string_view(text).substr(i, from.size()), to);
      i += from.size();
      replaced = true;
    } else {
      out += text[i++];
    }
  }
  if (replaced) text = std::move(out);
  return replaced;
}

// One rewording, chosen once and applied alike to every label of an element
// (its name and visible text usually agree, and should go on agreeing).
struct Reword {
  enum class Kind { kSynonym, kCase, kPunctuation } kind = Kind::kCase;
  int variant = 0;  // case style or punctuation style

  void apply(std::string& text) const {
    if (text.empty()) return;
    switch (kind) {
      case Kind::kSynonym:
        for (const auto& [a, b] : kSynonyms) {
          if (replace_words(text, a, b) || replace_words(text, b, a)) return;
        }
        return;
      case Kind::kCase: recase(text); return;
      case Kind::kPunctuation: punctuate(text); return;
    }
  }

  void recase(std::string& text) const {
    bool start = true;
    for (size_t i = 0; i < text.size(); ++i) {
      auto c = static_cast<unsigned char>(text[i]);
      if (c >= 0x80) {
        start = false;
        continue;
      }
      switch (variant) {
        case 0: text[i] = static_cast<char>(std::toupper(c)); break;              // UPPER
        case 1: text[i] = static_cast<char>(start ? std::toupper(c) : c); break;  // Title
        default:
          text[i] = static_cast<char>(i == 0 ? std::toupper(c) : std::tolower(c));  // Sentence
      }
      start = !std::isalnum(c);
    }
  }

  void punctuate(std::string& text) const {
    static constexpr std::array<std::string_view, 5> kEndings = {":", "…", " *", "!", " →"};
    for (auto ending : kEndings) {
      if (text.size() >= ending.size() && text.ends_with(ending)) {
        text.resize(text.size() - ending.size());
        return;
      }
    }
    text += kEndings[static_cast<size_t>(variant) % kEndings.size()];
  }
};

bool has_synonym(const std::string& text) {
  for (const auto& [a, b] : kSynonyms) {
    std::string copy = text;
    if (replace_words(copy, a, b) || replace_words(copy, b, a)) return true;
  }
  return false;
}

// A rewording that changes `sample` (falling back to punctuation, which always does).
Reword choose_reword(Dice& dice, const std::string& sample) {
  Reword r;
  const size_t roll = dice.pick(10);
  if (roll < 6 && has_synonym(sample)) {
    r.kind = Reword::Kind::kSynonym;
  } else if (roll < 8) {
    r.kind = Reword::Kind::kCase;
    r.variant = dice.between(0, 2);
  } else {
    r.kind = Reword::Kind::kPunctuation;
    r.variant = dice.between(0, 4);
  }
  std::string changed = sample;
  r.apply(changed);
  if (changed == sample) {
    r.kind = Reword::Kind::kPunctuation;
    r.variant = dice.between(0, 4);
  }
  return r;
}

// ---------------------------------------------------------------------------
// Identifiers.

std::vector<std::string> identifier_words(std::string_view id) {
  std::vector<std::string> words;
  std::string word;
  for (size_t i = 0; i < id.size(); ++i) {
    const auto c = static_cast<unsigned char>(id[i]);
    const bool split = !std::isalnum(c) || (std::isupper(c) && i > 0 &&
                                            std::islower(static_cast<unsigned char>(id[i - 1])));
    if (split && !word.empty()) {
      words.push_back(word);
      word.clear();
    }
    if (std::isalnum(c)) word += static_cast<char>(std::tolower(c));
  }
  if (!word.empty()) words.push_back(word);
  return words;
}

std::string base36(Dice& dice, int length) {
  static constexpr std::string_view kDigits = "0123456789abcdefghijklmnopqrstuvwxyz";
  std::string out;
  for (int i = 0; i < length; ++i) out += kDigits[dice.pick(kDigits.size())];
  return out;
}

std::string rename_identifier(Dice& dice, const std::string& id) {
  static constexpr std::array<std::string_view, 4> kPrefixes = {"app-", "js-", "ui-", "form-"};
  static constexpr std::array<std::string_view, 4> kSuffixes = {"-input", "_field", "Ctrl", "-v2"};
  switch (dice.pick(4)) {
    case 0: return std::string(dice.one_of(kPrefixes)) + id;
    case 1: {  // another convention: kebab-case, camelCase or snake_case
      const auto words = identifier_words(id);
      const size_t style = dice.pick(3);
      std::string out;
      for (size_t i = 0; i < words.size(); ++i) {
        std::string w = words[i];
        if (style == 1 && i > 0 && !w.empty()) w[0] = static_cast<char>(std::toupper(w[0]));
        if (i > 0 && style != 1) out += style == 0 ? "-" : "_";
        out += w;
      }
      return out == id ? id + "-field" : out;
    }
    case 2: return id + std::string(dice.one_of(kSuffixes));
    default:  // generated by a framework
      switch (dice.pick(3)) {
        case 0: return ":r" + base36(dice, 2) + ":";
        case 1: return "ember" + std::to_string(dice.between(100, 9999));
        default: return "id-" + base36(dice, 6);
      }
  }
}

std::string rename_class(Dice& dice, const std::string& token) {
  switch (dice.pick(3)) {
    case 0: return token + "_" + base36(dice, 5);  // CSS modules
    case 1: return "c-" + token;                   // a BEM-style namespace
    default: {                                     // a utility class instead
      static constexpr std::array<std::string_view, 8> kUtilities = {
          "px-4", "py-2", "rounded-md", "text-sm", "font-medium", "shadow", "mt-2", "flex"};
      return std::string(dice.one_of(kUtilities));
    }
  }
}

std::vector<std::string> split_classes(const std::string& classes) {
  std::vector<std::string> out;
  std::string token;
  for (char c : classes + " ") {
    if (std::isspace(static_cast<unsigned char>(c))) {
      if (!token.empty()) out.push_back(token);
      token.clear();
    } else {
      token += c;
    }
  }
  return out;
}

// ---------------------------------------------------------------------------
// dom_path steps.

struct Step {
  std::string tag;
  int index = 1;
};

std::vector<Step> steps_of(const std::string& path) {
  std::vector<Step> steps;
  size_t start = 0;
  for (size_t i = 0; i <= path.size(); ++i) {
    if (i < path.size() && path[i] != '/') continue;
    std::string step = path.substr(start, i - start);
    start = i + 1;
    if (step.empty()) continue;
    Step s{step, 1};
    if (size_t open = step.find('['); open != std::string::npos && step.back() == ']') {
      s.tag = step.substr(0, open);
      s.index = std::atoi(step.substr(open + 1).c_str());
    }
    steps.push_back(s);
  }
  return steps;
}

std::string path_of(const std::vector<Step>& steps) {
  std::string out;
  for (const Step& s : steps) {
    if (!out.empty()) out += "/";
    out += s.tag;
    if (s.index > 1) out += "[" + std::to_string(s.index) + "]";
  }
  return out;
}

bool same_prefix(const std::vector<Step>& a, const std::vector<Step>& b, size_t n) {
  if (a.size() < n || b.size() < n) return false;
  for (size_t i = 0; i < n; ++i) {
    if (a[i].tag != b[i].tag || a[i].index != b[i].index) return false;
  }
  return true;
}

// ---------------------------------------------------------------------------
// Look-alikes inserted beside an element.

struct Label {
  std::string_view text;
  std::string_view id;
};

Label sibling_label(Dice& dice, std::string_view role) {
  static constexpr std::array<Label, 6> kButtons = {{{"Cancel", "cancel"},
                                                     {"Back", "back"},
                                                     {"Save draft", "save-draft"},
                                                     {"Reset", "reset"},
                                                     {"Preview", "preview"},
                                                     {"Help", "help"}}};
  static constexpr std::array<Label, 4> kLinks = {{{"Learn more", "learn-more"},
                                                   {"Contact us", "contact"},
                                                   {"Privacy", "privacy"},
                                                   {"FAQ", "faq"}}};
  static constexpr std::array<Label, 5> kFields = {{{"Middle name", "middle-name"},
                                                    {"Reference", "reference"},
                                                    {"Secondary phone", "phone2"},
                                                    {"Department", "department"},
                                                    {"Company", "company"}}};
  static constexpr std::array<Label, 3> kChoices = {{{"Send me a copy", "copy"},
                                                     {"Subscribe to updates", "subscribe"},
                                                     {"Large print", "print"}}};
  if (role == "button") return dice.one_of(kButtons);
  if (role == "link") return dice.one_of(kLinks);
  if (role == "checkbox" || role == "radio" || role == "switch") return dice.one_of(kChoices);
  return dice.one_of(kFields);
}

std::string_view role_of(const Fingerprint& fp) {
  if (!fp.role.empty()) return fp.role;
  const std::string tag = lower(fp.tag);
  if (tag == "button") return "button";
  if (tag == "a") return "link";
  if (tag == "textarea") return "textbox";
  if (tag == "select") return "combobox";
  if (tag == "input") {
    const std::string type = lower(fp.type);
    if (type == "checkbox") return "checkbox";
    if (type == "radio") return "radio";
    if (type == "submit" || type == "button" || type == "reset" || type == "image") return "button";
    if (type == "hidden") return "";
    return "textbox";
  }
  return "";
}

// One element being rewritten, with where it came from.
struct Slot {
  Fingerprint fp;
  int original = -1;  // -1: inserted by the mutation
  bool removed = false;
};

void note(std::string& description, const std::string& change) {
  if (!description.empty()) description += "; ";
  description += change;
}

std::string in_quotes(const std::string& s) {
  return "'" + s + "'";
}

void shift(Fingerprint& fp, double dx, double dy) {
  if (fp.x) *fp.x += dx;
  if (fp.y) *fp.y += dy;
}

}  // namespace

MutationOptions MutationOptions::none() {
  MutationOptions o;
  o.rename_id = o.rename_name_attr = o.rename_class = o.reword = o.reword_placeholder = 0;
  o.change_neighbor_text = o.drop_attribute = o.move_block = o.insert_sibling = 0;
  o.remove_readable = 0;
  o.max_moved_blocks = 0;
  return o;
}

bool is_interactive(const Fingerprint& element) {
  static constexpr std::array<std::string_view, 16> kRoles = {
      "button",   "link",    "textbox",          "searchbox",    "checkbox", "radio",
      "combobox", "listbox", "spinbutton",       "slider",       "switch",   "tab",
      "menuitem", "option",  "menuitemcheckbox", "menuitemradio"};
  const std::string_view role = role_of(element);
  return std::find(kRoles.begin(), kRoles.end(), role) != kRoles.end();
}

Mutation mutate(const std::vector<Fingerprint>& page, const MutationOptions& options,
                uint32_t seed) {
  Dice dice(seed);
  Mutation out;
  std::vector<Slot> slots;
  slots.reserve(page.size() * 2);
  for (size_t i = 0; i < page.size(); ++i) slots.push_back({page[i], static_cast<int>(i), false});

  // Class renames are page-wide: the stylesheet changed, not one element.
  std::map<std::string, std::string> class_renames;
  for (const Slot& s : slots) {
    for (const std::string& token : split_classes(s.fp.classes)) {
      if (!class_renames.contains(token)) class_renames[token] = token;
    }
  }
  for (auto& [token, renamed] : class_renames) {
    if (dice.chance(options.rename_class)) {
      renamed = rename_class(dice, token);
      note(out.description, "class ." + token + " → ." + renamed);
    }
  }

  // Changes to a template apply to every element built from it (eight "Add
  // to cart" buttons are reworded together); a unique element is its own
  // template.
  struct TemplateChange {
    std::optional<Reword> reword;
    std::optional<size_t> dropped;  // index into kDroppable
  };
  std::map<std::string, TemplateChange> templates;

  for (size_t i = 0; i < slots.size(); ++i) {
    Fingerprint& fp = slots[i].fp;
    const std::string at = " on [" + std::to_string(i) + "]";
    const std::string template_key = fp.tag + "|" + fp.role + "|" + fp.name + "|" + fp.text + "|" +
                                     fp.classes + "|" + fp.type + "|" + fp.aria_label;
    const bool first_of_template = !templates.contains(template_key);
    TemplateChange& change = templates[template_key];

    if (!fp.classes.empty()) {
      std::string classes;
      for (const std::string& token : split_classes(fp.classes)) {
        classes += (classes.empty() ? "" : " ") + class_renames[token];
      }
      fp.classes = classes;
    }
    if (!fp.id.empty() && dice.chance(options.rename_id)) {
      const std::string renamed = rename_identifier(dice, fp.id);
      note(out.description, "id #" + fp.id + " → #" + renamed + at);
      fp.id = renamed;
    }
    if (!fp.name_attr.empty() && dice.chance(options.rename_name_attr)) {
      const std::string renamed = rename_identifier(dice, fp.name_attr);
      note(out.description, "name=" + fp.name_attr + " → name=" + renamed + at);
      fp.name_attr = renamed;
    }
    const std::string& label = !fp.name.empty() ? fp.name : fp.text;
    if (first_of_template && !label.empty() && dice.chance(options.reword)) {
      change.reword = choose_reword(dice, label);
    }
    if (change.reword) {
      const std::string before = label;
      for (std::string* s : {&fp.name, &fp.text, &fp.aria_label, &fp.alt}) change.reword->apply(*s);
      note(out.description, "reworded " + in_quotes(before) + " → " +
                                in_quotes(!fp.name.empty() ? fp.name : fp.text) + at);
    }
    if (!fp.placeholder.empty() && dice.chance(options.reword_placeholder)) {
      const std::string before = fp.placeholder;
      choose_reword(dice, fp.placeholder).apply(fp.placeholder);
      note(out.description,
           "placeholder " + in_quotes(before) + " → " + in_quotes(fp.placeholder) + at);
    }
    if (!fp.neighbor_text.empty() && dice.chance(options.change_neighbor_text)) {
      const std::string before = fp.neighbor_text;
      if (dice.chance(0.5)) {
        choose_reword(dice, fp.neighbor_text).apply(fp.neighbor_text);
      } else {
        static constexpr std::array<std::string_view, 4> kNotes = {"(required)", "(optional)",
                                                                   "New", "Step 2 of 3"};
        const std::string_view extra = dice.one_of(kNotes);
        fp.neighbor_text = dice.chance(0.5) ? fp.neighbor_text + " " + std::string(extra)
                                            : std::string(extra) + " " + fp.neighbor_text;
      }
      note(out.description,
           "neighbour text " + in_quotes(before) + " → " + in_quotes(fp.neighbor_text) + at);
    }
    static constexpr std::array<std::pair<std::string_view, std::string Fingerprint::*>, 7>
        kDroppable = {{{"id", &Fingerprint::id},
                       {"name_attr", &Fingerprint::name_attr},
                       {"classes", &Fingerprint::classes},
                       {"aria_label", &Fingerprint::aria_label},
                       {"placeholder", &Fingerprint::placeholder},
                       {"alt", &Fingerprint::alt},
                       {"href", &Fingerprint::href}}};
    if (first_of_template && dice.chance(options.drop_attribute)) {
      std::vector<size_t> present;
      for (size_t k = 0; k < kDroppable.size(); ++k) {
        if (!(fp.*kDroppable[k].second).empty()) present.push_back(k);
      }
      if (!present.empty()) change.dropped = present[dice.pick(present.size())];
    }
    if (change.dropped) {
      const auto& [key, field] = kDroppable[*change.dropped];
      if (!(fp.*field).empty()) {
        (fp.*field).clear();
        note(out.description, "dropped " + std::string(key) + at);
      }
    }
  }

  // Blocks move: every element under one container shifts together, and the
  // container's step changes (a block inserted before it, or a new wrapper).
  for (int b = 0; b < options.max_moved_blocks; ++b) {
    if (!dice.chance(options.move_block) || slots.empty()) continue;
    const Slot& chosen = slots[dice.pick(slots.size())];
    const auto steps = steps_of(chosen.fp.dom_path);
    if (steps.size() < 4) continue;
    // The container: the element's parent or grandparent, below body.
    const size_t depth = steps.size() - 1 - dice.pick(std::min<size_t>(2, steps.size() - 3));
    const std::vector<Step> container(steps.begin(), steps.begin() + static_cast<long>(depth));
    const double dx = 8.0 * dice.between(-12, 12);
    const double dy = 8.0 * dice.between(-30, 30);
    const bool wrap = dice.chance(0.5);
    for (Slot& s : slots) {
      auto mine = steps_of(s.fp.dom_path);
      if (!same_prefix(mine, container, depth)) continue;
      shift(s.fp, dx, dy);
      if (wrap) mine.insert(mine.begin() + static_cast<long>(depth), Step{"div", 1});
      s.fp.dom_path = path_of(mine);
    }
    if (!wrap) {  // a new block before the container: it and its later siblings move on
      const Step& moved = container.back();
      for (Slot& s : slots) {
        auto mine = steps_of(s.fp.dom_path);
        if (mine.size() < depth || !same_prefix(mine, container, depth - 1)) continue;
        if (mine[depth - 1].tag != moved.tag || mine[depth - 1].index < moved.index) continue;
        mine[depth - 1].index += 1;
        s.fp.dom_path = path_of(mine);
      }
    }
    note(out.description, "moved block " + path_of(container) + " by (" +
                              std::to_string(static_cast<int>(dx)) + ", " +
                              std::to_string(static_cast<int>(dy)) + ")" +
                              (wrap ? " into a new wrapper" : " one place down"));
  }

  // Look-alikes: another control of the same kind beside an interactive one.
  for (size_t i = 0; i < slots.size(); ++i) {
    if (slots[i].original < 0 || !is_interactive(slots[i].fp)) continue;
    if (!dice.chance(options.insert_sibling)) continue;
    const Fingerprint base = slots[i].fp;
    const std::string_view role = role_of(base);
    // A new control: its label is not on the page, nor was it before the
    // redesign (a new "Save draft" where the old one stood would be the old
    // one to anyone).
    auto on_page = [&](std::string_view text) {
      auto named = [&](const Fingerprint& fp) { return lower(fp.name) == lower(text); };
      return std::any_of(page.begin(), page.end(), named) ||
             std::any_of(slots.begin(), slots.end(), [&](const Slot& s) { return named(s.fp); });
    };
    Label label = sibling_label(dice, role);
    if (on_page(label.text)) label = sibling_label(dice, role);
    if (on_page(label.text)) continue;
    Fingerprint twin = base;
    const bool labelled_by_text = !base.name.empty() && base.name == base.text;
    twin.name = std::string(label.text);
    twin.text = labelled_by_text ? twin.name : "";
    if (!base.aria_label.empty()) twin.aria_label = twin.name;
    if (!base.id.empty()) twin.id = std::string(label.id);
    if (!base.name_attr.empty()) twin.name_attr = std::string(label.id);
    if (!base.placeholder.empty()) twin.placeholder = std::string(label.text);
    if (!base.href.empty()) twin.href = "/" + std::string(label.id);
    const bool inline_control = role == "button" || role == "link";
    if (!inline_control && !base.neighbor_text.empty())
      twin.neighbor_text = std::string(label.text);

    // Beside it for buttons and links, below it otherwise; the rest reflows.
    const double w = base.width.value_or(100), h = base.height.value_or(32);
    const double dx = inline_control ? w + 12 : 0, dy = inline_control ? 0 : h + 16;
    for (Slot& s : slots) {
      if (!base.x || !base.y || !s.fp.x || !s.fp.y) continue;
      if (inline_control && std::abs(*s.fp.y - *base.y) < 4 && *s.fp.x > *base.x) {
        shift(s.fp, dx, 0);
      } else if (!inline_control && *s.fp.y > *base.y) {
        shift(s.fp, 0, dy);
      }
    }
    shift(twin, dx, dy);

    // Later siblings with the same tag move one index on; the twin takes the
    // index after the original's.
    auto steps = steps_of(base.dom_path);
    if (!steps.empty()) {
      const size_t depth = steps.size();
      const Step last = steps.back();
      for (Slot& s : slots) {
        auto mine = steps_of(s.fp.dom_path);
        if (mine.size() < depth || !same_prefix(mine, steps, depth - 1)) continue;
        if (mine[depth - 1].tag == last.tag && mine[depth - 1].index > last.index) {
          mine[depth - 1].index += 1;
          s.fp.dom_path = path_of(mine);
        }
      }
      steps.back().index = last.index + 1;
      twin.dom_path = path_of(steps);
    }
    note(out.description, "inserted " + std::string(role) + " " + in_quotes(twin.name) +
                              " after [" + std::to_string(i) + "]");
    slots.insert(slots.begin() + static_cast<long>(i) + 1, Slot{std::move(twin), -1, false});
    ++i;
  }

  for (size_t i = 0; i < slots.size(); ++i) {
    if (slots[i].original < 0 || is_interactive(slots[i].fp)) continue;
    if (dice.chance(options.remove_readable)) {
      slots[i].removed = true;
      note(out.description, "removed [" + std::to_string(slots[i].original) + "]");
    }
  }

  out.moved_to.assign(page.size(), -1);
  for (Slot& s : slots) {
    if (s.removed) continue;
    if (s.original >= 0)
      out.moved_to[static_cast<size_t>(s.original)] = static_cast<int>(out.page.size());
    out.page.push_back(std::move(s.fp));
  }
  return out;
}

}  // namespace ergon::browser
