// The hash chain and its verification, on events held in memory. Tampering
// with a real store's file is covered in sqlite_store_test.cc.
#include "ergon/journal.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>
#include <utility>
#include <vector>

#include "support/process.h"

namespace ergon {
namespace {

using ::testing::HasSubstr;

// Known answers were computed outside ergon, with Python's json.dumps(body,
// sort_keys=True, separators=(',', ':'), ensure_ascii=False) and hashlib.sha256
// (and checked with `sha256sum`) over "0" * 64 + canonical body.
constexpr char kFirstBody[] =
    R"({"data":{"f":0.5,"goal":"cut costs 15% — é 😀","n":3,"ok":true,"tags":["a","b"],)"
    R"("x":null},"seq":1,"session":"s-1","time_ms":1700000000000,"type":"session_started"})";
constexpr char kFirstHash[] = "8c0b74d9174fdd83aa9604b4bc0d704e9a8b6bad3aff932ef7fa5a347c74b492";
constexpr char kSecondHash[] = "e156d5e61ce23fabcb6622743c070c37dccb8414d0268eaf91f4313128ea5dfc";

Event first_event() {
  Event e;
  e.seq = 1;
  e.session = "s-1";
  e.type = event::kSessionStarted;
  e.time_ms = 1'700'000'000'000;
  e.data = Json{{"goal", "cut costs 15% — é 😀"},
                {"n", 3},
                {"tags", {"a", "b"}},
                {"x", nullptr},
                {"ok", true},
                {"f", 0.5}};
  return e;
}

// A valid chain of `n` events of session "s-1"; event 5 is a guard decision.
std::vector<Event> chain(int n) {
  std::vector<Event> events;
  std::string prev = kGenesisHash;
  for (int i = 1; i <= n; ++i) {
    Event e;
    e.seq = i;
    e.session = "s-1";
    e.type = i == 5 ? event::kGuardDecision : event::kStepState;
    e.time_ms = 1'700'000'000'000 + i;
    e.data = Json{{"step", "s" + std::to_string(i)}, {"verdict", "allow"}};
    e.prev_hash = prev;
    e.hash = chain_hash(prev, e);
    prev = e.hash;
    events.push_back(std::move(e));
  }
  return events;
}

std::string verify_error(const std::vector<Event>& events) {
  auto status = verify_chain(events);
  if (status) return "";
  EXPECT_EQ(status.error().code, ErrorCode::kFailedPrecondition);
  return status.error().message;
}

TEST(EventBody, HoldsSeqSessionTypeTimeAndData) {
  Event e = first_event();
  e.prev_hash = "p";
  e.hash = "h";
  Json body = e.body();
  EXPECT_EQ(body.size(), 5u);
  EXPECT_EQ(body["seq"], 1);
  EXPECT_EQ(body["session"], "s-1");
  EXPECT_EQ(body["type"], "session_started");
  EXPECT_EQ(body["time_ms"], 1'700'000'000'000);
  EXPECT_EQ(body["data"], e.data);
}

TEST(EventBody, CanonicalFormIsSortedCompactUtf8) {
  EXPECT_EQ(canonical_json(first_event().body()), kFirstBody);
}

TEST(EventBody, StoresShortcutEqualsTheCanonicalBody) {
  std::vector<Event> events = {first_event(), Event{}};
  Event tricky;
  tricky.seq = -7;
  tricky.session = "quote \" backslash \\ tab \t nul \u0001 \u2028 日本";
  tricky.type = "invalid utf-8 \xff\xfe";
  tricky.time_ms = -1;
  tricky.data = Json{{"nested", {{"b", {1.5, -0.0, nullptr}}, {"a", "\xc3"}}}};
  events.push_back(tricky);
  for (const Event& e : events) {
    const std::string body = canonical_json(e.body());
    EXPECT_EQ(canonical_body(e, canonical_json(e.data)), body);
    EXPECT_EQ(chain_hash(kFirstHash, e), chain_hash(kFirstHash, std::string_view(body)));
    EXPECT_EQ(chain_hash(kFirstHash, e, canonical_json(e.data)), chain_hash(kFirstHash, e));
  }
}

TEST(ChainHash, MatchesIndependentlyComputedKnownAnswers) {
  Event first = first_event();
  EXPECT_EQ(chain_hash(kGenesisHash, first), kFirstHash);

  Event second;
  second.seq = 2;
  second.session = "s-1";
  second.type = event::kPlanMade;
  second.time_ms = 1'700'000'000'250;
  EXPECT_EQ(chain_hash(kFirstHash, second), kSecondHash);
}

TEST(ChainHash, IsDeterministicAndIgnoresTheStoredHashFields) {
  Event a = first_event();
  Event b = first_event();
  b.prev_hash = "anything";
  b.hash = "anything else";
  EXPECT_EQ(chain_hash(kGenesisHash, a), chain_hash(kGenesisHash, b));
  EXPECT_EQ(chain_hash(kGenesisHash, a), chain_hash(kGenesisHash, a));
}

TEST(ChainHash, DependsOnThePreviousHashAndEveryBodyField) {
  const Event base = first_event();
  const std::string h = chain_hash(kGenesisHash, base);
  EXPECT_NE(chain_hash(kFirstHash, base), h);
  Event e = base;
  e.seq = 2;
  EXPECT_NE(chain_hash(kGenesisHash, e), h);
  e = base;
  e.session = "s-2";
  EXPECT_NE(chain_hash(kGenesisHash, e), h);
  e = base;
  e.type = event::kAnswer;
  EXPECT_NE(chain_hash(kGenesisHash, e), h);
  e = base;
  e.time_ms += 1;
  EXPECT_NE(chain_hash(kGenesisHash, e), h);
  e = base;
  e.data["n"] = 4;
  EXPECT_NE(chain_hash(kGenesisHash, e), h);
}

TEST(VerifyChain, AcceptsAValidChainAndAnEmptyOne) {
  EXPECT_TRUE(verify_chain(chain(8)).has_value());
  EXPECT_TRUE(verify_chain({}).has_value());
}

TEST(VerifyChain, NamesAnEventWhoseDataWasEdited) {
  auto events = chain(8);
  events[4].data["verdict"] = "deny";
  EXPECT_EQ(verify_error(events), "event 5 (guard_decision): hash mismatch — the event was edited");
}

TEST(VerifyChain, NamesAnEventWhoseTypeWasEdited) {
  auto events = chain(8);
  events[2].type = event::kApproval;
  EXPECT_EQ(verify_error(events), "event 3 (approval): hash mismatch — the event was edited");
}

TEST(VerifyChain, NamesAnEventWhoseHashWasEdited) {
  auto events = chain(8);
  events[5].hash[0] = events[5].hash[0] == 'a' ? 'b' : 'a';
  EXPECT_EQ(verify_error(events), "event 6 (step_state): hash mismatch — the event was edited");
}

TEST(VerifyChain, NamesTheGapLeftByDeletedEvents) {
  auto events = chain(8);
  events.erase(events.begin() + 3, events.begin() + 5);
  EXPECT_EQ(verify_error(events),
            "event 4: expected seq 4 but found 6 — events were deleted or reordered");
}

TEST(VerifyChain, DetectsADeletedFirstEvent) {
  auto events = chain(3);
  events.erase(events.begin());
  EXPECT_THAT(verify_error(events), HasSubstr("event 1: expected seq 1 but found 2"));
}

TEST(VerifyChain, DetectsSwappedEvents) {
  auto events = chain(6);
  std::swap(events[2], events[3]);
  EXPECT_EQ(verify_error(events),
            "event 3: expected seq 3 but found 4 — events were deleted or reordered");

  // An attacker who also renumbers the swapped events still breaks the links.
  std::swap(events[2].seq, events[3].seq);
  EXPECT_EQ(verify_error(events), "event 3: prev_hash does not link to event 2");
}

TEST(VerifyChain, NamesABrokenLink) {
  auto events = chain(5);
  events[2].prev_hash = events[0].hash;
  events[2].hash = chain_hash(events[2].prev_hash, events[2]);
  EXPECT_EQ(verify_error(events), "event 3: prev_hash does not link to event 2");
}

TEST(VerifyChain, RequiresTheGenesisHashBeforeTheFirstEvent) {
  auto events = chain(2);
  events[0].prev_hash = std::string(64, 'f');
  EXPECT_THAT(verify_error(events), HasSubstr("event 1: prev_hash is not the genesis hash"));
}

TEST(VerifyChain, DetectsAnEventFromAnotherSession) {
  auto events = chain(3);
  events[1].session = "s-2";
  EXPECT_THAT(verify_error(events), HasSubstr("event 2: belongs to session 's-2', not 's-1'"));
}

TEST(SessionStatus, RoundTripsThroughText) {
  for (SessionStatus status :
       {SessionStatus::kRunning, SessionStatus::kWaiting, SessionStatus::kDone,
        SessionStatus::kFailed, SessionStatus::kAborted}) {
    auto parsed = parse_session_status(to_string(status));
    ASSERT_TRUE(parsed.has_value()) << to_string(status);
    EXPECT_EQ(*parsed, status);
  }
  EXPECT_STREQ(to_string(SessionStatus::kWaiting), "waiting");
}

TEST(SessionStatus, RejectsUnknownTextNamingTheChoices) {
  auto parsed = parse_session_status("paused");
  ASSERT_FALSE(parsed.has_value());
  EXPECT_EQ(parsed.error().code, ErrorCode::kInvalidInput);
  EXPECT_THAT(parsed.error().message, HasSubstr("'paused'"));
  EXPECT_THAT(parsed.error().message, HasSubstr("running, waiting, done, failed or aborted"));
}

TEST(VerifySession, AcceptsAStoredSessionAndReportsAMissingOne) {
  testing::TempDir dir;
  FakeClock clock;
  auto store = open_sqlite_store(dir.file("journal.db"), clock);
  ASSERT_TRUE(store.has_value()) << store.error().message;
  ASSERT_TRUE((*store)->create_session("s-1", "goal", "/ws").has_value());
  EXPECT_TRUE(verify_session(**store, "s-1").has_value());  // no events yet
  for (int i = 0; i < 4; ++i) {
    ASSERT_TRUE((*store)->append("s-1", event::kStepState, Json{{"i", i}}).has_value());
  }
  EXPECT_TRUE(verify_session(**store, "s-1").has_value());

  auto missing = verify_session(**store, "nope");
  ASSERT_FALSE(missing.has_value());
  EXPECT_EQ(missing.error().code, ErrorCode::kNotFound);
}

}  // namespace
}  // namespace ergon
