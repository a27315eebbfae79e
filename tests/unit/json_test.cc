// canonical_json is what the journal hashes, so it must equal nlohmann's
// compact dump byte for byte: verify_chain recomputes it from parsed events.
#include "ergon/json.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <limits>
#include <random>
#include <string>
#include <string_view>

namespace ergon {
namespace {

std::string reference(const Json& value) {
  return value.dump(-1, ' ', false, Json::error_handler_t::replace);
}

// Strings that exercise every escaping path: plain ASCII, quotes, control
// characters, DEL, valid multi-byte UTF-8 and invalid or truncated sequences.
std::string random_text(std::mt19937& random) {
  using namespace std::string_view_literals;
  static constexpr std::string_view kPieces[] = {
      "a"sv,        "step"sv, " "sv,    "\""sv, "\\"sv,           "/"sv,    "\n"sv,
      "\t"sv,       "\b"sv,   "\f"sv,   "\r"sv, "\0"sv,           "\x01"sv, "\x1f"sv,
      "\x7f"sv,     "é"sv,    "日本"sv, "😀"sv,  "\xe2\x80\xa8"sv, "\xff"sv, "\xc3"sv,
      "\xe6\x97"sv, "~"sv,    "{}"sv,   "["sv,  "${x}"sv};
  std::string text;
  int length = static_cast<int>(random() % 6);
  for (int i = 0; i < length; ++i) text += kPieces[random() % std::size(kPieces)];
  return text;
}

Json random_json(std::mt19937& random, int depth) {
  switch (random() % (depth > 3 ? 8 : 10)) {
    case 0: return nullptr;
    case 1: return random() % 2 == 0;
    case 2: return static_cast<int64_t>(random()) - (1LL << 31);
    case 3: return std::numeric_limits<int64_t>::min() + static_cast<int64_t>(random() % 3);
    case 4: return std::numeric_limits<uint64_t>::max() - random() % 3;
    case 5: {
      static const double kFloats[] = {0.0,
                                       -0.0,
                                       0.5,
                                       1.0,
                                       -3.25,
                                       1e300,
                                       1.7976931348623157e308,
                                       5e-324,
                                       std::numeric_limits<double>::quiet_NaN(),
                                       std::numeric_limits<double>::infinity(),
                                       0.1,
                                       100.0};
      return kFloats[random() % std::size(kFloats)];
    }
    case 6:
    case 7: return random_text(random);
    case 8: {
      Json array = Json::array();
      for (int i = static_cast<int>(random() % 4); i > 0; --i) {
        array.push_back(random_json(random, depth + 1));
      }
      return array;
    }
    default: {
      Json object = Json::object();
      for (int i = static_cast<int>(random() % 4); i > 0; --i) {
        object[random_text(random)] = random_json(random, depth + 1);
      }
      return object;
    }
  }
}

TEST(CanonicalJson, EqualsNlohmannsCompactDump) {
  std::mt19937 random(20240611);
  for (int i = 0; i < 5000; ++i) {
    Json value = random_json(random, 0);
    ASSERT_EQ(canonical_json(value), reference(value)) << "case " << i;
  }
}

TEST(CanonicalJson, EdgeCases) {
  for (const Json& value :
       {Json(), Json::object(), Json::array(), Json(""), Json(0), Json(-1), Json(0u),
        Json::binary({1, 2, 3}), Json::binary({}, 7), Json{{"", {{"", nullptr}}}},
        Json::array({Json::object(), Json::array()})}) {
    EXPECT_EQ(canonical_json(value), reference(value));
  }
}

TEST(AppendJsonString, QuotesAndEscapesLikeCanonicalJson) {
  std::mt19937 random(7);
  for (int i = 0; i < 2000; ++i) {
    std::string text = random_text(random);
    std::string out = "prefix";
    append_json_string(out, text);
    ASSERT_EQ(out, "prefix" + reference(Json(text))) << "case " << i;
  }
}

TEST(Sha256Hex, HashesPartsAsTheirConcatenation) {
  EXPECT_EQ(sha256_hex(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(sha256_hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(sha256_hex({"a", "", "bc"}), sha256_hex("abc"));
  EXPECT_EQ(sha256_hex({}), sha256_hex(""));
}

}  // namespace
}  // namespace ergon
