/*
 * nsd/pattern.h - verifiable data for NSD tests and diagnostics (the
 * nsdio admin command, tests/tools/nsdio, bench/nsd).
 *
 * The 8-byte little-endian word at NSD byte offset o (o a multiple of 8)
 * written with seed s is mix64(s * 0x9E3779B97F4A7C15 + o / 8 + 1): any
 * node can check any range from the seed alone, and data written with
 * another seed, at another offset, or to another NSD id is told apart.
 * Offsets and lengths must be multiples of 8.
 */
#ifndef MM_NSD_PATTERN_H
#define MM_NSD_PATTERN_H

#include <stddef.h>
#include <stdint.h>

void nsd_pattern_fill(void *buf, size_t len, uint64_t offset, uint64_t seed);
/* Offset (NSD byte address) of the first word that differs, or -1. */
int64_t nsd_pattern_check(const void *buf, size_t len, uint64_t offset, uint64_t seed);

#endif
