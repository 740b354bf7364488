/*
 * tokens/proto.c - the token message codec (layout in tok_int.h, message
 * flows in tokens/README.md). Decoding is strict: every field is checked
 * against its type and every reserved byte must be zero, so a message
 * either decodes to something the state machines accept as well-formed or
 * is refused with a reason; it never reads past <len>.
 */
#include "tokens/tok_int.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "common/err.h"
#include "common/wire.h"

static const char *const tok_msg_names[TOK_MSG_NTYPES] = {
	[TOK_MSG_ACQ] = "acquire",
	[TOK_MSG_GRANT] = "grant",
	[TOK_MSG_CONFLICT] = "conflict",
	[TOK_MSG_REVOKE] = "revoke",
	[TOK_MSG_REVOKED] = "revoked",
	[TOK_MSG_RELINQ] = "relinquish",
	[TOK_MSG_RELINQ_ACK] = "relinquish-ack",
	[TOK_MSG_REASSERT] = "reassert",
	[TOK_MSG_REASSERT_DONE] = "reassert-done",
	[TOK_MSG_RECOVERED] = "recovered",
	[TOK_MSG_DROP] = "drop",
};

/* What each type carries: a mode, a range, a desired range, entries. */
enum { F_MODE = 1, F_RANGE = 2, F_DES = 4, F_ENT = 8 };
static const unsigned char tok_msg_fields[TOK_MSG_NTYPES] = {
	[TOK_MSG_ACQ] = F_MODE | F_RANGE | F_DES,
	[TOK_MSG_GRANT] = F_MODE | F_RANGE,
	[TOK_MSG_CONFLICT] = F_MODE | F_RANGE | F_ENT,
	[TOK_MSG_REVOKE] = F_MODE | F_RANGE | F_DES,
	[TOK_MSG_REVOKED] = 0,
	[TOK_MSG_RELINQ] = F_MODE | F_RANGE,
	[TOK_MSG_RELINQ_ACK] = 0,
	[TOK_MSG_REASSERT] = F_MODE | F_RANGE,
	[TOK_MSG_REASSERT_DONE] = 0,
	[TOK_MSG_RECOVERED] = 0,
	[TOK_MSG_DROP] = 0,
};

const char *tok_msg_type_name(unsigned type)
{
	return type > 0 && type < TOK_MSG_NTYPES ? tok_msg_names[type] : "?";
}

bool tok_msg_for_server(const void *buf, size_t len)
{
	const uint8_t *p = buf;

	return len >= 2 && (p[1] == TOK_MSG_ACQ || p[1] == TOK_MSG_RELINQ ||
			    p[1] == TOK_MSG_REASSERT || p[1] == TOK_MSG_REASSERT_DONE);
}

size_t tok_msg_encode(const struct tok_msg *m, uint8_t *out)
{
	uint16_t n = m->type == TOK_MSG_CONFLICT ? m->n : 0;

	memset(out, 0, TOK_MSG_HDR);
	out[0] = TOK_PROTO_VERSION;
	out[1] = m->type;
	out[2] = m->key.kind;
	out[3] = m->mode;
	mm_be32_put(out + 4, m->key.space);
	mm_be64_put(out + 8, m->reqid);
	mm_be64_put(out + 16, m->key.obj);
	mm_be64_put(out + 24, m->r.start);
	mm_be64_put(out + 32, m->r.end);
	mm_be64_put(out + 40, m->des.start);
	mm_be64_put(out + 48, m->des.end);
	mm_be16_put(out + 56, n);
	mm_be32_put(out + 60, m->epoch);
	for (uint16_t i = 0; i < n; i++) {
		uint8_t *e = out + TOK_MSG_HDR + (size_t)i * TOK_MSG_ENT;

		memset(e, 0, TOK_MSG_ENT);
		mm_be32_put(e, m->ent[i].node);
		e[4] = m->ent[i].mode;
		mm_be64_put(e + 8, m->ent[i].r.start);
		mm_be64_put(e + 16, m->ent[i].r.end);
	}
	return TOK_MSG_HDR + (size_t)n * TOK_MSG_ENT;
}

static bool zero(const uint8_t *p, size_t n)
{
	while (n--)
		if (*p++)
			return false;
	return true;
}

#define REFUSE(...)                                     \
	do {                                            \
		snprintf(err, errsz, __VA_ARGS__);      \
		return MM_EPROTO;                       \
	} while (0)

/* A range of a message: start < end, and [0, inf) for non-BR kinds. */
static int check_range(uint8_t kind, struct tok_range r, const char *what, char *err, size_t errsz)
{
	if (r.start >= r.end)
		REFUSE("%s range [%" PRIu64 ", %" PRIu64 ") is empty", what, r.start, r.end);
	if (kind != TOK_BR && (r.start != 0 || r.end != TOK_INF))
		REFUSE("%s range of a %s token is not [0, inf)", what, tok_kind_name(kind));
	return MM_OK;
}

int tok_msg_decode(const void *buf, size_t len, struct tok_msg *m, char *err, size_t errsz)
{
	const uint8_t *p = buf;
	unsigned f;

	if (len < TOK_MSG_HDR)
		REFUSE("short message: %zu bytes, header is %u", len, TOK_MSG_HDR);
	if (p[0] != TOK_PROTO_VERSION)
		REFUSE("version %u, want %u", p[0], TOK_PROTO_VERSION);
	if (p[1] == 0 || p[1] >= TOK_MSG_NTYPES)
		REFUSE("unknown message type %u", p[1]);
	m->type = p[1];
	f = tok_msg_fields[m->type];
	if (!tok_kind_valid(p[2]))
		REFUSE("unknown token kind %u", p[2]);
	m->key.kind = p[2];
	m->mode = p[3];
	m->key.space = mm_be32_get(p + 4);
	m->reqid = mm_be64_get(p + 8);
	m->key.obj = mm_be64_get(p + 16);
	m->r.start = mm_be64_get(p + 24);
	m->r.end = mm_be64_get(p + 32);
	m->des.start = mm_be64_get(p + 40);
	m->des.end = mm_be64_get(p + 48);
	m->n = mm_be16_get(p + 56);
	m->epoch = mm_be32_get(p + 60);
	if (!zero(p + 58, 2))
		REFUSE("reserved header bytes are not zero");
	if (m->reqid == 0)
		REFUSE("%s with request id 0", tok_msg_type_name(m->type));
	if ((f & F_MODE) ? !tok_mode_valid(m->mode) : m->mode != 0)
		REFUSE("%s with mode %u", tok_msg_type_name(m->type), m->mode);
	if (f & F_RANGE) {
		if (check_range(m->key.kind, m->r, "the", err, errsz))
			return MM_EPROTO;
	} else if (m->r.start || m->r.end) {
		REFUSE("%s carries a range", tok_msg_type_name(m->type));
	}
	if (f & F_DES) {
		if (check_range(m->key.kind, m->des, "the desired", err, errsz))
			return MM_EPROTO;
		if (m->des.start > m->r.start || m->des.end < m->r.end)
			REFUSE("desired range does not contain the required range");
	} else if (m->des.start || m->des.end) {
		REFUSE("%s carries a desired range", tok_msg_type_name(m->type));
	}
	if (!(f & F_ENT) && m->n)
		REFUSE("%s carries %u entries", tok_msg_type_name(m->type), m->n);
	if ((f & F_ENT) && (m->n == 0 || m->n > TOK_MAX_CONFLICTS))
		REFUSE("conflict with %u holders (1 to %u)", m->n, TOK_MAX_CONFLICTS);
	if (len != TOK_MSG_HDR + (size_t)m->n * TOK_MSG_ENT)
		REFUSE("%s of %zu bytes, want %zu", tok_msg_type_name(m->type), len,
		       TOK_MSG_HDR + (size_t)m->n * TOK_MSG_ENT);
	for (uint16_t i = 0; i < m->n; i++) {
		const uint8_t *e = p + TOK_MSG_HDR + (size_t)i * TOK_MSG_ENT;
		struct tok_ent *t = &m->ent[i];

		t->node = mm_be32_get(e);
		t->mode = e[4];
		t->r.start = mm_be64_get(e + 8);
		t->r.end = mm_be64_get(e + 16);
		if (t->node == TOK_NODE_NONE)
			REFUSE("conflict entry %u names no node", i);
		if (!tok_mode_valid(t->mode))
			REFUSE("conflict entry %u with mode %u", i, t->mode);
		if (!zero(e + 5, 3))
			REFUSE("conflict entry %u: reserved bytes are not zero", i);
		if (check_range(m->key.kind, t->r, "a holder's", err, errsz))
			return MM_EPROTO;
	}
	return MM_OK;
}
