// Writing files so that a reader never sees half of one: the bytes go to a temporary
// file in the destination's folder, which is flushed, closed and renamed over `path`
// only when everything was written. On any failure the temporary file is removed and
// tv3s::Error "<path>: <why>" is thrown (a tv3s::Error thrown by the writer callback
// passes through unchanged: it already says what went wrong).
#pragma once
#include <cstddef>
#include <functional>
#include <string>

namespace tv3s::io {

// `write` receives a sink that appends bytes; it may throw, and then nothing appears.
using ByteSink = std::function<void(const void* data, size_t size)>;
void write_file_atomic(const std::string& path, const std::function<void(const ByteSink&)>& write);

// Convenience: the whole content at once.
void write_file_atomic(const std::string& path, const std::string& content);

// Creates `dir` and its parents for outputs; throws "<dir>: cannot create the output
// folder (<why>)" when that fails or something that is not a folder is in the way.
void make_output_folder(const std::string& dir);

}  // namespace tv3s::io
