#include "ergon/expression.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <climits>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <lua.hpp>
#include <unordered_map>
#include <utility>
#include <vector>

// How the sandbox is built:
//
// - One lua_State per Sandbox. Its real globals table holds the full base library and
//   is never reachable from sandboxed code: every evaluation runs with a fresh table as
//   its _ENV, whose __index looks names up first in the env object, then in a private
//   table of safe functions and read-only library proxies.
// - Working memory is shown lazily: an object or array becomes an empty proxy table
//   whose metamethods read the Json in place. A per-evaluation side table maps each
//   proxy to its Json (and each Json to its one proxy); it is dropped when the
//   evaluation ends, so a proxy can never outlive the Json it points into.
// - Lua errors are longjmps. Every Lua API call that can raise runs inside lua_pcall,
//   and no C function called by Lua holds a C++ object with a destructor across a call
//   that can raise. Outside lua_pcall only non-raising calls are used (raw gets, pushes
//   of existing values, lua_next, lua_load which protects itself).

namespace ergon {
namespace {

constexpr char kChunkName[] = "=ergon";  // Lua prefixes positions as "ergon:LINE: "
constexpr std::string_view kPositionPrefix = "ergon:";
constexpr int kCacheCapacity = 512;  // compiled chunks kept; the oldest is evicted first
constexpr int kMaxDepth = 100;       // table nesting converted to JSON
constexpr size_t kMaxShownCode = 80;
constexpr size_t kMaxMessage = 400;
constexpr char kLocked[] = "locked";  // what getmetatable() shows for protected tables

// The address of this byte is the light userdata `null`.
const char kNullSentinel = 0;
void* null_sentinel() {
  return const_cast<char*>(&kNullSentinel);
}

enum class Kind { kExpression, kChunk };

// ---------------------------------------------------------------------------------
// Text helpers

// Length of the valid UTF-8 sequence starting at `i`, or 0 when the bytes are not one.
size_t utf8_sequence(std::string_view s, size_t i) {
  const auto byte = [&](size_t k) { return static_cast<unsigned char>(s[k]); };
  const unsigned char lead = byte(i);
  if (lead < 0x80) return 1;
  size_t length = 0;
  uint32_t code_point = 0;
  if (lead >= 0xC2 && lead <= 0xDF) {
    length = 2;
    code_point = lead & 0x1F;
  } else if (lead >= 0xE0 && lead <= 0xEF) {
    length = 3;
    code_point = lead & 0x0F;
  } else if (lead >= 0xF0 && lead <= 0xF4) {
    length = 4;
    code_point = lead & 0x07;
  } else {
    return 0;
  }
  if (i + length > s.size()) return 0;
  for (size_t k = 1; k < length; ++k) {
    if ((byte(i + k) & 0xC0) != 0x80) return 0;
    code_point = (code_point << 6) | (byte(i + k) & 0x3F);
  }
  if ((length == 3 && code_point < 0x800) ||
      (length == 4 && (code_point < 0x10000 || code_point > 0x10FFFF)) ||
      (code_point >= 0xD800 && code_point <= 0xDFFF)) {
    return 0;
  }
  return length;
}

bool valid_utf8(std::string_view s) {
  for (size_t i = 0; i < s.size();) {
    const size_t length = utf8_sequence(s, i);
    if (length == 0) return false;
    i += length;
  }
  return true;
}

// Text safe to put in a message (and so in the journal): whitespace runs collapse to
// one space, control characters and invalid UTF-8 become '?', long text is cut.
std::string printable(std::string_view text, size_t limit) {
  std::string out;
  bool pending_space = false;
  for (size_t i = 0; i < text.size() && out.size() < limit + 8;) {
    const unsigned char c = static_cast<unsigned char>(text[i]);
    if (c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v') {
      pending_space = !out.empty();
      ++i;
      continue;
    }
    if (pending_space) out += ' ';
    pending_space = false;
    const size_t length = utf8_sequence(text, i);
    if (length == 0 || c < 0x20 || c == 0x7F) {
      out += '?';
      ++i;
    } else {
      out.append(text.substr(i, length));
      i += length;
    }
  }
  if (out.size() > limit) {
    size_t cut = limit - 3;
    while (cut > 0 && (static_cast<unsigned char>(out[cut]) & 0xC0) == 0x80) --cut;
    out.resize(cut);
    out += "...";
  }
  return out;
}

std::string shown(std::string_view code) {
  return printable(code, kMaxShownCode);
}

std::string describe(Kind kind, std::string_view code) {
  return std::string(kind == Kind::kExpression ? "expression '" : "chunk '") + shown(code) + "'";
}

bool blank(std::string_view text) {
  return text.find_first_not_of(" \t\r\n\f\v") == std::string_view::npos;
}

std::string format_integer(long long value) {
  char buffer[32];
  const auto end = std::to_chars(buffer, buffer + sizeof buffer, value).ptr;
  return std::string(buffer, end);
}

// Shortest text that reads back as the same double; integral values have no ".0".
std::string format_double(double value) {
  char buffer[64];
  const auto end = std::to_chars(buffer, buffer + sizeof buffer, value).ptr;
  return std::string(buffer, end);
}

// Splits Lua's "ergon:LINE: message" into the line (0 when absent) and the message.
std::pair<int, std::string> split_position(std::string message) {
  if (message.compare(0, kPositionPrefix.size(), kPositionPrefix) != 0) return {0, message};
  size_t i = kPositionPrefix.size();
  int line = 0;
  while (i < message.size() && message[i] >= '0' && message[i] <= '9' && line < 10'000'000) {
    line = line * 10 + (message[i++] - '0');
  }
  if (line == 0 || message.compare(i, 2, ": ") != 0) return {0, message};
  return {line, message.substr(i + 2)};
}

// Appends a table key to a value path for messages: result.name, result[2], result["a b"].
void append_key(std::string& path, std::string_view key) {
  bool identifier = !key.empty() && !(key[0] >= '0' && key[0] <= '9');
  for (char c : key) {
    identifier = identifier && (c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                                (c >= '0' && c <= '9'));
  }
  if (identifier) {
    path += '.';
    path += key;
  } else {
    path += "[\"" + printable(key, 40) + "\"]";
  }
}

// ---------------------------------------------------------------------------------
// The Lua state and everything the C functions called by Lua need.

struct TextHash {
  using is_transparent = void;
  size_t operator()(std::string_view text) const { return std::hash<std::string_view>{}(text); }
};

struct CacheSlot {
  bool used = false;
  Kind kind = Kind::kExpression;
  std::string code;
};

struct LuaVm {
  explicit LuaVm(SandboxLimits l) : limits(l) {}

  SandboxLimits limits;
  lua_State* L = nullptr;
  std::string broken;  // why construction failed; every call then reports it

  // Heap accounting, updated by allocate().
  size_t heap_bytes = 0;
  bool enforce_cap = false;  // only while sandboxed code compiles or runs
  bool cap_hit = false;

  bool budget_exhausted = false;
  long pattern_steps_left = 0;  // string-pattern matching steps, same budget as the VM
  const Json* env = nullptr;    // the env object of the running evaluation

  // Registry references, set once by setup().
  int base_ref = LUA_NOREF;     // safe globals
  int view_mt_ref = LUA_NOREF;  // metatable of every working-memory proxy
  int env_mt_ref = LUA_NOREF;   // metatable of every evaluation's _ENV
  int views_ref = LUA_NOREF;    // the running evaluation's proxy table, false between
  int cache_ref = LUA_NOREF;    // compiled functions, array part preallocated

  // Compiled chunk cache: source text -> slot in the cache table.
  std::unordered_map<std::string, int, TextHash, std::equal_to<>> expressions;
  std::unordered_map<std::string, int, TextHash, std::equal_to<>> chunks;
  std::vector<CacheSlot> slots = std::vector<CacheSlot>(kCacheCapacity + 1);  // [0] unused
  int next_slot = 1;
};

LuaVm& vm_of(lua_State* L) {
  return **static_cast<LuaVm**>(lua_getextraspace(L));
}

void* allocate(void* user_data, void* block, size_t old_size, size_t new_size) {
  auto* vm = static_cast<LuaVm*>(user_data);
  // For a new block Lua passes a type tag as old_size, not a size.
  const size_t old_bytes = block != nullptr ? old_size : 0;
  if (new_size == 0) {
    std::free(block);
    vm->heap_bytes -= old_bytes;
    return nullptr;
  }
  if (vm->enforce_cap && new_size > old_bytes &&
      vm->heap_bytes - old_bytes + new_size > vm->limits.memory_bytes) {
    vm->cap_hit = true;
    return nullptr;
  }
  void* grown = std::realloc(block, new_size);
  if (grown == nullptr) return nullptr;
  vm->heap_bytes = vm->heap_bytes - old_bytes + new_size;
  return grown;
}

void budget_hook(lua_State* L, lua_Debug*) {
  LuaVm& vm = vm_of(L);
  vm.budget_exhausted = true;
  // From now on every instruction fails, so a pcall in the chunk cannot swallow this.
  lua_sethook(L, budget_hook, LUA_MASKCOUNT, 1);
  luaL_error(L, "instruction budget of %I exhausted",
             static_cast<lua_Integer>(vm.limits.instruction_budget));
}

int panic(lua_State* L) {
  const char* message = lua_tostring(L, -1);
  std::fprintf(stderr, "ergon: unprotected Lua error (a bug in the sandbox): %s\n",
               message != nullptr ? message : "(no message)");
  return 0;  // Lua aborts
}

// --- working-memory views ----------------------------------------------------------

void push_json(lua_State* L, const Json& value, bool in_array);

// The Json a proxy shows, or nullptr when `index` is not a proxy of this evaluation.
const Json* view_target(lua_State* L, int index) {
  LuaVm& vm = vm_of(L);
  index = lua_absindex(L, index);
  if (lua_rawgeti(L, LUA_REGISTRYINDEX, vm.views_ref) != LUA_TTABLE) {
    lua_pop(L, 1);
    return nullptr;
  }
  lua_pushvalue(L, index);
  lua_rawget(L, -2);
  const auto* json = static_cast<const Json*>(lua_touserdata(L, -1));
  lua_pop(L, 2);
  return json;
}

const Json* checked_view(lua_State* L) {
  const Json* json = view_target(L, 1);
  if (json == nullptr) luaL_error(L, "a working-memory view was used after its evaluation ended");
  return json;
}

void push_view(lua_State* L, const Json& value) {
  LuaVm& vm = vm_of(L);
  void* key = const_cast<Json*>(&value);
  if (lua_rawgeti(L, LUA_REGISTRYINDEX, vm.views_ref) != LUA_TTABLE) {
    // Created on first use: most expressions touch a handful of views or none.
    lua_pop(L, 1);
    lua_createtable(L, 0, 16);
    lua_pushvalue(L, -1);
    lua_rawseti(L, LUA_REGISTRYINDEX, vm.views_ref);
  }
  lua_pushlightuserdata(L, key);
  if (lua_rawget(L, -2) == LUA_TTABLE) {  // one proxy per Json, so views compare equal
    lua_remove(L, -2);
    return;
  }
  lua_pop(L, 1);
  lua_createtable(L, 0, 0);
  lua_rawgeti(L, LUA_REGISTRYINDEX, vm.view_mt_ref);
  lua_setmetatable(L, -2);
  lua_pushvalue(L, -1);
  lua_pushlightuserdata(L, key);
  lua_rawset(L, -4);
  lua_pushlightuserdata(L, key);
  lua_pushvalue(L, -2);
  lua_rawset(L, -4);
  lua_remove(L, -2);
}

void push_json(lua_State* L, const Json& value, bool in_array) {
  switch (value.type()) {
    case Json::value_t::null:
      if (in_array) {
        lua_pushlightuserdata(L, null_sentinel());
      } else {
        lua_pushnil(L);
      }
      return;
    case Json::value_t::boolean: lua_pushboolean(L, value.get<bool>() ? 1 : 0); return;
    case Json::value_t::number_integer: lua_pushinteger(L, value.get<std::int64_t>()); return;
    case Json::value_t::number_unsigned: {
      const auto number = value.get<std::uint64_t>();
      if (number <= static_cast<std::uint64_t>(LUA_MAXINTEGER)) {
        lua_pushinteger(L, static_cast<lua_Integer>(number));
      } else {
        lua_pushnumber(L, static_cast<lua_Number>(number));
      }
      return;
    }
    case Json::value_t::number_float: lua_pushnumber(L, value.get<double>()); return;
    case Json::value_t::string: {
      const auto& text = value.get_ref<const Json::string_t&>();
      lua_pushlstring(L, text.data(), text.size());
      return;
    }
    case Json::value_t::object:
    case Json::value_t::array: push_view(L, value); return;
    case Json::value_t::binary:
    case Json::value_t::discarded: break;
  }
  luaL_error(L, "working memory holds a binary JSON value, which Lua cannot see");
}

int view_index(lua_State* L) {
  const Json* json = checked_view(L);
  if (json->is_object()) {
    const auto& members = json->get_ref<const Json::object_t&>();
    char digits[32];
    std::string_view key;
    if (lua_type(L, 2) == LUA_TSTRING) {
      size_t length = 0;
      const char* text = lua_tolstring(L, 2, &length);
      key = std::string_view(text, length);
    } else if (lua_isinteger(L, 2)) {  // t[1] on an object reads member "1"
      const auto end = std::to_chars(digits, digits + sizeof digits, lua_tointeger(L, 2)).ptr;
      key = std::string_view(digits, static_cast<size_t>(end - digits));
    } else {
      lua_pushnil(L);
      return 1;
    }
    const auto it = members.find(key);
    if (it == members.end()) {
      lua_pushnil(L);
    } else {
      push_json(L, it->second, false);
    }
    return 1;
  }
  int is_integer = 0;
  const lua_Integer position =
      lua_type(L, 2) == LUA_TNUMBER ? lua_tointegerx(L, 2, &is_integer) : 0;
  if (is_integer == 0 || position < 1 || static_cast<size_t>(position) > json->size()) {
    lua_pushnil(L);
  } else {
    push_json(L, (*json)[static_cast<size_t>(position - 1)], true);
  }
  return 1;
}

int view_newindex(lua_State* L) {
  return luaL_error(L,
                    "cannot assign field '%s': working memory is read-only "
                    "(copy the values into a new local table instead)",
                    luaL_tolstring(L, 2, nullptr));
}

int view_len(lua_State* L) {
  const Json* json = checked_view(L);
  lua_pushinteger(L, json->is_array() ? static_cast<lua_Integer>(json->size()) : 0);
  return 1;
}

// Iterates a view in pairs(): arrays by position (null as `null`), objects in key order
// skipping null members, which read as nil.
int view_next(lua_State* L) {
  const Json* json = checked_view(L);
  if (json->is_array()) {
    const lua_Integer done = lua_isnil(L, 2) ? 0 : lua_tointeger(L, 2);
    if (done < 0 || static_cast<size_t>(done) >= json->size()) {
      lua_pushnil(L);
      return 1;
    }
    lua_pushinteger(L, done + 1);
    push_json(L, (*json)[static_cast<size_t>(done)], true);
    return 2;
  }
  const auto& members = json->get_ref<const Json::object_t&>();
  auto it = members.begin();
  if (!lua_isnil(L, 2)) {
    size_t length = 0;
    const char* text = luaL_checklstring(L, 2, &length);
    it = members.upper_bound(std::string_view(text, length));
  }
  while (it != members.end() && it->second.is_null()) ++it;
  if (it == members.end()) {
    lua_pushnil(L);
    return 1;
  }
  lua_pushlstring(L, it->first.data(), it->first.size());
  push_json(L, it->second, false);
  return 2;
}

int view_pairs(lua_State* L) {
  checked_view(L);
  lua_pushcfunction(L, view_next);
  lua_pushvalue(L, 1);
  lua_pushnil(L);
  return 3;
}

int push_std_string(lua_State* L) {
  const auto* text = static_cast<const std::string*>(lua_touserdata(L, 1));
  lua_pushlstring(L, text->data(), text->size());
  return 1;
}

// tostring(view) is the compact JSON of what it shows.
int view_tostring(lua_State* L) {
  const Json* json = checked_view(L);
  int status = LUA_OK;
  {
    // The string must be destroyed before any Lua error unwinds this frame, so it is
    // pushed under a nested pcall and the error re-raised after the scope ends.
    const std::string text = json->dump(-1, ' ', false, Json::error_handler_t::replace);
    lua_pushcfunction(L, push_std_string);
    lua_pushlightuserdata(L, const_cast<std::string*>(&text));
    status = lua_pcall(L, 1, 1, 0);
  }
  if (status != LUA_OK) return lua_error(L);
  return 1;
}

// --- the environment ---------------------------------------------------------------

// _ENV's __index: env keys first, then the safe globals; found values are cached in _ENV.
int env_index(lua_State* L) {
  LuaVm& vm = vm_of(L);
  if (vm.env != nullptr && vm.env->is_object() && lua_type(L, 2) == LUA_TSTRING) {
    size_t length = 0;
    const char* name = lua_tolstring(L, 2, &length);
    const auto& members = vm.env->get_ref<const Json::object_t&>();
    const auto it = members.find(std::string_view(name, length));
    if (it != members.end() && !it->second.is_null()) {
      push_json(L, it->second, false);
      lua_pushvalue(L, 2);
      lua_pushvalue(L, -2);
      lua_rawset(L, 1);
      return 1;
    }
  }
  lua_rawgeti(L, LUA_REGISTRYINDEX, vm.base_ref);
  lua_pushvalue(L, 2);
  if (lua_rawget(L, -2) != LUA_TNIL) {
    lua_pushvalue(L, 2);
    lua_pushvalue(L, -2);
    lua_rawset(L, 1);
  }
  return 1;
}

int library_newindex(lua_State* L) {
  return luaL_error(L, "cannot assign field '%s': the standard libraries are read-only",
                    luaL_tolstring(L, 2, nullptr));
}

// setmetatable without finalizers: a __gc would run at an arbitrary later time,
// outside the evaluation that set it.
int safe_setmetatable(lua_State* L) {
  luaL_checktype(L, 1, LUA_TTABLE);
  const int type = lua_type(L, 2);
  luaL_argexpected(L, type == LUA_TNIL || type == LUA_TTABLE, 2, "nil or table");
  if (type == LUA_TTABLE) {
    lua_pushliteral(L, "__gc");
    if (lua_rawget(L, 2) != LUA_TNIL) {
      return luaL_error(L, "setmetatable: __gc finalizers are not allowed in the sandbox");
    }
    lua_pop(L, 1);
  }
  if (luaL_getmetafield(L, 1, "__metatable") != LUA_TNIL) {
    return luaL_error(L, "cannot change a protected metatable");
  }
  lua_settop(L, 2);
  lua_setmetatable(L, 1);
  return 1;
}

// Pushes a proxy of the library table `name` that reads through and refuses writes.
void push_readonly_library(lua_State* L, const char* name) {
  lua_createtable(L, 0, 0);
  lua_createtable(L, 0, 3);
  lua_getglobal(L, name);
  lua_setfield(L, -2, "__index");
  lua_pushcfunction(L, library_newindex);
  lua_setfield(L, -2, "__newindex");
  lua_pushstring(L, kLocked);
  lua_setfield(L, -2, "__metatable");
  lua_setmetatable(L, -2);
}

// --- string patterns under the budget ----------------------------------------------
//
// Lua's own matcher backtracks inside one C call, where the instruction hook never
// fires: `s:find('.-.-.-x')` or the classic trim idiom on a long string can run for
// hours. string.find/match/gmatch/gsub are therefore replaced by this matcher, which
// implements the pattern language of the Lua 5.4 manual (§6.4.1) and charges every
// matching step against the evaluation's budget.

constexpr int kMaxCaptures = 32;     // LUA_MAXCAPTURES
constexpr int kMaxMatchDepth = 200;  // nesting of the recursive matcher
constexpr ptrdiff_t kCaptureOpen = -1;
constexpr ptrdiff_t kCapturePosition = -2;
constexpr char kPatternSpecials[] = "^$*+?.([%-";

struct PatternMatch {
  lua_State* L;
  LuaVm* vm;
  const char* src_init;
  const char* src_end;
  const char* p_end;
  int depth;
  int level;  // captures started
  struct {
    const char* init;
    ptrdiff_t len;  // kCaptureOpen, kCapturePosition or a length
  } capture[kMaxCaptures];
};

void charge_step(PatternMatch& ms) {
  if (--ms.vm->pattern_steps_left >= 0) return;
  ms.vm->budget_exhausted = true;
  lua_sethook(ms.L, budget_hook, LUA_MASKCOUNT, 1);
  luaL_error(ms.L, "instruction budget of %I exhausted in a string pattern",
             static_cast<lua_Integer>(ms.vm->limits.instruction_budget));
}

unsigned char byte_at(const char* p) {
  return static_cast<unsigned char>(*p);
}

// Whether `c` is in the class named by letter `cl` (%a, %d, ...; upper case negates);
// any other `cl` stands for itself.
bool class_matches(int c, int cl) {
  bool in = false;
  switch (std::tolower(cl)) {
    case 'a': in = std::isalpha(c) != 0; break;
    case 'c': in = std::iscntrl(c) != 0; break;
    case 'd': in = std::isdigit(c) != 0; break;
    case 'g': in = std::isgraph(c) != 0; break;
    case 'l': in = std::islower(c) != 0; break;
    case 'p': in = std::ispunct(c) != 0; break;
    case 's': in = std::isspace(c) != 0; break;
    case 'u': in = std::isupper(c) != 0; break;
    case 'w': in = std::isalnum(c) != 0; break;
    case 'x': in = std::isxdigit(c) != 0; break;
    case 'z': in = c == 0; break;  // deprecated in 5.2, still accepted by 5.4
    default: return cl == c;
  }
  return std::isupper(cl) != 0 ? !in : in;
}

// Just past the single character class starting at `p`.
const char* class_end(PatternMatch& ms, const char* p) {
  const char c = *p++;
  if (c == '%') {
    if (p == ms.p_end) luaL_error(ms.L, "malformed pattern (ends with '%%')");
    return p + 1;
  }
  if (c == '[') {
    if (*p == '^') ++p;
    do {  // the first character of a set is literal, so "[]]" is a set of ']'
      if (p == ms.p_end) luaL_error(ms.L, "malformed pattern (missing ']')");
      if (*(p++) == '%' && p < ms.p_end) ++p;
    } while (*p != ']');
    return p + 1;
  }
  return p;
}

// Whether `c` is in the set "[...]" from `p` ('[') to `set_end` (']').
bool set_matches(int c, const char* p, const char* set_end) {
  bool found = true;
  if (*(p + 1) == '^') {
    found = false;
    ++p;
  }
  while (++p < set_end) {
    if (*p == '%') {
      ++p;
      if (class_matches(c, byte_at(p))) return found;
    } else if (*(p + 1) == '-' && p + 2 < set_end) {
      p += 2;
      if (byte_at(p - 2) <= c && c <= byte_at(p)) return found;
    } else if (byte_at(p) == c) {
      return found;
    }
  }
  return !found;
}

bool single_matches(const PatternMatch& ms, const char* s, const char* p, const char* ep) {
  if (s >= ms.src_end) return false;
  const int c = byte_at(s);
  switch (*p) {
    case '.': return true;
    case '%': return class_matches(c, byte_at(p + 1));
    case '[': return set_matches(c, p, ep - 1);
    default: return byte_at(p) == c;
  }
}

const char* match(PatternMatch& ms, const char* s, const char* p);

const char* match_balance(PatternMatch& ms, const char* s, const char* p) {
  if (p >= ms.p_end - 1) luaL_error(ms.L, "malformed pattern (missing arguments to '%%b')");
  if (s >= ms.src_end || *s != *p) return nullptr;
  const char open = *p;
  const char close = *(p + 1);
  int depth = 1;
  while (++s < ms.src_end) {
    charge_step(ms);
    if (*s == close) {
      if (--depth == 0) return s + 1;
    } else if (*s == open) {
      ++depth;
    }
  }
  return nullptr;
}

// Greedy repetition: the longest run first, then shorter ones.
const char* max_expand(PatternMatch& ms, const char* s, const char* p, const char* ep) {
  ptrdiff_t count = 0;
  while (single_matches(ms, s + count, p, ep)) {
    charge_step(ms);
    ++count;
  }
  for (; count >= 0; --count) {
    if (const char* end = match(ms, s + count, ep + 1)) return end;
  }
  return nullptr;
}

// Lazy repetition: the shortest run first.
const char* min_expand(PatternMatch& ms, const char* s, const char* p, const char* ep) {
  for (;;) {
    if (const char* end = match(ms, s, ep + 1)) return end;
    if (!single_matches(ms, s, p, ep)) return nullptr;
    ++s;
  }
}

const char* start_capture(PatternMatch& ms, const char* s, const char* p, ptrdiff_t what) {
  if (ms.level >= kMaxCaptures) luaL_error(ms.L, "too many captures");
  ms.capture[ms.level].init = s;
  ms.capture[ms.level].len = what;
  ++ms.level;
  const char* end = match(ms, s, p);
  if (end == nullptr) --ms.level;
  return end;
}

const char* end_capture(PatternMatch& ms, const char* s, const char* p) {
  int open = ms.level - 1;
  while (open >= 0 && ms.capture[open].len != kCaptureOpen) --open;
  if (open < 0) luaL_error(ms.L, "invalid pattern capture");
  ms.capture[open].len = s - ms.capture[open].init;
  const char* end = match(ms, s, p);
  if (end == nullptr) ms.capture[open].len = kCaptureOpen;
  return end;
}

int capture_index(PatternMatch& ms, int digit) {
  const int index = digit - '1';
  if (index < 0 || index >= ms.level || ms.capture[index].len == kCaptureOpen) {
    luaL_error(ms.L, "invalid capture index %%%d", index + 1);
  }
  return index;
}

// A back-reference %1-%9: the same text as that capture.
const char* match_capture(PatternMatch& ms, const char* s, int digit) {
  const int index = capture_index(ms, digit);
  const auto length = static_cast<size_t>(ms.capture[index].len);
  if (static_cast<size_t>(ms.src_end - s) >= length &&
      std::memcmp(ms.capture[index].init, s, length) == 0) {
    return s + length;
  }
  return nullptr;
}

// Matches pattern `p` at subject position `s`; returns the end of the match or nullptr.
const char* match(PatternMatch& ms, const char* s, const char* p) {
  if (ms.depth-- == 0) luaL_error(ms.L, "pattern too complex");
  while (s != nullptr && p != ms.p_end) {
    charge_step(ms);
    if (*p == '(') {
      s = *(p + 1) == ')' ? start_capture(ms, s, p + 2, kCapturePosition)
                          : start_capture(ms, s, p + 1, kCaptureOpen);
      break;
    }
    if (*p == ')') {
      s = end_capture(ms, s, p + 1);
      break;
    }
    if (*p == '$' && p + 1 == ms.p_end) {  // '$' elsewhere is a plain character
      if (s != ms.src_end) s = nullptr;
      break;
    }
    if (*p == '%' && *(p + 1) == 'b') {
      s = match_balance(ms, s, p + 2);
      p += 4;
      continue;
    }
    if (*p == '%' && *(p + 1) == 'f') {
      p += 2;
      if (*p != '[') luaL_error(ms.L, "missing '[' after '%%f' in pattern");
      const char* ep = class_end(ms, p);
      const int previous = s == ms.src_init ? '\0' : byte_at(s - 1);
      const int current = s < ms.src_end ? byte_at(s) : '\0';
      if (!set_matches(previous, p, ep - 1) && set_matches(current, p, ep - 1)) {
        p = ep;
        continue;
      }
      s = nullptr;
      break;
    }
    if (*p == '%' && *(p + 1) >= '0' && *(p + 1) <= '9') {
      s = match_capture(ms, s, byte_at(p + 1));
      p += 2;
      continue;
    }
    const char* ep = class_end(ms, p);
    if (!single_matches(ms, s, p, ep)) {
      if (*ep == '*' || *ep == '?' || *ep == '-') {  // these accept zero repetitions
        p = ep + 1;
        continue;
      }
      s = nullptr;
      break;
    }
    if (*ep == '?') {
      if (const char* end = match(ms, s + 1, ep + 1)) {
        s = end;
        break;
      }
      p = ep + 1;
      continue;
    }
    if (*ep == '+') {
      s = max_expand(ms, s + 1, p, ep);
      break;
    }
    if (*ep == '*') {
      s = max_expand(ms, s, p, ep);
      break;
    }
    if (*ep == '-') {
      s = min_expand(ms, s, p, ep);
      break;
    }
    ++s;
    p = ep;
  }
  ++ms.depth;
  return s;
}

void prepare_match(PatternMatch& ms, lua_State* L, const char* s, size_t ls, const char* p,
                   size_t lp) {
  ms.L = L;
  ms.vm = &vm_of(L);
  ms.src_init = s;
  ms.src_end = s + ls;
  ms.p_end = p + lp;
}

void restart_match(PatternMatch& ms) {
  ms.level = 0;
  ms.depth = kMaxMatchDepth;
}

// Pushes capture `i` (or the whole match s..e when the pattern has no captures).
void push_capture(PatternMatch& ms, int i, const char* s, const char* e) {
  if (i >= ms.level) {
    if (i != 0) luaL_error(ms.L, "invalid capture index %%%d", i + 1);
    lua_pushlstring(ms.L, s, static_cast<size_t>(e - s));
    return;
  }
  const ptrdiff_t length = ms.capture[i].len;
  if (length == kCaptureOpen) luaL_error(ms.L, "unfinished capture");
  if (length == kCapturePosition) {
    lua_pushinteger(ms.L, ms.capture[i].init - ms.src_init + 1);
  } else {
    lua_pushlstring(ms.L, ms.capture[i].init, static_cast<size_t>(length));
  }
}

int push_captures(PatternMatch& ms, const char* s, const char* e) {
  const int count = (ms.level == 0 && s != nullptr) ? 1 : ms.level;
  luaL_checkstack(ms.L, count, "too many captures");
  for (int i = 0; i < count; ++i) push_capture(ms, i, s, e);
  return count;
}

// The 0-based start for a 1-based, possibly negative, init argument (may exceed ls).
size_t start_offset(lua_Integer init, size_t ls) {
  if (init > 0) return static_cast<size_t>(init) - 1;
  if (init == 0 || init < -static_cast<lua_Integer>(ls)) return 0;
  return ls - static_cast<size_t>(-init);
}

bool has_specials(const char* p, size_t lp) {
  for (size_t i = 0; i < lp; ++i) {
    if (p[i] != '\0' && std::strchr(kPatternSpecials, p[i]) != nullptr) return true;
  }
  return false;
}

int find_or_match(lua_State* L, bool find) {
  size_t ls = 0;
  size_t lp = 0;
  const char* s = luaL_checklstring(L, 1, &ls);
  const char* p = luaL_checklstring(L, 2, &lp);
  const size_t init = start_offset(luaL_optinteger(L, 3, 1), ls);
  if (init > ls) {
    luaL_pushfail(L);
    return 1;
  }
  if (find && (lua_toboolean(L, 4) != 0 || !has_specials(p, lp))) {
    // glibc's memmem is linear in the worst case, so a plain search needs no budget.
    const void* found = lp == 0 ? s + init : memmem(s + init, ls - init, p, lp);
    if (found != nullptr) {
      const auto start = static_cast<const char*>(found) - s;
      lua_pushinteger(L, start + 1);
      lua_pushinteger(L, start + static_cast<lua_Integer>(lp));
      return 2;
    }
    luaL_pushfail(L);
    return 1;
  }
  PatternMatch ms;
  const bool anchor = *p == '^';
  if (anchor) {
    ++p;
    --lp;
  }
  prepare_match(ms, L, s, ls, p, lp);
  const char* start = s + init;
  do {
    restart_match(ms);
    if (const char* end = match(ms, start, p)) {
      if (!find) return push_captures(ms, start, end);
      lua_pushinteger(L, start - s + 1);
      lua_pushinteger(L, end - s);
      return push_captures(ms, nullptr, nullptr) + 2;
    }
  } while (start++ < ms.src_end && !anchor);
  luaL_pushfail(L);
  return 1;
}

int pattern_find(lua_State* L) {
  return find_or_match(L, true);
}
int pattern_match(lua_State* L) {
  return find_or_match(L, false);
}

struct GmatchState {
  const char* src;
  const char* p;
  const char* last_match;
  PatternMatch ms;
};

int gmatch_next(lua_State* L) {
  auto* state = static_cast<GmatchState*>(lua_touserdata(L, lua_upvalueindex(3)));
  state->ms.L = L;
  state->ms.vm = &vm_of(L);
  for (const char* src = state->src; src <= state->ms.src_end; ++src) {
    restart_match(state->ms);
    const char* end = match(state->ms, src, state->p);
    if (end != nullptr && end != state->last_match) {  // no empty match right after a match
      state->src = state->last_match = end;
      return push_captures(state->ms, src, end);
    }
  }
  return 0;
}

int pattern_gmatch(lua_State* L) {
  size_t ls = 0;
  size_t lp = 0;
  const char* s = luaL_checklstring(L, 1, &ls);
  const char* p = luaL_checklstring(L, 2, &lp);
  size_t init = start_offset(luaL_optinteger(L, 3, 1), ls);
  if (init > ls) init = ls + 1;  // past the end: the iterator finds nothing
  lua_settop(L, 2);              // the subject and pattern stay alive as upvalues
  auto* state = static_cast<GmatchState*>(lua_newuserdatauv(L, sizeof(GmatchState), 0));
  prepare_match(state->ms, L, s, ls, p, lp);
  state->src = s + init;
  state->p = p;
  state->last_match = nullptr;
  lua_pushcclosure(L, gmatch_next, 3);
  return 1;
}

// Appends repl (argument 3, a string) with %0-%9 and %% expanded.
void add_replacement_text(PatternMatch& ms, luaL_Buffer* b, const char* s, const char* e) {
  lua_State* L = ms.L;
  size_t length = 0;
  const char* text = lua_tolstring(L, 3, &length);
  const char* percent = nullptr;
  while ((percent = static_cast<const char*>(std::memchr(text, '%', length))) != nullptr) {
    luaL_addlstring(b, text, static_cast<size_t>(percent - text));
    ++percent;  // the terminating zero when '%' ends the string: an error below
    if (*percent == '%') {
      luaL_addchar(b, '%');
    } else if (*percent == '0') {
      luaL_addlstring(b, s, static_cast<size_t>(e - s));
    } else if (*percent >= '1' && *percent <= '9') {
      push_capture(ms, *percent - '1', s, e);
      luaL_tolstring(L, -1, nullptr);  // position captures are integers
      lua_remove(L, -2);
      luaL_addvalue(b);
    } else {
      luaL_error(L, "invalid use of '%%' in replacement string");
    }
    length -= static_cast<size_t>(percent + 1 - text);
    text = percent + 1;
  }
  luaL_addlstring(b, text, length);
}

// Appends the replacement for the match s..e; false when the match is kept as is.
bool add_replacement(PatternMatch& ms, luaL_Buffer* b, const char* s, const char* e, int type) {
  lua_State* L = ms.L;
  if (type == LUA_TFUNCTION) {
    lua_pushvalue(L, 3);
    const int count = push_captures(ms, s, e);
    lua_call(L, count, 1);
  } else if (type == LUA_TTABLE) {
    push_capture(ms, 0, s, e);
    lua_gettable(L, 3);
  } else {
    add_replacement_text(ms, b, s, e);
    return true;
  }
  if (lua_toboolean(L, -1) == 0) {  // nil or false: keep the original text
    lua_pop(L, 1);
    luaL_addlstring(b, s, static_cast<size_t>(e - s));
    return false;
  }
  if (lua_isstring(L, -1) == 0) {
    luaL_error(L, "invalid replacement value (a %s)", luaL_typename(L, -1));
  }
  luaL_addvalue(b);
  return true;
}

int pattern_gsub(lua_State* L) {
  size_t ls = 0;
  size_t lp = 0;
  const char* src = luaL_checklstring(L, 1, &ls);
  const char* p = luaL_checklstring(L, 2, &lp);
  const int type = lua_type(L, 3);
  const lua_Integer max_replacements = luaL_optinteger(L, 4, static_cast<lua_Integer>(ls) + 1);
  luaL_argexpected(
      L, type == LUA_TNUMBER || type == LUA_TSTRING || type == LUA_TFUNCTION || type == LUA_TTABLE,
      3, "string/function/table");
  const bool anchor = *p == '^';
  if (anchor) {
    ++p;
    --lp;
  }
  luaL_Buffer b;
  luaL_buffinit(L, &b);
  PatternMatch ms;
  prepare_match(ms, L, src, ls, p, lp);
  const char* last_match = nullptr;
  lua_Integer count = 0;
  bool changed = false;
  while (count < max_replacements) {
    restart_match(ms);
    const char* end = match(ms, src, p);
    if (end != nullptr && end != last_match) {
      ++count;
      changed = add_replacement(ms, &b, src, end, type) || changed;
      src = last_match = end;
    } else if (src < ms.src_end) {
      luaL_addchar(&b, *src++);
    } else {
      break;
    }
    if (anchor) break;
  }
  if (!changed) {
    lua_pushvalue(L, 1);
  } else {
    luaL_addlstring(&b, src, static_cast<size_t>(ms.src_end - src));
    luaL_pushresult(&b);
  }
  lua_pushinteger(L, count);
  return 2;
}

int setup(lua_State* L) {
  LuaVm& vm = vm_of(L);
  const std::pair<const char*, lua_CFunction> libraries[] = {
      {LUA_GNAME, luaopen_base},       {LUA_STRLIBNAME, luaopen_string},
      {LUA_TABLIBNAME, luaopen_table}, {LUA_MATHLIBNAME, luaopen_math},
      {LUA_UTF8LIBNAME, luaopen_utf8},
  };
  for (const auto& [name, open] : libraries) {
    luaL_requiref(L, name, open, 1);
    lua_pop(L, 1);
  }
  // The real string table is also every string's __index: take dump out of it, put
  // the budgeted pattern functions in, and hide the string metatable so no chunk can
  // change how strings behave.
  lua_getglobal(L, LUA_STRLIBNAME);
  lua_pushnil(L);
  lua_setfield(L, -2, "dump");
  const luaL_Reg budgeted[] = {{"find", pattern_find},
                               {"match", pattern_match},
                               {"gmatch", pattern_gmatch},
                               {"gsub", pattern_gsub},
                               {nullptr, nullptr}};
  luaL_setfuncs(L, budgeted, 0);
  lua_pop(L, 1);
  lua_pushliteral(L, "");
  lua_getmetatable(L, -1);
  lua_pushstring(L, kLocked);
  lua_setfield(L, -2, "__metatable");
  lua_pop(L, 2);

  lua_createtable(L, 0, 24);
  for (const char* name :
       {"assert", "error", "getmetatable", "ipairs", "next", "pairs", "pcall", "rawequal", "rawget",
        "rawlen", "select", "tonumber", "tostring", "type", "xpcall", "_VERSION"}) {
    lua_getglobal(L, name);
    lua_setfield(L, -2, name);
  }
  lua_pushcfunction(L, safe_setmetatable);
  lua_setfield(L, -2, "setmetatable");
  lua_pushlightuserdata(L, null_sentinel());
  lua_setfield(L, -2, "null");
  for (const char* name : {LUA_STRLIBNAME, LUA_TABLIBNAME, LUA_MATHLIBNAME, LUA_UTF8LIBNAME}) {
    push_readonly_library(L, name);
    lua_setfield(L, -2, name);
  }
  vm.base_ref = luaL_ref(L, LUA_REGISTRYINDEX);

  const luaL_Reg view_methods[] = {{"__index", view_index},       {"__newindex", view_newindex},
                                   {"__len", view_len},           {"__pairs", view_pairs},
                                   {"__tostring", view_tostring}, {nullptr, nullptr}};
  lua_createtable(L, 0, 6);
  luaL_setfuncs(L, view_methods, 0);
  lua_pushstring(L, kLocked);
  lua_setfield(L, -2, "__metatable");
  vm.view_mt_ref = luaL_ref(L, LUA_REGISTRYINDEX);

  lua_createtable(L, 0, 2);
  lua_pushcfunction(L, env_index);
  lua_setfield(L, -2, "__index");
  lua_pushstring(L, kLocked);
  lua_setfield(L, -2, "__metatable");
  vm.env_mt_ref = luaL_ref(L, LUA_REGISTRYINDEX);

  // A non-nil placeholder keeps the registry slot, so replacing it never allocates.
  lua_pushboolean(L, 0);
  vm.views_ref = luaL_ref(L, LUA_REGISTRYINDEX);
  // Preallocated array part: storing a compiled function in a slot never allocates.
  lua_createtable(L, kCacheCapacity, 0);
  vm.cache_ref = luaL_ref(L, LUA_REGISTRYINDEX);
  return 0;
}

// Runs the compiled function at index 1 with fresh globals; returns its first result.
int run_protected(lua_State* L) {
  LuaVm& vm = vm_of(L);
  lua_createtable(L, 0, 4);
  lua_rawgeti(L, LUA_REGISTRYINDEX, vm.env_mt_ref);
  lua_setmetatable(L, -2);
  lua_setupvalue(L, 1, 1);  // a main chunk's only upvalue is _ENV
  lua_call(L, 0, 1);
  return 1;
}

}  // namespace

// ---------------------------------------------------------------------------------

struct Sandbox::State : LuaVm {
  explicit State(SandboxLimits l) : LuaVm(l) {
    L = lua_newstate(allocate, static_cast<LuaVm*>(this));
    if (L == nullptr) {
      broken = "could not create a Lua state (out of memory)";
      return;
    }
    *static_cast<LuaVm**>(lua_getextraspace(L)) = this;
    lua_atpanic(L, panic);
    lua_pushcfunction(L, setup);
    if (lua_pcall(L, 0, 0, 0) != LUA_OK) {
      broken = std::string("could not set up the Lua sandbox: ") +
               (lua_type(L, -1) == LUA_TSTRING ? lua_tostring(L, -1) : "unknown error");
      lua_settop(L, 0);
    }
  }

  ~State() {
    if (L != nullptr) lua_close(L);
  }

  Status ready() const {
    if (broken.empty()) return {};
    return fail(ErrorCode::kInternal, "expression sandbox unavailable: " + broken);
  }

  // Runs `body` with every exception turned into an error value.
  template <typename Body>
  auto guarded(Body&& body) -> decltype(body()) {
    if (auto ok = ready(); !ok) return fail(ok.error());
    try {
      return body();
    } catch (const std::exception& e) {
      finish();
      return fail(ErrorCode::kInternal, std::string("expression sandbox failed: ") + e.what());
    }
  }

  // Pushes the compiled function for `code`, compiling and caching it on a miss.
  Status push_compiled(std::string_view code, Kind kind) {
    if (kind == Kind::kExpression && blank(code)) {
      return fail(ErrorCode::kInvalidInput,
                  "empty expression: write a Lua expression such as 'slots.count > 0'");
    }
    auto& cache = kind == Kind::kExpression ? expressions : chunks;
    if (const auto it = cache.find(code); it != cache.end()) {
      lua_rawgeti(L, LUA_REGISTRYINDEX, cache_ref);
      lua_rawgeti(L, -1, it->second);
      lua_remove(L, -2);
      return {};
    }
    std::string source;
    if (kind == Kind::kExpression) source = "return ";
    source.append(code);
    cap_hit = false;
    enforce_cap = true;
    const int status = luaL_loadbufferx(L, source.data(), source.size(), kChunkName, "t");
    enforce_cap = false;
    if (status == LUA_ERRMEM) return fail(memory_error(kind, code));
    if (status != LUA_OK) {
      auto [line, message] = split_position(error_text(-1));
      lua_pop(L, 1);
      std::string where = "syntax error in " + describe(kind, code);
      if (kind == Kind::kChunk && line > 0) where += " at line " + std::to_string(line);
      return fail(ErrorCode::kInvalidInput, where + ": " + message);
    }
    const int slot = next_slot;
    next_slot = next_slot % kCacheCapacity + 1;
    CacheSlot& owner = slots[static_cast<size_t>(slot)];
    if (owner.used) (owner.kind == Kind::kExpression ? expressions : chunks).erase(owner.code);
    lua_rawgeti(L, LUA_REGISTRYINDEX, cache_ref);
    lua_pushvalue(L, -2);
    lua_rawseti(L, -2, slot);
    lua_pop(L, 1);
    owner = {true, kind, std::string(code)};
    cache.emplace(owner.code, slot);
    return {};
  }

  // Runs `code` against `env`; on success its first result is on top of the stack and
  // finish() must follow once the caller has read it.
  Status evaluate(std::string_view code, Kind kind, const Json& env) {
    lua_settop(L, 0);
    if (auto compiled = push_compiled(code, kind); !compiled) return compiled;
    lua_pushcfunction(L, run_protected);
    lua_pushvalue(L, 1);
    this->env = &env;
    budget_exhausted = false;
    pattern_steps_left = limits.instruction_budget;
    cap_hit = false;
    const long budget = std::clamp<long>(limits.instruction_budget, 1, INT_MAX);
    lua_sethook(L, budget_hook, LUA_MASKCOUNT, static_cast<int>(budget));
    enforce_cap = true;
    const int status = lua_pcall(L, 1, 1, 0);
    enforce_cap = false;
    lua_sethook(L, nullptr, 0, 0);
    this->env = nullptr;
    // The cached function must not keep this evaluation's globals alive.
    lua_pushnil(L);
    lua_setupvalue(L, 1, 1);

    if (budget_exhausted) {
      return fail(ErrorCode::kFailedPrecondition,
                  describe(kind, code) + " stopped: instruction budget of " +
                      std::to_string(limits.instruction_budget) + " exhausted (infinite loop?)");
    }
    if (status == LUA_ERRMEM) return fail(memory_error(kind, code));
    if (status != LUA_OK) {
      auto [line, message] = split_position(error_text(-1));
      std::string where = "error in " + describe(kind, code);
      if (kind == Kind::kChunk && line > 0) where += " at line " + std::to_string(line);
      return fail(ErrorCode::kFailedPrecondition, where + ": " + message);
    }
    return {};
  }

  // Ends an evaluation: drops its views and its stack, and after a memory error
  // collects the garbage that caused it.
  void finish() {
    lua_settop(L, 0);
    lua_pushboolean(L, 0);
    lua_rawseti(L, LUA_REGISTRYINDEX, views_ref);
    if (cap_hit) {
      lua_gc(L, LUA_GCCOLLECT);
      cap_hit = false;
    }
  }

  Error memory_error(Kind kind, std::string_view code) const {
    if (!cap_hit) {
      return {ErrorCode::kFailedPrecondition, describe(kind, code) + " stopped: out of memory"};
    }
    return {ErrorCode::kFailedPrecondition, describe(kind, code) + " stopped: memory cap of " +
                                                std::to_string(limits.memory_bytes) +
                                                " bytes exceeded"};
  }

  // The text of the error value at `index`, whatever its type.
  std::string error_text(int index) {
    index = lua_absindex(L, index);
    std::string text;
    switch (lua_type(L, index)) {
      case LUA_TSTRING: {
        size_t length = 0;
        const char* data = lua_tolstring(L, index, &length);
        text.assign(data, length);
        break;
      }
      case LUA_TNUMBER:
        text = lua_isinteger(L, index) ? format_integer(lua_tointeger(L, index))
                                       : format_double(lua_tonumber(L, index));
        break;
      case LUA_TTABLE: {
        std::string path = "error";
        if (auto json = to_json(index, 0, path)) {
          text = json->dump(-1, ' ', false, Json::error_handler_t::replace);
        } else {
          text = "(error object is a table)";
        }
        break;
      }
      default:
        text = std::string("(error object is a ") + lua_typename(L, lua_type(L, index)) + " value)";
    }
    return printable(text, kMaxMessage);
  }

  // Converts the Lua value at `index` to JSON using only calls that cannot raise.
  // `path` names the value in messages ("result.items[2]").
  Result<Json> to_json(int index, int depth, std::string& path) {
    index = lua_absindex(L, index);
    const auto refuse = [&](const std::string& what) {
      return fail(ErrorCode::kFailedPrecondition,
                  path + " is " + what +
                      ": only nil, booleans, numbers, strings and tables convert to JSON");
    };
    switch (lua_type(L, index)) {
      case LUA_TNIL:
      case LUA_TNONE: return Json(nullptr);
      case LUA_TBOOLEAN: return Json(lua_toboolean(L, index) != 0);
      case LUA_TNUMBER: {
        if (lua_isinteger(L, index))
          return Json(static_cast<std::int64_t>(lua_tointeger(L, index)));
        const double number = lua_tonumber(L, index);
        if (!std::isfinite(number)) {
          return fail(ErrorCode::kFailedPrecondition,
                      path + " is " + format_double(number) + ": JSON numbers must be finite");
        }
        return Json(number);
      }
      case LUA_TSTRING: {
        size_t length = 0;
        const char* data = lua_tolstring(L, index, &length);
        const std::string_view text(data, length);
        if (!valid_utf8(text)) {
          return fail(ErrorCode::kFailedPrecondition,
                      path + " is not valid UTF-8 text: JSON strings must be UTF-8");
        }
        return Json(std::string(text));
      }
      case LUA_TLIGHTUSERDATA:
        if (lua_touserdata(L, index) == null_sentinel()) return Json(nullptr);
        return refuse("a light userdata");
      case LUA_TTABLE: return table_to_json(index, depth, path);
      default: return refuse(std::string("a ") + lua_typename(L, lua_type(L, index)));
    }
  }

  Result<Json> table_to_json(int index, int depth, std::string& path) {
    if (depth >= kMaxDepth || !lua_checkstack(L, 6)) {
      return fail(ErrorCode::kFailedPrecondition, path + " nests tables deeper than " +
                                                      std::to_string(kMaxDepth) +
                                                      " levels (does a table contain itself?)");
    }
    if (lua_rawgeti(L, LUA_REGISTRYINDEX, views_ref) == LUA_TTABLE) {
      lua_pushvalue(L, index);
      lua_rawget(L, -2);
      const auto* shown_json = static_cast<const Json*>(lua_touserdata(L, -1));
      lua_pop(L, 2);
      if (shown_json != nullptr) return *shown_json;
    } else {
      lua_pop(L, 1);
    }

    // Keys exactly 1..n (or none) make an array.
    lua_Integer count = 0;
    lua_Integer highest = 0;
    bool sequence = true;
    lua_pushnil(L);
    while (lua_next(L, index) != 0) {
      ++count;
      if (lua_isinteger(L, -2) && lua_tointeger(L, -2) >= 1) {
        highest = std::max(highest, lua_tointeger(L, -2));
      } else {
        sequence = false;
      }
      lua_pop(L, 1);
    }
    const size_t path_length = path.size();
    if (sequence && highest == count) {
      Json array = Json::array();
      for (lua_Integer i = 1; i <= count; ++i) {
        lua_rawgeti(L, index, i);
        path += "[" + format_integer(i) + "]";
        auto element = to_json(-1, depth + 1, path);
        lua_pop(L, 1);
        if (!element) return element;
        path.resize(path_length);
        array.push_back(std::move(*element));
      }
      return array;
    }

    Json object = Json::object();
    lua_pushnil(L);
    while (lua_next(L, index) != 0) {
      std::string key;
      switch (lua_type(L, -2)) {
        case LUA_TSTRING: {
          size_t length = 0;
          const char* data = lua_tolstring(L, -2, &length);  // a string already: no conversion
          key.assign(data, length);
          if (!valid_utf8(key)) {
            lua_pop(L, 2);
            return fail(ErrorCode::kFailedPrecondition,
                        path + " has a key that is not valid UTF-8: JSON strings must be UTF-8");
          }
          break;
        }
        case LUA_TNUMBER:
          key = lua_isinteger(L, -2) ? format_integer(lua_tointeger(L, -2))
                                     : format_double(lua_tonumber(L, -2));
          break;
        default: {
          const std::string type = lua_typename(L, lua_type(L, -2));
          lua_pop(L, 2);
          return fail(ErrorCode::kFailedPrecondition,
                      path + " has a " + type + " key: JSON object keys are strings or numbers");
        }
      }
      append_key(path, key);
      auto member = to_json(-1, depth + 1, path);
      lua_pop(L, 1);
      if (!member) {
        lua_pop(L, 1);
        return member;
      }
      path.resize(path_length);
      object[key] = std::move(*member);
    }
    return object;
  }

  Result<Json> top_to_json(Kind kind, std::string_view code) {
    std::string path = "result";
    auto json = to_json(-1, 0, path);
    if (!json) return fail(json.error().with_context(describe(kind, code) + ": "));
    return json;
  }

  Result<Json> evaluate_to_json(std::string_view code, Kind kind, const Json& env) {
    Status ran = evaluate(code, kind, env);
    Result<Json> out = ran ? top_to_json(kind, code) : Result<Json>(fail(ran.error()));
    finish();
    return out;
  }
};

// ---------------------------------------------------------------------------------
// Templates

namespace {

struct TemplatePart {
  bool is_expression = false;
  std::string text;  // literal text (escapes resolved) or the Lua expression
};

// Level of the Lua long bracket "[==[" opening at `i`, or -1 when there is none.
int long_bracket_level(std::string_view s, size_t i) {
  if (i >= s.size() || s[i] != '[') return -1;
  size_t j = i + 1;
  while (j < s.size() && s[j] == '=') ++j;
  if (j < s.size() && s[j] == '[') return static_cast<int>(j - i - 1);
  return -1;
}

// Index just past the long bracket string/comment opening at `i`, or npos.
size_t skip_long_bracket(std::string_view s, size_t i, int level) {
  const std::string close = "]" + std::string(static_cast<size_t>(level), '=') + "]";
  const size_t end = s.find(close, i + static_cast<size_t>(level) + 2);
  return end == std::string_view::npos ? end : end + close.size();
}

// Index just past the quoted Lua string opening at `i`, or npos.
size_t skip_quoted(std::string_view s, size_t i) {
  const char quote = s[i];
  for (size_t j = i + 1; j < s.size(); ++j) {
    if (s[j] == '\\') {
      ++j;
    } else if (s[j] == quote) {
      return j + 1;
    } else if (s[j] == '\n') {
      return std::string_view::npos;
    }
  }
  return std::string_view::npos;
}

// Index of the '}' closing a template whose expression starts at `i`, or npos. Braces
// inside the expression nest; braces inside Lua strings and comments do not count.
size_t template_end(std::string_view s, size_t i) {
  int depth = 0;
  while (i < s.size()) {
    const char c = s[i];
    if (c == '"' || c == '\'') {
      i = skip_quoted(s, i);
      if (i == std::string_view::npos) return i;
      continue;
    }
    if (c == '[') {
      if (const int level = long_bracket_level(s, i); level >= 0) {
        i = skip_long_bracket(s, i, level);
        if (i == std::string_view::npos) return i;
        continue;
      }
    }
    if (c == '-' && i + 1 < s.size() && s[i + 1] == '-') {
      i += 2;
      if (const int level = long_bracket_level(s, i); level >= 0) {
        i = skip_long_bracket(s, i, level);
        if (i == std::string_view::npos) return i;
      } else {
        i = s.find('\n', i);
        if (i == std::string_view::npos) return i;
      }
      continue;
    }
    if (c == '{') {
      ++depth;
    } else if (c == '}') {
      if (depth == 0) return i;
      --depth;
    }
    ++i;
  }
  return std::string_view::npos;
}

Result<std::vector<TemplatePart>> parse_template(std::string_view text) {
  std::vector<TemplatePart> parts;
  std::string literal;
  size_t i = 0;
  while (i < text.size()) {
    if (text.compare(i, 3, "$${") == 0) {
      literal += "${";
      i += 3;
      continue;
    }
    if (text.compare(i, 2, "${") != 0) {
      literal += text[i++];
      continue;
    }
    const size_t end = template_end(text, i + 2);
    if (end == std::string_view::npos) {
      return fail(ErrorCode::kInvalidInput,
                  "unterminated template in string '" + shown(text) + "': the '${' at offset " +
                      std::to_string(i) + " has no matching '}' (write '$${' for a literal '${')");
    }
    if (!literal.empty()) parts.push_back({false, std::move(literal)});
    literal.clear();
    parts.push_back({true, std::string(text.substr(i + 2, end - i - 2))});
    i = end + 1;
  }
  if (!literal.empty()) parts.push_back({false, std::move(literal)});
  return parts;
}

// How a value reads when spliced into text.
std::string splice_text(const Json& value) {
  switch (value.type()) {
    case Json::value_t::null: return "";
    case Json::value_t::string: return value.get<std::string>();
    case Json::value_t::boolean: return value.get<bool>() ? "true" : "false";
    case Json::value_t::number_integer: return format_integer(value.get<std::int64_t>());
    case Json::value_t::number_unsigned: return std::to_string(value.get<std::uint64_t>());
    case Json::value_t::number_float: return format_double(value.get<double>());
    default: return value.dump(-1, ' ', false, Json::error_handler_t::replace);
  }
}

}  // namespace

// ---------------------------------------------------------------------------------
// Public API

Sandbox::Sandbox(SandboxLimits limits) : state_(std::make_unique<State>(limits)) {}

Sandbox::~Sandbox() = default;

Result<Json> Sandbox::eval(std::string_view expression, const Json& env) {
  return state_->guarded(
      [&] { return state_->evaluate_to_json(expression, Kind::kExpression, env); });
}

Result<Json> Sandbox::run(std::string_view chunk, const Json& env) {
  return state_->guarded([&] { return state_->evaluate_to_json(chunk, Kind::kChunk, env); });
}

Result<bool> Sandbox::test(std::string_view expression, const Json& env) {
  return state_->guarded([&]() -> Result<bool> {
    State& s = *state_;
    if (auto ran = s.evaluate(expression, Kind::kExpression, env); !ran) {
      s.finish();
      return fail(ran.error());
    }
    const bool truthy = lua_toboolean(s.L, -1) != 0 && lua_touserdata(s.L, -1) != null_sentinel();
    s.finish();
    return truthy;
  });
}

Result<Json> Sandbox::render(const Json& value, const Json& env) {
  if (value.is_array()) {
    Json out = Json::array();
    for (const Json& element : value) {
      auto rendered = render(element, env);
      if (!rendered) return rendered;
      out.push_back(std::move(*rendered));
    }
    return out;
  }
  if (value.is_object()) {
    Json out = Json::object();
    for (const auto& [key, member] : value.items()) {
      auto rendered = render(member, env);
      if (!rendered) return rendered;
      out[key] = std::move(*rendered);
    }
    return out;
  }
  if (!value.is_string()) return value;
  const auto& text = value.get_ref<const std::string&>();
  if (text.find('$') == std::string::npos) return value;

  auto parts = parse_template(text);
  if (!parts) return fail(parts.error());
  const auto context = [&] { return "in template string '" + shown(text) + "': "; };
  if (parts->size() == 1 && parts->front().is_expression) {
    auto result = eval(parts->front().text, env);
    if (!result) return fail(result.error().with_context(context()));
    return result;
  }
  std::string out;
  for (const TemplatePart& part : *parts) {
    if (!part.is_expression) {
      out += part.text;
      continue;
    }
    auto result = eval(part.text, env);
    if (!result) return fail(result.error().with_context(context()));
    out += splice_text(*result);
  }
  return Json(std::move(out));
}

Status Sandbox::check(std::string_view code, bool is_chunk) {
  return state_->guarded([&]() -> Status {
    State& s = *state_;
    lua_settop(s.L, 0);
    Status compiled = s.push_compiled(code, is_chunk ? Kind::kChunk : Kind::kExpression);
    s.finish();
    return compiled;
  });
}

Status Sandbox::check_templates(const Json& value) {
  if (value.is_array() || value.is_object()) {
    for (const Json& member : value) {
      if (auto checked = check_templates(member); !checked) return checked;
    }
    return {};
  }
  if (!value.is_string()) return {};
  const auto& text = value.get_ref<const std::string&>();
  if (text.find('$') == std::string::npos) return {};
  auto parts = parse_template(text);
  if (!parts) return fail(parts.error());
  for (const TemplatePart& part : *parts) {
    if (!part.is_expression) continue;
    if (auto checked = check(part.text, false); !checked) {
      return fail(checked.error().with_context("in template string '" + shown(text) + "': "));
    }
  }
  return {};
}

bool has_template(std::string_view text) {
  for (size_t i = 0; i + 1 < text.size(); ++i) {
    if (text.compare(i, 3, "$${") == 0) {
      i += 2;
    } else if (text.compare(i, 2, "${") == 0) {
      return true;
    }
  }
  return false;
}

}  // namespace ergon
