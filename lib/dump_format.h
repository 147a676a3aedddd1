/* dump_format.h - constants and varint helpers shared by the dump writer
 * (dump.c) and reader (dump_read.c). docs/format.md describes the layout. */
#ifndef HL_DUMP_FORMAT_H
#define HL_DUMP_FORMAT_H
#include <stddef.h>
#include <stdint.h>

#define HL_DUMP_MAGIC "HLHEAPDM"
#define HL_DUMP_TRAILER_MAGIC "HLDUMPND"
#define HL_DUMP_HEADER_MIN 25 /* magic, version, flags, reserved, timestamp, len */
#define HL_DUMP_TRAILER_SIZE 56

enum {
    HL_REC_END = 0,
    HL_REC_TYPE = 1,
    HL_REC_OBJECT = 2,
    HL_REC_REFS = 3,
    HL_REC_FRAME = 4,
};

/* Longest text kept for a value (str, bytes), and for a name. */
#define HL_DUMP_TEXT_MAX 32
#define HL_DUMP_NAME_MAX 200
/* Text codes beyond a length + 1: the value in binary, formatted by the
 * reader (faster to write and smaller than its digits). */
#define HL_TEXT_INT 250   /* a zigzag varint: an int that fits 64 bits */
#define HL_TEXT_FLOAT 251 /* 8 bytes: an IEEE 754 binary64, little-endian */

static inline uint64_t
hl_dump__zigzag(int64_t v)
{
    return ((uint64_t)v << 1) ^ (uint64_t)(v >> 63);
}

static inline int64_t
hl_dump__unzigzag(uint64_t v)
{
    return (int64_t)(v >> 1) ^ -(int64_t)(v & 1);
}

/* CRC-32 (zlib's polynomial), continued from `crc`. */
uint32_t hl_dump__crc32(uint32_t crc, const unsigned char *p, size_t n);
#endif
