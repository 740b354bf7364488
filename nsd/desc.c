/* nsd/desc.c - NSD descriptor encoding and checking (see desc.h). */
#include "nsd/desc.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/crc32c.h"
#include "common/err.h"
#include "common/wire.h"

static const char desc_magic[8] = {'M', 'M', 'F', 'S', 'N', 'S', 'D', '1'};

#define OFF_CRC (NSD_DESC_BYTES - 4)

_Static_assert(NSD_DESC_BYTES % 512 == 0, "descriptor must be whole sectors");
_Static_assert(32 + NSD_NAME_MAX + 1 == 96, "name field is 64 bytes at offset 32");

int nsd_name_valid(const char *name)
{
	size_t n = strlen(name);

	if (n == 0 || n > NSD_NAME_MAX || isdigit((unsigned char)name[0]))
		return 0;
	for (size_t i = 0; i < n; i++)
		if (!isalnum((unsigned char)name[i]) && name[i] != '_')
			return 0;
	return 1;
}

int nsd_desc_encode(const struct nsd_desc *d, uint8_t *buf)
{
	if (!nsd_name_valid(d->name) || d->nsd_id == 0)
		return MM_EINVAL;
	memset(buf, 0, NSD_DESC_BYTES);
	memcpy(buf, desc_magic, 8);
	mm_be32_put(buf + 8, NSD_DESC_VERSION);
	mm_be32_put(buf + 12, NSD_DESC_BYTES);
	mm_be64_put(buf + 16, d->nsd_id);
	mm_be64_put(buf + 24, d->cluster_id);
	memcpy(buf + 32, d->name, strlen(d->name));
	mm_be64_put(buf + 96, d->created);
	mm_be64_put(buf + 104, d->disk_size);
	mm_be32_put(buf + 112, d->sector_size);
	mm_be32_put(buf + 116, d->reserved_size ? d->reserved_size : NSD_RESERVED_BYTES);
	mm_be32_put(buf + OFF_CRC, mm_crc32c(0, buf, OFF_CRC));
	return MM_OK;
}

int nsd_desc_decode(const uint8_t *buf, size_t len, struct nsd_desc *d,
		    char *err, size_t errsz)
{
	uint32_t crc, dlen;
	const uint8_t *name;

	memset(d, 0, sizeof(*d));
	if (len < NSD_DESC_BYTES) {
		snprintf(err, errsz, "only %zu bytes, a descriptor needs %u", len, NSD_DESC_BYTES);
		return MM_EINVAL;
	}
	if (memcmp(buf, desc_magic, 8) != 0) {
		snprintf(err, errsz, "no NSD descriptor (magic absent)");
		return MM_ENOENT;
	}
	crc = mm_crc32c(0, buf, OFF_CRC);
	if (crc != mm_be32_get(buf + OFF_CRC)) {
		snprintf(err, errsz, "NSD descriptor checksum mismatch (stored %08x, computed %08x): "
			 "the descriptor is damaged", mm_be32_get(buf + OFF_CRC), crc);
		return MM_ECHECKSUM;
	}
	d->version = mm_be32_get(buf + 8);
	if (d->version != NSD_DESC_VERSION) {
		snprintf(err, errsz, "NSD descriptor format version %u is not supported (this "
			 "mmfs knows version %u)", d->version, NSD_DESC_VERSION);
		return MM_ENOTSUP;
	}
	dlen = mm_be32_get(buf + 12);
	if (dlen != NSD_DESC_BYTES) {
		snprintf(err, errsz, "NSD descriptor length %u, expected %u", dlen, NSD_DESC_BYTES);
		return MM_EPROTO;
	}
	d->nsd_id = mm_be64_get(buf + 16);
	d->cluster_id = mm_be64_get(buf + 24);
	name = buf + 32;
	if (!memchr(name, '\0', NSD_NAME_MAX + 1)) {
		snprintf(err, errsz, "NSD name in the descriptor is not terminated");
		return MM_EPROTO;
	}
	memcpy(d->name, name, NSD_NAME_MAX + 1);
	d->created = mm_be64_get(buf + 96);
	d->disk_size = mm_be64_get(buf + 104);
	d->sector_size = mm_be32_get(buf + 112);
	d->reserved_size = mm_be32_get(buf + 116);
	if (!nsd_name_valid(d->name) || d->nsd_id == 0) {
		snprintf(err, errsz, "NSD descriptor holds an invalid name or id");
		return MM_EPROTO;
	}
	if (d->sector_size != 512 && d->sector_size != 4096) {
		snprintf(err, errsz, "NSD descriptor sector size %u is neither 512 nor 4096",
			 d->sector_size);
		return MM_EPROTO;
	}
	if (d->reserved_size < NSD_DESC_BYTES || d->reserved_size % d->sector_size ||
	    (d->disk_size && d->disk_size <= d->reserved_size)) {
		snprintf(err, errsz, "NSD descriptor reserved area %u does not fit disk size %" PRIu64,
			 d->reserved_size, d->disk_size);
		return MM_EPROTO;
	}
	return MM_OK;
}

void nsd_id_format(uint64_t id, char *buf, size_t sz)
{
	snprintf(buf, sz, "%016" PRIX64, id);
}

int nsd_id_parse(const char *s, uint64_t *id)
{
	char *end;
	unsigned long long v;

	if (strlen(s) != 16)
		return MM_EINVAL;
	for (const char *p = s; *p; p++)
		if (!isxdigit((unsigned char)*p))
			return MM_EINVAL;
	errno = 0;
	v = strtoull(s, &end, 16);
	if (errno || *end || v == 0)
		return MM_EINVAL;
	*id = v;
	return MM_OK;
}
