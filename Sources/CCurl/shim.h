#ifndef CASSETTO_CCURL_SHIM_H
#define CASSETTO_CCURL_SHIM_H

#define CURL_DISABLE_TYPECHECK 1
#include <curl/curl.h>

// curl_easy_setopt and curl_easy_getinfo are variadic: Swift cannot call them, so these
// typed wrappers do (one per argument type we pass).

typedef size_t (*cassetto_curl_read_callback)(char *buffer, size_t size, size_t count,
                                              void *user);

static inline CURLcode cassetto_curl_setopt_long(CURL *handle, CURLoption option, long value) {
  return curl_easy_setopt(handle, option, value);
}

static inline CURLcode cassetto_curl_setopt_string(CURL *handle, CURLoption option,
                                                   const char *value) {
  return curl_easy_setopt(handle, option, value);
}

static inline CURLcode cassetto_curl_setopt_pointer(CURL *handle, CURLoption option,
                                                    void *value) {
  return curl_easy_setopt(handle, option, value);
}

static inline CURLcode cassetto_curl_setopt_slist(CURL *handle, CURLoption option,
                                                  struct curl_slist *value) {
  return curl_easy_setopt(handle, option, value);
}

static inline CURLcode cassetto_curl_setopt_read_function(CURL *handle,
                                                          cassetto_curl_read_callback value) {
  return curl_easy_setopt(handle, CURLOPT_READFUNCTION, value);
}

typedef int (*cassetto_curl_debug_callback)(CURL *handle, curl_infotype type, char *data,
                                            size_t size, void *user);

static inline CURLcode cassetto_curl_setopt_debug_function(CURL *handle,
                                                           cassetto_curl_debug_callback value) {
  return curl_easy_setopt(handle, CURLOPT_DEBUGFUNCTION, value);
}

static inline CURLcode cassetto_curl_global_init(void) {
  return curl_global_init(CURL_GLOBAL_DEFAULT);
}

static inline CURLcode cassetto_curl_getinfo_long(CURL *handle, CURLINFO info, long *value) {
  return curl_easy_getinfo(handle, info, value);
}

#endif
