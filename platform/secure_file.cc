#include "platform/secure_file.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <utility>

namespace qvpn::platform {
namespace fs = std::filesystem;
namespace {

[[noreturn]] void fail(const fs::path& path, const std::string& why) {
  throw FileError(path, path.string() + ": " + why);
}

[[noreturn]] void fail_errno(const fs::path& path, int err, const std::string& doing = {}) {
  fail(path, (doing.empty() ? "" : doing + ": ") + std::strerror(err));
}

void wipe(std::string& s) { explicit_bzero(s.data(), s.size()); }

// Closes the descriptor on every path out of a function.
class Fd {
 public:
  explicit Fd(int fd) : fd_(fd) {}
  ~Fd() {
    if (fd_ >= 0) ::close(fd_);
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const { return fd_; }
  int release() { return std::exchange(fd_, -1); }

 private:
  int fd_;
};

// Reads to end of file. Every buffer that is outgrown is wiped before it is freed, and so is the
// result if reading fails, so no copy of the contents is left behind in freed memory.
std::string read_all(int fd, const fs::path& path, size_t size_hint, size_t limit) {
  // One spare byte: a read that fills the file's size exactly must still see end of file.
  std::string buf(std::max<size_t>(size_hint + 1, 64), '\0');
  size_t used = 0;
  for (;;) {
    if (used == buf.size()) {
      if (buf.size() > limit) {
        wipe(buf);
        fail(path, "file too large");
      }
      std::string bigger(buf.size() * 2, '\0');
      std::memcpy(bigger.data(), buf.data(), used);
      wipe(buf);
      buf.swap(bigger);
    }
    ssize_t n = ::read(fd, buf.data() + used, buf.size() - used);
    if (n < 0) {
      if (errno == EINTR) continue;
      int err = errno;
      wipe(buf);
      fail_errno(path, err);
    }
    if (n == 0) break;
    used += static_cast<size_t>(n);
    if (used > limit) {
      wipe(buf);
      fail(path, "file too large");
    }
  }
  buf.resize(used);  // shrinking keeps the allocation; the tail was never written
  return buf;
}

int open_for_reading(const fs::path& path, struct stat& st) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY);
  if (fd < 0) fail_errno(path, errno);
  // fstat the open file rather than stat the path, so the checked file is the one read.
  if (fstat(fd, &st) < 0) {
    int err = errno;
    ::close(fd);
    fail_errno(path, err);
  }
  if (S_ISDIR(st.st_mode)) {
    ::close(fd);
    fail_errno(path, EISDIR);
  }
  return fd;
}

// Creates each missing directory of `dir` with mode 0700 (less the umask).
void make_dirs(const fs::path& dir, const fs::path& for_file) {
  fs::path cur;
  for (const auto& part : dir) {
    cur /= part;
    struct stat st;
    if (::stat(cur.c_str(), &st) == 0) {
      if (!S_ISDIR(st.st_mode)) fail_errno(for_file, ENOTDIR, "create directory " + cur.string());
      continue;
    }
    if (::mkdir(cur.c_str(), 0700) < 0 && errno != EEXIST) {
      fail_errno(for_file, errno, "create directory " + cur.string());
    }
  }
}

std::string random_suffix() {
  uint64_t r = 0;
  if (getrandom(&r, sizeof r, GRND_NONBLOCK) != static_cast<ssize_t>(sizeof r)) {
    static std::atomic<uint64_t> counter{0};
    r = (static_cast<uint64_t>(getpid()) << 32) ^ ++counter;
  }
  return fmt::format("{:016x}", r);
}

}  // namespace

std::string read_secret_file(const fs::path& path) {
  struct stat st;
  Fd fd(open_for_reading(path, st));
  if (!S_ISREG(st.st_mode)) fail(path, "not a regular file");
  if (st.st_mode & 077) {
    fail(path, fmt::format("permissions {:04o} are too open; a key file must not be readable by "
                           "others (fix: chmod 600 {})",
                           st.st_mode & 07777, path.string()));
  }
  if (static_cast<uint64_t>(st.st_size) > kMaxSecretFileSize) fail(path, "file too large");
  return read_all(fd.get(), path, static_cast<size_t>(st.st_size), kMaxSecretFileSize);
}

std::string read_text_file(const fs::path& path) {
  struct stat st;
  Fd fd(open_for_reading(path, st));
  // A text file has no fixed bound; this only guards against reading a device forever.
  constexpr size_t kLimit = size_t{1} << 30;
  return read_all(fd.get(), path, S_ISREG(st.st_mode) ? static_cast<size_t>(st.st_size) : 0,
                  kLimit);
}

void write_file_atomic(const fs::path& path, std::string_view contents, mode_t mode) {
  if (path.filename().empty()) fail_errno(path, EISDIR);
  fs::path dir = path.parent_path();
  if (!dir.empty()) make_dirs(dir, path);

  fs::path tmp;
  int raw = -1;
  for (int attempt = 0; attempt < 16 && raw < 0; ++attempt) {
    tmp = path;
    tmp.replace_filename("." + path.filename().string() + ".tmp-" + random_suffix());
    // The mode is given at creation, so the file never exists with wider permissions.
    raw = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOCTTY, mode);
    if (raw < 0 && errno != EEXIST) fail_errno(path, errno, "create " + tmp.string());
  }
  if (raw < 0) fail_errno(path, EEXIST, "create temporary file");
  Fd fd(raw);

  auto abandon = [&](int err, const std::string& doing) {
    ::close(fd.release());
    ::unlink(tmp.c_str());
    fail_errno(path, err, doing);
  };
  // open() applied the umask; set exactly what was asked (never wider than `mode`).
  if (fchmod(raw, mode & 07777) < 0) abandon(errno, "chmod");
  size_t done = 0;
  while (done < contents.size()) {
    ssize_t n = ::write(raw, contents.data() + done, contents.size() - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      abandon(errno, "write");
    }
    done += static_cast<size_t>(n);
  }
  if (fsync(raw) < 0) abandon(errno, "fsync");
  fd.release();
  if (::close(raw) < 0) {
    int err = errno;
    ::unlink(tmp.c_str());
    fail_errno(path, err, "close");
  }
  if (::rename(tmp.c_str(), path.c_str()) < 0) {
    int err = errno;
    ::unlink(tmp.c_str());
    fail_errno(path, err, "rename");
  }

  // The rename is only durable once the directory entry is on disk.
  Fd dfd(::open(dir.empty() ? "." : dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (dfd.get() < 0) fail_errno(path, errno, "open directory");
  if (fsync(dfd.get()) < 0 && errno != EINVAL) fail_errno(path, errno, "fsync directory");
}

}  // namespace qvpn::platform
