#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <system_error>

#include "platform/daemon.h"

namespace qvpn::platform {

Daemon Daemon::start() {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) < 0) throw std::system_error(errno, std::generic_category(), "pipe");
  const pid_t pid = ::fork();
  if (pid < 0) throw std::system_error(errno, std::generic_category(), "fork");
  if (pid > 0) {
    ::close(fds[1]);
    char c = 0;
    ssize_t n;
    do {
      n = ::read(fds[0], &c, 1);
    } while (n < 0 && errno == EINTR);
    if (n == 1) ::_exit(0);
    int status = 0;
    ::waitpid(pid, &status, 0);
    ::_exit(WIFEXITED(status) && WEXITSTATUS(status) != 0 ? WEXITSTATUS(status) : 1);
  }
  ::close(fds[0]);
  ::setsid();
  // Errors before ready() still reach the caller's terminal; stdio moves to /dev/null
  // in ready(), so no pipe of the caller stays open behind the daemon.
  return Daemon(fds[1]);
}

void Daemon::ready() {
  if (notify_fd_ < 0) return;
  const int null = ::open("/dev/null", O_RDWR | O_CLOEXEC);
  if (null >= 0) {
    ::dup2(null, 0);
    ::dup2(null, 1);
    ::dup2(null, 2);
    ::close(null);
  }
  const char c = 'R';
  (void)!::write(notify_fd_, &c, 1);
  ::close(notify_fd_);
  notify_fd_ = -1;
}

}  // namespace qvpn::platform
