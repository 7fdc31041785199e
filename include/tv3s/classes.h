// Deprecated: renamed tv3s/model_classes.h (the classes a model predicts; the dataset class
// tables are a different thing). This forwarding header stays for one release (0.2) and
// will then be removed.
#pragma once
#include "tv3s/model_classes.h"
