/* Must compile: the store's public headers, as a layer linking the store sees them. */
#include "store/lmdb/tools.h"
#include "store/store.h"
