/*
 * cache_range.h — RFC 9110 §14 byte ranges and §13.1.5 If-Range, as the
 * cache evaluates them against a stored complete object.
 *
 * Contract: pure functions — no I/O, no allocation, no clock reads; the
 * field values are counted slices owned by the caller (they need not be
 * NUL-terminated).  Any process may call these.
 *
 * The cache answers one satisfiable range with 206, several ranges with the
 * whole object (200: RFC 9110 §14.2 lets a server ignore Range, and this
 * spares us multipart/byteranges), no satisfiable range with 416, and a
 * Range it does not understand (another unit, bad syntax) as if it were
 * absent (§14.2: such a field is ignored).  A suffix-range of an empty
 * object is satisfiable (§14.1.2) but cannot be a 206: the whole (empty)
 * object is sent.
 */
#ifndef VD_CACHE_RANGE_H
#define VD_CACHE_RANGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "viaduct.h"

enum cache_range {
	CACHE_RANGE_NONE,		/* ignore the field: serve the whole object (200) */
	CACHE_RANGE_ONE,		/* one satisfiable range: 206 */
	CACHE_RANGE_MULTI,		/* several ranges, at least one satisfiable: 200 */
	CACHE_RANGE_UNSATISFIABLE,	/* 416, Content-Range: bytes * / size */
};

/*
 * Evaluate a Range field value against a representation of `size` bytes.
 * On CACHE_RANGE_ONE *first is the first byte and *count (>= 1) the number
 * of bytes, first + count <= size.  Numbers too large to represent are
 * treated as "beyond the end" (a first-pos) or "to the end" (a last-pos).
 */
enum cache_range cache_range_eval(const char *p, size_t len, uint64_t size, uint64_t *first,
	    uint64_t *count);

/*
 * §13.1.5: does an If-Range value let the range be applied?  An entity-tag
 * matches the stored ETag by strong comparison only (a weak tag on either
 * side never matches); an HTTP-date matches a stored Last-Modified that is
 * exactly that date and strong (§8.8.2.2: Date at least one second later;
 * date may be CACHE_TIME_UNSET when the object had none, then the stored
 * Last-Modified is taken as weak).  `now` is for two-digit years.
 */
bool	cache_if_range_ok(const char *p, size_t len, const struct vd_str *etag,
	    int64_t last_modified, int64_t date, int64_t now);

#endif
