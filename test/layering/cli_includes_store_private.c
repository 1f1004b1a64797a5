/*
 * Must not compile: a layer that links the store sees store/store.h and
 * store/lmdb/tools.h, never a header private to the store.
 */
#include "store/lmdb/internal.h"
