// Status and Result<T> are public (include/litehouse/status.h): the client library returns them.
#pragma once

#include "litehouse/status.h"
