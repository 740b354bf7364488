/*
 * tokens/mode.c - kinds, modes and the tables that relate them, as data
 * (tokens/README.md "Modes"), like lmgr's LockConflicts[] and
 * lock_mode_names[]. No if-chains decide compatibility anywhere else.
 *
 *   1. names: tok_kind_name, tok_mode_name
 *   2. tables: conflict, covers, join, keep
 *   3. keys: hash, total order, which server serves a key
 */
#include "tokens/tok_int.h"

#include "common/hash.h"

/* ---- 1. names ---- */

static const char *const tok_mode_names[TOK_NMODES] = {
	[TOK_NONE] = "none",
	[TOK_RO] = "ro",
	[TOK_WS] = "ws",
	[TOK_XW] = "xw",
};

static const char *const tok_kind_names[TOK_NKINDS] = {
	[TOK_INODE] = "inode",
	[TOK_BR] = "br",
	[TOK_DIRBLK] = "dirblk",
	[TOK_ALLOC] = "alloc",
	[TOK_IALLOC] = "ialloc",
	[TOK_META] = "meta",
	[TOK_GENERIC] = "generic",
};

const char *tok_mode_name(enum tok_mode m)
{
	return (unsigned)m < TOK_NMODES ? tok_mode_names[m] : "?";
}

const char *tok_kind_name(enum tok_kind k)
{
	return (unsigned)k < TOK_NKINDS ? tok_kind_names[k] : "?";
}

bool tok_kind_valid(unsigned kind)
{
	return kind < TOK_NKINDS;
}

bool tok_mode_valid(unsigned mode)
{
	return mode > TOK_NONE && mode < TOK_NMODES;
}

/* ---- 2. tables ---- */

/* Bit b of tok_conflicts[a] is set iff a held mode a conflicts with b
 * (symmetric). Holders on one node share or exclude by the same table. */
#define B(m) (1u << (m))
static const unsigned tok_conflicts[TOK_NMODES] = {
	[TOK_NONE] = 0,
	[TOK_RO] = B(TOK_WS) | B(TOK_XW),
	[TOK_WS] = B(TOK_RO) | B(TOK_XW),
	[TOK_XW] = B(TOK_RO) | B(TOK_WS) | B(TOK_XW),
};

/* Bit b of tok_covers[a]: holding a lets a holder have b. */
static const unsigned tok_covers[TOK_NMODES] = {
	[TOK_NONE] = B(TOK_NONE),
	[TOK_RO] = B(TOK_NONE) | B(TOK_RO),
	[TOK_WS] = B(TOK_NONE) | B(TOK_WS),
	[TOK_XW] = B(TOK_NONE) | B(TOK_RO) | B(TOK_WS) | B(TOK_XW),
};
#undef B

/* The weakest mode that covers both: what an upgrade asks for. */
static const unsigned char tok_join[TOK_NMODES][TOK_NMODES] = {
	/*            none     ro      ws      xw */
	[TOK_NONE] = {TOK_NONE, TOK_RO, TOK_WS, TOK_XW},
	[TOK_RO] = {TOK_RO, TOK_RO, TOK_XW, TOK_XW},
	[TOK_WS] = {TOK_WS, TOK_XW, TOK_WS, TOK_XW},
	[TOK_XW] = {TOK_XW, TOK_XW, TOK_XW, TOK_XW},
};

/* tok_keep[held][wanted]: what a holder keeps of <held> when another node
 * wants <wanted> there: itself if they do not conflict, else the
 * strongest mode <held> covers that does not conflict (an exclusive
 * holder downgrades to ro for a reader, to ws for a shared writer), so a
 * local holder that does not conflict with <wanted> stays covered. */
static const unsigned char tok_keep[TOK_NMODES][TOK_NMODES] = {
	/*            none      ro        ws        xw */
	[TOK_NONE] = {TOK_NONE, TOK_NONE, TOK_NONE, TOK_NONE},
	[TOK_RO] = {TOK_RO, TOK_RO, TOK_NONE, TOK_NONE},
	[TOK_WS] = {TOK_WS, TOK_NONE, TOK_WS, TOK_NONE},
	[TOK_XW] = {TOK_XW, TOK_RO, TOK_WS, TOK_NONE},
};

_Static_assert(TOK_NMODES == 4, "the mode tables above have four rows");

bool tok_modes_conflict(enum tok_mode a, enum tok_mode b)
{
	return (unsigned)a < TOK_NMODES && (unsigned)b < TOK_NMODES &&
	       (tok_conflicts[a] >> b & 1u);
}

bool tok_mode_covers(enum tok_mode held, enum tok_mode want)
{
	return (unsigned)held < TOK_NMODES && (unsigned)want < TOK_NMODES &&
	       (tok_covers[held] >> want & 1u);
}

enum tok_mode tok_mode_join(enum tok_mode a, enum tok_mode b)
{
	return (enum tok_mode)tok_join[a & 3][b & 3];
}

enum tok_mode tok_mode_keep(enum tok_mode held, enum tok_mode want)
{
	return (enum tok_mode)tok_keep[held & 3][want & 3];
}

/* ---- 3. keys ---- */

uint64_t tok_key_hash(const struct tok_key *k)
{
	return mm_hash_u64(k->obj ^ mm_hash_u64(((uint64_t)k->space << 8) | k->kind));
}

int tok_key_cmp(const struct tok_key *a, uint64_t astart, const struct tok_key *b, uint64_t bstart)
{
	if (a->space != b->space)
		return a->space < b->space ? -1 : 1;
	if (a->kind != b->kind)
		return a->kind < b->kind ? -1 : 1;
	if (a->obj != b->obj)
		return a->obj < b->obj ? -1 : 1;
	if (astart != bstart)
		return astart < bstart ? -1 : 1;
	return 0;
}

uint32_t tok_server_for(const uint32_t *servers, size_t n, const struct tok_key *k)
{
	if (n == 0)
		return TOK_NODE_NONE;
	return servers[tok_key_hash(k) % n];
}
