// liblitehouse.so is the client library (src/client) and the modules it builds on, linked whole;
// this file only gives the shared library a translation unit of its own.
#include "litehouse/client.h"
