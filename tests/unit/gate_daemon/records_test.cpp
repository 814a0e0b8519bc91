// The mappings between the core's enums and their journal forms: a replay
// depends on every event surviving the trip, so each one is checked, and
// the unspecified value is refused.
#include "records.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <set>

namespace ta::gate::daemon {
namespace {

TEST(Records, EveryOrderEventRoundTrips) {
  std::set<int> seen;
  for (std::size_t i = 0; i < kOrderEventCount; ++i) {
    const auto event = static_cast<OrderEvent>(i);
    const ipc::OrderEventType wire = to_proto(event);
    EXPECT_NE(wire, ipc::ORDER_EVENT_TYPE_UNSPECIFIED) << to_string(event);
    EXPECT_TRUE(seen.insert(wire).second) << to_string(event) << " shares a wire value";
    auto back = from_proto(wire);
    ASSERT_TRUE(back.ok());
    EXPECT_EQ(*back, event);
  }
  EXPECT_FALSE(from_proto(ipc::ORDER_EVENT_TYPE_UNSPECIFIED).ok());
  EXPECT_FALSE(from_proto(static_cast<ipc::OrderEventType>(99)).ok());
}

TEST(Records, EveryHaltEventRoundTrips) {
  std::set<int> seen;
  for (std::size_t i = 0; i < kHaltEventCount; ++i) {
    const auto event = static_cast<HaltEvent>(i);
    const ipc::HaltCause wire = to_proto_cause(event);
    EXPECT_NE(wire, ipc::HALT_CAUSE_UNSPECIFIED) << to_string(event);
    EXPECT_TRUE(seen.insert(wire).second) << to_string(event) << " shares a wire value";
    auto back = from_proto(wire);
    ASSERT_TRUE(back.ok());
    EXPECT_EQ(*back, event);
  }
  EXPECT_FALSE(from_proto(ipc::HALT_CAUSE_UNSPECIFIED).ok());
  EXPECT_FALSE(from_proto(static_cast<ipc::HaltCause>(99)).ok());
}

TEST(Records, VenueEventsMapToOrderEvents) {
  EXPECT_EQ(order_event_of(VenueEventKind::kAck), OrderEvent::kAck);
  EXPECT_EQ(order_event_of(VenueEventKind::kReject), OrderEvent::kReject);
  EXPECT_EQ(order_event_of(VenueEventKind::kCancelled), OrderEvent::kCancelAck);
  EXPECT_EQ(order_event_of(VenueEventKind::kExpired), OrderEvent::kExpire);
  EXPECT_EQ(order_event_of(VenueEventKind::kFill), OrderEvent::kFill);
}

TEST(Records, LogTextIsQuotedEscapedAndBounded) {
  EXPECT_EQ(log_text("plain"), "\"plain\"");
  EXPECT_EQ(log_text("a\"b\\c"), "\"a\\\"b\\\\c\"");
  EXPECT_EQ(log_text(std::string("x\ny\x01", 4)), "\"x?y?\"");
  const std::string at(kLogQuoteLengthMax, 'a');
  EXPECT_EQ(log_text(at), "\"" + at + "\"");
  EXPECT_EQ(log_text(at.substr(1)), "\"" + at.substr(1) + "\"");
  EXPECT_EQ(log_text(at + "b"), "\"" + at + "...\"");
}

TEST(Records, Sha256OfAFile) {
  const auto path = std::filesystem::temp_directory_path() / "ta-gate-daemon-sha256.txt";
  std::ofstream(path, std::ios::binary) << "abc";
  auto hash = sha256_file(path);
  ASSERT_TRUE(hash.ok());
  EXPECT_EQ(*hash, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  std::filesystem::remove(path);
  EXPECT_FALSE(sha256_file(path).ok());
}

}  // namespace
}  // namespace ta::gate::daemon
