#include "json.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

#define MAX_DEPTH 64
#define MAX_JSON_BYTES ((size_t)64 << 20)

typedef struct {
    const char *s;
    size_t pos, len;
    const char *what;
} parser;

static _Noreturn void perr(parser *p, const char *msg)
{
    fail("%s: malformed JSON at byte %zu: %s", p->what, p->pos, msg);
}

static void skip_ws(parser *p)
{
    while (p->pos < p->len) {
        char c = p->s[p->pos];
        if (c == ' ' || c == '\t' || c == '\n' || c == '\r')
            p->pos++;
        else
            break;
    }
}

static int peek(parser *p)
{
    return p->pos < p->len ? (unsigned char)p->s[p->pos] : -1;
}

static void expect_lit(parser *p, const char *lit)
{
    size_t n = strlen(lit);
    if (p->len - p->pos < n || memcmp(p->s + p->pos, lit, n) != 0)
        perr(p, "invalid literal");
    p->pos += n;
}

static unsigned hex4(parser *p)
{
    if (p->len - p->pos < 4)
        perr(p, "truncated \\u escape");
    unsigned v = 0;
    for (int i = 0; i < 4; i++) {
        char c = p->s[p->pos++];
        v <<= 4;
        if (c >= '0' && c <= '9')
            v |= (unsigned)(c - '0');
        else if (c >= 'a' && c <= 'f')
            v |= (unsigned)(c - 'a' + 10);
        else if (c >= 'A' && c <= 'F')
            v |= (unsigned)(c - 'A' + 10);
        else
            perr(p, "bad hex digit in \\u escape");
    }
    return v;
}

static char *parse_string(parser *p)
{
    if (peek(p) != '"')
        perr(p, "expected a string");
    p->pos++;
    /* the decoded string is never longer than the source */
    size_t start = p->pos;
    size_t cap = 1;
    for (size_t i = start; i < p->len && p->s[i] != '"'; i++) {
        cap++;
        if (p->s[i] == '\\')
            i++, cap++;
    }
    char *out = xmalloc(cap + 8);
    size_t n = 0;
    for (;;) {
        if (p->pos >= p->len)
            perr(p, "unterminated string");
        unsigned char c = (unsigned char)p->s[p->pos++];
        if (c == '"')
            break;
        if (c < 0x20)
            perr(p, "control character in string");
        if (c != '\\') {
            out[n++] = (char)c;
            continue;
        }
        if (p->pos >= p->len)
            perr(p, "unterminated escape");
        char e = p->s[p->pos++];
        switch (e) {
        case '"': out[n++] = '"'; break;
        case '\\': out[n++] = '\\'; break;
        case '/': out[n++] = '/'; break;
        case 'b': out[n++] = '\b'; break;
        case 'f': out[n++] = '\f'; break;
        case 'n': out[n++] = '\n'; break;
        case 'r': out[n++] = '\r'; break;
        case 't': out[n++] = '\t'; break;
        case 'u': {
            unsigned cp = hex4(p);
            if (cp >= 0xD800 && cp < 0xDC00) {
                if (p->len - p->pos < 6 || p->s[p->pos] != '\\' || p->s[p->pos + 1] != 'u')
                    perr(p, "unpaired surrogate");
                p->pos += 2;
                unsigned lo = hex4(p);
                if (lo < 0xDC00 || lo >= 0xE000)
                    perr(p, "unpaired surrogate");
                cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
            } else if (cp >= 0xDC00 && cp < 0xE000) {
                perr(p, "unpaired surrogate");
            }
            if (cp == 0)
                perr(p, "NUL character in string");
            /* a \uXXXX escape (6 source bytes) never decodes to more than 4 bytes */
            if (cp < 0x80) {
                out[n++] = (char)cp;
            } else if (cp < 0x800) {
                out[n++] = (char)(0xC0 | (cp >> 6));
                out[n++] = (char)(0x80 | (cp & 0x3F));
            } else if (cp < 0x10000) {
                out[n++] = (char)(0xE0 | (cp >> 12));
                out[n++] = (char)(0x80 | ((cp >> 6) & 0x3F));
                out[n++] = (char)(0x80 | (cp & 0x3F));
            } else {
                out[n++] = (char)(0xF0 | (cp >> 18));
                out[n++] = (char)(0x80 | ((cp >> 12) & 0x3F));
                out[n++] = (char)(0x80 | ((cp >> 6) & 0x3F));
                out[n++] = (char)(0x80 | (cp & 0x3F));
            }
            break;
        }
        default:
            perr(p, "invalid escape");
        }
    }
    out[n] = 0;
    return out;
}

static void parse_value(parser *p, jvalue *v, int depth);

static void parse_number(parser *p, jvalue *v)
{
    size_t start = p->pos;
    int integer = 1;
    if (peek(p) == '-')
        p->pos++;
    if (peek(p) == '0') {
        p->pos++;
    } else if (peek(p) >= '1' && peek(p) <= '9') {
        while (peek(p) >= '0' && peek(p) <= '9')
            p->pos++;
    } else {
        perr(p, "invalid number");
    }
    if (peek(p) == '.') {
        integer = 0;
        p->pos++;
        if (!(peek(p) >= '0' && peek(p) <= '9'))
            perr(p, "invalid number");
        while (peek(p) >= '0' && peek(p) <= '9')
            p->pos++;
    }
    if (peek(p) == 'e' || peek(p) == 'E') {
        integer = 0;
        p->pos++;
        if (peek(p) == '+' || peek(p) == '-')
            p->pos++;
        if (!(peek(p) >= '0' && peek(p) <= '9'))
            perr(p, "invalid number");
        while (peek(p) >= '0' && peek(p) <= '9')
            p->pos++;
    }
    size_t n = p->pos - start;
    char buf[512];
    if (n >= sizeof buf)
        perr(p, "number literal too long");
    memcpy(buf, p->s + start, n);
    buf[n] = 0;
    v->type = J_NUMBER;
    v->number = strtod(buf, NULL); /* correctly rounded in glibc */
    v->is_integer = integer;
    if (integer) {
        errno = 0;
        long long ll = strtoll(buf, NULL, 10);
        v->int_ok = errno == 0;
        v->integer = ll;
    }
}

static void parse_value(parser *p, jvalue *v, int depth)
{
    if (depth > MAX_DEPTH)
        perr(p, "nesting too deep");
    memset(v, 0, sizeof *v);
    skip_ws(p);
    int c = peek(p);
    if (c == '{') {
        p->pos++;
        v->type = J_OBJECT;
        size_t cap = 0;
        skip_ws(p);
        if (peek(p) == '}') {
            p->pos++;
            return;
        }
        for (;;) {
            skip_ws(p);
            char *key = parse_string(p);
            skip_ws(p);
            if (peek(p) != ':')
                perr(p, "expected ':'");
            p->pos++;
            if (v->count == cap) {
                size_t ncap = cap ? 2 * cap : 8;
                jvalue *items = xcalloc(ncap, sizeof *items);
                char **keys = xcalloc(ncap, sizeof *keys);
                if (cap) {
                    memcpy(items, v->items, cap * sizeof *items);
                    memcpy(keys, v->keys, cap * sizeof *keys);
                    xfree(v->items);
                    xfree(v->keys);
                }
                v->items = items;
                v->keys = keys;
                cap = ncap;
            }
            for (size_t i = 0; i < v->count; i++)
                if (strcmp(v->keys[i], key) == 0)
                    perr(p, "duplicate key");
            v->keys[v->count] = key;
            parse_value(p, &v->items[v->count], depth + 1);
            v->count++;
            skip_ws(p);
            if (peek(p) == ',') {
                p->pos++;
                continue;
            }
            if (peek(p) == '}') {
                p->pos++;
                return;
            }
            perr(p, "expected ',' or '}'");
        }
    } else if (c == '[') {
        p->pos++;
        v->type = J_ARRAY;
        size_t cap = 0;
        skip_ws(p);
        if (peek(p) == ']') {
            p->pos++;
            return;
        }
        for (;;) {
            if (v->count == cap) {
                size_t ncap = cap ? 2 * cap : 8;
                jvalue *items = xcalloc(ncap, sizeof *items);
                if (cap) {
                    memcpy(items, v->items, cap * sizeof *items);
                    xfree(v->items);
                }
                v->items = items;
                cap = ncap;
            }
            parse_value(p, &v->items[v->count], depth + 1);
            v->count++;
            skip_ws(p);
            if (peek(p) == ',') {
                p->pos++;
                continue;
            }
            if (peek(p) == ']') {
                p->pos++;
                return;
            }
            perr(p, "expected ',' or ']'");
        }
    } else if (c == '"') {
        v->type = J_STRING;
        v->string = parse_string(p);
    } else if (c == 't') {
        expect_lit(p, "true");
        v->type = J_TRUE;
    } else if (c == 'f') {
        expect_lit(p, "false");
        v->type = J_FALSE;
    } else if (c == 'n') {
        expect_lit(p, "null");
        v->type = J_NULL;
    } else if (c == '-' || (c >= '0' && c <= '9')) {
        parse_number(p, v);
    } else {
        perr(p, c < 0 ? "unexpected end of input" : "unexpected character");
    }
}

jvalue *json_parse(const char *text, size_t len, const char *what)
{
    parser p = {text, 0, len, what};
    jvalue *v = xmalloc(sizeof *v);
    parse_value(&p, v, 0);
    skip_ws(&p);
    if (p.pos != p.len)
        perr(&p, "trailing data after the JSON value");
    return v;
}

jvalue *json_load(const char *path)
{
    size_t len;
    unsigned char *buf = read_file(path, &len, MAX_JSON_BYTES);
    jvalue *v = json_parse((const char *)buf, len, path);
    xfree(buf);
    return v;
}

const jvalue *json_get(const jvalue *obj, const char *key)
{
    if (!obj || obj->type != J_OBJECT)
        return NULL;
    for (size_t i = 0; i < obj->count; i++)
        if (strcmp(obj->keys[i], key) == 0)
            return &obj->items[i];
    return NULL;
}

static const char *type_name(jtype t)
{
    switch (t) {
    case J_NULL: return "null";
    case J_FALSE:
    case J_TRUE: return "boolean";
    case J_NUMBER: return "number";
    case J_STRING: return "string";
    case J_ARRAY: return "array";
    case J_OBJECT: return "object";
    }
    return "?";
}

const jvalue *json_req(const jvalue *obj, const char *key, jtype type, const char *where)
{
    if (!obj || obj->type != J_OBJECT)
        fail("%s: expected a JSON object", where);
    const jvalue *v = json_get(obj, key);
    if (!v)
        fail("%s: missing field '%s'", where, key);
    if (v->type != type && !(type == J_TRUE && v->type == J_FALSE))
        fail("%s: field '%s' is a %s, expected a %s", where, key, type_name(v->type),
             type_name(type));
    return v;
}

const char *json_req_str(const jvalue *obj, const char *key, const char *where)
{
    return json_req(obj, key, J_STRING, where)->string;
}

long long json_req_int(const jvalue *obj, const char *key, long long lo, long long hi,
                       const char *where)
{
    const jvalue *v = json_req(obj, key, J_NUMBER, where);
    if (!v->is_integer || !v->int_ok)
        fail("%s: field '%s' is not an integer", where, key);
    if (v->integer < lo || v->integer > hi)
        fail("%s: field '%s' = %lld is outside [%lld, %lld]", where, key, v->integer, lo, hi);
    return v->integer;
}

double json_req_num(const jvalue *obj, const char *key, const char *where)
{
    return json_req(obj, key, J_NUMBER, where)->number;
}
