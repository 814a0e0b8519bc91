// The status document and the read-only status socket. On connect the
// agent writes one JSON document and closes; it reads nothing, so a client
// cannot make it do anything but this.
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>
#include <boost/json.hpp>

#include <set>

#include "app_impl.h"
#include "proto/ipc_socket.h"

namespace ta::agent {

namespace json = boost::json;
namespace asio = boost::asio;
using local = asio::local::stream_protocol;

std::string AgentApp::Impl::status_json() const {
  const Impl& app = *this;
  json::object doc;
  doc["mode"] = std::string(to_string(app.cfg_.mode));
  doc["connection"] = std::string(gate_connection_state_name(app.connection_));
  doc["halt_state"] = ta::ipc::HaltState_Name(app.halt_);
  if (app.cfg_.mode == AgentMode::kSim) {
    json::object sim;
    sim["phase"] = std::string(to_string(app.phase_));
    sim["bars_total"] = app.bars_.size();
    sim["next_bar"] = app.next_;
    sim["bars_queued"] = app.queued_;
    sim["bars_confirmed"] = app.confirmed_;
    sim["finished"] = app.finished_;
    doc["sim"] = std::move(sim);
  }
  doc["market_time_ns"] = app.market_now_ns_;
  const AgentCounters& c = app.counters_;
  json::object counters;
  counters["bars"] = c.bars;
  counters["bars_catch_up"] = c.bars_catch_up;
  counters["bars_replayed"] = c.bars_replayed;
  counters["intents"] = c.intents;
  counters["intents_sent"] = c.intents_sent;
  counters["intents_resent"] = c.intents_resent;
  counters["intents_held"] = c.intents_held;
  counters["holds_asked"] = c.holds_asked;
  counters["accepted"] = c.accepted;
  counters["denied"] = c.denied;
  counters["fills"] = c.fills;
  counters["order_updates"] = c.order_updates;
  counters["reconciled_fills"] = c.reconciled_fills;
  counters["reconciled_orders"] = c.reconciled_orders;
  counters["unattributed"] = c.unattributed;
  counters["parameter_changes"] = c.parameter_changes;
  counters["parameter_changes_refused"] = c.parameter_changes_refused;
  counters["protocol_errors"] = c.protocol_errors;
  counters["reconnects"] = c.reconnects;
  counters["replay_rows_skipped"] = c.replay_rows_skipped;
  counters["replay_duplicates"] = c.replay_duplicates;
  counters["bars_predicted"] = c.bars_predicted;
  counters["bars_resent"] = c.bars_resent;
  counters["bar_batches"] = c.bar_batches;
  counters["predictions_missed"] = c.predictions_missed;
  counters["journal_flushes"] = c.journal_flushes;
  counters["warm_up_bars"] = c.warm_up_bars;
  counters["warm_ups_done"] = c.warm_ups_done;
  counters["warm_ups_failed"] = c.warm_ups_failed;
  doc["counters"] = std::move(counters);
  if (app.cfg_.mode != AgentMode::kSim) {
    json::object warm_up;
    for (const auto& [product, w] : app.warm_up_) {
      json::object o;
      o["state"] = std::string(to_string(w.state));
      o["live_from_ts_s"] = w.live_from_ts_s;
      o["bars"] = w.bars;
      o["first_open_ts_s"] = w.first_open_ts_s;
      o["last_open_ts_s"] = w.last_open_ts_s;
      o["missing_minutes"] = w.missing_minutes;
      o["held"] = w.held.size();
      if (!w.error.empty()) o["error"] = w.error;
      warm_up[product.str()] = std::move(o);
    }
    doc["warm_up"] = std::move(warm_up);
  }
  json::object denials;
  for (std::size_t i = 0; i < kDenyReasonSlots; ++i) {
    if (c.denied_by_reason[i] == 0) continue;
    const std::string& name = ta::ipc::DenyReason_Name(static_cast<ta::ipc::DenyReason>(i));
    denials[name.empty() ? "DENY_REASON_" + std::to_string(i) : name] = c.denied_by_reason[i];
  }
  doc["denials"] = std::move(denials);
  json::object last_bar;
  for (const auto& [product, ts] : app.last_bar_ts_s_) last_bar[product.str()] = ts;
  doc["last_bar_open_ts_s"] = std::move(last_bar);
  json::array in_flight;
  for (const auto& [id, t] : app.intents_) {
    json::object o;
    o["intent_id"] = id;
    o["decided"] = t.decided;
    o["accepted"] = t.accepted;
    o["quantity"] = t.quantity.to_string();
    o["filled"] = t.filled.to_string();
    in_flight.push_back(std::move(o));
  }
  doc["intents_in_flight"] = std::move(in_flight);
  if (app.have_snapshot_) {
    json::object account;
    account["equity"] = app.last_snapshot_.account().equity();
    account["cash"] = app.last_snapshot_.account().cash();
    json::object positions;
    for (const auto& p : app.last_snapshot_.positions()) positions[p.product()] = p.quantity();
    account["positions"] = std::move(positions);
    doc["gate_account"] = std::move(account);
  }
  if (app.engine_) {
    const AgentEngine& e = *app.engine_;
    doc["equity"] = e.equity().to_string();
    json::array strategies;
    json::object positions;
    for (std::size_t i = 0; i < e.slot_count(); ++i) {
      const SlotView v = e.slot(i);
      json::object s;
      s["strategy"] = std::string(v.strategy);
      s["product"] = v.product.str();
      s["state"] = std::string(to_string(v.state));
      s["ready"] = v.ready;
      s["side"] = std::string(to_string(v.side));
      s["position"] = v.position.to_string();
      s["bars_held"] = v.bars_held;
      s["pending_intent_id"] = std::string(v.pending_intent_id);
      const SlotCounters& sc = *v.counters;
      json::object k;
      k["intents_entry"] = sc.intents_entry;
      k["intents_exit"] = sc.intents_exit;
      k["entries_denied"] = sc.entries_denied;
      k["held_for_approval"] = sc.held_for_approval;
      k["exits_denied"] = sc.exits_denied;
      k["stops_hit"] = sc.stops_hit;
      k["max_holding_exits"] = sc.max_holding_exits;
      k["trades_closed"] = sc.trades_closed;
      k["lifecycle_refused"] = sc.lifecycle_refused;
      s["counters"] = std::move(k);
      strategies.push_back(std::move(s));
      // Sum per product, as the gate reports positions.
      const std::string key = v.product.str();
      Decimal sum = v.position;
      if (auto it = positions.find(key); it != positions.end()) {
        auto prev = Decimal::parse(std::string(it->value().as_string()));
        if (prev) {
          auto t = prev->add(v.position);
          if (t) sum = *t;
        }
      }
      positions[key] = sum.to_string();
    }
    doc["strategies"] = std::move(strategies);
    doc["positions"] = std::move(positions);
  }
  json::object regimes;
  for (const auto& [product, r] : app.regimes_) regimes[product.str()] = std::string(ind::to_string(r.value()));
  doc["regime"] = std::move(regimes);
  return json::serialize(doc) + "\n";
}

std::string AgentApp::Impl::summary_line() const {
  const AgentCounters& c = counters_;
  std::string denials;
  for (std::size_t i = 0; i < kDenyReasonSlots; ++i) {
    if (c.denied_by_reason[i] == 0) continue;
    std::string name = ta::ipc::DenyReason_Name(static_cast<ta::ipc::DenyReason>(i));
    const std::string_view prefix = "DENY_REASON_";
    if (name.rfind(prefix, 0) == 0) name = name.substr(prefix.size());
    denials += (denials.empty() ? "" : ",") + name + ":" + std::to_string(c.denied_by_reason[i]);
  }
  const std::string equity =
      have_snapshot_ && !last_snapshot_.account().equity().empty() ? last_snapshot_.account().equity() : "unknown";
  return "summary mode=" + std::string(to_string(cfg_.mode)) + " bars=" + std::to_string(c.bars) +
         " intents=" + std::to_string(c.intents) + " sent=" + std::to_string(c.intents_sent) +
         " held=" + std::to_string(c.intents_held) + " accepted=" + std::to_string(c.accepted) +
         " denied=" + std::to_string(c.denied) + " denied_by_reason=" + (denials.empty() ? "none" : denials) +
         " fills=" + std::to_string(c.fills) + " reconciled=" + std::to_string(c.reconciled_fills) +
         " final_equity=" + equity;
}

// ------------------------------------------------------------ the socket

struct StatusServer::Impl : std::enable_shared_from_this<StatusServer::Impl> {
  Impl(asio::io_context& io_, StatusConfig config_, std::function<std::string()> document_)
      : io(io_), config(std::move(config_)), document(std::move(document_)), acceptor(io_) {}

  struct Client {
    local::socket socket;
    asio::steady_timer deadline;
    std::string text;
    explicit Client(asio::io_context& io) : socket(io), deadline(io) {}
  };

  asio::io_context& io;
  StatusConfig config;
  std::function<std::string()> document;
  local::acceptor acceptor;
  std::set<std::shared_ptr<Client>> clients;
  bool running = false;
  std::uint64_t served = 0;
  std::uint64_t refused = 0;

  Status start() {
    ta::proto::ListenOptions lo;
    lo.path = config.socket_path.string();
    lo.mode = 0660;
    auto fd = ta::proto::listen_unix(lo);
    if (!fd) return fd.error();
    boost::system::error_code ec;
    acceptor.assign(local(), fd.value().release(), ec);
    if (ec) return make_error("status socket: " + ec.message());
    running = true;
    accept();
    return {};
  }

  void accept() {
    acceptor.async_accept([self = shared_from_this()](boost::system::error_code ec, local::socket socket) {
      if (!self->running) return;
      if (!ec) self->serve(std::move(socket));
      self->accept();
    });
  }

  void serve(local::socket socket) {
    if (clients.size() >= config.connections_max) {
      ++refused;
      boost::system::error_code ignored;
      socket.close(ignored);
      return;
    }
    auto c = std::make_shared<Client>(io);
    c->socket = std::move(socket);
    c->text = document();
    clients.insert(c);
    c->deadline.expires_after(std::chrono::milliseconds(config.write_timeout_ms));
    c->deadline.async_wait([self = shared_from_this(), c](boost::system::error_code ec) {
      if (ec) return;
      boost::system::error_code ignored;
      c->socket.close(ignored);  // a client that does not read loses its slot
    });
    asio::async_write(c->socket, asio::buffer(c->text),
                      [self = shared_from_this(), c](boost::system::error_code ec, std::size_t) {
                        if (!ec) ++self->served;
                        c->deadline.cancel();
                        boost::system::error_code ignored;
                        c->socket.shutdown(local::socket::shutdown_both, ignored);
                        c->socket.close(ignored);
                        self->clients.erase(c);
                      });
  }

  void stop() {
    if (!running) return;
    running = false;
    boost::system::error_code ignored;
    acceptor.close(ignored);
    for (const auto& c : clients) {
      c->deadline.cancel();
      c->socket.close(ignored);
    }
    clients.clear();
    (void)ta::proto::remove_socket_file(config.socket_path.string());
  }
};

StatusServer::StatusServer(asio::io_context& io, StatusConfig config, std::function<std::string()> document)
    : impl_(std::make_shared<Impl>(io, std::move(config), std::move(document))) {}
StatusServer::~StatusServer() { impl_->stop(); }
Status StatusServer::start() { return impl_->start(); }
void StatusServer::stop() { impl_->stop(); }
std::uint64_t StatusServer::served() const { return impl_->served; }
std::uint64_t StatusServer::refused() const { return impl_->refused; }

}  // namespace ta::agent
