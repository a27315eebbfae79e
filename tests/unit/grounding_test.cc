#include "ergon/grounding.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "connect/browser/mutate.h"

namespace ergon {
namespace {

using Status = GroundingResult::Status;

Fingerprint button(std::string name, double x, double y) {
  Fingerprint fp;
  fp.tag = "button";
  fp.role = "button";
  fp.name = name;
  fp.text = name;
  fp.classes = "btn btn-primary";
  fp.dom_path = "html/body/main/form/div[3]/button";
  fp.x = x;
  fp.y = y;
  fp.width = 120;
  fp.height = 36;
  return fp;
}

Fingerprint field(std::string label, std::string id, double y) {
  Fingerprint fp;
  fp.tag = "input";
  fp.role = "textbox";
  fp.type = "text";
  fp.name = label;
  fp.id = id;
  fp.name_attr = id;
  fp.classes = "form-control";
  fp.neighbor_text = label;
  fp.dom_path = "html/body/main/form/div[" + std::to_string(static_cast<int>(y) / 50) + "]/input";
  fp.x = 40;
  fp.y = y;
  fp.width = 320;
  fp.height = 32;
  return fp;
}

// A plain edit distance to check the fast one against.
size_t naive_distance(const std::u32string& a, const std::u32string& b) {
  std::vector<std::vector<size_t>> d(a.size() + 1, std::vector<size_t>(b.size() + 1));
  for (size_t i = 0; i <= a.size(); ++i) d[i][0] = i;
  for (size_t j = 0; j <= b.size(); ++j) d[0][j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    for (size_t j = 1; j <= b.size(); ++j) {
      d[i][j] = std::min(
          {d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1)});
    }
  }
  return d[a.size()][b.size()];
}

TEST(StringSimilarity, Basics) {
  EXPECT_DOUBLE_EQ(string_similarity("", ""), 1.0);
  EXPECT_DOUBLE_EQ(string_similarity("abc", ""), 0.0);
  EXPECT_DOUBLE_EQ(string_similarity("Send for review", "Send for review"), 1.0);
  EXPECT_DOUBLE_EQ(string_similarity("  Send\tfor\n REVIEW ", "send for review"), 1.0);
  EXPECT_DOUBLE_EQ(string_similarity("kitten", "sitting"), 1.0 - 3.0 / 7.0);
  EXPECT_DOUBLE_EQ(string_similarity("abc", "xyz"), 0.0);
  // Code points, not bytes: é is one edit away from e, and folds with É.
  EXPECT_DOUBLE_EQ(string_similarity("Café", "CAFÉ"), 1.0);
  EXPECT_DOUBLE_EQ(string_similarity("café", "cafe"), 0.75);
  EXPECT_DOUBLE_EQ(string_similarity("Привет", "привет"), 1.0);
  EXPECT_DOUBLE_EQ(string_similarity("Submit", "Send"), 1.0 - 5.0 / 6.0);
}

TEST(StringSimilarity, AgreesWithPlainEditDistanceOnShortAndLongStrings) {
  std::mt19937 rng(7);
  const std::u32string alphabet = U"abcdé ";
  for (int round = 0; round < 400; ++round) {
    auto make = [&](size_t n) {
      std::u32string s;
      for (size_t i = 0; i < n; ++i) s += alphabet[rng() % 5];  // no spaces: no collapsing
      return s;
    };
    const std::u32string a = make(rng() % 150), b = make(rng() % 150);
    auto utf8 = [](const std::u32string& s) {
      std::string out;
      for (char32_t c : s)
        out += c == U'é' ? std::string("é") : std::string(1, static_cast<char>(c));
      return out;
    };
    const size_t longest = std::max(a.size(), b.size());
    const double expected =
        longest == 0 ? 1.0 : 1.0 - static_cast<double>(naive_distance(a, b)) / longest;
    ASSERT_DOUBLE_EQ(string_similarity(utf8(a), utf8(b)), expected)
        << "round " << round << " lengths " << a.size() << ", " << b.size();
  }
}

TEST(Similarity, IdenticalFingerprintScoresOne) {
  Fingerprint fp = button("Send for review", 400, 600);
  fp.id = "submit";
  fp.href = "/x";
  fp.neighbor_text = "Reason for the request";
  fp.aria_label = "Send for review";
  EXPECT_DOUBLE_EQ(similarity(fp, fp, GroundingWeights::similo()), 1.0);
}

TEST(Similarity, RoleAndNameTargetCanScoreOne) {
  Fingerprint target;
  target.role = "button";
  target.name = "Send for review";
  EXPECT_DOUBLE_EQ(similarity(target, button("Send for review", 1, 2), {}), 1.0);
  // Role is compared to the computed role; without one, the tag's implicit role.
  Fingerprint implicit;
  implicit.tag = "input";
  implicit.type = "submit";
  implicit.name = "Send for review";
  EXPECT_DOUBLE_EQ(similarity(target, implicit, {}), 1.0);
  Fingerprint link = implicit;
  link.tag = "a";
  link.type.clear();
  EXPECT_LT(similarity(target, link, {}), 0.75);
}

TEST(Similarity, SameMeaningInOtherMarkupGetsPartialTagCredit) {
  Fingerprint target;
  target.tag = "input";
  target.type = "submit";
  Fingerprint other;
  other.tag = "button";
  other.role = "button";
  GroundingWeights only_tag;
  only_tag = GroundingWeights{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0};
  only_tag.tag = 1;
  EXPECT_DOUBLE_EQ(similarity(target, other, only_tag), 0.5);
  other.role = "link";
  EXPECT_DOUBLE_EQ(similarity(target, other, only_tag), 0.0);
}

TEST(Similarity, LabelsIgnorePunctuationButNotNumbers) {
  GroundingWeights only_name = GroundingWeights{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0};
  only_name.name = 1;
  Fingerprint target;
  target.name = "Privacy";
  Fingerprint decorated;
  decorated.name = "Privacy →";
  EXPECT_DOUBLE_EQ(similarity(target, decorated, only_name), 1.0);
  decorated.name = "E-mail:";
  target.name = "email";
  EXPECT_DOUBLE_EQ(similarity(target, decorated, only_name), 1.0);
  // A label of symbols only is compared as it is.
  target.name = "→";
  decorated.name = "→";
  EXPECT_DOUBLE_EQ(similarity(target, decorated, only_name), 1.0);
  // One digit apart, but another row: half the edit-distance similarity.
  target.name = "Edit row 12";
  Fingerprint other;
  other.name = "Edit row 13";
  EXPECT_DOUBLE_EQ(similarity(target, other, only_name), 0.5 * (1.0 - 1.0 / 11.0));
  EXPECT_DOUBLE_EQ(string_similarity("Edit row 12", "Edit row 13"), 1.0 - 1.0 / 11.0);
}

TEST(Ground, RoleAndNameFindsTheButtonAmongMany) {
  std::vector<Fingerprint> page;
  for (int i = 0; i < 30; ++i)
    page.push_back(field("Field " + std::to_string(i), "f" + std::to_string(i), 50.0 * i));
  page.push_back(button("Save draft", 40, 1600));
  page.push_back(button("Send for review", 180, 1600));
  Fingerprint link = button("Send for review", 40, 1700);
  link.tag = "a";
  link.role = "link";
  page.push_back(link);
  page.push_back(button("Send", 320, 1600));

  Fingerprint target;
  target.role = "button";
  target.name = "Send for review";
  const GroundingResult r = ground(target, page);
  ASSERT_EQ(r.status, Status::kFound) << r.explanation;
  EXPECT_EQ(r.best()->index, 31);
  EXPECT_DOUBLE_EQ(r.best()->score, 1.0);
  EXPECT_FALSE(r.healed);
  EXPECT_LE(r.ranked.size(), 5u);
  EXPECT_TRUE(
      std::is_sorted(r.ranked.begin(), r.ranked.end(),
                     [](const Candidate& a, const Candidate& b) { return a.score > b.score; }));
  EXPECT_EQ(r.explanation.rfind("best [31] 1.00 (button 'Send for review'), runner-up [", 0), 0u)
      << r.explanation;
}

TEST(Ground, RenamedIdIsStillFoundAndHealed) {
  std::vector<Fingerprint> before = {field("First name", "first-name", 100),
                                     field("Last name", "last-name", 150),
                                     field("Member ID", "member-id", 200)};
  std::vector<Fingerprint> after = before;
  after[2].id = ":r3:";
  after[2].name_attr = "memberId";
  const GroundingResult r = ground(before[2], after);
  ASSERT_EQ(r.status, Status::kFound) << r.explanation;
  EXPECT_EQ(r.best()->index, 2);
  EXPECT_TRUE(r.healed);
  EXPECT_NE(r.explanation.find("healed: id, name_attr"), std::string::npos) << r.explanation;

  const GroundingResult same = ground(before[2], before);
  ASSERT_EQ(same.status, Status::kFound);
  EXPECT_FALSE(same.healed) << same.explanation;
}

TEST(Ground, RewordedLabelIsFoundByNeighbourAndPosition) {
  std::vector<Fingerprint> before = {field("Email", "email", 100), field("Phone", "phone", 150),
                                     field("Postcode", "postcode", 200)};
  before[0].neighbor_text = "Email address";
  before[0].placeholder = "you@example.com";
  std::vector<Fingerprint> after = before;
  after[0].name = "E-mail";
  after[0].id = "contact-mail";
  after[0].name_attr = "contact_mail";
  after[0].classes = "input_x81ka";
  after[0].y = *after[0].y + 24;
  after[0].neighbor_text = "Your email address (required)";
  const GroundingResult r = ground(before[0], after);
  ASSERT_EQ(r.status, Status::kFound) << r.explanation;
  EXPECT_EQ(r.best()->index, 0);
  EXPECT_TRUE(r.healed);
}

TEST(Ground, TwoIdenticalButtonsAreAmbiguous) {
  std::vector<Fingerprint> page = {button("Delete", 40, 100), button("Delete", 40, 100)};
  Fingerprint target;
  target.role = "button";
  target.name = "Delete";
  const GroundingResult r = ground(target, page);
  EXPECT_EQ(r.status, Status::kAmbiguous) << r.explanation;
  ASSERT_EQ(r.ranked.size(), 2u);
  EXPECT_EQ(r.ranked[0].index, 0);  // equal scores keep document order
  EXPECT_EQ(r.ranked[1].index, 1);
  EXPECT_FALSE(r.healed);
  EXPECT_EQ(r.explanation.rfind("ambiguous: best [0] 1.00", 0), 0u) << r.explanation;
}

TEST(Ground, NothingSimilarIsWeak) {
  std::vector<Fingerprint> page = {field("First name", "first", 100),
                                   field("Last name", "last", 150)};
  Fingerprint target;
  target.role = "button";
  target.name = "Confirm appointment";
  target.id = "confirm";
  const GroundingResult r = ground(target, page);
  EXPECT_EQ(r.status, Status::kWeak) << r.explanation;
  EXPECT_FALSE(r.ranked.empty());
  EXPECT_LT(r.best()->score, GroundingOptions{}.min_score);
  EXPECT_EQ(r.explanation.rfind("weak: ", 0), 0u);
}

TEST(Ground, NoCandidatesIsNone) {
  const GroundingResult r = ground(button("Send", 1, 1), {});
  EXPECT_EQ(r.status, Status::kNone);
  EXPECT_TRUE(r.ranked.empty());
  EXPECT_EQ(r.best(), nullptr);
  EXPECT_FALSE(r.explanation.empty());
}

TEST(Ground, EmptyTargetIsWeak) {
  const GroundingResult r = ground(Fingerprint{}, {button("Send", 1, 1)});
  EXPECT_EQ(r.status, Status::kWeak);
}

TEST(Ground, FindsTheRightOneAmongFiveThousand) {
  std::vector<Fingerprint> page;
  for (int i = 0; i < 5000; ++i) {
    Fingerprint fp =
        i % 2 ? button("Edit row " + std::to_string(i), 800, 30.0 * i)
              : field("Amount " + std::to_string(i), "amount-" + std::to_string(i), 30.0 * i);
    fp.neighbor_text =
        "Invoice " + std::to_string(i) + " due " + std::to_string(i % 28 + 1) + " May";
    page.push_back(fp);
  }
  Fingerprint target = page[3777];
  target.id = "edit-3777";  // a property changed since it was recorded
  target.y = *target.y - 10;
  const GroundingResult r = ground(target, page);
  ASSERT_EQ(r.status, Status::kFound) << r.explanation;
  EXPECT_EQ(r.best()->index, 3777);
  EXPECT_TRUE(r.healed);
}

TEST(FingerprintJson, RoundTrips) {
  Fingerprint fp = button("Send for review", 12.5, 40);
  fp.id = "send";
  fp.neighbor_text = "Reason";
  const Json j = to_json(fp);
  EXPECT_EQ(j["name"], "Send for review");
  EXPECT_FALSE(j.contains("href"));  // empty fields are omitted
  const auto back = fingerprint_from_json(j);
  ASSERT_TRUE(back.has_value()) << back.error().message;
  EXPECT_EQ(to_json(*back), j);
  EXPECT_DOUBLE_EQ(similarity(fp, *back, {}), 1.0);
  EXPECT_DOUBLE_EQ(*back->x, 12.5);
  EXPECT_FALSE(back->empty());
  EXPECT_TRUE(Fingerprint{}.empty());
  EXPECT_EQ(to_json(Fingerprint{}), Json::object());
}

TEST(FingerprintJson, RejectsUnknownFieldsAndWrongTypes) {
  auto unknown = fingerprint_from_json(Json{{"role", "button"}, {"lable", "Send"}});
  ASSERT_FALSE(unknown.has_value());
  EXPECT_EQ(unknown.error().code, ErrorCode::kInvalidInput);
  EXPECT_NE(unknown.error().message.find("'lable'"), std::string::npos) << unknown.error().message;

  auto wrong = fingerprint_from_json(Json{{"name", 3}});
  ASSERT_FALSE(wrong.has_value());
  EXPECT_NE(wrong.error().message.find("'name'"), std::string::npos);
  auto wrong_number = fingerprint_from_json(Json{{"x", "12"}});
  ASSERT_FALSE(wrong_number.has_value());
  EXPECT_NE(wrong_number.error().message.find("'x'"), std::string::npos);
  EXPECT_FALSE(fingerprint_from_json(Json::array()).has_value());
}

TEST(WeightsJson, RoundTripsAndRejectsUnknownFields) {
  GroundingWeights w = GroundingWeights::similo();
  w.neighbor_text = 2.25;
  const auto back = grounding_weights_from_json(to_json(w));
  ASSERT_TRUE(back.has_value());
  EXPECT_EQ(to_json(*back), to_json(w));
  EXPECT_EQ(to_json(w).size(), 16u);

  const auto partial = grounding_weights_from_json(Json{{"id", 0.0}});
  ASSERT_TRUE(partial.has_value());
  EXPECT_EQ(partial->id, 0.0);
  EXPECT_EQ(partial->name, GroundingWeights::similo().name);

  auto unknown = grounding_weights_from_json(Json{{"xpath", 0.5}});
  ASSERT_FALSE(unknown.has_value());
  EXPECT_EQ(unknown.error().code, ErrorCode::kInvalidInput);
  EXPECT_NE(unknown.error().message.find("'xpath'"), std::string::npos);
  EXPECT_FALSE(grounding_weights_from_json(Json{{"id", "high"}}).has_value());
  EXPECT_FALSE(grounding_weights_from_json(Json{{"id", -1}}).has_value());
}

std::vector<Fingerprint> sample_page() {
  std::vector<Fingerprint> page;
  Fingerprint heading;
  heading.tag = "h1";
  heading.role = "heading";
  heading.text = "Request prior authorisation";
  heading.dom_path = "html/body/main/h1";
  heading.x = 40;
  heading.y = 20;
  page.push_back(heading);
  for (int i = 0; i < 12; ++i) {
    Fingerprint f =
        field("Field " + std::to_string(i), "field-" + std::to_string(i), 80.0 + 50 * i);
    f.dom_path = "html/body/main/form/div[" + std::to_string(i + 1) + "]/input";
    page.push_back(f);
  }
  page.push_back(button("Submit request", 40, 800));
  page.push_back(button("Save draft", 200, 800));
  return page;
}

TEST(Mutate, SameSeedSamePageGivesTheSameMutation) {
  const auto page = sample_page();
  browser::MutationOptions options;
  for (uint32_t seed : {1u, 2u, 99u}) {
    const auto a = browser::mutate(page, options, seed);
    const auto b = browser::mutate(page, options, seed);
    ASSERT_EQ(a.page.size(), b.page.size());
    for (size_t i = 0; i < a.page.size(); ++i) EXPECT_EQ(to_json(a.page[i]), to_json(b.page[i]));
    EXPECT_EQ(a.moved_to, b.moved_to);
    EXPECT_EQ(a.description, b.description);
  }
  std::set<std::string> descriptions;
  for (uint32_t seed = 0; seed < 20; ++seed)
    descriptions.insert(browser::mutate(page, options, seed).description);
  EXPECT_GT(descriptions.size(), 15u);  // different seeds, different redesigns
}

TEST(Mutate, MapsEveryOriginalToItsNewPlace) {
  const auto page = sample_page();
  browser::MutationOptions options;
  options.insert_sibling = 0.5;
  options.remove_readable = 0.5;
  int inserted = 0, removed = 0;
  for (uint32_t seed = 0; seed < 50; ++seed) {
    const auto m = browser::mutate(page, options, seed);
    ASSERT_EQ(m.moved_to.size(), page.size());
    std::set<int> targets;
    for (size_t i = 0; i < page.size(); ++i) {
      const int to = m.moved_to[i];
      if (to < 0) {
        EXPECT_FALSE(browser::is_interactive(page[i])) << "interactive elements stay";
        ++removed;
        continue;
      }
      ASSERT_LT(static_cast<size_t>(to), m.page.size());
      EXPECT_TRUE(targets.insert(to).second) << "two originals map to " << to;
      // Redesigns never change what an element is.
      EXPECT_EQ(m.page[to].tag, page[i].tag) << m.description;
      EXPECT_EQ(m.page[to].role, page[i].role) << m.description;
      if (i > 0 && m.moved_to[i - 1] >= 0) {
        EXPECT_GT(to, m.moved_to[i - 1]) << "document order kept";
      }
    }
    inserted += static_cast<int>(m.page.size() - targets.size());
  }
  EXPECT_GT(inserted, 0);
  EXPECT_GT(removed, 0);

  // With only renames, every element stays where it was.
  browser::MutationOptions renames{};
  renames.move_block = 0;
  renames.insert_sibling = 0;
  renames.remove_readable = 0;
  const auto m = browser::mutate(page, renames, 5);
  ASSERT_EQ(m.page.size(), page.size());
  for (size_t i = 0; i < page.size(); ++i) EXPECT_EQ(m.moved_to[i], static_cast<int>(i));
}

TEST(Mutate, RewordsWithSynonymsAndRenamesIds) {
  std::vector<Fingerprint> page = {button("Submit request", 40, 800)};
  page[0].id = "submit-request";
  auto options = browser::MutationOptions::none();
  options.reword = 1;
  options.rename_id = 1;
  std::set<std::string> names, ids;
  for (uint32_t seed = 0; seed < 40; ++seed) {
    const auto m = browser::mutate(page, options, seed);
    ASSERT_EQ(m.page.size(), 1u);
    names.insert(m.page[0].name);
    ids.insert(m.page[0].id);
    EXPECT_EQ(m.page[0].name, m.page[0].text) << "name and text change alike";
    EXPECT_NE(m.page[0].id, "submit-request");
  }
  EXPECT_TRUE(names.contains("Send request") || names.contains("Submit review")) << *names.begin();
  EXPECT_GT(names.size(), 3u);
  EXPECT_GT(ids.size(), 5u);
}

}  // namespace
}  // namespace ergon
