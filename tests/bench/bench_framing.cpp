// Frame encode + decode of an OrderIntent (issue 2 target: under 1 us).
#include <benchmark/benchmark.h>

#include "gate.pb.h"
#include "proto/framing.h"

namespace {

void BM_FrameEncodeDecodeOrderIntent(benchmark::State& state) {
  ta::ipc::Envelope env;
  env.set_request_id(42);
  auto* intent = env.mutable_order_intent();
  intent->set_intent_id("mr-BTC-USD-1712345678-0001");
  intent->set_strategy("mean_reversion");
  intent->set_product("BTC-USD");
  intent->set_side(ta::ipc::SIDE_BUY);
  intent->set_type(ta::ipc::ORDER_TYPE_LIMIT);
  intent->set_quantity("0.00123400");
  intent->set_limit_price("60000.01");
  intent->set_protective_stop_price("59000");
  intent->set_time_in_force(ta::ipc::TIME_IN_FORCE_GTC);
  std::string wire;
  ta::proto::FrameDecoder dec;
  ta::ipc::Envelope back;
  for (auto _ : state) {
    wire.clear();
    if (!ta::proto::encode_frame(env, wire).ok()) state.SkipWithError("encode");
    dec.feed(wire);
    auto n = dec.next();
    if (!ta::proto::parse_payload(n.payload, back).ok()) state.SkipWithError("decode");
    benchmark::DoNotOptimize(back);
  }
}
BENCHMARK(BM_FrameEncodeDecodeOrderIntent);

}  // namespace
