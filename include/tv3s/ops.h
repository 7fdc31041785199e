// Every op family of tv3s. One header per family under tv3s/ops/, each naming the file
// where its math (CPU reference) and its CUDA kernel live.
#pragma once
#include "tv3s/ops/attention.h"
#include "tv3s/ops/batchnorm.h"
#include "tv3s/ops/binary.h"
#include "tv3s/ops/conv.h"
#include "tv3s/ops/convert.h"
#include "tv3s/ops/layernorm.h"
#include "tv3s/ops/layout.h"
#include "tv3s/ops/loss.h"
#include "tv3s/ops/matmul.h"
#include "tv3s/ops/reduce.h"
#include "tv3s/ops/resize.h"
#include "tv3s/ops/softmax.h"
#include "tv3s/ops/unary.h"
