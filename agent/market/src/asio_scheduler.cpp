// The Asio-backed Scheduler, kept out of the public headers.
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>

#include "market/feed.h"

namespace ta::agent {
namespace {

class AsioScheduler final : public Scheduler {
 public:
  explicit AsioScheduler(boost::asio::io_context& io) : io_(io) {}

  std::int64_t now_us() const override {
    return std::chrono::duration_cast<std::chrono::microseconds>(
               std::chrono::steady_clock::now().time_since_epoch())
        .count();
  }

  void post_at(std::int64_t due_us, Task task) override {
    if (due_us <= now_us()) {
      boost::asio::post(io_, std::move(task));
      return;
    }
    const auto when = std::chrono::steady_clock::time_point(std::chrono::microseconds(due_us));
    auto timer = std::make_shared<boost::asio::steady_timer>(io_, when);
    timer->async_wait([timer, task = std::move(task)](const boost::system::error_code& ec) {
      if (!ec) task();
    });
  }

 private:
  boost::asio::io_context& io_;
};

}  // namespace

std::unique_ptr<Scheduler> make_asio_scheduler(boost::asio::io_context& io) {
  return std::make_unique<AsioScheduler>(io);
}

}  // namespace ta::agent
