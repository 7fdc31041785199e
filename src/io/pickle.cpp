// The pickle machine: a loop over opcodes with a value stack, a mark stack and a memo.
// MARK starts a new frame as in Python 3's unpickler: nothing may pop below it, and the
// opcodes that consume a frame (TUPLE, LIST, DICT, APPENDS, SETITEMS) remove it. The
// format and safety rules are listed in pickle.h.
#include "src/io/pickle.h"

#include <cstdio>
#include <cstring>
#include <unordered_map>

#include "tv3s/error.h"

namespace tv3s::io::pickle {
namespace {

using Kind = Value::Kind;

// Every opcode Python defines, so that an unsupported one is named in the error.
const char* opcode_name(uint8_t op) {
  switch (op) {
    case '(': return "MARK";           case '.': return "STOP";
    case '0': return "POP";            case '1': return "POP_MARK";
    case '2': return "DUP";            case 'F': return "FLOAT";
    case 'I': return "INT";            case 'J': return "BININT";
    case 'K': return "BININT1";        case 'L': return "LONG";
    case 'M': return "BININT2";        case 'N': return "NONE";
    case 'P': return "PERSID";         case 'Q': return "BINPERSID";
    case 'R': return "REDUCE";         case 'S': return "STRING";
    case 'T': return "BINSTRING";      case 'U': return "SHORT_BINSTRING";
    case 'V': return "UNICODE";        case 'X': return "BINUNICODE";
    case 'a': return "APPEND";         case 'b': return "BUILD";
    case 'c': return "GLOBAL";         case 'd': return "DICT";
    case '}': return "EMPTY_DICT";     case 'e': return "APPENDS";
    case 'g': return "GET";            case 'h': return "BINGET";
    case 'i': return "INST";           case 'j': return "LONG_BINGET";
    case 'l': return "LIST";           case ']': return "EMPTY_LIST";
    case 'o': return "OBJ";            case 'p': return "PUT";
    case 'q': return "BINPUT";         case 'r': return "LONG_BINPUT";
    case 's': return "SETITEM";        case 't': return "TUPLE";
    case ')': return "EMPTY_TUPLE";    case 'u': return "SETITEMS";
    case 'G': return "BINFLOAT";       case 'B': return "BINBYTES";
    case 'C': return "SHORT_BINBYTES"; case 0x80: return "PROTO";
    case 0x81: return "NEWOBJ";        case 0x82: return "EXT1";
    case 0x83: return "EXT2";          case 0x84: return "EXT4";
    case 0x85: return "TUPLE1";        case 0x86: return "TUPLE2";
    case 0x87: return "TUPLE3";        case 0x88: return "NEWTRUE";
    case 0x89: return "NEWFALSE";      case 0x8a: return "LONG1";
    case 0x8b: return "LONG4";         case 0x8c: return "SHORT_BINUNICODE";
    case 0x8d: return "BINUNICODE8";   case 0x8e: return "BINBYTES8";
    case 0x8f: return "EMPTY_SET";     case 0x90: return "ADDITEMS";
    case 0x91: return "FROZENSET";     case 0x92: return "NEWOBJ_EX";
    case 0x93: return "STACK_GLOBAL";  case 0x94: return "MEMOIZE";
    case 0x95: return "FRAME";         case 0x96: return "BYTEARRAY8";
    case 0x97: return "NEXT_BUFFER";   case 0x98: return "READONLY_BUFFER";
    default: return nullptr;
  }
}

bool valid_utf8(std::string_view s) {
  static const uint32_t kMinimum[] = {0, 0x80, 0x800, 0x10000};  // no overlong forms
  for (size_t i = 0; i < s.size();) {
    const auto c = uint8_t(s[i]);
    size_t n;
    uint32_t cp;
    if (c < 0x80) { ++i; continue; }
    if ((c & 0xE0) == 0xC0) { n = 1; cp = c & 0x1F; }
    else if ((c & 0xF0) == 0xE0) { n = 2; cp = c & 0x0F; }
    else if ((c & 0xF8) == 0xF0) { n = 3; cp = c & 0x07; }
    else return false;
    if (s.size() - i <= n) return false;
    for (size_t k = 1; k <= n; ++k) {
      const auto d = uint8_t(s[i + k]);
      if ((d & 0xC0) != 0x80) return false;
      cp = cp << 6 | (d & 0x3F);
    }
    if (cp < kMinimum[n] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return false;
    i += n + 1;
  }
  return true;
}

class Machine {
 public:
  Machine(std::string_view data, Arena& arena, const Callbacks& callbacks, const Limits& limits)
      : data_(data), arena_(arena), callbacks_(callbacks), limits_(limits) {}

  Value* run() {
    try {
      for (;;) {
        op_pos_ = pos_;
        TV3S_CHECK(pos_ < data_.size(), "the program ends without STOP (truncated?)");
        op_ = uint8_t(data_[pos_++]);
        if (op_ == '.') return stop();
        step();
      }
    } catch (const Error& e) {
      throw Error(str("pickle byte ", op_pos_, ": ", e.what()));
    }
  }

 private:
  Value* stop() {
    TV3S_CHECK(marks_.empty() && stack_.size() == 1, "STOP with ", stack_.size(),
               " values on the stack and ", marks_.size(),
               " open marks (expected the result only)");
    TV3S_CHECK(pos_ == data_.size(), data_.size() - pos_, " bytes follow STOP");
    return stack_[0];
  }

  void step() {
    switch (op_) {
      case 0x80: {  // PROTO
        const uint64_t version = take_uint(1);
        TV3S_CHECK(version <= 5, "pickle protocol ", version, " is newer than 5");
        break;
      }
      case 0x95: {  // FRAME: the length of the opcodes that follow; frames only group them
        const uint64_t n = take_uint(8);
        TV3S_CHECK(n <= data_.size() - pos_, "a FRAME of ", n, " bytes runs past the end");
        break;
      }
      case '(':
        TV3S_CHECK(marks_.size() < limits_.max_stack, "more than ", limits_.max_stack,
                   " open marks");
        marks_.push_back(stack_.size());
        break;
      case '}': push(make(Kind::dict)); break;
      case ']': push(make(Kind::list)); break;
      case ')': push(make(Kind::tuple)); break;
      case 'N': push(make(Kind::none)); break;
      case 0x88: push_bool(true); break;   // NEWTRUE
      case 0x89: push_bool(false); break;  // NEWFALSE
      case 'J': push_int(int32_t(uint32_t(take_uint(4)))); break;  // BININT: signed
      case 'K': push_int(int64_t(take_uint(1))); break;            // BININT1: unsigned
      case 'M': push_int(int64_t(take_uint(2))); break;            // BININT2: unsigned
      case 0x8a: push_long1(); break;
      case 'G': push_binfloat(); break;
      case 0x8c: push_text(Kind::string, take_uint(1)); break;  // SHORT_BINUNICODE
      case 'X': push_text(Kind::string, take_uint(4)); break;   // BINUNICODE
      case 0x8d: push_text(Kind::string, take_uint(8)); break;  // BINUNICODE8
      // Python 2 str: Python 3 unpicklers (and torch.load) decode it as text.
      case 'U': push_text(Kind::string, take_uint(1)); break;   // SHORT_BINSTRING
      case 'T': {                                                // BINSTRING: signed length
        const auto n = int32_t(uint32_t(take_uint(4)));
        TV3S_CHECK(n >= 0, "BINSTRING with negative length ", n);
        push_text(Kind::string, uint64_t(n));
        break;
      }
      case 'C': push_text(Kind::bytes, take_uint(1)); break;   // SHORT_BINBYTES
      case 'B': push_text(Kind::bytes, take_uint(4)); break;   // BINBYTES
      case 0x8e: push_text(Kind::bytes, take_uint(8)); break;  // BINBYTES8
      case 0x85: case 0x86: case 0x87: push_tuple(op_ - 0x84); break;  // TUPLE1-3
      case 't': push_sequence(Kind::tuple); break;
      case 'l': push_sequence(Kind::list); break;
      case 'd': {
        Value* dict = make(Kind::dict);
        add_pairs(*dict, pop_mark());
        push(dict);
        break;
      }
      case 'a': {  // APPEND
        Value* item = pop();
        expect(*top(), Kind::list).items.push_back(item);
        break;
      }
      case 'e': {  // APPENDS
        std::vector<Value*> items = pop_mark();
        auto& list = expect(*top(), Kind::list).items;
        list.insert(list.end(), items.begin(), items.end());
        break;
      }
      case 's': {  // SETITEM
        Value* value = pop();
        Value* key = pop();
        expect(*top(), Kind::dict).entries.emplace_back(key, value);
        break;
      }
      case 'u': {  // SETITEMS
        std::vector<Value*> items = pop_mark();
        add_pairs(expect(*top(), Kind::dict), items);
        break;
      }
      case 'q': memo_put(take_uint(1)); break;  // BINPUT
      case 'r': memo_put(take_uint(4)); break;  // LONG_BINPUT
      case 0x94: memo_put(memo_.size()); break;  // MEMOIZE
      case 'h': memo_get(take_uint(1)); break;  // BINGET
      case 'j': memo_get(take_uint(4)); break;  // LONG_BINGET
      case 'c': {  // GLOBAL: "module\nname\n"
        const std::string module(take_line()), name(take_line());
        push_global(module, name);
        break;
      }
      case 0x93: {  // STACK_GLOBAL
        const std::string name = expect(*pop(), Kind::string).text;
        const std::string module = expect(*pop(), Kind::string).text;
        push_global(module, name);
        break;
      }
      case 'R': {  // REDUCE
        const Value& args = expect(*pop(), Kind::tuple);
        const Value& callable = expect(*pop(), Kind::global);
        push(callbacks_.call(arena_, callable, args));
        break;
      }
      case 'b': {  // BUILD
        Value* state = pop();
        callbacks_.build(*top(), *state);
        break;
      }
      case 'Q': push(callbacks_.persistent_load(arena_, *pop())); break;  // BINPERSID
      default: {
        char code[8];
        std::snprintf(code, sizeof code, "0x%02x", op_);
        if (const char* name = opcode_name(op_))
          fail(str("opcode ", name, " (", code,
                   ") is not supported: a tensor checkpoint does not use it"));
        fail(str("unknown opcode ", code, " (not a pickle, or a corrupt one)"));
      }
    }
  }

  // --- operands -----------------------------------------------------------------------
  const char* take(uint64_t n) {
    TV3S_CHECK(n <= data_.size() - pos_, opcode_name(op_), " needs ", n, " more bytes, ",
               data_.size() - pos_, " are left (truncated?)");
    const char* p = data_.data() + pos_;
    pos_ += size_t(n);
    return p;
  }
  uint64_t take_uint(int bytes) {  // little-endian
    const auto* p = reinterpret_cast<const uint8_t*>(take(uint64_t(bytes)));
    uint64_t v = 0;
    for (int i = bytes - 1; i >= 0; --i) v = v << 8 | p[i];
    return v;
  }
  std::string_view take_line() {
    const size_t end = data_.find('\n', pos_);
    TV3S_CHECK(end != std::string_view::npos, "GLOBAL operand has no end of line");
    std::string_view line = data_.substr(pos_, end - pos_);
    pos_ = end + 1;
    return line;
  }

  // --- values ----------------------------------------------------------------------------
  Value* make(Kind kind) { return arena_.make(kind); }
  static Value& expect(Value& v, Kind kind) {
    TV3S_CHECK(v.is(kind), "expected ", kind_name(kind), ", found ", kind_name(v.kind));
    return v;
  }
  void push_bool(bool b) {
    Value* v = make(Kind::boolean);
    v->boolean = b;
    push(v);
  }
  void push_int(int64_t i) {
    Value* v = make(Kind::integer);
    v->integer = i;
    push(v);
  }
  void push_long1() {  // little-endian two's complement of 0..8 bytes
    const uint64_t n = take_uint(1);
    TV3S_CHECK(n <= 8, "LONG1 integer of ", n, " bytes does not fit 64 bits");
    const auto* p = reinterpret_cast<const uint8_t*>(take(n));
    uint64_t u = 0;
    for (uint64_t i = 0; i < n; ++i) u |= uint64_t(p[i]) << (8 * i);
    if (n > 0 && n < 8 && (p[n - 1] & 0x80)) u |= ~uint64_t(0) << (8 * n);
    push_int(int64_t(u));
  }
  void push_binfloat() {  // big-endian IEEE double
    const auto* p = reinterpret_cast<const uint8_t*>(take(8));
    uint64_t bits = 0;
    for (int i = 0; i < 8; ++i) bits = bits << 8 | p[i];
    Value* v = make(Kind::floating);
    std::memcpy(&v->floating, &bits, sizeof bits);
    push(v);
  }
  void push_text(Kind kind, uint64_t n) {
    const char* p = take(n);
    Value* v = make(kind);
    v->text.assign(p, size_t(n));
    TV3S_CHECK(kind != Kind::string || valid_utf8(v->text), "a string is not valid UTF-8");
    push(v);
  }
  void push_tuple(size_t n) {
    TV3S_CHECK(stack_.size() - frame_base() >= n, "stack underflow: TUPLE", n, " needs ", n,
               " values");
    Value* t = make(Kind::tuple);
    t->items.assign(stack_.end() - std::ptrdiff_t(n), stack_.end());
    stack_.resize(stack_.size() - n);
    push(t);
  }
  void push_sequence(Kind kind) {
    Value* v = make(kind);
    v->items = pop_mark();
    push(v);
  }
  static void add_pairs(Value& dict, const std::vector<Value*>& items) {
    TV3S_CHECK(items.size() % 2 == 0, "a dict gets an odd number (", items.size(),
               ") of keys and values");
    for (size_t i = 0; i < items.size(); i += 2) dict.entries.emplace_back(items[i], items[i + 1]);
  }
  void push_global(const std::string& module, const std::string& name) {
    callbacks_.check_global(module, name);  // before the name can be used in any way
    Value* v = make(Kind::global);
    v->text = module + "." + name;
    push(v);
  }

  // --- stack, marks, memo --------------------------------------------------------------------
  size_t frame_base() const { return marks_.empty() ? 0 : marks_.back(); }
  void push(Value* v) {
    TV3S_CHECK(stack_.size() < limits_.max_stack, "the stack exceeds ", limits_.max_stack,
               " values");
    stack_.push_back(v);
  }
  Value* top() {
    TV3S_CHECK(stack_.size() > frame_base(), "stack underflow: ", opcode_name(op_),
               " needs a value", marks_.empty() ? "" : " above the last MARK");
    return stack_.back();
  }
  Value* pop() {
    Value* v = top();
    stack_.pop_back();
    return v;
  }
  std::vector<Value*> pop_mark() {
    TV3S_CHECK(!marks_.empty(), opcode_name(op_), " without a MARK");
    const size_t base = marks_.back();
    marks_.pop_back();
    std::vector<Value*> items(stack_.begin() + std::ptrdiff_t(base), stack_.end());
    stack_.resize(base);
    return items;
  }
  void memo_put(uint64_t index) {
    TV3S_CHECK(memo_.size() < limits_.max_memo || memo_.count(index), "the memo exceeds ",
               limits_.max_memo, " entries");
    memo_[index] = top();
  }
  void memo_get(uint64_t index) {
    auto it = memo_.find(index);
    TV3S_CHECK(it != memo_.end(), opcode_name(op_), " of memo entry ", index,
               ", which was never stored");
    push(it->second);
  }

  std::string_view data_;
  size_t pos_ = 0, op_pos_ = 0;
  uint8_t op_ = 0;
  Arena& arena_;
  const Callbacks& callbacks_;
  const Limits& limits_;
  std::vector<Value*> stack_;
  std::vector<size_t> marks_;  // stack size at each open MARK
  std::unordered_map<uint64_t, Value*> memo_;
};

}  // namespace

const char* kind_name(Value::Kind kind) {
  switch (kind) {
    case Kind::none: return "None";
    case Kind::boolean: return "bool";
    case Kind::integer: return "int";
    case Kind::floating: return "float";
    case Kind::string: return "str";
    case Kind::bytes: return "bytes";
    case Kind::list: return "list";
    case Kind::tuple: return "tuple";
    case Kind::dict: return "dict";
    case Kind::global: return "global";
    case Kind::object: return "object";
  }
  return "?";
}

const Value* Value::get(std::string_view key) const {
  for (auto it = entries.rbegin(); it != entries.rend(); ++it)  // the last setting wins
    if (it->first->is(Kind::string) && it->first->text == key) return it->second;
  return nullptr;
}

Value* Arena::make(Value::Kind kind) {
  TV3S_CHECK(values_.size() < max_values_, "more than ", max_values_, " values");
  values_.emplace_back();
  values_.back().kind = kind;
  return &values_.back();
}

Value* unpickle(std::string_view data, Arena& arena, const Callbacks& callbacks,
                const Limits& limits) {
  return Machine(data, arena, callbacks, limits).run();
}

}  // namespace tv3s::io::pickle
