// Fuzz target: the shell's SQL splitter (tools::ScriptSplitter), which reads whatever a script or a
// dump holds, and the keyword helpers the shell and the importer run on each statement.
//
// Oracle: the splitter's contract says text may be fed in pieces of any size, so the items must be
// the same whether the input comes whole or in pieces. The first byte sets the piece size (1..256).
#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

#include "fuzz_check.h"
#include "tools/script.h"

using litehouse::tools::ScriptItem;
using litehouse::tools::SplitScript;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  size_t piece = static_cast<size_t>(data[0]) + 1;
  std::string_view text(reinterpret_cast<const char*>(data) + 1, size - 1);
  std::vector<ScriptItem> whole = SplitScript(text);
  std::vector<ScriptItem> pieces = SplitScript(text, piece);
  FUZZ_CHECK(whole.size() == pieces.size());
  for (size_t i = 0; i < whole.size(); ++i) {
    FUZZ_CHECK(whole[i].kind == pieces[i].kind);
    FUZZ_CHECK(whole[i].text == pieces[i].text);
    FUZZ_CHECK(whole[i].line == pieces[i].line);
    std::string_view sql = whole[i].text;
    FUZZ_CHECK(litehouse::tools::FirstKeywordEnd(sql) <= sql.size());
    (void)litehouse::tools::FirstKeyword(sql);
    (void)litehouse::tools::EffectOnTransaction(sql);
  }
  return 0;
}
