// Atomic file writes: the bytes go to ".<name>.tmp.<pid>.<counter>" next to the target
// (same folder, hence same file system, so the final rename is atomic), are flushed to
// disk with fsync before the rename (so a crash cannot leave a renamed but empty file),
// the folder is fsync'ed after it (so the new name itself survives a crash), and the
// temporary file is removed on every failure path.
#include "src/io/atomic_file.h"

#include <fcntl.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <exception>
#include <filesystem>

#include "tv3s/error.h"

namespace tv3s::io {
namespace {

// Unique per process (pid) and per call (counter), so concurrent writers — threads or
// processes — never share a temporary file.
std::string temporary_path(const std::string& path) {
  static std::atomic<unsigned long> counter{0};
  const size_t slash = path.rfind('/');
  const std::string folder = slash == std::string::npos ? "" : path.substr(0, slash + 1);
  const std::string name = slash == std::string::npos ? path : path.substr(slash + 1);
  return str(folder, '.', name, ".tmp.", getpid(), '.', counter++);
}

// Makes a rename in the folder of `path` durable. Best effort: by now the new file is in
// place and complete, so a folder that cannot be synced (some file systems refuse) is not
// an error to report.
void sync_folder(const std::string& path) {
  const size_t slash = path.rfind('/');
  const std::string folder = slash == std::string::npos ? "." : slash == 0 ? "/" : path.substr(0, slash);
  const int fd = open(folder.c_str(), O_RDONLY | O_DIRECTORY);
  if (fd < 0) return;
  fsync(fd);
  close(fd);
}

// Owns the temporary file until it has been renamed into place.
class TempFile {
 public:
  TempFile(const std::string& path, std::string temp) : path_(path), temp_(std::move(temp)) {
    // "x": fail rather than reuse a file of the same name left by someone else.
    file_ = std::fopen(temp_.c_str(), "wbx");
    if (!file_) fail(str(path_, ": cannot create a file there: ", std::strerror(errno)));
  }
  ~TempFile() {
    if (file_) std::fclose(file_);
    if (!committed_) std::remove(temp_.c_str());
  }
  TempFile(const TempFile&) = delete;
  TempFile& operator=(const TempFile&) = delete;

  void append(const void* data, size_t size) {
    if (size > 0 && std::fwrite(data, 1, size, file_) != size) {
      fail(str(path_, ": write failed: ", std::strerror(errno)));
    }
  }

  void commit() {
    if (std::fflush(file_) != 0 || fsync(fileno(file_)) != 0) {
      fail(str(path_, ": write failed: ", std::strerror(errno)));
    }
    const int closed = std::fclose(file_);
    file_ = nullptr;
    if (closed != 0) fail(str(path_, ": write failed: ", std::strerror(errno)));
    if (std::rename(temp_.c_str(), path_.c_str()) != 0) {
      fail(str(path_, ": cannot move the finished file into place: ", std::strerror(errno)));
    }
    committed_ = true;
    sync_folder(path_);
  }

 private:
  std::string path_, temp_;
  std::FILE* file_ = nullptr;
  bool committed_ = false;
};

}  // namespace

void write_file_atomic(const std::string& path, const std::function<void(const ByteSink&)>& write) {
  TempFile file(path, temporary_path(path));
  try {
    write([&](const void* data, size_t size) { file.append(data, size); });
  } catch (const Error&) {
    throw;  // already a complete message; ~TempFile removes the partial file
  } catch (const std::exception& e) {
    fail(str(path, ": ", e.what()));
  }
  file.commit();
}

void write_file_atomic(const std::string& path, const std::string& content) {
  write_file_atomic(path, [&](const ByteSink& sink) { sink(content.data(), content.size()); });
}

void make_output_folder(const std::string& dir) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  TV3S_CHECK(!ec && std::filesystem::is_directory(dir), dir, ": cannot create the output folder (",
             ec ? ec.message() : "not a folder", ")");
}

}  // namespace tv3s::io
