#include "ergon/expression.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <lua5.4/lua.hpp>
#include <string>

namespace ergon {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

class ExpressionTest : public ::testing::Test {
 protected:
  Sandbox sandbox_;
  Json env_ = Json::parse(R"({
    "slots": {"pct": 15, "name": "acme", "ratio": 2.5, "list": [1, null, 3], "gone": null,
              "nested": {"inner": {"value": "deep"}}, "empty": [], "desc": [3, 2, 1], "big": 18446744073709551615},
    "steps": {"bill": {"result": {"total": 1200, "items": [{"id": "i-1"}, {"id": "i-2"}]}}},
    "item": {"id": "i-9", "env": "dev"},
    "index": 2,
    "goal": "cut costs"
  })");

  Json eval_ok(std::string_view expression) {
    auto result = sandbox_.eval(expression, env_);
    EXPECT_TRUE(result.has_value()) << expression << ": " << result.error().message;
    return result.value_or(Json("<failed>"));
  }
  Json run_ok(std::string_view chunk) {
    auto result = sandbox_.run(chunk, env_);
    EXPECT_TRUE(result.has_value()) << chunk << ": " << result.error().message;
    return result.value_or(Json("<failed>"));
  }
  Error eval_error(std::string_view expression) {
    auto result = sandbox_.eval(expression, env_);
    EXPECT_FALSE(result.has_value()) << expression << " returned " << result->dump();
    return result.has_value() ? Error{} : result.error();
  }
  Error run_error(std::string_view chunk) {
    auto result = sandbox_.run(chunk, env_);
    EXPECT_FALSE(result.has_value()) << chunk << " returned " << result->dump();
    return result.has_value() ? Error{} : result.error();
  }
  Json render_ok(const Json& value) {
    auto result = sandbox_.render(value, env_);
    EXPECT_TRUE(result.has_value()) << value.dump() << ": " << result.error().message;
    return result.value_or(Json("<failed>"));
  }
};

// --- the language --------------------------------------------------------------

TEST_F(ExpressionTest, ArithmeticKeepsIntegerAndFloatApart) {
  const Json sum = eval_ok("1 + 2");
  EXPECT_TRUE(sum.is_number_integer());
  EXPECT_EQ(sum, 3);
  const Json quotient = eval_ok("7 / 2");
  EXPECT_TRUE(quotient.is_number_float());
  EXPECT_DOUBLE_EQ(quotient.get<double>(), 3.5);
  EXPECT_EQ(eval_ok("7 // 2"), 3);
  EXPECT_TRUE(eval_ok("2.0").is_number_float());
  EXPECT_EQ(eval_ok("'a' .. 'b' .. 1"), "ab1");
}

TEST_F(ExpressionTest, ComparisonAndLogic) {
  EXPECT_EQ(eval_ok("3 > 2 and 'yes' or 'no'"), "yes");
  EXPECT_EQ(eval_ok("not (1 == 1)"), false);
  EXPECT_EQ(eval_ok("nil or 5"), 5);
  EXPECT_EQ(eval_ok("'abc' < 'abd'"), true);
  EXPECT_EQ(eval_ok("1 ~= 1.0"), false);
}

TEST_F(ExpressionTest, TestUsesLuaTruthiness) {
  EXPECT_TRUE(sandbox_.test("0", env_).value());
  EXPECT_TRUE(sandbox_.test("''", env_).value());
  EXPECT_TRUE(sandbox_.test("slots", env_).value());
  EXPECT_TRUE(sandbox_.test("print == nil", env_).value());
  EXPECT_FALSE(sandbox_.test("nil", env_).value());
  EXPECT_FALSE(sandbox_.test("false", env_).value());
  EXPECT_FALSE(sandbox_.test("null", env_).value());
  EXPECT_FALSE(sandbox_.test("slots.list[2]", env_).value());
  EXPECT_FALSE(sandbox_.test("slots.pct > 20", env_).value());
}

TEST_F(ExpressionTest, RunExecutesStatementsAndReturnsFirstValue) {
  EXPECT_EQ(run_ok(R"(
    local function fib(n) if n < 2 then return n end return fib(n - 1) + fib(n - 2) end
    local total = 0
    for i = 1, 10 do total = total + i end
    return fib(10) + total, "ignored")"),
            55 + 55);
  EXPECT_EQ(run_ok("local x = 1"), nullptr);
  EXPECT_EQ(run_ok("return nil"), nullptr);
  EXPECT_EQ(run_ok(""), nullptr);
  EXPECT_EQ(run_ok("local out = {} for i, v in ipairs(steps.bill.result.items) do "
                   "out[#out + 1] = v.id .. ':' .. i end return out"),
            Json::parse(R"(["i-1:1", "i-2:2"])"));
}

TEST_F(ExpressionTest, OwnTablesMayHaveMetatables) {
  EXPECT_EQ(run_ok("local t = setmetatable({}, {__index = function(_, k) return k .. '!' end}) "
                   "return t.hey"),
            "hey!");
}

// --- working memory --------------------------------------------------------------

TEST_F(ExpressionTest, EnvKeysAreGlobals) {
  EXPECT_EQ(eval_ok("slots.pct"), 15);
  EXPECT_EQ(eval_ok("index * 10"), 20);
  EXPECT_EQ(eval_ok("goal:upper()"), "CUT COSTS");
  EXPECT_EQ(eval_ok("item.env == 'dev'"), true);
  EXPECT_EQ(eval_ok("undefined_name"), nullptr);
}

TEST_F(ExpressionTest, NestedObjectsAndOneBasedArrays) {
  EXPECT_EQ(eval_ok("slots.nested.inner.value"), "deep");
  EXPECT_EQ(eval_ok("steps.bill.result.items[2].id"), "i-2");
  EXPECT_EQ(eval_ok("slots.list[1]"), 1);
  EXPECT_EQ(eval_ok("slots.list[0]"), nullptr);
  EXPECT_EQ(eval_ok("slots.list[4]"), nullptr);
  EXPECT_EQ(eval_ok("slots.list['1']"), nullptr);
  EXPECT_EQ(eval_ok("#slots.list"), 3);
  EXPECT_EQ(eval_ok("#slots.empty"), 0);
  EXPECT_EQ(eval_ok("slots.nested.missing"), nullptr);
}

TEST_F(ExpressionTest, NumbersKeepTheirSubtypeIntoLua) {
  EXPECT_EQ(eval_ok("math.type(slots.pct)"), "integer");
  EXPECT_EQ(eval_ok("math.type(slots.ratio)"), "float");
  EXPECT_EQ(eval_ok("slots.ratio * 2"), 5.0);
  // Above the int64 range a JSON unsigned becomes a float rather than wrapping around.
  EXPECT_EQ(eval_ok("math.type(slots.big)"), "float");
  EXPECT_EQ(eval_ok("slots.big > 0"), true);
}

TEST_F(ExpressionTest, ViewsIterateWithPairsAndIpairs) {
  EXPECT_EQ(run_ok("local keys = {} for k in pairs(steps.bill.result) do keys[#keys + 1] = k end "
                   "table.sort(keys) return table.concat(keys, ',')"),
            "items,total");
  // Null members of an object read as nil, so pairs skips them.
  EXPECT_EQ(run_ok("local n = 0 for k, v in pairs(slots) do n = n + 1 end return n"),
            env_["slots"].size() - 1);
  EXPECT_EQ(run_ok("local n = 0 for i, v in ipairs(slots.list) do n = n + 1 end return n"), 3);
  EXPECT_EQ(eval_ok("table.concat(steps.bill.result.items[1].id == 'i-1' and {'ok'} or {}, '')"),
            "ok");
  EXPECT_EQ(eval_ok("select('#', table.unpack(slots.list))"), 3);
  EXPECT_EQ(eval_ok("tostring(slots.list)"), "[1,null,3]");
  EXPECT_EQ(eval_ok("slots.nested == slots.nested"), true);
  EXPECT_EQ(eval_ok("type(slots)"), "table");
}

TEST_F(ExpressionTest, JsonNullIsTheNullSentinel) {
  EXPECT_EQ(eval_ok("slots.list[2] == null"), true);
  EXPECT_EQ(eval_ok("slots.gone == nil"), true);
  EXPECT_EQ(eval_ok("null"), nullptr);
  EXPECT_EQ(eval_ok("{1, null, 3}"), Json::parse("[1, null, 3]"));
  EXPECT_EQ(eval_ok("{a = null}"), Json::parse(R"({"a": null})"));
}

TEST_F(ExpressionTest, WorkingMemoryIsReadOnly) {
  for (const char* chunk :
       {"slots.pct = 1", "slots.nested.inner.value = 'x'", "slots.list[1] = 9",
        "slots.fresh = true", "table.insert(slots.list, 4)", "table.sort(slots.desc)"}) {
    const Error error = run_error(chunk);
    EXPECT_EQ(error.code, ErrorCode::kFailedPrecondition) << chunk;
    EXPECT_THAT(error.message, HasSubstr("read-only")) << chunk;
  }
  EXPECT_EQ(eval_ok("slots.pct"), 15);
  EXPECT_EQ(env_["slots"]["pct"], 15);
  EXPECT_THAT(run_error("setmetatable(slots, nil)").message, HasSubstr("protected metatable"));
  EXPECT_EQ(eval_ok("getmetatable(slots)"), "locked");
  EXPECT_EQ(eval_ok("rawset"), nullptr);
}

TEST_F(ExpressionTest, LibrariesAreReadOnlyAndGlobalsDoNotPersist) {
  EXPECT_THAT(run_error("string.upper = nil").message, HasSubstr("read-only"));
  EXPECT_THAT(run_error("math.pi = 3").message, HasSubstr("read-only"));
  EXPECT_EQ(eval_ok("getmetatable('')"), "locked");
  EXPECT_EQ(run_ok("leaked = 42 slots = 'shadowed' return leaked"), 42);
  EXPECT_EQ(eval_ok("leaked"), nullptr);
  EXPECT_EQ(eval_ok("slots.pct"), 15);
  EXPECT_EQ(eval_ok("('x'):upper() .. string.upper('y')"), "XY");
}

TEST_F(ExpressionTest, EachEvaluationSeesItsOwnEnv) {
  // The compiled chunk is cached; its globals must not be.
  EXPECT_EQ(sandbox_.eval("slots.pct", Json{{"slots", {{"pct", 1}}}}).value(), 1);
  EXPECT_EQ(sandbox_.eval("slots.pct", Json{{"slots", {{"pct", 2}}}}).value(), 2);
  EXPECT_EQ(sandbox_.eval("slots", Json::object()).value(), nullptr);
  EXPECT_EQ(sandbox_.eval("1 + 1", Json()).value(), 2);
}

TEST_F(ExpressionTest, CacheEvictionKeepsResultsCorrect) {
  for (int i = 0; i < 1200; ++i) {
    const std::string expression = "index + " + std::to_string(i);
    auto result = sandbox_.eval(expression, env_);
    ASSERT_TRUE(result.has_value()) << result.error().message;
    ASSERT_EQ(*result, 2 + i);
  }
  EXPECT_EQ(eval_ok("index + 0"), 2);
}

// --- the sandbox -----------------------------------------------------------------

TEST_F(ExpressionTest, DangerousGlobalsAreAbsent) {
  for (const char* name :
       {"os", "io", "debug", "package", "require", "load", "loadstring", "dofile", "loadfile",
        "collectgarbage", "print", "rawset", "coroutine", "_G", "warn"}) {
    EXPECT_EQ(eval_ok(name), nullptr) << name;
  }
  EXPECT_EQ(eval_ok("string.dump"), nullptr);
  EXPECT_EQ(eval_ok("('').dump"), nullptr);
}

TEST_F(ExpressionTest, EscapeAttemptsFail) {
  for (const char* chunk :
       {"os.execute('touch /tmp/ergon-escaped')", "io.open('/etc/passwd')", "require('os')",
        "load('return 1')()", "dofile('/etc/passwd')", "string.dump(function() end)",
        "debug.getregistry()", "getmetatable('').__index.rep = nil"}) {
    const Error error = run_error(chunk);
    EXPECT_EQ(error.code, ErrorCode::kFailedPrecondition) << chunk;
  }
}

TEST_F(ExpressionTest, BinaryChunksAreRefused) {
  lua_State* plain = luaL_newstate();
  ASSERT_EQ(luaL_loadstring(plain, "return 42"), LUA_OK);
  std::string bytecode;
  lua_dump(
      plain,
      [](lua_State*, const void* data, size_t size, void* out) {
        static_cast<std::string*>(out)->append(static_cast<const char*>(data), size);
        return 0;
      },
      &bytecode, 1);
  lua_close(plain);
  ASSERT_EQ(bytecode.substr(0, 4), "\x1bLua");

  auto result = sandbox_.run(bytecode, env_);
  ASSERT_FALSE(result.has_value());
  EXPECT_EQ(result.error().code, ErrorCode::kInvalidInput);
  EXPECT_THAT(result.error().message, HasSubstr("binary chunk"));
  EXPECT_EQ(sandbox_.check(bytecode, true).error().code, ErrorCode::kInvalidInput);
}

TEST_F(ExpressionTest, FinalizersAreRefused) {
  EXPECT_THAT(run_error("setmetatable({}, {__gc = function() end})").message, HasSubstr("__gc"));
}

TEST(ExpressionLimits, InstructionBudgetStopsInfiniteLoopsAndSandboxRecovers) {
  Sandbox sandbox(SandboxLimits{.instruction_budget = 10'000});
  for (const char* chunk : {"while true do end",
                            // pcall must not be able to swallow the budget error
                            "while true do pcall(function() while true do end end) end",
                            "local ok = pcall(function() while true do end end) return 'escaped'",
                            "return pcall(function() while true do end end)"}) {
    auto result = sandbox.run(chunk, Json::object());
    ASSERT_FALSE(result.has_value()) << chunk << " returned " << result->dump();
    EXPECT_EQ(result.error().code, ErrorCode::kFailedPrecondition);
    EXPECT_THAT(result.error().message,
                HasSubstr("instruction budget of 10000 exhausted (infinite loop?)"));
    auto after = sandbox.eval("40 + 2", Json::object());
    ASSERT_TRUE(after.has_value()) << after.error().message;
    EXPECT_EQ(*after, 42);
  }
  // A loop that fits in the budget runs to the end.
  EXPECT_EQ(
      sandbox.run("local n = 0 for i = 1, 1000 do n = n + i end return n", Json::object()).value(),
      500500);
}

TEST(ExpressionLimits, MemoryCapStopsRunawayAllocationAndSandboxRecovers) {
  constexpr size_t kCap = 1 << 20;
  Sandbox sandbox(SandboxLimits{.instruction_budget = 100'000'000, .memory_bytes = kCap});
  for (int attempt = 0; attempt < 3; ++attempt) {
    auto result = sandbox.run("local t = {} while true do t[#t + 1] = string.rep('x', 1000) end",
                              Json::object());
    ASSERT_FALSE(result.has_value());
    EXPECT_EQ(result.error().code, ErrorCode::kFailedPrecondition);
    EXPECT_THAT(result.error().message, HasSubstr("memory cap of 1048576 bytes exceeded"));
    EXPECT_EQ(sandbox.eval("'still ' .. 'usable'", Json::object()).value(), "still usable");
  }
  auto huge = sandbox.eval("string.rep('x', 1 << 30)", Json::object());
  ASSERT_FALSE(huge.has_value());
  EXPECT_THAT(huge.error().message, HasSubstr("memory cap"));
  // Garbage of earlier evaluations never counts against later ones.
  for (int i = 0; i < 20; ++i) {
    auto half = sandbox.eval("#string.rep('y', 400000)", Json::object());
    ASSERT_TRUE(half.has_value()) << "round " << i << ": " << half.error().message;
    EXPECT_EQ(*half, 400000);
  }
}

// --- string patterns -----------------------------------------------------------

// The sandbox replaces Lua's pattern functions with budgeted ones; each case here must
// give the same results (or the same error) as stock Lua 5.4.
constexpr char kPatternCases[] = R"lua(
  local out = {}
  local function add(...)
    local n = select('#', ...)
    for i = 1, n do out[#out + 1] = tostring((select(i, ...))) end
    out[#out + 1] = '|'
  end
  local function try(f, ...)
    local ok, message = pcall(f, ...)
    if ok then add('no error') else add(tostring(message):match(':%d+: (.*)$') or message) end
  end
  local s = 'hello world from Lua 5.4'
  add(string.find(s, 'o w'))
  add(string.find(s, 'o', 6))
  add(string.find(s, 'o', -4))
  add(string.find(s, 'o', 100))
  add(string.find(s, '', 30))
  add(string.find(s, '', 25))
  add(string.find(s, 'l+'))
  add(string.find(s, '(%w+) (%w+)'))
  add(string.find(s, '%.', 1, true))
  add(string.find('a.b', '.', 2, true))
  add(string.find('a+b', '+', 1, true))
  add(string.find(s, '^hello'))
  add(string.find(s, '^world'))
  add(string.find(s, '5%.4$'))
  add(string.find('x$y', '$y'))
  add(string.find('a\0b', '\0'))
  add(string.find('a\0b', '%z'))
  add(string.match(s, '%d+%.%d+'))
  add(string.match(s, '(%a+) (%a+)', 7))
  add(string.match(s, '()o()'))
  add(string.match('key = value', '^(%w+)%s*=%s*(%w+)$'))
  add(string.match('  trim me  ', '^%s*(.-)%s*$'))
  add(string.match('[[x]]', '%[(%b[])%]'))
  add(string.match('f(a(b)c)d', '%b()'))
  add(string.match('THE (quick) fox', '%f[%a]%a+%f[%A]', 5))
  add(string.match('abcabc', '(abc)%1'))
  add(string.match('aaa', 'a-b'))
  add(string.match('aaab', 'a-b'))
  add(string.match('ab', 'a?b?c?'))
  add(string.match('x]y', '[]]'))
  add(string.match('x-y', '[a-]+', 2))
  add(string.match('A1_b', '[%u%d_]+'))
  add(string.match('hello', '[^aeiou]+'))
  add(string.match('tab\there', '%c'))
  add(string.match('héllo', '[\128-\255]+'))
  add(string.match('0x1F', '%x+', 3))
  add(string.match('a,b;c', '%p'))
  add(string.match('  x', '%S'))
  add(string.match('ab12', '%D+'))
  add(string.match('', '.*'))
  add(string.match('abc', '.-', 2))
  local words = {}
  for w in string.gmatch('one two  three', '%a+') do words[#words + 1] = w end
  add(table.concat(words, ','))
  local pairs_found = {}
  for k, v in string.gmatch('a=1, b=2, c=3', '(%w+)=(%w+)') do pairs_found[#pairs_found + 1] = k .. v end
  add(table.concat(pairs_found, ','))
  local empties = {}
  for m in string.gmatch('abc', 'x*') do empties[#empties + 1] = '[' .. m .. ']' end
  add(table.concat(empties))
  local from = {}
  for w in string.gmatch('one two three', '%a+', 5) do from[#from + 1] = w end
  add(table.concat(from, ','))
  local carets = {}
  for w in string.gmatch('^a^b', '^%a') do carets[#carets + 1] = w end
  add(table.concat(carets, ','))
  add(string.gsub('hello world', 'o', '0'))
  add(string.gsub('hello world', 'o', '0', 1))
  add(string.gsub('hello world', '(%w+)', '<%1>'))
  add(string.gsub('hello world', '%w+', '%0 %0'))
  add(string.gsub('hello', '', '-'))
  add(string.gsub('abc', '%w', '%%'))
  add(string.gsub('hello world', '^h', 'H'))
  add(string.gsub('$1.50', '%$', 'USD '))
  add(string.gsub('a b', '()', '%1'))
  add(string.gsub('abc', 'b', 7))
  add(string.gsub('x = $name, y = $age', '%$(%w+)', {name = 'Ann', age = 30}))
  add(string.gsub('x = $name, y = $missing', '%$(%w+)', {name = false}))
  add(string.gsub('1 2 3', '%d', function(d) return tonumber(d) * 2 end))
  add(string.gsub('keep', '%a+', function() return nil end))
  add(string.gsub('abc', '.', {a = 1, b = 'B'}))
  try(string.gsub, 'abc', '.', {b = true})
  add(('x'):rep(3):gsub('x', 'y'))
  try(string.find, 'a', '[a')
  try(string.find, 'a', 'a%')
  try(string.find, 'a', '(()')
  try(string.find, 'a', 'a)')
  try(string.find, 'a', '%1')
  try(string.find, 'a', '%b')
  try(string.find, 'a', '%fa')
  try(string.gsub, 'a', 'a', '%2')
  try(string.gsub, 'a', 'a', '%x')
  try(string.gsub, 'a', 'a', '%')
  try(string.gsub, 'a', 'a', function() return {} end)
  try(string.gsub, 'a', 'a', true)
  try(string.find, 'a', string.rep('(', 33) .. 'a' .. string.rep(')', 33))
  try(string.match, string.rep('a', 300), string.rep('a?', 300) .. string.rep('a', 300))
  return table.concat(out, ' ')
)lua";

TEST_F(ExpressionTest, PatternFunctionsBehaveLikeStockLua) {
  lua_State* plain = luaL_newstate();
  luaL_openlibs(plain);
  ASSERT_EQ(luaL_dostring(plain, kPatternCases), LUA_OK) << lua_tostring(plain, -1);
  const std::string expected = lua_tostring(plain, -1);
  lua_close(plain);

  const Json actual = run_ok(kPatternCases);
  ASSERT_TRUE(actual.is_string());
  EXPECT_EQ(actual.get<std::string>(), expected);
  // The comparison is only meaningful if the cases really ran.
  EXPECT_THAT(expected, HasSubstr("<hello> <world>"));
  EXPECT_THAT(expected, HasSubstr("malformed pattern (missing ']')"));
}

TEST(ExpressionLimits, RunawayRecursionIsAnErrorAndSandboxRecovers) {
  Sandbox sandbox;
  auto result = sandbox.run("local function f() return 1 + f() end return f()", Json::object());
  ASSERT_FALSE(result.has_value());
  EXPECT_EQ(result.error().code, ErrorCode::kFailedPrecondition);
  EXPECT_EQ(sandbox.eval("'fine'", Json::object()).value(), "fine");
}

TEST(ExpressionLimits, PathologicalPatternsAreStoppedByTheBudget) {
  Sandbox sandbox(SandboxLimits{.instruction_budget = 1'000'000});
  for (const char* chunk :
       {"return string.rep('a', 3000):find('.-.-.-.-.-b')",
        // the trim idiom is quadratic on long runs of inner whitespace
        "local s = 'x' .. string.rep(' ', 100000) .. 'x' return s:match('^%s*(.-)%s*$')",
        "return select(2, string.rep('a', 5000):gsub('a*a*a*b', ''))",
        "local n = 0 for _ in string.rep('a', 2000):gmatch('a-a-a-b') do n = n + 1 end return n",
        // a pcall inside the chunk cannot swallow it
        "local ok = pcall(string.find, string.rep('a', 3000), '.-.-.-.-b') return 'escaped'"}) {
    auto result = sandbox.run(chunk, Json::object());
    ASSERT_FALSE(result.has_value()) << chunk << " returned " << result->dump();
    EXPECT_EQ(result.error().code, ErrorCode::kFailedPrecondition);
    EXPECT_THAT(result.error().message, HasSubstr("instruction budget of 1000000 exhausted"));
  }
  // Ordinary patterns on the same data fit easily, and the sandbox recovered.
  EXPECT_EQ(sandbox
                .run("local s = '  x  ' .. string.rep('y', 10000) return #s:match('^%s*(.-)%s*$')",
                     Json::object())
                .value(),
            10001 + 2);
}

// --- conversions back to JSON -------------------------------------------------

TEST_F(ExpressionTest, TablesBecomeArraysOrObjects) {
  EXPECT_EQ(eval_ok("{1, 'two', true}"), Json::parse(R"([1, "two", true])"));
  EXPECT_EQ(eval_ok("{}"), Json::array());
  EXPECT_EQ(eval_ok("{a = 1, b = {c = 2.5}}"), Json::parse(R"({"a": 1, "b": {"c": 2.5}})"));
  EXPECT_EQ(eval_ok("{[1] = 'a', [3] = 'c'}"), Json::parse(R"({"1": "a", "3": "c"})"));
  EXPECT_EQ(eval_ok("{1, x = 2}"), Json::parse(R"({"1": 1, "x": 2})"));
  EXPECT_EQ(eval_ok("{[0.5] = true}"), Json::parse(R"({"0.5": true})"));
  EXPECT_TRUE(eval_ok("{3.0}")[0].is_number_float());
}

TEST_F(ExpressionTest, ViewsConvertBackToTheirContents) {
  EXPECT_EQ(eval_ok("slots.list"), env_["slots"]["list"]);
  EXPECT_EQ(eval_ok("steps"), env_["steps"]);
  EXPECT_EQ(eval_ok("{first = slots.nested, n = #slots.list}"),
            Json::parse(R"({"first": {"inner": {"value": "deep"}}, "n": 3})"));
}

TEST_F(ExpressionTest, UnconvertibleResultsAreErrorsNamingWhat) {
  Error error = eval_error("{f = print or type}");
  EXPECT_EQ(error.code, ErrorCode::kFailedPrecondition);
  EXPECT_THAT(error.message, HasSubstr("result.f is a function"));
  EXPECT_THAT(eval_error("0/0").message, HasSubstr("finite"));
  EXPECT_THAT(eval_error("math.huge").message, HasSubstr("finite"));
  EXPECT_THAT(eval_error("'\\xff'").message, HasSubstr("UTF-8"));
  EXPECT_THAT(eval_error("{[true] = 1}").message, HasSubstr("boolean key"));
  EXPECT_THAT(run_error("local t = {} t.self = t return t").message, HasSubstr("contain itself"));
}

// --- errors --------------------------------------------------------------------

TEST_F(ExpressionTest, RuntimeErrorsNameTheExpression) {
  Error error = eval_error("slots.missing.field");
  EXPECT_EQ(error.code, ErrorCode::kFailedPrecondition);
  EXPECT_THAT(error.message, HasSubstr("expression 'slots.missing.field'"));
  EXPECT_THAT(error.message, HasSubstr("attempt to index a nil value (field 'missing')"));

  error = run_error("local a = 1\nerror('bad input')");
  EXPECT_THAT(error.message, HasSubstr("at line 2: bad input"));
  EXPECT_THAT(run_error("error({code = 7})").message, HasSubstr(R"({"code":7})"));
}

TEST_F(ExpressionTest, LongExpressionsAreTruncatedInMessages) {
  const std::string expression = "nope." + std::string(200, 'a');
  const Error error = eval_error(expression);
  EXPECT_THAT(error.message, HasSubstr("..."));
  EXPECT_THAT(error.message, Not(HasSubstr(std::string(100, 'a'))));
}

TEST_F(ExpressionTest, SyntaxErrorsAreInvalidInput) {
  Error error = eval_error("a +");
  EXPECT_EQ(error.code, ErrorCode::kInvalidInput);
  EXPECT_THAT(error.message, HasSubstr("syntax error in expression 'a +'"));
  EXPECT_THAT(eval_error("x = 1").code, ErrorCode::kInvalidInput);
  EXPECT_EQ(eval_error("   ").code, ErrorCode::kInvalidInput);
  error = run_error("local x = 1\nlocal = 2");
  EXPECT_EQ(error.code, ErrorCode::kInvalidInput);
  EXPECT_THAT(error.message, HasSubstr("at line 2"));
}

TEST_F(ExpressionTest, CheckCompilesWithoutRunning) {
  EXPECT_TRUE(sandbox_.check("slots.pct > 10", false).has_value());
  EXPECT_TRUE(sandbox_.check("while true do end", true).has_value());
  EXPECT_TRUE(sandbox_.check("error('not run')", true).has_value());
  auto bad = sandbox_.check("a +", false);
  ASSERT_FALSE(bad.has_value());
  EXPECT_EQ(bad.error().code, ErrorCode::kInvalidInput);
  EXPECT_THAT(bad.error().message, HasSubstr("syntax error in expression 'a +'"));
  EXPECT_EQ(sandbox_.check("return 1 +", true).error().code, ErrorCode::kInvalidInput);
  EXPECT_EQ(sandbox_.check("local x = 1", false).error().code, ErrorCode::kInvalidInput);
  EXPECT_THAT(sandbox_.check("", false).error().message, HasSubstr("empty expression"));
}

// --- templates -----------------------------------------------------------------

TEST_F(ExpressionTest, WholeStringTemplateKeepsJsonType) {
  EXPECT_EQ(render_ok("${slots.pct}"), 15);
  EXPECT_TRUE(render_ok("${slots.ratio}").is_number_float());
  EXPECT_EQ(render_ok("${slots.list}"), Json::parse("[1, null, 3]"));
  EXPECT_EQ(render_ok("${ {a = 1} }"), Json::parse(R"({"a": 1})"));
  EXPECT_EQ(render_ok("${nil}"), nullptr);
  EXPECT_EQ(render_ok("${slots.pct > 10}"), true);
  // Anything around the template makes it text.
  EXPECT_EQ(render_ok(" ${slots.pct}"), " 15");
}

TEST_F(ExpressionTest, SplicedTemplatesBecomeText) {
  EXPECT_EQ(render_ok("id-${item.id}/${slots.pct}/${10 / 4}/${10 / 2}/${true}/[${nil}]"),
            "id-i-9/15/2.5/5/true/[]");
  EXPECT_EQ(render_ok("list=${slots.list} obj=${ {a = 'b'} }"), R"(list=[1,null,3] obj={"a":"b"})");
  EXPECT_EQ(render_ok("no templates here"), "no templates here");
}

TEST_F(ExpressionTest, TemplatesHandleBracesInsideLua) {
  EXPECT_EQ(render_ok("${ {a='}'} }"), Json::parse(R"({"a": "}"})"));
  EXPECT_EQ(render_ok("x${ '{' .. \"}\" }y"), "x{}y");
  EXPECT_EQ(render_ok("${ [[}]] }"), "}");
  EXPECT_EQ(render_ok("${ [==[ ]] } ]==] }"), " ]] } ");
  EXPECT_EQ(render_ok("${ {{1}, {2}} }"), Json::parse("[[1], [2]]"));
  EXPECT_EQ(render_ok("${ 1 --[[ } ]] }"), 1);
  EXPECT_EQ(render_ok("${ 'it\\'s }' }"), "it's }");
}

TEST_F(ExpressionTest, DollarDollarBraceEscapesATemplate) {
  EXPECT_EQ(render_ok("$${literal} and ${1 + 1}"), "${literal} and 2");
  EXPECT_EQ(render_ok("$${slots.pct}"), "${slots.pct}");
  EXPECT_EQ(render_ok("cost: $5"), "cost: $5");
  EXPECT_TRUE(has_template("a ${x} b"));
  EXPECT_TRUE(has_template("$${x} ${y}"));
  EXPECT_FALSE(has_template("$${x}"));
  EXPECT_FALSE(has_template("plain $ {x}"));
  EXPECT_FALSE(has_template(""));
}

TEST_F(ExpressionTest, RenderWalksArraysAndObjectsButNotKeys) {
  const Json rendered = render_ok(Json::parse(R"({
    "id": "${item.id}", "${item.env}": "key stays", "n": 5, "flag": null,
    "args": [{"env": "${item.env}", "count": "${#slots.list}"}, "plain"]
  })"));
  EXPECT_EQ(rendered, Json::parse(R"({
    "id": "i-9", "${item.env}": "key stays", "n": 5, "flag": null,
    "args": [{"env": "dev", "count": 3}, "plain"]
  })"));
}

TEST_F(ExpressionTest, TemplateErrorsNameTheString) {
  auto unterminated = sandbox_.render(Json("abc ${slots.pct"), env_);
  ASSERT_FALSE(unterminated.has_value());
  EXPECT_EQ(unterminated.error().code, ErrorCode::kInvalidInput);
  EXPECT_THAT(unterminated.error().message, HasSubstr("unterminated template"));
  EXPECT_THAT(unterminated.error().message, HasSubstr("'abc ${slots.pct'"));
  EXPECT_EQ(sandbox_.render(Json("${ '}' "), env_).error().code, ErrorCode::kInvalidInput);

  auto failing = sandbox_.render(Json::parse(R"({"a": ["id-${slots.missing.x}"]})"), env_);
  ASSERT_FALSE(failing.has_value());
  EXPECT_EQ(failing.error().code, ErrorCode::kFailedPrecondition);
  EXPECT_THAT(failing.error().message, HasSubstr("'id-${slots.missing.x}'"));
  EXPECT_THAT(failing.error().message, HasSubstr("attempt to index a nil value"));

  EXPECT_EQ(sandbox_.render(Json("${}"), env_).error().code, ErrorCode::kInvalidInput);
}

TEST_F(ExpressionTest, CheckTemplatesFindsSyntaxErrorsWithoutRunning) {
  EXPECT_TRUE(sandbox_
                  .check_templates(Json::parse(R"({
    "a": "${error('never run')}", "b": ["x${slots.pct}", 3], "c": "$${escaped"
  })"))
                  .has_value());
  auto bad = sandbox_.check_templates(Json::parse(R"({"a": ["ok", "n=${ a + }"]})"));
  ASSERT_FALSE(bad.has_value());
  EXPECT_EQ(bad.error().code, ErrorCode::kInvalidInput);
  EXPECT_THAT(bad.error().message, HasSubstr("n=${ a + }"));
  EXPECT_THAT(bad.error().message, HasSubstr("syntax error"));
  EXPECT_EQ(sandbox_.check_templates(Json("${oops")).error().code, ErrorCode::kInvalidInput);
}

}  // namespace
}  // namespace ergon
