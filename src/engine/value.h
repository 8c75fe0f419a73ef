// The engine's values are the public ones (include/litehouse/value.h).
#pragma once

#include "litehouse/value.h"

namespace litehouse::engine {

using litehouse::Blob;
using litehouse::IsNull;
using litehouse::Value;

}  // namespace litehouse::engine
