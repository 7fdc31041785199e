// Deprecated: renamed tv3s/ops/gather_rows.h (the op moves rows; the TV3S window geometry
// is the decoder's own, src/models/window_partition.h). This forwarding header stays for
// one release (0.2) and will then be removed.
#pragma once
#include "tv3s/ops/gather_rows.h"
