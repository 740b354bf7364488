/*
 * fs/oset.c - a set of inode numbers (fs/oset.h): open addressing with
 * linear probing, 0 marks an empty slot, deletion by backward shift (no
 * tombstones, so a set that churns never slows down).
 */
#include "fs/oset.h"

#include <stdlib.h>

#include "common/err.h"

static size_t oset_home(const struct oset *o, uint64_t ino)
{
	return (size_t)((ino * 0x9e3779b97f4a7c15ull) >> 20) & (o->cap - 1);
}

bool oset_has(const struct oset *o, uint64_t ino)
{
	if (!o->cap)
		return false;
	for (size_t i = oset_home(o, ino);; i = (i + 1) & (o->cap - 1)) {
		if (o->v[i] == ino)
			return true;
		if (!o->v[i])
			return false;
	}
}

int oset_add(struct oset *o, uint64_t ino)
{
	size_t i;

	if (!ino || oset_has(o, ino))
		return MM_OK;
	if (2 * (o->n + 1) > o->cap) {
		struct oset g = {.cap = o->cap ? 2 * o->cap : 64};

		g.v = calloc(g.cap, sizeof(*g.v));
		if (!g.v)
			return MM_ENOMEM;
		for (size_t k = 0; k < o->cap; k++)
			if (o->v[k])
				oset_add(&g, o->v[k]);
		free(o->v);
		*o = g;
	}
	for (i = oset_home(o, ino); o->v[i]; i = (i + 1) & (o->cap - 1))
		;
	o->v[i] = ino;
	o->n++;
	return MM_OK;
}

void oset_del(struct oset *o, uint64_t ino)
{
	size_t i, j;

	if (!o->cap)
		return;
	for (i = oset_home(o, ino); o->v[i] != ino; i = (i + 1) & (o->cap - 1))
		if (!o->v[i])
			return;
	/* backward shift: later entries of the run move into the hole when
	 * their home does not lie between the hole and them */
	for (j = i;;) {
		size_t h;

		o->v[i] = 0;
		for (;;) {
			j = (j + 1) & (o->cap - 1);
			if (!o->v[j]) {
				o->n--;
				return;
			}
			h = oset_home(o, o->v[j]);
			if (i <= j ? (h <= i || h > j) : (h <= i && h > j))
				break;
		}
		o->v[i] = o->v[j];
		i = j;
	}
}

void oset_clear(struct oset *o)
{
	free(o->v);
	*o = (struct oset){0};
}

/* At most <max> members into <out> (room for them); how many. */
size_t oset_list(const struct oset *o, uint64_t *out, size_t max)
{
	size_t k = 0;

	for (size_t i = 0; i < o->cap && k < max; i++)
		if (o->v[i])
			out[k++] = o->v[i];
	return k;
}
