// verifyTicket(secret, ticket, nowSec) and the ticket format's limits, for the tests that
// prove the control plane's tickets and the engine's verifier agree (test/tickets.test.ts).
#pragma once
#include <napi.h>

namespace gamesrv::addon {

void registerTickets(Napi::Env env, Napi::Object exports);

}  // namespace gamesrv::addon
