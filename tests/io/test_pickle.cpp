// The pickle machine on hand-assembled programs: the values each opcode builds, and an
// error naming the opcode and byte for every malformed program. The programs are written
// as opcode strings with their Python names beside them (see Lib/pickletools.py).
#include <string>

#include "src/io/pickle.h"
#include "tests/io/io_test_util.h"
#include "tests/test_util.h"

namespace {

using namespace tv3s::io::pickle;
using tv3s::test::error_message;
using Kind = Value::Kind;

// Callbacks for plain data: every global is refused, nothing may be called.
Callbacks plain_data() {
  Callbacks cb;
  cb.check_global = [](const std::string& module, const std::string& name) {
    tv3s::fail("global " + module + "." + name + " refused");
  };
  cb.call = [](Arena&, const Value&, const Value&) -> Value* { tv3s::fail("call"); };
  cb.build = [](Value&, const Value&) { tv3s::fail("build"); };
  cb.persistent_load = [](Arena&, const Value&) -> Value* { tv3s::fail("persistent id"); };
  return cb;
}

std::string run_error(const std::string& program, const Limits& limits = {},
                      size_t max_values = 1'000'000) {
  Arena arena(max_values);
  return error_message([&] { unpickle(program, arena, plain_data(), limits); });
}

// A program from a string literal that may hold NUL bytes. (Opcode letters that are also
// hex digits are split off into their own literal so that they do not extend a \\x escape.)
template <size_t N>
std::string P(const char (&bytes)[N]) {
  return std::string(bytes, N - 1);
}

bool contains(const std::string& s, const std::string& part) {
  return s.find(part) != std::string::npos;
}

}  // namespace

TEST_CASE("pickle: the values of protocol 2-4 opcodes") {
  const std::string program = P(
      "\x80\x04"                                  // PROTO 4
      "\x95\x00\x00\x00\x00\x00\x00\x00\x00"      // FRAME of length 0
      "}q\x00"                                     // EMPTY_DICT, BINPUT 0
      "("                                          // MARK
      "\x8c\x01" "a" "K\xff"                       //   'a': BININT1 255
      "X\x01\x00\x00\x00" "b" "M\x34\x12"           //   'b': BININT2 0x1234
      "U\x01" "c" "J\xfe\xff\xff\xff"                //   'c' (SHORT_BINSTRING): BININT -2
      "\x8c\x01" "d" "\x8a\x05\x00\x00\x00\x00\x80"   //   'd': LONG1 -2^39
      "\x8c\x01" "e" "G\x3f\xf8\x00\x00\x00\x00\x00\x00"  // 'e': BINFLOAT 1.5
      "\x8c\x01" "f" "N"                            //   'f': NONE
      "\x8c\x01" "g" "\x88\x89\x86"                 //   'g': NEWTRUE NEWFALSE TUPLE2
      "\x8c\x01" "h" "C\x02\x00\xff"                //   'h': SHORT_BINBYTES 00 ff
      "\x8c\x01" "i" "](K\x01K\x02" "e" "K\x03" "a"   //   'i': [] APPENDS 1, 2; APPEND 3
      "\x8c\x01" "j" "(K\x07N\x8c\x03" "x\xc3\xa9" "t"  // 'j': MARK 7 None 'xé' TUPLE
      "\x8c\x01" "k" "h\x00"                        //   'k': BINGET 0, the dict itself
      "u"                                          // SETITEMS
      "\x94" ".");                                 // MEMOIZE, STOP
  Arena arena;
  const Value* root = unpickle(program, arena, plain_data());
  REQUIRE(root->is(Kind::dict));
  CHECK(root->entries.size() == 11);
  CHECK(root->get("a")->integer == 255);
  CHECK(root->get("b")->integer == 0x1234);
  CHECK(root->get("c")->integer == -2);
  CHECK(root->get("d")->integer == -(int64_t(1) << 39));
  CHECK(root->get("e")->floating == 1.5);
  CHECK(root->get("f")->is(Kind::none));
  const Value* g = root->get("g");
  REQUIRE(g->is(Kind::tuple));
  CHECK((g->items.size() == 2 && g->items[0]->boolean && !g->items[1]->boolean));
  CHECK(root->get("h")->is(Kind::bytes));
  CHECK(root->get("h")->text == std::string("\0\xff", 2));
  const Value* i = root->get("i");
  REQUIRE(i->is(Kind::list));
  REQUIRE(i->items.size() == 3);
  CHECK(i->items[2]->integer == 3);
  const Value* j = root->get("j");
  REQUIRE(j->items.size() == 3);
  CHECK(j->items[2]->text == "x\xc3\xa9");
  CHECK(root->get("k") == root);
  CHECK(root->get("zz") == nullptr);
}

TEST_CASE("pickle: globals are checked as they are read, REDUCE and BUILD go to the callbacks") {
  std::vector<std::string> calls;
  Callbacks cb = plain_data();
  cb.check_global = [&](const std::string& module, const std::string& name) {
    calls.push_back("global " + module + "." + name);
    if (module == "posix") tv3s::fail("forbidden global 'posix.system'");
  };
  cb.call = [&](Arena& arena, const Value& callable, const Value& args) {
    calls.push_back("call " + callable.text + " with " + std::to_string(args.items.size()));
    return arena.make(Kind::dict);
  };
  cb.build = [&](Value& object, const Value& state) {
    calls.push_back(std::string("build ") + kind_name(object.kind) + " " + kind_name(state.kind));
  };
  Arena arena;
  // collections.OrderedDict() by GLOBAL, REDUCE; then BUILD with {}; then by STACK_GLOBAL.
  const Value* v = unpickle(P("\x80\x02" "ccollections\nOrderedDict\n)R}b"
                              "\x8c\x0b" "collections" "\x8c\x0b" "OrderedDict" "\x93)R\x86."),
                            arena, cb);
  CHECK(v->is(Kind::tuple));
  CHECK(calls == std::vector<std::string>{"global collections.OrderedDict",
                                          "call collections.OrderedDict with 0", "build dict dict",
                                          "global collections.OrderedDict",
                                          "call collections.OrderedDict with 0"});
  calls.clear();
  const std::string evil = P("\x80\x02" "cposix\nsystem\n" "X\x02\x00\x00\x00" "ls\x85R.");
  const std::string message = error_message([&] { unpickle(evil, arena, cb); });
  CHECK(message == "pickle byte 2: forbidden global 'posix.system'");
  CHECK(calls == std::vector<std::string>{"global posix.system"});  // nothing was called
}

TEST_CASE("pickle: malformed programs name the opcode and the byte") {
  struct Case {
    std::string program, error;
  };
  const std::string proto = "\x80\x02";  // every program below starts with PROTO 2
  const std::vector<Case> cases = {
      {P("}\xff."), "pickle byte 3: unknown opcode 0xff"},
      {P("(i__main__\nX\n."), "pickle byte 3: opcode INST (0x69) is not supported"},
      {P("]\x8f."), "opcode EMPTY_SET (0x8f) is not supported"},
      {P("N0."), "opcode POP (0x30) is not supported"},
      {P("a."), "pickle byte 2: stack underflow: APPEND needs a value"},
      {P("](a."), "stack underflow: APPEND needs a value above the last MARK"},
      {P("K\x01K\x02\x87."), "stack underflow: TUPLE3 needs 3 values"},
      {P("h\x07."), "pickle byte 2: BINGET of memo entry 7, which was never stored"},
      {P("j\x00\x00\x01\x00."), "LONG_BINGET of memo entry 65536, which was never stored"},
      {P("X\xff\x00\x00\x00" "ab."), "BINUNICODE needs 255 more bytes, 3 are left"},
      {P("\x8d\xff\xff\xff\xff\xff\xff\xff\xff."),
       "BINUNICODE8 needs 18446744073709551615 more bytes"},
      {P("}"), "pickle byte 3: the program ends without STOP"},
      {P("\x8a\x09" "123456789."), "LONG1 integer of 9 bytes does not fit 64 bits"},
      {P("\x8c\x02\xc3\x28."), "a string is not valid UTF-8"},
      {P("T\xff\xff\xff\xff."), "BINSTRING with negative length -1"},
      {P("NN."), "STOP with 2 values on the stack and 0 open marks"},
      {P("(N."), "STOP with 1 values on the stack and 1 open marks"},
      {P("N.."), "1 bytes follow STOP"},
      {P("}(K\x01u."), "a dict gets an odd number (1) of keys and values"},
      {P("]K\x01K\x02s."), "expected dict, found list"},
      {P("K\x01t."), "TUPLE without a MARK"},
      {P("\x95\x10\x00\x00\x00\x00\x00\x00\x00N."), "a FRAME of 16 bytes runs past the end"},
      {P("K\x01K\x02R."), "expected tuple, found int"},
      {P("cposix"), "GLOBAL operand has no end of line"},
      {P("K\x01\x8c\x01x\x93."), "expected str, found int"},
  };
  for (const Case& c : cases) {
    const std::string message = run_error(proto + c.program);
    INFO("program ", c.program, " → ", message);
    CHECK(contains(message, c.error));
  }
  CHECK(contains(run_error(P("\x80\x06N.")), "pickle protocol 6 is newer than 5"));
}

TEST_CASE("pickle: the stack, the number of values and the memo are capped") {
  Limits small;
  small.max_stack = 100;
  small.max_memo = 50;
  // 101 references to one value: no new values, but the stack grows past its cap.
  std::string refs = P("\x80\x02Nq\x00");
  for (int i = 0; i < 101; ++i) refs += P("h\x00");
  CHECK(contains(run_error(refs + ".", small), "the stack exceeds 100 values"));
  CHECK(contains(run_error(refs + "."), "STOP with 102 values"));  // the defaults allow it
  std::string marks = P("\x80\x02");
  for (int i = 0; i < 101; ++i) marks += "(";
  CHECK(contains(run_error(marks + ".", small), "more than 100 open marks"));
  std::string values = P("\x80\x02(");
  for (int i = 0; i < 51; ++i) values += "N";
  CHECK(contains(run_error(values + "l.", {}, 50), "more than 50 values"));
  std::string memo = P("\x80\x02N");
  for (int i = 0; i < 51; ++i) memo += "q" + std::string(1, char(i));
  CHECK(contains(run_error(memo + ".", small), "the memo exceeds 50 entries"));
}
