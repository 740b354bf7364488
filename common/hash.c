/*
 * common/hash.c - the intrusive hash table (hash.h).
 */
#include "common/hash.h"

#include <stdlib.h>

#include "common/bug.h"
#include "common/err.h"

static size_t pow2_at_least(size_t n)
{
	size_t p = 16;

	while (p < n)
		p <<= 1;
	return p;
}

int mm_htab_init(struct mm_htab *t, size_t nbuckets)
{
	t->nbuckets = pow2_at_least(nbuckets);
	t->min_buckets = t->nbuckets;
	t->count = 0;
	t->buckets = calloc(t->nbuckets, sizeof(*t->buckets));
	return t->buckets ? MM_OK : MM_ENOMEM;
}

void mm_htab_free(struct mm_htab *t)
{
	free(t->buckets);
	t->buckets = NULL;
	t->nbuckets = t->count = 0;
}

static void grow(struct mm_htab *t)
{
	size_t nb = t->nbuckets * 2;
	struct mm_hnode **b = calloc(nb, sizeof(*b));

	if (!b)
		return;
	for (size_t i = 0; i < t->nbuckets; i++) {
		struct mm_hnode *n = t->buckets[i], *next;

		for (; n; n = next) {
			next = n->next;
			n->next = b[n->hash & (nb - 1)];
			b[n->hash & (nb - 1)] = n;
		}
	}
	free(t->buckets);
	t->buckets = b;
	t->nbuckets = nb;
}

int mm_htab_insert(struct mm_htab *t, struct mm_hnode *n, uint64_t hash)
{
	struct mm_hnode **b;

	if (t->count >= t->nbuckets)
		grow(t);
	b = &t->buckets[hash & (t->nbuckets - 1)];
	n->hash = hash;
	n->next = *b;
	*b = n;
	t->count++;
	return MM_OK;
}

struct mm_hnode *mm_htab_find(const struct mm_htab *t, uint64_t hash, mm_hash_eq_fn eq,
			      const void *key)
{
	struct mm_hnode *n = t->buckets[hash & (t->nbuckets - 1)];

	for (; n; n = n->next)
		if (n->hash == hash && eq(n, key))
			return n;
	return NULL;
}

void mm_htab_remove(struct mm_htab *t, struct mm_hnode *n)
{
	struct mm_hnode **pp = &t->buckets[n->hash & (t->nbuckets - 1)];

	while (*pp && *pp != n)
		pp = &(*pp)->next;
	MM_BUG_ON(n, *pp != n);	/* not in the table */
	*pp = n->next;
	n->next = NULL;
	t->count--;
}

void mm_htab_each(struct mm_htab *t, void (*fn)(struct mm_hnode *n, void *arg), void *arg)
{
	for (size_t i = 0; i < t->nbuckets; i++) {
		struct mm_hnode *n = t->buckets[i], *next;

		for (; n; n = next) {
			next = n->next;
			fn(n, arg);
		}
	}
}
