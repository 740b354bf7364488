/*
 * common/hash.h - an intrusive chained hash table (2026-12-06).
 *
 * Embed a struct mm_hnode in the object and give every insert and lookup
 * the key's 64-bit hash; a lookup also takes an equality callback, so keys
 * of any shape (a token's space, kind, object id and range) work. The
 * table grows (doubling, rehashing every node) when it holds more nodes
 * than buckets; it never shrinks below its initial size. No locking: the
 * caller serialises, or partitions its keys over several tables.
 *
 * Return convention: 0 or MM_ENOMEM (only mm_htab_init and a grow in
 * mm_htab_insert allocate; a failed grow still inserts, into the old
 * buckets, and returns 0: the table just gets slower).
 */
#ifndef MM_COMMON_HASH_H
#define MM_COMMON_HASH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct mm_hnode {
	struct mm_hnode *next;
	uint64_t hash;
};

struct mm_htab {
	struct mm_hnode **buckets;
	size_t nbuckets;		/* a power of two */
	size_t count;
	size_t min_buckets;
};

/* Does node <n> hold key <key>? */
typedef bool (*mm_hash_eq_fn)(const struct mm_hnode *n, const void *key);

/* <nbuckets> is rounded up to a power of two (at least 16). */
int mm_htab_init(struct mm_htab *t, size_t nbuckets);
/* Frees the buckets, not the nodes. */
void mm_htab_free(struct mm_htab *t);
/* Insert <n> under <hash> (duplicates are the caller's business). */
int mm_htab_insert(struct mm_htab *t, struct mm_hnode *n, uint64_t hash);
/* The node under <hash> for which <eq>(node, <key>) holds, or NULL. */
struct mm_hnode *mm_htab_find(const struct mm_htab *t, uint64_t hash, mm_hash_eq_fn eq,
			      const void *key);
/* Remove <n>, which must be in the table. */
void mm_htab_remove(struct mm_htab *t, struct mm_hnode *n);
/* Visit every node; <fn> may remove the node it is given (not others). */
void mm_htab_each(struct mm_htab *t, void (*fn)(struct mm_hnode *n, void *arg), void *arg);

/* A good 64-bit mix for integer keys (splitmix64's finaliser). */
static inline uint64_t mm_hash_u64(uint64_t x)
{
	x ^= x >> 30;
	x *= 0xbf58476d1ce4e5b9ULL;
	x ^= x >> 27;
	x *= 0x94d049bb133111ebULL;
	x ^= x >> 31;
	return x;
}

#endif
