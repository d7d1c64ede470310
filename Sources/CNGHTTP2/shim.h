#ifndef CASSETTO_CNGHTTP2_SHIM_H
#define CASSETTO_CNGHTTP2_SHIM_H
#include <nghttp2/nghttp2.h>
// The event loops under the HTTP/2 sessions: Swift's Glibc module does not export these.
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <netinet/tcp.h>
#endif
