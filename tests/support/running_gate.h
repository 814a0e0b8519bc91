// GateApp in the test process, on an io_context thread of its own: the
// gate's real start-up (journal replay, reconcile, sockets), without a
// child process. For tests that start many gates, or that need the
// journal's FileOps seam or the test-only venue seam.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>

#include <functional>
#include <future>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "gate/daemon.h"

namespace ta::test {

class RunningGate {
 public:
  explicit RunningGate(const std::string& config_path, journal::FileOps* ops = nullptr,
                       std::function<void(std::vector<gate::VenueEvent>&)> venue_events = {}) {
    auto load = gate::load_config(config_path);
    if (!load.problems.empty()) {
      start_error = "config: " + load.problems.front().to_string();
      return;
    }
    gate::GateAppOptions o;
    o.config = load.config;
    o.config_file = config_path;
    o.gate_version = "test";
    o.journal_file_ops = ops;
    o.venue_events_for_test = std::move(venue_events);
    app_ = std::make_unique<gate::GateApp>(io_, std::move(o));
    std::promise<std::string> started;
    thread_ = std::thread([&] {
      auto st = app_->start();
      started.set_value(st.ok() ? "" : st.error().message);
      io_.run();
    });
    start_error = started.get_future().get();
  }
  ~RunningGate() {
    if (!thread_.joinable()) return;
    boost::asio::post(io_, [this] { app_->stop("test over", [this] { io_.stop(); }); });
    thread_.join();
  }
  RunningGate(const RunningGate&) = delete;
  RunningGate& operator=(const RunningGate&) = delete;

  // Empty when the gate started; otherwise why it did not.
  std::string start_error;

 private:
  boost::asio::io_context io_{1};
  std::unique_ptr<gate::GateApp> app_;
  std::thread thread_;
};

}  // namespace ta::test
