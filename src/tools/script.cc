#include "tools/script.h"

#include <sqlite3.h>

#include <cctype>

namespace litehouse::tools {
namespace {

bool IsSpace(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'; }

}  // namespace

std::vector<ScriptItem> SplitScript(std::string_view text, size_t piece) {
  ScriptSplitter splitter;
  std::vector<ScriptItem> items;
  ScriptItem item;
  for (size_t at = 0; at < text.size(); at += piece) {
    splitter.Feed(text.substr(at, piece));
    while (splitter.Next(&item)) items.push_back(item);
  }
  if (splitter.Finish(&item)) items.push_back(item);
  return items;
}

void ScriptSplitter::Feed(std::string_view text) {
  Compact();
  buf_.append(text);
}

void ScriptSplitter::Reset() {
  buf_.clear();
  pos_ = start_ = 0;
  line_start_ = true;
  state_ = State::kBetween;
}

void ScriptSplitter::Compact() {
  // Drop what earlier items used, once it is the larger part of the buffer.
  if (start_ > 0 && start_ * 2 >= buf_.size()) {
    buf_.erase(0, start_);
    pos_ -= start_;
    start_ = 0;
  }
}

bool ScriptSplitter::StatementComplete(size_t end) const {
  // Only a CREATE can be a trigger, whose body holds ';': SQLite's own tokenizer decides. Told from the
  // statement's whole text, never from the part fed so far, so the answer cannot depend on how the
  // input was cut into pieces.
  std::string_view text = std::string_view(buf_).substr(start_, end - start_);
  if (text.size() < 6) return true;
  for (size_t i = 0; i < 6; ++i) {
    if (std::toupper(static_cast<unsigned char>(text[i])) != "CREATE"[i]) return true;
  }
  return sqlite3_complete(std::string(text).c_str()) != 0;
}

bool ScriptSplitter::Next(ScriptItem* item) {
  const size_t n = buf_.size();
  while (pos_ < n) {
    char c = buf_[pos_];
    // A comment, between statements or inside one, goes back to where it began when it ends.
    if ((state_ == State::kBetween || state_ == State::kCode) && (c == '-' || c == '/')) {
      if (pos_ + 1 >= n) return false;
      if (buf_[pos_ + 1] == (c == '-' ? '-' : '*')) {
        after_comment_ = state_;
        state_ = c == '-' ? State::kLineComment : State::kBlockComment;
        pos_ += 2;
        line_start_ = false;
        continue;
      }
    }
    switch (state_) {
      case State::kBetween: {
        if (IsSpace(c) || c == ';') break;
        if (c == '.' && line_start_) {
          size_t eol = buf_.find('\n', pos_);
          if (eol == std::string::npos) return false;
          size_t end = eol > pos_ && buf_[eol - 1] == '\r' ? eol - 1 : eol;
          item->kind = ScriptItem::Kind::kDotCommand;
          item->text = buf_.substr(pos_, end - pos_);
          item->line = line_;
          pos_ = eol + 1;
          ++line_;
          line_start_ = true;
          start_ = pos_;
          return true;
        }
        start_ = pos_;
        item_line_ = line_;
        state_ = State::kCode;
        continue;  // scan this byte as code
      }
      case State::kCode:
        if (c == '\'') state_ = State::kSingle;
        else if (c == '"') state_ = State::kDouble;
        else if (c == '`') state_ = State::kBacktick;
        else if (c == '[') state_ = State::kBracket;
        else if (c == ';' && StatementComplete(pos_ + 1)) {
          item->kind = ScriptItem::Kind::kSql;
          item->text = buf_.substr(start_, pos_ + 1 - start_);
          item->line = item_line_;
          ++pos_;
          line_start_ = false;
          start_ = pos_;
          state_ = State::kBetween;
          return true;
        }
        break;
      case State::kSingle: if (c == '\'') state_ = State::kCode; break;
      case State::kDouble: if (c == '"') state_ = State::kCode; break;
      case State::kBacktick: if (c == '`') state_ = State::kCode; break;
      case State::kBracket: if (c == ']') state_ = State::kCode; break;
      case State::kLineComment: if (c == '\n') state_ = after_comment_; break;
      case State::kBlockComment:
        if (c == '*') {
          if (pos_ + 1 >= n) return false;
          if (buf_[pos_ + 1] == '/') {
            state_ = after_comment_;
            ++pos_;
          }
        }
        break;
    }
    if (buf_[pos_] == '\n') {
      ++line_;
      line_start_ = true;
    } else {
      line_start_ = false;
    }
    ++pos_;
  }
  return false;
}

bool ScriptSplitter::Between() const {
  bool comment = state_ == State::kLineComment || state_ == State::kBlockComment;
  return state_ == State::kBetween || (comment && after_comment_ == State::kBetween);
}

bool ScriptSplitter::Finish(ScriptItem* item) {
  // Whatever waited for a byte of lookahead can be decided now: a newline ends a dot-command and a
  // line comment, and is whitespace anywhere else.
  if (!buf_.empty() && buf_.back() != '\n') {
    buf_.push_back('\n');
    if (Next(item)) return true;
  }
  if (Between()) return false;
  item->kind = ScriptItem::Kind::kSql;
  item->text = buf_.substr(start_);
  while (!item->text.empty() && IsSpace(item->text.back())) item->text.pop_back();
  item->line = item_line_;
  Reset();
  return true;
}

namespace {

// Where the first keyword of `sql` starts, after whitespace and comments.
size_t KeywordStart(std::string_view sql) {
  size_t i = 0;
  while (i < sql.size()) {
    if (IsSpace(sql[i])) {
      ++i;
    } else if (sql.substr(i, 2) == "--") {
      size_t eol = sql.find('\n', i);
      i = eol == std::string_view::npos ? sql.size() : eol + 1;
    } else if (sql.substr(i, 2) == "/*") {
      size_t end = sql.find("*/", i + 2);
      i = end == std::string_view::npos ? sql.size() : end + 2;
    } else {
      break;
    }
  }
  return i;
}

}  // namespace

size_t FirstKeywordEnd(std::string_view sql) {
  size_t i = KeywordStart(sql);
  while (i < sql.size() && std::isalpha(static_cast<unsigned char>(sql[i]))) ++i;
  return i;
}

std::string FirstKeyword(std::string_view sql) {
  std::string word;
  for (size_t i = KeywordStart(sql); i < sql.size() && std::isalpha(static_cast<unsigned char>(sql[i])); ++i) {
    word.push_back(static_cast<char>(std::toupper(static_cast<unsigned char>(sql[i]))));
  }
  return word;
}

TransactionEffect EffectOnTransaction(std::string_view sql) {
  std::string word = FirstKeyword(sql);
  if (word == "BEGIN" || word == "SAVEPOINT") return TransactionEffect::kOpens;
  if (word == "COMMIT" || word == "END") return TransactionEffect::kCloses;
  if (word != "ROLLBACK") return TransactionEffect::kNone;
  std::string_view rest = sql.substr(FirstKeywordEnd(sql));
  std::string next = FirstKeyword(rest);
  if (next == "TRANSACTION") next = FirstKeyword(rest.substr(FirstKeywordEnd(rest)));
  return next == "TO" ? TransactionEffect::kNone : TransactionEffect::kCloses;
}

}  // namespace litehouse::tools
