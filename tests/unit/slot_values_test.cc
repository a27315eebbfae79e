#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <chrono>

#include "ergon/planner.h"

namespace ergon {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;

SlotSpec slot_of(SlotType type, std::vector<std::string> choices = {}) {
  SlotSpec slot;
  slot.name = "value";
  slot.type = type;
  slot.choices = std::move(choices);
  return slot;
}

// 2027-03-04 10:30 UTC.
int64_t march_4_2027_ms() {
  using namespace std::chrono;
  auto day = sys_days{year{2027} / March / 4};
  return duration_cast<milliseconds>((day + hours{10} + minutes{30}).time_since_epoch()).count();
}

Json parsed(SlotType type, const std::string& text, int64_t now_ms = 0,
            std::vector<std::string> choices = {}) {
  auto value = parse_slot_value(slot_of(type, std::move(choices)), text, now_ms);
  EXPECT_TRUE(value.has_value()) << "'" << text << "': " << value.error().message;
  return value ? *value : Json();
}

std::string parse_error(SlotType type, const std::string& text, int64_t now_ms = 0,
                        std::vector<std::string> choices = {}) {
  auto value = parse_slot_value(slot_of(type, std::move(choices)), text, now_ms);
  EXPECT_FALSE(value.has_value()) << "'" << text << "' parsed as " << value->dump();
  if (value) return "";
  EXPECT_EQ(value.error().code, ErrorCode::kInvalidInput);
  return value.error().message;
}

std::optional<Json> extracted(SlotType type, const std::string& goal, int64_t now_ms = 0,
                              std::vector<std::string> choices = {}) {
  return extract_slot_value(slot_of(type, std::move(choices)), goal, now_ms);
}

TEST(Percent, ParsesAnswers) {
  EXPECT_EQ(parsed(SlotType::kPercent, "15%"), Json(15));
  EXPECT_EQ(parsed(SlotType::kPercent, "15 %"), Json(15));
  EXPECT_EQ(parsed(SlotType::kPercent, "15 percent"), Json(15));
  EXPECT_EQ(parsed(SlotType::kPercent, "12.5 per cent"), Json(12.5));
  EXPECT_EQ(parsed(SlotType::kPercent, "  about 20% please "), Json(20));
  EXPECT_EQ(parsed(SlotType::kPercent, "15"), Json(15));  // the answer to "by how much?"
  EXPECT_EQ(parsed(SlotType::kPercent, "-5%"), Json(-5));
}

TEST(Percent, RejectsWhatIsNotAPercentage) {
  EXPECT_EQ(parse_error(SlotType::kPercent, "a lot"),
            "expected a percentage like 15%, got 'a lot'");
  EXPECT_EQ(parse_error(SlotType::kPercent, "  "), "expected a percentage like 15%, got nothing");
  EXPECT_THAT(parse_error(SlotType::kPercent, "10% or 20%"),
              StartsWith("found several percentages in '10% or 20%' (10%, 20%)"));
  EXPECT_THAT(parse_error(SlotType::kPercent, "$15"), StartsWith("expected a percentage"));
}

TEST(Percent, ExtractsFromGoals) {
  EXPECT_EQ(extracted(SlotType::kPercent, "cut our cloud bill 15% without hurting performance"),
            Json(15));
  EXPECT_EQ(extracted(SlotType::kPercent, "reduce spend by 7.5 percent by March 4, 2027"),
            Json(7.5));
  // "by 15" counts when it is the goal's only quantity.
  EXPECT_EQ(extracted(SlotType::kPercent, "cut cloud spend by 15"), Json(15));
  EXPECT_EQ(extracted(SlotType::kPercent, "cut cloud spend by 15 before 2027-03-04"), Json(15));
  EXPECT_FALSE(extracted(SlotType::kPercent, "cut cloud spend by 15 on 3 servers"));
  EXPECT_FALSE(extracted(SlotType::kPercent, "cut cloud spend to 15"));
  EXPECT_FALSE(extracted(SlotType::kPercent, "cut our cloud spend without touching production"));
}

TEST(Money, ParsesAnswers) {
  EXPECT_EQ(parsed(SlotType::kMoney, "$1,200"), Json(1200));
  EXPECT_EQ(parsed(SlotType::kMoney, "1200 USD"), Json(1200));
  EXPECT_EQ(parsed(SlotType::kMoney, "€50"), Json(50));
  EXPECT_EQ(parsed(SlotType::kMoney, "£ 19.99"), Json(19.99));
  EXPECT_EQ(parsed(SlotType::kMoney, "10k"), Json(10000));
  EXPECT_EQ(parsed(SlotType::kMoney, "$2.5m"), Json(2500000));
  EXPECT_EQ(parsed(SlotType::kMoney, "1.1k"), Json(1100));  // exact, not 1100.0000000000002
  EXPECT_EQ(parsed(SlotType::kMoney, "3 million dollars"), Json(3000000));
  EXPECT_EQ(parsed(SlotType::kMoney, "USD 75"), Json(75));
  EXPECT_EQ(parsed(SlotType::kMoney, "50€"), Json(50));
  EXPECT_EQ(parsed(SlotType::kMoney, "500"), Json(500));  // a bare answer to "how much?"
}

TEST(Money, RejectsAndExtracts) {
  EXPECT_EQ(parse_error(SlotType::kMoney, "cheap"),
            "expected an amount of money like $1,200, 1200 USD or 10k, got 'cheap'");
  EXPECT_THAT(parse_error(SlotType::kMoney, "$5 or $10"), StartsWith("found several amounts"));
  EXPECT_EQ(extracted(SlotType::kMoney, "buy 30 shares of ACME for at most $1,200 total"),
            Json(1200));
  EXPECT_EQ(extracted(SlotType::kMoney, "keep the budget under 10k this quarter"), Json(10000));
  EXPECT_FALSE(extracted(SlotType::kMoney, "buy 30 shares of ACME"));
}

TEST(Number, ParsesAnswers) {
  EXPECT_EQ(parsed(SlotType::kNumber, "3"), Json(3));
  EXPECT_EQ(parsed(SlotType::kNumber, "2.5"), Json(2.5));
  EXPECT_EQ(parsed(SlotType::kNumber, "1,000"), Json(1000));
  EXPECT_EQ(parsed(SlotType::kNumber, "3 replicas"), Json(3));
  EXPECT_EQ(parsed(SlotType::kNumber, "-4"), Json(-4));
  EXPECT_EQ(parse_error(SlotType::kNumber, "three"),
            "expected a number like 3, 2.5 or 1,000, got 'three'");
  EXPECT_THAT(parse_error(SlotType::kNumber, "3 or 4"), StartsWith("found several numbers"));
}

TEST(Number, ExtractSkipsNumbersInsideOtherValues) {
  EXPECT_EQ(extracted(SlotType::kNumber, "by 2027-03-04 scale web to 3 replicas"), Json(3));
  EXPECT_EQ(extracted(SlotType::kNumber, "with 15% headroom keep 4 nodes"), Json(4));
  EXPECT_EQ(extracted(SlotType::kNumber, "spend $1,200 on 6 laptops"), Json(6));
  EXPECT_EQ(extracted(SlotType::kNumber, "resize to t2.micro and 2 instances"), Json(2));
  EXPECT_FALSE(extracted(SlotType::kNumber, "on March 4, 2027"));

  auto all = find_slot_values(slot_of(SlotType::kNumber), "move 3 pods then 5 pods");
  ASSERT_EQ(all.size(), 2u);
  EXPECT_EQ(all[0].value, Json(3));
  EXPECT_EQ(all[1].value, Json(5));
  EXPECT_EQ(std::string("move 3 pods then 5 pods").substr(all[1].begin, all[1].end - all[1].begin),
            "5");
}

TEST(Date, ParsesAbsoluteDates) {
  EXPECT_EQ(parsed(SlotType::kDate, "2027-03-04"), Json("2027-03-04"));
  EXPECT_EQ(parsed(SlotType::kDate, "2027/3/4"), Json("2027-03-04"));
  EXPECT_EQ(parsed(SlotType::kDate, "3/4/2027"), Json("2027-03-04"));  // US month/day
  EXPECT_EQ(parsed(SlotType::kDate, "12/25/27"), Json("2027-12-25"));
  EXPECT_EQ(parsed(SlotType::kDate, "March 4, 2027"), Json("2027-03-04"));
  EXPECT_EQ(parsed(SlotType::kDate, "Mar 4th 2027"), Json("2027-03-04"));
  EXPECT_EQ(parsed(SlotType::kDate, "4 March 2027"), Json("2027-03-04"));
  EXPECT_EQ(parsed(SlotType::kDate, "4th of March, 2027"), Json("2027-03-04"));
  EXPECT_EQ(parsed(SlotType::kDate, "February 29, 2028"), Json("2028-02-29"));  // leap year
}

TEST(Date, ValidatesCalendarDays) {
  EXPECT_EQ(parse_error(SlotType::kDate, "February 30, 2027"),
            "'February 30, 2027' is not a valid date — February 2027 has 28 days");
  EXPECT_EQ(parse_error(SlotType::kDate, "2027-02-29"),
            "'2027-02-29' is not a valid date — February 2027 has 28 days");
  EXPECT_EQ(parse_error(SlotType::kDate, "2027-04-31"),
            "'2027-04-31' is not a valid date — April 2027 has 30 days");
  EXPECT_EQ(parse_error(SlotType::kDate, "13/4/2027"),
            "'13/4/2027' is not a valid date — months run from 1 to 12");
  EXPECT_EQ(parse_error(SlotType::kDate, "soon"),
            "expected a date like 2027-03-04, 3/4/2027 or March 4, 2027, got 'soon'");
  EXPECT_THAT(parse_error(SlotType::kDate, "2027-03-04 or 2027-03-05"),
              StartsWith("found several dates"));
}

TEST(Date, RelativeDatesNeedAReference) {
  EXPECT_THAT(parse_error(SlotType::kDate, "tomorrow"),
              StartsWith("'tomorrow' is relative and no reference date is available here"));
  EXPECT_THAT(parse_error(SlotType::kDate, "March 4"), StartsWith("'March 4' has no year"));
  const int64_t now = march_4_2027_ms();
  EXPECT_EQ(parsed(SlotType::kDate, "today", now), Json("2027-03-04"));
  EXPECT_EQ(parsed(SlotType::kDate, "Tomorrow", now), Json("2027-03-05"));
  EXPECT_EQ(parsed(SlotType::kDate, "yesterday", now), Json("2027-03-03"));
  EXPECT_EQ(parsed(SlotType::kDate, "March 10", now), Json("2027-03-10"));
  EXPECT_EQ(parsed(SlotType::kDate, "1 March", now), Json("2028-03-01"));  // already past
}

TEST(Date, ExtractsFromGoals) {
  EXPECT_EQ(extracted(SlotType::kDate, "book the MRI on March 4, 2027 in-network"),
            Json("2027-03-04"));
  EXPECT_EQ(extracted(SlotType::kDate, "deploy 3 pods before 2027-03-04."), Json("2027-03-04"));
  EXPECT_EQ(extracted(SlotType::kDate, "book it for tomorrow", march_4_2027_ms()),
            Json("2027-03-05"));
  EXPECT_FALSE(extracted(SlotType::kDate, "book it for tomorrow"));
  EXPECT_FALSE(extracted(SlotType::kDate, "book it on 2027-02-30"));
  EXPECT_FALSE(extracted(SlotType::kDate, "you may go"));
}

TEST(Enum, ParsesAnswers) {
  const std::vector<std::string> choices = {"small", "large", "in-network"};
  EXPECT_EQ(parsed(SlotType::kEnum, "LARGE", 0, choices), Json("large"));
  EXPECT_EQ(parsed(SlotType::kEnum, "the small one", 0, choices), Json("small"));
  EXPECT_EQ(parsed(SlotType::kEnum, "in-network please", 0, choices), Json("in-network"));
  EXPECT_EQ(parse_error(SlotType::kEnum, "medium", 0, choices),
            "expected one of small, large, in-network, got 'medium'");
  EXPECT_EQ(parse_error(SlotType::kEnum, "smal", 0, choices),
            "expected one of small, large, in-network, got 'smal'; did you mean 'small'?");
  EXPECT_EQ(parse_error(SlotType::kEnum, "small or large", 0, choices),
            "'small or large' mentions both 'small' and 'large' — answer with just one");
}

TEST(Enum, ExtractsWholeWordsOnly) {
  const std::vector<std::string> choices = {"small", "large"};
  EXPECT_EQ(extracted(SlotType::kEnum, "resize the db to Large", 0, choices), Json("large"));
  EXPECT_FALSE(extracted(SlotType::kEnum, "make it smaller", 0, choices));
  EXPECT_FALSE(extracted(SlotType::kEnum, "small or large?", 0, choices));  // ambiguous: ask
}

TEST(String, AnswersAreTrimmedAndNeverExtracted) {
  EXPECT_EQ(parsed(SlotType::kString, "  Dr. Smith \n"), Json("Dr. Smith"));
  EXPECT_EQ(parse_error(SlotType::kString, "   "), "expected a value, got nothing");
  EXPECT_FALSE(extracted(SlotType::kString, "book Dr. Smith"));
  EXPECT_TRUE(find_slot_values(slot_of(SlotType::kString), "book Dr. Smith").empty());
}

}  // namespace
}  // namespace ergon
