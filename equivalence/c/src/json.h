/* A small strict JSON parser (RFC 8259), written for boolnet_c. */
#ifndef BOOLNET_JSON_H
#define BOOLNET_JSON_H

#include <stddef.h>

typedef enum { J_NULL, J_FALSE, J_TRUE, J_NUMBER, J_STRING, J_ARRAY, J_OBJECT } jtype;

typedef struct jvalue {
    jtype type;
    double number;     /* J_NUMBER: strtod of the literal (binary64, nearest) */
    int is_integer;    /* J_NUMBER: the literal has no fraction and no exponent */
    long long integer; /* J_NUMBER with is_integer and in range */
    int int_ok;        /* integer fits a long long */
    char *string;      /* J_STRING: UTF-8, NUL-terminated (NUL inside is rejected) */
    size_t count;      /* J_ARRAY / J_OBJECT */
    struct jvalue *items;
    char **keys;       /* J_OBJECT */
} jvalue;

/* Parse text[0..len); fail() with what and the byte offset on any error. */
jvalue *json_parse(const char *text, size_t len, const char *what);
jvalue *json_load(const char *path);

/* Lookups; NULL when absent or when v is not an object. */
const jvalue *json_get(const jvalue *obj, const char *key);

/* Typed accessors: fail() naming where.key when the field is missing or of another type. */
const jvalue *json_req(const jvalue *obj, const char *key, jtype type, const char *where);
const char *json_req_str(const jvalue *obj, const char *key, const char *where);
long long json_req_int(const jvalue *obj, const char *key, long long lo, long long hi,
                       const char *where);
double json_req_num(const jvalue *obj, const char *key, const char *where);

#endif
