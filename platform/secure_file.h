#pragma once
// Reading and writing files that hold keys: a key is refused when others can read it, and
// every write is atomic (temp file + rename), so a crash leaves the old file or the new one,
// never half of either.
#include <sys/types.h>

#include <filesystem>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>

namespace qvpn::platform {

// A file could not be read or written, or was refused. what() names the path and says why.
class FileError : public std::runtime_error {
 public:
  FileError(std::filesystem::path path, const std::string& message)
      : std::runtime_error(message), path_(std::move(path)) {}
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

// Files larger than this are not secrets we wrote; refusing them bounds the buffer.
inline constexpr size_t kMaxSecretFileSize = 1024 * 1024;

// Returns the whole contents of a regular file that only its owner may access (mode & 077 == 0).
// Throws FileError if it is missing, unreadable, not a regular file, too large, or has any group
// or other permission bit, the latter with the chmod that fixes it. The caller owns the secret
// in the returned string and should wipe it (explicit_bzero) when done; intermediate buffers
// are wiped here.
std::string read_secret_file(const std::filesystem::path& path);

// Returns the whole contents of a file with no permission check. Throws FileError.
std::string read_text_file(const std::filesystem::path& path);

// Replaces `path` with `contents` atomically: missing parent directories are created 0700, a
// temporary file in the same directory is created with `mode` from the start (so a key is never
// readable by others, not even briefly), written, fsynced and renamed over `path`, then the
// directory is fsynced so the rename survives a crash. The final file has exactly `mode`.
// Throws FileError. If anything before the rename fails, `path` is unchanged and the temporary
// file is removed; if only the final directory fsync fails, the new contents are in place but
// may not survive a crash.
void write_file_atomic(const std::filesystem::path& path, std::string_view contents, mode_t mode);

}  // namespace qvpn::platform
