// Decodes the gate's journal payloads (GateRecord) for replay.
//
// Replay reads every record the gate ever wrote, and most of them are
// IntentDecided records, the largest kind: an intent and its decision, a
// dozen strings. Parsed as a GateRecord, each record allocates its nested
// messages afresh (a oneof member is deleted when the message is cleared)
// and the strings longer than the small-string buffer with them. This
// decoder finds the IntentDecided body by walking the GateRecord's wire
// format and parses its intent, decision and rule facts into messages it
// keeps, whose strings keep their capacity from record to record, so
// decoding such a record allocates nothing once the replay is under way.
// Every other record, and any IntentDecided record not in the canonical
// form the gate writes (a field twice, an unknown field, a wire type that
// does not match), is parsed as a whole GateRecord, so what a payload
// means never depends on which path decoded it.
#pragma once

#include <cstdint>
#include <string_view>

#include "gate.pb.h"
#include "journal_records.pb.h"

namespace ta::gate::daemon {

class GateRecordDecoder {
 public:
  // Decodes one payload; false when it does not parse as a GateRecord.
  // Invalidates what the previous call decoded.
  [[nodiscard]] bool decode(std::string_view payload);

  // The record's body. For kIntentDecided read intent(), decision() and
  // rule_facts(); for every other body, record().
  ipc::GateRecord::BodyCase body() const { return body_; }
  const ipc::OrderIntent& intent() const { return intent_; }
  const ipc::Decision& decision() const { return decision_; }
  // nullptr when the record has no rule facts.
  const ipc::RuleFacts* rule_facts() const { return has_rule_facts_ ? &rule_facts_ : nullptr; }
  const ipc::GateRecord& record() const { return record_; }
  // The record's ts_ns, whichever path decoded it.
  std::int64_t ts_ns() const { return ts_ns_; }
  // True when the last decode took the IntentDecided fast path (tests).
  bool fast_path() const { return fast_; }

 private:
  bool decode_intent_decided(std::string_view body);

  ipc::GateRecord::BodyCase body_ = ipc::GateRecord::BODY_NOT_SET;
  std::int64_t ts_ns_ = 0;
  bool fast_ = false;
  bool has_rule_facts_ = false;
  ipc::OrderIntent intent_;
  ipc::Decision decision_;
  ipc::RuleFacts rule_facts_;
  ipc::GateRecord record_;
};

}  // namespace ta::gate::daemon
