#include "gamesrv/storage_database.hpp"

#include "json_text.hpp"

namespace gamesrv {
namespace {

void appendValue(std::string& out, const DbValue& v) {
  if (std::holds_alternative<std::monostate>(v)) {
    out += "null";
  } else if (const auto* i = std::get_if<std::int64_t>(&v)) {
    out += std::to_string(*i);
  } else if (const auto* d = std::get_if<double>(&v)) {
    appendJsonNumber(out, *d);
  } else if (const auto* s = std::get_if<std::string>(&v)) {
    appendJsonString(out, *s);
  } else {
    static constexpr char kHex[] = "0123456789abcdef";
    out += '"';
    for (const std::uint8_t b : std::get<DbBlob>(v).bytes) {
      out += kHex[b >> 4];
      out += kHex[b & 0xf];
    }
    out += '"';
  }
}

}  // namespace

std::string queryResultJson(const QueryResult& r) {
  std::string out = "{\"columns\":[";
  for (std::size_t i = 0; i < r.columns.size(); ++i) {
    if (i) out += ',';
    appendJsonString(out, r.columns[i]);
  }
  out += "],\"rows\":[";
  for (std::size_t i = 0; i < r.rows.size(); ++i) {
    if (i) out += ',';
    out += '[';
    for (std::size_t j = 0; j < r.rows[i].size(); ++j) {
      if (j) out += ',';
      appendValue(out, r.rows[i][j]);
    }
    out += ']';
  }
  out += "],\"rowCount\":" + std::to_string(r.rows.size());
  out += ",\"truncated\":";
  out += r.truncated ? "true" : "false";
  out += ",\"latencyUs\":" + std::to_string(r.latencyUs) + "}";
  return out;
}

DatabaseResult StorageDatabase::execute(const std::string& query, const std::atomic<bool>& cancelled) {
  TaskSpec spec;
  spec.kind = TaskKind::Database;
  spec.query = query;
  return run(spec, cancelled);
}

DatabaseResult StorageDatabase::run(const TaskSpec& spec, const std::atomic<bool>& cancelled) {
  if (beforeQuery_) beforeQuery_();
  QueryOptions opts;
  if (spec.maxRows != 0) opts.rowCap = spec.maxRows;
  if (spec.timeoutMs != 0) opts.timeout = std::chrono::milliseconds(spec.timeoutMs);
  opts.cancelled = &cancelled;
  QueryResult r = persistence_->query(spec.query, spec.params, opts);
  if (!r.status.ok()) return {false, "", std::string(toString(r.status.code)) + ": " + r.status.message};
  return {true, queryResultJson(r), ""};
}

}  // namespace gamesrv
