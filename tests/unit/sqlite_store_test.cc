// The SQLite store against real files in a temp dir. Tamper tests edit the
// file with raw SQL through the sqlite3 C API, as an attacker with write access
// to the workspace would.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sqlite3.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <limits>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "ergon/journal.h"
#include "support/process.h"

namespace ergon {
namespace {

using ::testing::HasSubstr;

std::unique_ptr<Store> open_store(const std::string& path, Clock& clock) {
  auto store = open_sqlite_store(path, clock);
  EXPECT_TRUE(store.has_value()) << store.error().message;
  return store ? std::move(*store) : nullptr;
}

// Runs SQL on the file through its own connection, outside the Store.
void raw_sql(const std::string& path, const std::string& sql) {
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
  char* error = nullptr;
  int rc = sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &error);
  std::string message = error != nullptr ? error : "";
  sqlite3_free(error);
  sqlite3_close(db);
  ASSERT_EQ(rc, SQLITE_OK) << sql << ": " << message;
}

// The single value of a one-row, one-column query.
std::string raw_value(const std::string& path, const std::string& sql) {
  sqlite3* db = nullptr;
  EXPECT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
  sqlite3_stmt* stmt = nullptr;
  EXPECT_EQ(sqlite3_prepare_v2(db, sql.c_str(), -1, &stmt, nullptr), SQLITE_OK) << sql;
  std::string value;
  if (sqlite3_step(stmt) == SQLITE_ROW && sqlite3_column_text(stmt, 0) != nullptr) {
    value = reinterpret_cast<const char*>(sqlite3_column_text(stmt, 0));
  }
  sqlite3_finalize(stmt);
  sqlite3_close(db);
  return value;
}

std::vector<Event> events_of(Store& store, const std::string& session) {
  auto events = store.events(session);
  EXPECT_TRUE(events.has_value()) << events.error().message;
  return events ? *events : std::vector<Event>{};
}

class SqliteStoreTest : public ::testing::Test {
 protected:
  // A store in a directory that does not exist yet.
  std::string path() const { return dir_.path() + "/ws/.ergon/journal.db"; }

  std::unique_ptr<Store> open() { return open_store(path(), clock_); }

  // Creates session "s-1" with `n` events (event 5, if any, a guard decision)
  // and closes the store.
  void seed(int n) {
    auto store = open();
    ASSERT_NE(store, nullptr);
    ASSERT_TRUE(store->create_session("s-1", "cut costs", "/ws").has_value());
    for (int i = 1; i <= n; ++i) {
      clock_.advance(std::chrono::milliseconds(10));
      const char* type = i == 5 ? event::kGuardDecision : event::kStepState;
      auto appended = store->append("s-1", type, Json{{"step", "s" + std::to_string(i)}});
      ASSERT_TRUE(appended.has_value()) << appended.error().message;
    }
  }

  // verify_session's error message after reopening ("" when it verifies).
  std::string verify_error() {
    auto store = open();
    if (store == nullptr) return "cannot open";
    auto status = verify_session(*store, "s-1");
    if (status) return "";
    EXPECT_EQ(status.error().code, ErrorCode::kFailedPrecondition);
    return status.error().message;
  }

  testing::TempDir dir_;
  FakeClock clock_;
};

TEST_F(SqliteStoreTest, CreatesParentDirectoriesWalModeAndSchemaVersion) {
  {
    auto store = open();
    ASSERT_NE(store, nullptr);
  }
  EXPECT_TRUE(std::filesystem::exists(path()));
  EXPECT_EQ(raw_value(path(), "PRAGMA journal_mode"), "wal");
  EXPECT_EQ(raw_value(path(), "PRAGMA user_version"), "1");
  // Opening again neither fails nor migrates twice.
  auto again = open();
  ASSERT_NE(again, nullptr);
  EXPECT_EQ(raw_value(path(), "PRAGMA user_version"), "1");
}

TEST_F(SqliteStoreTest, RefusesASchemaFromANewerErgon) {
  { ASSERT_NE(open(), nullptr); }
  raw_sql(path(), "PRAGMA user_version = 7");
  auto store = open_sqlite_store(path(), clock_);
  ASSERT_FALSE(store.has_value());
  EXPECT_EQ(store.error().code, ErrorCode::kFailedPrecondition);
  EXPECT_THAT(store.error().message, HasSubstr("schema version 7"));
  EXPECT_THAT(store.error().message, HasSubstr("upgrade ergon"));
}

TEST_F(SqliteStoreTest, RefusesAFileThatIsNotADatabase) {
  testing::write_file(path(), std::string(4096, 'x'));
  auto store = open_sqlite_store(path(), clock_);
  ASSERT_FALSE(store.has_value());
  EXPECT_THAT(store.error().message, HasSubstr(path()));
  EXPECT_THAT(store.error().message, HasSubstr("not a readable ergon store"));
}

TEST_F(SqliteStoreTest, CreateSessionStartsAnEmptyRunningSession) {
  auto store = open();
  ASSERT_NE(store, nullptr);
  auto info = store->create_session("s-1", "cut costs", "/ws");
  ASSERT_TRUE(info.has_value()) << info.error().message;
  EXPECT_EQ(info->id, "s-1");
  EXPECT_EQ(info->goal, "cut costs");
  EXPECT_EQ(info->workspace, "/ws");
  EXPECT_EQ(info->status, SessionStatus::kRunning);
  EXPECT_EQ(info->created_ms, clock_.now_ms());
  EXPECT_EQ(info->updated_ms, clock_.now_ms());
  EXPECT_EQ(info->events, 0);
  EXPECT_EQ(info->head, kGenesisHash);

  auto read = store->session("s-1");
  ASSERT_TRUE(read.has_value());
  EXPECT_EQ(read->head, kGenesisHash);
  EXPECT_TRUE(events_of(*store, "s-1").empty());
}

TEST_F(SqliteStoreTest, RejectsADuplicateOrEmptySessionId) {
  auto store = open();
  ASSERT_NE(store, nullptr);
  ASSERT_TRUE(store->create_session("s-1", "a", "/ws").has_value());
  auto duplicate = store->create_session("s-1", "b", "/ws");
  ASSERT_FALSE(duplicate.has_value());
  EXPECT_EQ(duplicate.error().code, ErrorCode::kInvalidInput);
  EXPECT_THAT(duplicate.error().message, HasSubstr("cannot create session 's-1'"));
  EXPECT_THAT(duplicate.error().message, HasSubstr("already exists; choose another id"));
  EXPECT_EQ(store->session("s-1")->goal, "a");

  auto empty = store->create_session("", "goal", "/ws");
  ASSERT_FALSE(empty.has_value());
  EXPECT_EQ(empty.error().code, ErrorCode::kInvalidInput);
}

TEST_F(SqliteStoreTest, AppendAssignsSeqTimeAndChainsHashes) {
  auto store = open();
  ASSERT_NE(store, nullptr);
  ASSERT_TRUE(store->create_session("s-1", "goal", "/ws").has_value());
  auto first = store->append("s-1", event::kSessionStarted, Json{{"goal", "goal"}});
  ASSERT_TRUE(first.has_value()) << first.error().message;
  clock_.advance(std::chrono::milliseconds(250));
  auto second = store->append("s-1", event::kPlanMade, Json::object());
  ASSERT_TRUE(second.has_value()) << second.error().message;

  EXPECT_EQ(first->seq, 1);
  EXPECT_EQ(first->session, "s-1");
  EXPECT_EQ(first->type, "session_started");
  EXPECT_EQ(first->time_ms, 1'700'000'000'000);
  EXPECT_EQ(first->prev_hash, kGenesisHash);
  EXPECT_EQ(first->hash, chain_hash(kGenesisHash, *first));
  EXPECT_EQ(second->seq, 2);
  EXPECT_EQ(second->time_ms, 1'700'000'000'250);
  EXPECT_EQ(second->prev_hash, first->hash);
  EXPECT_EQ(second->hash, chain_hash(first->hash, *second));

  auto info = store->session("s-1");
  ASSERT_TRUE(info.has_value());
  EXPECT_EQ(info->events, 2);
  EXPECT_EQ(info->head, second->hash);
  EXPECT_EQ(info->updated_ms, 1'700'000'000'250);
}

TEST_F(SqliteStoreTest, EventsRoundTripThroughAReopen) {
  std::vector<Event> appended;
  {
    auto store = open();
    ASSERT_NE(store, nullptr);
    ASSERT_TRUE(store->create_session("s-1", "goal", "/ws").has_value());
    ASSERT_TRUE(store->create_session("s-2", "other", "/ws").has_value());
    for (int i = 0; i < 5; ++i) {
      clock_.advance(std::chrono::milliseconds(3));
      auto e = store->append("s-1", event::kOutcome, Json{{"ok", true}, {"i", i}});
      ASSERT_TRUE(e.has_value());
      appended.push_back(*e);
      ASSERT_TRUE(store->append("s-2", event::kQuestion, Json{{"i", i}}).has_value());
    }
  }
  auto store = open();
  ASSERT_NE(store, nullptr);
  auto loaded = events_of(*store, "s-1");
  ASSERT_EQ(loaded.size(), appended.size());
  for (size_t i = 0; i < loaded.size(); ++i) {
    EXPECT_EQ(loaded[i].seq, appended[i].seq);
    EXPECT_EQ(loaded[i].session, appended[i].session);
    EXPECT_EQ(loaded[i].type, appended[i].type);
    EXPECT_EQ(loaded[i].time_ms, appended[i].time_ms);
    EXPECT_EQ(loaded[i].data, appended[i].data);
    EXPECT_EQ(loaded[i].prev_hash, appended[i].prev_hash);
    EXPECT_EQ(loaded[i].hash, appended[i].hash);
  }
  EXPECT_TRUE(verify_session(*store, "s-1").has_value());
  EXPECT_TRUE(verify_session(*store, "s-2").has_value());

  // The chain continues where it stopped.
  auto next = store->append("s-1", event::kDone, Json::object());
  ASSERT_TRUE(next.has_value());
  EXPECT_EQ(next->seq, 6);
  EXPECT_EQ(next->prev_hash, appended.back().hash);
  EXPECT_TRUE(verify_session(*store, "s-1").has_value());
}

TEST_F(SqliteStoreTest, AnyJsonRoundTripsExactlyAndStillVerifies) {
  const Json data = {
      {"unicode", "héllo wörld — 日本語 😀 \u2028"},
      {"escapes", "quote \" backslash \\ newline \n tab \t nul \u0001"},
      {"max_u64", std::numeric_limits<uint64_t>::max()},
      {"min_i64", std::numeric_limits<int64_t>::min()},
      {"bigger_than_u64", Json::parse("123456789012345678901234567890")},
      {"double", 0.1},
      {"tiny", 5e-324},
      {"huge", 1.7976931348623157e308},
      {"nested", {{"z", {1, 2, {{"b", nullptr}, {"a", false}}}}, {"", "empty key"}}},
      {"😀 key", Json::array()},
  };
  std::string stored_hash;
  {
    auto store = open();
    ASSERT_NE(store, nullptr);
    ASSERT_TRUE(store->create_session("s-ü", "goal ü", "/wörk").has_value());
    auto e = store->append("s-ü", event::kOutcome, data);
    ASSERT_TRUE(e.has_value()) << e.error().message;
    stored_hash = e->hash;
  }
  EXPECT_EQ(raw_value(path(), "SELECT data FROM events"), canonical_json(data));

  auto store = open();
  ASSERT_NE(store, nullptr);
  auto loaded = events_of(*store, "s-ü");
  ASSERT_EQ(loaded.size(), 1u);
  EXPECT_EQ(loaded[0].data, data);
  EXPECT_EQ(canonical_json(loaded[0].data), canonical_json(data));
  EXPECT_EQ(loaded[0].hash, stored_hash);
  EXPECT_EQ(chain_hash(kGenesisHash, loaded[0]), stored_hash);
  EXPECT_TRUE(verify_session(*store, "s-ü").has_value());
  EXPECT_EQ(store->session("s-ü")->workspace, "/wörk");
}

TEST_F(SqliteStoreTest, UnknownSessionsAreNotFoundWithAHint) {
  auto store = open();
  ASSERT_NE(store, nullptr);

  auto appended = store->append("ghost", event::kAnswer, Json::object());
  ASSERT_FALSE(appended.has_value());
  EXPECT_EQ(appended.error().code, ErrorCode::kNotFound);
  EXPECT_THAT(appended.error().message, HasSubstr("session 'ghost' does not exist"));

  auto info = store->session("ghost");
  ASSERT_FALSE(info.has_value());
  EXPECT_EQ(info.error().code, ErrorCode::kNotFound);
  EXPECT_THAT(info.error().message, HasSubstr("session 'ghost' not found"));
  EXPECT_THAT(info.error().message, HasSubstr("(run `ergon sessions` to list them)"));

  auto events = store->events("ghost");
  ASSERT_FALSE(events.has_value());
  EXPECT_EQ(events.error().code, ErrorCode::kNotFound);

  auto status = store->set_status("ghost", SessionStatus::kDone);
  ASSERT_FALSE(status.has_value());
  EXPECT_EQ(status.error().code, ErrorCode::kNotFound);

  // A failed append leaves no transaction behind: the store still writes.
  ASSERT_TRUE(store->create_session("s-1", "goal", "/ws").has_value());
  EXPECT_TRUE(store->append("s-1", event::kAnswer, Json::object()).has_value());
}

TEST_F(SqliteStoreTest, SetStatusPersistsAndTouchesUpdatedTime) {
  {
    auto store = open();
    ASSERT_NE(store, nullptr);
    ASSERT_TRUE(store->create_session("s-1", "goal", "/ws").has_value());
    clock_.advance(std::chrono::seconds(5));
    ASSERT_TRUE(store->set_status("s-1", SessionStatus::kWaiting).has_value());
    auto info = store->session("s-1");
    ASSERT_TRUE(info.has_value());
    EXPECT_EQ(info->status, SessionStatus::kWaiting);
    EXPECT_EQ(info->updated_ms, info->created_ms + 5000);
    ASSERT_TRUE(store->set_status("s-1", SessionStatus::kAborted).has_value());
  }
  auto store = open();
  ASSERT_NE(store, nullptr);
  EXPECT_EQ(store->session("s-1")->status, SessionStatus::kAborted);
  EXPECT_EQ(raw_value(path(), "SELECT status FROM sessions"), "aborted");
}

TEST_F(SqliteStoreTest, ListsSessionsNewestFirst) {
  auto store = open();
  ASSERT_NE(store, nullptr);
  ASSERT_TRUE(store->create_session("old", "g", "/ws").has_value());
  clock_.advance(std::chrono::seconds(1));
  ASSERT_TRUE(store->create_session("mid", "g", "/ws").has_value());
  clock_.advance(std::chrono::seconds(1));
  ASSERT_TRUE(store->create_session("new-a", "g", "/ws").has_value());
  ASSERT_TRUE(store->create_session("new-b", "g", "/ws").has_value());  // same millisecond
  // Updating an old session does not move it up: the order is by creation.
  ASSERT_TRUE(store->append("old", event::kAnswer, Json::object()).has_value());

  auto list = store->sessions();
  ASSERT_TRUE(list.has_value()) << list.error().message;
  std::vector<std::string> ids;
  for (const auto& info : *list) ids.push_back(info.id);
  EXPECT_THAT(ids, ::testing::ElementsAre("new-b", "new-a", "mid", "old"));
  EXPECT_EQ((*list)[3].events, 1);
}

TEST_F(SqliteStoreTest, ConcurrentAppendsFromFourThreadsFormOneValidChain) {
  auto store = open();
  ASSERT_NE(store, nullptr);
  ASSERT_TRUE(store->create_session("s-1", "goal", "/ws").has_value());
  constexpr int kThreads = 4;
  constexpr int kPerThread = 100;
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        // Every fourth append of a thread is a batch of two.
        bool batch = i % 4 == 0;
        if (batch && !store->begin_batch()) ++failures;
        if (!store->append("s-1", event::kStepState, Json{{"thread", t}, {"i", i}})) ++failures;
        if (batch && !store->append("s-1", event::kStepState, Json{{"thread", t}})) ++failures;
        if (batch && !store->commit_batch()) ++failures;
      }
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(failures.load(), 0);
  auto events = events_of(*store, "s-1");
  EXPECT_EQ(events.size(), size_t{kThreads * (kPerThread + kPerThread / 4)});
  EXPECT_TRUE(verify_chain(events).has_value());
  auto verified = verify_session(*store, "s-1");
  EXPECT_TRUE(verified.has_value()) << verified.error().message;
}

TEST_F(SqliteStoreTest, TwoStoresOnOneFileInterleaveIntoOneValidChain) {
  auto a = open();
  auto b = open();
  ASSERT_NE(a, nullptr);
  ASSERT_NE(b, nullptr);
  ASSERT_TRUE(a->create_session("s-1", "goal", "/ws").has_value());
  // Strictly alternating: each store must see the other's head.
  for (int i = 0; i < 10; ++i) {
    auto from_a = a->append("s-1", event::kStepState, Json{{"by", "a"}});
    ASSERT_TRUE(from_a.has_value()) << from_a.error().message;
    auto from_b = b->append("s-1", event::kStepState, Json{{"by", "b"}});
    ASSERT_TRUE(from_b.has_value()) << from_b.error().message;
    EXPECT_EQ(from_b->prev_hash, from_a->hash);
    EXPECT_EQ(from_b->seq, from_a->seq + 1);
  }
  // And racing, as two processes would.
  std::atomic<int> failures{0};
  auto writer = [&](Store& store, const char* by) {
    for (int i = 0; i < 100; ++i) {
      auto e = store.append("s-1", event::kStepState, Json{{"by", by}, {"i", i}});
      if (!e) {
        ADD_FAILURE() << e.error().message;
        ++failures;
      }
    }
  };
  std::thread ta(writer, std::ref(*a), "a");
  std::thread tb(writer, std::ref(*b), "b");
  ta.join();
  tb.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_EQ(events_of(*a, "s-1").size(), 220u);
  EXPECT_TRUE(verify_session(*a, "s-1").has_value());
  EXPECT_TRUE(verify_session(*b, "s-1").has_value());
}

TEST_F(SqliteStoreTest, VerifySessionIsCorrectWhileAnotherProcessAppends) {
  auto writer_store = open();
  auto reader_store = open();
  ASSERT_NE(writer_store, nullptr);
  ASSERT_NE(reader_store, nullptr);
  ASSERT_TRUE(writer_store->create_session("s-1", "goal", "/ws").has_value());
  std::atomic<bool> stop{false};
  std::atomic<bool> writer_done{false};
  std::thread writer([&] {
    for (int i = 0; !stop && i < 100'000; ++i) {
      bool batch = i % 3 == 0;
      if (batch && !writer_store->begin_batch()) break;
      if (!writer_store->append("s-1", event::kStepState, Json{{"i", i}})) break;
      if (batch && !writer_store->commit_batch()) break;
    }
    writer_done = true;
  });
  int verified_while_writing = 0;
  while (!writer_done && reader_store->session("s-1")->events < 1000) {
    auto verified = verify_session(*reader_store, "s-1");
    EXPECT_TRUE(verified.has_value()) << verified.error().message;
    ++verified_while_writing;
  }
  stop = true;
  writer.join();
  EXPECT_GT(verified_while_writing, 0);
  EXPECT_TRUE(verify_session(*reader_store, "s-1").has_value());
}

TEST_F(SqliteStoreTest, ABatchIsInvisibleToOtherConnectionsUntilCommitted) {
  auto a = open();
  auto b = open();
  ASSERT_NE(a, nullptr);
  ASSERT_NE(b, nullptr);
  ASSERT_TRUE(a->create_session("s-1", "goal", "/ws").has_value());
  ASSERT_TRUE(a->begin_batch().has_value());
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(a->append("s-1", event::kStepState, Json{}).has_value());
  EXPECT_TRUE(events_of(*b, "s-1").empty());
  EXPECT_EQ(b->session("s-1")->events, 0);

  // A writer on another connection waits for the batch's write lock.
  std::atomic<bool> done{false};
  Result<Event> from_b = fail(ErrorCode::kInternal, "not run");
  std::thread writer([&] {
    from_b = b->append("s-1", event::kAnswer, Json{});
    done = true;
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  EXPECT_FALSE(done.load());
  ASSERT_TRUE(a->commit_batch().has_value());
  writer.join();
  ASSERT_TRUE(from_b.has_value()) << from_b.error().message;
  EXPECT_EQ(from_b->seq, 4);
  EXPECT_EQ(events_of(*b, "s-1").size(), 4u);
  EXPECT_TRUE(verify_session(*b, "s-1").has_value());
}

TEST_F(SqliteStoreTest, AnotherThreadWaitsForTheOpenBatchInsteadOfJoiningIt) {
  auto store = open();
  ASSERT_NE(store, nullptr);
  ASSERT_TRUE(store->create_session("s-1", "goal", "/ws").has_value());
  ASSERT_TRUE(store->begin_batch().has_value());
  ASSERT_TRUE(store->append("s-1", event::kStepState, Json{{"by", "owner"}}).has_value());
  Result<Event> other = fail(ErrorCode::kInternal, "not run");
  std::thread thread([&] { other = store->append("s-1", event::kAnswer, Json{{"by", "other"}}); });
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  ASSERT_TRUE(store->append("s-1", event::kStepState, Json{{"by", "owner"}}).has_value());
  ASSERT_TRUE(store->commit_batch().has_value());
  thread.join();
  ASSERT_TRUE(other.has_value()) << other.error().message;
  EXPECT_EQ(other->seq, 3);
  // Another thread may not commit a batch it did not begin.
  ASSERT_TRUE(store->begin_batch().has_value());
  Status foreign_commit;
  std::thread([&] { foreign_commit = store->commit_batch(); }).join();
  EXPECT_FALSE(foreign_commit.has_value());
  EXPECT_TRUE(store->commit_batch().has_value());
}

TEST_F(SqliteStoreTest, AnUncommittedBatchIsLostWhole) {
  {
    auto store = open();
    ASSERT_NE(store, nullptr);
    ASSERT_TRUE(store->create_session("s-1", "goal", "/ws").has_value());
    ASSERT_TRUE(store->append("s-1", event::kSessionStarted, Json{}).has_value());
    ASSERT_TRUE(store->begin_batch().has_value());
    for (int i = 0; i < 3; ++i) {
      ASSERT_TRUE(store->append("s-1", event::kStepState, Json{{"i", i}}).has_value());
    }
    ASSERT_TRUE(store->set_status("s-1", SessionStatus::kDone).has_value());
    // Destroyed without commit_batch.
  }
  auto store = open();
  ASSERT_NE(store, nullptr);
  EXPECT_EQ(events_of(*store, "s-1").size(), 1u);
  auto info = store->session("s-1");
  ASSERT_TRUE(info.has_value());
  EXPECT_EQ(info->events, 1);
  EXPECT_EQ(info->status, SessionStatus::kRunning);
  EXPECT_TRUE(verify_session(*store, "s-1").has_value());
}

TEST_F(SqliteStoreTest, ACommittedBatchPersistsAndBatchesDoNotNest) {
  {
    auto store = open();
    ASSERT_NE(store, nullptr);
    ASSERT_TRUE(store->create_session("s-1", "goal", "/ws").has_value());
    ASSERT_TRUE(store->begin_batch().has_value());
    auto nested = store->begin_batch();
    ASSERT_FALSE(nested.has_value());
    EXPECT_EQ(nested.error().code, ErrorCode::kFailedPrecondition);
    EXPECT_THAT(nested.error().message, HasSubstr("do not nest"));
    for (int i = 0; i < 3; ++i) {
      ASSERT_TRUE(store->append("s-1", event::kStepState, Json{{"i", i}}).has_value());
    }
    // An error inside a batch that wrote nothing keeps the batch open.
    EXPECT_FALSE(store->append("ghost", event::kStepState, Json{}).has_value());
    ASSERT_TRUE(store->append("s-1", event::kStepState, Json{{"i", 3}}).has_value());
    ASSERT_TRUE(store->commit_batch().has_value());

    auto stray = store->commit_batch();
    ASSERT_FALSE(stray.has_value());
    EXPECT_EQ(stray.error().code, ErrorCode::kFailedPrecondition);
    EXPECT_THAT(stray.error().message, HasSubstr("no batch is open"));
  }
  auto store = open();
  ASSERT_NE(store, nullptr);
  EXPECT_EQ(events_of(*store, "s-1").size(), 4u);
  EXPECT_TRUE(verify_session(*store, "s-1").has_value());
}

TEST_F(SqliteStoreTest, ReadsInsideABatchSeeItsAppends) {
  auto store = open();
  ASSERT_NE(store, nullptr);
  ASSERT_TRUE(store->create_session("s-1", "goal", "/ws").has_value());
  ASSERT_TRUE(store->create_session("s-2", "goal", "/ws").has_value());
  ASSERT_TRUE(store->begin_batch().has_value());
  ASSERT_TRUE(store->append("s-1", event::kStepState, Json{}).has_value());
  ASSERT_TRUE(store->append("s-2", event::kStepState, Json{}).has_value());
  clock_.advance(std::chrono::milliseconds(5));
  auto last = store->append("s-1", event::kStepState, Json{});
  ASSERT_TRUE(last.has_value());

  auto info = store->session("s-1");
  ASSERT_TRUE(info.has_value());
  EXPECT_EQ(info->events, 2);
  EXPECT_EQ(info->head, last->hash);
  EXPECT_EQ(info->updated_ms, last->time_ms);
  EXPECT_TRUE(verify_session(*store, "s-1").has_value());
  EXPECT_TRUE(verify_session(*store, "s-2").has_value());
  // Appends after a read continue the same chain.
  clock_.advance(std::chrono::milliseconds(5));
  ASSERT_TRUE(store->append("s-1", event::kStepState, Json{}).has_value());
  ASSERT_TRUE(store->set_status("s-1", SessionStatus::kDone).has_value());
  ASSERT_TRUE(store->commit_batch().has_value());

  info = store->session("s-1");
  ASSERT_TRUE(info.has_value());
  EXPECT_EQ(info->events, 3);
  EXPECT_EQ(info->status, SessionStatus::kDone);
  EXPECT_EQ(info->updated_ms, clock_.now_ms());
  EXPECT_TRUE(verify_session(*store, "s-1").has_value());
  EXPECT_EQ(store->session("s-2")->events, 1);
}

// A process killed with SIGKILL keeps every committed event and loses its open
// batch whole.
TEST_F(SqliteStoreTest, KillNineKeepsCommittedEventsAndDropsTheOpenBatch) {
  const std::string db = path();
  pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    FakeClock clock;
    auto store = open_sqlite_store(db, clock);
    if (!store || !(*store)->create_session("s-1", "goal", "/ws")) _exit(3);
    for (int i = 0; i < 3; ++i) {
      if (!(*store)->append("s-1", event::kStepState, Json{{"i", i}})) _exit(4);
    }
    if (!(*store)->begin_batch()) _exit(5);
    for (int i = 0; i < 2; ++i) {
      if (!(*store)->append("s-1", event::kStepState, Json{{"lost", i}})) _exit(6);
    }
    kill(getpid(), SIGKILL);
    _exit(7);
  }
  int wstatus = 0;
  ASSERT_EQ(waitpid(pid, &wstatus, 0), pid);
  ASSERT_TRUE(WIFSIGNALED(wstatus)) << "child exited with " << WEXITSTATUS(wstatus);
  ASSERT_EQ(WTERMSIG(wstatus), SIGKILL);

  auto store = open();
  ASSERT_NE(store, nullptr);
  auto events = events_of(*store, "s-1");
  ASSERT_EQ(events.size(), 3u);
  EXPECT_EQ(events.back().data, Json({{"i", 2}}));
  EXPECT_TRUE(verify_session(*store, "s-1").has_value());
  // The session continues after the crash.
  auto next = store->append("s-1", event::kStepState, Json{});
  ASSERT_TRUE(next.has_value()) << next.error().message;
  EXPECT_EQ(next->seq, 4);
}

// Tampering, with raw SQL on the file.

TEST_F(SqliteStoreTest, UntouchedJournalVerifies) {
  seed(8);
  EXPECT_EQ(verify_error(), "");
}

TEST_F(SqliteStoreTest, DetectsEditedData) {
  seed(8);
  raw_sql(path(), R"(UPDATE events SET data = '{"step":"s5","verdict":"allow"}' WHERE seq = 5)");
  EXPECT_EQ(verify_error(),
            "session 's-1': event 5 (guard_decision): hash mismatch — the event was edited");
}

TEST_F(SqliteStoreTest, DetectsAnEditedType) {
  seed(8);
  raw_sql(path(), "UPDATE events SET type = 'approval' WHERE seq = 3");
  EXPECT_EQ(verify_error(),
            "session 's-1': event 3 (approval): hash mismatch — the event was edited");
}

TEST_F(SqliteStoreTest, DetectsAnEditedTime) {
  seed(8);
  raw_sql(path(), "UPDATE events SET time_ms = time_ms - 3600000 WHERE seq = 2");
  EXPECT_THAT(verify_error(), HasSubstr("event 2 (step_state): hash mismatch"));
}

TEST_F(SqliteStoreTest, DetectsADeletedMiddleEvent) {
  seed(8);
  raw_sql(path(), "DELETE FROM events WHERE seq = 4");
  EXPECT_EQ(verify_error(),
            "session 's-1': event 4: expected seq 4 but found 5 — events were deleted or "
            "reordered");
}

TEST_F(SqliteStoreTest, DetectsDeletedLastEventsThroughTheSessionRow) {
  seed(8);
  raw_sql(path(), "DELETE FROM events WHERE seq >= 7");
  // The remaining events still form a valid chain on their own...
  {
    auto store = open();
    ASSERT_NE(store, nullptr);
    EXPECT_TRUE(verify_chain(events_of(*store, "s-1")).has_value());
  }
  // ...but the session row remembers how long the chain was.
  EXPECT_EQ(verify_error(),
            "session 's-1': the session records 8 events but the journal holds 6 — events were "
            "deleted from the end of the journal");

  // Covering the tracks by also editing the count is caught by the head.
  raw_sql(path(), "UPDATE sessions SET events = 6");
  EXPECT_THAT(verify_error(), HasSubstr("head hash"));
}

TEST_F(SqliteStoreTest, DetectsEventsAddedBehindTheSessionsBack) {
  seed(3);
  raw_sql(path(),
          "INSERT INTO events(session, seq, type, time_ms, data, prev_hash, hash) "
          "SELECT session, 4, type, time_ms, data, hash, hash FROM events WHERE seq = 3");
  {
    // Forge a hash that links, so only the session row can tell.
    auto store = open();
    ASSERT_NE(store, nullptr);
    auto events = events_of(*store, "s-1");
    ASSERT_EQ(events.size(), 4u);
    std::string forged = chain_hash(events[3].prev_hash, events[3]);
    store.reset();
    raw_sql(path(), "UPDATE events SET hash = '" + forged + "' WHERE seq = 4");
  }
  EXPECT_EQ(verify_error(),
            "session 's-1': the journal holds 4 events but the session records only 3 — events "
            "were added to the journal behind the session's back");
}

TEST_F(SqliteStoreTest, DetectsTwoSwappedEvents) {
  seed(8);
  raw_sql(path(),
          "UPDATE events SET seq = -1 WHERE seq = 3;"
          "UPDATE events SET seq = 3 WHERE seq = 4;"
          "UPDATE events SET seq = 4 WHERE seq = -1;");
  EXPECT_EQ(verify_error(), "session 's-1': event 3: prev_hash does not link to event 2");
}

TEST_F(SqliteStoreTest, DetectsAnEditedHash) {
  seed(8);
  raw_sql(path(), "UPDATE events SET hash = replace(hash, substr(hash, 1, 1), 'x') WHERE seq = 6");
  EXPECT_EQ(verify_error(),
            "session 's-1': event 6 (step_state): hash mismatch — the event was edited");
}

TEST_F(SqliteStoreTest, DetectsARecomputedHashThroughTheNextLink) {
  // An attacker who edits an event and recomputes its hash breaks the link
  // from the event after it.
  seed(8);
  {
    auto store = open();
    ASSERT_NE(store, nullptr);
    Event edited = events_of(*store, "s-1")[4];
    edited.data = Json{{"step", "s5"}, {"verdict", "allow"}};
    std::string hash = chain_hash(edited.prev_hash, edited);
    store.reset();
    raw_sql(path(), "UPDATE events SET data = '" + canonical_json(edited.data) + "', hash = '" +
                        hash + "' WHERE seq = 5");
  }
  EXPECT_EQ(verify_error(), "session 's-1': event 6: prev_hash does not link to event 5");
}

TEST_F(SqliteStoreTest, DetectsAnEditedHeadInTheSessionRow) {
  seed(3);
  raw_sql(path(), "UPDATE sessions SET head = '" + std::string(64, 'a') + "'");
  EXPECT_THAT(verify_error(), HasSubstr("session 's-1': the session's head hash"));
}

TEST_F(SqliteStoreTest, ReportsDataThatIsNoLongerJson) {
  seed(3);
  raw_sql(path(), "UPDATE events SET data = '{not json' WHERE seq = 2");
  auto store = open();
  ASSERT_NE(store, nullptr);
  auto events = store->events("s-1");
  ASSERT_FALSE(events.has_value());
  EXPECT_EQ(events.error().code, ErrorCode::kFailedPrecondition);
  EXPECT_THAT(events.error().message, HasSubstr("event 2: data is not valid JSON"));
}

}  // namespace
}  // namespace ergon
