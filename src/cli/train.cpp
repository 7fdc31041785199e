#include "src/cli/commands.h"
namespace tv3s::cli { int run_train(int, char**) { return 1; } }
