#ifndef CASSETTO_CPROTOBUFC_SHIM_H
#define CASSETTO_CPROTOBUFC_SHIM_H
#include <protobuf-c/protobuf-c.h>
#endif
