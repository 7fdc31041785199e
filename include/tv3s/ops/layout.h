// Deprecated: renamed tv3s/ops/movement.h (permute, transpose, slice, concat, pad, roll: the
// ops that move elements; "layout" is kept for memory orders such as channels-last). This
// forwarding header stays for one release (0.2) and will then be removed.
#pragma once
#include "tv3s/ops/movement.h"
