/* common/waiter.c - see waiter.h. */
#include "common/waiter.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>

#include "common/util.h"

#define NWAIT 256

static struct {
	bool used;
	uint64_t since_ns;
	char thread[16];
	char what[112];
} slots[NWAIT];			/* protected by wait_lock */
static pthread_mutex_t wait_lock = PTHREAD_MUTEX_INITIALIZER;

int mm_waiter_begin(const char *what)
{
	char tname[16] = "";

	prctl(PR_GET_NAME, tname, 0, 0, 0);
	pthread_mutex_lock(&wait_lock);
	for (int i = 0; i < NWAIT; i++) {
		if (slots[i].used)
			continue;
		slots[i].used = true;
		slots[i].since_ns = mm_now_ns();
		memcpy(slots[i].thread, tname, sizeof(tname));
		snprintf(slots[i].what, sizeof(slots[i].what), "%s", what);
		pthread_mutex_unlock(&wait_lock);
		return i;
	}
	pthread_mutex_unlock(&wait_lock);
	return -1;
}

void mm_waiter_end(int slot)
{
	if (slot < 0 || slot >= NWAIT)
		return;
	pthread_mutex_lock(&wait_lock);
	slots[slot].used = false;
	pthread_mutex_unlock(&wait_lock);
}

void mm_waiters_each(uint64_t min_ms, mm_waiter_fn fn, void *arg)
{
	uint64_t now = mm_now_ns();

	for (int i = 0; i < NWAIT; i++) {
		char thread[16], what[112];
		uint64_t age;

		pthread_mutex_lock(&wait_lock);
		if (!slots[i].used) {
			pthread_mutex_unlock(&wait_lock);
			continue;
		}
		age = now > slots[i].since_ns ? (now - slots[i].since_ns) / 1000000 : 0;
		memcpy(thread, slots[i].thread, sizeof(thread));
		memcpy(what, slots[i].what, sizeof(what));
		pthread_mutex_unlock(&wait_lock);
		if (age >= min_ms)
			fn(thread, what, age, arg);
	}
}
