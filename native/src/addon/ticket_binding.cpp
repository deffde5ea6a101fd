#include "ticket_binding.hpp"

#include <cmath>
#include <cstdint>
#include <string>

#include "errors.hpp"
#include "gamesrv/ticket.hpp"

namespace gamesrv::addon {
namespace {

// verifyTicket(secret: Buffer, ticket: string, nowSec: number)
//   -> {status: 'ok' | 'bad_ticket' | 'ticket_expired', playerId?, name?, expiresAt?}
// The claims are present when the signature is genuine (status ok or ticket_expired).
Napi::Value verifyTicket(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 3 || !info[0].IsBuffer() || !info[1].IsString() || !info[2].IsNumber()) {
    throwEngineError(env, "INVALID_ARGUMENT", "verifyTicket(secret: Buffer, ticket: string, nowSec: number)");
  }
  const auto secret = info[0].As<Napi::Buffer<std::uint8_t>>();
  const std::string ticket = info[1].As<Napi::String>().Utf8Value();
  const double now = info[2].As<Napi::Number>().DoubleValue();
  if (!(now >= 0 && now <= 9007199254740991.0) || std::floor(now) != now) {
    throwEngineError(env, "INVALID_ARGUMENT", "nowSec must be a non-negative safe integer");
  }
  const TicketCheck check =
      TicketVerifier({secret.Data(), secret.Length()}).verify(ticket, static_cast<std::uint64_t>(now));
  Napi::Object out = Napi::Object::New(env);
  out.Set("status", Napi::String::New(env, toString(check.status)));
  if (check.status != TicketStatus::BadTicket) {
    out.Set("playerId", Napi::Number::New(env, check.claims.playerId));
    out.Set("name", Napi::String::New(env, check.claims.name));
    out.Set("expiresAt", Napi::Number::New(env, static_cast<double>(check.claims.expiresAt)));
  }
  return out;
}

}  // namespace

void registerTickets(Napi::Env env, Napi::Object exports) {
  exports.Set("verifyTicket", Napi::Function::New(env, verifyTicket, "verifyTicket"));
  Napi::Object format = Napi::Object::New(env);
  format.Set("version", Napi::Number::New(env, kTicketVersion));
  format.Set("keyId", Napi::Number::New(env, kTicketKeyId));
  format.Set("maxNameBytes", Napi::Number::New(env, static_cast<double>(kMaxTicketNameBytes)));
  format.Set("maxTicketChars", Napi::Number::New(env, static_cast<double>(kMaxTicketChars)));
  exports.Set("ticketFormat", format);
}

}  // namespace gamesrv::addon
