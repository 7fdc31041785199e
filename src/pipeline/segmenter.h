// The Segmenter is part of the public API: include/tv3s/segmenter.h. Inside the project it
// comes with the model types it is built from.
#pragma once
#include "src/models/model_file.h"
#include "src/models/tv3s_model.h"
#include "tv3s/segmenter.h"
