// Deprecated: renamed tv3s/ops/cast.h ("convert" is the checkpoint conversion, src/convert/).
// This forwarding header stays for one release (0.2) and will then be removed.
#pragma once
#include "tv3s/ops/cast.h"
