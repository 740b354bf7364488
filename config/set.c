/*
 * config/set.c - cfg_set: one node's effective attribute values.
 *
 * Entry points: cfg_set_new(), cfg_set_free(), cfg_set_value(), cfg_get(),
 * cfg_get_int(), cfg_get_size(), cfg_get_bool(), cfg_is_default(),
 * cfg_set_check(), cfg_local_get(). Internal: cfg_set_apply() (used by
 * cfg_load_file to commit a whole file at once).
 *
 * Locking: one rwlock per set guards vals[] and local[]. Getters take it
 * shared and copy out; writers take it exclusive. No other lock is taken
 * while it is held, and nothing is logged under it.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/err.h"
#include "common/log.h"
#include "common/util.h"
#include "config/config.h"
#include "config/config_int.h"

struct cfg_val {
	char s[CFG_VALUE_MAX];	/* canonical text; always valid for its attr */
	int64_t num;		/* cfg_attr_canon_num(s) */
};

struct cfg_set {
	pthread_rwlock_t lock;
	size_t nvals;			/* == cfg_attr_count(); constant */
	struct cfg_val *vals;		/* protected by lock; by table index */
	size_t nlocal;			/* protected by lock */
	struct cfg_local_item *local;	/* protected by lock */
};

/* hi >= factor * lo, for attributes whose values constrain each other */
static const struct {
	const char *lo, *hi;
	int64_t factor;
} order_rules[] = {
	{"ccrHeartbeatMs", "ccrElectionTimeoutMs", 5},
	{"minMissedPingTimeout", "maxMissedPingTimeout", 1},
	{"nsdMinWorkerThreads", "nsdMaxWorkerThreads", 1},
};

static pthread_rwlock_t *lock_of(const cfg_set *s)
{
	/* the lock is not part of the value: getters on a const set lock */
	return (pthread_rwlock_t *)&s->lock;
}

static void val_store(struct cfg_val *v, const struct cfg_attr *a,
		      const char *canon)
{
	snprintf(v->s, sizeof(v->s), "%s", canon);
	v->num = cfg_attr_canon_num(a, canon);
}

cfg_set *cfg_set_new(void)
{
	cfg_set *s = calloc(1, sizeof(*s));

	if (!s)
		return NULL;
	s->nvals = cfg_attr_count();
	s->vals = calloc(s->nvals, sizeof(*s->vals));
	if (!s->vals || pthread_rwlock_init(&s->lock, NULL) != 0) {
		free(s->vals);
		free(s);
		return NULL;
	}
	for (size_t i = 0; i < s->nvals; i++) {
		const struct cfg_attr *a = cfg_attr_at(i);

		val_store(&s->vals[i], a, a->def);
	}
	return s;
}

void cfg_set_free(cfg_set *s)
{
	if (!s)
		return;
	pthread_rwlock_destroy(&s->lock);
	free(s->vals);
	free(s->local);
	free(s);
}

static int vals_check(const struct cfg_val *vals, char *err, size_t errsz)
{
	for (size_t i = 0; i < MM_ARRAY_SIZE(order_rules); i++) {
		const struct cfg_attr *lo = cfg_attr_find(order_rules[i].lo);
		const struct cfg_attr *hi = cfg_attr_find(order_rules[i].hi);
		int64_t lv, hv, f = order_rules[i].factor;

		if (!lo || !hi)
			continue;
		lv = vals[cfg_attr_index(lo)].num;
		hv = vals[cfg_attr_index(hi)].num;
		if (hv >= f * lv)
			continue;
		if (f == 1)
			cfg_errf(err, errsz, "%s (%lld) must not exceed %s (%lld)",
				 lo->name, (long long)lv, hi->name, (long long)hv);
		else
			cfg_errf(err, errsz, "%s (%lld) must be at least %lld x %s "
				 "(%lld)", hi->name, (long long)hv, (long long)f,
				 lo->name, (long long)lv);
		return MM_EINVAL;
	}
	return MM_OK;
}

int cfg_set_check(const cfg_set *s, char *err, size_t errsz)
{
	int rc;

	pthread_rwlock_rdlock(lock_of(s));
	rc = vals_check(s->vals, err, errsz);
	pthread_rwlock_unlock(lock_of(s));
	return rc;
}

int cfg_set_value(cfg_set *s, const char *name, const char *value,
		  const char *source, char *err, size_t errsz)
{
	const struct cfg_attr *a = cfg_attr_find(name);
	char canon[CFG_VALUE_MAX];
	int rc;

	if (!a) {
		cfg_unknown_attr_msg(name ? name : "", source, err, errsz);
		return MM_ENOENT;
	}
	rc = cfg_attr_validate(a, value, canon, sizeof(canon), source, err, errsz);
	if (rc)
		return rc;
	pthread_rwlock_wrlock(&s->lock);
	val_store(&s->vals[cfg_attr_index(a)], a, canon);
	pthread_rwlock_unlock(&s->lock);
	return MM_OK;
}

static int local_merge(cfg_set *s, const struct cfg_local_item *locals,
		       size_t nlocal)
{
	for (size_t i = 0; i < nlocal; i++) {
		size_t j;

		for (j = 0; j < s->nlocal; j++)
			if (strcmp(s->local[j].name, locals[i].name) == 0)
				break;
		if (j == s->nlocal) {
			struct cfg_local_item *nl;

			nl = realloc(s->local, (s->nlocal + 1) * sizeof(*nl));
			if (!nl)
				return MM_ENOMEM;
			s->local = nl;
			s->nlocal++;
		}
		s->local[j] = locals[i];
	}
	return MM_OK;
}

int cfg_set_apply(cfg_set *s, const struct cfg_batch_item *items, size_t n,
		  const struct cfg_local_item *locals, size_t nlocal,
		  char *err, size_t errsz)
{
	struct cfg_val *tmp;
	int rc;

	tmp = malloc(s->nvals * sizeof(*tmp));
	if (!tmp) {
		cfg_errf(err, errsz, "out of memory");
		return MM_ENOMEM;
	}
	pthread_rwlock_wrlock(&s->lock);
	memcpy(tmp, s->vals, s->nvals * sizeof(*tmp));
	for (size_t i = 0; i < n; i++)
		val_store(&tmp[items[i].idx], cfg_attr_at(items[i].idx),
			  items[i].canon);
	rc = vals_check(tmp, err, errsz);
	if (rc == MM_OK) {
		/* reserve the local entries first so nothing fails after */
		rc = local_merge(s, locals, nlocal);
		if (rc)
			cfg_errf(err, errsz, "out of memory");
	}
	if (rc == MM_OK)
		memcpy(s->vals, tmp, s->nvals * sizeof(*tmp));
	pthread_rwlock_unlock(&s->lock);
	free(tmp);
	return rc;
}

int cfg_local_get(const cfg_set *s, const char *name, char *buf, size_t bufsz)
{
	int rc = MM_ENOENT;

	if (!name)
		return MM_ENOENT;
	pthread_rwlock_rdlock(lock_of(s));
	for (size_t i = 0; i < s->nlocal; i++) {
		if (strcmp(s->local[i].name, name) == 0) {
			rc = mm_snprintf(buf, bufsz, "%s", s->local[i].value);
			break;
		}
	}
	pthread_rwlock_unlock(lock_of(s));
	return rc;
}

int cfg_get(const cfg_set *s, const char *name, char *buf, size_t bufsz)
{
	const struct cfg_attr *a = cfg_attr_find(name);
	int rc;

	if (!a)
		return MM_ENOENT;
	pthread_rwlock_rdlock(lock_of(s));
	rc = mm_snprintf(buf, bufsz, "%s", s->vals[cfg_attr_index(a)].s);
	pthread_rwlock_unlock(lock_of(s));
	return rc;
}

static const char *type_name(enum cfg_type t)
{
	static const char *const names[] = {
		[CFG_INT] = "an integer", [CFG_SIZE] = "a size",
		[CFG_BOOL] = "a boolean", [CFG_STRING] = "a string",
		[CFG_ENUM] = "an enum",
	};
	return (unsigned)t < MM_ARRAY_SIZE(names) ? names[t] : "?";
}

/* The attribute if it exists and has type <t>; else logs and NULL. */
static const struct cfg_attr *typed_attr(const char *fn, const char *name,
					 enum cfg_type t)
{
	const struct cfg_attr *a = cfg_attr_find(name);

	if (!a) {
		mm_error("config", "%s: unknown attribute \"%s\"", fn,
			 name ? name : "(null)");
		return NULL;
	}
	if (a->type != t) {
		mm_error("config", "%s: %s is %s, not %s", fn, a->name,
			 type_name(a->type), type_name(t));
		return NULL;
	}
	return a;
}

static int64_t get_num(const cfg_set *s, const struct cfg_attr *a)
{
	int64_t v;

	pthread_rwlock_rdlock(lock_of(s));
	v = s->vals[cfg_attr_index(a)].num;
	pthread_rwlock_unlock(lock_of(s));
	return v;
}

int64_t cfg_get_int(const cfg_set *s, const char *name)
{
	const struct cfg_attr *a = typed_attr("cfg_get_int", name, CFG_INT);

	return a ? get_num(s, a) : 0;
}

uint64_t cfg_get_size(const cfg_set *s, const char *name)
{
	const struct cfg_attr *a = typed_attr("cfg_get_size", name, CFG_SIZE);

	return a ? (uint64_t)get_num(s, a) : 0;
}

bool cfg_get_bool(const cfg_set *s, const char *name)
{
	const struct cfg_attr *a = typed_attr("cfg_get_bool", name, CFG_BOOL);

	return a ? get_num(s, a) != 0 : false;
}

bool cfg_is_default(const cfg_set *s, const char *name)
{
	const struct cfg_attr *a = cfg_attr_find(name);
	bool d;

	if (!a) {
		mm_error("config", "cfg_is_default: unknown attribute \"%s\"",
			 name ? name : "(null)");
		return false;
	}
	pthread_rwlock_rdlock(lock_of(s));
	d = strcmp(s->vals[cfg_attr_index(a)].s, a->def) == 0;
	pthread_rwlock_unlock(lock_of(s));
	return d;
}
