#include "game_protocol_binding.hpp"

#include <string>

#include "gamesrv/game_protocol.hpp"

namespace gamesrv::addon {
namespace {

Napi::Object namedValues(Napi::Env env, std::span<const game::NamedValue> table) {
  Napi::Object o = Napi::Object::New(env);
  for (const game::NamedValue& nv : table) o.Set(std::string(nv.name), static_cast<double>(nv.value));
  return o;
}

}  // namespace

// {
//   constants: {maxClientFrame: 1024, ...},
//   clientTypes: {HELLO: 1, ...}, serverTypes: {WELCOME: 129, ...},
//   errorCodes: {bad_frame: 1, ...}, kickReasons: {replaced: 1, ...},
//   layouts: [{name, type, fields: [{name, offset, size, type}]}]   (size 0: variable)
// }
Napi::Object gameProtocolConstants(Napi::Env env) {
  Napi::Object p = Napi::Object::New(env);
  p.Set("constants", namedValues(env, game::protocolConstants()));
  p.Set("clientTypes", namedValues(env, game::clientMessageTypes()));
  p.Set("serverTypes", namedValues(env, game::serverMessageTypes()));
  p.Set("errorCodes", namedValues(env, game::errorCodes()));
  p.Set("kickReasons", namedValues(env, game::kickReasons()));
  const auto layouts = game::gameProtocolLayouts();
  Napi::Array list = Napi::Array::New(env, layouts.size());
  for (std::size_t i = 0; i < layouts.size(); ++i) {
    const game::MessageLayout& m = layouts[i];
    Napi::Object lo = Napi::Object::New(env);
    lo.Set("name", std::string(m.name));
    lo.Set("type", static_cast<double>(m.type));
    Napi::Array fields = Napi::Array::New(env, m.fields.size());
    for (std::size_t k = 0; k < m.fields.size(); ++k) {
      const game::FieldLayout& f = m.fields[k];
      Napi::Object fo = Napi::Object::New(env);
      fo.Set("name", std::string(f.name));
      fo.Set("offset", static_cast<double>(f.offset));
      fo.Set("size", static_cast<double>(f.size));
      fo.Set("type", std::string(f.type));
      fields.Set(static_cast<std::uint32_t>(k), fo);
    }
    lo.Set("fields", fields);
    list.Set(static_cast<std::uint32_t>(i), lo);
  }
  p.Set("layouts", list);
  return p;
}

}  // namespace gamesrv::addon
