/*
 * cluster/etcd_watch.c - etcd watches (see etcd.h): each on its own
 * thread, over one /v3/watch stream at a time, reconnecting by itself.
 *
 * Entry points: etcd_watch_start, etcd_watch_stop.
 *
 * Map of this file:
 *   1. The watch stream, as measured, and how we use it
 *   2. The watch thread: messages, one connection, reconnecting
 *   3. Start and stop
 * Related: cluster/etcd.c (endpoints, curl options, failure
 * classification: etcd_ep_list_get, etcd_setup_handle, etcd_classify_curl),
 * cluster/etcd_req.c (the create request), cluster/etcd_json.c (the
 * message parser and the stream splitter), cluster/etcd_int.h.
 *
 * ---- 1. The watch stream (2026-11-21, etcd 3.4.23 from Debian) ----
 *
 * - Watch: the first message is {"result":{"header":..,"created":true}};
 *   then one message per revision batch: "events":[{"kv":{..}}, {"type":
 *   "DELETE","kv":{"key","mod_revision"}}]. A start revision older than
 *   the compaction answers created, then {"canceled":true,
 *   "compact_revision":"7"}. An empty range answers created+canceled with
 *   "cancel_reason". With "progress_notify":true, a silent watch gets a
 *   header-only message every --experimental-watch-progress-notify-interval
 *   (10 min by default, etcd_sup sets ETCD_PROGRESS_INTERVAL_S); etcd 3.4
 *   has no per-watch interval field. A stream silent for
 *   ETCD_WATCH_IDLE_MS is reconnected from the next revision.
 * - The watch's first message confirms creation: etcd_watch_start waits for
 *   it (up to timeout_ms, one pass over the endpoints), so "now" (start_rev
 *   0) means "before etcd_watch_start returned". Callbacks may run before
 *   it returns. A break is reported once per outage (n == 0, err != 0),
 *   then the thread reconnects (next endpoint; back-off 100 ms doubling to
 *   2 s) from the last event's mod_revision + 1, or the last progress
 *   notification's revision + 1.
 */
#include "cluster/etcd.h"

#include <curl/curl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "cluster/etcd_int.h"
#include "common/err.h"
#include "common/log.h"
#include "common/thread.h"
#include "common/util.h"

#define SUB "etcd"

/* ---- 2. The watch thread ---- */

/*
 * The watch thread runs connections one after another on one easy handle
 * inside a multi handle, so that etcd_watch_stop can wake curl_multi_poll
 * at once (curl_multi_wakeup) instead of waiting for a progress callback.
 */
struct etcd_watch {
	etcd_client *c;
	char *key, *end;		/* raw key range (end may hold a NUL) */
	size_t klen, elen;
	etcd_watch_fn fn;
	void *arg;
	CURLM *multi;
	CURL *h;
	pthread_t thr;
	atomic_bool stop;

	pthread_mutex_t lock;
	pthread_cond_t cond;		/* signals a change of start_rc */
	int start_rc;			/* protected by lock: 1 pending, 0 created, <0 failed */

	/* watch thread only: */
	bool started;			/* the first stream was created */
	bool healthy;			/* no break reported since the last creation */
	int64_t next_rev;		/* resume from here; 0: now */
	struct etcd_jsplit split;
	bool created;			/* this connection's stream was created */
	int stream_err;			/* why this connection's stream is ending */
	uint64_t last_rx_ms;
};

/* Tell etcd_watch_start how the start went; false if it gave up already. */
static bool watch_set_start(etcd_watch *w, int rc)
{
	bool won = false;

	pthread_mutex_lock(&w->lock);
	if (w->start_rc == 1) {
		w->start_rc = rc;
		won = true;
		pthread_cond_broadcast(&w->cond);
	}
	pthread_mutex_unlock(&w->lock);
	return won;
}

/* Report a broken stream once per outage (and never before the start). */
static void watch_report(etcd_watch *w, int err)
{
	if (!w->started || !w->healthy)
		return;
	w->healthy = false;
	w->fn(NULL, 0, err, w->arg);
}

/* One complete stream message (called by the splitter). */
static int watch_on_msg(const char *obj, size_t len, void *arg)
{
	etcd_watch *w = arg;
	struct etcd_watch_msg m;
	int rc = etcd_parse_watch_msg(obj, len, &m);

	if (rc)
		return rc;
	if (m.err) {
		mm_info(SUB, "watch stream ended by etcd: %s", mm_errname(m.err));
		rc = m.err;
		goto out;
	}
	if (m.created) {
		w->created = true;
		if (w->next_rev == 0)
			w->next_rev = m.rev + 1;	/* events after the creation */
		if (!w->started) {
			if (!watch_set_start(w, MM_OK)) {
				atomic_store(&w->stop, true);	/* the starter timed out */
				rc = MM_ESHUTDOWN;
				goto out;
			}
			w->started = true;
		}
		w->healthy = true;
	}
	if (m.canceled) {
		if (m.compact_rev > 0) {
			mm_warn(SUB, "watch from revision %lld: compacted up to %lld; restarting from now",
				(long long)w->next_rev, (long long)m.compact_rev);
			w->next_rev = 0;
			if (w->started) {
				w->healthy = true;	/* always report this one */
				watch_report(w, MM_ECONFLICT);
			}
			rc = MM_ECONFLICT;
		} else {
			mm_warn(SUB, "watch canceled by etcd: %s",
				m.cancel_reason[0] ? m.cancel_reason : "no reason given");
			rc = MM_ESTATE;
		}
		goto out;
	}
	if (m.nev) {
		w->next_rev = m.ev[m.nev - 1].kv.mod_rev + 1;
		w->fn(m.ev, m.nev, 0, w->arg);
	} else if (!m.created && m.rev >= w->next_rev) {
		w->next_rev = m.rev + 1;	/* progress: all up to m.rev was sent */
	}
out:
	etcd_watch_msg_clear(&m);
	return rc;
}

static size_t watch_write(char *data, size_t sz, size_t nmemb, void *arg)
{
	etcd_watch *w = arg;
	size_t n = sz * nmemb;
	int rc;

	w->last_rx_ms = mm_now_ms();
	rc = etcd_jsplit_feed(&w->split, data, n, watch_on_msg, w);
	if (rc) {
		w->stream_err = rc;
		return 0;	/* abort this connection */
	}
	return n;
}

enum { WATCH_STOPPED = 1, WATCH_IDLE = 2 };

/* Run one watch connection to <url> until it ends. Returns WATCH_STOPPED,
 * WATCH_IDLE (silent for too long) or an MM_E* code (< 0). */
static int watch_once(etcd_watch *w, const char *url)
{
	char *body = etcd_req_watch(w->key, w->klen, w->end, w->elen, w->next_rev);
	char errbuf[CURL_ERROR_SIZE];
	int result = MM_OK, running = 1;

	if (!body)
		return MM_ENOMEM;
	curl_easy_reset(w->h);
	etcd_setup_handle(w->c, w->h, url, errbuf);
	curl_easy_setopt(w->h, CURLOPT_POSTFIELDS, body);
	curl_easy_setopt(w->h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)strlen(body));
	curl_easy_setopt(w->h, CURLOPT_WRITEFUNCTION, watch_write);
	curl_easy_setopt(w->h, CURLOPT_WRITEDATA, w);
	curl_easy_setopt(w->h, CURLOPT_CONNECTTIMEOUT_MS, (long)etcd_connect_timeout_ms(w->c));
	etcd_jsplit_free(&w->split);
	w->created = false;
	w->stream_err = MM_OK;
	w->last_rx_ms = mm_now_ms();
	curl_multi_add_handle(w->multi, w->h);
	for (;;) {
		CURLMsg *msg;
		int left;

		curl_multi_perform(w->multi, &running);
		while ((msg = curl_multi_info_read(w->multi, &left))) {
			bool next, maybe_sent;

			if (msg->msg != CURLMSG_DONE)
				continue;
			if (w->stream_err)
				result = w->stream_err;
			else if (msg->data.result == CURLE_OK)
				result = MM_ECLOSED;	/* etcd ended the stream */
			else
				result = etcd_classify_curl(w->h, msg->data.result, errbuf,
						       w->c->ca != NULL, &next, &maybe_sent);
			/* a reconnect loop: each cause once while it lasts */
			if (!w->stream_err)
				mm_log_trouble(url, MM_LOG_INFO, SUB, "watch on %s ended: %s (%s)", url,
					       errbuf[0] ? errbuf : curl_easy_strerror(msg->data.result),
					       mm_errname(result));
			running = 0;
		}
		if (!running)
			break;
		if (atomic_load(&w->stop)) {
			result = WATCH_STOPPED;
			break;
		}
		if (mm_now_ms() - w->last_rx_ms > ETCD_WATCH_IDLE_MS) {
			mm_info(SUB, "watch on %s silent for %d ms, reconnecting", url,
				ETCD_WATCH_IDLE_MS);
			result = WATCH_IDLE;
			break;
		}
		curl_multi_poll(w->multi, NULL, 0, 1000, NULL);
	}
	curl_multi_remove_handle(w->multi, w->h);
	free(body);
	if (result == MM_OK)
		result = MM_ECLOSED;
	return result;
}

/* Sleep <ms> unless stopped; true if stopped. */
static bool watch_pause(etcd_watch *w, unsigned ms)
{
	uint64_t until = mm_now_ms() + ms;

	while (!atomic_load(&w->stop)) {
		uint64_t now = mm_now_ms();

		if (now >= until)
			return false;
		curl_multi_poll(w->multi, NULL, 0, (int)(until - now), NULL);
	}
	return true;
}

static void *watch_main(void *arg)
{
	etcd_watch *w = arg;
	unsigned backoff = 100, start_fails = 0;
	int start_err = MM_OK;
	size_t epi = 0;
	bool first = true;

	while (!atomic_load(&w->stop)) {
		struct etcd_ep_list *l;
		size_t pref, n;
		char url[512];
		int rc;

		l = etcd_ep_list_get(w->c, &pref);
		n = l->n;
		if (first)
			epi = pref;
		first = false;
		rc = mm_snprintf(url, sizeof(url), "%s/v3/watch", l->url[epi % n]);
		etcd_ep_list_unref(w->c, l);
		if (rc == MM_OK)
			rc = watch_once(w, url);
		if (rc == WATCH_STOPPED)
			break;
		if (rc == MM_ECONFLICT)
			continue;		/* restart from now, same endpoint */
		epi++;				/* otherwise try the next endpoint */
		if (!w->started) {
			/* like a unary call: one pass over the endpoints */
			if (rc != WATCH_IDLE)
				start_err = etcd_err_worse(start_err, rc);
			if (++start_fails >= n) {
				watch_set_start(w, start_err ? start_err : MM_ETIMEDOUT);
				break;
			}
			continue;
		}
		if (rc == WATCH_IDLE) {
			if (w->created)
				continue;	/* was fine, went silent: reconnect quietly */
			rc = MM_ETIMEDOUT;	/* never confirmed: a failure */
		}
		watch_report(w, rc);
		if (w->created && rc != MM_ESTATE)
			backoff = 100;		/* it worked a moment ago */
		if (watch_pause(w, backoff))
			break;
		backoff = MM_MIN(backoff * 2, 2000u);
	}
	return NULL;
}

/* ---- 3. Start and stop ---- */

/* Free <w>, whose thread is not running (or never ran). */
static void watch_free(etcd_watch *w)
{
	if (w->multi)
		curl_multi_cleanup(w->multi);
	if (w->h)
		curl_easy_cleanup(w->h);
	etcd_jsplit_free(&w->split);
	free(w->key);
	free(w->end);
	pthread_cond_destroy(&w->cond);
	pthread_mutex_destroy(&w->lock);
	free(w);
}

int etcd_watch_start(etcd_client *c, const char *prefix, int64_t start_rev,
		     etcd_watch_fn fn, void *arg, etcd_watch **out)
{
	etcd_watch *w;
	uint64_t deadline;
	int rc;

	*out = NULL;
	if (!c || !prefix || !fn || start_rev < 0)
		return MM_EINVAL;
	w = calloc(1, sizeof(*w));
	if (!w)
		return MM_ENOMEM;
	w->c = c;
	w->fn = fn;
	w->arg = arg;
	w->next_rev = start_rev;
	w->start_rc = 1;
	w->healthy = true;
	atomic_init(&w->stop, false);
	pthread_mutex_init(&w->lock, NULL);
	mm_cond_init(&w->cond);
	etcd_jsplit_init(&w->split);
	w->klen = strlen(prefix);
	w->key = malloc(w->klen ? w->klen : 1);
	w->end = etcd_prefix_end(prefix, w->klen, &w->elen);
	w->multi = curl_multi_init();
	w->h = curl_easy_init();
	if (!w->key || !w->end || !w->multi || !w->h) {
		rc = MM_ENOMEM;
		goto fail;
	}
	if (w->klen) {
		memcpy(w->key, prefix, w->klen);
	} else {
		w->key[0] = '\0';	/* every key: "\0" .. "\0" */
		w->klen = 1;
	}
	rc = mm_thread_start(&w->thr, "etcd-watch", watch_main, w);
	if (rc)
		goto fail;
	/* wait for etcd to confirm the watch (or one pass to fail) */
	deadline = mm_now_ms() + (uint64_t)c->timeout_ms;
	pthread_mutex_lock(&w->lock);
	while (w->start_rc == 1) {
		uint64_t now = mm_now_ms();

		if (now >= deadline) {
			w->start_rc = MM_ETIMEDOUT;
			break;
		}
		mm_cond_wait_ms(&w->cond, &w->lock, deadline - now);
	}
	rc = w->start_rc;
	pthread_mutex_unlock(&w->lock);
	if (rc) {
		mm_warn(SUB, "watch on prefix \"%s\" could not start: %s", prefix, mm_errname(rc));
		atomic_store(&w->stop, true);
		curl_multi_wakeup(w->multi);
		pthread_join(w->thr, NULL);
		goto fail;
	}
	*out = w;
	return MM_OK;
fail:
	watch_free(w);
	return rc;
}

void etcd_watch_stop(etcd_watch *w)
{
	if (!w)
		return;
	atomic_store(&w->stop, true);
	curl_multi_wakeup(w->multi);
	pthread_join(w->thr, NULL);
	watch_free(w);
}
