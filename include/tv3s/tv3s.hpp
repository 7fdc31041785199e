// The C++ API of tv3s in one include (the C API is tv3s/tv3s.h).
#pragma once
#include "tv3s/autograd.h"
#include "tv3s/model_classes.h"
#include "tv3s/device.h"
#include "tv3s/dtype.h"
#include "tv3s/error.h"
#include "tv3s/memory.h"
#include "tv3s/ops.h"
#include "tv3s/rng.h"
#include "tv3s/segmenter.h"
#include "tv3s/shape.h"
#include "tv3s/tensor.h"
#include "tv3s/version.h"
