#include "proto/framing.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <random>

#include "gate.pb.h"

namespace ta::proto {
namespace {

ipc::Envelope sample_intent(int i) {
  ipc::Envelope env;
  env.set_request_id(static_cast<std::uint64_t>(i));
  auto* intent = env.mutable_order_intent();
  intent->set_intent_id("intent-" + std::to_string(i));
  intent->set_strategy("mean_reversion");
  intent->set_product("BTC-USD");
  intent->set_side(ipc::SIDE_BUY);
  intent->set_type(ipc::ORDER_TYPE_LIMIT);
  intent->set_quantity("0.0012");
  intent->set_limit_price("60000.01");
  intent->set_time_in_force(ipc::TIME_IN_FORCE_GTC);
  return env;
}

TEST(Framing, RoundTripsOneFrame) {
  std::string wire;
  ASSERT_TRUE(encode_frame(sample_intent(1), wire).ok());
  FrameDecoder dec;
  dec.feed(wire);
  auto n = dec.next();
  ASSERT_EQ(n.status, FrameDecoder::Status::kFrame);
  ipc::Envelope back;
  ASSERT_TRUE(parse_payload(n.payload, back).ok());
  EXPECT_EQ(back.order_intent().limit_price(), "60000.01");
  EXPECT_EQ(dec.next().status, FrameDecoder::Status::kNeedMore);
  EXPECT_EQ(dec.buffered(), 0u);
}

TEST(Framing, ByteByByteAndRandomSplits) {
  const unsigned seed = std::random_device{}();
  std::printf("seed=%u\n", seed);
  std::mt19937 rng(seed);
  std::string wire;
  const int count = 200;
  for (int i = 0; i < count; ++i) ASSERT_TRUE(encode_frame(sample_intent(i), wire).ok());
  FrameDecoder dec;
  int got = 0;
  std::size_t pos = 0;
  while (pos < wire.size()) {
    const std::size_t take = std::min<std::size_t>(wire.size() - pos, 1 + rng() % 97);
    dec.feed(wire.data() + pos, take);
    pos += take;
    for (;;) {
      auto n = dec.next();
      if (n.status == FrameDecoder::Status::kNeedMore) break;
      ASSERT_EQ(n.status, FrameDecoder::Status::kFrame) << "seed=" << seed;
      ipc::Envelope env;
      ASSERT_TRUE(parse_payload(n.payload, env).ok());
      ASSERT_EQ(env.request_id(), static_cast<std::uint64_t>(got)) << "seed=" << seed;
      ++got;
    }
  }
  EXPECT_EQ(got, count);
}

TEST(Framing, OversizeRefusedFromHeaderAlone) {
  FrameDecoder dec(1024);
  const char header[4] = {static_cast<char>(0x01), static_cast<char>(0x04), 0, 0};  // 1025
  dec.feed(header, 4);
  auto n = dec.next();
  ASSERT_EQ(n.status, FrameDecoder::Status::kError);
  EXPECT_NE(n.error.find("declares 1025 bytes, over frame_size_max 1024"), std::string::npos) << n.error;
  EXPECT_NE(n.error.find("offset 0"), std::string::npos);
  EXPECT_TRUE(dec.failed());
  dec.feed("more");
  EXPECT_EQ(dec.next().status, FrameDecoder::Status::kError);
  EXPECT_EQ(dec.buffered(), 0u);
}

TEST(Framing, LimitEdges) {
  // Exactly at the limit: accepted. One above: refused.
  for (std::uint32_t len : {1023u, 1024u, 1025u}) {
    FrameDecoder dec(1024);
    std::string wire(4, '\0');
    wire[0] = static_cast<char>(len & 0xff);
    wire[1] = static_cast<char>(len >> 8);
    wire.append(len, 'x');
    dec.feed(wire);
    const auto status = dec.next().status;
    EXPECT_EQ(status, len <= 1024 ? FrameDecoder::Status::kFrame : FrameDecoder::Status::kError) << len;
  }
  ipc::Envelope big;
  big.mutable_protocol_error()->set_message(std::string(2000, 'a'));
  std::string out = "keep";
  EXPECT_FALSE(encode_frame(big, out, 1024).ok());
  EXPECT_EQ(out, "keep");
}

TEST(Framing, TruncatedFrameWaitsAndGarbageFailsDecode) {
  std::string wire;
  ASSERT_TRUE(encode_frame(sample_intent(7), wire).ok());
  FrameDecoder dec;
  dec.feed(wire.data(), wire.size() - 1);
  EXPECT_EQ(dec.next().status, FrameDecoder::Status::kNeedMore);
  // A frame whose payload is not a valid Envelope decodes as a frame but
  // fails to parse, with a message that says so.
  FrameDecoder dec2;
  std::string garbage = std::string("\x05\x00\x00\x00", 4) + "\xff\xff\xff\xff\xff";
  dec2.feed(garbage);
  auto n = dec2.next();
  ASSERT_EQ(n.status, FrameDecoder::Status::kFrame);
  ipc::Envelope env;
  auto st = parse_payload(n.payload, env);
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.error().message.find("undecodable ta.ipc.Envelope of 5 bytes"), std::string::npos);
}

}  // namespace
}  // namespace ta::proto
