#ifndef CASSETTO_CCAIRO_SHIM_H
#define CASSETTO_CCAIRO_SHIM_H
#include <cairo.h>
#include <cairo-pdf.h>
#endif
