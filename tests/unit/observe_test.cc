// observe_page() and describe() against a real Chromium and pages served by a
// local HTTP server. One browser serves the suite; each test opens its own tab.
#include <gtest/gtest.h>
#include <httplib.h>

#include <algorithm>
#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "ergon/browser.h"
#include "ergon/cdp.h"
#include "support/process.h"

namespace ergon {
namespace {

using namespace std::chrono_literals;

// Pages on 127.0.0.1, port 0, by path. The same pages answer on "localhost",
// a different site, which Chromium puts in a process of its own.
class PageServer {
 public:
  PageServer() {
    server_.Get(".*", [this](const httplib::Request& req, httplib::Response& res) {
      std::lock_guard lock(mu_);
      auto page = pages_.find(req.path);
      if (page == pages_.end()) {
        res.status = 404;
        return;
      }
      res.set_content(page->second, "text/html; charset=utf-8");
    });
    port_ = server_.bind_to_any_port("127.0.0.1");
    thread_ = std::thread([this] { server_.listen_after_bind(); });
    while (!server_.is_running()) std::this_thread::sleep_for(1ms);
  }
  ~PageServer() {
    server_.stop();
    thread_.join();
  }
  void add(const std::string& path, const std::string& html) {
    std::lock_guard lock(mu_);
    pages_[path] = html;
  }
  std::string url(const std::string& path) const {
    return "http://127.0.0.1:" + std::to_string(port_) + path;
  }
  std::string other_site_url(const std::string& path) const {
    return "http://localhost:" + std::to_string(port_) + path;
  }

 private:
  httplib::Server server_;
  int port_ = 0;
  std::thread thread_;
  std::mutex mu_;
  std::map<std::string, std::string> pages_;
};

class ObserveTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new testing::TempDir();
    server_ = new PageServer();
    ChromiumOptions options;
    options.profile_dir = dir_->file("profile");
    // The 5,000-element page's accessibility tree is a 12 MB answer: give
    // slow (sanitizer, debug, loaded) builds room.
    options.command_timeout = std::chrono::milliseconds(60000);
    auto browser = Chromium::launch(options);
    if (browser)
      browser_ = browser->release();
    else
      launch_error_ = browser.error().message;
  }
  static void TearDownTestSuite() {
    delete browser_;
    browser_ = nullptr;
    delete server_;
    delete dir_;
  }

  void SetUp() override { ASSERT_NE(browser_, nullptr) << "chromium: " << launch_error_; }
  void TearDown() override {
    if (browser_ != nullptr && !target_.empty()) {
      (void)browser_->call("Target.closeTarget", {{"targetId", target_}});
    }
  }

  // Serves `html` at `path`, opens it in a fresh tab and waits for its load
  // event (iframes included). Returns the tab's session.
  std::string open(const std::string& path, const std::string& html) {
    server_->add(path, html);
    return open_url(server_->url(path));
  }
  std::string open_url(const std::string& url) {
    std::string session = attach();
    if (!session.empty()) navigate(session, url);
    return session;
  }
  // A fresh blank tab, attached with flatten:true.
  std::string attach() {
    auto target = browser_->call("Target.createTarget", {{"url", "about:blank"}});
    EXPECT_TRUE(target.has_value()) << target.error().message;
    if (!target) return "";
    target_ = (*target)["targetId"].get<std::string>();
    auto attached =
        browser_->call("Target.attachToTarget", {{"targetId", target_}, {"flatten", true}});
    EXPECT_TRUE(attached.has_value()) << attached.error().message;
    if (!attached) return "";
    std::string session = (*attached)["sessionId"].get<std::string>();
    EXPECT_TRUE(browser_->call("Page.enable", Json::object(), session).has_value());
    return session;
  }
  void navigate(const std::string& session, const std::string& url) {
    auto loaded = browser_->expect([session](const CdpEvent& e) {
      return e.session == session && e.method == "Page.loadEventFired";
    });
    auto navigated = browser_->call("Page.navigate", {{"url", url}}, session);
    EXPECT_TRUE(navigated.has_value()) << navigated.error().message;
    auto event = loaded->wait(15s);
    EXPECT_TRUE(event.has_value()) << event.error().message;
  }

  PageSnapshot observe(const std::string& session) {
    auto snapshot = observe_page(*browser_, session);
    EXPECT_TRUE(snapshot.has_value()) << snapshot.error().message;
    return snapshot ? std::move(*snapshot) : PageSnapshot{};
  }

  Json evaluate(const std::string& session, const std::string& expression) {
    auto answer = browser_->call("Runtime.evaluate",
                                 {{"expression", expression}, {"returnByValue", true}}, session);
    EXPECT_TRUE(answer.has_value()) << answer.error().message;
    return answer ? (*answer)["result"].value("value", Json()) : Json();
  }

  static testing::TempDir* dir_;
  static PageServer* server_;
  static Chromium* browser_;
  static std::string launch_error_;
  std::string target_;
};

testing::TempDir* ObserveTest::dir_ = nullptr;
PageServer* ObserveTest::server_ = nullptr;
Chromium* ObserveTest::browser_ = nullptr;
std::string ObserveTest::launch_error_;

const PageElement* find(const PageSnapshot& snapshot, const std::string& role,
                        const std::string& name) {
  for (const PageElement& e : snapshot.elements) {
    if (e.fp.role == role && e.fp.name == name) return &e;
  }
  return nullptr;
}

const PageElement* find_id(const PageSnapshot& snapshot, const std::string& id) {
  for (const PageElement& e : snapshot.elements) {
    if (e.fp.id == id) return &e;
  }
  return nullptr;
}

const PageElement* find_text(const PageSnapshot& snapshot, const std::string& text) {
  for (const PageElement& e : snapshot.elements) {
    if (e.fp.text == text || e.fp.name == text) return &e;
  }
  return nullptr;
}

TEST_F(ObserveTest, RolesAndAccessibleNames) {
  std::string session = open("/roles", R"(<!doctype html>
<html><head><title>Roles page</title></head><body>
<h1>Account settings</h1>
<a href="/help">Get help</a>
<label for="email">Email address</label> <input id="email" type="email" value="ann@example.com">
<input type="checkbox" id="news" checked> <label for="news">Send me news</label>
<select id="plan" aria-label="Plan"><option>Free</option><option selected>Pro</option>
  <option>Team</option></select>
<button id="save">Save changes</button>
</body></html>)");
  PageSnapshot snapshot = observe(session);
  EXPECT_EQ(snapshot.title, "Roles page");
  EXPECT_EQ(snapshot.url, server_->url("/roles"));

  const PageElement* heading = find(snapshot, "heading", "Account settings");
  ASSERT_NE(heading, nullptr) << describe(snapshot);
  EXPECT_EQ(heading->fp.tag, "h1");
  EXPECT_FALSE(heading->interactive);
  EXPECT_TRUE(heading->visible);

  const PageElement* link = find(snapshot, "link", "Get help");
  ASSERT_NE(link, nullptr) << describe(snapshot);
  EXPECT_EQ(link->fp.href, "/help");
  EXPECT_TRUE(link->interactive);

  const PageElement* email = find(snapshot, "textbox", "Email address");
  ASSERT_NE(email, nullptr) << describe(snapshot);
  EXPECT_EQ(email->fp.id, "email");
  EXPECT_EQ(email->fp.type, "email");
  EXPECT_EQ(email->value, "ann@example.com");
  EXPECT_TRUE(email->editable);
  EXPECT_TRUE(email->enabled);

  const PageElement* news = find(snapshot, "checkbox", "Send me news");
  ASSERT_NE(news, nullptr) << describe(snapshot);
  EXPECT_TRUE(news->checked);
  EXPECT_FALSE(news->editable);

  const PageElement* plan = find(snapshot, "combobox", "Plan");
  ASSERT_NE(plan, nullptr) << describe(snapshot);
  EXPECT_EQ(plan->fp.tag, "select");
  EXPECT_EQ(plan->options, (std::vector<std::string>{"Free", "Pro", "Team"}));
  EXPECT_EQ(plan->value, "Pro");

  const PageElement* save = find(snapshot, "button", "Save changes");
  ASSERT_NE(save, nullptr) << describe(snapshot);
  EXPECT_EQ(save->fp.text, "Save changes");
  EXPECT_TRUE(save->interactive && save->enabled && save->visible);
  EXPECT_NE(save->backend_node_id, 0);
  EXPECT_EQ(save->session, session);
  EXPECT_EQ(save->frame_id, "");

  // Indices are positions, in document order.
  for (size_t i = 0; i < snapshot.elements.size(); ++i) {
    EXPECT_EQ(snapshot.elements[i].index, static_cast<int>(i));
  }
  EXPECT_LT(heading->index, link->index);
  EXPECT_LT(link->index, email->index);
  EXPECT_LT(plan->index, save->index);

  // State read live: what a person typed and chose since the load.
  evaluate(session,
           "document.getElementById('email').value = 'bob@example.com';"
           "document.getElementById('news').checked = false;"
           "document.getElementById('plan').value = 'Team';");
  PageSnapshot later = observe(session);
  const PageElement* email2 = find_id(later, "email");
  const PageElement* news2 = find_id(later, "news");
  const PageElement* plan2 = find_id(later, "plan");
  ASSERT_TRUE(email2 && news2 && plan2) << describe(later);
  EXPECT_EQ(email2->value, "bob@example.com");
  EXPECT_FALSE(news2->checked);
  EXPECT_EQ(plan2->value, "Team");
}

TEST_F(ObserveTest, HiddenElementsAreMarkedOrOmitted) {
  std::string session = open("/hidden", R"(<!doctype html><body>
<button id="shown">Shown</button>
<div style="display:none"><button id="gone">Gone</button><p>Gone text</p></div>
<button id="invisible" style="visibility:hidden">Invisible</button>
<div style="opacity:0"><a id="faded" href="/x">Faded</a></div>
<p style="visibility:hidden">Hidden paragraph</p>
<input type="hidden" name="csrf" value="tok">
<button id="empty" style="width:0;height:0;padding:0;border:0;overflow:hidden"></button>
</body>)");
  PageSnapshot snapshot = observe(session);
  const PageElement* shown = find_id(snapshot, "shown");
  ASSERT_NE(shown, nullptr) << describe(snapshot);
  EXPECT_TRUE(shown->visible);
  for (const char* id : {"gone", "invisible", "faded", "empty"}) {
    const PageElement* e = find_id(snapshot, id);
    if (e != nullptr) {
      EXPECT_FALSE(e->visible) << id;
    }
  }
  // Interactive elements stay listed (a later action may wait for them) and
  // keep their role and name from the markup.
  const PageElement* gone = find_id(snapshot, "gone");
  ASSERT_NE(gone, nullptr) << describe(snapshot);
  EXPECT_EQ(gone->fp.role, "button");
  EXPECT_EQ(gone->fp.name, "Gone");
  EXPECT_FALSE(gone->fp.x.has_value());
  // Readable elements that are not visible are not listed, nor hidden inputs.
  EXPECT_EQ(find_text(snapshot, "Gone text"), nullptr);
  EXPECT_EQ(find_text(snapshot, "Hidden paragraph"), nullptr);
  for (const PageElement& e : snapshot.elements) EXPECT_NE(e.fp.name_attr, "csrf");
  // The page text is what a person sees.
  EXPECT_NE(snapshot.text.find("Shown"), std::string::npos);
  for (const char* text : {"Gone", "Invisible", "Faded", "Hidden paragraph"}) {
    EXPECT_EQ(snapshot.text.find(text), std::string::npos) << text << " in " << snapshot.text;
  }
}

TEST_F(ObserveTest, DisabledByFieldsetAttributeOrAria) {
  std::string session = open("/disabled", R"(<!doctype html><body><form>
<fieldset disabled>
  <legend><input id="in-legend" aria-label="In legend"></legend>
  <input id="locked" aria-label="Locked">
  <div><select id="nested" aria-label="Nested"><option>A</option></select></div>
</fieldset>
<input id="plain" aria-label="Plain">
<input id="own" disabled aria-label="Own">
<input id="readonly" readonly value="fixed" aria-label="Readonly">
<button id="aria" aria-disabled="true">Aria</button>
<div id="editor" contenteditable="true">Edit me</div>
</form></body>)");
  PageSnapshot snapshot = observe(session);
  auto get = [&](const char* id) {
    const PageElement* e = find_id(snapshot, id);
    EXPECT_NE(e, nullptr) << id << "\n" << describe(snapshot);
    return e != nullptr ? *e : PageElement{};
  };
  EXPECT_FALSE(get("locked").enabled);
  EXPECT_FALSE(get("locked").editable);
  EXPECT_FALSE(get("nested").enabled);
  EXPECT_TRUE(get("in-legend").enabled) << "the first legend of a disabled fieldset stays enabled";
  EXPECT_TRUE(get("in-legend").editable);
  EXPECT_TRUE(get("plain").enabled);
  EXPECT_TRUE(get("plain").editable);
  EXPECT_FALSE(get("own").enabled);
  EXPECT_TRUE(get("readonly").enabled);
  EXPECT_FALSE(get("readonly").editable);
  EXPECT_EQ(get("readonly").value, "fixed");
  EXPECT_FALSE(get("aria").enabled);
  EXPECT_TRUE(get("editor").editable);
  EXPECT_TRUE(get("editor").interactive);
  EXPECT_NE(describe(snapshot).find("'Locked' (disabled)"), std::string::npos)
      << describe(snapshot);
}

// Every string an element carries, for leak checks.
std::string everything(const PageSnapshot& snapshot) {
  std::string all = snapshot.url + "\n" + snapshot.title + "\n" + snapshot.text + "\n";
  for (const PageElement& e : snapshot.elements) {
    all += to_json(e.fp).dump() + "\n" + e.value + "\n";
    for (const std::string& option : e.options) all += option + "\n";
  }
  return all + describe(snapshot);
}

TEST_F(ObserveTest, PasswordValuesNeverAppear) {
  std::string session = open("/password", R"(<!doctype html><body>
<form>
<label>User <input id="user" name="user" value="ann"></label>
<label>Password <input id="pw" type="password" name="pw" value="Hunter2-from-markup"></label>
<input id="pw2" type="PASSWORD" aria-label="Again">
<span id="hint">Hint</span><input id="pw3" type="password" aria-labelledby="hint pw3">
<button>Sign in</button>
</form></body>)");
  evaluate(session,
           "document.getElementById('pw2').value = 'Typed-Secret-42';"
           "document.getElementById('pw3').value = 'Third-Secret-77';");
  PageSnapshot snapshot = observe(session);
  const PageElement* pw = find_id(snapshot, "pw");
  ASSERT_NE(pw, nullptr) << describe(snapshot);
  EXPECT_EQ(pw->value, "");
  EXPECT_EQ(pw->fp.name, "Password");
  EXPECT_TRUE(pw->editable);
  const PageElement* user = find_id(snapshot, "user");
  ASSERT_NE(user, nullptr);
  EXPECT_EQ(user->value, "ann");
  std::string all = everything(snapshot);
  for (const char* secret : {"Hunter2-from-markup", "Typed-Secret-42", "Third-Secret-77"}) {
    EXPECT_EQ(all.find(secret), std::string::npos) << secret << " leaked:\n" << all;
  }
  EXPECT_NE(snapshot.text.find("ann"), std::string::npos) << snapshot.text;
}

TEST_F(ObserveTest, SameProcessIframeContentsAreIncluded) {
  server_->add("/inner", R"(<!doctype html><body style="margin:0">
<p>Inside the frame</p><button id="inner-button">Frame button</button></body>)");
  std::string session = open("/outer", R"(<!doctype html><body style="margin:0">
<h1 style="margin:0;height:50px">Outer page</h1>
<iframe id="frame" src="/inner" style="border:3px solid;padding:0;margin:0;width:400px;height:200px"></iframe>
<button id="after">After frame</button>
</body>)");
  PageSnapshot snapshot = observe(session);
  auto tree = browser_->call("Page.getFrameTree", Json::object(), session);
  ASSERT_TRUE(tree.has_value()) << tree.error().message;
  ASSERT_EQ((*tree)["frameTree"]["childFrames"].size(), 1u);
  std::string child_frame = (*tree)["frameTree"]["childFrames"][0]["frame"]["id"];

  const PageElement* inner = find(snapshot, "button", "Frame button");
  ASSERT_NE(inner, nullptr) << describe(snapshot);
  EXPECT_EQ(inner->frame_id, child_frame);
  EXPECT_EQ(inner->session, session);
  EXPECT_EQ(inner->fp.dom_path, "html/body/iframe/html/body/button");
  // Page coordinates: below the 50px heading, inside the 3px border.
  ASSERT_TRUE(inner->fp.y.has_value() && inner->fp.x.has_value());
  EXPECT_GT(*inner->fp.y, 50.0);
  EXPECT_LT(*inner->fp.y, 253.0);
  EXPECT_GE(*inner->fp.x, 3.0);
  const PageElement* paragraph = find_text(snapshot, "Inside the frame");
  ASSERT_NE(paragraph, nullptr) << describe(snapshot);
  EXPECT_EQ(paragraph->frame_id, child_frame);

  const PageElement* outer = find(snapshot, "heading", "Outer page");
  const PageElement* after = find(snapshot, "button", "After frame");
  ASSERT_TRUE(outer && after) << describe(snapshot);
  EXPECT_EQ(outer->frame_id, "");
  // Document order: the frame's contents sit where the frame is.
  EXPECT_LT(outer->index, inner->index);
  EXPECT_LT(inner->index, after->index);
  size_t in_text = snapshot.text.find("Inside the frame");
  EXPECT_NE(in_text, std::string::npos) << snapshot.text;
  EXPECT_LT(snapshot.text.find("Outer page"), in_text);
  EXPECT_GT(snapshot.text.find("After frame"), in_text);
}

TEST_F(ObserveTest, OutOfProcessIframeIsListedAsAFrameWithoutContents) {
  server_->add("/remote", R"(<!doctype html><body><button>Remote button</button></body>)");
  server_->add("/host", "<!doctype html><body><p>Host page</p><iframe id=\"remote\" src=\"" +
                            server_->other_site_url("/remote") + "\"></iframe></body>");
  // As the browser connector's Page does: out-of-process iframes get their
  // own sessions through auto-attach.
  std::string session = attach();
  ASSERT_FALSE(session.empty());
  ASSERT_TRUE(
      browser_
          ->call("Target.setAutoAttach",
                 {{"autoAttach", true}, {"waitForDebuggerOnStart", false}, {"flatten", true}},
                 session)
          .has_value());
  auto child_attached = browser_->expect([session](const CdpEvent& e) {
    return e.session == session && e.method == "Target.attachedToTarget" &&
           e.params["targetInfo"].value("type", "") == "iframe";
  });
  navigate(session, server_->url("/host"));

  PageSnapshot snapshot = observe(session);
  const PageElement* frame = find_id(snapshot, "remote");
  ASSERT_NE(frame, nullptr) << describe(snapshot);
  EXPECT_EQ(frame->fp.tag, "iframe");
  EXPECT_EQ(frame->fp.role, "Iframe");
  EXPECT_TRUE(frame->visible);
  EXPECT_FALSE(frame->interactive);
  EXPECT_NE(describe(snapshot).find("] iframe"), std::string::npos) << describe(snapshot);
  EXPECT_EQ(find(snapshot, "button", "Remote button"), nullptr) << describe(snapshot);
  EXPECT_EQ(snapshot.text.find("Remote button"), std::string::npos) << snapshot.text;

  // The frame's own session observes its contents, in its own coordinates.
  auto attached = child_attached->wait(15s);
  ASSERT_TRUE(attached.has_value()) << attached.error().message;
  std::string child = attached->params["sessionId"];
  PageSnapshot inside = observe(child);
  const PageElement* remote = find(inside, "button", "Remote button");
  ASSERT_NE(remote, nullptr) << describe(inside);
  EXPECT_EQ(remote->session, child);
  EXPECT_EQ(remote->frame_id, "");
  EXPECT_EQ(inside.url, server_->other_site_url("/remote"));
}

TEST_F(ObserveTest, DomPathAndNeighborTextOnASmallForm) {
  std::string session = open("/form", R"(<!doctype html><body><main><form>
<div><label for="first">First name</label><input id="first"></div>
<div><label>Last name <input id="last"></label></div>
<div><span id="city-label">City</span><input id="city" aria-labelledby="city-label"></div>
<div>Phone number</div>
<div><input id="phone"><button id="go">Continue</button><button id="back">Back</button></div>
</form></main></body>)");
  PageSnapshot snapshot = observe(session);
  auto get = [&](const char* id) {
    const PageElement* e = find_id(snapshot, id);
    EXPECT_NE(e, nullptr) << id << "\n" << describe(snapshot);
    return e != nullptr ? *e : PageElement{};
  };
  EXPECT_EQ(get("first").fp.dom_path, "html/body/main/form/div[1]/input");
  EXPECT_EQ(get("last").fp.dom_path, "html/body/main/form/div[2]/label/input");
  EXPECT_EQ(get("go").fp.dom_path, "html/body/main/form/div[5]/button[1]");
  EXPECT_EQ(get("back").fp.dom_path, "html/body/main/form/div[5]/button[2]");
  EXPECT_EQ(get("first").fp.neighbor_text, "First name");
  EXPECT_EQ(get("last").fp.neighbor_text, "Last name");
  EXPECT_EQ(get("city").fp.neighbor_text, "City");
  EXPECT_EQ(get("phone").fp.neighbor_text, "Phone number");
  EXPECT_EQ(get("go").fp.text, "Continue");
  EXPECT_EQ(get("first").fp.name, "First name");
  EXPECT_EQ(get("city").fp.name, "City");
  const PageElement* phone_text = find_text(snapshot, "Phone number");
  ASSERT_NE(phone_text, nullptr) << describe(snapshot);
  EXPECT_EQ(phone_text->fp.tag, "div");
  EXPECT_FALSE(phone_text->interactive);
}

// Eight "Select" buttons are told apart by the row they sit in, as a person
// tells them apart: the row's first cell is their neighbour text.
TEST_F(ObserveTest, ControlsInATableRowAreNeighboursOfTheRowsFirstCell) {
  std::string session = open("/rows", R"(<!doctype html><body><table>
<thead><tr><th>Facility</th><th>Distance</th><th></th></tr></thead>
<tbody>
<tr><td>Cambridge Imaging <em>Sponsored</em></td><td>1.2 mi</td><td><button id="b1">Select</button></td></tr>
<tr><td>Harbor MRI</td><td>3.4 mi</td><td><form><button id="b2">Select</button></form></td></tr>
<tr><td><a id="first-cell" href="/x">Details</a></td><td>5 mi</td><td><label>Pick <input id="pick" type="checkbox"></label></td></tr>
</tbody></table></body>)");
  PageSnapshot snapshot = observe(session);
  auto neighbour = [&](const char* id) {
    const PageElement* e = find_id(snapshot, id);
    EXPECT_NE(e, nullptr) << id << "\n" << describe(snapshot);
    return e != nullptr ? e->fp.neighbor_text : std::string();
  };
  EXPECT_EQ(neighbour("b1"), "Cambridge Imaging Sponsored");
  EXPECT_EQ(neighbour("b2"), "Harbor MRI");
  EXPECT_EQ(neighbour("pick"), "Pick");           // a label still comes first
  EXPECT_NE(neighbour("first-cell"), "Details");  // not its own cell
}

TEST_F(ObserveTest, BoundsArePlausible) {
  std::string session = open("/bounds", R"(<!doctype html><body style="margin:0">
<button id="a" style="display:block;width:120px;height:30px">First</button>
<div style="height:500px"></div>
<button id="b" style="display:block;width:200px;height:40px">Second</button>
<div style="height:1500px"></div>
<button id="c" style="display:block;width:80px;height:20px">Below the fold</button>
</body>)");
  evaluate(session, "window.scrollTo(0, 700)");
  PageSnapshot snapshot = observe(session);
  const PageElement* a = find_id(snapshot, "a");
  const PageElement* b = find_id(snapshot, "b");
  const PageElement* c = find_id(snapshot, "c");
  ASSERT_TRUE(a && b && c) << describe(snapshot);
  for (const PageElement* e : {a, b, c}) {
    ASSERT_TRUE(e->fp.x && e->fp.y && e->fp.width && e->fp.height);
    EXPECT_GT(*e->fp.width, 0);
    EXPECT_GT(*e->fp.height, 0);
    EXPECT_TRUE(e->visible);
  }
  EXPECT_DOUBLE_EQ(*a->fp.width, 120);
  EXPECT_DOUBLE_EQ(*a->fp.height, 30);
  // Page coordinates do not move with the scroll position.
  EXPECT_DOUBLE_EQ(*a->fp.y, 0);
  EXPECT_DOUBLE_EQ(*b->fp.y, 530);
  EXPECT_DOUBLE_EQ(*c->fp.y, 2070);
  EXPECT_LT(*a->fp.y, *b->fp.y);
  EXPECT_LT(*b->fp.y, *c->fp.y);
}

TEST_F(ObserveTest, DescribeIsCompactAndStable) {
  std::string session = open("/describe", R"(<!doctype html><body>
<h1>Orders</h1>
<button disabled>Delete</button>
<input type="checkbox" checked aria-label="Select all">
<input aria-label="Search" value="it's here">
<select aria-label="Status"><option>Open</option><option>Closed</option></select>
<button style="display:none">Ghost</button>
<p>Two <b>orders</b> found</p>
</body>)");
  PageSnapshot snapshot = observe(session);
  EXPECT_EQ(describe(snapshot),
            "[0] heading 'Orders'\n"
            "[1] button 'Delete' (disabled)\n"
            "[2] checkbox 'Select all' (checked)\n"
            "[3] textbox 'Search' value='it\\'s here'\n"
            "[4] combobox 'Status' value='Open' options=['Open', 'Closed']\n"
            "[5] button 'Ghost' (hidden)\n"
            "[6] paragraph 'Two orders found'\n");
  EXPECT_EQ(describe(observe(session)), describe(snapshot));
}

// A table of `rows` rows, each with a text input, a checkbox, a button and a link.
std::string large_page(int rows) {
  std::string html =
      "<!doctype html><html><head><title>Inventory</title></head><body>"
      "<h1>Inventory</h1><table><tbody>";
  for (int i = 0; i < rows; ++i) {
    std::string n = std::to_string(i);
    html += "<tr><td>Item " + n + "</td><td><input name=\"qty" + n + "\" value=\"" + n +
            "\"></td><td><input type=\"checkbox\" name=\"pick" + n +
            "\"></td><td><button type=\"button\">Save " + n + "</button></td><td><a href=\"/item/" +
            n + "\">Open " + n + "</a></td></tr>";
  }
  return html + "</tbody></table></body></html>";
}

TEST_F(ObserveTest, LargePageYieldsEveryElement) {
  std::string session = open("/large", large_page(1250));
  auto start = std::chrono::steady_clock::now();
  PageSnapshot snapshot = observe(session);
  auto took = std::chrono::duration_cast<std::chrono::milliseconds>(
      std::chrono::steady_clock::now() - start);
  size_t interactive =
      static_cast<size_t>(std::count_if(snapshot.elements.begin(), snapshot.elements.end(),
                                        [](const PageElement& e) { return e.interactive; }));
  EXPECT_GE(snapshot.elements.size(), 5000u);
  EXPECT_EQ(interactive, 5000u);
  const PageElement* last = find(snapshot, "link", "Open 1249");
  ASSERT_NE(last, nullptr);
  EXPECT_EQ(last->fp.href, "/item/1249");
  EXPECT_EQ(last->fp.dom_path, "html/body/table/tbody/tr[1250]/td[5]/a");
  RecordProperty("observe_ms", static_cast<int>(took.count()));
}

}  // namespace
}  // namespace ergon
