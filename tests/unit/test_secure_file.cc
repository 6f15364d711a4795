// Key files: written atomically with their mode from the start, refused when others can read.
#include <doctest/doctest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <random>
#include <string>

#include "platform/secure_file.h"

namespace fs = std::filesystem;
using qvpn::platform::FileError;
using qvpn::platform::read_secret_file;
using qvpn::platform::read_text_file;
using qvpn::platform::write_file_atomic;

namespace {

// A fresh directory under the system temp dir, removed with everything in it.
class TempDir {
 public:
  TempDir() {
    std::random_device rd;
    path_ = fs::temp_directory_path() /
            ("qvpn-test-secure-file-" + std::to_string(getpid()) + "-" + std::to_string(rd()));
    fs::create_directories(path_);
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  const fs::path& path() const { return path_; }

 private:
  fs::path path_;
};

mode_t mode_of(const fs::path& p) {
  struct stat st;
  REQUIRE(::stat(p.c_str(), &st) == 0);
  return st.st_mode & 07777;
}

void write_plain(const fs::path& p, const std::string& s, mode_t mode) {
  std::ofstream(p) << s;
  REQUIRE(::chmod(p.c_str(), mode) == 0);
}

size_t entries_in(const fs::path& dir) {
  return static_cast<size_t>(std::distance(fs::directory_iterator(dir), fs::directory_iterator()));
}

}  // namespace

TEST_CASE("write_file_atomic creates a 0600 file, parents 0700, and reads back") {
  TempDir tmp;
  fs::path key = tmp.path() / "a" / "b" / "private.key";
  const std::string secret = "yAnz5TF+lXXJte14tji3zlMNq+hd2rYUIgJBgB3fBmk=\n";

  mode_t old_umask = ::umask(022);
  write_file_atomic(key, secret, 0600);
  ::umask(old_umask);

  CHECK(mode_of(key) == 0600);
  CHECK(mode_of(tmp.path() / "a") == 0700);
  CHECK(mode_of(tmp.path() / "a" / "b") == 0700);
  CHECK(read_secret_file(key) == secret);
  CHECK(entries_in(key.parent_path()) == 1);  // no temporary file left behind
}

TEST_CASE("write_file_atomic replaces an existing file and sets exactly the mode asked") {
  TempDir tmp;
  fs::path p = tmp.path() / "qvpn.toml";
  write_plain(p, "old contents that are longer than the new ones", 0600);

  mode_t old_umask = ::umask(077);  // the umask must not narrow an explicit mode
  write_file_atomic(p, "new", 0644);
  ::umask(old_umask);

  CHECK(read_text_file(p) == "new");
  CHECK(mode_of(p) == 0644);
  CHECK(entries_in(tmp.path()) == 1);

  write_file_atomic(p, "", 0600);
  CHECK(read_secret_file(p).empty());
  CHECK(mode_of(p) == 0600);
}

TEST_CASE("write_file_atomic fails cleanly when the parent is a file") {
  TempDir tmp;
  write_plain(tmp.path() / "file", "x", 0600);
  fs::path p = tmp.path() / "file" / "key";
  try {
    write_file_atomic(p, "secret", 0600);
    FAIL("expected FileError");
  } catch (const FileError& e) {
    CHECK(e.path() == p);
    CHECK(std::string(e.what()).find(p.string()) != std::string::npos);
  }
}

TEST_CASE("read_secret_file refuses a key that others can read, naming the fix") {
  TempDir tmp;
  fs::path key = tmp.path() / "wg0.key";
  write_plain(key, "secret", 0644);
  try {
    read_secret_file(key);
    FAIL("expected FileError");
  } catch (const FileError& e) {
    std::string msg = e.what();
    CHECK(e.path() == key);
    CHECK(msg.find("chmod 600") != std::string::npos);
    CHECK(msg.find(key.string()) != std::string::npos);
    CHECK(msg.find("0644") != std::string::npos);
  }
  // Any group or other bit is enough, even without read permission.
  for (mode_t m : {0640, 0604, 0620, 0601, 0610, 0700 | 0002}) {
    REQUIRE(::chmod(key.c_str(), m) == 0);
    CHECK_THROWS_AS(read_secret_file(key), FileError);
  }
  REQUIRE(::chmod(key.c_str(), 0400) == 0);
  CHECK(read_secret_file(key) == "secret");
  // Non-secret files are read whatever their mode.
  REQUIRE(::chmod(key.c_str(), 0644) == 0);
  CHECK(read_text_file(key) == "secret");
}

TEST_CASE("a missing file, a directory or an oversized key are errors naming the path") {
  TempDir tmp;
  fs::path missing = tmp.path() / "nope.key";
  for (auto read : {read_secret_file, read_text_file}) {
    try {
      read(missing);
      FAIL("expected FileError");
    } catch (const FileError& e) {
      CHECK(e.path() == missing);
      CHECK(std::string(e.what()).find(missing.string()) != std::string::npos);
    }
  }
  CHECK_THROWS_AS(read_text_file(tmp.path()), FileError);

  fs::path big = tmp.path() / "big.key";
  write_plain(big, std::string(qvpn::platform::kMaxSecretFileSize + 1, 'k'), 0600);
  CHECK_THROWS_AS(read_secret_file(big), FileError);
}

TEST_CASE("larger files read completely") {
  TempDir tmp;
  fs::path p = tmp.path() / "large.conf";
  std::string contents;
  for (int i = 0; i < 20000; ++i) contents += "line " + std::to_string(i) + "\n";
  write_file_atomic(p, contents, 0600);
  CHECK(read_text_file(p) == contents);
  CHECK(read_secret_file(p) == contents);
}
