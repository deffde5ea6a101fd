// The binding's error model: every failure becomes a JS Error named "EngineError"
// with a stable string `code`. The TypeScript facade re-throws it as its
// EngineError class with the caller's stack.
#pragma once
#include <napi.h>

#include <string>

namespace gamesrv::addon {

inline Napi::Error engineError(Napi::Env env, const std::string& code, const std::string& message) {
  Napi::Error err = Napi::Error::New(env, message);
  err.Set("name", Napi::String::New(env, "EngineError"));
  err.Set("code", Napi::String::New(env, code));
  return err;
}

[[noreturn]] inline void throwEngineError(Napi::Env env, const std::string& code, const std::string& message) {
  throw engineError(env, code, message);
}

}  // namespace gamesrv::addon
