// ScriptSplitter: SQL text, fed in pieces of any size, cut into whole statements and shell
// dot-commands, each with the line it starts on.
//
// The rules are the sqlite3 shell's:
//   - a statement ends at a ';' outside a string ('...'), a quoted name ("...", `...`, [...]) and a
//     comment (-- to end of line, /* ... */); quotes double to escape themselves;
//   - a CREATE TRIGGER holds ';' in its body: a statement starting with CREATE ends only where
//     sqlite3_complete() agrees, at the ';' after END;
//   - between statements, a line whose first character is '.' is a dot-command (up to its newline);
//     whitespace, comments and lone ';' there are skipped.
// Text is scanned once: the work is linear in the input, whatever the size of the script.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace litehouse::tools {

struct ScriptItem {
  enum class Kind { kSql, kDotCommand };
  Kind kind = Kind::kSql;
  std::string text;  // a statement with its ';' (none if the input ended first), or a dot-command line
  size_t line = 0;   // 1-based line where it starts
};

class ScriptSplitter {
 public:
  // Appends more of the script.
  void Feed(std::string_view text);
  // The next complete item, if the text fed so far holds one.
  bool Next(ScriptItem* item);
  // Once the input has ended: the unfinished remainder (a statement without its ';', a dot-command
  // without its newline), or false when nothing but whitespace and comments is left.
  bool Finish(ScriptItem* item);
  // True while a statement has begun and not ended (a shell shows its continuation prompt).
  bool in_statement() const { return !Between(); }
  // Drops whatever is buffered (a shell's Ctrl-C).
  void Reset();

 private:
  enum class State { kBetween, kCode, kSingle, kDouble, kBacktick, kBracket, kLineComment, kBlockComment };
  bool StatementComplete(size_t end) const;
  // No statement has begun (maybe inside a comment between two).
  bool Between() const;
  void Compact();

  std::string buf_;
  size_t pos_ = 0;    // next byte to scan
  size_t start_ = 0;  // where the current item starts
  size_t line_ = 1;   // line of buf_[pos_]
  size_t item_line_ = 1;
  bool line_start_ = true;  // buf_[pos_] is the first byte of a line
  State state_ = State::kBetween;
  State after_comment_ = State::kBetween;  // where a comment returns to: kBetween or kCode
};

// Every item of a whole script, fed to a ScriptSplitter `piece` bytes at a time (all at once by
// default; the tests and the fuzz target feed small pieces, so that cuts fall anywhere).
std::vector<ScriptItem> SplitScript(std::string_view text, size_t piece = std::string_view::npos);

// The first keyword of `sql` in upper case ("BEGIN", "COMMIT", ...), after whitespace and comments.
std::string FirstKeyword(std::string_view sql);
// The offset just past that keyword.
size_t FirstKeywordEnd(std::string_view sql);

// What a statement does to its connection's transaction, judged from its keywords (for messages:
// the server's get_autocommit is the authority): BEGIN and SAVEPOINT open one when none is open;
// COMMIT, END and ROLLBACK close it, but not ROLLBACK [TRANSACTION] TO a savepoint.
enum class TransactionEffect { kNone, kOpens, kCloses };
TransactionEffect EffectOnTransaction(std::string_view sql);

}  // namespace litehouse::tools
