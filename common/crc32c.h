/*
 * common/crc32c.h - CRC32C (Castagnoli), as used on the wire and on disk.
 *
 * Uses the SSE4.2 crc32 instruction when the CPU has it, a table otherwise;
 * both give identical results. Thread-safe, no allocation.
 */
#ifndef MM_COMMON_CRC32C_H
#define MM_COMMON_CRC32C_H

#include <stddef.h>
#include <stdint.h>

/* Continue a CRC: pass 0 to start. crc32c(0, "123456789", 9) == 0xE3069283. */
uint32_t mm_crc32c(uint32_t crc, const void *buf, size_t len);

/* The same result, several times faster on large buffers (payloads, disk
 * blocks): AVX-512 folding or three interleaved crc32 streams, falling
 * back to mm_crc32c for short buffers (crc32c_bulk.c). */
uint32_t mm_crc32c_bulk(uint32_t crc, const void *buf, size_t len);
/* The same through a given path, for tests: 0 = mm_crc32c, 1 = three
 * crc32 streams, 2 = AVX-512 folding (each falls back if the CPU lacks it). */
uint32_t mm_crc32c_path(uint32_t crc, const void *buf, size_t len, int path);

#endif
