#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tensor.h"
#include "util.h"

const char *dtype_name(dtype_t t)
{
    switch (t) {
    case DT_U8: return "uint8";
    case DT_I16: return "int16";
    case DT_I64: return "int64";
    case DT_F32: return "float32";
    case DT_F64: return "float64";
    }
    return "?";
}

size_t dtype_size(dtype_t t)
{
    switch (t) {
    case DT_U8: return 1;
    case DT_I16: return 2;
    case DT_F32: return 4;
    case DT_I64:
    case DT_F64: return 8;
    }
    return 1;
}

static const char *descr_of(dtype_t t)
{
    switch (t) {
    case DT_U8: return "|u1";
    case DT_I16: return "<i2";
    case DT_I64: return "<i8";
    case DT_F32: return "<f4";
    case DT_F64: return "<f8";
    }
    return "?";
}

void shape_str(const tensor *t, char *buf, size_t len)
{
    size_t n = 0;
    n += (size_t)snprintf(buf + n, len - n, "[");
    for (int i = 0; i < t->ndim && n < len; i++)
        n += (size_t)snprintf(buf + n, len - n, i ? ", %zu" : "%zu", t->shape[i]);
    if (n < len)
        snprintf(buf + n, len - n, "]");
}

tensor *tensor_new(dtype_t dt, int ndim, const size_t *shape, const char *name)
{
    if (ndim < 0 || ndim > MAX_RANK)
        fail("%s: rank %d outside [0, %d]", name, ndim, MAX_RANK);
    tensor *t = xcalloc(1, sizeof *t);
    t->dtype = dt;
    t->ndim = ndim;
    t->name = name;
    size_t count = 1;
    for (int i = 0; i < ndim; i++) {
        t->shape[i] = shape[i];
        count = mul_size(count, shape[i], name);
    }
    size_t bytes = mul_size(count, dtype_size(dt), name);
    if (bytes > MAX_TENSOR_BYTES)
        fail("%s: %zu bytes exceed the bound of %zu bytes (MODEL-4)", name, bytes,
             MAX_TENSOR_BYTES);
    t->count = count;
    t->data = xcalloc(bytes ? bytes : 1, 1);
    return t;
}

tensor *tensor_new_bits(int ndim, const size_t *shape, const char *name)
{
    tensor *t = tensor_new(DT_U8, ndim, shape, name);
    t->bits_ok = 1;
    return t;
}

void tensor_free(tensor *t)
{
    if (!t)
        return;
    xfree(t->data);
    xfree(t);
}

/* ---- header parsing: a Python dict literal with keys descr, fortran_order, shape ---- */

typedef struct {
    const char *s;
    size_t pos, len;
    const char *path;
} hparser;

static _Noreturn void herr(hparser *h, const char *msg)
{
    fail("%s: malformed .npy header at offset %zu: %s", h->path, h->pos, msg);
}

static void hws(hparser *h)
{
    while (h->pos < h->len && (h->s[h->pos] == ' ' || h->s[h->pos] == '\t'))
        h->pos++;
}

static int hpeek(hparser *h)
{
    return h->pos < h->len ? (unsigned char)h->s[h->pos] : -1;
}

static void hexpect(hparser *h, char c)
{
    hws(h);
    if (hpeek(h) != c) {
        char msg[32];
        snprintf(msg, sizeof msg, "expected '%c'", c);
        herr(h, msg);
    }
    h->pos++;
}

static void hstring(hparser *h, char *out, size_t cap)
{
    hws(h);
    int q = hpeek(h);
    if (q != '\'' && q != '"')
        herr(h, "expected a quoted string");
    h->pos++;
    size_t n = 0;
    while (hpeek(h) != q) {
        if (hpeek(h) < 0)
            herr(h, "unterminated string");
        if (n + 1 >= cap)
            herr(h, "string too long");
        out[n++] = h->s[h->pos++];
    }
    h->pos++;
    out[n] = 0;
}

tensor *npy_read(const char *path, const char *name)
{
    size_t len;
    unsigned char *buf = read_file(path, &len, MAX_TENSOR_BYTES + 65536);
    if (len < 10 || memcmp(buf, "\x93NUMPY", 6) != 0)
        fail("%s: not an .npy file (bad magic or shorter than 10 bytes)", path);
    unsigned major = buf[6];
    size_t hlen, hstart;
    if (major == 1) {
        hlen = (size_t)buf[8] | ((size_t)buf[9] << 8);
        hstart = 10;
    } else if (major == 2 || major == 3) {
        if (len < 12)
            fail("%s: truncated .npy header", path);
        hlen = (size_t)buf[8] | ((size_t)buf[9] << 8) | ((size_t)buf[10] << 16) |
               ((size_t)buf[11] << 24);
        hstart = 12;
    } else {
        fail("%s: unsupported .npy format version %u.%u", path, major, buf[7]);
    }
    if (hlen > len - hstart)
        fail("%s: .npy header length %zu exceeds the file (%zu bytes)", path, hlen, len);
    hparser h = {(const char *)buf + hstart, 0, hlen, path};
    char descr[32] = "";
    int have_descr = 0, have_fortran = 0, have_shape = 0, fortran = 0;
    size_t shape[MAX_RANK];
    int ndim = 0;
    hexpect(&h, '{');
    for (;;) {
        hws(&h);
        if (hpeek(&h) == '}') {
            h.pos++;
            break;
        }
        char key[32];
        hstring(&h, key, sizeof key);
        hexpect(&h, ':');
        hws(&h);
        if (strcmp(key, "descr") == 0) {
            hstring(&h, descr, sizeof descr);
            have_descr = 1;
        } else if (strcmp(key, "fortran_order") == 0) {
            if (h.len - h.pos >= 4 && memcmp(h.s + h.pos, "True", 4) == 0) {
                fortran = 1;
                h.pos += 4;
            } else if (h.len - h.pos >= 5 && memcmp(h.s + h.pos, "False", 5) == 0) {
                h.pos += 5;
            } else {
                herr(&h, "fortran_order is neither True nor False");
            }
            have_fortran = 1;
        } else if (strcmp(key, "shape") == 0) {
            hexpect(&h, '(');
            for (;;) {
                hws(&h);
                if (hpeek(&h) == ')') {
                    h.pos++;
                    break;
                }
                if (!isdigit(hpeek(&h)))
                    herr(&h, "shape entry is not a non-negative integer");
                if (ndim == MAX_RANK)
                    herr(&h, "rank above 8");
                unsigned long long v = 0;
                while (isdigit(hpeek(&h))) {
                    unsigned d = (unsigned)(h.s[h.pos++] - '0');
                    if (v > (ULLONG_MAX - d) / 10)
                        herr(&h, "shape entry overflows");
                    v = v * 10 + d;
                }
                if (v > SIZE_MAX)
                    herr(&h, "shape entry overflows");
                shape[ndim++] = (size_t)v;
                hws(&h);
                if (hpeek(&h) == ',') {
                    h.pos++;
                    continue;
                }
                if (hpeek(&h) != ')')
                    herr(&h, "expected ',' or ')' in shape");
            }
            have_shape = 1;
        } else {
            herr(&h, "unknown key");
        }
        hws(&h);
        if (hpeek(&h) == ',') {
            h.pos++;
            continue;
        }
        hexpect(&h, '}');
        break;
    }
    while (h.pos < h.len && (h.s[h.pos] == ' ' || h.s[h.pos] == '\n' || h.s[h.pos] == '\0'))
        h.pos++;
    if (h.pos != h.len)
        herr(&h, "trailing characters after the dict");
    if (!have_descr || !have_fortran || !have_shape)
        fail("%s: .npy header lacks descr, fortran_order or shape", path);
    if (fortran)
        fail("%s: fortran_order arrays are not supported (C order expected)", path);
    dtype_t dt;
    if (strcmp(descr, "|u1") == 0 || strcmp(descr, "<u1") == 0)
        dt = DT_U8;
    else if (strcmp(descr, "<i2") == 0)
        dt = DT_I16;
    else if (strcmp(descr, "<i8") == 0)
        dt = DT_I64;
    else if (strcmp(descr, "<f4") == 0)
        dt = DT_F32;
    else if (strcmp(descr, "<f8") == 0)
        dt = DT_F64;
    else
        fail("%s: unsupported dtype '%s' (expected |u1, <i2, <i8, <f4 or <f8)", path, descr);
    size_t count = 1;
    for (int i = 0; i < ndim; i++)
        count = mul_size(count, shape[i], path);
    size_t bytes = mul_size(count, dtype_size(dt), path);
    size_t avail = len - hstart - hlen;
    if (bytes != avail)
        fail("%s: header declares %zu data bytes (%s, %zu elements) but the file holds %zu",
             path, bytes, dtype_name(dt), count, avail);
    tensor *t = tensor_new(dt, ndim, shape, name);
    memcpy(t->data, buf + hstart + hlen, bytes);
    xfree(buf);
    return t;
}

void npy_write(const char *path, const tensor *t)
{
    char header[1024];
    size_t n = (size_t)snprintf(header, sizeof header,
                                "{'descr': '%s', 'fortran_order': False, 'shape': (",
                                descr_of(t->dtype));
    for (int i = 0; i < t->ndim; i++)
        n += (size_t)snprintf(header + n, sizeof header - n, "%zu,%s", t->shape[i],
                              i + 1 < t->ndim ? " " : "");
    if (t->ndim > 1)
        n--; /* numpy writes (2, 3) but (5,) */
    n += (size_t)snprintf(header + n, sizeof header - n, "), }");
    size_t total = 10 + n + 1;
    size_t pad = (64 - total % 64) % 64;
    memset(header + n, ' ', pad);
    n += pad;
    header[n++] = '\n';
    FILE *f = fopen(path, "wb");
    if (!f)
        fail("%s: cannot create: %s", path, strerror(errno));
    unsigned char pre[10] = {0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0, (unsigned char)(n & 0xFF),
                             (unsigned char)(n >> 8)};
    size_t bytes = t->count * dtype_size(t->dtype);
    int ok = fwrite(pre, 1, 10, f) == 10 && fwrite(header, 1, n, f) == n &&
             fwrite(t->data, 1, bytes, f) == bytes;
    if (fclose(f) != 0 || !ok)
        fail("%s: write failed", path);
}

void check_dtype(const tensor *t, dtype_t dt)
{
    if (t->dtype != dt)
        fail("%s: dtype %s, expected %s", t->name, dtype_name(t->dtype), dtype_name(dt));
}

void check_rank(const tensor *t, int ndim)
{
    if (t->ndim != ndim) {
        char s[128];
        shape_str(t, s, sizeof s);
        fail("%s: shape %s has rank %d, expected rank %d", t->name, s, t->ndim, ndim);
    }
}

void check_bits(const tensor *t)
{
    check_dtype(t, DT_U8);
    if (t->bits_ok)
        return;
    const uint8_t *d = t->data;
    for (size_t i = 0; i < t->count; i++)
        if (d[i] > 1)
            fail("%s: element %zu is %u, a bit tensor holds only 0 and 1 (ENC-5)", t->name, i,
                 d[i]);
    ((tensor *)t)->bits_ok = 1; /* a cache: the data is never changed after this check */
}

void check_finite(const tensor *t)
{
    if (t->dtype == DT_F32) {
        const float *d = t->data;
        for (size_t i = 0; i < t->count; i++)
            if (!isfinite(d[i]))
                fail("%s: element %zu is not finite", t->name, i);
    } else if (t->dtype == DT_F64) {
        const double *d = t->data;
        for (size_t i = 0; i < t->count; i++)
            if (!isfinite(d[i]))
                fail("%s: element %zu is not finite", t->name, i);
    } else {
        fail("%s: dtype %s, expected a float tensor", t->name, dtype_name(t->dtype));
    }
}
