/* boolnet_c: small utilities shared by every module. */
#ifndef BOOLNET_UTIL_H
#define BOOLNET_UTIL_H

#include <stddef.h>
#include <stdint.h>

/* Exit codes of the kit's command protocol and of boolnet-spec (ERR-3). */
#define EXIT_BAD_INPUT 2
#define EXIT_NOT_IMPLEMENTED 77

/* Print "boolnet_c: error: ..." on stderr and exit with EXIT_BAD_INPUT. */
_Noreturn void fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Print a note and exit 77 (a case this program does not implement). */
_Noreturn void not_implemented(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* The largest single allocation: the 4 GiB tensor bound (MODEL-4) plus an npy header. */
#define MAX_ALLOC_BYTES (((size_t)1 << 32) + 65536)

/* Allocations are tracked so that every early exit leaves no unreachable memory. */
void *xmalloc(size_t size);
void *xcalloc(size_t count, size_t size);
void xfree(void *p);
void xfree_all(void);
char *xstrdup(const char *s);
char *path_join(const char *a, const char *b);

/* Checked size arithmetic: fail() on overflow. */
size_t mul_size(size_t a, size_t b, const char *what);
size_t add_size(size_t a, size_t b, const char *what);

/* Read a whole file (at most max_bytes); fail() with the path on any error. */
unsigned char *read_file(const char *path, size_t *len, size_t max_bytes);

#endif
