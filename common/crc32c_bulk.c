/*
 * common/crc32c_bulk.c - mm_crc32c_bulk(): CRC32C for payloads and disk
 * blocks, bit-identical to mm_crc32c() but several times faster on large
 * buffers, because every byte of a 1 MiB message is checksummed twice
 * (sender and receiver) and the checksum would otherwise cost more than
 * the copies.
 *
 * Three paths, chosen per call:
 *   avx512  VPCLMULQDQ folding, 256 bytes per step (CPUs with AVX-512 and
 *           VPCLMULQDQ), finished with the crc32 instruction
 *   hw3     three interleaved crc32-instruction streams merged with
 *           "append n zero bytes" tables (as in Mark Adler's crc32c.c)
 *   common  mm_crc32c() for short buffers and other CPUs
 * tests/unit/test_common.c compares all of them against mm_crc32c().
 *
 * Folding (reflected CRC, see Intel's "Fast CRC Computation for Generic
 * Polynomials Using PCLMULQDQ"): a 128-bit block X = L*x^64 + H that is
 * followed by d more bits of message may be replaced by
 *     X' = L * (x^(d+63) mod P) + H * (x^(d-1) mod P)
 * (the -1 undoes the extra factor x that a carry-less multiply of two
 * bit-reflected operands introduces) and xored into the block d bits
 * later. The last 128-bit block B = L*x^64 + H reduces to the CRC state
 * with two crc32 instructions: crc32q(crc32q(0, L), H) = B*x^32 mod P.
 * The constants x^n mod P are computed at first use, not tabulated.
 */
#include <pthread.h>
#include <stdint.h>
#include <string.h>

#include "common/crc32c.h"

#if defined(__x86_64__)
#include <immintrin.h>
#endif

#define CRC_POLY 0x82F63B78u	/* reflected Castagnoli polynomial */
#define CRC_LONG 8192
#define CRC_SHORT 256

static pthread_once_t crc_once = PTHREAD_ONCE_INIT;
static int crc_hw, crc_avx512;
static uint32_t crc_long[4][256];
static uint32_t crc_short[4][256];
/* folding constants for distances of 2048, 512 and 128 bits: {lo, hi} */
static uint64_t k2048[2], k512[2], k128[2];

/* ---- hw3: three crc32 streams ---------------------------------------- */

static uint32_t gf2_times(const uint32_t *mat, uint32_t vec)
{
	uint32_t sum = 0;

	while (vec) {
		if (vec & 1)
			sum ^= *mat;
		vec >>= 1;
		mat++;
	}
	return sum;
}

static void gf2_square(uint32_t *square, const uint32_t *mat)
{
	for (int n = 0; n < 32; n++)
		square[n] = gf2_times(mat, mat[n]);
}

/* Operator that appends <len> zero bytes (a power of two) to a CRC. */
static void crc_zeros_op(uint32_t *even, size_t len)
{
	uint32_t odd[32];
	uint32_t row = 1;

	odd[0] = CRC_POLY;	/* one zero bit */
	for (int n = 1; n < 32; n++) {
		odd[n] = row;
		row <<= 1;
	}
	gf2_square(even, odd);	/* two zero bits */
	gf2_square(odd, even);	/* four zero bits */
	do {
		gf2_square(even, odd);	/* first pass: one zero byte */
		len >>= 1;
		if (len == 0)
			return;
		gf2_square(odd, even);
		len >>= 1;
	} while (len);
	memcpy(even, odd, sizeof(odd));
}

static void crc_zeros(uint32_t zeros[][256], size_t len)
{
	uint32_t op[32];

	crc_zeros_op(op, len);
	for (uint32_t n = 0; n < 256; n++) {
		zeros[0][n] = gf2_times(op, n);
		zeros[1][n] = gf2_times(op, n << 8);
		zeros[2][n] = gf2_times(op, n << 16);
		zeros[3][n] = gf2_times(op, n << 24);
	}
}

static inline uint32_t crc_shift(uint32_t zeros[][256], uint32_t crc)
{
	return zeros[0][crc & 0xff] ^ zeros[1][(crc >> 8) & 0xff] ^
	       zeros[2][(crc >> 16) & 0xff] ^ zeros[3][crc >> 24];
}

/* ---- folding constants ------------------------------------------------ */

static uint32_t rev32(uint32_t v)
{
	uint32_t r = 0;

	for (int i = 0; i < 32; i++)
		if (v & (1u << i))
			r |= 1u << (31 - i);
	return r;
}

/* x^n mod P as a 64-bit bit-reflected clmul operand (coefficient of x^j
 * at bit 63 - j). P = x^32 + 0x1EDC6F41 (normal bit order). */
static uint64_t xpow_mod(unsigned n)
{
	uint64_t r = 1;

	while (n--) {
		r <<= 1;
		if (r & 0x100000000ull)
			r ^= 0x11EDC6F41ull;
	}
	return (uint64_t)rev32((uint32_t)r) << 32;
}

static void fold_consts(uint64_t k[2], unsigned dbits)
{
	k[0] = xpow_mod(dbits + 63);	/* multiplies the low qword (L) */
	k[1] = xpow_mod(dbits - 1);	/* multiplies the high qword (H) */
}

static void crc_init(void)
{
	crc_zeros(crc_long, CRC_LONG);
	crc_zeros(crc_short, CRC_SHORT);
	fold_consts(k2048, 2048);
	fold_consts(k512, 512);
	fold_consts(k128, 128);
#if defined(__x86_64__)
	__builtin_cpu_init();
	crc_hw = __builtin_cpu_supports("sse4.2");
	crc_avx512 = crc_hw && __builtin_cpu_supports("avx512f") &&
		     __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("pclmul") &&
		     __builtin_cpu_supports("vpclmulqdq");
#endif
}

#if defined(__x86_64__)
static inline uint64_t ld64(const uint8_t *p)
{
	uint64_t v;

	memcpy(&v, p, 8);
	return v;
}

__attribute__((target("sse4.2")))
static uint64_t crc_bytes(uint64_t c, const uint8_t *p, size_t len)
{
	while (len >= 8) {
		c = __builtin_ia32_crc32di(c, ld64(p));
		p += 8;
		len -= 8;
	}
	while (len--)
		c = __builtin_ia32_crc32qi((uint32_t)c, *p++);
	return c;
}

/* <crc> is the raw state (already inverted); returns the raw state. */
__attribute__((target("sse4.2")))
static uint32_t crc_hw3(uint32_t crc, const uint8_t *next, size_t len)
{
	uint64_t c0 = crc, c1, c2;

	while (len && ((uintptr_t)next & 7)) {
		c0 = __builtin_ia32_crc32qi((uint32_t)c0, *next++);
		len--;
	}
	while (len >= 3 * CRC_LONG) {
		const uint8_t *end = next + CRC_LONG;

		c1 = c2 = 0;
		do {
			c0 = __builtin_ia32_crc32di(c0, ld64(next));
			c1 = __builtin_ia32_crc32di(c1, ld64(next + CRC_LONG));
			c2 = __builtin_ia32_crc32di(c2, ld64(next + 2 * CRC_LONG));
			next += 8;
		} while (next < end);
		c0 = crc_shift(crc_long, (uint32_t)c0) ^ (uint32_t)c1;
		c0 = crc_shift(crc_long, (uint32_t)c0) ^ (uint32_t)c2;
		next += 2 * CRC_LONG;
		len -= 3 * CRC_LONG;
	}
	while (len >= 3 * CRC_SHORT) {
		const uint8_t *end = next + CRC_SHORT;

		c1 = c2 = 0;
		do {
			c0 = __builtin_ia32_crc32di(c0, ld64(next));
			c1 = __builtin_ia32_crc32di(c1, ld64(next + CRC_SHORT));
			c2 = __builtin_ia32_crc32di(c2, ld64(next + 2 * CRC_SHORT));
			next += 8;
		} while (next < end);
		c0 = crc_shift(crc_short, (uint32_t)c0) ^ (uint32_t)c1;
		c0 = crc_shift(crc_short, (uint32_t)c0) ^ (uint32_t)c2;
		next += 2 * CRC_SHORT;
		len -= 3 * CRC_SHORT;
	}
	return (uint32_t)crc_bytes(c0, next, len);
}

#define AVX512_TARGET "sse4.2,pclmul,avx512f,avx512vl,avx512bw,avx512dq,vpclmulqdq"

__attribute__((target(AVX512_TARGET)))
static inline __m512i fold512(__m512i x, __m512i k, __m512i data)
{
	return _mm512_ternarylogic_epi64(_mm512_clmulepi64_epi128(x, k, 0x00),
					 _mm512_clmulepi64_epi128(x, k, 0x11), data, 0x96);
}

__attribute__((target(AVX512_TARGET)))
static inline __m128i fold128(__m128i x, __m128i k, __m128i data)
{
	return _mm_xor_si128(_mm_xor_si128(_mm_clmulepi64_si128(x, k, 0x00),
					   _mm_clmulepi64_si128(x, k, 0x11)), data);
}

/* <crc> raw state; len >= 256. Returns the raw state. */
__attribute__((target(AVX512_TARGET)))
static uint32_t crc_avx512_run(uint32_t crc, const uint8_t *p, size_t len)
{
	const __m512i kb = _mm512_set_epi64((long long)k2048[1], (long long)k2048[0],
					    (long long)k2048[1], (long long)k2048[0],
					    (long long)k2048[1], (long long)k2048[0],
					    (long long)k2048[1], (long long)k2048[0]);
	const __m512i k64 = _mm512_set_epi64((long long)k512[1], (long long)k512[0],
					     (long long)k512[1], (long long)k512[0],
					     (long long)k512[1], (long long)k512[0],
					     (long long)k512[1], (long long)k512[0]);
	const __m128i k16 = _mm_set_epi64x((long long)k128[1], (long long)k128[0]);
	__m512i x0, x1, x2, x3;
	__m128i a;
	uint64_t c;

	/* the state enters as the first 32 bits of the message */
	x0 = _mm512_xor_si512(_mm512_loadu_si512(p), _mm512_castsi128_si512(_mm_cvtsi32_si128((int)crc)));
	x1 = _mm512_loadu_si512(p + 64);
	x2 = _mm512_loadu_si512(p + 128);
	x3 = _mm512_loadu_si512(p + 192);
	p += 256;
	len -= 256;
	while (len >= 256) {
		x0 = fold512(x0, kb, _mm512_loadu_si512(p));
		x1 = fold512(x1, kb, _mm512_loadu_si512(p + 64));
		x2 = fold512(x2, kb, _mm512_loadu_si512(p + 128));
		x3 = fold512(x3, kb, _mm512_loadu_si512(p + 192));
		p += 256;
		len -= 256;
	}
	x1 = fold512(x0, k64, x1);
	x2 = fold512(x1, k64, x2);
	x3 = fold512(x2, k64, x3);
	while (len >= 64) {
		x3 = fold512(x3, k64, _mm512_loadu_si512(p));
		p += 64;
		len -= 64;
	}
	a = _mm512_extracti64x2_epi64(x3, 0);
	a = fold128(a, k16, _mm512_extracti64x2_epi64(x3, 1));
	a = fold128(a, k16, _mm512_extracti64x2_epi64(x3, 2));
	a = fold128(a, k16, _mm512_extracti64x2_epi64(x3, 3));
	while (len >= 16) {
		a = fold128(a, k16, _mm_loadu_si128((const __m128i *)p));
		p += 16;
		len -= 16;
	}
	c = __builtin_ia32_crc32di(0, (uint64_t)_mm_cvtsi128_si64(a));
	c = __builtin_ia32_crc32di(c, (uint64_t)_mm_extract_epi64(a, 1));
	return (uint32_t)crc_bytes(c, p, len);
}
#endif

uint32_t mm_crc32c_path(uint32_t crc, const void *buf, size_t len, int path)
{
#if defined(__x86_64__)
	pthread_once(&crc_once, crc_init);
	if (path == 2 && crc_avx512 && len >= 256)
		return ~crc_avx512_run(~crc, buf, len);
	if (path >= 1 && crc_hw)
		return ~crc_hw3(~crc, buf, len);
#endif
	(void)path;
	return mm_crc32c(crc, buf, len);
}

uint32_t mm_crc32c_bulk(uint32_t crc, const void *buf, size_t len)
{
	if (len < 3 * CRC_SHORT)
		return mm_crc32c(crc, buf, len);
	return mm_crc32c_path(crc, buf, len, 2);
}
