// Observation: one DOMSnapshot.captureSnapshot joined with the accessibility
// tree on backendNodeId, turned into the compact indexed element list of
// ergon/browser.h. How it is built and what it costs: README.md, "Observation".
//
// The snapshot is a column store: per document, arrays indexed by node
// (parentIndex, nodeName, attributes...) and by layout object (nodeIndex,
// styles, bounds, text), every string an index into one shared string table.
// Nodes are in document order (pre-order), so a parent always precedes its
// children and a subtree is a contiguous index range; everything below is a
// linear pass over those arrays plus a hash join with the AX tree. Strings are
// read by reference from the answer and copied only into the elements kept.
#include <algorithm>
#include <array>
#include <cctype>
#include <charconv>
#include <cstdint>
#include <cstdlib>
#include <limits>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "ergon/browser.h"

namespace ergon {

namespace {

constexpr size_t kTextChars = 200;      // fingerprint text, neighbor_text
constexpr size_t kDescribeChars = 100;  // names and values in describe()
constexpr size_t kDescribeOptions = 10;
// Password values at least this long are scrubbed from accessible names, as a
// second line of defence: they are never read into an element on purpose.
constexpr size_t kMinScrubbedPassword = 4;

// Computed styles asked of captureSnapshot, in this order. Borders and padding
// place an iframe's document inside its element.
enum class Style : uint8_t {
  kDisplay,
  kVisibility,
  kOpacity,
  kCursor,
  kBorderLeft,
  kBorderTop,
  kPaddingLeft,
  kPaddingTop,
};
constexpr size_t kStyleCount = 8;
constexpr std::array<std::string_view, kStyleCount> kStyles = {
    "display",           "visibility",       "opacity",      "cursor",
    "border-left-width", "border-top-width", "padding-left", "padding-top"};
static_assert(!kStyles.back().empty(), "one name per Style");

enum class Tag : int8_t {
  kOther,
  kA,
  kBody,
  kBr,
  kButton,
  kDatalist,
  kFieldset,
  kFrame,
  kHead,
  kHeading,
  kHtml,
  kIframe,
  kImg,
  kInput,
  kLabel,
  kLegend,
  kLi,
  kNoscript,
  kOptgroup,
  kOption,
  kP,
  kScript,
  kSelect,
  kStyle,
  kSummary,
  kTd,
  kTemplate,
  kTextarea,
  kTh,
  kTitle,
  kTr,
};

enum class Attr : int8_t {
  kOther,
  kAlt,
  kAriaChecked,
  kAriaDisabled,
  kAriaLabel,
  kAriaLabelledby,
  kClass,
  kContenteditable,
  kDisabled,
  kFor,
  kHref,
  kId,
  kLabel,
  kMultiple,
  kName,
  kOnclick,
  kPlaceholder,
  kReadonly,
  kRole,
  kSize,
  kTabindex,
  kTitle,
  kType,
  kValue,
};

enum class InputType : int8_t {
  kText,
  kSearch,
  kEmail,
  kTel,
  kUrl,
  kPassword,
  kNumber,
  kCheckbox,
  kRadio,
  kButton,
  kSubmit,
  kReset,
  kImage,
  kHidden,
  kFile,
  kRange,
  kColor,
  kDate,
};

// Style values the observer tests for.
enum class Word : int8_t { kOther, kNone, kHidden, kCollapse, kZero, kPointer, kInline, kFalse };

template <typename E>
E classify(std::string_view text, const std::unordered_map<std::string_view, E>& table, E other) {
  std::string lowered(text);
  for (char& c : lowered) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  auto it = table.find(lowered);
  return it == table.end() ? other : it->second;
}

const std::unordered_map<std::string_view, Tag>& tag_table() {
  static const std::unordered_map<std::string_view, Tag> table = {
      {"a", Tag::kA},
      {"body", Tag::kBody},
      {"br", Tag::kBr},
      {"button", Tag::kButton},
      {"datalist", Tag::kDatalist},
      {"fieldset", Tag::kFieldset},
      {"frame", Tag::kFrame},
      {"head", Tag::kHead},
      {"h1", Tag::kHeading},
      {"h2", Tag::kHeading},
      {"h3", Tag::kHeading},
      {"h4", Tag::kHeading},
      {"h5", Tag::kHeading},
      {"h6", Tag::kHeading},
      {"html", Tag::kHtml},
      {"iframe", Tag::kIframe},
      {"img", Tag::kImg},
      {"input", Tag::kInput},
      {"label", Tag::kLabel},
      {"legend", Tag::kLegend},
      {"li", Tag::kLi},
      {"noscript", Tag::kNoscript},
      {"optgroup", Tag::kOptgroup},
      {"option", Tag::kOption},
      {"p", Tag::kP},
      {"script", Tag::kScript},
      {"select", Tag::kSelect},
      {"style", Tag::kStyle},
      {"summary", Tag::kSummary},
      {"td", Tag::kTd},
      {"template", Tag::kTemplate},
      {"textarea", Tag::kTextarea},
      {"th", Tag::kTh},
      {"title", Tag::kTitle},
      {"tr", Tag::kTr},
  };
  return table;
}

const std::unordered_map<std::string_view, Attr>& attr_table() {
  static const std::unordered_map<std::string_view, Attr> table = {
      {"alt", Attr::kAlt},
      {"aria-checked", Attr::kAriaChecked},
      {"aria-disabled", Attr::kAriaDisabled},
      {"aria-label", Attr::kAriaLabel},
      {"aria-labelledby", Attr::kAriaLabelledby},
      {"class", Attr::kClass},
      {"contenteditable", Attr::kContenteditable},
      {"disabled", Attr::kDisabled},
      {"for", Attr::kFor},
      {"href", Attr::kHref},
      {"id", Attr::kId},
      {"label", Attr::kLabel},
      {"multiple", Attr::kMultiple},
      {"name", Attr::kName},
      {"onclick", Attr::kOnclick},
      {"placeholder", Attr::kPlaceholder},
      {"readonly", Attr::kReadonly},
      {"role", Attr::kRole},
      {"size", Attr::kSize},
      {"tabindex", Attr::kTabindex},
      {"title", Attr::kTitle},
      {"type", Attr::kType},
      {"value", Attr::kValue},
  };
  return table;
}

const std::unordered_map<std::string_view, InputType>& input_type_table() {
  static const std::unordered_map<std::string_view, InputType> table = {
      {"text", InputType::kText},     {"search", InputType::kSearch},
      {"email", InputType::kEmail},   {"tel", InputType::kTel},
      {"url", InputType::kUrl},       {"password", InputType::kPassword},
      {"number", InputType::kNumber}, {"checkbox", InputType::kCheckbox},
      {"radio", InputType::kRadio},   {"button", InputType::kButton},
      {"submit", InputType::kSubmit}, {"reset", InputType::kReset},
      {"image", InputType::kImage},   {"hidden", InputType::kHidden},
      {"file", InputType::kFile},     {"range", InputType::kRange},
      {"color", InputType::kColor},   {"date", InputType::kDate},
      {"time", InputType::kDate},     {"datetime-local", InputType::kDate},
      {"month", InputType::kDate},    {"week", InputType::kDate},
  };
  return table;
}

const std::unordered_map<std::string_view, Word>& word_table() {
  static const std::unordered_map<std::string_view, Word> table = {
      {"none", Word::kNone},   {"hidden", Word::kHidden},   {"collapse", Word::kCollapse},
      {"0", Word::kZero},      {"pointer", Word::kPointer}, {"inline", Word::kInline},
      {"false", Word::kFalse},
  };
  return table;
}

bool button_like(InputType type) {
  return type == InputType::kButton || type == InputType::kSubmit || type == InputType::kReset ||
         type == InputType::kImage;
}

// Input types a person types text into.
bool text_like(InputType type) {
  switch (type) {
    case InputType::kCheckbox:
    case InputType::kRadio:
    case InputType::kButton:
    case InputType::kSubmit:
    case InputType::kReset:
    case InputType::kImage:
    case InputType::kHidden:
    case InputType::kFile:
    case InputType::kRange:
    case InputType::kColor: return false;
    default: return true;
  }
}

bool equals_ignore_case(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) ==
                  std::tolower(static_cast<unsigned char>(y));
         });
}

bool interactive_role(std::string_view role) {
  static const std::array<std::string_view, 10> kRoles = {
      "button",   "link",   "checkbox", "radio",    "tab",
      "menuitem", "option", "switch",   "combobox", "textbox"};
  return std::any_of(kRoles.begin(), kRoles.end(),
                     [role](std::string_view known) { return equals_ignore_case(known, role); });
}

// Roles whose element swallows the text inside it: a readable element within
// one of these is already covered by the control's own name and text.
bool absorbing_role(std::string_view role) {
  static const std::array<std::string_view, 9> kRoles = {
      "button", "link", "checkbox", "radio", "tab", "menuitem", "option", "switch", "textbox"};
  return std::any_of(kRoles.begin(), kRoles.end(),
                     [role](std::string_view known) { return equals_ignore_case(known, role); });
}

std::string_view first_token(std::string_view text) {
  size_t begin = text.find_first_not_of(" \t\n\r\f");
  if (begin == std::string_view::npos) return {};
  size_t end = text.find_first_of(" \t\n\r\f", begin);
  return text.substr(begin, end == std::string_view::npos ? std::string_view::npos : end - begin);
}

std::string lower(std::string_view text) {
  std::string out(text);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

double parse_px(std::string_view text) {
  double value = 0;
  const char* begin = text.data();
  std::from_chars(begin, begin + text.size(), value);
  return value;
}

// Collapses whitespace runs (ASCII whitespace and no-break spaces) to one
// space, trims both ends and stops counting once `limit` code points are in.
class TextBuilder {
 public:
  explicit TextBuilder(size_t limit = std::numeric_limits<size_t>::max()) : limit_(limit) {}

  void add(std::string_view text) {
    for (size_t i = 0; i < text.size() && !full(); ++i) {
      unsigned char c = static_cast<unsigned char>(text[i]);
      bool space = c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f';
      if (c == 0xC2 && i + 1 < text.size() && static_cast<unsigned char>(text[i + 1]) == 0xA0) {
        space = true;
        ++i;
      }
      if (space) {
        pending_space_ = !out_.empty();
        continue;
      }
      if (pending_space_) {
        out_ += ' ';
        ++chars_;
        pending_space_ = false;
      }
      out_ += static_cast<char>(c);
      if ((c & 0xC0) != 0x80) ++chars_;
    }
  }
  // A boundary between blocks: the next text starts after a space.
  void separate() { pending_space_ = !out_.empty(); }
  // More than `limit` code points came in: take() cuts the rest.
  bool full() const { return chars_ > limit_; }

  std::string take() {
    if (chars_ > limit_) {
      size_t count = 0, cut = 0;
      for (; cut < out_.size(); ++cut) {
        if ((static_cast<unsigned char>(out_[cut]) & 0xC0) != 0x80 && count++ == limit_) break;
      }
      out_.resize(cut);
      while (!out_.empty() && out_.back() == ' ') out_.pop_back();
    }
    return std::move(out_);
  }

 private:
  size_t limit_;
  std::string out_;
  size_t chars_ = 0;
  bool pending_space_ = false;
};

std::string collapse(std::string_view text, size_t limit = std::numeric_limits<size_t>::max()) {
  TextBuilder out(limit);
  out.add(text);
  return out.take();
}

bool blank(std::string_view text) {
  for (size_t i = 0; i < text.size(); ++i) {
    unsigned char c = static_cast<unsigned char>(text[i]);
    if (c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f') continue;
    if (c == 0xC2 && i + 1 < text.size() && static_cast<unsigned char>(text[i + 1]) == 0xA0) {
      ++i;
      continue;
    }
    return false;
  }
  return true;
}

const Json& field(const Json& object, const char* key) {
  static const Json kNull;
  if (!object.is_object()) return kNull;
  auto it = object.find(key);
  return it == object.end() ? kNull : *it;
}

int as_int(const Json& value) {
  return value.is_number_integer() ? value.get<int>() : -1;
}

std::vector<int> ints(const Json& array, size_t size) {
  std::vector<int> out(size, -1);
  if (!array.is_array()) return out;
  size_t count = std::min(size, array.size());
  for (size_t i = 0; i < count; ++i) out[i] = as_int(array[i]);
  return out;
}

// Rare string data {index: [...], value: [...]} spread over a dense vector.
std::vector<int> spread(const Json& rare, size_t size) {
  std::vector<int> out(size, -1);
  const Json& index = field(rare, "index");
  const Json& value = field(rare, "value");
  if (!index.is_array() || !value.is_array()) return out;
  size_t count = std::min(index.size(), value.size());
  for (size_t k = 0; k < count; ++k) {
    int i = as_int(index[k]);
    if (i >= 0 && static_cast<size_t>(i) < size) out[static_cast<size_t>(i)] = as_int(value[k]);
  }
  return out;
}

// Rare boolean data {index: [...]}: sets `bit` on the listed nodes.
void spread_bits(const Json& rare, std::vector<uint8_t>& bits, uint8_t bit) {
  const Json& index = field(rare, "index");
  if (!index.is_array()) return;
  for (const Json& value : index) {
    int i = as_int(value);
    if (i >= 0 && static_cast<size_t>(i) < bits.size()) bits[static_cast<size_t>(i)] |= bit;
  }
}

// The snapshot's string table with per-index classification caches: a string
// is classified at most once whatever the number of nodes naming it.
class Strings {
 public:
  explicit Strings(const Json& table)
      : table_(table),
        size_(table.is_array() ? table.size() : 0),
        tags_(size_, -1),
        attrs_(size_, -1),
        types_(size_, -1),
        words_(size_, -1) {}

  std::string_view at(int i) const {
    if (i < 0 || static_cast<size_t>(i) >= size_) return {};
    const Json& s = table_[static_cast<size_t>(i)];
    return s.is_string() ? std::string_view(s.get_ref<const std::string&>()) : std::string_view();
  }
  Tag tag(int i) { return cached(i, tags_, tag_table(), Tag::kOther); }
  Attr attr(int i) { return cached(i, attrs_, attr_table(), Attr::kOther); }
  InputType input_type(int i) { return cached(i, types_, input_type_table(), InputType::kText); }
  Word word(int i) { return cached(i, words_, word_table(), Word::kOther); }

 private:
  template <typename E>
  E cached(int i, std::vector<int8_t>& cache, const std::unordered_map<std::string_view, E>& table,
           E other) {
    if (i < 0 || static_cast<size_t>(i) >= size_) return other;
    int8_t& slot = cache[static_cast<size_t>(i)];
    if (slot < 0) slot = static_cast<int8_t>(classify(at(i), table, other));
    return static_cast<E>(slot);
  }

  const Json& table_;
  size_t size_;
  std::vector<int8_t> tags_, attrs_, types_, words_;
};

// Node bits.
constexpr uint8_t kChecked = 1 << 0;      // inputChecked
constexpr uint8_t kSelected = 1 << 1;     // optionSelected
constexpr uint8_t kClickable = 1 << 2;    // isClickable: click listener or activation behaviour
constexpr uint8_t kPseudo = 1 << 3;       // ::before, ::marker...
constexpr uint8_t kOpacityZero = 1 << 4;  // this node or an ancestor has opacity 0
constexpr uint8_t kInDisabledFieldset = 1 << 5;
constexpr uint8_t kOwnText = 1 << 6;    // has a child text node with visible, non-blank text
constexpr uint8_t kAbsorbing = 1 << 7;  // a control that swallows the text inside it

constexpr int kElement = 1;
constexpr int kText = 3;

// One document of the snapshot (the main frame or a same-process iframe),
// its derived per-node facts and its placement on the page.
struct Frame {
  // From the snapshot.
  size_t n = 0;
  std::vector<int> parent, type, name, value;
  std::vector<int64_t> backend;
  std::vector<uint32_t> attr_begin;         // n + 1 offsets into attrs
  std::vector<std::pair<Attr, int>> attrs;  // known attributes only: kind, value string
  std::vector<int> input_value, text_value, content_document;
  std::vector<uint8_t> bits;
  std::vector<int> layout;       // node -> first layout object, -1 when not rendered
  std::vector<int> styles;       // kStyleCount string indices per layout object
  std::vector<double> bounds;    // x, y, width, height per layout object
  std::vector<int> layout_text;  // string index per layout object (text nodes)
  int frame_id = -1, url = -1, title = -1;
  double scroll_x = 0, scroll_y = 0;

  // Derived.
  std::vector<Tag> tag;
  std::vector<int> label_ancestor;  // nearest enclosing <label>
  std::vector<int> row_ancestor;    // nearest enclosing table row <tr>
  std::vector<int> absorber;        // nearest enclosing absorbing control
  std::vector<int> block;           // nearest non-inline rendered ancestor-or-self
  std::vector<int> subtree_end;     // last node of the subtree (inclusive)
  std::vector<int> sibling_index;   // 1-based among same-tag element siblings
  std::vector<int> sibling_count;
  std::unordered_map<std::string_view, int> label_for;  // for= value -> first label
  std::unordered_map<std::string_view, int> ids;        // built on first aria-labelledby
  bool ids_built = false;

  // Placement, set when the traversal reaches the owning iframe.
  bool placed = false;
  bool hidden = false;  // the owning iframe is not visible
  double dx = 0, dy = 0;
  std::string frame_label;  // PageElement::frame_id ("" for the main frame)
  std::string path_prefix;  // dom_path of the owning iframe + "/"

  int attr(size_t i, Attr kind) const {
    for (uint32_t k = attr_begin[i]; k < attr_begin[i + 1]; ++k) {
      if (attrs[k].first == kind) return attrs[k].second;
    }
    return -1;
  }
  bool has(size_t i, Attr kind) const {
    for (uint32_t k = attr_begin[i]; k < attr_begin[i + 1]; ++k) {
      if (attrs[k].first == kind) return true;
    }
    return false;
  }
  int style(int li, Style s) const {
    return li < 0 ? -1 : styles[static_cast<size_t>(li) * kStyleCount + static_cast<size_t>(s)];
  }
  const double* box(int li) const { return &bounds[static_cast<size_t>(li) * 4]; }
};

struct AxInfo {
  const std::string* role = nullptr;
  const std::string* name = nullptr;
};
using AxIndex = std::unordered_map<int64_t, AxInfo>;

const std::string* string_value(const Json& node, const char* key) {
  const Json& value = field(field(node, key), "value");
  return value.is_string() ? &value.get_ref<const std::string&>() : nullptr;
}

void index_ax(const Json& tree, AxIndex& index) {
  const Json& nodes = field(tree, "nodes");
  if (!nodes.is_array()) return;
  index.reserve(index.size() + nodes.size());
  for (const Json& node : nodes) {
    const Json& id = field(node, "backendDOMNodeId");
    if (!id.is_number_integer()) continue;
    const Json& ignored = field(node, "ignored");
    if (ignored.is_boolean() && ignored.get<bool>()) continue;
    index.emplace(id.get<int64_t>(),
                  AxInfo{string_value(node, "role"), string_value(node, "name")});
  }
}

class Observer {
 public:
  Observer(const Json& capture, const AxIndex& ax, const std::string& session)
      : strings_(field(capture, "strings")), ax_(ax), session_(session) {
    const Json& documents = field(capture, "documents");
    if (!documents.is_array()) return;
    frames_.resize(documents.size());
    for (size_t d = 0; d < documents.size(); ++d) load(documents[d], frames_[d]);
    for (Frame& frame : frames_) derive(frame);
  }

  PageSnapshot run() {
    PageSnapshot snapshot;
    if (frames_.empty()) return snapshot;
    Frame& main = frames_[0];
    main.placed = true;
    snapshot.url = std::string(strings_.at(main.url));
    snapshot.title = collapse(strings_.at(main.title));
    visit(0, snapshot.elements);
    TextBuilder text;
    gather(main, 0, main.n, /*rendered=*/true, /*page=*/true, text);
    snapshot.text = text.take();
    return snapshot;
  }

 private:
  void load(const Json& document, Frame& f) {
    const Json& nodes = field(document, "nodes");
    const Json& parent = field(nodes, "parentIndex");
    f.n = parent.is_array() ? parent.size() : 0;
    f.parent = ints(parent, f.n);
    f.type = ints(field(nodes, "nodeType"), f.n);
    f.name = ints(field(nodes, "nodeName"), f.n);
    f.value = ints(field(nodes, "nodeValue"), f.n);
    f.backend.assign(f.n, 0);
    if (const Json& ids = field(nodes, "backendNodeId"); ids.is_array()) {
      for (size_t i = 0; i < std::min(f.n, ids.size()); ++i) {
        if (ids[i].is_number_integer()) f.backend[i] = ids[i].get<int64_t>();
      }
    }
    f.attr_begin.assign(f.n + 1, 0);
    const Json& attributes = field(nodes, "attributes");
    for (size_t i = 0; i < f.n; ++i) {
      f.attr_begin[i] = static_cast<uint32_t>(f.attrs.size());
      if (!attributes.is_array() || i >= attributes.size()) continue;
      const Json& pairs = attributes[i];
      if (!pairs.is_array()) continue;
      for (size_t k = 0; k + 1 < pairs.size(); k += 2) {
        Attr kind = strings_.attr(as_int(pairs[k]));
        if (kind != Attr::kOther) f.attrs.emplace_back(kind, as_int(pairs[k + 1]));
      }
    }
    f.attr_begin[f.n] = static_cast<uint32_t>(f.attrs.size());
    f.input_value = spread(field(nodes, "inputValue"), f.n);
    f.text_value = spread(field(nodes, "textValue"), f.n);
    f.content_document = spread(field(nodes, "contentDocumentIndex"), f.n);
    f.bits.assign(f.n, 0);
    spread_bits(field(nodes, "inputChecked"), f.bits, kChecked);
    spread_bits(field(nodes, "optionSelected"), f.bits, kSelected);
    spread_bits(field(nodes, "isClickable"), f.bits, kClickable);
    spread_bits(field(nodes, "pseudoType"), f.bits, kPseudo);

    const Json& layout = field(document, "layout");
    const Json& node_index = field(layout, "nodeIndex");
    size_t count = node_index.is_array() ? node_index.size() : 0;
    f.layout.assign(f.n, -1);
    f.styles.assign(count * kStyleCount, -1);
    f.bounds.assign(count * 4, 0.0);
    f.layout_text = ints(field(layout, "text"), count);
    const Json& styles = field(layout, "styles");
    const Json& bounds = field(layout, "bounds");
    for (size_t li = 0; li < count; ++li) {
      int i = as_int(node_index[li]);
      if (i >= 0 && static_cast<size_t>(i) < f.n && f.layout[static_cast<size_t>(i)] < 0) {
        f.layout[static_cast<size_t>(i)] = static_cast<int>(li);
      }
      if (styles.is_array() && li < styles.size() && styles[li].is_array()) {
        const Json& row = styles[li];
        for (size_t s = 0; s < std::min<size_t>(row.size(), kStyleCount); ++s) {
          f.styles[li * kStyleCount + s] = as_int(row[s]);
        }
      }
      if (bounds.is_array() && li < bounds.size() && bounds[li].is_array()) {
        const Json& rect = bounds[li];
        for (size_t k = 0; k < std::min<size_t>(rect.size(), 4); ++k) {
          if (rect[k].is_number()) f.bounds[li * 4 + k] = rect[k].get<double>();
        }
      }
    }
    f.frame_id = as_int(field(document, "frameId"));
    f.url = as_int(field(document, "documentURL"));
    f.title = as_int(field(document, "title"));
    if (const Json& x = field(document, "scrollOffsetX"); x.is_number())
      f.scroll_x = x.get<double>();
    if (const Json& y = field(document, "scrollOffsetY"); y.is_number())
      f.scroll_y = y.get<double>();
  }

  // One pre-order pass: parents are derived before their children.
  void derive(Frame& f) {
    f.tag.assign(f.n, Tag::kOther);
    f.label_ancestor.assign(f.n, -1);
    f.row_ancestor.assign(f.n, -1);
    f.absorber.assign(f.n, -1);
    f.block.assign(f.n, -1);
    f.subtree_end.resize(f.n);
    f.sibling_index.assign(f.n, 1);
    f.sibling_count.assign(f.n, 1);
    std::vector<int> first_legend;  // per fieldset node, lazily sized
    std::unordered_map<uint64_t, int> same_tag;
    same_tag.reserve(f.n / 2);

    for (size_t i = 0; i < f.n; ++i) {
      f.subtree_end[i] = static_cast<int>(i);
      // Pre-order is what every pass relies on: a parent that does not
      // precede its child is treated as none.
      if (f.parent[i] >= 0 && static_cast<size_t>(f.parent[i]) >= i) f.parent[i] = -1;
      int p = f.parent[i];
      bool has_parent = p >= 0;
      size_t pu = static_cast<size_t>(p);
      int li = f.layout[i];

      if (has_parent) {
        f.label_ancestor[i] = f.tag[pu] == Tag::kLabel ? p : f.label_ancestor[pu];
        f.row_ancestor[i] = f.tag[pu] == Tag::kTr ? p : f.row_ancestor[pu];
        f.absorber[i] = (f.bits[pu] & kAbsorbing) ? p : f.absorber[pu];
        f.block[i] = f.block[pu];
        f.bits[i] |= f.bits[pu] & (kOpacityZero | kInDisabledFieldset);
      }
      if (li >= 0 && strings_.word(f.style(li, Style::kOpacity)) == Word::kZero)
        f.bits[i] |= kOpacityZero;

      if (f.type[i] == kText) {
        if (has_parent && li >= 0 && visible_text(f, i) && !blank(strings_.at(f.layout_text[li]))) {
          f.bits[pu] |= kOwnText;
        }
        continue;
      }
      if (f.type[i] != kElement) continue;

      Tag tag = strings_.tag(f.name[i]);
      f.tag[i] = tag;
      if (li >= 0 && strings_.word(f.style(li, Style::kDisplay)) != Word::kInline) {
        f.block[i] = static_cast<int>(i);
      }
      if (has_parent && f.tag[pu] == Tag::kFieldset && f.has(pu, Attr::kDisabled)) {
        // The first <legend> of a disabled fieldset stays enabled.
        bool exempt = false;
        if (tag == Tag::kLegend) {
          if (first_legend.size() < f.n) first_legend.assign(f.n, -1);
          if (first_legend[pu] < 0) first_legend[pu] = static_cast<int>(i);
          exempt = first_legend[pu] == static_cast<int>(i);
        }
        if (!exempt || (f.bits[pu] & kInDisabledFieldset))
          f.bits[i] |= kInDisabledFieldset;
        else
          f.bits[i] &= static_cast<uint8_t>(~kInDisabledFieldset);
      }
      if (absorbing(f, i)) f.bits[i] |= kAbsorbing;
      if (tag == Tag::kLabel) {
        int target = f.attr(i, Attr::kFor);
        if (target >= 0) f.label_for.emplace(strings_.at(target), static_cast<int>(i));
      }
      uint64_t key = (static_cast<uint64_t>(static_cast<uint32_t>(p)) << 32) |
                     static_cast<uint32_t>(f.name[i]);
      f.sibling_index[i] = ++same_tag[key];
    }
    for (size_t i = 0; i < f.n; ++i) {
      if (f.type[i] != kElement) continue;
      int p = f.parent[i];
      uint64_t key = (static_cast<uint64_t>(static_cast<uint32_t>(p)) << 32) |
                     static_cast<uint32_t>(f.name[i]);
      f.sibling_count[i] = same_tag[key];
    }
    for (size_t i = f.n; i-- > 1;) {
      if (int p = f.parent[i]; p >= 0) {
        f.subtree_end[static_cast<size_t>(p)] =
            std::max(f.subtree_end[static_cast<size_t>(p)], f.subtree_end[i]);
      }
    }
    for (size_t i = 0; i < f.n; ++i) {
      if (f.tag[i] == Tag::kInput && f.type[i] == kElement &&
          strings_.input_type(f.attr(i, Attr::kType)) == InputType::kPassword) {
        std::string_view secret = strings_.at(f.input_value[i]);
        if (secret.size() >= kMinScrubbedPassword) passwords_.push_back(secret);
      }
    }
  }

  bool absorbing(const Frame& f, size_t i) const {
    switch (f.tag[i]) {
      case Tag::kA: return f.has(i, Attr::kHref);
      case Tag::kButton:
      case Tag::kLabel:
      case Tag::kSummary:
      case Tag::kSelect:
      case Tag::kTextarea:
      case Tag::kOption: return true;
      default: break;
    }
    int role = f.attr(i, Attr::kRole);
    return role >= 0 && absorbing_role(first_token(strings_.at(role)));
  }

  bool visible_text(const Frame& f, size_t i) {
    int li = f.layout[i];
    if (li < 0 || f.hidden || (f.bits[i] & kOpacityZero)) return false;
    Word visibility = strings_.word(f.style(li, Style::kVisibility));
    return visibility != Word::kHidden && visibility != Word::kCollapse;
  }

  bool visible_element(const Frame& f, size_t i) {
    int li = f.layout[i];
    if (li < 0 || f.hidden || (f.bits[i] & kOpacityZero)) return false;
    const double* box = f.box(li);
    if (!(box[2] > 0 && box[3] > 0)) return false;
    if (strings_.word(f.style(li, Style::kDisplay)) == Word::kNone) return false;
    Word visibility = strings_.word(f.style(li, Style::kVisibility));
    return visibility != Word::kHidden && visibility != Word::kCollapse;
  }

  InputType input_type(const Frame& f, size_t i) {
    return strings_.input_type(f.attr(i, Attr::kType));
  }

  bool interactive(Frame& f, size_t i) {
    switch (f.tag[i]) {
      case Tag::kA:
        if (f.has(i, Attr::kHref)) return true;
        break;
      case Tag::kButton:
      case Tag::kSelect:
      case Tag::kTextarea:
      case Tag::kSummary: return true;
      case Tag::kInput: return input_type(f, i) != InputType::kHidden;
      default: break;
    }
    if (f.bits[i] & kClickable) return true;
    if (f.has(i, Attr::kOnclick)) return true;
    if (int role = f.attr(i, Attr::kRole);
        role >= 0 && interactive_role(first_token(strings_.at(role)))) {
      return true;
    }
    if (int tabindex = f.attr(i, Attr::kTabindex); tabindex >= 0) {
      std::string_view text = strings_.at(tabindex);
      int value = -1;
      auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
      if (ec == std::errc() && value >= 0) return true;
    }
    if (int editable = f.attr(i, Attr::kContenteditable);
        editable >= 0 && strings_.word(editable) != Word::kFalse) {
      return true;
    }
    // The root of a cursor:pointer region (its parent does not show a pointer).
    int li = f.layout[i];
    if (li >= 0 && strings_.word(f.style(li, Style::kCursor)) == Word::kPointer) {
      int p = f.parent[i];
      int pli = p >= 0 ? f.layout[static_cast<size_t>(p)] : -1;
      if (pli < 0 || strings_.word(f.style(pli, Style::kCursor)) != Word::kPointer) return true;
    }
    return false;
  }

  // Elements never listed: metadata, option lists (they are a select's
  // options), input type=hidden, pseudo-elements.
  bool never_listed(const Frame& f, size_t i) {
    if (f.bits[i] & kPseudo) return true;
    switch (f.tag[i]) {
      case Tag::kHtml:
      case Tag::kHead:
      case Tag::kTitle:
      case Tag::kScript:
      case Tag::kStyle:
      case Tag::kTemplate:
      case Tag::kNoscript:
      case Tag::kOption:
      case Tag::kOptgroup:
      case Tag::kDatalist:
      case Tag::kIframe:
      case Tag::kFrame: return true;
      default: return false;
    }
  }

  void visit(size_t d, std::vector<PageElement>& out) {
    Frame& f = frames_[d];
    int last_text = -1;  // nearest rendered non-blank text node so far
    for (size_t i = 0; i < f.n; ++i) {
      if (f.type[i] == kText) {
        int li = f.layout[i];
        if (li >= 0 && visible_text(f, i) && !blank(strings_.at(f.layout_text[li]))) {
          last_text = static_cast<int>(i);
        }
        continue;
      }
      if (f.type[i] != kElement) continue;
      if (f.tag[i] == Tag::kIframe || f.tag[i] == Tag::kFrame) {
        int child = f.content_document[i];
        if (child > 0 && static_cast<size_t>(child) < frames_.size() &&
            !frames_[static_cast<size_t>(child)].placed) {
          place(f, i, frames_[static_cast<size_t>(child)]);
          visit(static_cast<size_t>(child), out);
        } else if (bool shown = visible_element(f, i); shown) {
          // An out-of-process iframe: its document is not in this capture.
          // The frame itself is listed so that a reader knows content is there.
          out.push_back(element(f, i, /*is_interactive=*/false, shown, last_text));
          out.back().index = static_cast<int>(out.size() - 1);
        }
        continue;
      }
      if (never_listed(f, i)) continue;
      bool is_interactive = interactive(f, i);
      bool is_visible = visible_element(f, i);
      if (!is_interactive) {
        // Readable: own visible text, not inside a control that already says it.
        if (!is_visible || !(f.bits[i] & kOwnText) || f.absorber[i] >= 0) continue;
        // Inline text (<b>, <a name>, <span>) inside a parent with text of its
        // own is part of the parent's text.
        int p = f.parent[i];
        if (p >= 0 && (f.bits[static_cast<size_t>(p)] & kOwnText) &&
            strings_.word(f.style(f.layout[i], Style::kDisplay)) == Word::kInline) {
          continue;
        }
      }
      out.push_back(element(f, i, is_interactive, is_visible, last_text));
      out.back().index = static_cast<int>(out.size() - 1);
    }
  }

  // Places a child document: its origin in page coordinates (the iframe's
  // content box, less the child's own scroll offset), visibility and labels.
  void place(const Frame& parent, size_t iframe, Frame& child) {
    child.placed = true;
    child.hidden = !visible_element(parent, iframe);
    int li = parent.layout[iframe];
    if (li >= 0) {
      const double* box = parent.box(li);
      child.dx = parent.dx + box[0] + parse_px(strings_.at(parent.style(li, Style::kBorderLeft))) +
                 parse_px(strings_.at(parent.style(li, Style::kPaddingLeft))) - child.scroll_x;
      child.dy = parent.dy + box[1] + parse_px(strings_.at(parent.style(li, Style::kBorderTop))) +
                 parse_px(strings_.at(parent.style(li, Style::kPaddingTop))) - child.scroll_y;
    }
    child.frame_label = std::string(strings_.at(child.frame_id));
    child.path_prefix = dom_path(parent, iframe) + "/";
  }

  PageElement element(Frame& f, size_t i, bool is_interactive, bool is_visible, int last_text) {
    PageElement e;
    e.backend_node_id = f.backend[i];
    e.frame_id = f.frame_label;
    e.session = session_;
    e.interactive = is_interactive;
    e.visible = is_visible;
    Fingerprint& fp = e.fp;
    fp.tag = lower(strings_.at(f.name[i]));
    fp.id = std::string(strings_.at(f.attr(i, Attr::kId)));
    fp.name_attr = std::string(strings_.at(f.attr(i, Attr::kName)));
    fp.classes = collapse(strings_.at(f.attr(i, Attr::kClass)));
    fp.type = std::string(strings_.at(f.attr(i, Attr::kType)));
    fp.href = std::string(strings_.at(f.attr(i, Attr::kHref)));
    fp.placeholder = std::string(strings_.at(f.attr(i, Attr::kPlaceholder)));
    fp.aria_label = std::string(strings_.at(f.attr(i, Attr::kAriaLabel)));
    int alt = f.attr(i, Attr::kAlt);
    fp.alt = std::string(strings_.at(alt >= 0 ? alt : f.attr(i, Attr::kTitle)));
    fp.dom_path = dom_path(f, i);
    fp.neighbor_text = neighbor_text(f, i, last_text);

    Tag tag = f.tag[i];
    InputType type = tag == Tag::kInput ? input_type(f, i) : InputType::kText;
    if (tag == Tag::kInput && button_like(type)) {
      fp.text = collapse(strings_.at(f.attr(i, Attr::kValue)), kTextChars);
    } else {
      TextBuilder text(kTextChars);
      gather(f, i + 1, static_cast<size_t>(f.subtree_end[i]) + 1, /*rendered=*/true,
             /*page=*/false, text);
      fp.text = text.take();
    }
    if (int li = f.layout[i]; li >= 0) {
      const double* box = f.box(li);
      fp.x = box[0] + f.dx;
      fp.y = box[1] + f.dy;
      fp.width = box[2];
      fp.height = box[3];
    }

    // Role and name: the accessibility tree's, else the implicit ARIA ones.
    auto ax = ax_.find(e.backend_node_id);
    if (ax != ax_.end() && ax->second.role != nullptr) {
      fp.role = *ax->second.role;
      if (ax->second.name != nullptr) fp.name = scrub(collapse(*ax->second.name));
    } else {
      fp.role = fallback_role(f, i);
      fp.name = fallback_name(f, i, fp);
    }

    // State.
    bool disabled = false;
    bool form_control = tag == Tag::kButton || tag == Tag::kInput || tag == Tag::kSelect ||
                        tag == Tag::kTextarea || tag == Tag::kFieldset;
    if (form_control) disabled = f.has(i, Attr::kDisabled) || (f.bits[i] & kInDisabledFieldset);
    if (int aria = f.attr(i, Attr::kAriaDisabled);
        aria >= 0 && equals_ignore_case(strings_.at(aria), "true")) {
      disabled = true;
    }
    e.enabled = !disabled;
    bool readonly = f.has(i, Attr::kReadonly);
    if (tag == Tag::kTextarea || (tag == Tag::kInput && text_like(type))) {
      e.editable = !readonly && e.enabled;
    } else if (int editable = f.attr(i, Attr::kContenteditable);
               editable >= 0 && strings_.word(editable) != Word::kFalse) {
      e.editable = e.enabled;
    }
    e.checked = (f.bits[i] & kChecked) != 0;
    if (int aria = f.attr(i, Attr::kAriaChecked);
        aria >= 0 && equals_ignore_case(strings_.at(aria), "true")) {
      e.checked = true;
    }

    // Value. A password field's value is never read.
    if (tag == Tag::kInput) {
      if (type != InputType::kPassword && text_like(type)) {
        e.value = std::string(strings_.at(f.input_value[i]));
      } else if (type == InputType::kFile) {
        e.value = std::string(strings_.at(f.input_value[i]));
      }
    } else if (tag == Tag::kTextarea) {
      int text = f.text_value[i] >= 0 ? f.text_value[i] : f.input_value[i];
      e.value = std::string(strings_.at(text));
    } else if (tag == Tag::kSelect) {
      select_state(f, i, &e.value, &e.options);
    }
    return e;
  }

  // Option labels and the selected ones' labels (", "-joined) of a <select>.
  void select_state(const Frame& f, size_t i, std::string* value,
                    std::vector<std::string>* options) {
    for (size_t j = i + 1; j <= static_cast<size_t>(f.subtree_end[i]); ++j) {
      if (f.type[j] != kElement || f.tag[j] != Tag::kOption) continue;
      std::string label;
      if (int attr = f.attr(j, Attr::kLabel); attr >= 0) label = collapse(strings_.at(attr));
      if (label.empty()) label = dom_text(f, j);
      if ((f.bits[j] & kSelected) && value != nullptr) {
        if (!value->empty()) *value += ", ";
        *value += label;
      }
      if (options != nullptr) options->push_back(std::move(label));
    }
  }

  std::string dom_text(const Frame& f, size_t i,
                       size_t limit = std::numeric_limits<size_t>::max()) {
    TextBuilder text(limit);
    gather(f, i + 1, static_cast<size_t>(f.subtree_end[i]) + 1, /*rendered=*/false,
           /*page=*/false, text);
    return text.take();
  }

  // Appends the text of nodes [begin, end) of document d. Rendered: the laid
  // out text of visible text nodes (and, for the page text, form values and
  // iframe contents); otherwise the DOM text, skipping scripts, styles and
  // form controls' contents. Blocks, line breaks and replaced elements
  // separate words.
  void gather(const Frame& f, size_t begin, size_t end, bool rendered, bool page,
              TextBuilder& out) {
    int previous_block = -2;
    for (size_t j = begin; j < end && j < f.n && !out.full(); ++j) {
      int li = f.layout[j];
      if (f.type[j] == kText) {
        std::string_view text;
        if (rendered) {
          if (li < 0 || !visible_text(f, j)) continue;
          text = strings_.at(f.layout_text[li]);
        } else {
          text = strings_.at(f.value[j]);
        }
        if (blank(text) && !rendered) continue;
        if (f.block[j] != previous_block) out.separate();
        previous_block = f.block[j];
        out.add(text);
        continue;
      }
      if (f.type[j] != kElement) continue;
      Tag tag = f.tag[j];
      bool skip_subtree =
          tag == Tag::kScript || tag == Tag::kStyle || tag == Tag::kTemplate || tag == Tag::kHead ||
          (!rendered && (tag == Tag::kSelect || tag == Tag::kTextarea || tag == Tag::kNoscript));
      if (skip_subtree) {
        j = static_cast<size_t>(f.subtree_end[j]);
        continue;
      }
      if (tag == Tag::kBr ||
          (li >= 0 && strings_.word(f.style(li, Style::kDisplay)) != Word::kInline)) {
        out.separate();
      }
      if (!rendered || !page) continue;
      if (tag == Tag::kIframe || tag == Tag::kFrame) {
        int child = f.content_document[j];
        if (child > 0 && static_cast<size_t>(child) < frames_.size() &&
            !frames_[static_cast<size_t>(child)].hidden) {
          out.separate();
          const Frame& inner = frames_[static_cast<size_t>(child)];
          gather(inner, 0, inner.n, /*rendered=*/true, /*page=*/true, out);
          out.separate();
        }
        continue;
      }
      if ((tag == Tag::kInput || tag == Tag::kTextarea || tag == Tag::kSelect) &&
          visible_element(f, j)) {
        std::string_view shown;
        std::string selected;
        if (tag == Tag::kTextarea) {
          shown = strings_.at(f.text_value[j] >= 0 ? f.text_value[j] : f.input_value[j]);
        } else if (tag == Tag::kSelect) {
          select_state(f, j, &selected, nullptr);
          shown = selected;
        } else if (InputType type = input_type(f, j); button_like(type)) {
          shown = strings_.at(f.attr(j, Attr::kValue));
        } else if (type != InputType::kPassword && text_like(type)) {
          shown = strings_.at(f.input_value[j]);
        }
        if (!blank(shown)) {
          out.separate();
          out.add(shown);
          out.separate();
        }
        previous_block = -2;
      }
    }
  }

  std::string dom_path(const Frame& f, size_t i) const {
    std::vector<size_t> chain;
    for (int j = static_cast<int>(i); j >= 0; j = f.parent[static_cast<size_t>(j)]) {
      if (f.type[static_cast<size_t>(j)] == kElement) chain.push_back(static_cast<size_t>(j));
    }
    std::string path = f.path_prefix;
    for (auto it = chain.rbegin(); it != chain.rend(); ++it) {
      if (it != chain.rbegin()) path += '/';
      path += lower(strings_.at(f.name[*it]));
      if (f.sibling_count[*it] > 1) path += "[" + std::to_string(f.sibling_index[*it]) + "]";
    }
    return path;
  }

  // The element's label (label[for=id], then an enclosing label), else the
  // text of the aria-labelledby elements, else — in a table row — the row's
  // first cell (what a person reads to tell eight "Select" buttons apart),
  // else the nearest preceding visible text.
  std::string neighbor_text(Frame& f, size_t i, int last_text) {
    if (int id = f.attr(i, Attr::kId); id >= 0 && f.tag[i] != Tag::kLabel) {
      auto label = f.label_for.find(strings_.at(id));
      if (label != f.label_for.end()) {
        std::string text = dom_text(f, static_cast<size_t>(label->second), kTextChars);
        if (!text.empty()) return text;
      }
    }
    if (int label = f.label_ancestor[i]; label >= 0) {
      std::string text = dom_text(f, static_cast<size_t>(label), kTextChars);
      if (!text.empty()) return text;
    }
    if (std::string text = labelledby_text(f, i); !text.empty()) return text;
    if (std::string text = row_header_text(f, i); !text.empty()) return text;
    if (last_text >= 0) {
      return collapse(
          strings_.at(f.layout_text[static_cast<size_t>(f.layout[static_cast<size_t>(last_text)])]),
          kTextChars);
    }
    return "";
  }

  // The text of the first cell of the row `i` is in, unless `i` is in that cell.
  std::string row_header_text(const Frame& f, size_t i) {
    int row = f.row_ancestor[i];
    if (row < 0) return "";
    size_t r = static_cast<size_t>(row);
    for (size_t j = r + 1; j <= static_cast<size_t>(f.subtree_end[r]); ++j) {
      if (f.type[j] != kElement || f.parent[j] != row) continue;
      if (f.tag[j] != Tag::kTd && f.tag[j] != Tag::kTh) return "";
      if (i >= j && i <= static_cast<size_t>(f.subtree_end[j])) return "";
      return dom_text(f, j, kTextChars);
    }
    return "";
  }

  std::string labelledby_text(Frame& f, size_t i) {
    int ref = f.attr(i, Attr::kAriaLabelledby);
    if (ref < 0) return "";
    if (!f.ids_built) {
      f.ids_built = true;
      for (size_t j = 0; j < f.n; ++j) {
        if (int id = f.type[j] == kElement ? f.attr(j, Attr::kId) : -1; id >= 0) {
          f.ids.emplace(strings_.at(id), static_cast<int>(j));
        }
      }
    }
    TextBuilder text(kTextChars);
    std::string_view list = strings_.at(ref);
    while (!list.empty()) {
      std::string_view id = first_token(list);
      if (id.empty()) break;
      list = list.substr(static_cast<size_t>(id.data() - list.data()) + id.size());
      auto target = f.ids.find(id);
      if (target == f.ids.end()) continue;
      text.separate();
      size_t t = static_cast<size_t>(target->second);
      gather(f, t + 1, static_cast<size_t>(f.subtree_end[t]) + 1, /*rendered=*/false,
             /*page=*/false, text);
    }
    return text.take();
  }

  // The implicit ARIA role, for elements the accessibility tree does not
  // expose (hidden ones) or when it could not be read.
  std::string fallback_role(Frame& f, size_t i) {
    if (int role = f.attr(i, Attr::kRole); role >= 0) {
      std::string_view token = first_token(strings_.at(role));
      if (!token.empty()) return lower(token);
    }
    switch (f.tag[i]) {
      case Tag::kA: return f.has(i, Attr::kHref) ? "link" : "generic";
      case Tag::kButton: return "button";
      case Tag::kHeading: return "heading";
      case Tag::kImg: return "img";
      case Tag::kLabel: return "LabelText";
      case Tag::kLi: return "listitem";
      case Tag::kP: return "paragraph";
      case Tag::kTd: return "cell";
      case Tag::kTh: return "columnheader";
      case Tag::kTextarea: return "textbox";
      case Tag::kSummary: return "DisclosureTriangle";
      case Tag::kSelect: {
        int size = f.attr(i, Attr::kSize);
        bool list = f.has(i, Attr::kMultiple) || (size >= 0 && parse_px(strings_.at(size)) > 1);
        return list ? "listbox" : "combobox";
      }
      case Tag::kInput:
        switch (input_type(f, i)) {
          case InputType::kCheckbox: return "checkbox";
          case InputType::kRadio: return "radio";
          case InputType::kButton:
          case InputType::kSubmit:
          case InputType::kReset:
          case InputType::kImage: return "button";
          case InputType::kRange: return "slider";
          case InputType::kNumber: return "spinbutton";
          case InputType::kSearch: return "searchbox";
          case InputType::kFile:
          case InputType::kColor:
          case InputType::kDate:
          case InputType::kHidden: return "";
          default: return "textbox";
        }
      default: return "generic";
    }
  }

  // A simplified accessible name: aria-labelledby, aria-label, the label,
  // the content for roles named by their content, then alt, title, placeholder.
  std::string fallback_name(Frame& f, size_t i, const Fingerprint& fp) {
    if (std::string text = labelledby_text(f, i); !text.empty()) return text;
    if (!fp.aria_label.empty()) return collapse(fp.aria_label);
    Tag tag = f.tag[i];
    bool labelable =
        tag == Tag::kInput || tag == Tag::kSelect || tag == Tag::kTextarea || tag == Tag::kButton;
    if (labelable) {
      if (int id = f.attr(i, Attr::kId); id >= 0) {
        auto label = f.label_for.find(strings_.at(id));
        if (label != f.label_for.end()) {
          std::string text = dom_text(f, static_cast<size_t>(label->second));
          if (!text.empty()) return text;
        }
      }
      if (int label = f.label_ancestor[i]; label >= 0) {
        std::string text = dom_text(f, static_cast<size_t>(label));
        if (!text.empty()) return text;
      }
    }
    if (tag == Tag::kInput && button_like(input_type(f, i))) {
      return collapse(strings_.at(f.attr(i, Attr::kValue)));
    }
    static const std::array<std::string_view, 12> kFromContent = {
        "button", "link", "heading",  "cell",   "columnheader", "checkbox",
        "radio",  "tab",  "menuitem", "option", "switch",       "DisclosureTriangle"};
    if (std::find(kFromContent.begin(), kFromContent.end(), fp.role) != kFromContent.end()) {
      if (std::string text = dom_text(f, i); !text.empty()) return text;
    }
    if (!fp.alt.empty()) return collapse(fp.alt);
    return collapse(fp.placeholder);
  }

  std::string scrub(std::string text) const {
    for (std::string_view secret : passwords_) {
      for (size_t at = text.find(secret); at != std::string::npos; at = text.find(secret, at)) {
        text.replace(at, secret.size(), "•••");
      }
    }
    return text;
  }

  Strings strings_;
  const AxIndex& ax_;
  const std::string& session_;
  std::vector<Frame> frames_;
  std::vector<std::string_view> passwords_;
};

// describe(): text in single quotes, escaped, whitespace-collapsed and capped.
std::string single_quoted(std::string_view text) {
  TextBuilder builder(kDescribeChars);
  builder.add(text);
  bool cut = builder.full();
  std::string shown = builder.take();
  std::string out = "'";
  for (char c : shown) {
    if (c == '\'' || c == '\\') out += '\\';
    out += c;
  }
  if (cut) out += "…";
  return out + "'";
}

// Above this many DOM nodes the accessibility tree is not asked for: Chromium
// needs seconds to build it for a 16,000-node page (measured in
// bench/observe_bench), while the implicit ARIA roles and names computed here
// agreed with it on every element of that page. Ordinary pages get the real
// tree, and with it what ARIA widgets say about themselves.
constexpr size_t kAxTreeMaxNodes = 4000;

size_t node_count(const Json& capture) {
  size_t n = 0;
  const Json& documents = field(capture, "documents");
  if (!documents.is_array()) return 0;
  for (const Json& document : documents) {
    const Json& parents = field(field(document, "nodes"), "parentIndex");
    if (parents.is_array()) n += parents.size();
  }
  return n;
}

}  // namespace

Result<PageSnapshot> observe_page(Chromium& browser, const std::string& session) {
  Json styles = Json::array();
  for (std::string_view style : kStyles) styles.push_back(std::string(style));
  auto capture = browser.call("DOMSnapshot.captureSnapshot", {{"computedStyles", styles}}, session);
  if (!capture) return fail(capture.error().with_context("observe: DOMSnapshot.captureSnapshot: "));
  bool with_tree = node_count(*capture) <= kAxTreeMaxNodes;
  Json main_tree = Json::object();
  if (with_tree) {
    auto tree = browser.call("Accessibility.getFullAXTree", Json::object(), session);
    if (!tree) return fail(tree.error().with_context("observe: Accessibility.getFullAXTree: "));
    main_tree = std::move(*tree);
  }

  try {
    AxIndex ax;
    if (with_tree) index_ax(main_tree, ax);
    // Same-process iframes: their documents are in the capture; their
    // accessibility trees are asked for by frame id. A frame that went away
    // meanwhile keeps the implicit roles.
    const Json& documents = field(*capture, "documents");
    const Json& strings = field(*capture, "strings");
    std::vector<Json> frame_trees;
    if (with_tree && documents.is_array()) {
      for (size_t d = 1; d < documents.size(); ++d) {
        int frame = as_int(field(documents[d], "frameId"));
        if (frame < 0 || !strings.is_array() || static_cast<size_t>(frame) >= strings.size() ||
            !strings[static_cast<size_t>(frame)].is_string()) {
          continue;
        }
        auto frame_tree = browser.call("Accessibility.getFullAXTree",
                                       {{"frameId", strings[static_cast<size_t>(frame)]}}, session);
        if (frame_tree) frame_trees.push_back(std::move(*frame_tree));
      }
    }
    for (const Json& frame_tree : frame_trees) index_ax(frame_tree, ax);
    return Observer(*capture, ax, session).run();
  } catch (const Json::exception& error) {
    return fail(ErrorCode::kInternal,
                std::string("observe: unexpected CDP answer: ") + error.what());
  }
}

std::string describe(const PageSnapshot& snapshot) {
  std::string out;
  for (const PageElement& e : snapshot.elements) {
    const Fingerprint& fp = e.fp;
    out += '[' + std::to_string(e.index) + "] ";
    // Chromium's own roles (LabelText, Legend, StaticText...) are capitalised:
    // the tag says the same more plainly.
    bool plain = fp.role.empty() || fp.role == "generic" || fp.role == "none" ||
                 fp.role == "presentation" || std::isupper(static_cast<unsigned char>(fp.role[0]));
    out += plain ? fp.tag : fp.role;
    const std::string& label = !fp.name.empty() ? fp.name : fp.text;
    if (!label.empty()) out += ' ' + single_quoted(label);
    if (!e.value.empty()) out += " value=" + single_quoted(e.value);
    if (!e.options.empty()) {
      out += " options=[";
      for (size_t k = 0; k < e.options.size() && k < kDescribeOptions; ++k) {
        out += (k > 0 ? ", " : "") + single_quoted(e.options[k]);
      }
      if (e.options.size() > kDescribeOptions) {
        out += ", +" + std::to_string(e.options.size() - kDescribeOptions) + " more";
      }
      out += ']';
    }
    if (!e.enabled) out += " (disabled)";
    if (e.checked) out += " (checked)";
    if (!e.visible) out += " (hidden)";
    out += '\n';
  }
  return out;
}

}  // namespace ergon
