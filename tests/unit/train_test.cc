// The grounding model: per-property similarities agree with similarity(),
// training is reproducible and beats the published weights on held-out
// redesigns of realistic pages without a wrong click, the model file round
// trips and a broken one is an error naming it, training pages come from
// the demonstrations, and a browser connector refuses a broken model.
#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>
#include <random>
#include <string>
#include <vector>

#include "connect/browser/mutate.h"
#include "ergon/browser.h"
#include "ergon/learn.h"
#include "ergon/vault.h"
#include "support/process.h"

namespace ergon {
namespace {

namespace fs = std::filesystem;

// ---------------------------------------------------------------------------
// Pages as an observation records them: an invoice list whose rows differ
// only by their numbers and neighbouring text, an account settings form and
// a support-ticket form.

struct Layout {
  std::vector<Fingerprint> elements;

  Fingerprint& put(const char* tag, const char* role, std::string path, double x, double y,
                   double w, double h) {
    Fingerprint fp;
    fp.tag = tag;
    fp.role = role;
    fp.dom_path = std::move(path);
    fp.x = x;
    fp.y = y;
    fp.width = w;
    fp.height = h;
    elements.push_back(std::move(fp));
    return elements.back();
  }
  Fingerprint& words(const char* tag, std::string text, std::string path, double x, double y) {
    Fingerprint& fp = put(tag, "", std::move(path), x, y, 240, 20);
    fp.text = std::move(text);
    return fp;
  }
  Fingerprint& anchor(std::string label, std::string href, std::string path, double x, double y) {
    Fingerprint& fp = put("a", "link", std::move(path), x, y, 90, 20);
    fp.name = fp.text = std::move(label);
    fp.href = std::move(href);
    return fp;
  }
  Fingerprint& press(std::string label, std::string id, std::string classes, std::string path,
                     double x, double y) {
    Fingerprint& fp = put("button", "button", std::move(path), x, y, 120, 36);
    fp.name = fp.text = std::move(label);
    fp.id = std::move(id);
    fp.classes = std::move(classes);
    fp.type = "button";
    return fp;
  }
  // A <label> followed by its control.
  Fingerprint& input(std::string label, std::string id, const char* type, const char* role,
                     std::string block, double x, double y) {
    words("label", label, block + "/label", x, y);
    const std::string kind = type == std::string("select") ? "select" : "input";
    Fingerprint& fp =
        put(kind == "select" ? "select" : "input", role, block + "/" + kind, x, y + 22, 300, 34);
    fp.name = label;
    fp.neighbor_text = std::move(label);
    fp.id = id;
    fp.name_attr = std::move(id);
    if (kind == "input") fp.type = type;
    fp.classes = "field";
    return fp;
  }
  Fingerprint& tick(std::string label, std::string id, std::string block, double x, double y) {
    Fingerprint& fp = put("input", "checkbox", block + "/input", x, y, 16, 16);
    fp.type = "checkbox";
    fp.name = label;
    fp.neighbor_text = label;
    fp.id = fp.name_attr = std::move(id);
    words("label", std::move(label), block + "/label", x + 22, y);
    return fp;
  }
};

std::string nth(const std::string& step, int i) {
  return i == 0 ? step : step + "[" + std::to_string(i + 1) + "]";
}

void top_bar(Layout& l) {
  l.anchor("Ledgerly", "/", "html/body/header/a", 20, 14).alt = "Ledgerly home";
  const char* items[] = {"Invoices", "Customers", "Reports", "Settings"};
  for (int i = 0; i < 4; ++i) {
    l.anchor(items[i], std::string("/") + items[i], "html/body/header/nav/" + nth("a", i),
             600 + 120.0 * i, 18)
        .classes = "top-link";
  }
}

std::vector<Fingerprint> invoices() {
  Layout l;
  top_bar(l);
  l.words("h1", "Invoices", "html/body/main/h1", 40, 80);
  Fingerprint& find = l.put("input", "searchbox", "html/body/main/form/input", 40, 130, 360, 34);
  find.type = "search";
  find.placeholder = "Search invoices";
  find.name = "Search invoices";
  find.id = find.name_attr = "q";
  l.press("Search", "go", "btn", "html/body/main/form/button", 410, 130);
  l.press("New invoice", "new-invoice", "btn btn-primary", "html/body/main/div/button", 900, 130);
  const char* customers[] = {"Northwind", "Contoso", "Fabrikam", "Tailspin", "Litware", "Adatum"};
  for (int r = 0; r < 6; ++r) {
    const std::string row = "html/body/main/table/tbody/" + nth("tr", r);
    const std::string number = "INV-" + std::to_string(3100 + r);
    const std::string summary =
        number + " " + customers[r] + " " + std::to_string(120 + 35 * r) + ".00";
    const double y = 200 + 46.0 * r;
    Fingerprint& pick = l.put("input", "checkbox", row + "/td/input", 40, y, 16, 16);
    pick.type = "checkbox";
    pick.name = "Select " + number;
    pick.name_attr = "selected";
    pick.neighbor_text = summary;
    l.anchor(number, "/invoices/" + std::to_string(3100 + r), row + "/td[2]/a", 80, y)
        .neighbor_text = summary;
    // Row actions alike in every row: only the row's text, position and
    // path tell them apart.
    l.press("Edit", "", "btn btn-small", row + "/td[3]/button", 700, y).neighbor_text = summary;
    l.press("Download", "", "btn btn-small", row + "/td[3]/button[2]", 830, y).neighbor_text =
        summary;
  }
  l.anchor("Previous", "?p=0", "html/body/main/nav/a", 400, 500).classes = "pager";
  l.anchor("Next", "?p=2", "html/body/main/nav/a[2]", 500, 500).classes = "pager";
  return l.elements;
}

std::vector<Fingerprint> settings() {
  Layout l;
  top_bar(l);
  l.words("h1", "Account settings", "html/body/main/h1", 40, 80);
  const std::string form = "html/body/main/form";
  l.input("Full name", "full-name", "text", "textbox", form + "/div", 40, 130);
  l.input("Email address", "email", "email", "textbox", form + "/div[2]", 400, 130);
  l.input("Phone number", "phone", "tel", "textbox", form + "/div[3]", 40, 200);
  l.input("Company", "company", "text", "textbox", form + "/div[4]", 400, 200);
  l.input("Country", "country", "select", "combobox", form + "/div[5]", 40, 270);
  l.input("Time zone", "tz", "select", "combobox", form + "/div[6]", 400, 270);
  l.tick("Send me the monthly newsletter", "newsletter", form + "/div[7]", 40, 340);
  l.tick("Require a code at sign in", "two-factor", form + "/div[8]", 40, 370);
  l.press("Save changes", "save", "btn btn-primary", form + "/div[9]/button", 40, 420);
  l.press("Cancel", "cancel", "btn", form + "/div[9]/button[2]", 180, 420);
  l.press("Delete account", "delete-account", "btn danger", "html/body/main/section/button", 40,
          520);
  return l.elements;
}

std::vector<Fingerprint> support() {
  Layout l;
  top_bar(l);
  l.words("h1", "Contact support", "html/body/main/h1", 40, 80);
  const std::string form = "html/body/main/form";
  l.input("Subject", "subject", "text", "textbox", form + "/div", 40, 130);
  l.input("Category", "category", "select", "combobox", form + "/div[2]", 40, 200);
  l.input("Order number", "order", "text", "textbox", form + "/div[3]", 400, 200);
  Fingerprint& body = l.put("textarea", "textbox", form + "/div[4]/textarea", 40, 290, 660, 120);
  body.name = body.neighbor_text = "Describe the problem";
  body.id = body.name_attr = "details";
  l.tick("Email me a copy", "cc-me", form + "/div[5]", 40, 430);
  l.press("Send request", "send", "btn btn-primary", form + "/div[6]/button", 40, 470);
  l.anchor("Help centre", "/help", form + "/div[6]/a", 200, 478);
  return l.elements;
}

TrainingPage page_of(const char* source, std::vector<Fingerprint> elements) {
  TrainingPage page;
  page.source = source;
  page.elements = std::move(elements);
  for (size_t i = 0; i < page.elements.size(); ++i) {
    if (browser::is_interactive(page.elements[i])) page.targets.push_back(static_cast<int>(i));
  }
  return page;
}

std::vector<TrainingPage> realistic_pages() {
  return {page_of("invoices", invoices()), page_of("settings", settings()),
          page_of("support", support())};
}

TrainOptions quick(uint32_t seed = 7) {
  TrainOptions o;
  o.seed = seed;
  o.mutations_per_page = 24;
  o.holdout = 0.25;
  o.epochs = 120;
  return o;
}

Json model_json(const GroundingModel& m) {
  return Json{{"weights", to_json(m.options.weights)},
              {"min_score", m.options.min_score},
              {"min_margin", m.options.min_margin},
              {"meta", m.meta}};
}

// ---------------------------------------------------------------------------

TEST(PropertySimilarities, WeightedMeanIsSimilarity) {
  const auto page = settings();
  const browser::Mutation m = browser::mutate(page, {}, 11);
  std::mt19937 rng(5);
  int compared = 0;
  for (size_t t = 0; t < page.size(); t += 3) {
    const auto scores = property_similarities(page[t], m.page);
    ASSERT_EQ(scores.size(), m.page.size());
    for (int trial = 0; trial < 3; ++trial) {
      std::array<double, PropertyScores::kCount> w{};
      for (double& x : w) x = (rng() % 1000) / 400.0;  // some weights 0
      const GroundingWeights weights = weights_from_vector(w);
      for (size_t c = 0; c < m.page.size(); ++c) {
        double sum = 0, denominator = 0;
        for (size_t i = 0; i < PropertyScores::kCount; ++i) {
          if (!scores[c].known[i]) continue;
          EXPECT_GE(scores[c].score[i], 0.0);
          EXPECT_LE(scores[c].score[i], 1.0);
          sum += w[i] * scores[c].score[i];
          denominator += w[i];
        }
        const double expected = denominator > 0 ? sum / denominator : 0.0;
        EXPECT_NEAR(similarity(page[t], m.page[c], weights), expected, 1e-9)
            << "target " << t << " candidate " << c;
        ++compared;
      }
    }
  }
  EXPECT_GT(compared, 500);
}

TEST(PropertySimilarities, KnownFollowsTheTarget) {
  Fingerprint target;
  target.role = "button";
  target.name = "Save changes";
  target.x = 10;
  target.y = 20;
  Fingerprint other = target;
  other.name = "Save";
  const auto scores = property_similarities(target, {target, other});
  const auto& keys = property_keys();
  for (size_t i = 0; i < PropertyScores::kCount; ++i) {
    const bool named = keys[i] == "role" || keys[i] == "name" || keys[i] == "location";
    EXPECT_EQ(scores[0].known[i], named) << keys[i];
    if (named) {
      EXPECT_DOUBLE_EQ(scores[0].score[i], 1.0) << keys[i];
    }
  }
  EXPECT_LT(scores[1].score[2], 1.0);  // name
  EXPECT_EQ(weight_vector(weights_from_vector(weight_vector(GroundingWeights::similo()))),
            weight_vector(GroundingWeights::similo()));
}

TEST(TrainGrounding, SameSeedSameModel) {
  const auto pages = realistic_pages();
  auto a = train_grounding(pages, quick());
  auto b = train_grounding(pages, quick());
  ASSERT_TRUE(a.has_value()) << a.error().message;
  ASSERT_TRUE(b.has_value()) << b.error().message;
  EXPECT_EQ(model_json(a->model).dump(), model_json(b->model).dump());
  EXPECT_EQ(a->training_pairs, b->training_pairs);

  auto other = train_grounding(pages, quick(8));
  ASSERT_TRUE(other.has_value());
  EXPECT_NE(model_json(a->model)["meta"]["before"], Json())
      << "the report carries the held-out numbers";
  EXPECT_NE(model_json(a->model).dump(), model_json(other->model).dump())
      << "another seed, other redesigns";
}

TEST(TrainGrounding, BeatsPublishedWeightsOnHeldOutRedesigns) {
  auto report = train_grounding(realistic_pages(), quick());
  ASSERT_TRUE(report.has_value()) << report.error().message;
  const GroundingAccuracy& before = report->before;
  const GroundingAccuracy& after = report->after;
  EXPECT_EQ(before.total(), after.total());
  EXPECT_GT(after.total(), 300);
  EXPECT_EQ(after.wrong, 0) << "a wrong click on a held-out redesign";
  EXPECT_GT(after.rate(), before.rate()) << "before " << before.correct << "/" << before.total()
                                         << ", after " << after.correct << "/" << after.total();
  EXPECT_GE(after.rate(), 0.95);

  const Json& meta = report->model.meta;
  EXPECT_EQ(meta["pages"], 3);
  EXPECT_EQ(meta["split"]["training_redesigns"], 3 * 18);
  EXPECT_EQ(meta["split"]["heldout_redesigns"], 3 * 6);
  EXPECT_EQ(meta["split"]["heldout_targets"], after.total());
  EXPECT_EQ(meta["after"]["wrong"], after.wrong);
  EXPECT_GT(report->training_pairs, 1000);
  for (double w : weight_vector(report->model.options.weights)) EXPECT_GE(w, 0.0);
  EXPECT_GE(report->model.options.min_score, 0.40);
  EXPECT_GE(report->model.options.min_margin, 0.04);
}

TEST(TrainGrounding, RejectsWhatCannotBeLearned) {
  std::vector<TrainingPage> none = {{"empty", invoices(), {}}};
  auto no_targets = train_grounding(none, quick());
  ASSERT_FALSE(no_targets.has_value());
  EXPECT_EQ(no_targets.error().code, ErrorCode::kInvalidInput);

  std::vector<TrainingPage> out_of_range = {{"demo-1/pages/01-before.json", support(), {999}}};
  auto bad = train_grounding(out_of_range, quick());
  ASSERT_FALSE(bad.has_value());
  EXPECT_NE(bad.error().message.find("demo-1/pages/01-before.json"), std::string::npos)
      << bad.error().message;

  TrainOptions no_holdout = quick();
  no_holdout.holdout = 0;
  auto h = train_grounding(realistic_pages(), no_holdout);
  ASSERT_FALSE(h.has_value());
  EXPECT_NE(h.error().message.find("holdout"), std::string::npos);
}

// ---------------------------------------------------------------------------
// Real pairs: a new front end the synthetic redesigns do not model. Every
// label, id, class and path is new and the words are unrelated; only the
// tag, role, type and name attribute (what the server reads) are kept.

std::vector<Fingerprint> new_front_end(const std::vector<Fingerprint>& page, uint32_t salt) {
  static const char* kWords[] = {"Tulip",  "Granite", "Harbor", "Pepper", "Orbit",   "Meadow",
                                 "Falcon", "Quartz",  "Willow", "Cobalt", "Saffron", "Lantern"};
  std::vector<Fingerprint> v2;
  for (size_t i = 0; i < page.size(); ++i) {
    const Fingerprint& old = page[i];
    Fingerprint fp;
    fp.tag = old.tag;
    fp.role = old.role;
    fp.type = old.type;
    fp.name_attr = old.name_attr;
    const std::string word = kWords[(i * 7 + salt) % 12];
    if (!old.name.empty()) fp.name = word + " " + std::to_string(i);
    if (!old.text.empty()) fp.text = word + " " + std::to_string(i);
    if (!old.neighbor_text.empty()) fp.neighbor_text = word + " " + std::to_string(i);
    if (!old.href.empty()) fp.href = "/app/" + word;
    if (!old.id.empty()) fp.id = "c" + std::to_string(salt) + "-" + std::to_string(i);
    fp.classes = "mdc-" + old.tag;
    fp.dom_path = "html/body/div/div[2]/section/div[" + std::to_string(i + 1) + "]/" + old.tag;
    fp.x = 300 + 10.0 * static_cast<double>(i % 5);
    fp.y = 90 + 38.0 * static_cast<double>(i);
    fp.width = 280;
    fp.height = 30;
    v2.push_back(std::move(fp));
  }
  return v2;
}

// A person's pick for every target the server names (name attribute): the
// element it became on the new front end.
std::vector<LabelledPair> picks_on_new_front_end(const char* source,
                                                 const std::vector<Fingerprint>& page,
                                                 uint32_t salt) {
  const auto v2 = new_front_end(page, salt);
  std::vector<LabelledPair> pairs;
  for (size_t i = 0; i < page.size(); ++i) {
    if (page[i].name_attr.empty() || !browser::is_interactive(page[i])) continue;
    pairs.push_back({std::string(source) + ":" + std::to_string(i), page[i], v2,
                     static_cast<int>(i), "http://app.test/v2"});
  }
  return pairs;
}

GroundingAccuracy on(const std::vector<LabelledPair>& pairs, const GroundingOptions& options) {
  GroundingAccuracy a;
  for (const LabelledPair& pair : pairs) {
    const GroundingResult r = ground(pair.target, pair.elements, options);
    if (r.status != GroundingResult::Status::kFound) {
      ++a.asked;
    } else if (r.best()->index == pair.answer) {
      ++a.correct;
    } else {
      ++a.wrong;
    }
  }
  return a;
}

TEST(TrainGrounding, RealPairsTeachWhatSyntheticRedesignsDoNot) {
  const auto pages = realistic_pages();
  const auto real = picks_on_new_front_end("settings-v2", settings(), 3);
  const auto unseen = picks_on_new_front_end("support-v2", support(), 5);
  ASSERT_GE(real.size(), 6u);
  ASSERT_GE(unseen.size(), 4u);

  auto without = train_grounding(pages, quick());
  ASSERT_TRUE(without.has_value()) << without.error().message;
  auto with = train_grounding(pages, real, quick());
  ASSERT_TRUE(with.has_value()) << with.error().message;
  auto again = train_grounding(pages, real, quick());
  ASSERT_TRUE(again.has_value()) << again.error().message;
  EXPECT_EQ(model_json(with->model).dump(), model_json(again->model).dump());

  const GroundingAccuracy published = on(real, GroundingOptions{});
  const GroundingAccuracy synthetic_only = on(real, without->model.options);
  const GroundingAccuracy learned = on(real, with->model.options);
  const GroundingAccuracy unseen_before = on(unseen, without->model.options);
  const GroundingAccuracy unseen_after = on(unseen, with->model.options);
  std::printf(
      "real pairs %zu: published %d/%d/%d, synthetic only %d/%d/%d, with picks %d/%d/%d; "
      "unseen %zu: %d/%d/%d -> %d/%d/%d (correct/wrong/asked); held out %d -> %d/%d\n",
      real.size(), published.correct, published.wrong, published.asked, synthetic_only.correct,
      synthetic_only.wrong, synthetic_only.asked, learned.correct, learned.wrong, learned.asked,
      unseen.size(), unseen_before.correct, unseen_before.wrong, unseen_before.asked,
      unseen_after.correct, unseen_after.wrong, unseen_after.asked, without->after.correct,
      with->after.correct, with->after.total());
  EXPECT_EQ(synthetic_only.asked, static_cast<int>(real.size()))
      << "synthetic redesigns alone do not teach this redesign";
  EXPECT_EQ(learned.wrong, 0);
  EXPECT_EQ(learned.correct, static_cast<int>(real.size()));
  EXPECT_EQ(with->real_pairs, static_cast<int>(real.size()));
  EXPECT_EQ(with->real_before.correct, published.correct);
  EXPECT_EQ(with->real_after.correct, learned.correct);
  EXPECT_EQ(with->real_after.wrong, 0);
  EXPECT_EQ(with->model.meta["real_pairs"]["count"], real.size());
  // Never a wrong click, on the held-out redesigns or on another page's new front end.
  EXPECT_EQ(with->after.wrong, 0);
  EXPECT_EQ(unseen_after.wrong, 0);
  // What the picks taught carries over to a page nobody picked on.
  EXPECT_GT(unseen_after.correct, unseen_before.correct);
}

TEST(TrainGrounding, RejectsABrokenRealPair) {
  auto real = picks_on_new_front_end("picks.jsonl:4", settings(), 3);
  ASSERT_FALSE(real.empty());
  real[0].answer = static_cast<int>(real[0].elements.size());
  auto bad = train_grounding(realistic_pages(), real, quick());
  ASSERT_FALSE(bad.has_value());
  EXPECT_EQ(bad.error().code, ErrorCode::kInvalidInput);
  EXPECT_NE(bad.error().message.find(real[0].source), std::string::npos) << bad.error().message;
}

// ---------------------------------------------------------------------------
// The picks file.

TEST(PicksFile, RoundTripsInOrderAndIsEmptyWithoutAFile) {
  testing::TempDir ws;
  auto none = training_pairs(ws.path());
  ASSERT_TRUE(none.has_value()) << none.error().message;
  EXPECT_TRUE(none->empty());

  const auto written = picks_on_new_front_end("x", support(), 2);
  ASSERT_GE(written.size(), 2u);
  EXPECT_EQ(picks_path(ws.path()),
            (fs::path(ws.path()) / ".ergon" / "browser" / "picks.jsonl").string());
  for (const LabelledPair& pair : written) {
    ASSERT_TRUE(append_labelled_pair(picks_path(ws.path()), pair).has_value());
  }
  auto read = training_pairs(ws.path());
  ASSERT_TRUE(read.has_value()) << read.error().message;
  ASSERT_EQ(read->size(), written.size());
  for (size_t k = 0; k < written.size(); ++k) {
    const LabelledPair& a = written[k];
    const LabelledPair& b = (*read)[k];
    EXPECT_EQ(b.source, picks_path(ws.path()) + ":" + std::to_string(k + 1));
    EXPECT_EQ(to_json(b.target), to_json(a.target));
    EXPECT_EQ(b.answer, a.answer);
    EXPECT_EQ(b.url, a.url);
    ASSERT_EQ(b.elements.size(), a.elements.size());
    for (size_t i = 0; i < a.elements.size(); ++i) {
      EXPECT_EQ(to_json(b.elements[i]), to_json(a.elements[i]));
    }
  }
}

TEST(PicksFile, BrokenLineIsAnErrorNamingFileAndLine) {
  testing::TempDir ws;
  const std::string path = picks_path(ws.path());
  const std::string good =
      R"({"target": {"name": "Save"}, "url": "http://a.test/", "elements": [{"name": "Keep"}], "picked": 0})";
  const std::vector<std::pair<std::string, std::string>> broken = {
      {"{not json", "not valid JSON"},
      {R"({"target": {"name": "Save"}, "elements": [{"name": "Keep"}], "picked": 1})", "picked"},
      {R"({"target": {"colour": "red"}, "elements": [], "picked": 0})", "colour"},
      {R"({"target": {"name": "Save"}, "elements": {}, "picked": 0})", "elements"},
      {R"({"target": {"name": "Save"}, "elements": [{"name": "Keep"}], "picked": 0, "value": "hunter2"})",
       "value"},
  };
  fs::create_directories(fs::path(path).parent_path());
  for (const auto& [line, field] : broken) {
    testing::write_file(path, good + "\n\n" + line + "\n");
    auto read = training_pairs(ws.path());
    ASSERT_FALSE(read.has_value()) << line;
    EXPECT_EQ(read.error().code, ErrorCode::kInvalidInput);
    EXPECT_NE(read.error().message.find(path + ":3"), std::string::npos) << read.error().message;
    EXPECT_NE(read.error().message.find(field), std::string::npos) << read.error().message;
  }
  testing::write_file(path, good + "\n");
  auto read = training_pairs(ws.path());
  ASSERT_TRUE(read.has_value()) << read.error().message;
  EXPECT_EQ(read->size(), 1u);
}

// ---------------------------------------------------------------------------
// The model file.

TEST(GroundingModelFile, RoundTripsAndIsAbsentUntilSaved) {
  testing::TempDir ws;
  auto absent = load_grounding_model(ws.path());
  ASSERT_TRUE(absent.has_value()) << absent.error().message;
  EXPECT_FALSE(absent->has_value());

  GroundingModel model;
  model.options.weights.neighbor_text = 3.25;
  model.options.weights.classes = 0;
  model.options.min_score = 0.47;
  model.options.min_margin = 0.05;
  model.meta = {{"seed", 3}, {"note", "made by a test"}};
  ASSERT_TRUE(save_grounding_model(ws.path(), model).has_value());
  EXPECT_EQ(grounding_model_path(ws.path()),
            (fs::path(ws.path()) / ".ergon" / "browser" / "grounding-model.json").string());
  auto loaded = load_grounding_model(ws.path());
  ASSERT_TRUE(loaded.has_value()) << loaded.error().message;
  ASSERT_TRUE(loaded->has_value());
  EXPECT_EQ(model_json(**loaded), model_json(model));
}

TEST(GroundingModelFile, BrokenFileIsAnErrorNamingIt) {
  testing::TempDir ws;
  const std::string path = grounding_model_path(ws.path());
  fs::create_directories(fs::path(path).parent_path());
  const std::vector<std::pair<std::string, std::string>> broken = {
      {"{not json", "not valid JSON"},
      {R"({"weights": {"tag": 1}, "min_score": 0.5})", "min_margin"},
      {R"({"weights": {"tag": -1}, "min_score": 0.5, "min_margin": 0.1})", "tag"},
      {R"({"weights": {"colour": 1}, "min_score": 0.5, "min_margin": 0.1})", "colour"},
      {R"({"weights": {"tag": 1}, "min_score": 1.5, "min_margin": 0.1})", "min_score"},
      {R"({"weights": {"tag": 1}, "min_score": 0.5, "min_margin": 0.1, "extra": 1})", "extra"},
  };
  for (const auto& [text, field] : broken) {
    testing::write_file(path, text);
    auto loaded = load_grounding_model(ws.path());
    ASSERT_FALSE(loaded.has_value()) << text;
    EXPECT_EQ(loaded.error().code, ErrorCode::kInvalidInput);
    EXPECT_NE(loaded.error().message.find(path), std::string::npos) << loaded.error().message;
    EXPECT_NE(loaded.error().message.find(field), std::string::npos) << loaded.error().message;
  }
}

// ---------------------------------------------------------------------------
// Training pages from demonstrations.

void record(const std::string& ws, const std::string& id, const std::string& url,
            const std::vector<Fingerprint>& elements, std::vector<int> targets) {
  Demonstration demo;
  demo.id = id;
  demo.instruction = "do something on " + url;
  demo.kind = "browser";
  demo.connector = "web";
  demo.start_url = url;
  for (size_t k = 0; k < targets.size(); ++k) {
    const std::string before = "0" + std::to_string(k + 1) + "-before.json";
    DemoPage page{url, "Page", elements, targets[k]};
    ASSERT_TRUE(save_demo_page(ws, id, before, page).has_value());
    DemoStep step;
    step.action = "web.click";
    step.with = {{"target", to_json(elements[static_cast<size_t>(targets[k])])}};
    step.page_before = before;
    if (k == 0) {  // an after page without a target
      DemoPage after{url, "Page", elements, -1};
      ASSERT_TRUE(save_demo_page(ws, id, "01-after.json", after).has_value());
      step.page_after = "01-after.json";
    }
    demo.steps.push_back(step);
  }
  ASSERT_TRUE(save_demonstration(ws, demo).has_value());
}

TEST(TrainingPages, FromDemonstrationsDeduplicated) {
  testing::TempDir ws;
  auto empty = training_pages(ws.path());
  ASSERT_TRUE(empty.has_value()) << empty.error().message;
  EXPECT_TRUE(empty->empty());

  const auto form = settings();
  const auto list = invoices();
  record(ws.path(), "demo-1", "http://app.test/settings", form, {4, 8});
  record(ws.path(), "demo-2", "http://app.test/settings", form, {8, 6});  // 8 again
  record(ws.path(), "demo-3", "http://app.test/invoices", list, {9});
  auto pages = training_pages(ws.path());
  ASSERT_TRUE(pages.has_value()) << pages.error().message;
  ASSERT_EQ(pages->size(), 2u);
  EXPECT_EQ((*pages)[0].source, "demo-1/pages/01-before.json");
  EXPECT_EQ((*pages)[0].targets, (std::vector<int>{4, 8, 6}));
  EXPECT_EQ((*pages)[0].elements.size(), form.size());
  EXPECT_EQ((*pages)[1].targets, (std::vector<int>{9}));

  auto report = train_grounding(*pages, quick());
  ASSERT_TRUE(report.has_value()) << report.error().message;
  EXPECT_EQ(report->pages, 2);
}

TEST(TrainingPages, BrokenPageIsAnError) {
  testing::TempDir ws;
  record(ws.path(), "demo-1", "http://app.test/support", support(), {5});
  testing::write_file(
      (fs::path(demonstrations_dir(ws.path())) / "demo-1" / "pages" / "01-before.json").string(),
      "{\"url\": 3}");
  auto pages = training_pages(ws.path());
  ASSERT_FALSE(pages.has_value());
  EXPECT_EQ(pages.error().code, ErrorCode::kInvalidInput);
  EXPECT_NE(pages.error().message.find("01-before.json"), std::string::npos)
      << pages.error().message;
}

// ---------------------------------------------------------------------------
// The browser connector reads the workspace's model when it is built.

TEST(ConnectorModel, BrokenModelFailsConstructionNamingTheFile) {
  testing::TempDir ws;
  const std::string state = (fs::path(ws.path()) / ".ergon" / "browser").string();
  ConnectorConfig config;
  config.name = "web";
  config.kind = "browser";
  config.settings = {{"base_url", "http://127.0.0.1:9"}};
  auto vault_made = Vault::open();
  ASSERT_TRUE(vault_made.has_value()) << vault_made.error().message;
  const Vault& vault = **vault_made;
  {
    auto made = make_browser_connector(config, vault, state);
    EXPECT_TRUE(made.has_value()) << made.error().message;  // no model: the defaults
  }
  GroundingModel model;
  model.options.min_score = 0.6;
  ASSERT_TRUE(save_grounding_model(ws.path(), model).has_value());
  {
    auto made = make_browser_connector(config, vault, state);
    EXPECT_TRUE(made.has_value()) << made.error().message;
  }
  testing::write_file(grounding_model_path(ws.path()), R"({"weights": []})");
  auto made = make_browser_connector(config, vault, state);
  ASSERT_FALSE(made.has_value());
  EXPECT_EQ(made.error().code, ErrorCode::kInvalidInput);
  EXPECT_NE(made.error().message.find(grounding_model_path(ws.path())), std::string::npos)
      << made.error().message;
  EXPECT_NE(made.error().message.find("connector 'web'"), std::string::npos);
}

}  // namespace
}  // namespace ergon
