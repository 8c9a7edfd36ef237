/* boolnet_c: a C implementation of the BoolNet forward pass, written from the rendered
 * boolnet-spec pages, speaking the conformance kit's command protocol:
 *
 *     boolnet_c CASE_DIR OUT_DIR
 *
 * reads CASE_DIR/desc.json and its inputs, writes OUT_DIR/NAME.npy for every output, and exits
 * 0; 77 for a case it does not implement; 2 with one line on stderr for a malformed case. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"
#include "ops.h"
#include "tensor.h"
#include "util.h"

#define ATTR_MAX 65535LL

typedef struct {
    const char *case_dir, *out_dir;
    const jvalue *desc;
} ctx_t;

/* A file name or member name read from JSON must stay inside its directory. */
static void check_component(const char *s, const char *what)
{
    if (!*s || s[0] == '.' || strlen(s) > 255)
        fail("%s: invalid name '%s'", what, s);
    for (const char *p = s; *p; p++) {
        char c = *p;
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == '-'))
            fail("%s: invalid character in name '%s'", what, s);
    }
}

static void check_relpath(const char *s, const char *what)
{
    /* "inputs/x.npy": components separated by '/', none empty, '.' or '..' */
    char buf[512];
    if (strlen(s) >= sizeof buf)
        fail("%s: path too long", what);
    strcpy(buf, s);
    for (char *tok = strtok(buf, "/"); tok; tok = strtok(NULL, "/"))
        check_component(tok, what);
    if (s[0] == '/' || strstr(s, "//"))
        fail("%s: invalid path '%s'", what, s);
}

static dtype_t parse_dtype(const char *s, const char *where)
{
    if (!strcmp(s, "uint8")) return DT_U8;
    if (!strcmp(s, "int16")) return DT_I16;
    if (!strcmp(s, "int64")) return DT_I64;
    if (!strcmp(s, "float32")) return DT_F32;
    if (!strcmp(s, "float64")) return DT_F64;
    fail("%s: unknown dtype '%s'", where, s);
}

/* An input of desc.json, checked against its declared dtype and shape. */
static tensor *load_input(ctx_t *cx, const char *name)
{
    const jvalue *inputs = json_req(cx->desc, "inputs", J_OBJECT, "desc.json");
    char where[300];
    snprintf(where, sizeof where, "desc.json inputs.%s", name);
    const jvalue *spec = json_get(inputs, name);
    if (!spec)
        fail("desc.json: input '%s' is not declared", name);
    if (spec->type != J_OBJECT)
        fail("%s: expected an object", where);
    const char *file = json_req_str(spec, "file", where);
    check_relpath(file, where);
    dtype_t dt = parse_dtype(json_req_str(spec, "dtype", where), where);
    const jvalue *shape = json_req(spec, "shape", J_ARRAY, where);
    char *path = path_join(cx->case_dir, file);
    tensor *t = npy_read(path, xstrdup(name));
    xfree(path);
    if (t->dtype != dt)
        fail("%s: the file holds %s, desc.json declares %s", where, dtype_name(t->dtype),
             dtype_name(dt));
    int same = shape->count == (size_t)t->ndim;
    for (size_t i = 0; same && i < shape->count; i++) {
        const jvalue *d = &shape->items[i];
        same = d->type == J_NUMBER && d->is_integer && d->int_ok && d->integer >= 0 &&
               (size_t)d->integer == t->shape[i];
    }
    if (!same) {
        char s[128];
        shape_str(t, s, sizeof s);
        fail("%s: the file's shape %s differs from the declared shape", where, s);
    }
    return t;
}

static long long attr_int(ctx_t *cx, const char *key, long long lo, long long hi)
{
    const jvalue *attrs = json_req(cx->desc, "attrs", J_OBJECT, "desc.json");
    return json_req_int(attrs, key, lo, hi, "desc.json attrs");
}

static const char *attr_str(ctx_t *cx, const char *key)
{
    const jvalue *attrs = json_req(cx->desc, "attrs", J_OBJECT, "desc.json");
    return json_req_str(attrs, key, "desc.json attrs");
}

static const jvalue *object_arg(ctx_t *cx, const char *key, const char *type)
{
    const jvalue *objs = json_req(cx->desc, "objects", J_OBJECT, "desc.json");
    const jvalue *o = json_req(objs, key, J_OBJECT, "desc.json objects");
    const char *t = json_req_str(o, "type", "desc.json objects");
    if (strcmp(t, type) != 0)
        fail("desc.json objects.%s: type '%s', expected '%s'", key, t, type);
    json_req(o, "arrays", J_OBJECT, "desc.json objects");
    return o;
}

static tensor *object_array(ctx_t *cx, const jvalue *o, const char *role)
{
    const jvalue *arrays = json_get(o, "arrays");
    const char *name = json_req_str(arrays, role, "desc.json objects arrays");
    return load_input(cx, name);
}

static void units_arg(ctx_t *cx, const char *key, units_t *u)
{
    const jvalue *o = object_arg(cx, key, "ThresholdUnits");
    u->polarity = object_array(cx, o, "polarity");
    u->threshold = object_array(cx, o, "threshold");
    u->n = json_req_int(o, "n", 1, N_MAX, "desc.json objects.units");
}

static void bn_arg(ctx_t *cx, const char *key, bn_t *bn)
{
    const jvalue *o = object_arg(cx, key, "BatchNorm");
    bn->gamma = object_array(cx, o, "weight");
    bn->beta = object_array(cx, o, "bias");
    bn->mean = object_array(cx, o, "running_mean");
    bn->var = object_array(cx, o, "running_var");
    bn->eps = json_req_num(o, "eps", "desc.json objects.bn");
    check_rank(bn->gamma, 1);
    bn->channels = bn->gamma->shape[0];
    check_bn(bn);
}

static int is_declared_output(ctx_t *cx, const char *name)
{
    const jvalue *outs = json_req(cx->desc, "outputs", J_OBJECT, "desc.json");
    return json_get(outs, name) != NULL;
}

static void write_output(ctx_t *cx, const char *name, const tensor *t)
{
    if (!is_declared_output(cx, name))
        return;
    check_component(name, "output name");
    char file[300];
    snprintf(file, sizeof file, "%s.npy", name);
    char *path = path_join(cx->out_dir, file);
    npy_write(path, t);
    xfree(path);
}

static conv_params conv_attrs(ctx_t *cx)
{
    conv_params p;
    p.stride = attr_int(cx, "stride", 1, ATTR_MAX);
    p.padding = attr_int(cx, "padding", 0, ATTR_MAX);
    p.dilation = attr_int(cx, "dilation", 1, ATTR_MAX);
    p.groups = attr_int(cx, "groups", 1, ATTR_MAX);
    p.pad_mode = parse_pad_mode(attr_str(cx, "pad_mode"), p.padding);
    return p;
}

void run_network(const char *case_dir, const char *out_dir, const jvalue *desc,
                 void (*write)(void *, const char *, const tensor *), void *wctx);

static void net_write(void *p, const char *name, const tensor *t)
{
    write_output((ctx_t *)p, name, t);
}

static void run_op(ctx_t *cx, const char *fn)
{
    if (!strcmp(fn, "binary_conv2d") || !strcmp(fn, "multi_slice_conv2d")) {
        tensor *x = load_input(cx, "x"), *w = load_input(cx, "weight");
        conv_params p = conv_attrs(cx);
        tensor *xs = x;
        if (!strcmp(fn, "multi_slice_conv2d"))
            xs = select_slices(x, p.groups);
        write_output(cx, "out", binary_conv2d(xs, w, &p));
    } else if (!strcmp(fn, "pad_bits")) {
        tensor *x = load_input(cx, "x");
        long long pad = attr_int(cx, "padding", 0, ATTR_MAX);
        padmode_t m = parse_pad_mode(attr_str(cx, "mode"), pad);
        write_output(cx, "out", pad_bits(x, pad, m));
    } else if (!strcmp(fn, "flatten_slices")) {
        write_output(cx, "out", flatten_slices(load_input(cx, "x")));
    } else if (!strcmp(fn, "split_channels")) {
        tensor *a, *b;
        split_channels(load_input(cx, "x"), &a, &b);
        write_output(cx, "first", a);
        write_output(cx, "second", b);
    } else if (!strcmp(fn, "shuffle_channels")) {
        write_output(cx, "out", shuffle_channels(load_input(cx, "z1"), load_input(cx, "z2")));
    } else if (!strcmp(fn, "logic_xnor") || !strcmp(fn, "logic_or")) {
        write_output(cx, "out", logic_op(load_input(cx, "x"), load_input(cx, "r"),
                                         !strcmp(fn, "logic_or")));
    } else if (!strcmp(fn, "binary_maxpool")) {
        tensor *x = load_input(cx, "x");
        write_output(cx, "out", binary_maxpool(x, attr_int(cx, "kernel", 1, ATTR_MAX),
                                               attr_int(cx, "stride", 1, ATTR_MAX)));
    } else if (!strcmp(fn, "threshold_slices")) {
        units_t u;
        tensor *s = load_input(cx, "s");
        units_arg(cx, "units", &u);
        write_output(cx, "out", threshold_slices(s, &u));
    } else if (!strcmp(fn, "threshold_maxpool")) {
        units_t u;
        tensor *s = load_input(cx, "s");
        units_arg(cx, "units", &u);
        write_output(cx, "out",
                     threshold_maxpool(s, &u, attr_int(cx, "kernel", 1, ATTR_MAX),
                                       attr_int(cx, "stride", 1, ATTR_MAX)));
    } else if (!strcmp(fn, "slice_quantize")) {
        write_output(cx, "out", slice_quantize(load_input(cx, "z"), load_input(cx, "offsets")));
    } else if (!strcmp(fn, "weight_bits")) {
        write_output(cx, "out", weight_bits(load_input(cx, "weight")));
    } else if (!strcmp(fn, "weight_scale")) {
        write_output(cx, "out", weight_scale(load_input(cx, "weight")));
    } else if (!strcmp(fn, "basenet_stem")) {
        bn_t bn;
        tensor *f = load_input(cx, "features");
        bn_arg(cx, "bn", &bn);
        tensor *o = load_input(cx, "offsets");
        check_finite(f);
        write_output(cx, "out", basenet_stem(to_f64(f), &bn, o));
    } else if (!strcmp(fn, "prelu")) {
        tensor *z = load_input(cx, "z");
        check_finite(z);
        write_output(cx, "out", prelu(to_f64(z), load_input(cx, "slope")));
    } else if (!strcmp(fn, "classifier")) {
        tensor *z = load_input(cx, "z");
        check_finite(z);
        write_output(cx, "out",
                     classifier(to_f64(z), load_input(cx, "weight"), load_input(cx, "bias")));
    } else if (!strcmp(fn, "fold_bn_sign")) {
        bn_t bn;
        bn_arg(cx, "bn", &bn);
        long long n = attr_int(cx, "n", 1, N_MAX);
        tensor *pol, *thr;
        fold_bn_sign(&bn, n, load_input(cx, "alpha"), load_input(cx, "bias"),
                     load_input(cx, "offsets"), &pol, &thr);
        write_output(cx, "polarity", pol);
        write_output(cx, "threshold", thr);
    } else {
        not_implemented("function '%s'", fn);
    }
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: %s CASE_DIR OUT_DIR\n", argc ? argv[0] : "boolnet_c");
        return EXIT_BAD_INPUT;
    }
    ctx_t cx = {argv[1], argv[2], NULL};
    char *desc_path = path_join(cx.case_dir, "desc.json");
    cx.desc = json_load(desc_path);
    if (cx.desc->type != J_OBJECT)
        fail("%s: not a JSON object", desc_path);
    const char *format = json_req_str(cx.desc, "format", "desc.json");
    if (strcmp(format, "boolnet-spec-case") != 0)
        fail("desc.json: format '%s', expected 'boolnet-spec-case'", format);
    const char *kind = json_req_str(cx.desc, "kind", "desc.json");
    const char *fn = json_req_str(cx.desc, "function", "desc.json");
    json_req(cx.desc, "outputs", J_OBJECT, "desc.json");
    if (!strcmp(kind, "network")) {
        if (strcmp(fn, "run") != 0)
            not_implemented("network function '%s'", fn);
        run_network(cx.case_dir, cx.out_dir, cx.desc, net_write, &cx);
    } else if (!strcmp(kind, "op")) {
        run_op(&cx, fn);
    } else {
        not_implemented("case kind '%s'", kind);
    }
    xfree_all();
    return 0;
}
