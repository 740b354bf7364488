/* nsd/pattern.c - see pattern.h. */
#include "nsd/pattern.h"

#include <string.h>

static inline uint64_t mix64(uint64_t z)
{
	/* splitmix64's finalizer: every input bit reaches every output bit */
	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
	z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
	return z ^ (z >> 31);
}

static inline uint64_t word(uint64_t base, uint64_t idx)
{
	return mix64(base + idx + 1);
}

void nsd_pattern_fill(void *buf, size_t len, uint64_t offset, uint64_t seed)
{
	uint64_t base = seed * 0x9E3779B97F4A7C15ull, idx = offset / 8;
	unsigned char *p = buf;

	for (size_t i = 0; i + 8 <= len; i += 8) {
		uint64_t w = word(base, idx++);

		memcpy(p + i, &w, 8);	/* little-endian hosts only (x86-64, arm64) */
	}
}

int64_t nsd_pattern_check(const void *buf, size_t len, uint64_t offset, uint64_t seed)
{
	uint64_t base = seed * 0x9E3779B97F4A7C15ull, idx = offset / 8;
	const unsigned char *p = buf;

	for (size_t i = 0; i + 8 <= len; i += 8) {
		uint64_t w;

		memcpy(&w, p + i, 8);
		if (w != word(base, idx++))
			return (int64_t)(offset + i);
	}
	return -1;
}
