// An interpreter for the subset of Python's pickle format (protocols 0–5, binary opcodes)
// that a tensor checkpoint uses. It never runs code: the program builds a tree of plain
// values, and the few opcodes that would call or import something in Python (GLOBAL,
// STACK_GLOBAL, REDUCE, BUILD, BINPERSID) are handed to caller-supplied callbacks, which
// decide what, if anything, they mean (torch_pickle.h gives them torch's meaning and an
// allowlist).
//
// Opcodes understood: PROTO, FRAME, STOP, MARK, EMPTY_DICT/LIST/TUPLE, BININT, BININT1,
// BININT2, LONG1, BINFLOAT, NONE, NEWTRUE, NEWFALSE, SHORT_BINUNICODE, BINUNICODE,
// BINUNICODE8, SHORT_BINSTRING, BINSTRING, SHORT_BINBYTES, BINBYTES, BINBYTES8, TUPLE,
// TUPLE1-3, LIST, APPEND, APPENDS, DICT, SETITEM, SETITEMS, BINPUT, LONG_BINPUT, MEMOIZE,
// BINGET, LONG_BINGET, GLOBAL, STACK_GLOBAL, REDUCE, BUILD, BINPERSID. Every other opcode
// is an error naming it.
//
// Safety rules: every operand length is checked against the bytes left before anything
// is allocated; the stack, the memo (Limits) and the number of values (Arena) are capped;
// popping below a MARK or an empty stack, a missing MARK, a memo index that was never
// stored, an integer beyond 64 bits, text that is not UTF-8, an opcode applied to the
// wrong kind of value, and a program that ends without STOP (or leaves more than its
// result on the stack, or bytes after it) are errors. The machine is iterative, and values
// are owned by an Arena, so deep nesting or cycles built through the memo cannot overflow
// the C++ stack or leak. Errors read "pickle byte N: <what is wrong>".
#pragma once
#include <any>
#include <cstdint>
#include <deque>
#include <functional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "src/io/limits.h"

namespace tv3s::io::pickle {

// Caps on the machine (why these values: limits.h); the number of values is capped by
// the Arena.
struct Limits {
  size_t max_stack = kMaxPickleStack;  // values on the stack, and open MARKs
  size_t max_memo = kMaxPickleMemo;    // memo entries
};

struct Value {
  enum class Kind : uint8_t {
    none, boolean, integer, floating, string, bytes, list, tuple, dict,
    global,  // a name from GLOBAL / STACK_GLOBAL: text = "module.name"
    object,  // something a callback made: text = its type, payload = its data
  };
  Kind kind = Kind::none;
  bool boolean = false;
  int64_t integer = 0;
  double floating = 0;
  std::string text;                                // string, bytes, global, object
  std::vector<Value*> items;                       // list, tuple
  std::vector<std::pair<Value*, Value*>> entries;  // dict, in insertion order (a key set
                                                   // twice appears twice)
  std::any payload;                                // object

  bool is(Kind k) const { return kind == k; }
  // The value for a string key of a dict, or nullptr.
  const Value* get(std::string_view key) const;
};

const char* kind_name(Value::Kind kind);

// Owns every value of one unpickled program (those the callbacks make too); pointers stay
// valid while it lives.
class Arena {
 public:
  explicit Arena(size_t max_values = kMaxPickleValues) : max_values_(max_values) {}
  Value* make(Value::Kind kind);  // throws beyond max_values
  size_t size() const { return values_.size(); }
  size_t max_values() const { return max_values_; }

 private:
  size_t max_values_;
  std::deque<Value> values_;
};

// What the opcodes that would import or call something in Python mean. Each may throw
// tv3s::Error; the machine adds the byte position.
struct Callbacks {
  // GLOBAL / STACK_GLOBAL, called as the opcode is read: throw unless module.name is allowed.
  std::function<void(const std::string& module, const std::string& name)> check_global;
  // REDUCE: the result of calling `callable` (a global) with the tuple `args`.
  std::function<Value*(Arena&, const Value& callable, const Value& args)> call;
  // BUILD: apply `state` to `object`, a value the program made earlier.
  std::function<void(Value& object, const Value& state)> build;
  // BINPERSID: the object that the persistent id `pid` stands for.
  std::function<Value*(Arena&, const Value& pid)> persistent_load;
};

// Runs the pickle program in `data` to its STOP opcode and returns the result, which
// lives in `arena`.
Value* unpickle(std::string_view data, Arena& arena, const Callbacks& callbacks,
                const Limits& limits = {});

}  // namespace tv3s::io::pickle
