#include "util.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void **tracked = NULL;
static size_t n_tracked = 0, cap_tracked = 0;

/* One line on stderr; bytes a hostile input put into the message (names, dtypes) are shown as
 * \xNN unless printable ASCII, so the line stays one line of valid UTF-8. */
static void vreport(const char *kind, const char *fmt, va_list ap)
{
    char msg[1024];
    vsnprintf(msg, sizeof msg, fmt, ap);
    fprintf(stderr, "boolnet_c: %s: ", kind);
    for (const unsigned char *p = (const unsigned char *)msg; *p; p++) {
        if (*p >= 0x20 && *p < 0x7F)
            fputc(*p, stderr);
        else
            fprintf(stderr, "\\x%02x", *p);
    }
    fputc('\n', stderr);
}

void fail(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vreport("error", fmt, ap);
    va_end(ap);
    xfree_all();
    exit(EXIT_BAD_INPUT);
}

void not_implemented(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vreport("not implemented", fmt, ap);
    va_end(ap);
    xfree_all();
    exit(EXIT_NOT_IMPLEMENTED);
}

static void track(void *p)
{
    if (n_tracked == cap_tracked) {
        size_t cap = cap_tracked ? 2 * cap_tracked : 256;
        void **t = realloc(tracked, cap * sizeof *t);
        if (!t) {
            free(p);
            fail("out of memory");
        }
        tracked = t;
        cap_tracked = cap;
    }
    tracked[n_tracked++] = p;
}

static void check_alloc(size_t size)
{
    /* a hostile shape or attribute never reaches the allocator (nor ASan's abort on it) */
    if (size > MAX_ALLOC_BYTES)
        fail("allocation of %zu bytes exceeds the limit of %zu bytes", size,
             (size_t)MAX_ALLOC_BYTES);
}

void *xmalloc(size_t size)
{
    check_alloc(size);
    void *p = malloc(size ? size : 1);
    if (!p)
        fail("out of memory (allocating %zu bytes)", size);
    track(p);
    return p;
}

void *xcalloc(size_t count, size_t size)
{
    size_t total = mul_size(count, size, "allocation");
    check_alloc(total);
    void *p = calloc(total ? total : 1, 1);
    if (!p)
        fail("out of memory (allocating %zu bytes)", total);
    track(p);
    return p;
}

void xfree(void *p)
{
    if (!p)
        return;
    for (size_t i = n_tracked; i-- > 0;) {
        if (tracked[i] == p) {
            tracked[i] = tracked[--n_tracked];
            free(p);
            return;
        }
    }
    free(p);
}

void xfree_all(void)
{
    for (size_t i = 0; i < n_tracked; i++)
        free(tracked[i]);
    free(tracked);
    tracked = NULL;
    n_tracked = cap_tracked = 0;
}

char *xstrdup(const char *s)
{
    size_t n = strlen(s) + 1;
    char *d = xmalloc(n);
    memcpy(d, s, n);
    return d;
}

char *path_join(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    char *p = xmalloc(add_size(add_size(la, lb, "path"), 2, "path"));
    memcpy(p, a, la);
    p[la] = '/';
    memcpy(p + la + 1, b, lb + 1);
    return p;
}

size_t mul_size(size_t a, size_t b, const char *what)
{
    if (a != 0 && b > SIZE_MAX / a)
        fail("%s: size overflow (%zu * %zu)", what, a, b);
    return a * b;
}

size_t add_size(size_t a, size_t b, const char *what)
{
    if (b > SIZE_MAX - a)
        fail("%s: size overflow (%zu + %zu)", what, a, b);
    return a + b;
}

unsigned char *read_file(const char *path, size_t *len, size_t max_bytes)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        fail("%s: cannot open: %s", path, strerror(errno));
    if (fseek(f, 0, SEEK_END) != 0) {
        fclose(f);
        fail("%s: cannot seek", path);
    }
    long size = ftell(f);
    if (size < 0 || fseek(f, 0, SEEK_SET) != 0) {
        fclose(f);
        fail("%s: cannot determine size", path);
    }
    if ((unsigned long)size > max_bytes) {
        fclose(f);
        fail("%s: file of %ld bytes exceeds the limit of %zu bytes", path, size, max_bytes);
    }
    unsigned char *buf = malloc((size_t)size + 1);
    if (!buf) {
        fclose(f);
        fail("%s: out of memory", path);
    }
    size_t got = fread(buf, 1, (size_t)size, f);
    fclose(f);
    if (got != (size_t)size) {
        free(buf);
        fail("%s: short read", path);
    }
    buf[size] = 0;
    track(buf);
    *len = (size_t)size;
    return buf;
}
