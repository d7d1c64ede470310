#ifndef CASSETTO_CZLIB_SHIM_H
#define CASSETTO_CZLIB_SHIM_H
#include <zlib.h>

// deflateInit2/inflateInit2 are macros; Swift needs functions.
static inline int cassetto_deflateInit2(z_streamp strm, int level, int windowBits) {
  return deflateInit2(strm, level, Z_DEFLATED, windowBits, 8, Z_DEFAULT_STRATEGY);
}
static inline int cassetto_inflateInit2(z_streamp strm, int windowBits) {
  return inflateInit2(strm, windowBits);
}
#endif
