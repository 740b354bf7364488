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

#endif
