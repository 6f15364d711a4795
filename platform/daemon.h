#pragma once
// Going to the background the way wireguard-go does: the parent returns only once the
// child is ready (exit 0) or has failed (exit 1), so `wg-quick` can configure the
// interface as soon as the command returns.
namespace qvpn::platform {

class Daemon {
 public:
  // Forks. Returns in the child, detached from the terminal with stdio on /dev/null; the
  // parent waits for ready() or the child's exit and then exits itself.
  static Daemon start();
  // Tells the waiting parent that the child is up.
  void ready();

 private:
  explicit Daemon(int fd) : notify_fd_(fd) {}
  int notify_fd_ = -1;
};

}  // namespace qvpn::platform
