// Device queries for library users.
#pragma once

namespace tv3s {

// True when tv3s was built with CUDA and a GPU is usable.
bool cuda_available();
// Waits until all queued GPU work is done (no-op without CUDA). Needed only for timing:
// every copy to the host already waits for the work it depends on.
void cuda_synchronize();

}  // namespace tv3s
