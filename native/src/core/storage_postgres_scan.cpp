// The PostgreSQL backend's query scanner (storage_detail::scanPgStatement): finds the
// first statement of a `database` task's text, respecting quotes, E'' strings, quoted
// identifiers, nested block comments and dollar quoting, rewrites `?` placeholders to
// `$n`, and names the statement's first word.
#include "gamesrv/storage.hpp"

#if GAMESRV_HAVE_LIBPQ

#include <algorithm>
#include <cctype>
#include <string>

#include "storage_postgres.hpp"

namespace gamesrv::storage_detail {
namespace {

constexpr int kHighestParam = 65535;  // the wire protocol's limit on parameters

bool identChar(char c) {
  const auto u = static_cast<unsigned char>(c);
  return std::isalnum(u) != 0 || c == '_' || c == '$' || u >= 0x80;
}
bool tagStart(char c) {
  const auto u = static_cast<unsigned char>(c);
  return std::isalpha(u) != 0 || c == '_' || u >= 0x80;
}

enum class Lexeme : std::uint8_t { Other, Comment, Literal };

// If sql[i] starts a comment, a quoted string or identifier, or a dollar-quoted string,
// returns its end (one past; the end of the text when unterminated) and its kind;
// otherwise returns i.
std::size_t skipLexeme(std::string_view sql, std::size_t i, Lexeme& kind) {
  const std::size_t n = sql.size();
  const char c = sql[i];
  const char next = i + 1 < n ? sql[i + 1] : '\0';
  if (c == '-' && next == '-') {
    kind = Lexeme::Comment;
    const std::size_t e = sql.find('\n', i);
    return e == std::string_view::npos ? n : e;
  }
  if (c == '/' && next == '*') {  // PostgreSQL's block comments nest
    kind = Lexeme::Comment;
    int depth = 0;
    std::size_t j = i;
    while (j < n) {
      if (sql[j] == '/' && j + 1 < n && sql[j + 1] == '*') {
        ++depth;
        j += 2;
      } else if (sql[j] == '*' && j + 1 < n && sql[j + 1] == '/') {
        j += 2;
        if (--depth == 0) return j;
      } else {
        ++j;
      }
    }
    return n;
  }
  if (c == '\'' || c == '"') {
    kind = Lexeme::Literal;
    // E'...' takes backslash escapes; E must be a prefix, not the end of an identifier.
    const bool escapes = c == '\'' && i > 0 && (sql[i - 1] == 'E' || sql[i - 1] == 'e') && (i < 2 || !identChar(sql[i - 2]));
    std::size_t j = i + 1;
    while (j < n) {
      if (escapes && sql[j] == '\\') {
        j += 2;
      } else if (sql[j] == c) {
        if (j + 1 < n && sql[j + 1] == c) {
          j += 2;  // a doubled quote
        } else {
          return j + 1;
        }
      } else {
        ++j;
      }
    }
    return n;
  }
  if (c == '$' && (i == 0 || !identChar(sql[i - 1])) && (next == '$' || tagStart(next))) {
    std::size_t j = i + 1;
    while (j < n && sql[j] != '$' && identChar(sql[j])) ++j;
    if (j >= n || sql[j] != '$') return i;  // not a tag: $name is not SQL, let the server say so
    const std::string_view tag = sql.substr(i, j + 1 - i);
    const std::size_t close = sql.find(tag, j + 1);
    kind = Lexeme::Literal;
    return close == std::string_view::npos ? n : close + tag.size();
  }
  return i;
}

bool readNumber(std::string_view sql, std::size_t& i, int& value) {
  const std::size_t start = i;
  long long v = 0;
  while (i < sql.size() && std::isdigit(static_cast<unsigned char>(sql[i])) != 0) {
    if (v <= kHighestParam) v = v * 10 + (sql[i] - '0');
    ++i;
  }
  value = static_cast<int>(std::min<long long>(v, kHighestParam + 1));
  return i > start;
}

}  // namespace

PgStatementText scanPgStatement(std::string_view sql) {
  PgStatementText out;
  int highest = 0;
  bool seen = false;  // a token of the first statement
  std::size_t i = 0;
  const std::size_t n = sql.size();
  while (i < n) {
    Lexeme kind = Lexeme::Other;
    const std::size_t end = skipLexeme(sql, i, kind);
    if (end != i) {
      if (kind != Lexeme::Comment) {
        if (!seen && out.firstWord.empty()) out.firstWord = "?";  // a statement opening with a literal
        seen = true;
      }
      out.text.append(sql.substr(i, end - i));
      i = end;
      continue;
    }
    const char c = sql[i];
    if (c == ';') {
      if (seen) break;
      ++i;  // empty statements before the first are skipped
      continue;
    }
    if (std::isspace(static_cast<unsigned char>(c)) != 0) {
      if (seen) out.text.push_back(c);
      ++i;
      continue;
    }
    if (!seen) {
      if (c == '(') {
        out.firstWord = "(";
      } else {
        std::size_t j = i;
        while (j < n && identChar(sql[j])) ++j;
        for (std::size_t k = i; k < j; ++k) out.firstWord.push_back(static_cast<char>(std::toupper(static_cast<unsigned char>(sql[k]))));
        if (out.firstWord.empty()) out.firstWord = std::string(1, c);
      }
      seen = true;
    }
    if ((c == '?' || c == '$') && (i == 0 || !identChar(sql[i - 1]))) {
      std::size_t j = i + 1;
      int number = 0;
      if (readNumber(sql, j, number)) {
        highest = std::max(highest, number);
      } else if (c == '?') {
        number = ++highest;
      } else {
        out.text.push_back(c);
        ++i;
        continue;
      }
      out.text += "$" + std::to_string(number);
      i = j;
      continue;
    }
    if (identChar(c)) {  // a whole word, so that a '$' or '?' inside one is not a placeholder
      std::size_t j = i;
      while (j < n && identChar(sql[j])) ++j;
      out.text.append(sql.substr(i, j - i));
      i = j;
      continue;
    }
    out.text.push_back(c);
    ++i;
  }
  out.paramCount = highest;
  if (!seen) {
    out.empty = true;
    return out;
  }
  // After the first statement's ';': only blanks, comments and more semicolons.
  for (; i < n;) {
    Lexeme kind = Lexeme::Other;
    const std::size_t end = skipLexeme(sql, i, kind);
    if (end != i && kind == Lexeme::Comment) {
      i = end;
    } else if (end == i && (sql[i] == ';' || std::isspace(static_cast<unsigned char>(sql[i])) != 0)) {
      ++i;
    } else {
      out.multiple = true;
      break;
    }
  }
  while (!out.text.empty() && std::isspace(static_cast<unsigned char>(out.text.back())) != 0) out.text.pop_back();
  return out;
}

}  // namespace gamesrv::storage_detail

#endif  // GAMESRV_HAVE_LIBPQ
