/* libcurl multi driven by one libev loop (one per dataplane worker thread,
 * one in the controlplane).
 *
 * Traps handled here (DESIGN.md): timeouts are converted with floating point
 * so sub-second timers do not become 0; curl's TIMERFUNCTION never calls back
 * into curl (a 0 s ev_timer is armed instead); a one-shot timer is re-armed
 * with ev_timer_set. Completed transfers are reported through each easy
 * handle's `done` callback, which may free the handle. */
#ifndef ACEXY_CURL_EV_H
#define ACEXY_CURL_EV_H

#include <curl/curl.h>
#include <ev.h>

struct curl_ev;

/* Called once when a transfer finishes (successfully or not). `result` is
 * curl's code. The callback owns the easy handle afterwards (it was already
 * removed from the multi handle). */
typedef void (*curl_ev_done_fn)(void *ud, CURL *easy, CURLcode result);

/* A CONNECT_ONLY transfer finished. On CURLE_OK, fd is its connected socket
 * (curl's, non-blocking): speak on it with curl_easy_send/recv, or with the
 * socket calls for plain HTTP; the handle stays added until curl_ev_remove()
 * (then curl_easy_cleanup closes the connection). Otherwise fd is -1 and the
 * handle was already removed; the callback cleans it up. */
typedef void (*curl_ev_connected_fn)(void *ud, CURL *easy, CURLcode result, int fd);

int curl_ev_new(struct ev_loop *loop, struct curl_ev **ret);
void curl_ev_free(struct curl_ev *ce);
/* Adds a configured easy handle. */
int curl_ev_add(struct curl_ev *ce, CURL *easy, curl_ev_done_fn done, void *ud);
/* Adds an easy handle that only connects (curl resolves the name, tries the
 * addresses and honours the connect timeout); the caller then speaks on the
 * socket itself. */
int curl_ev_add_connect(struct curl_ev *ce, CURL *easy, curl_ev_connected_fn connected, void *ud);
/* Removes a transfer without calling `done` (the caller cleans up the handle). */
void curl_ev_remove(struct curl_ev *ce, CURL *easy);
/* Lets curl make progress on a transfer after curl_easy_pause(CONT). */
void curl_ev_kick(struct curl_ev *ce);
int curl_ev_running(const struct curl_ev *ce);

#endif
