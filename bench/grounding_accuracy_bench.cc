// Grounding: how often the element a step recorded is found again after a
// redesign, and how fast ground() is on a large page.
//
// Accuracy: four realistic pages (a login form, a shop search with results, a
// prior-authorisation form with ~20 fields, an appointment schedule with a
// table of slots) are each redesigned N times by browser::mutate (seeded);
// every interactive element's original fingerprint is grounded on the
// redesigned page and the answer is counted as correct (found, the element it
// became), wrong (found, another element) or asked (ambiguous or weak: the
// engine would ask a person). The numbers are printed before the benchmarks
// run and reported as counters of BM_MutatedPagesAccuracy.
//
// Learned vs published: train_grounding (src/learn/train.cc) learns weights
// and thresholds on redesigns of the same four pages (seeds from
// --train-seed, top bit set), then both the published Similo weights and the
// learned model are measured in the same run on (a) train_grounding's own
// held-out redesigns and (b) the seeds above with the default
// MutationOptions, which no training redesign uses. Printed, and reported as
// counters of BM_LearnedVsPublished.
//
//   grounding_accuracy_bench [--seeds=N] [--first-seed=S] [--show=K] [--weights=weights.json]
//                            [--min-score=S] [--min-margin=M] [--train-seed=N]
//                            [--train-mutations=N] [--holdout=F] [--epochs=N]
//                            [--save-model=DIR] [benchmark flags]
#include <benchmark/benchmark.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <optional>
#include <string>
#include <vector>

#include "connect/browser/mutate.h"
#include "ergon/grounding.h"
#include "ergon/learn.h"

namespace ergon {
namespace {

// ---------------------------------------------------------------------------
// Pages, as an observation would record them.

class PageBuilder {
 public:
  Fingerprint& add(std::string tag, std::string role, std::string path, double x, double y,
                   double w, double h) {
    Fingerprint fp;
    fp.tag = std::move(tag);
    fp.role = std::move(role);
    fp.dom_path = std::move(path);
    fp.x = x;
    fp.y = y;
    fp.width = w;
    fp.height = h;
    elements_.push_back(std::move(fp));
    return elements_.back();
  }

  Fingerprint& text(std::string tag, std::string role, std::string text, std::string path, double x,
                    double y, double w = 300, double h = 20) {
    Fingerprint& fp = add(std::move(tag), std::move(role), std::move(path), x, y, w, h);
    fp.text = std::move(text);
    return fp;
  }

  Fingerprint& link(std::string name, std::string href, std::string path, double x, double y,
                    double w = 80) {
    Fingerprint& fp = add("a", "link", std::move(path), x, y, w, 20);
    fp.name = name;
    fp.text = std::move(name);
    fp.href = std::move(href);
    return fp;
  }

  Fingerprint& button(std::string name, std::string id, std::string classes, std::string path,
                      double x, double y, double w = 140) {
    Fingerprint& fp = add("button", "button", std::move(path), x, y, w, 40);
    fp.name = name;
    fp.text = std::move(name);
    fp.id = std::move(id);
    fp.classes = std::move(classes);
    fp.type = "submit";
    return fp;
  }

  // A labelled form field: the <label> (readable) and the control.
  Fingerprint& field(std::string label, std::string id, std::string type, std::string role,
                     std::string container, double x, double y, double w = 320) {
    text("label", "", label, container + "/label", x, y, w, 20).neighbor_text.clear();
    const std::string tag = type == "textarea" ? "textarea" : type == "select" ? "select" : "input";
    Fingerprint& fp = add(tag, std::move(role), container + "/" + tag, x, y + 24, w,
                          type == "textarea" ? 96 : 36);
    fp.name = label;
    fp.neighbor_text = std::move(label);
    fp.id = id;
    std::string name_attr = std::move(id);
    for (char& c : name_attr) c = c == '-' ? '_' : c;
    fp.name_attr = std::move(name_attr);
    if (tag == "input") fp.type = std::move(type);
    fp.classes = tag == "select" ? "form-select" : "form-control";
    return fp;
  }

  Fingerprint& choice(std::string label, std::string id, std::string name_attr, std::string type,
                      std::string container, double x, double y) {
    Fingerprint& fp = add("input", type, container + "/input", x, y, 16, 16);
    fp.type = std::move(type);
    fp.name = label;
    fp.neighbor_text = label;
    fp.id = std::move(id);
    fp.name_attr = std::move(name_attr);
    fp.classes = "form-check-input";
    text("label", "", std::move(label), container + "/label", x + 24, y - 2, 260, 20);
    return fp;
  }

  std::vector<Fingerprint> take() { return std::move(elements_); }

 private:
  std::vector<Fingerprint> elements_;
};

void site_header(PageBuilder& p, const std::string& brand) {
  Fingerprint& logo = p.link(brand, "/", "html/body/header/a", 24, 16, 120);
  logo.alt = brand + " logo";
  const char* items[] = {"Home", "Pricing", "Docs", "Sign in"};
  const char* hrefs[] = {"/", "/pricing", "/docs", "/login"};
  for (int i = 0; i < 4; ++i) {
    const std::string step = i == 0 ? "a" : "a[" + std::to_string(i + 1) + "]";
    Fingerprint& fp =
        p.link(items[i], hrefs[i], "html/body/header/nav/" + step, 760 + 110.0 * i, 20);
    fp.classes = "nav-link";
  }
}

void site_footer(PageBuilder& p, double y) {
  const char* items[] = {"Privacy", "Terms", "Status", "Contact"};
  for (int i = 0; i < 4; ++i) {
    const std::string step = i == 0 ? "a" : "a[" + std::to_string(i + 1) + "]";
    p.link(items[i], "/" + std::string(items[i]), "html/body/footer/" + step, 24 + 100.0 * i, y)
        .classes = "footer-link";
  }
}

std::vector<Fingerprint> login_page() {
  PageBuilder p;
  site_header(p, "Acme");
  p.text("h1", "heading", "Sign in to Acme", "html/body/main/div/h1", 480, 120, 320, 36);
  const std::string form = "html/body/main/div/form";
  Fingerprint& email = p.field("Email", "email", "email", "textbox", form + "/div", 480, 180);
  email.placeholder = "you@example.com";
  p.field("Password", "password", "password", "textbox", form + "/div[2]", 480, 250);
  p.choice("Remember me", "remember", "remember", "checkbox", form + "/div[3]", 480, 324);
  p.link("Forgot password?", "/forgot", form + "/div[3]/a", 680, 322, 120).classes = "small-link";
  p.button("Sign in", "login", "btn btn-primary w-full", form + "/button", 480, 360, 320);
  p.text("p", "", "New to Acme?", "html/body/main/div/p", 480, 420, 120);
  p.link("Create an account", "/signup", "html/body/main/div/p/a", 600, 420, 140);
  site_footer(p, 900);
  return p.take();
}

std::vector<Fingerprint> search_page() {
  PageBuilder p;
  Fingerprint& logo = p.link("Trailhead Outfitters", "/", "html/body/header/a", 24, 16, 160);
  logo.alt = "Trailhead logo";
  Fingerprint& q = p.add("input", "searchbox", "html/body/header/form/input", 300, 14, 420, 36);
  q.type = "search";
  q.id = "q";
  q.name_attr = "q";
  q.name = "Search products";
  q.aria_label = "Search products";
  q.placeholder = "Search products";
  q.classes = "search-input";
  p.button("Search", "search-button", "btn search-btn", "html/body/header/form/button", 724, 14,
           90);
  p.link("Cart (2)", "/cart", "html/body/header/nav/a", 1080, 20).classes = "nav-link cart";
  p.link("Account", "/account", "html/body/header/nav/a[2]", 1160, 20).classes = "nav-link";

  p.text("h2", "heading", "Filters", "html/body/div/aside/h2", 24, 100, 200, 28);
  p.field("Category", "category", "select", "combobox", "html/body/div/aside/div", 24, 140, 220);
  p.choice("In stock", "in-stock", "in_stock", "checkbox", "html/body/div/aside/div[2]", 24, 220);
  p.choice("On sale", "on-sale", "on_sale", "checkbox", "html/body/div/aside/div[3]", 24, 250);
  p.field("Min price", "min-price", "number", "spinbutton", "html/body/div/aside/div[4]", 24, 280,
          100);
  p.field("Max price", "max-price", "number", "spinbutton", "html/body/div/aside/div[5]", 140, 280,
          100);
  p.button("Apply filters", "apply", "btn btn-secondary", "html/body/div/aside/button", 24, 350,
           220);

  p.field("Sort by", "sort", "select", "combobox", "html/body/div/main/div", 300, 100, 200);
  const char* products[] = {"Trail running shoe Aero",
                            "Trail running shoe Grip",
                            "Hiking boot Summit",
                            "Hiking boot Summit GTX",
                            "Rain jacket Drizzle",
                            "Insulated jacket Ember",
                            "Daypack 22 L",
                            "Headlamp 400 lm"};
  const char* prices[] = {"€89.00",  "€95.00",  "€149.00", "€169.00",
                          "€119.00", "€179.00", "€59.00",  "€39.00"};
  for (int i = 0; i < 8; ++i) {
    const std::string article = "html/body/div/main/section/article" +
                                (i == 0 ? std::string() : "[" + std::to_string(i + 1) + "]");
    const double x = 300 + 230.0 * (i % 4), y = 170 + 330.0 * (i / 4);
    p.add("img", "img", article + "/img", x, y, 200, 160).alt = products[i];
    Fingerprint& title =
        p.link(products[i], "/p/" + std::to_string(1001 + i), article + "/h3/a", x, y + 170, 200);
    title.classes = "product-title";
    p.text("p", "", prices[i], article + "/p", x, y + 200, 80);
    Fingerprint& add =
        p.button("Add to cart", "", "btn add-to-cart", article + "/button", x, y + 230, 200);
    add.type = "button";
    add.neighbor_text = std::string(products[i]) + " " + prices[i];
  }
  const char* pages[] = {"Previous", "1", "2", "3", "Next"};
  for (int i = 0; i < 5; ++i) {
    const std::string step = i == 0 ? "a" : "a[" + std::to_string(i + 1) + "]";
    p.link(pages[i], "?page=" + std::to_string(i), "html/body/div/main/nav/" + step, 560 + 70.0 * i,
           860, 60)
        .classes = "page-link";
  }
  site_footer(p, 1000);
  return p.take();
}

std::vector<Fingerprint> preauth_page() {
  PageBuilder p;
  site_header(p, "CareBridge");
  p.text("h1", "heading", "Request prior authorisation", "html/body/main/h1", 240, 100, 600, 36);
  const std::string form = "html/body/main/form";
  struct FieldSpec {
    const char* label;
    const char* id;
    const char* type;
    const char* role;
  };
  const FieldSpec patient[] = {{"Patient first name", "patient-first-name", "text", "textbox"},
                               {"Patient last name", "patient-last-name", "text", "textbox"},
                               {"Date of birth", "patient-dob", "date", "textbox"},
                               {"Member ID", "member-id", "text", "textbox"},
                               {"Group number", "group-number", "text", "textbox"},
                               {"Insurance plan", "plan", "select", "combobox"}};
  const FieldSpec provider[] = {{"Provider name", "provider-name", "text", "textbox"},
                                {"Provider NPI", "provider-npi", "text", "textbox"},
                                {"Provider phone", "provider-phone", "tel", "textbox"},
                                {"Provider fax", "provider-fax", "tel", "textbox"}};
  const FieldSpec service[] = {{"Diagnosis code (ICD-10)", "diagnosis-code", "text", "textbox"},
                               {"Secondary diagnosis code", "diagnosis-code-2", "text", "textbox"},
                               {"Procedure code (CPT)", "procedure-code", "text", "textbox"},
                               {"Date of service", "service-date", "date", "textbox"},
                               {"Place of service", "place-of-service", "select", "combobox"},
                               {"Number of units", "units", "number", "spinbutton"}};
  double y = 160;
  auto section = [&](int n, const char* legend, const FieldSpec* specs, int count) {
    const std::string fieldset = form + "/fieldset" + (n == 1 ? "" : "[" + std::to_string(n) + "]");
    p.text("legend", "", legend, fieldset + "/legend", 240, y, 400, 24);
    y += 40;
    for (int i = 0; i < count; ++i) {
      const std::string div = fieldset + "/div" + (i == 0 ? "" : "[" + std::to_string(i + 1) + "]");
      const double x = i % 2 ? 600 : 240;
      p.field(specs[i].label, specs[i].id, specs[i].type, specs[i].role, div, x, y);
      if (i % 2) y += 72;
    }
    if (count % 2) y += 72;
    y += 16;
  };
  section(1, "Patient", patient, 6);
  section(2, "Provider", provider, 4);
  section(3, "Service", service, 6);
  const std::string urgency = form + "/fieldset[4]";
  p.text("legend", "", "Urgency", urgency + "/legend", 240, y, 400, 24);
  p.choice("Standard (up to 14 days)", "urgency-standard", "urgency", "radio", urgency + "/div",
           240, y + 36);
  p.choice("Urgent (72 hours)", "urgency-urgent", "urgency", "radio", urgency + "/div[2]", 520,
           y + 36);
  y += 80;
  p.field("Clinical notes", "clinical-notes", "textarea", "textbox", form + "/div", 240, y, 680);
  y += 140;
  Fingerprint& attach = p.add("input", "button", form + "/div[2]/input", 240, y, 240, 36);
  attach.type = "file";
  attach.name = "Attach records";
  attach.id = "records";
  attach.name_attr = "records";
  attach.neighbor_text = "Attach records (PDF, up to 10 MB)";
  y += 56;
  p.choice("I attest that the information above is accurate", "attest", "attest", "checkbox",
           form + "/div[3]", 240, y);
  y += 48;
  p.button("Submit request", "submit-request", "btn btn-primary", form + "/div[4]/button", 240, y,
           180);
  p.button("Save draft", "save-draft", "btn btn-secondary", form + "/div[4]/button[2]", 436, y, 140)
      .type = "button";
  p.link("Cancel", "/requests", form + "/div[4]/a", 600, y + 10).classes = "btn-link";
  site_footer(p, y + 200);
  return p.take();
}

std::vector<Fingerprint> schedule_page() {
  PageBuilder p;
  site_header(p, "CareBridge");
  p.text("h1", "heading", "Book an appointment", "html/body/main/h1", 240, 100, 600, 36);
  p.field("Provider", "provider", "select", "combobox", "html/body/main/div", 240, 150, 300);
  p.field("Location", "location", "select", "combobox", "html/body/main/div[2]", 580, 150, 300);
  p.button("Previous week", "prev-week", "btn btn-light", "html/body/main/div[3]/button", 240, 230)
      .type = "button";
  p.text("h2", "heading", "12 – 16 May", "html/body/main/div[3]/h2", 420, 236, 200, 28);
  p.button("Next week", "next-week", "btn btn-light", "html/body/main/div[3]/button[2]", 640, 230)
      .type = "button";
  const char* days[] = {"Mon 12 May", "Tue 13 May", "Wed 14 May", "Thu 15 May", "Fri 16 May"};
  const char* times[] = {"09:00", "09:30", "10:00", "10:30", "11:00"};
  const std::string table = "html/body/main/table";
  for (int d = 0; d < 5; ++d) {
    const std::string th =
        table + "/thead/tr/th" + (d == 0 ? "" : "[" + std::to_string(d + 1) + "]");
    p.text("th", "columnheader", days[d], th, 240 + 140.0 * d, 300, 130, 24);
  }
  for (int t = 0; t < 5; ++t) {
    const std::string tr = table + "/tbody/tr" + (t == 0 ? "" : "[" + std::to_string(t + 1) + "]");
    for (int d = 0; d < 5; ++d) {
      const std::string td = tr + "/td" + (d == 0 ? "" : "[" + std::to_string(d + 1) + "]");
      Fingerprint& slot =
          p.button(times[t], "", "slot", td + "/button", 240 + 140.0 * d, 340 + 48.0 * t, 120);
      slot.type = "button";
      slot.name = std::string(days[d]) + ", " + times[t];
      slot.aria_label = slot.name;
      slot.neighbor_text = days[d];
    }
  }
  p.field("Notes for the clinic", "notes", "textarea", "textbox", "html/body/main/div[4]", 240, 620,
          680);
  p.choice("Send me a reminder by SMS", "sms-reminder", "sms_reminder", "checkbox",
           "html/body/main/div[5]", 240, 760);
  p.button("Confirm appointment", "confirm", "btn btn-primary", "html/body/main/div[6]/button", 240,
           800, 220);
  p.link("Cancel", "/appointments", "html/body/main/div[6]/a", 480, 810).classes = "btn-link";
  site_footer(p, 1000);
  return p.take();
}

struct NamedPage {
  const char* name;
  std::vector<Fingerprint> elements;
};

std::vector<NamedPage> pages() {
  return {{"login", login_page()},
          {"search", search_page()},
          {"preauth", preauth_page()},
          {"schedule", schedule_page()}};
}

// ---------------------------------------------------------------------------
// Accuracy.

struct Tally {
  int correct = 0, wrong = 0, asked = 0, healed = 0;
  int total() const { return correct + wrong + asked; }
  void add(const Tally& o) {
    correct += o.correct;
    wrong += o.wrong;
    asked += o.asked;
    healed += o.healed;
  }
};

struct Accuracy {
  std::vector<std::pair<std::string, Tally>> per_page;
  Tally all;
  std::vector<std::string> examples;  // wrong answers first, then some asked
};

int g_seeds = 50;
int g_first_seed = 1;  // seeds g_first_seed .. g_first_seed + g_seeds - 1
GroundingOptions g_options;

Accuracy measure(int seeds, size_t show, const GroundingOptions& options = {}) {
  Accuracy accuracy;
  std::vector<std::string> asked_examples;
  const browser::MutationOptions redesign;
  for (const NamedPage& page : pages()) {
    Tally tally;
    for (int seed = g_first_seed; seed < g_first_seed + seeds; ++seed) {
      const browser::Mutation m =
          browser::mutate(page.elements, redesign, static_cast<uint32_t>(seed));
      for (size_t i = 0; i < page.elements.size(); ++i) {
        if (!browser::is_interactive(page.elements[i])) continue;
        const int expected = m.moved_to[i];
        const GroundingResult r = ground(page.elements[i], m.page, options);
        const std::string where = std::string(page.name) + " seed " + std::to_string(seed) +
                                  " element [" + std::to_string(i) + "] expected [" +
                                  std::to_string(expected) + "]: " + r.explanation;
        if (r.status == GroundingResult::Status::kFound) {
          if (r.best()->index == expected) {
            ++tally.correct;
            tally.healed += r.healed ? 1 : 0;
          } else {
            ++tally.wrong;
            if (accuracy.examples.size() < show) {
              accuracy.examples.push_back("WRONG " + where + "\n    redesign: " + m.description);
            }
          }
        } else {
          ++tally.asked;
          if (asked_examples.size() < show) asked_examples.push_back("asked " + where);
        }
      }
    }
    accuracy.per_page.emplace_back(page.name, tally);
    accuracy.all.add(tally);
  }
  for (auto& e : asked_examples) {
    if (accuracy.examples.size() < show) accuracy.examples.push_back(std::move(e));
  }
  return accuracy;
}

double percent(int part, int whole) {
  return whole == 0 ? 0.0 : 100.0 * part / whole;
}

void print(const Accuracy& accuracy, int seeds) {
  std::printf("grounding accuracy over %d seeded redesigns per page (default MutationOptions)\n",
              seeds);
  auto line = [](const std::string& name, const Tally& t) {
    std::printf("  %-9s %6d targets: %6.2f%% correct, %d wrong, %6.2f%% asked (%d); %d healed\n",
                name.c_str(), t.total(), percent(t.correct, t.total()), t.wrong,
                percent(t.asked, t.total()), t.asked, t.healed);
  };
  for (const auto& [name, tally] : accuracy.per_page) line(name, tally);
  line("all", accuracy.all);
  for (const std::string& e : accuracy.examples) std::printf("  %s\n", e.c_str());
  std::fflush(stdout);
}

void BM_MutatedPagesAccuracy(benchmark::State& state) {
  Accuracy accuracy;
  for (auto _ : state) accuracy = measure(g_seeds, 0, g_options);
  const Tally& t = accuracy.all;
  state.counters["targets"] = t.total();
  state.counters["correct_pct"] = percent(t.correct, t.total());
  state.counters["wrong"] = t.wrong;
  state.counters["asked_pct"] = percent(t.asked, t.total());
}
BENCHMARK(BM_MutatedPagesAccuracy)->Iterations(1)->Unit(benchmark::kMillisecond);

// ---------------------------------------------------------------------------
// Learned vs published weights, same pages, same run.

TrainOptions g_train;
std::string g_save_model;  // a workspace directory to write the learned model into

struct Comparison {
  TrainReport report;
  Accuracy published;  // default-option redesigns, seeds g_first_seed.., Similo weights
  Accuracy learned;    // the same redesigns, the learned model
  double train_ms = 0;
};

std::vector<TrainingPage> training_set() {
  std::vector<TrainingPage> out;
  for (NamedPage& page : pages()) {
    TrainingPage t;
    t.source = page.name;
    t.elements = std::move(page.elements);
    for (size_t i = 0; i < t.elements.size(); ++i) {
      if (browser::is_interactive(t.elements[i])) t.targets.push_back(static_cast<int>(i));
    }
    out.push_back(std::move(t));
  }
  return out;
}

std::optional<Comparison> compare(size_t show) {
  const auto start = std::chrono::steady_clock::now();
  auto report = train_grounding(training_set(), g_train);
  if (!report) {
    std::fprintf(stderr, "train_grounding: %s\n", report.error().message.c_str());
    return std::nullopt;
  }
  Comparison c;
  c.train_ms =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
  c.report = std::move(*report);
  c.published = measure(g_seeds, 0, GroundingOptions{});
  c.learned = measure(g_seeds, show, c.report.model.options);
  return c;
}

void print(const Comparison& c) {
  const Json& meta = c.report.model.meta;
  const Json& split = meta["split"];
  std::printf(
      "\nlearned vs published weights (train_grounding seed %u, %d redesigns per page, holdout "
      "%.2f, %d epochs; trained in %.0f ms)\n",
      g_train.seed, g_train.mutations_per_page, g_train.holdout, g_train.epochs, c.train_ms);
  std::printf("  training: %d pages, %d redesigns, %d targets, %d pairs\n", c.report.pages,
              split.value("training_redesigns", 0), split.value("training_targets", 0),
              c.report.training_pairs);
  auto row = [](const char* set, const char* who, int correct, int wrong, int asked) {
    const int total = correct + wrong + asked;
    std::printf("  %-34s %-10s %6d targets: %6.2f%% correct, %d wrong, %6.2f%% asked\n", set, who,
                total, percent(correct, total), wrong, percent(asked, total));
  };
  const GroundingAccuracy& b = c.report.before;
  const GroundingAccuracy& a = c.report.after;
  row("held-out redesigns (train_grounding)", "published", b.correct, b.wrong, b.asked);
  row("", "learned", a.correct, a.wrong, a.asked);
  char seeds[64];
  std::snprintf(seeds, sizeof seeds, "default redesigns, seeds %d-%d", g_first_seed,
                g_first_seed + g_seeds - 1);
  const Tally& p = c.published.all;
  const Tally& l = c.learned.all;
  row(seeds, "published", p.correct, p.wrong, p.asked);
  row("", "learned", l.correct, l.wrong, l.asked);
  for (size_t k = 0; k < c.learned.per_page.size(); ++k) {
    const Tally& t = c.learned.per_page[k].second;
    const Tally& t0 = c.published.per_page[k].second;
    std::printf("    %-9s published %6.2f%% (%d wrong)  learned %6.2f%% (%d wrong)\n",
                c.learned.per_page[k].first.c_str(), percent(t0.correct, t0.total()), t0.wrong,
                percent(t.correct, t.total()), t.wrong);
  }
  const GroundingOptions& o = c.report.model.options;
  std::printf("  learned thresholds: min_score %.2f, min_margin %.2f\n  learned weights:",
              o.min_score, o.min_margin);
  const auto w = weight_vector(o.weights);
  for (size_t i = 0; i < w.size(); ++i) {
    std::printf("%s %s %.3g", i == 0 ? "" : ",", std::string(property_keys()[i]).c_str(), w[i]);
  }
  std::printf("\n");
  for (const std::string& e : c.learned.examples) std::printf("  %s\n", e.c_str());
  std::fflush(stdout);
}

std::optional<Comparison> g_comparison;

void BM_LearnedVsPublished(benchmark::State& state) {
  if (!g_comparison) {
    state.SkipWithError("training failed");
    return;
  }
  Accuracy learned;
  for (auto _ : state) learned = measure(g_seeds, 0, g_comparison->report.model.options);
  const Comparison& c = *g_comparison;
  state.counters["heldout_targets"] = c.report.after.total();
  state.counters["heldout_published_pct"] = 100.0 * c.report.before.rate();
  state.counters["heldout_published_wrong"] = c.report.before.wrong;
  state.counters["heldout_learned_pct"] = 100.0 * c.report.after.rate();
  state.counters["heldout_learned_wrong"] = c.report.after.wrong;
  state.counters["default_published_pct"] =
      percent(c.published.all.correct, c.published.all.total());
  state.counters["default_published_wrong"] = c.published.all.wrong;
  state.counters["default_learned_pct"] = percent(learned.all.correct, learned.all.total());
  state.counters["default_learned_wrong"] = learned.all.wrong;
  state.counters["train_ms"] = c.train_ms;
}
BENCHMARK(BM_LearnedVsPublished)->Iterations(1)->Unit(benchmark::kMillisecond);

// ---------------------------------------------------------------------------
// Speed: a 5,000-element page (an admin table of 1,000 rows × 5 controls).

std::vector<Fingerprint> large_page() {
  PageBuilder p;
  const char* customers[] = {"Acme Corp",         "Globex", "Initech",
                             "Umbrella",          "Hooli",  "Stark Industries",
                             "Wayne Enterprises", "Wonka",  "Cyberdyne"};
  for (int r = 0; r < 1000; ++r) {
    const std::string tr =
        "html/body/main/table/tbody/tr" + (r == 0 ? "" : "[" + std::to_string(r + 1) + "]");
    const std::string invoice = "INV-" + std::to_string(20240 + r);
    const std::string row_text =
        invoice + " " + customers[r % 9] + " " + std::to_string(100 + (r * 37) % 900) + ".00 EUR";
    const double y = 120 + 44.0 * r;
    Fingerprint& check = p.add("input", "checkbox", tr + "/td/input", 24, y, 16, 16);
    check.type = "checkbox";
    check.name = "Select " + invoice;
    check.name_attr = "selected";
    check.neighbor_text = row_text;
    Fingerprint& open =
        p.link(invoice, "/invoices/" + std::to_string(20240 + r), tr + "/td[2]/a", 60, y, 100);
    open.neighbor_text = row_text;
    Fingerprint& amount = p.add("input", "spinbutton", tr + "/td[3]/input", 400, y, 120, 32);
    amount.type = "number";
    amount.name = "Amount for " + invoice;
    amount.name_attr = "amount[" + std::to_string(r) + "]";
    amount.neighbor_text = row_text;
    Fingerprint& edit = p.button("Edit", "", "btn btn-sm", tr + "/td[4]/button", 560, y, 60);
    edit.aria_label = "Edit " + invoice;
    edit.neighbor_text = row_text;
    Fingerprint& remove =
        p.button("Delete", "", "btn btn-sm btn-danger", tr + "/td[4]/button[2]", 630, y, 70);
    remove.aria_label = "Delete " + invoice;
    remove.neighbor_text = row_text;
  }
  return p.take();
}

void BM_Ground5000(benchmark::State& state) {
  const std::vector<Fingerprint> page = large_page();
  const int expected = 703 * 5 + 3;  // row 703's "Edit"
  Fingerprint target = page[static_cast<size_t>(expected)];
  target.classes = "btn btn-small";  // recorded before a restyle
  target.y = *target.y + 6;
  bool right = true;
  for (auto _ : state) {
    const GroundingResult r = ground(target, page);
    right = right && r.status == GroundingResult::Status::kFound && r.best()->index == expected;
    benchmark::DoNotOptimize(r);
  }
  state.counters["candidates"] = static_cast<double>(page.size());
  state.counters["right"] = right ? 1 : 0;
}
BENCHMARK(BM_Ground5000)->Unit(benchmark::kMillisecond);

void BM_GroundPreauthPage(benchmark::State& state) {
  const std::vector<Fingerprint> page = preauth_page();
  const browser::Mutation m = browser::mutate(page, {}, 42);
  size_t i = 0;
  for (auto _ : state) {
    while (!browser::is_interactive(page[i % page.size()])) ++i;
    benchmark::DoNotOptimize(ground(page[i % page.size()], m.page));
    ++i;
  }
  state.counters["candidates"] = static_cast<double>(m.page.size());
}
BENCHMARK(BM_GroundPreauthPage)->Unit(benchmark::kMicrosecond);

}  // namespace
}  // namespace ergon

int main(int argc, char** argv) {
  size_t show = 10;
  std::vector<char*> rest;
  for (int i = 0; i < argc; ++i) {
    const std::string_view arg = argv[i];
    auto value = [&](std::string_view flag) -> const char* {
      return arg.starts_with(flag) ? argv[i] + flag.size() : nullptr;
    };
    if (const char* v = value("--seeds=")) {
      ergon::g_seeds = std::atoi(v);
    } else if (const char* v = value("--first-seed=")) {
      ergon::g_first_seed = std::atoi(v);
    } else if (const char* v = value("--show=")) {
      show = static_cast<size_t>(std::atoi(v));
    } else if (const char* v = value("--min-score=")) {
      ergon::g_options.min_score = std::atof(v);
    } else if (const char* v = value("--min-margin=")) {
      ergon::g_options.min_margin = std::atof(v);
    } else if (const char* v = value("--train-seed=")) {
      ergon::g_train.seed = static_cast<uint32_t>(std::strtoul(v, nullptr, 10));
    } else if (const char* v = value("--train-mutations=")) {
      ergon::g_train.mutations_per_page = std::atoi(v);
    } else if (const char* v = value("--holdout=")) {
      ergon::g_train.holdout = std::atof(v);
    } else if (const char* v = value("--epochs=")) {
      ergon::g_train.epochs = std::atoi(v);
    } else if (const char* v = value("--save-model=")) {
      ergon::g_save_model = v;
    } else if (const char* v = value("--weights=")) {  // a JSON file of GroundingWeights
      std::ifstream in(v);
      auto weights = ergon::grounding_weights_from_json(ergon::Json::parse(in, nullptr, false));
      if (!weights) {
        std::fprintf(stderr, "%s: %s\n", v, weights.error().message.c_str());
        return 2;
      }
      ergon::g_options.weights = *weights;
    } else {
      rest.push_back(argv[i]);
    }
  }
  ergon::print(ergon::measure(ergon::g_seeds, show, ergon::g_options), ergon::g_seeds);
  ergon::g_comparison = ergon::compare(show);
  if (!ergon::g_comparison) return 1;
  ergon::print(*ergon::g_comparison);
  if (!ergon::g_save_model.empty()) {
    if (auto saved =
            ergon::save_grounding_model(ergon::g_save_model, ergon::g_comparison->report.model);
        !saved) {
      std::fprintf(stderr, "%s\n", saved.error().message.c_str());
      return 1;
    }
    std::printf("  wrote %s\n", ergon::grounding_model_path(ergon::g_save_model).c_str());
  }
  int rest_argc = static_cast<int>(rest.size());
  benchmark::Initialize(&rest_argc, rest.data());
  if (benchmark::ReportUnrecognizedArguments(rest_argc, rest.data())) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
