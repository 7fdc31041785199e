// src/cli/args.h from the outside: every command spells a device and a size the same way —
// --device cpu|cuda, sizes HxW (height first, `synth --size` included) — and a value that
// does not parse is a usage error (exit 2, one line) that says which form it wants.
#include <string>
#include <vector>

#include "src/io/frame_list.h"
#include "src/io/image.h"
#include "tests/test_util.h"

using tv3s::test::run_tv3s;
using tv3s::test::TempDir;

namespace {

void check_usage(const std::string& args, const std::string& message) {
  const auto r = run_tv3s(args);
  INFO("tv3s ", args, " → ", r.output);
  CHECK(r.exit_code == 2);
  CHECK(r.output == message);
}

}  // namespace

TEST_CASE("cli args: sizes are HxW everywhere; other spellings are refused with the form") {
  const std::string crop = "--crop needs HxW with both in [32, 4096], got ";
  check_usage("bench train --crop 480", "tv3s bench train: " + crop + "'480' (see tv3s bench train --help)\n");
  check_usage("bench train --crop 480X480", "tv3s bench train: " + crop + "'480X480' (see tv3s bench train --help)\n");
  check_usage("bench train --crop 480*480", "tv3s bench train: " + crop + "'480*480' (see tv3s bench train --help)\n");
  check_usage("bench train --crop +480x480", "tv3s bench train: " + crop + "'+480x480' (see tv3s bench train --help)\n");
  check_usage("bench train --crop 480x480x3", "tv3s bench train: " + crop + "'480x480x3' (see tv3s bench train --help)\n");
  check_usage("bench train --crop 16x16", "tv3s bench train: " + crop + "'16x16' (see tv3s bench train --help)\n");
  // A non-square size says which way round it was read.
  check_usage("bench train --crop 5000x480",
              "tv3s bench train: " + crop + "'5000x480' (read as 5000 high, 480 wide) (see tv3s bench train --help)\n");
  check_usage("bench model --size 10x10",
              "tv3s bench model: --size needs HxW with both in [29, 8192], got '10x10' "
              "(see tv3s bench model --help)\n");
  check_usage("bench model --size 480x853junk",
              "tv3s bench model: --size needs HxW with both in [29, 8192], got '480x853junk' "
              "(see tv3s bench model --help)\n");
  check_usage("train --out x --crop 480x", "tv3s train: --crop needs HxW with both in [32, 8192], "
                                           "got '480x' (see tv3s train --help)\n");
  check_usage("synth --out x --size 20x64",
              "tv3s synth: --size needs HxW with both in [32, 4096], got '20x64' (read as 20 high, "
              "64 wide) (see tv3s synth --help)\n");
  check_usage("bench train --crop", "tv3s bench train: --crop needs a value (see tv3s bench train --help)\n");
}

TEST_CASE("cli args: synth --size is height x width, like --crop and bench model --size") {
  TempDir dir;
  const auto r = run_tv3s("synth --out " + dir.file("s") + " --videos 0 --val 1 --test 0 --frames 1 --size 32x48 --png --quiet");
  REQUIRE(r.exit_code == 0);
  CHECK(r.output.find("x 1 frames of 32x48 (HxW)") != std::string::npos);
  const std::vector<std::string> frames = tv3s::io::list_frames(dir.file("s") + "/data/000_synth/origin");
  REQUIRE(frames.size() == 1);
  const tv3s::io::Image image = tv3s::io::read_image(frames[0]);
  CHECK(image.height == 32);
  CHECK(image.width == 48);
}

TEST_CASE("cli args: --device is cpu or cuda for every command") {
  for (const std::string& command : {"segment m x.png -o d", "eval m --data d", "bench model", "bench train",
                                     "train --out d"}) {
    const auto r = run_tv3s(command + " --device gpu");
    INFO("tv3s ", command, " --device gpu → ", r.output);
    CHECK(r.exit_code == 2);
    CHECK(r.output.find("unknown --device 'gpu' (cpu or cuda)") != std::string::npos);
  }
  check_usage("bench model --device", "tv3s bench model: --device needs a value (see tv3s bench model --help)\n");
}

TEST_CASE("cli args: thread counts and repetitions are integers in range") {
  check_usage("bench ops --threads 0",
              "tv3s bench ops: --threads needs an integer in [1, 1024], got '0' (see tv3s bench ops --help)\n");
  check_usage("bench autograd --reps many", "tv3s bench autograd: --reps needs an integer in [1, 100000000], got 'many'\n");
  check_usage("bench autograd --frobnicate", "tv3s bench autograd: unknown option '--frobnicate'\n");
  check_usage("eval m --data d --threads x",
              "tv3s eval: --threads needs an integer in [1, 1024], got 'x' (see tv3s eval --help)\n");
}
